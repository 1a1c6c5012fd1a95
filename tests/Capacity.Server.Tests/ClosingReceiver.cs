using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Capacity.Server.Tests;

/// <summary>
/// A webhook receiver on a bare socket, for what Kestrel would not do on purpose: it keeps its first
/// connection alive after the first answer, then closes it without answering the next request that
/// arrives on it, as a receiver does whose idle timeout fires just as the sender reuses the connection
/// (or an HTTP/1.0 server that closes after each answer without saying so). Every request on a later
/// connection is answered 200, and its webhook id kept.
/// </summary>
internal sealed class ClosingReceiver : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _answered = new();
    private readonly Task _loop;
    private int _dropped;

    public ClosingReceiver()
    {
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/hook";
        _loop = AcceptAsync();
    }

    public string Url { get; }

    /// <summary>The webhook ids answered 200, in order.</summary>
    public List<string> Answered => [.. _answered];

    /// <summary>How many requests arrived on a connection that was then closed without an answer.</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    private async Task AcceptAsync()
    {
        var first = true;
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _ = ServeAsync(socket, dropSecond: first);
            first = false;
        }
    }

    private async Task ServeAsync(Socket socket, bool dropSecond)
    {
        using var _ = socket;
        await using var stream = new NetworkStream(socket);
        var buffer = new List<byte>();
        try
        {
            for (var served = 0; ; served++)
            {
                if (await ReadRequestAsync(stream, buffer) is not { } id)
                {
                    return;
                }

                if (dropSecond && served == 1)
                {
                    Interlocked.Increment(ref _dropped);
                    return;
                }

                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), _stop.Token);
                _answered.Enqueue(id);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
        }
    }

    /// <summary>Reads one request (its headers and a Content-Length body) and returns its webhook-id, or null at the end of the stream.</summary>
    private async Task<string?> ReadRequestAsync(NetworkStream stream, List<byte> buffer)
    {
        var chunk = new byte[4096];
        int end;
        while ((end = IndexOfBlankLine(buffer)) < 0)
        {
            var read = await stream.ReadAsync(chunk, _stop.Token);
            if (read == 0)
            {
                return null;
            }

            buffer.AddRange(chunk.AsSpan(0, read));
        }

        var head = Encoding.ASCII.GetString([.. buffer.Take(end)]).Split("\r\n");
        string Header(string name) => head.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim() ?? "";
        var length = int.Parse(Header("Content-Length"), System.Globalization.CultureInfo.InvariantCulture);
        while (buffer.Count < end + 4 + length)
        {
            var read = await stream.ReadAsync(chunk, _stop.Token);
            if (read == 0)
            {
                return null;
            }

            buffer.AddRange(chunk.AsSpan(0, read));
        }

        buffer.RemoveRange(0, end + 4 + length);
        return Header("webhook-id");
    }

    private static int IndexOfBlankLine(List<byte> buffer)
    {
        for (var i = 0; i + 3 < buffer.Count; i++)
        {
            if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n')
            {
                return i;
            }
        }

        return -1;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

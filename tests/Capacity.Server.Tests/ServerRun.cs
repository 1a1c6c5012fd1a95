using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Capacity.Server.Tests;

/// <summary>
/// One run of the real server process (`dotnet Capacity.Server.dll`) for what only a process shows:
/// its exit code, what it prints on stdout and on stderr (kept apart), and how it stops on SIGTERM.
/// Unlike <see cref="Capacity.Testing.ServerProcess"/>, a run that exits at start is an answer here,
/// not a failure.
/// </summary>
internal sealed class ServerRun : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private ServerRun(Process process, string url)
    {
        _process = process;
        Url = url;
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Url { get; }

    public string Stdout => Read(_stdout);

    public string Stderr => Read(_stderr);

    /// <summary>Starts the server with <paramref name="settings"/> as command-line settings, listening on <paramref name="url"/> (a free port by default).</summary>
    public static ServerRun Start(IReadOnlyDictionary<string, string> settings, string? url = null)
    {
        url ??= $"http://127.0.0.1:{FreePort()}";
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Capacity.Server.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(url);
        foreach (var (k, v) in settings)
        {
            start.ArgumentList.Add($"--{k}={v}");
        }

        // Tests start many servers: none warms up unless its settings ask (they override this).
        start.Environment["Capacity__WarmUpMs"] = "0";

        return new ServerRun(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"), url);
    }

    /// <summary>Waits for the process to end and returns its exit code; fails the test if it runs past <paramref name="timeout"/>.</summary>
    public async Task<int> ExitCodeAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The server was still running after {timeout.TotalSeconds} s.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }

        // WaitForExitAsync returns once the streams are drained too, so the output is complete.
        return _process.ExitCode;
    }

    /// <summary>Waits until <c>/healthz</c> answers.</summary>
    public Task ReadyAsync() =>
        Capacity.Testing.ServerProcess.WaitForHealthAsync(Url, _process, () => $"stdout:\n{Stdout}\nstderr:\n{Stderr}");

    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>SIGTERM, as a service manager or Kubernetes stops a process: the graceful stop.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Append(StringBuilder to, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (to)
        {
            to.AppendLine(line);
        }
    }

    private static string Read(StringBuilder from)
    {
        lock (from)
        {
            return from.ToString();
        }
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Capacity.Server.Tests;

/// <summary>
/// A Kestrel endpoint that records what it is sent (on arrival), answering 500 to the first <c>failFirst</c>
/// requests, and each only after <c>delay</c>: a slow receiver.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<WebhookMessage> _all = new();
    private int _failFirst;

    private WebhookReceiver(WebApplication app, string url, int failFirst) => (_app, Url, _failFirst) = (app, url, failFirst);

    /// <summary>When each request arrived, in arrival order.</summary>
    public ConcurrentQueue<DateTimeOffset> Arrivals { get; } = new();

    public string Url { get; }

    /// <summary>Every request, in arrival order.</summary>
    public List<WebhookMessage> Attempts => [.. _all];

    /// <summary>The requests answered 200, in arrival order.</summary>
    public List<WebhookMessage> Messages => [.. _all.Where(m => m.Accepted)];

    public static async Task<WebhookReceiver> StartAsync(int failFirst = 0, TimeSpan delay = default)
    {
        var port = FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, $"http://127.0.0.1:{port}/hook", failFirst);
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            var accepted = Interlocked.Decrement(ref receiver._failFirst) < 0;
            receiver.Arrivals.Enqueue(DateTimeOffset.UtcNow);
            receiver._all.Enqueue(new WebhookMessage(
                request.Headers["webhook-id"].ToString(), request.Headers["webhook-timestamp"].ToString(), request.Headers["webhook-signature"].ToString(),
                body.ToArray(), accepted));
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay);
            }

            return accepted ? Results.Ok() : Results.StatusCode(500);
        });
        await app.StartAsync();
        return receiver;
    }

    public async Task<WebhookMessage> WaitForAsync(Func<WebhookMessage, bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (Messages.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException("The receiver was not sent the expected event within 20 s.");
    }

    public async Task WaitForCountAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (_all.Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        Assert.True(_all.Count >= count, $"The receiver got {_all.Count} requests, not {count}.");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal sealed record WebhookMessage(string Id, string Timestamp, string Signature, byte[] Raw, bool Accepted)
{
    public JsonObject Body => JsonNode.Parse(Raw)!.AsObject();

    public string Type => Body["type"]!.GetValue<string>();

    public long Sequence => Body["sequence"]!.GetValue<long>();

    public JsonObject Data => Body["data"]!.AsObject();

    /// <summary>Verified the way a receiver would, from the Standard Webhooks convention alone.</summary>
    public bool SignatureValid(string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = Encoding.UTF8.GetBytes($"{Id}.{Timestamp}.").Concat(Raw).ToArray();
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
        return Signature.Split(' ').Contains(expected);
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Capacity.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Capacity.Server.Tests;

/// <summary>
/// OpenTelemetry traces: with <c>Capacity:OtlpEndpoint</c> set, a request's span, its command's span
/// through the engine and the batch's reach a real OTLP/HTTP receiver (a Kestrel endpoint standing in
/// for a collector); without it, no tracer exists and the engine captures nothing.
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task With_an_otlp_endpoint_a_holds_request_command_and_batch_spans_reach_the_collector()
    {
        var received = new ConcurrentQueue<byte[]>();
        var port = FreePort();
        var collector = WebApplication.CreateSlimBuilder();
        collector.WebHost.UseUrls($"http://127.0.0.1:{port}");
        await using var receiver = collector.Build();
        receiver.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            received.Enqueue(body.ToArray());
            return Results.Ok();
        });
        await receiver.StartAsync();

        await using var app = new CapacityApp(new() { ["Capacity:OtlpEndpoint"] = $"http://127.0.0.1:{port}" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("traced", "Floor", 10);
        await t.HoldAsync(pool, 2);

        // The exporter sends every second; everything it sent is protobuf, whose strings are plain UTF-8.
        string[] wanted = ["capacity.engine.batch", "capacity.engine.command", "/capacity/{id}/reserve", "capacity.outcome", "capacity"];
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string all;
        do
        {
            await Task.Delay(250);
            all = string.Concat(received.Select(b => Encoding.UTF8.GetString(b)));
        }
        while (!wanted.All(w => all.Contains(w, StringComparison.Ordinal)) && DateTime.UtcNow < deadline);

        Assert.All(wanted, w => Assert.Contains(w, all, StringComparison.Ordinal));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Without_an_otlp_endpoint_there_is_no_tracer_and_nothing_is_exported()
    {
        await using var app = new CapacityApp();
        var t = (await app.NewTenantAsync()).Client;
        await t.HoldAsync(await t.CreateCapacityAsync("untraced", "Floor", 10), 1);
        Assert.Null(app.Services.GetService<TracerProvider>());
        // Nobody listens to the engine's spans, so it starts none: a command's and a batch's span cost nothing.
        Assert.False(CommandEngine.Tracing.HasListeners());
        await app.AssertInvariantsAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

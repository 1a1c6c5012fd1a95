using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capacity.Server.Tests;

/// <summary>An on-sale stampede slows the service down; it must not knock it over.</summary>
public sealed class OverloadTests
{
    [Fact]
    public async Task A_tenant_over_its_budget_gets_429_with_retry_after_and_other_tenants_are_unaffected()
    {
        await using var app = new CapacityApp(new()
        {
            ["Capacity:RateLimit:PermitsPerSecond"] = "10",
            ["Capacity:RateLimit:Burst"] = "20",
        });
        var greedy = await app.NewTenantAsync("Greedy");
        var polite = await app.NewTenantAsync("Polite");
        var pool = await greedy.Client.CreateCapacityAsync("e", "Pool", 1000);

        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => greedy.Client.ReserveAsync(pool, 1)));
        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(limited);
        var problem = await Api.ProblemAsync(limited[0], 429, "RATE_LIMITED");
        Assert.True(int.Parse(limited[0].Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 1, problem.ToJsonString());

        // Refused requests changed nothing: the pool holds exactly the accepted ones.
        var accepted = responses.Count(r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.OK, (await polite.Client.GetAsync("/events")).StatusCode);
        await Task.Delay(1100); // the greedy tenant's bucket refills before it reads
        Assert.Equal(1000 - accepted, await greedy.Client.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task More_load_than_the_engine_can_queue_is_refused_fast_and_the_service_recovers()
    {
        await using var app = new CapacityApp(new()
        {
            ["Capacity:Engine:QueueLimit"] = "64",
            ["Capacity:Engine:MaxBatch"] = "16",
            ["Capacity:RateLimit:PermitsPerSecond"] = "0",
        });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 1_000_000);

        var statuses = new ConcurrentBag<HttpStatusCode>();
        var acceptedLatency = new ConcurrentBag<double>();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var clients = Enumerable.Range(0, 400).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.StartNew();
                var response = await t.ReserveAsync(pool, 1);
                statuses.Add(response.StatusCode);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    acceptedLatency.Add(started.Elapsed.TotalMilliseconds);
                }
                else
                {
                    var problem = await Api.ProblemAsync(response, 503, "SERVICE_UNAVAILABLE");
                    Assert.NotNull(response.Headers.RetryAfter);
                }
            }
        });
        await Task.WhenAll(clients);
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);

        Assert.Contains(HttpStatusCode.Created, statuses);
        Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Created or HttpStatusCode.ServiceUnavailable, s.ToString()));

        // Accepted work kept a bounded latency: the queue never held more than 64 commands.
        var sorted = acceptedLatency.Order().ToArray();
        var p99 = sorted[(int)(sorted.Length * 0.99)];
        Assert.True(p99 < 2000, $"accepted p99 {p99:F0} ms");
        Assert.True(memoryAfter - memoryBefore < 200 * 1024 * 1024, $"managed memory grew by {(memoryAfter - memoryBefore) / 1024 / 1024} MB");

        // Recovery: once the load stops, a request is served at once.
        var recovery = Stopwatch.StartNew();
        await Api.ReadAsync(await t.ReserveAsync(pool, 1), 201);
        Assert.True(recovery.ElapsedMilliseconds < 1000, $"first request after the load took {recovery.ElapsedMilliseconds} ms");
        await app.AssertInvariantsAsync();
    }
}

/// <summary>
/// Captures every log line the server writes, each followed by the scopes it was written in as they
/// read when it was written: the console's JSON formatter reads them so too (an external scope provider).
/// </summary>
public sealed class CapturingLogger : ILoggerProvider, ILogger, ISupportExternalScope
{
    private readonly ConcurrentQueue<string> _lines = new();
    private IExternalScopeProvider? _scopes;

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => this;

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => _scopes?.Push(state);

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        _lines.Enqueue($"{logLevel}: {formatter(state, exception)} {exception}");
        _scopes?.ForEachScope(
            static (scope, lines) =>
            {
                lines.Enqueue("scope: " + scope);
                if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                {
                    foreach (var (k, v) in pairs)
                    {
                        lines.Enqueue($"scope: {k}={v}");
                    }
                }
            },
            _lines);
    }

    public void Dispose()
    {
    }
}

public sealed class LogTests
{
    [Fact]
    public async Task Keys_and_tokens_never_appear_in_the_logs_but_the_tenant_id_does()
    {
        var capture = new CapturingLogger();
        await using var app = new WithLogging(capture);
        var tenant = await app.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("e", "Pool", 5);
        await tenant.Client.HoldAsync(pool, 1);
        await tenant.Client.ReserveAsync(pool, 50);
        using var forged = app.WithToken("cap_forged-key-that-does-not-exist");
        await forged.GetAsync("/events");
        using var jwtish = app.WithToken("eyJhbGciOiJub25lIn0.eyJ0ZW5hbnRfaWQiOiJ4In0.");
        await jwtish.GetAsync("/events");
        using var admin = app.Admin();
        await admin.PostAsJsonAsync("/admin/tenants", new { name = "Second" });
        await admin.GetAsync("/events");

        var all = string.Join("\n", capture.Lines);
        Assert.NotEmpty(capture.Lines);
        Assert.DoesNotContain(tenant.Key, all, StringComparison.Ordinal);
        Assert.DoesNotContain(CapacityApp.AdminKey, all, StringComparison.Ordinal);
        Assert.DoesNotContain("cap_forged-key", all, StringComparison.Ordinal);
        Assert.DoesNotContain("eyJhbGciOiJub25lIn0", all, StringComparison.Ordinal);
        Assert.DoesNotContain("Bearer ", all, StringComparison.Ordinal);
        Assert.Contains($"TenantId={tenant.Id}", all, StringComparison.Ordinal);
    }

    /// <summary>
    /// The test app, logging everything at Trace into the capture, the categories appsettings.json quiets
    /// included (every request's line among them), save what the server turns off in code.
    /// </summary>
    private sealed class WithLogging(CapturingLogger capture) : CapacityApp(new()
    {
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Trace",
        ["Logging:LogLevel:Capacity.Requests"] = "Trace",
    })
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging =>
            {
                logging.SetMinimumLevel(LogLevel.Trace);
                logging.AddFilter(_ => true);
                logging.AddProvider(capture);
            });
        }
    }
}

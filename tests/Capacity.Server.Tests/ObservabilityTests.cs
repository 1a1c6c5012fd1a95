using System.Collections.Concurrent;
using System.Net;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capacity.Server.Tests;

/// <summary>One log line per request with its id; a database outage as one warning, summaries, and one line when it ends.</summary>
public sealed class ObservabilityTests
{
    [Fact]
    public async Task With_request_logs_on_each_request_is_one_line_with_method_route_status_tenant_duration_and_its_id()
    {
        var log = new RecordingLog();
        await using var app = new LoggingApp(log, new() { ["Logging:LogLevel:Capacity.Requests"] = "Information" });
        var tenant = await app.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("e", "Pool", 1);
        log.Clear();

        var held = await tenant.Client.ReserveAsync(pool, 1);
        var refused = await tenant.Client.ReserveAsync(pool, 1);
        using var anonymous = app.CreateClient();
        var unauthorized = await anonymous.GetAsync("/events");

        var lines = log.Entries.Where(e => e.Category == RequestLog.Category).ToList();
        Assert.Equal(3, lines.Count);
        Assert.All(lines, l => Assert.Equal(LogLevel.Information, l.Level));
        Assert.Equal(["POST", "POST", "GET"], lines.Select(l => l.State["Method"]));
        Assert.Equal(["/capacity/{id}/reserve", "/capacity/{id}/reserve", "/events"], lines.Select(l => l.State["Route"]));
        Assert.Equal([201, 409, 401], lines.Select(l => l.State["Status"]));
        Assert.Equal([tenant.Id, tenant.Id, null], lines.Select(l => l.State["TenantId"]));
        Assert.All(lines, l => Assert.InRange((double)l.State["ElapsedMs"]!, 0, 30_000));
        Assert.Equal(
            new[] { held, refused, unauthorized }.Select(r => r.Headers.GetValues(RequestLog.Header).Single()),
            lines.Select(l => l.State["RequestId"]));
        Assert.Equal(3, lines.Select(l => l.State["RequestId"]).Distinct().Count());
    }

    [Fact]
    public async Task A_request_id_or_a_traceparent_sent_by_the_caller_is_honoured_and_echoed_and_a_malformed_one_is_replaced()
    {
        var log = new RecordingLog();
        await using var app = new LoggingApp(log, new() { ["Logging:LogLevel:Capacity.Requests"] = "Information" });
        using var client = app.CreateClient();

        async Task<string> Echo(string header, string value)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz");
            request.Headers.TryAddWithoutValidation(header, value);
            var response = await client.SendAsync(request);
            return response.Headers.GetValues(RequestLog.Header).Single();
        }

        Assert.Equal("checkout-7f3a", await Echo("X-Request-Id", "checkout-7f3a"));
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", await Echo("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        var tooLong = await Echo("X-Request-Id", new string('x', 200));
        Assert.NotEqual(new string('x', 200), tooLong);
        Assert.NotEqual("two words", await Echo("X-Request-Id", "two words"));

        Assert.Contains(log.Entries, e => e.Category == RequestLog.Category && (string?)e.State["RequestId"] == "checkout-7f3a");
    }

    [Fact]
    public async Task Lines_written_while_a_request_runs_carry_the_callers_request_id_and_once_it_is_known_the_tenant()
    {
        var log = new RecordingLog();
        await using var app = new LoggingApp(log, new() { ["Logging:LogLevel:Capacity.Requests"] = "Information", ["Auth:FailedAttemptsPerMinute"] = "1" });
        var tenant = await app.NewTenantAsync();
        log.Clear();

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/events"))
        {
            request.Headers.Add(RequestLog.Header, "cart-42");
            Assert.Equal(HttpStatusCode.OK, (await tenant.Client.SendAsync(request)).StatusCode);
        }

        // The refusal that puts an address over its budget (of one, here) is reported by authentication
        // itself, at once, before any tenant is known.
        using var anonymous = app.CreateClient();
        foreach (var (id, status) in new[] { ("stranger-6", HttpStatusCode.Unauthorized), ("stranger-7", HttpStatusCode.TooManyRequests) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/events");
            request.Headers.Add(RequestLog.Header, id);
            request.Headers.Authorization = new("Bearer", "cap_not_a_key");
            Assert.Equal(status, (await anonymous.SendAsync(request)).StatusCode);
        }

        var served = Assert.Single(log.Entries, e => e.Category == RequestLog.Category && (string?)e.State["RequestId"] == "cart-42");
        Assert.Equal("cart-42", served.Scopes["RequestId"]);
        Assert.Equal(tenant.Id, served.Scopes["TenantId"]);

        var refusal = Assert.Single(log.Entries, e => e.Category == typeof(AuthFailures).FullName);
        Assert.Equal("stranger-7", refusal.Scopes["RequestId"]);
        Assert.False(refusal.Scopes.ContainsKey("TenantId"));

        // One scope, the request's: not the host's, whose request id is its own and not the caller's.
        Assert.All(log.Entries.Where(e => e.Scopes.Count > 0), e => Assert.False(e.Scopes.ContainsKey("RequestPath")));
        Assert.DoesNotContain(log.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore.Hosting", StringComparison.Ordinal));
    }

    [Fact]
    public async Task By_default_only_requests_answered_with_a_server_error_are_logged_and_at_warning()
    {
        var log = new RecordingLog();
        await using var app = new LoggingApp(log);
        var tenant = await app.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("e", "Pool", 5);
        await tenant.Client.HoldAsync(pool, 1);
        app.Faults.FailNextBatchAt(FaultPoint.Commit);
        await Api.ProblemAsync(await tenant.Client.ReserveAsync(pool, 1), 503, "SERVICE_UNAVAILABLE");

        var line = Assert.Single(log.Entries, e => e.Category == RequestLog.Category);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal(503, line.State["Status"]);
    }

    [Fact]
    public void An_outage_is_one_warning_with_its_trace_then_a_summary_every_30_seconds_then_one_line_when_it_ends()
    {
        var log = new RecordingLog();
        var clock = new ManualTime(DateTimeOffset.UtcNow);
        var outage = new OutageLog(log.CreateLogger<OutageLog>(), clock);
        var down = new TimeoutException("connect timed out");

        outage.Succeeded();
        Assert.Empty(log.Entries);

        // 70 s of failures, ten a second from three sources.
        for (var tick = 0; tick < 700; tick++)
        {
            outage.Failed(tick % 3 == 0 ? "read" : tick % 3 == 1 ? "batch" : "expiry sweep", down);
            clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        Assert.True(outage.Failing);
        var first = log.Entries[0];
        Assert.Equal(LogLevel.Warning, first.Level);
        Assert.Same(down, first.Exception);
        Assert.StartsWith("The database is failing (read): connect timed out", first.Message, StringComparison.Ordinal);
        var summaries = log.Entries.Skip(1).ToList();
        Assert.Equal(2, summaries.Count);
        Assert.All(summaries, s => Assert.Null(s.Exception));
        Assert.StartsWith("The database is still failing after 00:00:30: 300 failures in the last 30 s (", summaries[0].Message, StringComparison.Ordinal);
        Assert.Contains("read ", summaries[0].Message, StringComparison.Ordinal);
        Assert.Contains("expiry sweep ", summaries[0].Message, StringComparison.Ordinal);

        outage.Succeeded();
        outage.Succeeded();
        Assert.False(outage.Failing);
        var back = log.Entries[^1];
        Assert.Equal(LogLevel.Information, back.Level);
        Assert.Equal("The database answers again, after 00:01:10 and 700 failures", back.Message);
        Assert.Equal(4, log.Entries.Count);

        // The next outage is a new story, with its own first warning.
        outage.Failed("batch", down);
        Assert.Equal(5, log.Entries.Count);
        Assert.Same(down, log.Entries[^1].Exception);
    }

    [Fact]
    public async Task While_postgres_is_down_reads_writes_and_sweeps_log_one_warning_not_a_trace_each_and_its_return_is_logged()
    {
        await PostgresServer.SharedAsync(); // skips or fails with the reason when PostgreSQL is missing
        await using var pg = await PostgresServer.StartPrivateAsync();
        var log = new RecordingLog();
        await using var app = new LoggingApp(log, new()
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:Postgres:ConnectionString"] = await pg.NewSchemaAsync(),
        });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        log.Clear();

        await pg.StopAsync();
        var answers = new List<HttpStatusCode>();
        var until = DateTime.UtcNow.AddSeconds(3);
        while (DateTime.UtcNow < until)
        {
            answers.Add((await t.ReserveAsync(pool, 1)).StatusCode);
            answers.Add((await t.GetAsync($"/capacity/{pool}")).StatusCode);
        }

        Assert.All(answers, s => Assert.Equal(HttpStatusCode.ServiceUnavailable, s));
        Assert.True(app.Services.GetRequiredService<OutageLog>().Failing);
        var traced = log.Entries.Where(e => e.Exception is not null).ToList();
        var warning = Assert.Single(traced);
        Assert.Equal(typeof(OutageLog).FullName, warning.Category);
        Assert.StartsWith("The database is failing", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Error);

        await pg.RestartAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await t.ReserveAsync(pool, 1)).StatusCode != HttpStatusCode.Created)
        {
            Assert.True(DateTime.UtcNow < deadline, "no hold succeeded within 20 s of the restart");
            await Task.Delay(100);
        }

        Assert.Contains(log.Entries, e => e.Level == LogLevel.Information && e.Message.StartsWith("The database answers again", StringComparison.Ordinal));
        await app.AssertInvariantsAsync();
    }

    /// <summary>The test app with every log entry recorded (levels as configured, as in production).</summary>
    private sealed class LoggingApp(RecordingLog log, Dictionary<string, string?>? settings = null) : CapacityApp(settings)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(log));
        }
    }
}

/// <summary>Every entry written, with its category, level, message, exception and structured values.</summary>
internal sealed class RecordingLog : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<Entry> _entries = new();
    private IExternalScopeProvider? _scopes;

    public List<Entry> Entries => [.. _entries];

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public ILogger<T> CreateLogger<T>() => new Logger<T>(new Factory(this));

    public void Dispose()
    {
    }

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <summary>One line: <paramref name="Scopes"/> has the structured values of the scopes it was written in, innermost last.</summary>
    internal sealed record Entry(string Category, LogLevel Level, string Message, Exception? Exception, Dictionary<string, object?> State, Dictionary<string, object?> Scopes);

    private sealed class Logger(RecordingLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? pairs.ToDictionary(p => p.Key, p => p.Value) : [];
            var scopes = new Dictionary<string, object?>();
            owner._scopes?.ForEachScope(
                static (scope, into) =>
                {
                    if (scope is IEnumerable<KeyValuePair<string, object?>> named)
                    {
                        foreach (var (key, value) in named)
                        {
                            into[key] = value;
                        }
                    }
                },
                scopes);
            owner._entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), exception, values, scopes));
        }
    }

    private sealed class Factory(RecordingLog owner) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => owner.CreateLogger(categoryName);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }
}

/// <summary><c>Metrics:Key</c>: off by default (the scrape is open), on it takes the key as a bearer token and nothing else.</summary>
public sealed class MetricsKeyTests
{
    [Fact]
    public async Task With_a_metrics_key_a_scrape_needs_it_and_any_other_credential_is_refused()
    {
        const string key = "metrics-key-of-some-length";
        await using var app = new CapacityApp(new() { ["Metrics:Key"] = key });
        using var anonymous = app.CreateClient();
        await Api.ProblemAsync(await anonymous.GetAsync("/metrics"), 401, "UNAUTHORIZED");
        await Api.ProblemAsync(await app.WithToken(key + "x").GetAsync("/metrics"), 401, "UNAUTHORIZED");
        await Api.ProblemAsync(await app.Admin().GetAsync("/metrics"), 401, "UNAUTHORIZED");
        var scrape = await app.WithToken(key).GetAsync("/metrics");
        Assert.Equal(System.Net.HttpStatusCode.OK, scrape.StatusCode);
        Assert.Contains("capacity_", await scrape.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scrape_may_write_the_bearer_scheme_in_any_case_as_every_other_route_takes_it()
    {
        const string key = "metrics-key-of-some-length";
        await using var app = new CapacityApp(new() { ["Metrics:Key"] = key });
        foreach (var scheme in new[] { "Bearer", "bearer", "BEARER" })
        {
            using var client = app.CreateClient();
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"{scheme} {key}");
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);
        }

        using var glued = app.CreateClient();
        glued.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer" + key);
        await Api.ProblemAsync(await glued.GetAsync("/metrics"), 401, "UNAUTHORIZED");
    }

    [Fact]
    public async Task Wrong_metrics_keys_are_counted_and_spend_the_budget_of_refused_credentials_of_their_address_while_the_right_key_is_served()
    {
        const string key = "metrics-key-of-some-length";
        await using var app = new CapacityApp(new() { ["Metrics:Key"] = key, ["Auth:FailedAttemptsPerMinute"] = "3" });
        using var wrong = app.WithToken("not-the-metrics-key");
        for (var i = 0; i < 3; i++)
        {
            var refused = await wrong.GetAsync("/metrics");
            await Api.ProblemAsync(refused, 401, "UNAUTHORIZED");
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
        }

        var throttled = await wrong.GetAsync("/metrics");
        await Api.ProblemAsync(throttled, 429, "TOO_MANY_AUTH_FAILURES");
        Assert.InRange(throttled.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);

        // One budget per address, whatever the route: a made-up API key from it is not looked up now.
        using var guess = app.WithToken("cap_guess");
        await Api.ProblemAsync(await guess.GetAsync("/events"), 429, "TOO_MANY_AUTH_FAILURES");

        var scrape = await app.WithToken(key).GetAsync("/metrics");
        Assert.Equal(System.Net.HttpStatusCode.OK, scrape.StatusCode);
        var text = await scrape.Content.ReadAsStringAsync();
        Assert.Contains("capacity_auth_failures_total{reason=\"wrong_metrics_key\"}", text, StringComparison.Ordinal);
        Assert.Contains("capacity_auth_failures_total{reason=\"throttled\"}", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_metrics_key_the_scrape_is_open()
    {
        await using var app = new CapacityApp();
        using var anonymous = app.CreateClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
    }
}

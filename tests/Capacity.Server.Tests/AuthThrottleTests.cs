using System.Net;
using Capacity.Server.Http;
using Capacity.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.Server.Tests;

/// <summary>
/// Refused credentials counted per client address: past <c>Auth:FailedAttemptsPerMinute</c>, a bad
/// credential from the address gets 429 and an unknown key is not looked up, while credentials that
/// work are served; the failures are in <c>/metrics</c> and in a warning at most every 10 seconds; and
/// the memory it takes stays bounded however many addresses send them.
/// </summary>
public sealed class AuthThrottleTests
{
    [Fact]
    public async Task Past_its_budget_an_address_gets_429_for_bad_credentials_while_credentials_that_work_are_served()
    {
        var log = new CapturingLogger();
        await using var app = new Throttled(log);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        await Api.ReadAsync(await tenant.Client.GetAsync("/events"), 200);
        using var jwt = app.WithToken(KeyTests.Jwt(tenant.Id));
        await Api.ReadAsync(await jwt.GetAsync("/events"), 200);
        var unseen = (await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", null), 201))["api_key"]!.GetValue<string>();

        // The in-process server gives every request the same (absent) address: one client.
        for (var i = 0; i < 60; i++)
        {
            using var guess = app.WithToken($"cap_guess-{i}");
            await Api.ProblemAsync(await guess.GetAsync("/events"), 401, "UNAUTHORIZED");
        }

        using var sixtyFirst = app.WithToken("cap_guess-60");
        var throttled = await sixtyFirst.GetAsync("/events");
        var problem = await Api.ProblemAsync(throttled, 429, "TOO_MANY_AUTH_FAILURES");
        Assert.Equal("/problems/too-many-auth-failures", problem["type"]!.GetValue<string>());
        Assert.InRange(throttled.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        using var badJwt = app.WithToken(KeyTests.Jwt(tenant.Id)[..^2] + "xx");
        await Api.ProblemAsync(await badJwt.GetAsync("/events"), 429, "TOO_MANY_AUTH_FAILURES");
        using var badAdmin = app.WithToken(CapacityApp.AdminKey + "x");
        await Api.ProblemAsync(await badAdmin.GetAsync("/admin/verify"), 429, "TOO_MANY_AUTH_FAILURES");

        // Credentials that work are served: a key this node knows, a JWT, the admin key.
        Assert.Empty((await Api.ReadAsync(await tenant.Client.GetAsync("/events"), 200))["events"]!.AsArray());
        await tenant.Client.CreateCapacityAsync("after", "Pool", 5);
        await Api.ReadAsync(await jwt.GetAsync("/events"), 200);
        await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);

        // A key this node has never resolved is not looked up until the minute is over; a request
        // with no credential guesses nothing, and is answered as ever.
        using var fresh = app.WithToken(unseen);
        await Api.ProblemAsync(await fresh.GetAsync("/events"), 429, "TOO_MANY_AUTH_FAILURES");
        using var anonymous = app.CreateClient();
        await Api.ProblemAsync(await anonymous.GetAsync("/events"), 401, "UNAUTHORIZED");

        using var metrics = app.CreateClient();
        var text = await (await metrics.GetAsync("/metrics")).Content.ReadAsStringAsync();
        Assert.Contains("# TYPE capacity_auth_failures_total counter", text, StringComparison.Ordinal);
        Assert.Contains("capacity_auth_failures_total{reason=\"unknown_key\"}", text, StringComparison.Ordinal);
        Assert.Contains("capacity_auth_failures_total{reason=\"throttled\"}", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE capacity_auth_throttled_addresses gauge\ncapacity_auth_throttled_addresses 1\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);

        // 65 refusals, and one warning for them so far: the 61st's, which put the address over and names
        // it (the in-process server's absent address counts as 255.255.255.255); the rest wait for the next.
        var warnings = log.Lines.Where(l => l.Contains("refused for their credential", StringComparison.Ordinal)).ToList();
        Assert.Single(warnings);
        Assert.StartsWith("Warning: 61 requests refused", warnings[0], StringComparison.Ordinal);
        Assert.Contains("1 addresses went over", warnings[0], StringComparison.Ordinal);
        Assert.Contains(": 255.255.255.255", warnings[0], StringComparison.Ordinal);
        Assert.DoesNotContain("cap_guess", string.Join("\n", log.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Behind_a_proxy_that_forwards_the_clients_address_each_client_has_a_budget_of_its_own()
    {
        // As compose.yaml runs the nodes behind Caddy: ASPNETCORE_FORWARDEDHEADERS_ENABLED=true.
        await using var app = new CapacityApp(new() { ["Auth:FailedAttemptsPerMinute"] = "3", ["FORWARDEDHEADERS_ENABLED"] = "true" });
        using var client = app.CreateClient();
        async Task<HttpResponseMessage> GuessAsync(string from)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/events");
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer cap_guess");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", from);
            return await client.SendAsync(request);
        }

        for (var i = 0; i < 3; i++)
        {
            await Api.ProblemAsync(await GuessAsync("198.51.100.1"), 401, "UNAUTHORIZED");
        }

        await Api.ProblemAsync(await GuessAsync("198.51.100.1"), 429, "TOO_MANY_AUTH_FAILURES");
        await Api.ProblemAsync(await GuessAsync("198.51.100.2"), 401, "UNAUTHORIZED");
    }

    [Fact]
    public void A_window_ends_after_a_minute_and_retry_after_counts_down_to_it()
    {
        var time = new SteppedTime(1_000_000_000);
        var failures = new AuthFailures(new AuthOptions { FailedAttemptsPerMinute = 3 }, time, NullLogger<AuthFailures>.Instance);
        var client = IPAddress.Parse("192.0.2.10");
        Assert.Equal([null, null, null], Enumerable.Range(0, 3).Select(_ => failures.Record(client, Refusal.UnknownKey).RetryAfterSeconds));
        Assert.True(failures.IsOverBudget(client));
        Assert.Equal(1, failures.ThrottledAddresses);
        Assert.Equal(60, failures.Record(client, Refusal.WrongSignature).RetryAfterSeconds);
        time.Advance(TimeSpan.FromSeconds(45));
        Assert.Equal(15, failures.Record(client, Refusal.Throttled).RetryAfterSeconds);
        Assert.False(failures.IsOverBudget(IPAddress.Parse("192.0.2.11")));

        time.Advance(TimeSpan.FromSeconds(15));
        Assert.False(failures.IsOverBudget(client));
        Assert.Equal(0, failures.ThrottledAddresses);
        Assert.Null(failures.Record(client, Refusal.UnknownKey).RetryAfterSeconds);

        // No credential, or a disabled tenant's, spends nothing of the budget.
        for (var i = 0; i < 10; i++)
        {
            Assert.Null(failures.Record(client, Refusal.NoCredential).RetryAfterSeconds);
            Assert.Null(failures.Record(client, Refusal.TenantDisabled).RetryAfterSeconds);
        }

        Assert.False(failures.IsOverBudget(client));
    }

    [Fact]
    public void Addresses_of_one_ipv6_64_share_a_budget_and_an_ipv4_mapped_address_counts_as_its_ipv4()
    {
        var failures = new AuthFailures(new AuthOptions { FailedAttemptsPerMinute = 4 }, new SteppedTime(1_000_000_000), NullLogger<AuthFailures>.Instance);
        foreach (var address in new[] { "2001:db8::1", "2001:db8::2", "2001:db8::ffff:1", "2001:db8:0:0:1:2:3:4" })
        {
            failures.Record(IPAddress.Parse(address), Refusal.UnknownKey);
        }

        Assert.True(failures.IsOverBudget(IPAddress.Parse("2001:db8::abcd")));
        Assert.False(failures.IsOverBudget(IPAddress.Parse("2001:db8:0:1::1")));

        for (var i = 0; i < 4; i++)
        {
            failures.Record(IPAddress.Parse("::ffff:192.0.2.1"), Refusal.UnknownKey);
        }

        Assert.True(failures.IsOverBudget(IPAddress.Parse("192.0.2.1")));
        Assert.False(failures.IsOverBudget(IPAddress.Parse("192.0.2.2")));
    }

    [Fact]
    public void A_flood_of_addresses_keeps_the_table_bounded_and_throttles_no_address_for_failures_it_did_not_make()
    {
        var time = new SteppedTime(1_000_000_000);
        var failures = new AuthFailures(new AuthOptions { FailedAttemptsPerMinute = 60 }, time, NullLogger<AuthFailures>.Instance);
        var guesser = IPAddress.Parse("198.51.100.7");
        var once = IPAddress.Parse("198.51.100.8");
        for (var i = 0; i < 60; i++)
        {
            failures.Record(guesser, Refusal.UnknownKey);
        }

        failures.Record(once, Refusal.UnknownKey);

        // One failure from each of 50,000 addresses: five times what the table holds.
        for (var i = 0; i < 50_000; i++)
        {
            failures.Record(new IPAddress(BitConverter.GetBytes(0x0A000000 + i)), Refusal.UnknownKey);
        }

        Assert.InRange(failures.TrackedAddresses, 1, AuthFailures.MaxAddresses);
        Assert.True(failures.IsOverBudget(guesser));
        Assert.False(failures.IsOverBudget(once));
        Assert.False(failures.IsOverBudget(new IPAddress(BitConverter.GetBytes(0x0A000000 + 49_999))));
        Assert.False(failures.IsOverBudget(IPAddress.Parse("203.0.113.99")));
        Assert.Null(failures.Record(IPAddress.Parse("203.0.113.99"), Refusal.UnknownKey).RetryAfterSeconds);
        Assert.Equal(1, failures.ThrottledAddresses);

        // Once their minute is over, all of them are dropped as soon as room is needed: a second flood
        // of 2,000 addresses is all the table holds.
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(failures.IsOverBudget(guesser));
        for (var i = 0; i < 2_000; i++)
        {
            failures.Record(new IPAddress(BitConverter.GetBytes(0x0B000000 + i)), Refusal.UnknownKey);
        }

        Assert.Equal(2_000, failures.TrackedAddresses);
    }

    [Fact]
    public void A_full_table_makes_room_by_forgetting_the_addresses_with_the_fewest_failures_and_keeps_those_over_budget()
    {
        var time = new SteppedTime(1_000_000_000);
        var failures = new AuthFailures(new AuthOptions { FailedAttemptsPerMinute = 3 }, time, NullLogger<AuthFailures>.Instance, maxAddresses: 10);
        IPAddress Address(int i) => IPAddress.Parse($"192.0.2.{i}");
        void Fail(int i, int times)
        {
            for (var n = 0; n < times; n++)
            {
                failures.Record(Address(i), Refusal.UnknownKey);
            }
        }

        Fail(1, 3);
        Fail(2, 3);
        Fail(3, 2);
        for (var i = 4; i <= 10; i++)
        {
            Fail(i, 1);
        }

        // Full: the eleventh address pushes out the one that failed once longest ago, and no more.
        Fail(11, 1);
        Assert.Equal(10, failures.TrackedAddresses);
        Assert.True(failures.IsOverBudget(Address(1)));
        Assert.True(failures.IsOverBudget(Address(2)));
        Fail(3, 1);
        Assert.True(failures.IsOverBudget(Address(3)));

        // A flood of new addresses never pushes out one over its budget, nor puts anyone else over.
        for (var i = 100; i < 200; i++)
        {
            Fail(i, 1);
        }

        Assert.InRange(failures.TrackedAddresses, 1, 10);
        Assert.Equal(3, failures.ThrottledAddresses);
        Assert.True(failures.IsOverBudget(Address(1)));
        Assert.False(failures.IsOverBudget(Address(199)));
        Assert.False(failures.IsOverBudget(Address(50)));

        // A table full of addresses over budget leaves a new one uncounted rather than free one of them.
        for (var i = 20; i < 27; i++)
        {
            Fail(i, 3);
        }

        Assert.Equal(10, failures.ThrottledAddresses);
        Assert.Null(failures.Record(Address(50), Refusal.UnknownKey).RetryAfterSeconds);
        Assert.False(failures.IsOverBudget(Address(50)));

        // Their minute over, they make room.
        time.Advance(TimeSpan.FromMinutes(1));
        Fail(50, 3);
        Assert.True(failures.IsOverBudget(Address(50)));
        Assert.Equal(1, failures.TrackedAddresses);
    }

    [Fact]
    public void An_address_going_over_is_named_in_a_warning_at_once_or_when_ten_seconds_since_the_last_are_up_even_if_nothing_follows()
    {
        var time = new TimedClock();
        var log = new CapturingLogger();
        using var loggers = LoggerFactory.Create(logging => logging.AddProvider(log));
        using var failures = new AuthFailures(new AuthOptions { FailedAttemptsPerMinute = 3 }, time, loggers.CreateLogger<AuthFailures>());
        List<string> Warnings() => [.. log.Lines.Where(l => l.StartsWith("Warning:", StringComparison.Ordinal))];
        void Fail(string address, int times)
        {
            for (var i = 0; i < times; i++)
            {
                failures.Record(IPAddress.Parse(address), Refusal.UnknownKey);
            }
        }

        // A lone refusal waits, for another to go over or for ten seconds.
        Fail("192.0.2.7", 1);
        Assert.Empty(Warnings());

        // The fourth refusal of a budget of three puts the address over: a warning at once, naming it.
        time.Advance(TimeSpan.FromSeconds(2));
        Fail("192.0.2.6", 4);
        Assert.Equal(["Warning: 5 requests refused for their credential since the last report; 1 addresses went over Auth:FailedAttemptsPerMinute (3) "
            + "and get 429 for the rest of their minute: 192.0.2.6 "], Warnings());

        // Another goes over a second later: warned of once ten seconds since the last are up, with nothing
        // sent meanwhile, and named, not the address of whatever refusal came next.
        time.Advance(TimeSpan.FromSeconds(1));
        Fail("192.0.2.6", 2);
        Fail("192.0.2.8", 4);
        time.Advance(TimeSpan.FromSeconds(8.9));
        Assert.Single(Warnings());
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(2, Warnings().Count);
        Assert.EndsWith("6 requests refused for their credential since the last report; 1 addresses went over Auth:FailedAttemptsPerMinute (3) "
            + "and get 429 for the rest of their minute: 192.0.2.8 ", Warnings()[1], StringComparison.Ordinal);

        // Quiet: nothing more, however long. Then a lone refusal is reported ten seconds after it.
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(2, Warnings().Count);
        Fail("192.0.2.9", 1);
        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(2, Warnings().Count);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.EndsWith("1 requests refused for their credential since the last report; no address went over Auth:FailedAttemptsPerMinute (3) ", Warnings()[2], StringComparison.Ordinal);

        // Twelve addresses over at once: ten named, the rest counted.
        time.Advance(TimeSpan.FromSeconds(10));
        for (var i = 20; i < 32; i++)
        {
            Fail($"192.0.2.{i}", 4);
        }

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(5, Warnings().Count);
        Assert.EndsWith("192.0.2.21, 192.0.2.22, 192.0.2.23, 192.0.2.24, 192.0.2.25, 192.0.2.26, 192.0.2.27, 192.0.2.28, 192.0.2.29, 192.0.2.30 and 1 more ", Warnings()[4], StringComparison.Ordinal);
    }

    /// <summary>A stepped clock whose timers fire when the test moves it past them.</summary>
    private sealed class TimedClock : TimeProvider
    {
        private readonly List<Timer> _timers = [];
        private long _ticks = 1_000_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new Timer(this, () => callback(state));
            timer.Change(dueTime, period);
            _timers.Add(timer);
            return timer;
        }

        public void Advance(TimeSpan by)
        {
            _ticks += by.Ticks;
            foreach (var timer in _timers.Where(t => t.DueAt <= _ticks).ToList())
            {
                timer.DueAt = long.MaxValue;
                timer.Fire();
            }
        }

        public sealed class Timer(TimedClock clock, Action fire) : ITimer
        {
            public long DueAt { get; set; } = long.MaxValue;

            public void Fire() => fire();

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : clock._ticks + dueTime.Ticks;
                return true;
            }

            public void Dispose() => DueAt = long.MaxValue;

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }

    /// <summary>The test app with the default budget of 60 a minute, logging warnings into <paramref name="log"/>.</summary>
    private sealed class Throttled(CapturingLogger log) : CapacityApp(new() { ["Auth:FailedAttemptsPerMinute"] = "60" })
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(log));
        }
    }
}

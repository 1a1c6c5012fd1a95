using System.Text.Json;
using Capacity.Cli;

namespace Capacity.Client.Tests;

/// <summary>
/// <c>--idempotency-key</c>: a write command run again with the same key gets the first answer and does nothing
/// again, against the real server in process.
/// </summary>
public sealed class IdempotencyCliTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    private const string Replayed = "replayed:";

    [Fact]
    public async Task Reserve_run_twice_with_the_same_key_places_one_hold_and_the_second_run_says_it_was_replayed()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await PoolAsync(tenant, "idem-twice");
        var key = "order-" + Guid.NewGuid().ToString("N");

        // The option goes anywhere on the line, as the other global ones do.
        var first = await host.RunCliAsync("--idempotency-key", key, "reserve", pool.Id.ToString(), "-q", "3", "--json", "--key", tenant.Key);
        var second = await host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "3", "--json", "--key", tenant.Key, "--idempotency-key", key);

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        Assert.Equal(ExitCodes.Ok, second.ExitCode);
        Assert.Equal(ReservationIdOf(first), ReservationIdOf(second));
        Assert.DoesNotContain(Replayed, first.Error, StringComparison.Ordinal);
        Assert.Contains(Replayed, second.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Replayed, second.Output, StringComparison.Ordinal);

        var after = await tenant.Client.GetCapacityAsync(pool.Id);
        Assert.Equal(3, after.ReservedCapacity);
        Assert.Equal(97, after.AvailableCapacity);
        Assert.Single((await tenant.Client.ListReservationsAsync(new ReservationQuery { EventId = "idem-twice" })).Reservations);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_same_key_with_another_request_exits_7_with_IDEMPOTENCY_KEY_REUSED_and_changes_nothing()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await PoolAsync(tenant, "idem-reused");
        var key = "order-" + Guid.NewGuid().ToString("N");
        var first = await host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "3", "--key", tenant.Key, "--idempotency-key", key);
        Assert.Equal(ExitCodes.Ok, first.ExitCode);

        var other = await host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "5", "--key", tenant.Key, "--idempotency-key", key);

        Assert.Equal(ExitCodes.ApiError, other.ExitCode);
        Assert.Contains("IDEMPOTENCY_KEY_REUSED", other.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, other.Output);
        Assert.DoesNotContain(Replayed, other.Error, StringComparison.Ordinal);
        Assert.Equal(3, (await tenant.Client.GetCapacityAsync(pool.Id)).ReservedCapacity);
        Assert.Single((await tenant.Client.ListReservationsAsync(new ReservationQuery { EventId = "idem-reused" })).Reservations);
        await host.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("")]
    [InlineData("café")]
    [InlineData("tab\there")]
    [InlineData(" leading-space")]
    [InlineData("trailing-space ")]
    [InlineData(null)]
    public async Task A_malformed_key_is_a_usage_error_that_states_the_rule_and_sends_nothing(string? malformed)
    {
        var tenant = await host.NewTenantAsync();
        var pool = await PoolAsync(tenant, "idem-malformed");

        // Null: one character longer than the server takes.
        var (exit, error, requests) = await RunCountedAsync(
            "reserve", pool.Id.ToString(), "-q", "2", "--key", tenant.Key, "--idempotency-key", malformed ?? new string('k', 256));

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--idempotency-key must be 1 to 255 printable ASCII characters", error, StringComparison.Ordinal);
        Assert.Equal(0, requests);
        Assert.Equal(0, (await tenant.Client.GetCapacityAsync(pool.Id)).ReservedCapacity);
    }

    [Fact]
    public async Task A_key_of_the_longest_length_the_server_takes_is_sent_and_taken()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await PoolAsync(tenant, "idem-longest");
        var key = Guid.NewGuid().ToString("N") + new string('~', 255 - 32);

        var first = await host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "1", "--json", "--key", tenant.Key, "--idempotency-key", key);
        var second = await host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "1", "--json", "--key", tenant.Key, "--idempotency-key", key);

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        Assert.Equal(ReservationIdOf(first), ReservationIdOf(second));
        Assert.Contains(Replayed, second.Error, StringComparison.Ordinal);
        Assert.Equal(1, (await tenant.Client.GetCapacityAsync(pool.Id)).ReservedCapacity);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_key_on_a_command_that_sends_no_write_or_several_is_a_usage_error_and_sends_nothing()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await PoolAsync(tenant, "idem-refused");
        var id = pool.Id.ToString();
        (string Name, string[] Args)[] commands =
        [
            ("events list", ["events", "list"]),
            ("capacities show", ["capacities", "show", id]),
            ("capacities check", ["capacities", "check", id, "-q", "1"]),
            ("watch", ["watch", "idem-refused"]),
            ("stats", ["stats", "idem-refused"]),
            ("reservations list", ["reservations", "list", "--event", "idem-refused"]),
            ("bench", ["bench", "idem-refused", "--duration", "1"]),
        ];

        foreach (var (name, args) in commands)
        {
            var (exit, error, requests) = await RunCountedAsync([.. args, "--key", tenant.Key, "--idempotency-key", "k-1"]);

            Assert.True(exit == ExitCodes.Usage, $"{name} exited {exit}: {error}");
            Assert.Contains($"error: --idempotency-key is for a command that sends exactly one write; '{name}' sends none or several.", error, StringComparison.Ordinal);
            Assert.Equal(0, requests);
        }

        Assert.Equal(0, (await tenant.Client.GetCapacityAsync(pool.Id)).ReservedCapacity);
    }

    [Fact]
    public async Task Eight_runs_at_once_with_the_same_key_and_request_leave_one_hold_and_print_its_id()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await PoolAsync(tenant, "idem-racing");
        var key = "order-" + Guid.NewGuid().ToString("N");

        var runs = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "4", "--json", "--key", tenant.Key, "--idempotency-key", key))));

        // The server lets one request apply the key; a repeat in flight waits for its answer (replayed), or, past the
        // server's wait, gets 409 IDEMPOTENCY_IN_PROGRESS, which the SDK retries and which may still be the last answer.
        foreach (var run in runs)
        {
            Assert.True(
                run.ExitCode == ExitCodes.Ok || (run.ExitCode == ExitCodes.Conflict && run.Error.Contains("IDEMPOTENCY_IN_PROGRESS", StringComparison.Ordinal)),
                $"exit {run.ExitCode}: {run.Error}");
        }

        var held = runs.Where(r => r.ExitCode == ExitCodes.Ok).ToList();
        Assert.NotEmpty(held);
        Assert.Single(held.Select(ReservationIdOf).Distinct());
        Assert.Single(held, r => !r.Error.Contains(Replayed, StringComparison.Ordinal));

        Assert.Equal(4, (await tenant.Client.GetCapacityAsync(pool.Id)).ReservedCapacity);
        Assert.Single((await tenant.Client.ListReservationsAsync(new ReservationQuery { EventId = "idem-racing" })).Reservations);
        await host.AssertInvariantsAsync();
    }

    private static async Task<CapacityDetails> PoolAsync(TestTenant tenant, string eventId) =>
        await tenant.Client.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 100 });

    private static string ReservationIdOf(CliRun run)
    {
        using var document = JsonDocument.Parse(run.Output);
        return document.RootElement.GetProperty("reservation").GetProperty("id").GetString()!;
    }

    /// <summary>Runs the command against the server through a handler that counts the requests it sends.</summary>
    private async Task<(int Exit, string Error, int Requests)> RunCountedAsync(params string[] args)
    {
        var counter = new Counter { InnerHandler = host.Server.CreateHandler() };
        var error = new StringWriter();
        var exit = await CapacityCli.RunAsync(["--url", "http://localhost/", .. args], counter, new StringWriter(), error, _ => null, CancellationToken.None);
        return (exit, error.ToString(), counter.Requests);
    }

    private sealed class Counter : DelegatingHandler
    {
        private int _requests;

        public int Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

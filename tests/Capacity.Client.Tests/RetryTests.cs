using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Capacity.Client.Tests;

/// <summary>Retries, their Idempotency-Keys, Retry-After, and cancellation.</summary>
public sealed class RetryTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    private static readonly CapacityClientOptions Fast = new() { RetryDelay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public async Task A_hold_whose_answer_was_lost_is_retried_with_the_same_key_and_takes_effect_once()
    {
        var tenant = await host.NewTenantAsync();
        var hall = await tenant.Client.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });
        var lose = new LoseFirstAnswer();
        var client = host.Client(tenant.Key, Fast, lose);

        var result = await client.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 2 });

        Assert.Equal(2, lose.Seen.Count);
        Assert.NotNull(lose.Seen[0].Key);
        Assert.Equal(lose.Seen[0].Key, lose.Seen[1].Key);
        Assert.Equal([false, true], lose.Seen.Select(s => s.Replayed));
        Assert.Equal(2, (await tenant.Client.GetCapacityAsync(hall.Id)).ReservedCapacity);
        Assert.Equal(result.Reservation.Id, Assert.Single((await tenant.Client.GetLedgerAsync("e")).Entries).ReservationId);
    }

    [Fact]
    public async Task A_delete_whose_answer_was_lost_is_retried_with_the_same_key_and_gets_the_204_not_a_404()
    {
        var tenant = await host.NewTenantAsync();
        var hall = await tenant.Client.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });
        var limit = await tenant.Client.CreateLimitAsync("e", new CreateLimitRequest { Name = "Two", CapacityIds = [hall.Id], PerBuyerMax = 2 });
        var lose = new LoseFirstAnswer();

        await host.Client(tenant.Key, Fast, lose).DeleteLimitAsync(limit.Id);

        Assert.Equal(2, lose.Seen.Count);
        Assert.NotNull(lose.Seen[0].Key);
        Assert.Equal(lose.Seen[0].Key, lose.Seen[1].Key);
        Assert.Equal([false, true], lose.Seen.Select(s => s.Replayed));
        Assert.Empty(await tenant.Client.ListLimitsAsync("e"));
    }

    [Fact]
    public async Task A_leave_whose_answer_was_lost_is_retried_with_the_same_key_and_gets_the_entry_back()
    {
        var tenant = await host.NewTenantAsync();
        var hall = await tenant.Client.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 1 });
        await tenant.Client.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 });
        await tenant.Client.UpdateCapacityAsync(hall.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } });
        var entry = await tenant.Client.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(hall.Id, 1)] });
        var lose = new LoseFirstAnswer();

        var left = await host.Client(tenant.Key, Fast, lose).LeaveWaitlistAsync(entry.Id);

        Assert.Equal((entry.Id, WaitlistStatus.Left), (left.Id, left.Status));
        Assert.Equal(2, lose.Seen.Count);
        Assert.NotNull(lose.Seen[0].Key);
        Assert.Equal(lose.Seen[0].Key, lose.Seen[1].Key);
        Assert.Equal([false, true], lose.Seen.Select(s => s.Replayed));
        Assert.Equal(0, (await tenant.Client.GetCapacityAsync(hall.Id)).WaitlistDemand);
    }

    [Fact]
    public async Task A_key_given_by_the_caller_replays_the_first_answer_and_refuses_a_different_body()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });

        var first = await t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 }, idempotencyKey: "order-42");
        var again = await t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 }, idempotencyKey: "order-42");
        var reused = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 5 }, idempotencyKey: "order-42"));

        Assert.Equal(first.Reservation.Id, again.Reservation.Id);
        Assert.Equal(1, (await t.GetCapacityAsync(hall.Id)).ReservedCapacity);
        Assert.Equal((422, "IDEMPOTENCY_KEY_REUSED"), (reused.Status, reused.Code));
    }

    [Fact]
    public async Task Every_write_sends_a_key_of_its_own_and_reads_send_none()
    {
        var tenant = await host.NewTenantAsync();
        var record = new Recorder();
        var t = host.Client(tenant.Key, handlers: record);

        var hall = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });
        await t.UpdateCapacityAsync(hall.Id, new UpdateCapacityRequest { TotalCapacity = 20 });
        var hold = await t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 });
        await t.ConfirmAsync(hold.Reservation.Id);
        var limit = await t.CreateLimitAsync("e", new CreateLimitRequest { Name = "Two", CapacityIds = [hall.Id], PerBuyerMax = 2 });
        await t.DeleteLimitAsync(limit.Id);
        await t.GetCapacityAsync(hall.Id);
        await t.ListEventsAsync();

        var writes = record.Requests.Where(r => r.Method is "POST" or "PUT" or "DELETE").ToList();
        Assert.Equal(6, writes.Count);
        Assert.All(writes, w => Assert.False(string.IsNullOrEmpty(w.Key)));
        Assert.Equal(6, writes.Select(w => w.Key).Distinct().Count());
        Assert.All(record.Requests.Where(r => r.Method == "GET"), r => Assert.Null(r.Key));
    }

    [Fact]
    public async Task A_check_sends_no_idempotency_key_as_it_changes_nothing()
    {
        var tenant = await host.NewTenantAsync();
        var hall = await tenant.Client.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });
        var record = new Recorder();

        var check = await host.Client(tenant.Key, handlers: record).CheckAsync(hall.Id, 2);

        Assert.True(check.Available);
        Assert.Equal(("POST", null), Assert.Single(record.Requests));
    }

    [Fact]
    public async Task Retry_After_is_waited_for_before_the_next_attempt()
    {
        var tenant = await host.NewTenantAsync();
        var busy = new BusyOnce(TimeSpan.FromSeconds(1));
        var client = host.Client(tenant.Key, Fast, busy);

        var clock = Stopwatch.StartNew();
        await client.ListEventsAsync();

        // The backoff alone would retry after about a millisecond.
        Assert.Equal(2, busy.Attempts.Count);
        Assert.True(busy.Attempts[1] - busy.Attempts[0] >= TimeSpan.FromMilliseconds(900), $"Retried after {busy.Attempts[1] - busy.Attempts[0]}.");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_429_is_retried_up_to_the_configured_attempts_and_then_thrown()
    {
        var stub = new StubHandler((_, _) => StubHandler.Json(HttpStatusCode.TooManyRequests, """{"status":429,"title":"Slow down.","code":"RATE_LIMITED"}"""));
        var client = new CapacityClient(Http(stub), "k", Fast with { MaxAttempts = 3 });

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => client.GetCapacityAsync(Guid.NewGuid()));

        Assert.Equal((429, "RATE_LIMITED"), (ex.Status, ex.Code));
        Assert.Equal(3, stub.Calls);
    }

    [Fact]
    public async Task Idempotency_in_progress_is_retried_until_the_first_request_has_finished()
    {
        var reservation = """{"id":"0199a5a0-0000-7000-8000-000000000001","status":"confirmed","items":[],"totals":[],"created_at":"2025-01-01T00:00:00Z","expires_at":"2025-01-01T00:15:00Z","confirmed_at":"2025-01-01T00:01:00Z","ended_at":null}""";
        var stub = new StubHandler((_, call) => call == 1
            ? StubHandler.Json(HttpStatusCode.Conflict, """{"status":409,"title":"In progress.","code":"IDEMPOTENCY_IN_PROGRESS"}""")
            : StubHandler.Json(HttpStatusCode.OK, reservation));
        var client = new CapacityClient(Http(stub), "k", Fast);

        var confirmed = await client.ConfirmAsync(Guid.NewGuid());

        Assert.Equal(ReservationStatus.Confirmed, confirmed.Status);
        Assert.Equal(2, stub.Calls);
    }

    [Fact]
    public async Task A_conflict_of_state_is_not_retried()
    {
        var stub = new StubHandler((_, _) => StubHandler.Json(HttpStatusCode.Conflict, """{"status":409,"title":"Not enough capacity.","code":"INSUFFICIENT_CAPACITY","available_capacity":1}"""));
        var client = new CapacityClient(Http(stub), "k", Fast);

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => client.ReserveAsync(Guid.NewGuid(), new ReserveRequest { Quantity = 2 }));

        Assert.Equal(("INSUFFICIENT_CAPACITY", 1L), (ex.Code, ex.AvailableCapacity));
        Assert.Equal(1, stub.Calls);
    }

    [Fact]
    public async Task A_Retry_After_longer_than_the_longest_wait_is_thrown_at_once()
    {
        var stub = new StubHandler((_, _) => StubHandler.Unavailable(TimeSpan.FromMinutes(2)));
        var client = new CapacityClient(Http(stub), "k", Fast with { MaxRetryDelay = TimeSpan.FromSeconds(5) });

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => client.ListEventsAsync());

        Assert.Equal((503, "SERVICE_UNAVAILABLE"), (ex.Status, ex.Code));
        Assert.Equal(1, stub.Calls);
    }

    [Fact]
    public async Task Cancelling_stops_a_call_that_waits_to_retry()
    {
        var answered = new TaskCompletionSource();
        var stub = new StubHandler((_, _) =>
        {
            answered.TrySetResult();
            return StubHandler.Unavailable(TimeSpan.FromSeconds(10));
        });
        var client = new CapacityClient(Http(stub), "k", Fast);
        using var cancel = new CancellationTokenSource();

        var call = client.ReserveAsync(Guid.NewGuid(), new ReserveRequest { Quantity = 1 }, cancellationToken: cancel.Token);
        await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"Took {clock.Elapsed}.");
        Assert.Equal(1, stub.Calls);
    }

    [Fact]
    public async Task Cancelling_stops_a_call_that_waits_for_its_answer()
    {
        var client = new CapacityClient(Http(new Hang()), "k");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetTotalsAsync("e", cancel.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"Took {clock.Elapsed}.");
    }

    private static HttpClient Http(HttpMessageHandler handler) => new(handler) { BaseAddress = new Uri("http://localhost/") };

    /// <summary>Forwards each request to the server, then throws the first answer away and says 503: a reply lost on the way back.</summary>
    private sealed class LoseFirstAnswer : DelegatingHandler
    {
        public List<(string? Key, bool Replayed)> Seen { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            Seen.Add((KeyOf(request), response.Headers.Contains("Idempotent-Replayed")));
            if (Seen.Count > 1)
            {
                return response;
            }

            response.Dispose();
            return StubHandler.Unavailable();
        }
    }

    /// <summary>Answers the first request with 503 and a Retry-After, without forwarding it; forwards the rest.</summary>
    private sealed class BusyOnce(TimeSpan retryAfter) : DelegatingHandler
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public List<TimeSpan> Attempts { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Attempts.Add(_clock.Elapsed);
            return Attempts.Count == 1 ? Task.FromResult(StubHandler.Unavailable(retryAfter)) : base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class Recorder : DelegatingHandler
    {
        public ConcurrentQueue<(string Method, string? Key)> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Enqueue((request.Method.Method, KeyOf(request)));
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Never answers: only cancellation ends the wait.</summary>
    private sealed class Hang : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new UnreachableException();
        }
    }

    private static string? KeyOf(HttpRequestMessage request) =>
        request.Headers.TryGetValues(CapacityClient.IdempotencyKeyHeader, out var values) ? values.Single() : null;
}

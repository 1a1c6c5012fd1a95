using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Capacity.Server.Events;
using Capacity.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Capacity.Server.Tests;

public sealed class OperationsTests_on_sqlite() : OperationsTests(StoreKind.Sqlite);

public sealed class OperationsTests_on_postgres() : OperationsTests(StoreKind.Postgres);

/// <summary>What operators and dashboards read: health, metrics, the events list and the live stream.</summary>
public abstract class OperationsTests(StoreKind store) : IAsyncLifetime
{
    private CapacityApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await CapacityApp.CreateAsync(store);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task Health_and_readiness_answer_without_credentials()
    {
        using var anonymous = _app.CreateClient();
        Assert.Equal("ok", (await Api.ReadAsync(await anonymous.GetAsync("/healthz"), 200))["status"]!.GetValue<string>());
        Assert.Equal("ready", (await Api.ReadAsync(await anonymous.GetAsync("/readyz"), 200))["status"]!.GetValue<string>());

        // Load balancers and uptime checkers probe with HEAD: the same answer, without its body.
        foreach (var path in new[] { "/healthz", "/readyz" })
        {
            using var head = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.Equal(System.Net.HttpStatusCode.OK, head.StatusCode);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task Metrics_count_requests_holds_by_outcome_batches_and_commit_latency_in_prometheus_format()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 2);
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => t.ReserveAsync(pool, 1)));

        // The heap's size is the runtime's figure after its last collection, and a test process run
        // with this test alone may not have collected yet (the server shares the process).
        GC.Collect();
        using var anonymous = _app.CreateClient();
        var response = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        var samples = ParsePrometheus(await response.Content.ReadAsStringAsync());

        Assert.True(Sample(samples, "capacity_http_requests_total", "route=\"/capacity/{id}/reserve\"", "status=\"201\"") >= 2);
        Assert.True(Sample(samples, "capacity_http_requests_total", "route=\"/capacity/{id}/reserve\"", "status=\"409\"") >= 3);
        Assert.True(Sample(samples, "capacity_engine_commands_total", "command=\"hold\"", "outcome=\"ok\"") >= 2);
        Assert.True(Sample(samples, "capacity_engine_commands_total", "command=\"hold\"", "outcome=\"insufficientcapacity\"") >= 3);
        Assert.True(Sample(samples, "capacity_engine_batch_size_count") >= 1);
        Assert.True(Sample(samples, "capacity_engine_commit_duration_seconds_bucket", "le=\"+Inf\"") >= 1);
        Assert.Contains(samples, s => s.Name == "capacity_engine_queue_depth");

        // Base units: a hold is a few ms, so its duration in seconds is well under one per request. Holds
        // only: the instruments are the process's, and a live stream another test's host ends meanwhile
        // (its request lasting tens of seconds) would be recorded here too.
        static bool Holds(PromSample s) => s.Labels.Contains("route=\"/capacity/{id}/reserve\"", StringComparison.Ordinal);
        var requests = samples.Where(s => s.Name == "capacity_http_request_duration_seconds_count" && Holds(s)).Sum(s => s.Value);
        var seconds = samples.Where(s => s.Name == "capacity_http_request_duration_seconds_sum" && Holds(s)).Sum(s => s.Value);
        Assert.True(requests >= 5 && seconds > 0 && seconds < requests, $"{seconds} s over {requests} requests");
        Assert.Contains(samples, s => s.Name == "capacity_engine_commit_duration_seconds_bucket" && s.Labels.Contains("le=\"0.001\"", StringComparison.Ordinal));
        Assert.DoesNotContain(samples, s => s.Name.Contains("_ms", StringComparison.Ordinal));

        // What every Prometheus set-up expects of a process, and the runtime's own.
        Assert.True(Sample(samples, "process_cpu_seconds_total") > 0);
        Assert.True(Sample(samples, "process_resident_memory_bytes") > 1_000_000);
        Assert.True(Sample(samples, "process_start_time_seconds") > 1_600_000_000);
        Assert.True(Sample(samples, "dotnet_gc_heap_bytes") > 0);
        Assert.True(Sample(samples, "dotnet_threadpool_threads") >= 1);
        Assert.Contains(samples, s => s.Name == "dotnet_gc_collections_total" && s.Labels.Contains("generation=\"0\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_events_list_names_each_event_once_with_its_capacity_count()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("night-1", "Pool", 10);
        await t.CreateCapacityAsync("night-1", "Child", null, pool);
        await t.CreateCapacityAsync("night-2", "Pool", 10);

        var events = (await Api.ReadAsync(await t.GetAsync("/events"), 200))["events"]!.AsArray();
        Assert.Equal(["night-1", "night-2"], events.Select(e => e!["event_id"]!.GetValue<string>()));
        Assert.Equal(2, events[0]!["capacities"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_stream_sends_a_snapshot_at_once_and_another_within_a_second_of_a_change()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("live", "Pool", 10);
        var child = await t.CreateCapacityAsync("live", "Child", null, pool);

        using var response = await t.GetAsync("/events/live/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        var first = await NextSnapshotAsync(reader);
        Assert.Equal(10, first["totals"]!["available_capacity"]!.GetValue<long>());
        Assert.Equal(0, first["holds"]!["active"]!.GetValue<long>());

        var hold = await t.HoldAsync(child, 3);
        var second = await NextSnapshotAsync(reader).WaitAsync(TimeSpan.FromSeconds(1.5));
        Assert.Equal(7, second["totals"]!["available_capacity"]!.GetValue<long>());
        Assert.Equal(1, second["holds"]!["active"]!.GetValue<long>());
        Assert.Equal(hold, second["holds"]!["expiring"]![0]!["reservation_id"]!.GetValue<string>());
        Assert.Equal(3, second["holds"]!["expiring"]![0]!["quantity"]!.GetValue<int>());
        Assert.Equal(2, second["capacity"]!.AsArray().Count);

        // An expiring hold names its capacities and what it holds of each.
        var cart = await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new[] { new { capacity_id = pool, quantity = 1 }, new { capacity_id = child, quantity = 2 } },
            reservation_minutes = 1,
        })), 201);
        var third = await NextSnapshotAsync(reader).WaitAsync(TimeSpan.FromSeconds(1.5));
        var soonest = third["holds"]!["expiring"]![0]!;
        Assert.Equal(cart["id"]!.GetValue<string>(), soonest["reservation_id"]!.GetValue<string>());
        Assert.Equal(
            [(pool, 1), (child, 2)],
            soonest["items"]!.AsArray().Select(i => (i!["capacity_id"]!.GetValue<string>(), i["quantity"]!.GetValue<int>())));
        Assert.Equal([3], third["holds"]!["expiring"]![1]!["items"]!.AsArray().Select(i => i!["quantity"]!.GetValue<int>()));
    }

    [Fact]
    public async Task A_cart_over_two_events_shows_in_each_events_stream_with_that_events_tickets_only()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var friday = await t.CreateCapacityAsync("friday", "Stalls", 10);
        var saturday = await t.CreateCapacityAsync("saturday", "Stalls", 10);
        var circle = await t.CreateCapacityAsync("saturday", "Circle", 10);
        var cart = (await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new[] { new { capacity_id = friday, quantity = 2 }, new { capacity_id = saturday, quantity = 3 }, new { capacity_id = circle, quantity = 1 } },
        })), 201))["id"]!.GetValue<string>();

        foreach (var (eventId, items) in new[] { ("friday", new[] { (friday, 2) }), ("saturday", new[] { (saturday, 3), (circle, 1) }) })
        {
            using var response = await t.GetAsync($"/events/{eventId}/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var hold = (await NextSnapshotAsync(reader))["holds"]!["expiring"]!.AsArray().Single()!;
            Assert.Equal(cart, hold["reservation_id"]!.GetValue<string>());
            Assert.Equal(items, hold["items"]!.AsArray().Select(i => (i!["capacity_id"]!.GetValue<string>(), i["quantity"]!.GetValue<int>())));
            Assert.Equal(items.Sum(i => i.Item2), hold["quantity"]!.GetValue<int>());
        }

        await _app.AssertInvariantsAsync();
    }

    /// <remarks>
    /// A feed is started by its first viewer's request but outlives it: its polls must not run in that
    /// request's execution context, or they would be traced as that request's children (and log under
    /// its scope) for as long as the feed lives. The hosting layer starts a request activity only when
    /// someone listens to it, so the test listens, and sends a traceparent it can recognise.
    /// </remarks>
    [Fact]
    public async Task A_feed_started_by_a_viewer_polls_outside_that_viewer_s_trace()
    {
        var viewerTrace = ActivityTraceId.CreateRandom();
        var viewerTraced = false;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStarted = activity =>
            {
                // Every test's requests pass here while this one listens: only ever set, never cleared.
                if (activity.TraceId == viewerTrace)
                {
                    Volatile.Write(ref viewerTraced, true);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("traced-feed", "Pool", 10);
        var reads = new ConcurrentQueue<ActivityTraceId?>();
        _app.Faults.OnSummaryRead = () => reads.Enqueue(Activity.Current?.TraceId);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/events/traced-feed/capacity/stream");
            request.Headers.Add("traceparent", $"00-{viewerTrace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            using var response = await t.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

            // The viewer's request ran in a trace of its own, which the feed could have taken along. Its
            // first snapshot was read by the request or by the feed's first poll, whichever came first;
            // what follows is the feed's alone.
            await NextSnapshotAsync(reader);
            Assert.True(Volatile.Read(ref viewerTraced), "the viewer's request started no activity in its trace");
            reads.Clear();
            await t.HoldAsync(pool, 1);
            var second = await NextSnapshotAsync(reader).WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(9, second["totals"]!["available_capacity"]!.GetValue<long>());

            Assert.NotEmpty(reads);
            Assert.DoesNotContain(viewerTrace, reads);
        }
        finally
        {
            _app.Faults.OnSummaryRead = null;
        }

        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Twenty_viewers_of_one_event_share_one_poll_of_the_store_and_each_sees_a_change_within_a_second()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("wall", "Pool", 100);
        var child = await t.CreateCapacityAsync("wall", "Child", null, pool);
        var feeds = _app.Services.GetRequiredService<EventFeeds>();

        var viewers = new List<(HttpResponseMessage Response, StreamReader Reader)>();
        for (var i = 0; i < 20; i++)
        {
            var response = await t.GetAsync("/events/wall/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.Equal(100, (await NextSnapshotAsync(reader))["totals"]!["available_capacity"]!.GetValue<long>());
            viewers.Add((response, reader));
        }

        Assert.Equal(1, feeds.Active);
        var readsBefore = _app.Faults.HoldSummaryReads;
        await t.HoldAsync(child, 3);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(viewers.Select(async v =>
        {
            var next = await NextSnapshotAsync(v.Reader).WaitAsync(TimeSpan.FromSeconds(1.5));
            Assert.Equal(97, next["totals"]!["available_capacity"]!.GetValue<long>());
        }));
        await Task.Delay(TimeSpan.FromSeconds(1));

        // One poll every 250 ms, however many watch: each viewer polling on its own would read 20 times as often.
        var polls = _app.Faults.HoldSummaryReads - readsBefore;
        var rounds = (int)Math.Ceiling(started.Elapsed / EventFeeds.PollInterval) + 2;
        Assert.InRange(polls, 1, rounds);

        foreach (var (response, reader) in viewers)
        {
            reader.Dispose();
            response.Dispose();
        }

        // Once the last viewer has left and the poll that may have been under way then has finished,
        // the store is not read again.
        await WaitUntilAsync(() => feeds.Active == 0 && feeds.Polling == 0);
        var readsAfterLeaving = _app.Faults.HoldSummaryReads;
        await Task.Delay(EventFeeds.PollInterval * 3);
        Assert.Equal(readsAfterLeaving, _app.Faults.HoldSummaryReads);
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Viewers_of_one_event_id_in_two_tenants_each_see_only_their_own_tenants_event()
    {
        var a = (await _app.NewTenantAsync("A")).Client;
        var b = (await _app.NewTenantAsync("B")).Client;
        var poolA = await a.CreateCapacityAsync("same-name", "Pool", 10);
        await b.CreateCapacityAsync("same-name", "Pool", 50);

        using var responseA = await a.GetAsync("/events/same-name/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var readerA = new StreamReader(await responseA.Content.ReadAsStreamAsync());
        using var responseB = await b.GetAsync("/events/same-name/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var readerB = new StreamReader(await responseB.Content.ReadAsStreamAsync());
        Assert.Equal(10, (await NextSnapshotAsync(readerA))["totals"]!["available_capacity"]!.GetValue<long>());
        Assert.Equal(50, (await NextSnapshotAsync(readerB))["totals"]!["available_capacity"]!.GetValue<long>());
        Assert.Equal(2, _app.Services.GetRequiredService<EventFeeds>().Active);

        await a.HoldAsync(poolA, 4);
        Assert.Equal(6, (await NextSnapshotAsync(readerA).WaitAsync(TimeSpan.FromSeconds(1.5)))["totals"]!["available_capacity"]!.GetValue<long>());

        // B's stream stays quiet: its next snapshot does not come within three poll rounds.
        var quiet = NextSnapshotAsync(readerB);
        Assert.NotSame(quiet, await Task.WhenAny(quiet, Task.Delay(EventFeeds.PollInterval * 3)));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Viewers_coming_and_going_in_crowds_while_holds_are_placed_leave_no_poller_behind_and_a_new_viewer_sees_the_latest()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("churn", "Pool", 1000);
        var feeds = _app.Services.GetRequiredService<EventFeeds>();

        var holds = Task.WhenAll(Enumerable.Range(0, 40).Select(_ => t.HoldAsync(pool, 1)));
        await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
        {
            for (var round = 0; round < 3; round++)
            {
                using var response = await t.GetAsync("/events/churn/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                await NextSnapshotAsync(reader);
            }
        }));
        await holds;

        await WaitUntilAsync(() => feeds.Active == 0 && feeds.Polling == 0);
        using var last = await t.GetAsync("/events/churn/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var lastReader = new StreamReader(await last.Content.ReadAsStreamAsync());
        Assert.Equal(960, (await NextSnapshotAsync(lastReader))["totals"]!["available_capacity"]!.GetValue<long>());
        Assert.Equal((1, 1), (feeds.Active, feeds.Polling));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_idle_stream_sends_a_heartbeat_after_each_silence_of_the_configured_length_and_a_change_still_comes_as_a_snapshot()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:StreamHeartbeatMs"] = "300" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("idle", "Pool", 5);
        using var response = await t.GetAsync("/events/idle/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("snapshot", (await NextEventAsync(reader)).Name);

        var silence = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(("heartbeat", "{}"), await NextEventAsync(reader).WaitAsync(TimeSpan.FromSeconds(3)));
        }

        // Three silences of 300 ms each: not a burst of heartbeats (the first may follow the snapshot
        // by a little less than 300 ms, since the clock here starts once the snapshot was read).
        Assert.True(silence.Elapsed >= TimeSpan.FromMilliseconds(600), $"three heartbeats came within {silence.Elapsed}");

        await t.HoldAsync(pool, 2);
        var next = await NextSnapshotAsync(reader).WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(3, next["totals"]!["available_capacity"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    /// <summary>
    /// A shared poll that began before a new viewer's own first read, and finished after it, carries
    /// older numbers than the viewer was sent: the viewer must skip it rather than go back in time.
    /// </summary>
    [Fact]
    public async Task A_viewer_arriving_during_a_held_back_read_waits_for_a_read_begun_after_it_and_no_viewer_is_sent_an_older_snapshot_after_a_newer_one()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("stale", "Pool", 10);

        using var responseA = await t.GetAsync("/events/stale/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var readerA = new StreamReader(await responseA.Content.ReadAsStreamAsync());
        Assert.Equal(10, (await NextSnapshotAsync(readerA))["totals"]!["available_capacity"]!.GetValue<long>());

        // The shared poller's next read sees the first hold (7 available), then is held back before
        // it answers while a second hold commits.
        var proceed = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var held = _app.Faults.HoldNextSummaryRead(proceed.Task, release.Task);
        await t.HoldAsync(pool, 3);
        proceed.SetResult();
        await held.WaitAsync(TimeSpan.FromSeconds(5));
        await t.HoldAsync(pool, 2);

        // B arrives now: the read under way began before it, so B waits for it to end and is sent a
        // read of its own, begun after it arrived, which sees both holds.
        var connectB = t.GetAsync("/events/stale/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        await Assert.ThrowsAsync<TimeoutException>(() => connectB.WaitAsync(TimeSpan.FromSeconds(1)));
        release.SetResult();
        using var responseB = await connectB.WaitAsync(TimeSpan.FromSeconds(5));
        using var readerB = new StreamReader(await responseB.Content.ReadAsStreamAsync());
        Assert.Equal(5, (await NextSnapshotAsync(readerB))["totals"]!["available_capacity"]!.GetValue<long>());

        // A gets the held read (one state: the first hold counted in both totals and holds) and then
        // the current one, or only the current one when B's read was done before A was sent the held
        // one (a viewer is sent the latest); B, which has the current one, gets neither.
        var nextForA = await NextSnapshotAsync(readerA).WaitAsync(TimeSpan.FromSeconds(2));
        if (nextForA["totals"]!["available_capacity"]!.GetValue<long>() == 7)
        {
            Assert.Equal(1, nextForA["holds"]!["active"]!.GetValue<long>());
            nextForA = await NextSnapshotAsync(readerA).WaitAsync(TimeSpan.FromSeconds(2));
        }

        Assert.Equal(5, nextForA["totals"]!["available_capacity"]!.GetValue<long>());
        Assert.Equal(2, nextForA["holds"]!["active"]!.GetValue<long>());
        var quiet = NextSnapshotAsync(readerB);
        await Assert.ThrowsAsync<TimeoutException>(() => quiet.WaitAsync(TimeSpan.FromSeconds(1)));

        await t.HoldAsync(pool, 1);
        Assert.Equal(4, (await quiet.WaitAsync(TimeSpan.FromSeconds(2)))["totals"]!["available_capacity"]!.GetValue<long>());
        Assert.Equal(4, (await NextSnapshotAsync(readerA).WaitAsync(TimeSpan.FromSeconds(2)))["totals"]!["available_capacity"]!.GetValue<long>());
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Forty_viewers_arriving_together_while_a_read_is_held_back_share_one_read_of_the_event()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("crowd", "Pool", 10);
        using var first = await t.GetAsync("/events/crowd/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var firstReader = new StreamReader(await first.Content.ReadAsStreamAsync());
        await NextSnapshotAsync(firstReader);

        var proceed = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var held = _app.Faults.HoldNextSummaryRead(proceed.Task, release.Task);
        proceed.SetResult();
        await held.WaitAsync(TimeSpan.FromSeconds(5));
        await t.HoldAsync(pool, 4);

        // Forty arrive while the poller's read is held; once it answers, one read begun after all of
        // them serves them all (the poller may take one more turn meanwhile).
        var connects = Enumerable.Range(0, 40).Select(_ => t.GetAsync("/events/crowd/capacity/stream", HttpCompletionOption.ResponseHeadersRead)).ToList();
        await Task.Delay(500);
        var before = _app.Faults.HoldSummaryReads;
        release.SetResult();
        var responses = await Task.WhenAll(connects).WaitAsync(TimeSpan.FromSeconds(10));
        var reads = _app.Faults.HoldSummaryReads - before;
        try
        {
            foreach (var response in responses)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                Assert.Equal(6, (await NextSnapshotAsync(reader).WaitAsync(TimeSpan.FromSeconds(5)))["totals"]!["available_capacity"]!.GetValue<long>());
            }

            Assert.InRange(reads, 1, 2);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_stream_whose_feed_is_stopped_by_shutdown_ends_instead_of_spinning()
    {
        var t = (await _app.NewTenantAsync()).Client;
        await t.CreateCapacityAsync("closing", "Pool", 5);
        using var response = await t.GetAsync("/events/closing/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        await NextSnapshotAsync(reader);

        var feeds = _app.Services.GetRequiredService<EventFeeds>();
        feeds.Dispose();

        await Assert.ThrowsAsync<EndOfStreamException>(() => NextSnapshotAsync(reader).WaitAsync(TimeSpan.FromSeconds(2)));
        await WaitUntilAsync(() => feeds.Polling == 0);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 5 s.");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task The_stream_of_an_invalid_event_id_is_a_problem_not_a_stream()
    {
        var t = (await _app.NewTenantAsync()).Client;
        await Api.ProblemAsync(await t.GetAsync("/events/bad%20id/capacity/stream"), 400, "VALIDATION_ERROR");
    }

    /// <summary>The next Server-Sent Event, whatever its name.</summary>
    private static async Task<(string Name, string Data)> NextEventAsync(StreamReader reader)
    {
        string? eventName = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && eventName is not null)
            {
                return (eventName, line["data: ".Length..]);
            }
        }

        throw new EndOfStreamException("The stream ended.");
    }

    /// <summary>The next snapshot, past any heartbeats.</summary>
    internal static async Task<JsonObject> NextSnapshotAsync(StreamReader reader)
    {
        while (true)
        {
            var (name, data) = await NextEventAsync(reader);
            if (name == "snapshot")
            {
                return JsonNode.Parse(data)!.AsObject();
            }
        }
    }

    internal sealed record PromSample(string Name, string Labels, double Value);

    /// <summary>A strict enough parser: every non-comment line must be <c>name{labels} value</c>.</summary>
    internal static List<PromSample> ParsePrometheus(string text)
    {
        var samples = new List<PromSample>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches(@"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line);
                continue;
            }

            var match = System.Text.RegularExpressions.Regex.Match(line, @"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$");
            Assert.True(match.Success, $"not a Prometheus sample: {line}");
            samples.Add(new PromSample(match.Groups[1].Value, match.Groups[3].Value, double.Parse(match.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    private static double Sample(List<PromSample> samples, string name, params string[] labels) =>
        samples.Where(s => s.Name == name && labels.All(l => s.Labels.Contains(l, StringComparison.Ordinal))).Sum(s => s.Value);
}

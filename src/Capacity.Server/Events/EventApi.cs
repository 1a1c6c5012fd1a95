using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Events;

/// <summary>The tenant's events, and a live view of one for dashboards and `capacity watch`.</summary>
internal static class EventApi
{
    /// <summary>How many of the holds expiring soonest a snapshot lists.</summary>
    private const int ExpiringHoldsShown = 10;

    public static RouteGroupBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Events");
        group.MapGet("/events", List).Doc("List your events", "Every event id that has a capacity, oldest first.");
        group.MapGet("/events/{eventId}/capacity/stream", Stream).Doc(
            "Watch an event live (Server-Sent Events)",
            "`snapshot` events carry an EventStreamSnapshot as JSON (capacities, totals, holds expiring soonest), sent on connect and within "
            + "250 ms of any change; `heartbeat` events every 15 s. Viewers of one event share one poll of the store. A tenant may have "
            + "`Capacity:Quotas:MaxStreamsPerTenant` streams open on a node (429 TOO_MANY_STREAMS).",
            400, 429);
        return group;
    }

    private static async Task<JsonOk<EventListResponse>> List(TenantCaller caller, IReadStore store, CancellationToken ct)
    {
        var events = await store.GetEventsAsync(caller.TenantId, ct);
        return JsonResults.Ok(new EventListResponse([.. events.Select(e => new EventSummaryResponse(e.EventId, e.Capacities, e.CreatedAt))]));
    }

    /// <summary>
    /// Server-Sent Events: a <c>snapshot</c> on connect and whenever anything in it changes, and a
    /// <c>heartbeat</c> after 15 s of silence (<c>Capacity:StreamHeartbeatMs</c>) so proxies keep the connection open. Polling the store (not a
    /// signal from this node's engine) is deliberate: with several nodes, changes arrive through
    /// any of them. The polling is shared by all viewers of an event (<see cref="EventFeeds"/>).
    /// </summary>
    private static async Task<Results<ServerSentEventsResult<string>, ProblemHttpResult>> Stream(
        string eventId, TenantCaller caller, IReadStore store, EventFeeds feeds, ServerOptions options, TenantQuotas quotas, HttpContext context, CancellationToken ct)
    {
        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        // A slot per open stream, given back when the request ends however it ends (the response
        // disposes it, even when the stream is never started).
        if (quotas.TryOpenStream(caller.TenantId) is not { } slot)
        {
            context.Response.Headers.RetryAfter = "5";
            return ApiErrors.TooManyStreams(quotas.Options.MaxStreamsPerTenant);
        }

        context.Response.RegisterForDispose(slot);

        // Fail before the stream starts if the store is down: a problem, not an empty stream. The
        // viewer's own read also means it never waits for the shared poller's next round to start.
        var readStarted = Stopwatch.GetTimestamp();
        var first = await SnapshotJsonAsync(store, feeds.Json, feeds.Time.GetUtcNow(), caller.TenantId, eventId, ct);
        return TypedResults.ServerSentEvents(Snapshots(feeds, caller.TenantId, eventId, new Snapshot(first, readStarted), options.StreamHeartbeat, ct));
    }

    private static async IAsyncEnumerable<SseItem<string>> Snapshots(
        EventFeeds feeds, Guid tenantId, string eventId, Snapshot first, TimeSpan heartbeat, [EnumeratorCancellation] CancellationToken ct)
    {
        var feed = feeds.Join(tenantId, eventId);
        try
        {
            var last = first.Json;
            var lastSent = DateTime.UtcNow;
            yield return new SseItem<string>(last, "snapshot");
            // A stopped feed (only at shutdown, while this viewer still holds it) ends the stream
            // rather than leaving it to spin on a signal that has fired for good.
            while (!ct.IsCancellationRequested && !feed.Stopped)
            {
                var changed = feed.Changed;

                // A poll that began before this viewer's own read may be older than what it was sent;
                // the next one, at most a poll interval away, is not.
                if (feed.Latest is { } latest && latest.ReadStarted >= first.ReadStarted && latest.Json != last)
                {
                    last = latest.Json;
                    lastSent = DateTime.UtcNow;
                    yield return new SseItem<string>(last, "snapshot");
                    continue;
                }

                var heartbeatDue = heartbeat - (DateTime.UtcNow - lastSent);
                if (heartbeatDue <= TimeSpan.Zero)
                {
                    lastSent = DateTime.UtcNow;
                    yield return new SseItem<string>("{}", "heartbeat");
                    continue;
                }

                await WaitAsync(changed, heartbeatDue, ct);
            }
        }
        finally
        {
            feed.Leave();
        }
    }

    /// <summary>
    /// Until the feed changes, the heartbeat is due or the viewer goes away, whichever is first. The
    /// timeout and the cancellation are expected outcomes, so they are not thrown: a thrown exception
    /// per viewer per heartbeat is work for nothing.
    /// </summary>
    private static async Task WaitAsync(Task changed, TimeSpan timeout, CancellationToken ct) =>
        await changed.WaitAsync(timeout, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    internal static async Task<string> SnapshotJsonAsync(
        IReadStore store, JsonTypeInfo<EventStreamSnapshot> json, DateTimeOffset now, Guid tenantId, string eventId, CancellationToken ct)
    {
        // One read: the holds are counted in the same committed state as the capacities they charge.
        var snapshot = await EventSnapshot.ReadAsync(store, tenantId, eventId, ExpiringHoldsShown, now, ct);
        var holds = snapshot.Holds!;
        var expiring = holds.Soonest.Select(r => new ExpiringHoldResponse(r.Id, r.ExpiresAt, r.Items.Sum(i => i.Quantity), ItemsOf(r))).ToArray();
        var body = new EventStreamSnapshot(eventId, snapshot.Capacity, snapshot.Totals, new HoldsResponse(holds.Active, expiring));
        return JsonSerializer.Serialize(body, json);
    }

    // A hold keeps units added at another price as an item of their own, so one capacity may have
    // several items: a viewer wants one line per capacity, in the order the hold first named them.
    private static ExpiringHoldItemResponse[] ItemsOf(Reservation hold) =>
        [.. hold.Items.GroupBy(i => i.CapacityId).Select(g => new ExpiringHoldItemResponse(g.Key, g.Sum(i => i.Quantity)))];
}

using System.Buffers;
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
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Events;

/// <summary>The tenant's events, and a live view of one for dashboards and `capacity watch`.</summary>
internal static class EventApi
{
    /// <summary>How many of the holds expiring soonest a snapshot lists.</summary>
    private const int ExpiringHoldsShown = 10;

    public static RouteGroupBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Events");
        group.MapGet("/events", List).HeavyRead().Doc("List your events", "Every event id that has a capacity, oldest first.");
        group.MapGet("/events/{eventId}/capacity/stream", Stream).Doc(
            "Watch an event live (Server-Sent Events)",
            "`snapshot` events carry an EventStreamSnapshot as JSON (capacities, totals, holds expiring soonest), sent on connect and within "
            + "250 ms of any change (a snapshot over 2 MB less often, by its size); `heartbeat` events every 15 s. Viewers of one event share "
            + "one poll of the store. A tenant may have `Capacity:Quotas:MaxStreamsPerTenant` streams open on a node (429 TOO_MANY_STREAMS), "
            + "sent `Capacity:Quotas:StreamBytesPerSecondPerTenant` together: past it, fewer snapshots, each the latest.",
            400, 429);
        return group;
    }

    private static async Task<Results<JsonOk<EventListResponse>, ProblemHttpResult>> List(
        [FromQuery] string? after, [FromQuery] string? limit, TenantCaller caller, IReadStore store, ServerOptions options, CancellationToken ct)
    {
        var events = await store.GetEventsAsync(caller.TenantId, ct);
        return ListPages.TryCut(events, e => e.EventId, after, limit, options, "event", out var page, out var more) is { } bad
            ? bad
            : JsonResults.Ok(new EventListResponse([.. page.Select(e => new EventSummaryResponse(e.EventId, e.Capacities, e.CreatedAt))], more ? page[^1].EventId : null));
    }

    /// <summary>
    /// Server-Sent Events: a <c>snapshot</c> on connect and whenever anything in it changes, and a
    /// <c>heartbeat</c> after 15 s of silence (<c>Capacity:StreamHeartbeatMs</c>) so proxies keep the connection open. Polling the store (not a
    /// signal from this node's engine) is deliberate: with several nodes, changes arrive through
    /// any of them. The polling is shared by all viewers of an event (<see cref="EventFeeds"/>), each
    /// snapshot is written once for all of them, and a tenant's streams share a rate of bytes
    /// (<see cref="TenantQuotas.SpendStreamBytesAsync"/>).
    /// </summary>
    private static async Task<Results<EventStreamResult, ProblemHttpResult>> Stream(
        string eventId, TenantCaller caller, EventFeeds feeds, ServerOptions options, TenantQuotas quotas, Authenticator authenticator, HttpContext context, CancellationToken ct)
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

        // The viewer joins the event's feed for as long as its request lasts, and is sent a snapshot
        // read after it arrived (shared with the viewers arriving with it). Reading before the stream
        // starts means a store that is down answers a problem, not an empty stream.
        var arrived = Stopwatch.GetTimestamp();
        var feed = feeds.Join(caller.TenantId, eventId);
        context.Response.RegisterForDispose(new Viewer(feed));
        var first = await feed.ReadSinceAsync(arrived, ct);

        // A stream lasts as long as its viewer, hours for an organiser's screen: it ends once its
        // credential is no longer accepted (a key revoked or expired, the tenant disabled), as the
        // next request with it would be refused, rather than showing the tenant's data until it is closed.
        var authorization = context.Request.Headers.Authorization.ToString();
        async ValueTask<bool> StillAccepted(CancellationToken token) =>
            (await authenticator.IdentifyAsync(authorization, null, token)).Caller?.TenantId == caller.TenantId;

        return new EventStreamResult(Snapshots(feed, first, quotas, options.StreamHeartbeat, StillAccepted, ct));
    }

    private static async IAsyncEnumerable<SseItem<byte[]>> Snapshots(
        EventFeeds.Feed feed, Snapshot first, TenantQuotas quotas, TimeSpan heartbeat, Func<CancellationToken, ValueTask<bool>> stillAccepted,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var last = first;
        await quotas.SpendStreamBytesAsync(feed.TenantId, first.Utf8.Length, ct);
        var lastSent = DateTime.UtcNow;
        var lastChecked = lastSent;
        yield return new SseItem<byte[]>(first.Utf8, "snapshot");

        // A stopped feed (only at shutdown, while this viewer still holds it) ends the stream rather
        // than leaving it to spin on a signal that has fired for good.
        while (!ct.IsCancellationRequested && !feed.Stopped)
        {
            // As often as the node rechecks a remembered key (Authenticator.RecheckAfter): a revocation
            // ends the stream as soon as a request with the key would be refused.
            if (DateTime.UtcNow - lastChecked >= Authenticator.RecheckAfter)
            {
                lastChecked = DateTime.UtcNow;
                if (!await stillAccepted(ct))
                {
                    yield break;
                }
            }

            var changed = feed.Changed;
            if (feed.Latest is { } latest && latest.Version > last.Version)
            {
                // Over the tenant's share this waits, and then sends whatever is latest by then.
                await quotas.SpendStreamBytesAsync(feed.TenantId, latest.Utf8.Length, ct);
                last = feed.Latest is { } newer && newer.Version > latest.Version ? newer : latest;
                lastSent = DateTime.UtcNow;
                yield return new SseItem<byte[]>(last.Utf8, "snapshot");
                continue;
            }

            var heartbeatDue = heartbeat - (DateTime.UtcNow - lastSent);
            if (heartbeatDue <= TimeSpan.Zero)
            {
                lastSent = DateTime.UtcNow;
                yield return new SseItem<byte[]>(EmptyObject, "heartbeat");
                continue;
            }

            // At least a millisecond: the check above may have come due since it was passed.
            var checkDue = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (Authenticator.RecheckAfter - (DateTime.UtcNow - lastChecked)).Ticks));
            await WaitAsync(changed, checkDue < heartbeatDue ? checkDue : heartbeatDue, ct);
        }
    }

    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    /// <summary>Leaves the feed once, when the request ends however it ends.</summary>
    private sealed class Viewer(EventFeeds.Feed feed) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                feed.Leave();
            }
        }
    }

    /// <summary>
    /// Until the feed changes, the heartbeat is due or the viewer goes away, whichever is first. The
    /// timeout and the cancellation are expected outcomes, so they are not thrown: a thrown exception
    /// per viewer per heartbeat is work for nothing.
    /// </summary>
    private static async Task WaitAsync(Task changed, TimeSpan timeout, CancellationToken ct) =>
        await changed.WaitAsync(timeout, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    internal static async Task<byte[]> SnapshotUtf8Async(
        IReadStore store, JsonTypeInfo<EventStreamSnapshot> json, DateTimeOffset now, Guid tenantId, string eventId, CancellationToken ct)
    {
        // One read: the holds are counted in the same committed state as the capacities they charge.
        var snapshot = await EventSnapshot.ReadAsync(store, tenantId, eventId, ExpiringHoldsShown, now, ct);
        var holds = snapshot.Holds!;
        var expiring = new ExpiringHoldResponse[holds.Soonest.Count];
        HashSet<Guid>? own = null;
        for (var h = 0; h < expiring.Length; h++)
        {
            var hold = holds.Soonest[h];
            var items = ItemsOf(hold);
            if (items.Length > 1)
            {
                // A cart over several events is listed under each: each event's viewer sees its own tickets.
                own ??= [.. snapshot.Capacity.Select(c => c.Id)];
                items = [.. items.Where(i => own.Contains(i.CapacityId))];
            }

            expiring[h] = new ExpiringHoldResponse(hold.Id, hold.ExpiresAt, items.Sum(i => i.Quantity), items);
        }

        var body = new EventStreamSnapshot(eventId, snapshot.Capacity, snapshot.Totals, new HoldsResponse(holds.Active, expiring));
        // Written into a buffer of its own rather than one from the shared array pool (which
        // SerializeToUtf8Bytes rents): the pool would keep a big event's megabytes per thread.
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using (var writer = new Utf8JsonWriter(buffer, JsonBody.WriterOptions(json.Options)))
        {
            JsonSerializer.Serialize(writer, body, json);
        }

        return buffer.WrittenSpan.ToArray();
    }

    // A hold keeps units added at another price as an item of their own, so one capacity may have
    // several items: a viewer wants one line per capacity, in the order the hold first named them.
    private static ExpiringHoldItemResponse[] ItemsOf(Reservation hold) =>
        [.. hold.Items.GroupBy(i => i.CapacityId).Select(g => new ExpiringHoldItemResponse(g.Key, g.Sum(i => i.Quantity)))];
}

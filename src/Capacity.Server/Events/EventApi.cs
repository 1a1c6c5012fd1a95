using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Capacities;
using Capacity.Server.Docs;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Events;

public sealed record EventSummaryResponse(string EventId, int Capacities, DateTimeOffset CreatedAt);

public sealed record EventListResponse(EventSummaryResponse[] Events);

public sealed record ExpiringHoldResponse(Guid ReservationId, DateTimeOffset ExpiresAt, int Quantity);

public sealed record HoldsResponse(long Active, ExpiringHoldResponse[] Expiring);

/// <summary>What the live stream sends: the event's capacities, totals and holds about to expire.</summary>
public sealed record EventStreamSnapshot(
    string EventId,
    CapacityResponse[] Capacity,
    CapacityTotalsResponse Totals,
    HoldsResponse Holds);

/// <summary>The tenant's events, and a live view of one for dashboards and `capacity watch`.</summary>
public static class EventApi
{
    /// <summary>How often the stream looks for changes: the dashboard must follow within a second.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);

    public static RouteGroupBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Events");
        group.MapGet("/events", List).Doc("List your events", "Every event id that has a capacity, oldest first.");
        group.MapGet("/events/{eventId}/capacity/stream", Stream).Doc(
            "Watch an event live (Server-Sent Events)",
            "`snapshot` events carry an EventStreamSnapshot as JSON (capacities, totals, holds expiring soonest), sent on connect and within "
            + "250 ms of any change; `heartbeat` events every 15 s.",
            400);
        return group;
    }

    private static async Task<JsonOk<EventListResponse>> List(TenantCaller caller, ICapacityStore store, CancellationToken ct)
    {
        var events = await store.GetEventsAsync(caller.TenantId, ct);
        return JsonResults.Ok(new EventListResponse([.. events.Select(e => new EventSummaryResponse(e.EventId, e.Capacities, e.CreatedAt))]));
    }

    /// <summary>
    /// Server-Sent Events: a <c>snapshot</c> on connect and whenever anything in it changes, and a
    /// <c>heartbeat</c> every 15 s so proxies keep the connection open. Polling the store (not a
    /// signal from this node's engine) is deliberate: with several nodes, changes arrive through
    /// any of them.
    /// </summary>
    private static async Task<Results<ServerSentEventsResult<string>, ProblemHttpResult>> Stream(
        string eventId, TenantCaller caller, ICapacityStore store, CancellationToken ct)
    {
        if (!Rules.IsValidEventId(eventId))
        {
            return CapacityApi.InvalidEventId();
        }

        // Fail before the stream starts if the store is down: a problem, not an empty stream.
        var first = await SnapshotJsonAsync(store, caller.TenantId, eventId, ct);
        return TypedResults.ServerSentEvents(Snapshots(store, caller.TenantId, eventId, first, ct));
    }

    private static async IAsyncEnumerable<SseItem<string>> Snapshots(
        ICapacityStore store, Guid tenantId, string eventId, string first, [EnumeratorCancellation] CancellationToken ct)
    {
        var last = first;
        var lastSent = DateTime.UtcNow;
        yield return new SseItem<string>(first, "snapshot");
        using var timer = new PeriodicTimer(PollInterval);
        while (await WaitAsync(timer, ct))
        {
            string current;
            try
            {
                current = await SnapshotJsonAsync(store, tenantId, eventId, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store is unavailable: keep the stream and try again; the client sees no update.
                continue;
            }

            if (current != last)
            {
                last = current;
                lastSent = DateTime.UtcNow;
                yield return new SseItem<string>(current, "snapshot");
            }
            else if (DateTime.UtcNow - lastSent > HeartbeatInterval)
            {
                lastSent = DateTime.UtcNow;
                yield return new SseItem<string>("{}", "heartbeat");
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<string> SnapshotJsonAsync(ICapacityStore store, Guid tenantId, string eventId, CancellationToken ct)
    {
        var snapshot = await EventSnapshot.ReadAsync(store, tenantId, eventId, ct);
        var ids = snapshot.Capacity.Select(c => c.Id).ToArray();
        var holds = ids.Length == 0 ? new HoldSummary(0, []) : await store.GetActiveHoldsAsync(tenantId, ids, 10, ct);
        var expiring = holds.Soonest.Select(r => new ExpiringHoldResponse(r.Id, r.ExpiresAt, r.Items.Sum(i => i.Quantity))).ToArray();
        var body = new EventStreamSnapshot(eventId, snapshot.Capacity, snapshot.Totals, new HoldsResponse(holds.Active, expiring));
        return JsonSerializer.Serialize(body, AppJson.Default.EventStreamSnapshot);
    }
}

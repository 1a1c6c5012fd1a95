using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Stats;

/// <summary>
/// The organiser's figures: tickets held, sold and given back over time, conversion, time to confirm
/// and a sell-out forecast. Read from per-minute figures the engine keeps in the batch that moves the
/// tickets (migration 012), so an answer costs a few hundred rows however long the ledger is.
/// </summary>
internal static class StatsApi
{
    public static RouteGroupBuilder MapStats(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Stats");
        group.MapGet("/events/{eventId}/stats", Get).HeavyRead().Doc(
            "An event's sales over time",
            "Per bucket (`bucket` 1m, 5m, 1h or 1d; default 1m) from `from` to `to` (RFC 3339; default the last 60 buckets up to now; at most 1,440 buckets): "
            + "tickets held, confirmed, released, expired, cancelled and reclaimed, net sold, and the tickets holding and sold at the bucket's end. Over the range: "
            + "the peak tickets sold in a minute, conversion (confirmed ÷ confirmed, released and expired), the median and 95th percentile time from hold to confirm, "
            + "and a sell-out forecast at the rate of the last ten minutes. With `capacity_id`, that capacity and every capacity of the event below it.",
            400, 404);
        return group;
    }

    private static async Task<Results<JsonOk<StatsResponse>, ProblemHttpResult>> Get(
        string eventId, [FromQuery] string? from, [FromQuery] string? to, [FromQuery] string? bucket, [FromQuery(Name = "capacity_id")] string? capacityText, TenantCaller caller, IReadStore store, TimeProvider time, CancellationToken ct)
    {
        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        DateTimeOffset fromAt = default, toAt = default;
        if ((from is not null && !Instant.TryParse(from, out fromAt)) || (to is not null && !Instant.TryParse(to, out toAt)))
        {
            return ApiErrors.Validation(from is not null && !Instant.TryParse(from, out _) ? "from" : "to", "from and to " + Instant.Rule);
        }

        Guid? capacityId = null;
        if (capacityText is not null)
        {
            if (!Guid.TryParse(capacityText, out var parsed))
            {
                return ApiErrors.Validation("capacity_id", "capacity_id must be a capacity's id (a UUID).");
            }

            capacityId = parsed;
        }

        var now = time.GetUtcNow();
        var (range, field, error) = StatsRange.Create(from is null ? null : fromAt, to is null ? null : toAt, bucket, now);
        if (range is null)
        {
            return ApiErrors.Validation(field!, error!);
        }

        // The event's capacities and their ancestors (which may be other events'), as one committed state.
        var read = await store.ReadEventAsync(caller.TenantId, eventId, soonestHolds: null, ct);
        var own = read.Capacities.Where(n => n.EventId == eventId).ToList();
        var lookup = new NodeLookup(read.Capacities);
        IReadOnlyCollection<Guid>? capacities = null;
        SaleLeft left;
        if (capacityId is { } id)
        {
            if (own.Find(n => n.Id == id) is not { } capacity)
            {
                return ApiErrors.CapacityNotFound(id.ToString());
            }

            capacities = Below(own, id);
            left = SalesStats.LeftToSell([capacity], lookup, now);
        }
        else
        {
            // Its top capacities (no parent in the event) hold everything below them: each ticket counts once.
            var ids = own.Select(n => n.Id).ToHashSet();
            left = SalesStats.LeftToSell(own.Where(n => !Array.Exists(n.ParentIds, ids.Contains)), lookup, now);
        }

        var report = await SalesReports.ReadAsync(store, caller.TenantId, eventId, capacities, range, left, now, ct);
        return JsonResults.Ok(StatsResponse.Of(eventId, capacityId, report));
    }

    /// <summary>The capacity and every capacity of the event below it: a pool's figures are its sections'.</summary>
    private static HashSet<Guid> Below(List<CapacityNode> capacities, Guid id)
    {
        var below = new HashSet<Guid> { id };
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var c in capacities)
            {
                if (!below.Contains(c.Id) && Array.Exists(c.ParentIds, below.Contains))
                {
                    below.Add(c.Id);
                    grew = true;
                }
            }
        }

        return below;
    }
}

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

        var snapshot = await EventSnapshot.ReadAsync(store, caller.TenantId, eventId, soonestHolds: null, now, ct);
        IReadOnlyCollection<Guid>? capacities = null;
        long? available = OnSale(snapshot.Capacity);
        if (capacityId is { } id)
        {
            if (Array.Find(snapshot.Capacity, c => c.Id == id) is not { } capacity)
            {
                return ApiErrors.CapacityNotFound(id.ToString());
            }

            capacities = Below(snapshot.Capacity, id);
            available = capacity.IsActive ? capacity.AvailableCapacity : 0;
        }

        var report = await SalesReports.ReadAsync(store, caller.TenantId, eventId, capacities, range, available, now, ct);
        return JsonResults.Ok(StatsResponse.Of(eventId, capacityId, report));
    }

    /// <summary>
    /// What the event has left to sell: the effective availability of its open top capacities (those
    /// with no parent in the event; a closed one sells nothing until it opens), or null when one of them
    /// is unlimited all the way up and so it cannot sell out.
    /// </summary>
    private static long? OnSale(CapacityResponse[] capacities)
    {
        var ids = capacities.Select(c => c.Id).ToHashSet();
        var left = 0L;
        foreach (var root in capacities.Where(c => c.IsActive && !Array.Exists(c.ParentIds, ids.Contains)))
        {
            if (root.AvailableCapacity is not { } available)
            {
                return null;
            }

            left += available;
        }

        return left;
    }

    /// <summary>The capacity and every capacity of the event below it: a pool's figures are its sections'.</summary>
    private static HashSet<Guid> Below(CapacityResponse[] capacities, Guid id)
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

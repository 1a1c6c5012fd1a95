using Capacity.Core;
using Capacity.Engine;

namespace Capacity.Server.Views;

/// <summary>
/// One event as the API shows it: its capacities with effective availability, and the totals over
/// its roots, where each pool counts once (the seed summed every section and counted shared pools
/// twice), and for the live stream its active holds. Shared by the list, the totals and the live
/// stream so they can never disagree; read in one transaction of the store
/// (<see cref="IReadStore.ReadEventAsync"/>), so that its counters, allocations and holds are one
/// committed state and never a mix of before and after a batch.
/// </summary>
/// <param name="Holds">The active holds on the event's capacities, when they were asked for; null otherwise.</param>
internal sealed record EventSnapshot(string EventId, CapacityResponse[] Capacity, CapacityTotalsResponse Totals, HoldSummary? Holds)
{
    /// <param name="soonestHolds">
    /// Also read the active holds, with this many of those that expire soonest (the stream); null reads none.
    /// </param>
    public static async Task<EventSnapshot> ReadAsync(IReadStore store, Guid tenantId, string eventId, int? soonestHolds, DateTimeOffset now, CancellationToken ct)
    {
        // The store reads the event's allocations only when one of its capacities has had any: an
        // event without allocations reads exactly what it read before they existed.
        var read = await store.ReadEventAsync(tenantId, eventId, soonestHolds, ct);
        var lookup = new NodeLookup(read.Capacities);
        var scratch = new List<CapacityNode>();
        var own = read.Capacities.Where(n => n.EventId == eventId).ToList();
        var allocations = ByCapacity(read.Allocations);
        var views = own.Select(n => CapacityResponse.From(
            Graph.View(n, lookup, scratch),
            allocations is not null && n.AllocationCount > 0 ? allocations.GetValueOrDefault(n.Id) ?? [] : null,
            now)).ToArray();

        long total = 0, available = 0, reserved = 0, sold = 0;
        var hasUnlimited = false;
        foreach (var root in own.Where(n => n.ParentIds.Length == 0))
        {
            reserved += root.Reserved;
            sold += root.Sold;
            if (root.Total is { } t)
            {
                total += t;
                available += root.Headroom!.Value;
            }
            else
            {
                hasUnlimited = true;
            }
        }

        return new EventSnapshot(eventId, views, new CapacityTotalsResponse(eventId, total, available, reserved, sold, hasUnlimited), read.Holds);
    }

    /// <summary>The event's allocations by capacity; null when none were read.</summary>
    private static Dictionary<Guid, List<Allocation>>? ByCapacity(IReadOnlyList<Allocation>? allocations)
    {
        if (allocations is null)
        {
            return null;
        }

        var byCapacity = new Dictionary<Guid, List<Allocation>>();
        foreach (var allocation in allocations)
        {
            if (!byCapacity.TryGetValue(allocation.CapacityId, out var list))
            {
                byCapacity[allocation.CapacityId] = list = [];
            }

            list.Add(allocation);
        }

        return byCapacity;
    }
}

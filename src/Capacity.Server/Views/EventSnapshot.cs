using Capacity.Core;
using Capacity.Engine;

namespace Capacity.Server.Views;

/// <summary>
/// One event as the API shows it: its capacities with effective availability, and the totals over
/// its roots, where each pool counts once (the seed summed every section and counted shared pools
/// twice). Shared by the list, the totals and the live stream so they can never disagree.
/// </summary>
internal sealed record EventSnapshot(string EventId, CapacityResponse[] Capacity, CapacityTotalsResponse Totals)
{
    public static async Task<EventSnapshot> ReadAsync(IReadStore store, Guid tenantId, string eventId, CancellationToken ct)
    {
        var nodes = await store.GetEventCapacitiesAsync(tenantId, eventId, ct);
        var lookup = new NodeLookup(nodes);
        var scratch = new List<CapacityNode>();
        var own = nodes.Where(n => n.EventId == eventId).ToList();
        var allocations = await AllocationsByCapacityAsync(store, tenantId, eventId, own, ct);
        var views = own.Select(n => CapacityResponse.From(
            Graph.View(n, lookup, scratch),
            allocations is not null && n.AllocationCount > 0 ? allocations.GetValueOrDefault(n.Id) ?? [] : null)).ToArray();

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

        return new EventSnapshot(eventId, views, new CapacityTotalsResponse(eventId, total, available, reserved, sold, hasUnlimited));
    }

    /// <summary>
    /// The event's allocations by capacity, in one read, and only when one of its capacities has had
    /// any: an event without allocations reads exactly what it read before they existed.
    /// </summary>
    private static async Task<Dictionary<Guid, List<Allocation>>?> AllocationsByCapacityAsync(
        IReadStore store, Guid tenantId, string eventId, List<CapacityNode> own, CancellationToken ct)
    {
        if (!own.Exists(n => n.AllocationCount > 0))
        {
            return null;
        }

        var byCapacity = new Dictionary<Guid, List<Allocation>>();
        foreach (var allocation in await store.GetEventAllocationsAsync(tenantId, eventId, ct))
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

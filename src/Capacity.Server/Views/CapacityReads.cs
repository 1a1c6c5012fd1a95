using Capacity.Core;
using Capacity.Engine;

namespace Capacity.Server.Views;

/// <summary>A capacity row as a read loaded it, with its effective availability.</summary>
internal readonly record struct LoadedCapacity(CapacityNode Node, CapacityView View);

/// <summary>Reads of one capacity as last committed, for every feature that names a capacity in its route.</summary>
internal static class CapacityReads
{
    /// <summary>The capacity with its effective availability, or null when the id is not a capacity of this tenant.</summary>
    public static async Task<CapacityView?> Load(string id, Guid tenantId, IReadStore store, CancellationToken ct) =>
        (await Find(id, tenantId, store, ct))?.View;

    /// <summary>The row and its view, or null when the id is not a capacity of this tenant.</summary>
    public static async Task<LoadedCapacity?> Find(string id, Guid tenantId, IReadStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var capacityId))
        {
            return null;
        }

        var nodes = await store.GetCapacitiesAsync(tenantId, [capacityId], ct);
        var node = nodes.FirstOrDefault(n => n.Id == capacityId);
        return node is null ? null : new LoadedCapacity(node, Graph.View(node, new NodeLookup(nodes)));
    }

    /// <summary>
    /// The capacity as its own route shows it: with its allocations when it has had any, which is the
    /// only case that reads them.
    /// </summary>
    public static async Task<CapacityResponse?> Show(string id, Guid tenantId, IReadStore store, DateTimeOffset now, CancellationToken ct)
    {
        if (await Find(id, tenantId, store, ct) is not { } loaded)
        {
            return null;
        }

        var allocations = loaded.Node.AllocationCount > 0 ? await store.GetAllocationsAsync(tenantId, loaded.Node.Id, ct) : null;
        return CapacityResponse.From(loaded.View, allocations, now);
    }
}

/// <summary>A lookup over rows a read loaded.</summary>
internal sealed class NodeLookup(IEnumerable<CapacityNode> nodes) : ICapacityLookup
{
    private readonly Dictionary<Guid, CapacityNode> _byId = nodes.ToDictionary(n => n.Id);

    public CapacityNode? FindCapacity(Guid id) => _byId.GetValueOrDefault(id);
}

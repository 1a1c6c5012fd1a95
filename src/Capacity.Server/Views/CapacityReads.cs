using Capacity.Core;
using Capacity.Engine;

namespace Capacity.Server.Views;

/// <summary>Reads of one capacity as last committed, for every feature that names a capacity in its route.</summary>
internal static class CapacityReads
{
    /// <summary>The capacity with its effective availability, or null when the id is not a capacity of this tenant.</summary>
    public static async Task<CapacityView?> Load(string id, Guid tenantId, IReadStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var capacityId))
        {
            return null;
        }

        var nodes = await store.GetCapacitiesAsync(tenantId, [capacityId], ct);
        var node = nodes.FirstOrDefault(n => n.Id == capacityId);
        return node is null ? null : Graph.View(node, new NodeLookup(nodes));
    }
}

/// <summary>A lookup over rows a read loaded.</summary>
internal sealed class NodeLookup(IEnumerable<CapacityNode> nodes) : ICapacityLookup
{
    private readonly Dictionary<Guid, CapacityNode> _byId = nodes.ToDictionary(n => n.Id);

    public CapacityNode? FindCapacity(Guid id) => _byId.GetValueOrDefault(id);
}

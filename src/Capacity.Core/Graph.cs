using System.Runtime.CompilerServices;

namespace Capacity.Core;

/// <summary>The capacity graph: ancestors, effective availability and depth.</summary>
public static class Graph
{
    /// <summary>
    /// Fills <paramref name="into"/> with <paramref name="node"/> and every ancestor, each once, even
    /// when reachable by several paths (a weekend pass whose day pools share a venue pool charges the
    /// venue once). Closures are a handful of nodes, so a list beats a hash set here.
    /// </summary>
    public static void Closure(CapacityNode node, ICapacityLookup lookup, List<CapacityNode> into)
    {
        into.Clear();
        into.Add(node);
        for (var i = 0; i < into.Count; i++)
        {
            foreach (var parentId in into[i].ParentIds)
            {
                if (Contains(into, parentId))
                {
                    continue;
                }

                var parent = lookup.FindCapacity(parentId)
                    ?? throw new InvalidOperationException($"Capacity {into[i].Id} names parent {parentId}, which was not loaded.");
                into.Add(parent);
            }
        }
    }

    /// <summary>
    /// The minimum headroom over the node and its limited ancestors, floored at 0; null when all are
    /// unlimited. Unlimited never wins the minimum (seed 004's MIN(current_value) returned -1 there).
    /// </summary>
    public static long? Available(CapacityNode node, ICapacityLookup lookup, List<CapacityNode> scratch)
    {
        Closure(node, lookup, scratch);
        return MinHeadroom(scratch);
    }

    private static long? MinHeadroom(List<CapacityNode> closure)
    {
        long? min = null;
        foreach (var n in closure)
        {
            if (n.Headroom is { } h && (min is null || h < min))
            {
                min = h;
            }
        }

        return min;
    }

    public static long? Available(CapacityNode node, ICapacityLookup lookup) => Available(node, lookup, []);

    /// <summary>Like <see cref="Available(CapacityNode, ICapacityLookup, List{CapacityNode})"/>, but counting only what is held or sold: units owed to waiting entries are left in.</summary>
    public static long? Unheld(CapacityNode node, ICapacityLookup lookup, List<CapacityNode> scratch)
    {
        Closure(node, lookup, scratch);
        long? min = null;
        foreach (var n in scratch)
        {
            if (n.Free is { } f && (min is null || f < min))
            {
                min = f;
            }
        }

        return min;
    }

    /// <summary>Nodes on the longest path from <paramref name="node"/> to a root, the node included.</summary>
    internal static int Depth(CapacityNode node, ICapacityLookup lookup) => Depth(node, lookup, []);

    private static int Depth(CapacityNode node, ICapacityLookup lookup, Dictionary<Guid, int> memo)
    {
        if (memo.TryGetValue(node.Id, out var known))
        {
            return known;
        }

        var deepest = 0;
        foreach (var parentId in node.ParentIds)
        {
            var parent = lookup.FindCapacity(parentId)
                ?? throw new InvalidOperationException($"Capacity {node.Id} names parent {parentId}, which was not loaded.");
            deepest = Math.Max(deepest, Depth(parent, lookup, memo));
        }

        memo[node.Id] = deepest + 1;
        return deepest + 1;
    }

    public static CapacityView View(CapacityNode node, ICapacityLookup lookup, List<CapacityNode> scratch)
    {
        Closure(node, lookup, scratch);
        return ViewOf(node, scratch);
    }

    /// <summary>The view of a node whose closure the caller has just computed into <paramref name="closure"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static CapacityView ViewOf(CapacityNode node, List<CapacityNode> closure) => new(
        node.Id,
        node.EventId,
        node.ScheduleId,
        node.SectionName,
        node.SectionCode,
        node.Mode,
        node.Total,
        MinHeadroom(closure),
        node.Reserved,
        node.Sold,
        node.IsActive,
        node.ParentIds,
        node.CreatedAt,
        node.UpdatedAt,
        node.Waitlist,
        node.OwedUnits,
        node.WaitingUnits,
        node.OfferedUnits,
        node.Sale,
        SaleGate.Above(closure));

    public static CapacityView View(CapacityNode node, ICapacityLookup lookup) => View(node, lookup, []);

    private static bool Contains(List<CapacityNode> nodes, Guid id)
    {
        foreach (var n in nodes)
        {
            if (n.Id == id)
            {
                return true;
            }
        }

        return false;
    }
}

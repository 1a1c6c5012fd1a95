using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Capacity.Core;

/// <summary>
/// Where "never oversell" is asserted while deciding. Each method checks a post-condition of a
/// decision and throws <see cref="InvariantViolationException"/> when it does not hold. The calls
/// exist in Debug builds only ([Conditional]): Release compiles them away, arguments included. A
/// check that passes allocates nothing, because tests run in Debug and <c>WorkingSetTests</c>
/// counts bytes: no LINQ, no closures, and a message is formatted only when a check fails.
/// <see cref="Invariants"/> checks the same rules over a whole store, after the fact.
/// </summary>
internal static class CoreAssert
{
    /// <summary>Counters are never negative, and a limited node never holds more than its total and overbooking allowance.</summary>
    [Conditional("DEBUG")]
    public static void WithinBounds(CapacityNode node)
    {
        if (node.Reserved < 0 || node.Sold < 0 || (node.Ceiling is { } ceiling && node.Reserved + node.Sold > ceiling))
        {
            Fail($"Capacity {node.Id}: reserved {node.Reserved}, sold {node.Sold}, total {node.Total?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited"}, "
                + $"overbook limit {node.OverbookLimit}; counters must not be negative, and reserved + sold must not exceed a total and its overbooking allowance.");
        }
    }

    /// <summary>Every node the last decision charged (<see cref="WorkingSet.Demand"/>) is within bounds.</summary>
    [Conditional("DEBUG")]
    public static void DemandWithinBounds(WorkingSet set)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            WithinBounds(charge.Node);
        }
    }

    /// <summary>
    /// A new hold's items add up to what is charged to their own nodes: each item's node is charged the
    /// quantity of every item of the hold whose closure reaches it (its own, and any item on a
    /// descendant), no more and no less. Holds whose items are shared between holds rely on this.
    /// </summary>
    [Conditional("DEBUG")]
    public static void ItemsAddUpToDemand(WorkingSet set, in Reservation reservation)
    {
#if DEBUG
        var items = reservation.Items;
        var closure = set.AssertScratch;
        for (var i = 0; i < items.Length; i++)
        {
            var own = Loaded(set, items[i].CapacityId, reservation.Id);
            long expected = 0;
            for (var j = 0; j < items.Length; j++)
            {
                Graph.Closure(Loaded(set, items[j].CapacityId, reservation.Id), set, closure);
                if (Contains(closure, own))
                {
                    expected += items[j].Quantity;
                }
            }

            var charged = ChargedTo(set.Demand, own);
            if (charged != expected)
            {
                Fail($"Reservation {reservation.Id}: its items put {expected} on capacity {own.Id}, but {charged} is charged to it.");
            }
        }
#endif
    }

    /// <summary>A condition a decision relies on; the message is a constant, so a check that passes costs nothing.</summary>
    [Conditional("DEBUG")]
    public static void That(bool condition, string message)
    {
        if (!condition)
        {
            Fail(message);
        }
    }

    [DoesNotReturn]
    public static void Fail(string message) => throw new InvariantViolationException(message);

#if DEBUG
    private static CapacityNode Loaded(WorkingSet set, Guid capacityId, Guid reservationId)
    {
        var node = set.FindCapacity(capacityId);
        if (node is null)
        {
            Fail($"Reservation {reservationId} names capacity {capacityId}, which is not loaded.");
        }

        return node;
    }

    private static bool Contains(List<CapacityNode> nodes, CapacityNode node)
    {
        foreach (var candidate in nodes)
        {
            if (ReferenceEquals(candidate, node))
            {
                return true;
            }
        }

        return false;
    }

    private static long ChargedTo(List<(CapacityNode Node, long Quantity)> demand, CapacityNode node)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(demand))
        {
            if (ReferenceEquals(charge.Node, node))
            {
                return charge.Quantity;
            }
        }

        return 0;
    }
#endif
}

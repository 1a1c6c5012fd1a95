using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capacity.Core;

// Allocations: blocks of a capacity set aside. Cold commands, written plainly; the hold path's part
// (drawing from an allocation, and where its units go when a hold ends) lives with the holds.
public static partial class Decider
{
    private static Outcome CreateAllocation(WorkingSet set, CreateAllocation command, DateTimeOffset now, CoreLimits limits)
    {
        if (CheckAllocationName(command.Name, null, limits) is { } badName)
        {
            return badName;
        }

        if (command.Size < 1 || command.Size > limits.MaxTotalCapacity)
        {
            return new Outcome(OutcomeCode.InvalidQuantity, $"quantity must be between 1 and {limits.MaxTotalCapacity}.", "quantity");
        }

        if (command.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return Outcome.Invalid("expires_at", "expires_at must be in the future.");
        }

        var node = set.FindCapacity(command.CapacityId);
        if (node is null || node.TenantId != command.TenantId)
        {
            return Answers.CapacityNotFound(command.CapacityId);
        }

        if (set.FindAllocation(command.Id) is not null)
        {
            return Outcome.Invalid("id", $"Allocation {command.Id} already exists.");
        }

        // Set aside exactly as a hold of that size would be: refused when any limited node lacks room.
        // An inactive capacity may still set units aside: blocks are carved out before an on-sale opens.
        if (ShortOf(set, node, command.Size) is { } refusal)
        {
            return refusal;
        }

        var allocation = new Allocation
        {
            Id = command.Id,
            TenantId = command.TenantId,
            CapacityId = node.Id,
            EventId = node.EventId,
            Name = command.Name,
            Size = command.Size,
            ExpiresAt = command.ExpiresAt,
            Status = AllocationStatus.Open,
            CreatedAt = now,
            UpdatedAt = now,
        };
        set.AddNew(allocation);
        node.AllocationCount++;
        ChargeClosure(set, node, allocation.Id, LedgerKind.Allocate, command.Size, now);
        return Answers.OfAllocation(allocation);
    }

    private static Outcome UpdateAllocation(WorkingSet set, UpdateAllocation command, DateTimeOffset now, CoreLimits limits)
    {
        if (FindOpenAllocation(set, command.TenantId, command.Id, now, out var allocation) is { } missingOrClosed)
        {
            return missingOrClosed;
        }

        var name = command.Name.Or(allocation.Name);
        if (CheckAllocationName(name, allocation.Name, limits) is { } badName)
        {
            return badName;
        }

        var size = command.Size.IsSet ? command.Size.Value : allocation.Size;
        if (size < 0 || size > limits.MaxTotalCapacity)
        {
            return new Outcome(OutcomeCode.InvalidQuantity, $"quantity must be between 0 and {limits.MaxTotalCapacity}.", "quantity");
        }

        var expiresAt = command.ExpiresAt.Or(allocation.ExpiresAt);
        if (command.ExpiresAt.IsSet && expiresAt is { } at && at <= now)
        {
            return Outcome.Invalid("expires_at", "expires_at must be in the future.");
        }

        var committed = allocation.Held + allocation.Sold;
        if (size < committed)
        {
            return new Outcome(
                OutcomeCode.AllocationBelowCommitted,
                $"quantity {size} is below the {committed} tickets of allocation {allocation.Id} already held or sold ({allocation.Held} held, {allocation.Sold} sold).",
                "quantity") { Allocation = AllocationView.Of(allocation) };
        }

        var node = set.FindCapacity(allocation.CapacityId)!;
        var delta = size - allocation.Size;
        if (delta > 0 && ShortOf(set, node, delta) is { } refusal)
        {
            return refusal;
        }

        if (name == allocation.Name && delta == 0 && expiresAt == allocation.ExpiresAt)
        {
            return Answers.OfAllocation(allocation, OutcomeCode.Unchanged);
        }

        if (delta != 0)
        {
            ChargeClosure(set, node, allocation.Id, delta > 0 ? LedgerKind.Allocate : LedgerKind.Deallocate, delta, now);
        }

        allocation.Name = name;
        allocation.Size = size;
        allocation.ExpiresAt = expiresAt;
        allocation.UpdatedAt = now;
        set.Touch(allocation);
        return Answers.OfAllocation(allocation);
    }

    private static Outcome ReleaseAllocation(WorkingSet set, ReleaseAllocation command, DateTimeOffset now, CoreLimits limits)
    {
        if (command.Quantity < 1 || command.Quantity > limits.MaxTotalCapacity)
        {
            return new Outcome(OutcomeCode.InvalidQuantity, $"quantity must be between 1 and {limits.MaxTotalCapacity}.", "quantity");
        }

        if (FindOpenAllocation(set, command.TenantId, command.Id, now, out var allocation) is { } missingOrClosed)
        {
            return missingOrClosed;
        }

        if (command.Quantity > allocation.Idle)
        {
            return Answers.AllocationShort(allocation, command.Quantity);
        }

        GiveBack(set, allocation, command.Quantity, now);
        return Answers.OfAllocation(allocation);
    }

    private static Outcome CloseAllocation(WorkingSet set, CloseAllocation command, DateTimeOffset now)
    {
        var allocation = set.FindAllocation(command.Id);
        if (allocation is null || allocation.TenantId != command.TenantId)
        {
            return Answers.AllocationNotFound(command.Id);
        }

        if (allocation.Status == AllocationStatus.Closed)
        {
            return Answers.OfAllocation(allocation, OutcomeCode.Unchanged);
        }

        Close(set, allocation, now);
        return Answers.OfAllocation(allocation);
    }

    private static Outcome CloseDueAllocations(WorkingSet set, CloseDueAllocations command, DateTimeOffset now)
    {
        var count = 0;
        foreach (var id in command.AllocationIds)
        {
            // Another node (or an earlier batch) may have closed it already: then there is nothing to give back.
            if (set.FindAllocation(id) is { Status: AllocationStatus.Open, ExpiresAt: { } expiresAt } allocation && expiresAt <= now)
            {
                Close(set, allocation, now);
                count++;
            }
        }

        return new Outcome(OutcomeCode.Ok) { Count = count };
    }

    private static void Close(WorkingSet set, Allocation allocation, DateTimeOffset now)
    {
        GiveBack(set, allocation, allocation.Idle, now);
        allocation.Status = AllocationStatus.Closed;
        allocation.UpdatedAt = now;
        set.Touch(allocation);
        set.Notify(Topics.AllocationClosed, allocation.TenantId, allocation.EventId, AllocationView.Of(allocation), now);
    }

    /// <summary>Idle units back to the public: the block shrinks and every node it charged is relieved.</summary>
    private static void GiveBack(WorkingSet set, Allocation allocation, long quantity, DateTimeOffset now)
    {
        if (quantity > 0)
        {
            allocation.Size -= quantity;
            allocation.UpdatedAt = now;
            set.Touch(allocation);
            ChargeClosure(set, set.FindCapacity(allocation.CapacityId)!, allocation.Id, LedgerKind.Deallocate, -quantity, now);
        }
    }

    /// <summary>
    /// The tenant's allocation, or the refusal: missing, or closed. One past its expiry is closed to
    /// new business at once, whether or not the sweep has closed it yet (as a due hold is expired).
    /// </summary>
    private static Outcome? FindOpenAllocation(WorkingSet set, Guid tenantId, Guid id, DateTimeOffset now, out Allocation allocation)
    {
        allocation = set.FindAllocation(id)!;
        if (allocation is null || allocation.TenantId != tenantId)
        {
            return Answers.AllocationNotFound(id);
        }

        return ClosedAt(allocation, now) ? Answers.AllocationClosed(allocation) : null;
    }

    private static bool ClosedAt(Allocation allocation, DateTimeOffset now) =>
        allocation.Status == AllocationStatus.Closed || allocation.ExpiresAt <= now;

    private static Outcome? CheckAllocationName(string name, string? stored, CoreLimits limits) =>
        Rules.IsValidNameChange(name, stored, limits.MaxNameLength)
            ? null
            : Outcome.Invalid("name", Rules.NameRule("name", limits.MaxNameLength, name));

    /// <summary>The refusal of <paramref name="quantity"/> more reserved units on the node's closure, or null when they fit.</summary>
    private static Outcome? ShortOf(WorkingSet set, CapacityNode node, long quantity)
    {
        Graph.Closure(node, set, set.Closure);
        foreach (var n in set.Closure)
        {
            if (n.Headroom is { } headroom && headroom < quantity)
            {
                return Answers.Short(n, quantity, headroom, Graph.Available(node, set, set.Closure));
            }
        }

        return null;
    }

    /// <summary>Charges the node and every ancestor once with a change of reserved units, with a ledger entry each.</summary>
    private static void ChargeClosure(WorkingSet set, CapacityNode node, Guid allocationId, LedgerKind kind, long reservedDelta, DateTimeOffset now)
    {
        Graph.Closure(node, set, set.Closure);
        foreach (var n in set.Closure)
        {
            n.Reserved += reservedDelta;
            if (n.QueueDemand > 0)
            {
                SyncShare(set, n);
            }

            if (reservedDelta < 0)
            {
                NoteFreed(set, n);
            }

            // Units set aside leave the public's reach as a hold's do: the last of an early tier's set
            // aside sells it out (its next tier opens), as a hold taking them would.
            if (reservedDelta > 0 && n.Sale is { WatchesSellOut: true })
            {
                set.SellOutCandidates.Add(n);
            }

            CoreAssert.WithinBounds(n);
            set.Touch(n);
            set.Append(n, kind, Guid.Empty, allocationId, reservedDelta, 0, now);
        }
    }

    // Holds drawn from allocations. Off the hot path: a hold names an allocation only at a box office
    // or a channel, and a hold that names none never comes here.

    /// <summary>
    /// Places a hold of which at least one item draws from an allocation. Allocated units are already
    /// reserved on every node (the allocation's size is), so they move from the allocation's idle to
    /// its held and charge no node; the other items are charged as any hold's. All or nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Outcome PlaceFromAllocations(WorkingSet set, PlaceHold command, CapacityNode first, DateTimeOffset now)
    {
        var items = command.Items;
        for (var i = 0; i < items.Length; i++)
        {
            if (items[i].AllocationId is not { } allocationId)
            {
                continue;
            }

            var allocation = set.FindAllocation(allocationId);
            if (allocation is null || allocation.TenantId != command.TenantId)
            {
                return Answers.AllocationNotFound(allocationId);
            }

            if (allocation.CapacityId != items[i].CapacityId)
            {
                return Answers.AllocationNotOfCapacity(i, allocationId, items[i].CapacityId);
            }

            if (ClosedAt(allocation, now))
            {
                return Answers.AllocationClosed(allocation);
            }

            var requested = QuantityFrom(items, allocationId);
            if (requested > allocation.Idle)
            {
                return Answers.AllocationShort(allocation, requested);
            }
        }

        // A capacity deactivated by hand takes no holds, from an allocation or not. One its sold-out rule
        // closed is closed to the public only: a block's tickets were set aside there before it closed
        // (often the very block whose setting aside sold it out), so they are still the block's to issue.
        if (!SumDemand(set, items, out var inactive, first) && RefusingInactive(set, items) is { } refusing)
        {
            return Answers.Inactive(refusing, set);
        }

        // The allocation's tickets are its own, but the cart's public items meet the sale rules as any hold's.
        SumDemandFrom(set, items, allocationId: null);
        if (FirstClosedForSale(set, now) is { } closed)
        {
            return Answers.NotOnSale(set, closed, now);
        }

        var shortNode = FirstShortNode(set.Demand, out var shortBy, out var left);
        if (shortNode is not null)
        {
            return Short(set, items, shortNode, shortBy, left);
        }

        if (MeetsLimits(set, items, command.BuyerKey) && CheckBuyerLimits(set, items, command.BuyerKey) is { } overLimit)
        {
            return overLimit;
        }

        var reservationItems = LockPrices(set, items, now);
        var reservation = new Reservation(
            command.ReservationId, command.TenantId, ReservationStatus.Active, reservationItems, now, AfterMinutes(now, command.Minutes), null, null, command.BuyerKey, Labels: command.Labels);
        ApplyDemand(set, reservation.Id, LedgerKind.Hold, reservedSign: 1, soldSign: 0, now);
        if (command.BuyerKey is not null)
        {
            CountUsage(set, reservation, 1);
        }

        for (var i = 0; i < items.Length; i++)
        {
            if (items[i].AllocationId is { } allocationId)
            {
                var allocation = set.FindAllocation(allocationId)!;
                allocation.Held += items[i].Quantity;
                allocation.UpdatedAt = now;
                set.Touch(allocation);
                // Nothing moves on the node, but the ledger still tells which hold took which allocated units.
                set.Append(set.FindCapacity(items[i].CapacityId)!, LedgerKind.Hold, reservation.Id, allocationId, 0, 0, now);
            }
        }

        set.AddNew(reservation);
        if (set.HasSellOutCandidates)
        {
            // A public item of the cart may have sold its capacity out: answered as written (see Place).
            SellOutAndSettle(set, now);
        }

        return Answers.Held(reservation, Graph.View(first, set, set.Closure));
    }

    /// <summary>
    /// Ends a hold or a sale with items from allocations. Public items are charged as any hold's; for
    /// each allocation: a confirm moves its units from held to sold (and from reserved to sold on the
    /// nodes); a release or expiry returns them to its idle, or, once it is closed, to the public; a
    /// cancelled sale returns them to the public and the allocation shrinks by as many.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void EndWithAllocations(WorkingSet set, in Reservation hold, LedgerKind kind, DateTimeOffset now)
    {
        var (reservedSign, soldSign) = Signs(kind);
        SumDemandFrom(set, hold.Items, allocationId: null);
        ApplyDemand(set, hold.Id, kind, reservedSign, soldSign, now);

        var items = hold.Items;
        for (var i = 0; i < items.Length; i++)
        {
            if (items[i].AllocationId is not { } allocationId || FirstIndexOf(items, allocationId) != i)
            {
                continue;
            }

            var allocation = set.FindAllocation(allocationId)
                ?? throw new InvalidOperationException($"Allocation {allocationId} of reservation {hold.Id} was not loaded.");
            var quantity = QuantityFrom(items, allocationId);
            switch (kind)
            {
                case LedgerKind.Confirm:
                    allocation.Held -= quantity;
                    allocation.Sold += quantity;
                    break;
                case LedgerKind.Release or LedgerKind.Expire:
                    allocation.Held -= quantity;
                    if (allocation.Status == AllocationStatus.Open)
                    {
                        // Back to the allocation's idle: the nodes keep them reserved for it.
                        (reservedSign, soldSign) = (0, 0);
                    }
                    else
                    {
                        allocation.Size -= quantity;
                    }

                    break;
                case LedgerKind.Cancel:
                    allocation.Sold -= quantity;
                    allocation.Size -= quantity;
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a way for a hold to end.");
            }

            if (allocation.Held < 0 || allocation.Sold < 0 || allocation.Idle < 0)
            {
                throw new InvalidOperationException($"Counters of allocation {allocation.Id} would go negative.");
            }

            allocation.UpdatedAt = now;
            set.Touch(allocation);
            if (reservedSign == 0 && soldSign == 0)
            {
                AppendUnmoved(set, items, allocationId, kind, hold.Id, now);
            }
            else
            {
                SumDemandFrom(set, items, allocationId);
                ApplyDemand(set, hold.Id, kind, reservedSign, soldSign, now, allocationId);
            }

            (reservedSign, soldSign) = Signs(kind);
        }
    }

    private static (int Reserved, int Sold) Signs(LedgerKind kind) => kind switch
    {
        LedgerKind.Confirm => (-1, 1),
        LedgerKind.Release or LedgerKind.Expire => (-1, 0),
        LedgerKind.Cancel => (0, -1),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a way for a hold to end."),
    };

    /// <summary>A ledger entry per item drawn from the allocation on its own node, moving nothing.</summary>
    private static void AppendUnmoved(WorkingSet set, ReservationItem[] items, Guid allocationId, LedgerKind kind, Guid reservationId, DateTimeOffset now)
    {
        foreach (var item in items)
        {
            if (item.AllocationId == allocationId)
            {
                set.Append(set.FindCapacity(item.CapacityId)!, kind, reservationId, allocationId, 0, 0, now);
            }
        }
    }

    /// <summary>
    /// The inactive node that refuses a hold drawing from allocations, if any: any node a public item
    /// reaches, or one an allocated item reaches that was deactivated by hand rather than closed by its
    /// sold-out rule. Only when some node is inactive (rare), so it may sum the demand twice.
    /// </summary>
    private static CapacityNode? RefusingInactive(WorkingSet set, HoldItem[] items)
    {
        SumDemandFrom(set, items, allocationId: null);
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (!charge.Node.IsActive)
            {
                return charge.Node;
            }
        }

        SumDemand(set, items, out _);
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (!charge.Node.IsActive && !charge.Node.ClosedBySellOut)
            {
                return charge.Node;
            }
        }

        return null;
    }

    /// <summary>Sums into <see cref="WorkingSet.Demand"/> what the items drawing from <paramref name="allocationId"/> (null: the public pool) take from each node.</summary>
    private static void SumDemandFrom<T>(WorkingSet set, T[] items, Guid? allocationId)
        where T : struct, IDemand
    {
        var demand = set.Demand;
        demand.Clear();
        foreach (var item in items)
        {
            if (item.AllocationId != allocationId)
            {
                continue;
            }

            var node = set.FindCapacity(item.CapacityId)
                ?? throw new InvalidOperationException($"Capacity {item.CapacityId} of a reservation was not loaded.");
            Graph.Closure(node, set, set.Closure);
            foreach (var reached in set.Closure)
            {
                Charge(demand, reached, item.Quantity);
            }
        }
    }

    private static long QuantityFrom<T>(T[] items, Guid allocationId)
        where T : struct, IDemand
    {
        long quantity = 0;
        foreach (var item in items)
        {
            if (item.AllocationId == allocationId)
            {
                quantity += item.Quantity;
            }
        }

        return quantity;
    }

    private static int FirstIndexOf(ReservationItem[] items, Guid allocationId)
    {
        for (var i = 0; i < items.Length; i++)
        {
            if (items[i].AllocationId == allocationId)
            {
                return i;
            }
        }

        return -1;
    }
}

namespace Capacity.Core;

// Allocations: blocks of a capacity set aside. Cold commands, written plainly; the hold path's part
// (drawing from an allocation, and where its units go when a hold ends) lives with the holds.
public static partial class Decider
{
    private static Outcome CreateAllocation(WorkingSet set, CreateAllocation command, DateTimeOffset now, CoreLimits limits)
    {
        if (CheckAllocationName(command.Name, limits) is { } badName)
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
        ChargeClosure(set, node, allocation.Id, LedgerKind.Allocate, command.Size, now);
        return Answers.OfAllocation(allocation);
    }

    private static Outcome UpdateAllocation(WorkingSet set, UpdateAllocation command, DateTimeOffset now, CoreLimits limits)
    {
        if (FindOpenAllocation(set, command.TenantId, command.Id, out var allocation) is { } missingOrClosed)
        {
            return missingOrClosed;
        }

        var name = command.Name.Or(allocation.Name);
        if (CheckAllocationName(name, limits) is { } badName)
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

        if (FindOpenAllocation(set, command.TenantId, command.Id, out var allocation) is { } missingOrClosed)
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

    private static Outcome? FindOpenAllocation(WorkingSet set, Guid tenantId, Guid id, out Allocation allocation)
    {
        allocation = set.FindAllocation(id)!;
        if (allocation is null || allocation.TenantId != tenantId)
        {
            return Answers.AllocationNotFound(id);
        }

        return allocation.Status == AllocationStatus.Closed ? Answers.AllocationClosed(allocation) : null;
    }

    private static Outcome? CheckAllocationName(string name, CoreLimits limits) =>
        Rules.IsValidName(name, limits.MaxNameLength)
            ? null
            : Outcome.Invalid("name", $"name must be 1 to {limits.MaxNameLength} characters, not blank.");

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
            Assert.Counters(n);
            set.Touch(n);
            set.Append(n, kind, Guid.Empty, allocationId, reservedDelta, 0, now);
        }
    }
}

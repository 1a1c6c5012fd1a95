using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capacity.Core;

// Changes to a hold that move only part of it: new target quantities (ChangeHold), a partial confirm,
// a confirm after expiry (reclaim), a partial refund (CancelSale). Off the hot path: a plain confirm,
// release or cancel never comes here. Each moves only the difference, charged and ledgered like any
// hold's units, so counters, usage, waiting lists and the audit see them as they see holds.
// Holds drawn from allocations are not changed in part here (their units move inside the
// allocation, see Decider.Allocations.cs); they answer NotChangeable and can be released or
// confirmed whole.
public static partial class Decider
{
    private static Outcome ChangeHold(WorkingSet set, ChangeHold command, DateTimeOffset now, CoreLimits limits)
    {
        if (command.Items.Length == 0 || command.Items.Length > limits.MaxItemsPerReservation)
        {
            return Answers.ItemCount(limits);
        }

        var maxMinutes = Math.Min(limits.MaxHoldMinutes, limits.MaxLifetimeMinutes);
        if (command.Minutes is { } m && (m < 1 || m > maxMinutes))
        {
            return Answers.HoldMinutes(maxMinutes);
        }

        for (var i = 0; i < command.Items.Length; i++)
        {
            var item = command.Items[i];
            if (item.Quantity != 0 && !Rules.IsValidQuantity(item.Quantity, limits) || item.Quantity < 0)
            {
                return new Outcome(OutcomeCode.InvalidQuantity, $"Quantity must be 0 (remove the item) or {Rules.QuantityRule(limits)}", $"items[{i}].quantity");
            }

            if (item.AllocationId is not null)
            {
                return Outcome.Invalid($"items[{i}].allocation_id", "A change names capacities only; units drawn from an allocation cannot be added to a hold.");
            }

            for (var j = 0; j < i; j++)
            {
                if (command.Items[j].CapacityId == item.CapacityId)
                {
                    return Outcome.Invalid($"items[{i}].capacity_id", $"Capacity {item.CapacityId} is named twice.");
                }
            }
        }

        ref var slot = ref set.SlotOf(command.ReservationId);
        if (Unsafe.IsNullRef(ref slot) || slot.Value.TenantId != command.TenantId)
        {
            return Answers.ReservationNotFound(command.ReservationId);
        }

        ExpireIfDue(set, ref slot, now);

        var hold = slot.Value;
        if (hold.Status == ReservationStatus.Expired)
        {
            return Answers.Expired(hold);
        }

        if (hold.Status != ReservationStatus.Active)
        {
            return Answers.NotActive(hold);
        }

        if (NotChangeable(hold, partOfOffer: true) is { } refused)
        {
            return refused;
        }

        // Every target checked against what exists before anything moves.
        var added = new List<ItemQuantity>();
        var removed = new List<ItemQuantity>();
        for (var i = 0; i < command.Items.Length; i++)
        {
            var item = command.Items[i];
            var node = set.FindCapacity(item.CapacityId);
            if (node is null || node.TenantId != command.TenantId)
            {
                return Answers.CapacityNotFound(item.CapacityId);
            }

            if (item.PricingId is { } pricingId && set.FindPrice(pricingId) is var price
                && (price is null || price.TenantId != command.TenantId || price.CapacityId != item.CapacityId))
            {
                return Answers.PriceNotOfCapacity(i, pricingId, item.CapacityId, price, command.TenantId);
            }

            var held = QuantityOn(hold.Items, item.CapacityId);
            if (item.Quantity > held)
            {
                added.Add(new ItemQuantity(item.CapacityId, item.Quantity - (int)held));
            }
            else if (item.Quantity < held)
            {
                removed.Add(new ItemQuantity(item.CapacityId, (int)held - item.Quantity));
            }
        }

        var expiresAt = command.Minutes is { } minutes ? AfterMinutes(now, minutes) : hold.ExpiresAt;
        var latest = AfterMinutes(hold.CreatedAt, limits.MaxLifetimeMinutes);
        if (expiresAt > latest)
        {
            return Answers.ExtensionLimit(hold, limits, latest);
        }

        var items = hold.Items;
        foreach (var r in removed)
        {
            items = Reduce(items, r.CapacityId, r.Quantity, refund: false);
        }

        if (items.Length == 0 && added.Count == 0)
        {
            // Every target is 0: the hold is released whole, as a release would.
            End(set, hold, LedgerKind.Release, reservedSign: -1, soldSign: 0, now);
            set.Replace(ref slot, hold with { Status = ReservationStatus.Released, EndedAt = now });
            return Answers.Of(OutcomeCode.Ok, slot.Value);
        }

        var addedItems = added.ToArray();
        if (addedItems.Length > 0)
        {
            if (!SumDemand(set, addedItems, out var inactive))
            {
                return Answers.Inactive(inactive!, set);
            }

            if (set.DemandHasRules && FirstClosedForSale(set, now) is { } closed)
            {
                return Answers.NotOnSale(set, closed, now);
            }

            // Judged as if what this change gives back were released first: it counts against what it
            // adds, pool by pool and limit by limit, so a swap between two sections of a sold-out
            // venue, or at a buyer's limit, is not refused for units the hold already has; but what a
            // waiting entry would be offered of it, as a release would offer it, is not the hold's to take.
            var givenBack = removed.ToArray();
            if (FirstShortAfterGivingBack(set, givenBack, out var requested, out var left) is { } shortNode)
            {
                return Short(set, [.. addedItems.Select(a => new HoldItem(a.CapacityId, a.Quantity, null))], shortNode, requested, left);
            }

            if (MeetsLimits(set, addedItems, hold.BuyerKey) && CheckBuyerLimits(set, addedItems, hold.BuyerKey, givenBack, keepsWithin: true) is { } overLimit)
            {
                return overLimit;
            }
        }

        // Decided: give back first, so that the ledger reads in the order the units moved.
        if (removed.Count > 0)
        {
            MovePart(set, hold, [.. removed], LedgerKind.Release, reservedSign: -1, soldSign: 0, now);
        }

        if (addedItems.Length > 0)
        {
            SumDemand(set, addedItems, out _);
            ApplyDemand(set, hold.Id, LedgerKind.Hold, reservedSign: 1, soldSign: 0, now);
            if (hold.BuyerKey is not null)
            {
                CountUsage(set, hold with { Items = Demanded(addedItems) }, 1);
            }

            foreach (var a in addedItems)
            {
                items = Add(set, items, a, Array.Find(command.Items, i => i.CapacityId == a.CapacityId).PricingId, now);
            }
        }

        set.Replace(ref slot, hold with { Items = items, ExpiresAt = expiresAt });
        return Answers.Of(OutcomeCode.Ok, slot.Value);
    }

    /// <summary>
    /// The first node the units a change adds (<see cref="WorkingSet.Demand"/>) do not fit on, judged as
    /// if what it gives back had been released first: those units are free again on every node they
    /// reach, and what waiting entries are owed there is counted as it would then be (a section whose
    /// queue wanted more than it could give passes more up). Public units owed to the queue are not the
    /// hold's, as for a new hold; so a change cannot pass a waiting list by moving a ticket sideways.
    /// </summary>
    private static CapacityNode? FirstShortAfterGivingBack(WorkingSet set, ItemQuantity[] givenBack, out long requested, out long left)
    {
        var freed = set.Freed;
        freed.Clear();
        set.WaitedMore.Clear();
        set.PassedAfter.Clear();
        var queued = false;
        foreach (var item in givenBack)
        {
            Graph.Closure(set.FindCapacity(item.CapacityId)!, set, set.Closure);
            foreach (var reached in set.Closure)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(freed, reached, out _) += item.Quantity;
                queued |= reached.QueueDemand > 0;
            }
        }

        if (queued)
        {
            foreach (var node in freed.Keys)
            {
                if (node.QueueDemand > 0)
                {
                    PassUpFreed(set, node);
                }
            }
        }

        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            var node = charge.Node;
            if (node.Ceiling is { } ceiling)
            {
                var waited = node.QueueDemand + set.WaitedMore.GetValueOrDefault(node);
                var room = Math.Max(0, ceiling - node.Reserved - node.Sold + freed.GetValueOrDefault(node) - waited);
                if (room < charge.Quantity)
                {
                    (requested, left) = (charge.Quantity, room);
                    return node;
                }
            }
        }

        (requested, left) = (0, 0);
        return null;
    }

    /// <summary>What <paramref name="node"/> would pass up once the given-back units are free, walked up as <see cref="SyncShare"/> walks, on scratch counts.</summary>
    private static void PassUpFreed(WorkingSet set, CapacityNode node)
    {
        var waited = node.QueueDemand + set.WaitedMore.GetValueOrDefault(node);
        var free = node.Ceiling is { } ceiling ? Math.Max(0, ceiling - node.Reserved - node.Sold + set.Freed.GetValueOrDefault(node)) : long.MaxValue;
        var passed = waited <= 0 ? 0 : Math.Min(waited, free);
        var before = set.PassedAfter.TryGetValue(node, out var known) ? known : node.QueueShare;
        if (passed == before)
        {
            return;
        }

        set.PassedAfter[node] = passed;
        foreach (var parentId in node.ParentIds)
        {
            var parent = set.FindCapacity(parentId)!;
            CollectionsMarshal.GetValueRefOrAddDefault(set.WaitedMore, parent, out _) += passed - before;
            PassUpFreed(set, parent);
        }
    }

    /// <summary>Whether a confirmed sale holds, capacity by capacity, exactly the quantities <paramref name="parts"/> ask for (0 for a capacity they leave out).</summary>
    private static bool SaleIs(in Reservation sale, ItemQuantity[] parts)
    {
        foreach (var part in parts)
        {
            long asked = 0;
            foreach (var p in parts)
            {
                asked += p.CapacityId == part.CapacityId ? p.Quantity : 0;
            }

            if (asked != QuantityOn(sale.Items, part.CapacityId))
            {
                return false;
            }
        }

        foreach (var item in sale.Items)
        {
            if (item.Quantity > 0 && Array.FindIndex(parts, p => p.CapacityId == item.CapacityId) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static Outcome ConfirmHold(WorkingSet set, ConfirmHold command, DateTimeOffset now)
    {
        ref var slot = ref set.SlotOf(command.ReservationId);
        if (Unsafe.IsNullRef(ref slot) || slot.Value.TenantId != command.TenantId)
        {
            return Answers.ReservationNotFound(command.ReservationId);
        }

        ExpireIfDue(set, ref slot, now);

        var hold = slot.Value;
        switch (hold.Status)
        {
            // A repeat (a retry without an Idempotency-Key after a lost answer) is told the sale stands:
            // a whole confirm, or one in part that asks for exactly what the sale has.
            case ReservationStatus.Confirmed when command.Items is null || SaleIs(hold, command.Items):
                return Answers.Of(OutcomeCode.Unchanged, hold);
            case ReservationStatus.Expired when !command.Reclaim:
                return Answers.Expired(hold);
            case ReservationStatus.Active or ReservationStatus.Expired:
                break;
            default:
                return Answers.NotActive(hold);
        }

        var confirmed = hold.Items;
        ItemQuantity[] rest = [];
        if (command.Items is { } parts)
        {
            if (Parts(hold, parts, allowZero: true) is { } invalid)
            {
                return invalid;
            }

            if (Sum(parts) == 0)
            {
                return Outcome.Invalid("items", "A confirm takes at least one ticket; release the hold to give all of it back.");
            }

            var restList = new List<ItemQuantity>();
            foreach (var capacityId in hold.Items.Select(i => i.CapacityId).Distinct())
            {
                var keep = Array.Find(parts, p => p.CapacityId == capacityId).Quantity;
                var held = (int)QuantityOn(hold.Items, capacityId);
                if (held > keep)
                {
                    restList.Add(new ItemQuantity(capacityId, held - keep));
                    confirmed = Reduce(confirmed, capacityId, held - keep, refund: false);
                }
            }

            rest = [.. restList];
        }

        if (NotChangeable(hold, partOfOffer: hold.Status == ReservationStatus.Expired) is { } refused && (rest.Length > 0 || hold.Status == ReservationStatus.Expired))
        {
            return refused;
        }

        if (hold.Status == ReservationStatus.Expired)
        {
            return Reclaim(set, ref slot, confirmed, now);
        }

        if (rest.Length == 0)
        {
            End(set, hold, LedgerKind.Confirm, reservedSign: -1, soldSign: 1, now);
            set.Replace(ref slot, hold with { Status = ReservationStatus.Confirmed, ConfirmedAt = now });
            return Answers.Of(OutcomeCode.Ok, slot.Value);
        }

        // The rest goes back first, then the kept units are sold.
        MovePart(set, hold, rest, LedgerKind.Release, reservedSign: -1, soldSign: 0, now);
        var kept = hold with { Items = confirmed };
        if (hold.WaitlistId is not null)
        {
            // The offer is accepted with what its buyer kept; the offered counters drop by all of it.
            EndOffer(set, hold, LedgerKind.Confirm, now);
        }

        SumDemand(set, confirmed, out _);
        ApplyDemand(set, hold.Id, LedgerKind.Confirm, reservedSign: -1, soldSign: 1, now, offer: hold.WaitlistId is not null);
        set.Replace(ref slot, kept with { Status = ReservationStatus.Confirmed, ConfirmedAt = now });
        return Answers.Of(OutcomeCode.Ok, slot.Value);
    }

    /// <summary>
    /// An expired hold confirmed after all, if every unit it asks for is still free under every rule
    /// (pools less what waiting lists are owed, active capacities, buyer limits): sold at once, at the
    /// prices it locked. Otherwise nothing changes and the answer lists each capacity that falls short
    /// (or the pool their items share, when each fits alone and not all together).
    /// </summary>
    private static Outcome Reclaim(WorkingSet set, ref ReservationSlot slot, ReservationItem[] items, DateTimeOffset now)
    {
        var hold = slot.Value;
        if (!SumDemand(set, items, out var inactive))
        {
            return Answers.Inactive(inactive!, set);
        }

        var shortfall = new List<ShortfallItem>();
        foreach (var capacityId in items.Select(i => i.CapacityId).Distinct())
        {
            var node = set.FindCapacity(capacityId)!;
            var available = Graph.Available(node, set, set.Closure);
            var requested = QuantityOn(items, capacityId);
            if (available is { } a && a < requested)
            {
                shortfall.Add(new ShortfallItem(capacityId, requested, a));
            }
        }

        // Two items on one capacity, or two capacities under one pool, can fit alone and not together:
        // then the node they share is what is short, with what they ask of it together. (Listing every
        // item's capacity, each with more than it asks, told a box office nothing it could act on.)
        SumDemand(set, items, out _);
        if (shortfall.Count == 0 && FirstShortNode(set.Demand, out var together, out var left) is { } shortNode)
        {
            shortfall.Add(new ShortfallItem(shortNode.Id, together, left));
        }

        if (shortfall.Count > 0)
        {
            return new Outcome(OutcomeCode.ReservationExpired, $"Reservation {hold.Id} expired at {Rules.Instant(hold.ExpiresAt)} and its tickets are no longer all available.")
            {
                Reservation = hold,
                Shortfall = [.. shortfall],
            };
        }

        if (MeetsLimits(set, items, hold.BuyerKey) && CheckBuyerLimits(set, items, hold.BuyerKey) is { } overLimit)
        {
            return overLimit;
        }

        SumDemand(set, items, out _);
        ApplyDemand(set, hold.Id, LedgerKind.Reclaim, reservedSign: 0, soldSign: 1, now);
        var reclaimed = hold with { Items = items, Status = ReservationStatus.Confirmed, ConfirmedAt = now, EndedAt = null };
        if (hold.BuyerKey is not null)
        {
            CountUsage(set, reclaimed, 1);
        }

        set.Replace(ref slot, reclaimed);
        return new Outcome(OutcomeCode.Ok, slot.Value) { Reclaimed = true };
    }

    private static Outcome CancelSale(WorkingSet set, CancelSale command, DateTimeOffset now)
    {
        ref var slot = ref set.SlotOf(command.ReservationId);
        if (Unsafe.IsNullRef(ref slot) || slot.Value.TenantId != command.TenantId)
        {
            return Answers.ReservationNotFound(command.ReservationId);
        }

        // As a whole cancel answers: a due hold is expired now, and an expired one is told it expired.
        ExpireIfDue(set, ref slot, now);

        var hold = slot.Value;
        switch (hold.Status)
        {
            case ReservationStatus.Active:
                return Answers.CancelNotConfirmed(hold);
            case ReservationStatus.Expired:
                return Answers.Expired(hold);
            case not ReservationStatus.Confirmed:
                return Answers.NotActive(hold);
        }

        if ((Parts(hold, command.Items, allowZero: false) ?? NotChangeable(hold, partOfOffer: false)) is { } refused)
        {
            return refused;
        }

        var items = hold.Items;
        foreach (var part in command.Items)
        {
            items = Reduce(items, part.CapacityId, part.Quantity, refund: true);
        }

        MovePart(set, hold, command.Items, LedgerKind.Cancel, reservedSign: 0, soldSign: -1, now);
        var left = 0L;
        foreach (var item in items)
        {
            left += item.Quantity;
        }

        set.Replace(ref slot, left == 0 ? hold with { Items = items, Status = ReservationStatus.Cancelled, EndedAt = now } : hold with { Items = items });
        return Answers.Of(OutcomeCode.Ok, slot.Value);
    }

    /// <summary>Moves part of a hold's units (release, confirm or cancel), with its buyer's usage and the ledger.</summary>
    private static void MovePart(WorkingSet set, in Reservation hold, ItemQuantity[] part, LedgerKind kind, int reservedSign, int soldSign, DateTimeOffset now)
    {
        if (hold.BuyerKey is not null && kind != LedgerKind.Confirm)
        {
            CountUsage(set, hold with { Items = Demanded(part) }, -1);
        }

        SumDemand(set, part, out _);
        ApplyDemand(set, hold.Id, kind, reservedSign, soldSign, now, offer: hold.WaitlistId is not null);
    }

    /// <summary>Checks quantities named for a hold's capacities: each named once, each at most what the hold has there.</summary>
    private static Outcome? Parts(in Reservation hold, ItemQuantity[] parts, bool allowZero)
    {
        if (parts.Length == 0)
        {
            return Outcome.Invalid("items", "Name at least one capacity of the reservation.");
        }

        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var held = QuantityOn(hold.Items, part.CapacityId);
            if (!HasCapacity(hold.Items, part.CapacityId))
            {
                return Outcome.Invalid($"items[{i}].capacity_id", $"Reservation {hold.Id} has no tickets of capacity {part.CapacityId}.");
            }

            if (part.Quantity < (allowZero ? 0 : 1) || part.Quantity > held)
            {
                return new Outcome(OutcomeCode.InvalidQuantity, $"items[{i}].quantity must be between {(allowZero ? 0 : 1)} and the {held} the reservation has of that capacity.", $"items[{i}].quantity");
            }

            for (var j = 0; j < i; j++)
            {
                if (parts[j].CapacityId == part.CapacityId)
                {
                    return Outcome.Invalid($"items[{i}].capacity_id", $"Capacity {part.CapacityId} is named twice.");
                }
            }
        }

        return null;
    }

    /// <summary>A hold whose units move inside an allocation, or (for changes other than a partial confirm or refund) a waiting-list offer.</summary>
    private static Outcome? NotChangeable(in Reservation hold, bool partOfOffer)
    {
        if (DrawsFromAllocation(hold.Items))
        {
            return new Outcome(OutcomeCode.NotChangeable, hold.Status == ReservationStatus.Expired
                ? $"Reservation {hold.Id} drew from an allocation and has expired: its tickets went back to the allocation, so it is not reclaimed; hold them from the allocation again."
                : $"Reservation {hold.Id} draws from an allocation: it can only be confirmed, released or cancelled whole.") { Reservation = hold };
        }

        if (partOfOffer && hold.WaitlistId is not null)
        {
            return new Outcome(OutcomeCode.NotChangeable, $"Reservation {hold.Id} is a waiting-list offer: it can be confirmed (in part too) or released, not changed or reclaimed.") { Reservation = hold };
        }

        return null;
    }

    private static bool HasCapacity(ReservationItem[] items, Guid capacityId) => Array.Exists(items, i => i.CapacityId == capacityId);

    private static long QuantityOn(ReservationItem[] items, Guid capacityId)
    {
        long quantity = 0;
        foreach (var item in items)
        {
            if (item.CapacityId == capacityId)
            {
                quantity += item.Quantity;
            }
        }

        return quantity;
    }

    private static int Sum(ItemQuantity[] parts)
    {
        var sum = 0;
        foreach (var part in parts)
        {
            sum += part.Quantity;
        }

        return sum;
    }

    private static ReservationItem[] Demanded(ItemQuantity[] part) => Array.ConvertAll(part, p => new ReservationItem(p.CapacityId, p.Quantity, null));

    /// <summary>
    /// The items less <paramref name="by"/> units of a capacity, taken from its last items first (the
    /// units added last go first). A refund keeps each item and counts what left it as cancelled;
    /// otherwise an item left with nothing is dropped. Always a new array: plain items arrays are shared.
    /// </summary>
    private static ReservationItem[] Reduce(ReservationItem[] items, Guid capacityId, int by, bool refund)
    {
        var result = (ReservationItem[])items.Clone();
        for (var i = result.Length - 1; i >= 0 && by > 0; i--)
        {
            if (result[i].CapacityId != capacityId)
            {
                continue;
            }

            var take = Math.Min(by, result[i].Quantity);
            by -= take;
            result[i] = result[i] with
            {
                Quantity = result[i].Quantity - take,
                CancelledQuantity = result[i].CancelledQuantity + (refund ? take : 0),
            };
        }

        return refund ? result : Array.FindAll(result, i => i.Quantity > 0);
    }

    /// <summary>
    /// The items with units added to a capacity. Units keep the price they locked: added units lock the
    /// current price of the target's pricing entry, or else of the entry the capacity's last item locked;
    /// they join that item when the price is the same, and become an item of their own when it is not.
    /// </summary>
    private static ReservationItem[] Add(WorkingSet set, ReservationItem[] items, ItemQuantity added, Guid? pricingId, DateTimeOffset now)
    {
        var last = Array.FindLastIndex(items, i => i.CapacityId == added.CapacityId);
        pricingId ??= last >= 0 ? items[last].LockedPrice?.PricingId : null;
        LockedPrice? locked = null;
        if (pricingId is { } id && set.FindPrice(id) is { } price)
        {
            locked = new LockedPrice(price.Id, price.Name, price.UnitPrice, price.ServiceFee, price.FacilityFee, price.TaxRate, price.Currency, now);
        }

        if (last >= 0 && SamePrice(items[last].LockedPrice, locked))
        {
            var result = (ReservationItem[])items.Clone();
            result[last] = result[last] with { Quantity = result[last].Quantity + added.Quantity };
            return result;
        }

        return [.. items, new ReservationItem(added.CapacityId, added.Quantity, locked)];
    }

    private static bool SamePrice(LockedPrice? a, LockedPrice? b) =>
        a is null ? b is null : b is not null && a with { LockedAt = b.LockedAt } == b;
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capacity.Core;

// The hot path: every hold, confirm, release, extend and expiry goes through this file, and deciding
// one allocates nothing (WorkingSetTests fails on a single byte; figures in docs/performance.md).
// The rules that keep it so, stated once here instead of at every site:
// - A switch statement with a return per case, never a switch expression: the expression puts each
//   answer (a few hundred bytes) in a temporary and copies it out; a returned call writes straight
//   into the caller's slot.
// - Answers are built out of line, in Answers: an answer built inline is a temporary in the frame,
//   which the runtime zeroes on every call, whether that answer is given or not.
// - A refusal found in a loop is returned after the loop, not from inside it, for the same reason.
// - Holds are read and written through their dictionary slot (WorkingSet.SlotOf), never copied out.
// - Nothing is allocated: no LINQ, no closures, no strings outside a refusal's answer; lists are
//   walked over their storage (CollectionsMarshal.AsSpan), not through their enumerators.
// What must hold after each decision that moves counters is asserted in Debug builds (CoreAssert).
public static partial class Decider
{
    private static Outcome PlaceHold(WorkingSet set, PlaceHold command, DateTimeOffset now, CoreLimits limits)
    {
        if (command.Items.Length == 0 || command.Items.Length > limits.MaxItemsPerReservation)
        {
            return Answers.ItemCount(limits);
        }

        var maxMinutes = Math.Min(limits.MaxHoldMinutes, limits.MaxLifetimeMinutes);
        if (command.Minutes < 1 || command.Minutes > maxMinutes)
        {
            return Answers.HoldMinutes(maxMinutes);
        }

        if (set.HasReservation(command.ReservationId))
        {
            return Answers.ReservationExists(command.ReservationId);
        }

        if (command.BuyerKey is not null && !Rules.IsValidBuyerKey(command.BuyerKey))
        {
            return Answers.BuyerKey();
        }

        if (command.Labels is not null && Rules.CheckLabels(command.Labels, limits) is { } badLabel)
        {
            return badLabel;
        }

        // Every item is checked before anything is built, so that a refused hold allocates nothing.
        var priced = false;
        var allocated = false;
        CapacityNode? first = null;
        for (var i = 0; i < command.Items.Length; i++)
        {
            var item = command.Items[i];
            if (!Rules.IsValidQuantity(item.Quantity, limits))
            {
                return Answers.Quantity(limits, i);
            }

            var node = set.FindCapacity(item.CapacityId);
            if (node is null || node.TenantId != command.TenantId)
            {
                return Answers.CapacityNotFound(item.CapacityId);
            }

            first ??= node;

            if (item.PricingId is { } pricingId)
            {
                var price = set.FindPrice(pricingId);
                if (price is null || price.TenantId != command.TenantId || price.CapacityId != item.CapacityId)
                {
                    return Answers.PriceNotOfCapacity(i, pricingId, item.CapacityId, price, command.TenantId);
                }

                priced = true;
            }

            allocated |= item.AllocationId.HasValue;
        }

        if (allocated)
        {
            return PlaceFromAllocations(set, command, first!, now);
        }

        if (!SumDemand(set, command.Items, out var inactive, first))
        {
            return Answers.Inactive(inactive!, set);
        }

        if (set.DemandHasRules && FirstClosedForSale(set, now) is { } closed)
        {
            return Answers.NotOnSale(set, closed, now);
        }

        var shortNode = FirstShortNode(set.Demand, out var requested, out var left);
        if (shortNode is not null)
        {
            return Short(set, command.Items, shortNode, requested, left);
        }

        if (MeetsLimits(set, command.Items, command.BuyerKey))
        {
            return PlaceWithinLimits(set, command, first!, priced, now);
        }

        return Place(set, command, first!, priced, now);
    }

    /// <summary>A hold that fits, placed only if it keeps every buyer limit over its capacities.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Outcome PlaceWithinLimits(WorkingSet set, PlaceHold command, CapacityNode first, bool priced, DateTimeOffset now) =>
        CheckBuyerLimits(set, command.Items, command.BuyerKey) ?? Place(set, command, first, priced, now);

    /// <summary>The first node of the summed demand that does not take holds at <paramref name="now"/>: outside its window, or a tier not yet open.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CapacityNode? FirstClosedForSale(WorkingSet set, DateTimeOffset now)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (charge.Node.Sale is { Gates: true } rules && rules.ClosedAt(now))
            {
                return charge.Node;
            }
        }

        return null;
    }

    /// <summary>The first node the summed demand does not fit in, with what was asked of it and what it had left.</summary>
    private static CapacityNode? FirstShortNode(List<(CapacityNode Node, long Quantity)> demand, out long requested, out long left)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(demand))
        {
            if (charge.Node.Headroom is { } headroom && headroom < charge.Quantity)
            {
                (requested, left) = (charge.Quantity, headroom);
                return charge.Node;
            }
        }

        (requested, left) = (0, 0);
        return null;
    }

    /// <summary>
    /// Places a hold that passed every check. A method of its own, so that the checks' frame does not
    /// carry the structs that placing needs.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Outcome Place(WorkingSet set, PlaceHold command, CapacityNode first, bool priced, DateTimeOffset now)
    {
        var single = command.Items.Length == 1;
        var items = priced ? LockPrices(set, command.Items, now)
            : single ? first.PlainItems(command.Items[0].Quantity)
            : Unpriced(command.Items);
        var reservation = new Reservation(command.ReservationId, command.TenantId, ReservationStatus.Active, items, now, AfterMinutes(now, command.Minutes), null, null, command.BuyerKey, Labels: command.Labels);
        CoreAssert.ItemsAddUpToDemand(set, reservation);
        ApplyDemand(set, reservation.Id, LedgerKind.Hold, reservedSign: 1, soldSign: 0, now);
        if (command.BuyerKey is not null)
        {
            CountUsage(set, reservation, 1);
        }

        set.AddNew(reservation);
        if (set.HasSellOutCandidates)
        {
            // The hold may have taken a watched capacity's last ticket: its sell-out (a close, the
            // next tier's opening and that tier's offers) is decided now rather than after the
            // command, so that the answer shows the capacity as the batch will write it.
            SellOutAndSettle(set, now);
            return Answers.Held(reservation, Graph.View(first, set, set.Closure));
        }

        // With one item, SumDemand left its closure in set.Closure and the counters changed in place: no second walk.
        return single ? Answers.Held(reservation, Graph.ViewOf(first, set.Closure)) : Answers.Held(reservation, Graph.View(first, set, set.Closure));
    }

    /// <summary>Whole minutes in ticks: the same instant as AddMinutes, without its floating-point path.</summary>
    private static DateTimeOffset AfterMinutes(DateTimeOffset at, int minutes) => at.AddTicks(minutes * TimeSpan.TicksPerMinute);

    private static ReservationItem[] Unpriced(HoldItem[] holdItems)
    {
        var items = new ReservationItem[holdItems.Length];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = new ReservationItem(holdItems[i].CapacityId, holdItems[i].Quantity, null);
        }

        return items;
    }

    /// <summary>
    /// The items of a hold with a price lock or an allocation: each priced item snapshots its price as
    /// it is now, and each keeps the allocation it draws from.
    /// </summary>
    private static ReservationItem[] LockPrices(WorkingSet set, HoldItem[] holdItems, DateTimeOffset now)
    {
        var items = new ReservationItem[holdItems.Length];
        for (var i = 0; i < holdItems.Length; i++)
        {
            var item = holdItems[i];
            LockedPrice? locked = null;
            if (item.PricingId is { } pricingId)
            {
                var price = set.FindPrice(pricingId)!;
                locked = new LockedPrice(price.Id, price.Name, price.UnitPrice, price.ServiceFee, price.FacilityFee, price.TaxRate, price.Currency, now);
            }

            items[i] = new ReservationItem(item.CapacityId, item.Quantity, locked, item.AllocationId);
        }

        return items;
    }

    private static Outcome TransitionReservation(WorkingSet set, TransitionReservation command, DateTimeOffset now)
    {
        ref var slot = ref set.SlotOf(command.ReservationId);
        if (Unsafe.IsNullRef(ref slot) || slot.Value.TenantId != command.TenantId)
        {
            return Answers.ReservationNotFound(command.ReservationId);
        }

        // Read in its slot: each state below is the slot's current one, the expiry included.
        ref readonly var hold = ref slot.Value;

        // A due hold is expired now, whether or not the sweeper got to it: it can never be confirmed.
        ExpireIfDue(set, ref slot, now);

        switch (command.Transition, hold.Status)
        {
            case (Transition.Confirm, ReservationStatus.Active):
                End(set, hold, LedgerKind.Confirm, reservedSign: -1, soldSign: 1, now);
                set.Replace(ref slot, hold with { Status = ReservationStatus.Confirmed, ConfirmedAt = now });
                break;
            case (Transition.Release, ReservationStatus.Active):
                End(set, hold, LedgerKind.Release, reservedSign: -1, soldSign: 0, now);
                set.Replace(ref slot, hold with { Status = ReservationStatus.Released, EndedAt = now });
                break;
            case (Transition.Cancel, ReservationStatus.Confirmed):
                End(set, hold, LedgerKind.Cancel, reservedSign: 0, soldSign: -1, now);
                set.Replace(ref slot, hold with { Items = Refunded(hold.Items), Status = ReservationStatus.Cancelled, EndedAt = now });
                break;
            case (Transition.Confirm, ReservationStatus.Confirmed):
            case (Transition.Release, ReservationStatus.Released):
                return Answers.Of(OutcomeCode.Unchanged, hold);
            case (_, ReservationStatus.Expired):
                return Answers.Expired(hold);
            case (Transition.Cancel, ReservationStatus.Active):
                return Answers.CancelNotConfirmed(hold);
            default:
                return Answers.NotActive(hold);
        }

        return Answers.Of(OutcomeCode.Ok, hold);
    }

    /// <summary>
    /// A whole refund's items: every unit an item still has moves to its cancelled count, as a refund in
    /// part moves some (Decider.Changes), so a sale refunded at once or in parts reads the same. A new
    /// array: plain items arrays are shared.
    /// </summary>
    private static ReservationItem[] Refunded(ReservationItem[] items)
    {
        var result = new ReservationItem[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            result[i] = items[i] with { Quantity = 0, CancelledQuantity = items[i].CancelledQuantity + items[i].Quantity };
        }

        return result;
    }

    private static Outcome ExtendReservation(WorkingSet set, ExtendReservation command, DateTimeOffset now, CoreLimits limits)
    {
        if (command.Minutes < 1 || command.Minutes > limits.MaxHoldMinutes)
        {
            return Answers.ExtendMinutes(limits);
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

        // An offer lasts the offer_minutes its organiser chose so that tickets the queue waits for come
        // back in time; its buyer's platform does not lengthen it (a change's reservation_minutes is refused too).
        if (hold.WaitlistId is not null)
        {
            return new Outcome(OutcomeCode.NotChangeable, $"Reservation {hold.Id} is a waiting-list offer: it lasts its capacity's offer_minutes and is not extended.") { Reservation = hold };
        }

        var expiresAt = AfterMinutes(now, command.Minutes);
        var latest = AfterMinutes(hold.CreatedAt, limits.MaxLifetimeMinutes);
        if (expiresAt > latest)
        {
            return Answers.ExtensionLimit(hold, limits, latest);
        }

        hold = hold with { ExpiresAt = expiresAt };
        set.Replace(ref slot, hold);
        return Answers.Of(OutcomeCode.Ok, hold);
    }

    private static Outcome ExpireDue(WorkingSet set, ExpireDue command, DateTimeOffset now)
    {
        var count = 0;
        foreach (var id in command.ReservationIds)
        {
            ref var slot = ref set.SlotOf(id);
            if (!Unsafe.IsNullRef(ref slot) && IsDue(slot.Value, now))
            {
                ExpireNow(set, ref slot, now);
                count++;
            }
        }

        return new Outcome(OutcomeCode.Ok) { Count = count };
    }

    /// <summary>An active hold at or past its expiry: expired already by time, whether or not the sweep got to it.</summary>
    private static bool IsDue(in Reservation hold, DateTimeOffset now) => hold.Status == ReservationStatus.Active && now >= hold.ExpiresAt;

    /// <summary>Expires the hold in the slot if it is due: every step on a hold does this first.</summary>
    private static void ExpireIfDue(WorkingSet set, ref ReservationSlot slot, DateTimeOffset now)
    {
        if (IsDue(slot.Value, now))
        {
            ExpireNow(set, ref slot, now);
        }
    }

    private static void ExpireNow(WorkingSet set, ref ReservationSlot slot, DateTimeOffset now)
    {
        End(set, slot.Value, LedgerKind.Expire, reservedSign: -1, soldSign: 0, now);
        set.Replace(ref slot, slot.Value with { Status = ReservationStatus.Expired, EndedAt = now });
    }

    /// <summary>
    /// Sums what the items take from each node into <see cref="WorkingSet.Demand"/>: an item charges its
    /// capacity and every ancestor once; two items reaching one pool both charge it. Fails on the first
    /// inactive node met. Nodes are compared by reference: the working set holds one instance per row.
    /// </summary>
    private static bool SumDemand<T>(WorkingSet set, T[] items, out CapacityNode? inactive, CapacityNode? firstNode = null)
        where T : struct, IDemand
    {
        var demand = set.Demand;
        demand.Clear();
        set.DemandHasRules = false;
        inactive = null;
        for (var i = 0; i < items.Length; i++)
        {
            var item = items[i];
            // A new hold has already found its first item's node; a stored hold's items are looked up.
            var node = (i == 0 ? firstNode : null) ?? set.FindCapacity(item.CapacityId)
                ?? throw new InvalidOperationException($"Capacity {item.CapacityId} of a reservation was not loaded.");
            Graph.Closure(node, set, set.Closure);
            foreach (var reached in set.Closure)
            {
                if (!reached.IsActive && inactive is null)
                {
                    inactive = reached;
                }

                set.DemandHasRules |= reached.Sale is not null;

                Charge(demand, reached, item.Quantity);
            }
        }

        return inactive is null;
    }

    private static void Charge(List<(CapacityNode Node, long Quantity)> demand, CapacityNode node, long quantity)
    {
        foreach (ref var charge in CollectionsMarshal.AsSpan(demand))
        {
            if (ReferenceEquals(charge.Node, node))
            {
                charge.Quantity += quantity;
                return;
            }
        }

        demand.Add((node, quantity));
    }

    /// <summary>
    /// Moves a hold's units as it is confirmed, released, expired or cancelled. A hold that draws from
    /// an allocation takes the allocation's path (Decider.Allocations.cs); any other is charged whole.
    /// </summary>
    private static void End(WorkingSet set, in Reservation hold, LedgerKind kind, int reservedSign, int soldSign, DateTimeOffset now)
    {
        // A buyer's active holds and sales both count against a limit: only the ways out give tickets back.
        if (hold.BuyerKey is not null && kind != LedgerKind.Confirm)
        {
            CountUsage(set, hold, -1);
        }

        if (hold.WaitlistId is not null)
        {
            EndOffer(set, hold, kind, now);
        }

        if (DrawsFromAllocation(hold.Items))
        {
            EndWithAllocations(set, hold, kind, now);
            return;
        }

        SumDemand(set, hold.Items, out _);
        ApplyDemand(set, hold.Id, kind, reservedSign, soldSign, now, offer: hold.WaitlistId is not null);
    }

    private static bool DrawsFromAllocation(ReservationItem[] items)
    {
        foreach (ref readonly var item in items.AsSpan())
        {
            if (item.AllocationId.HasValue)
            {
                return true;
            }
        }

        return false;
    }

    private static void ApplyDemand(
        WorkingSet set, Guid reservationId, LedgerKind kind, int reservedSign, int soldSign, DateTimeOffset now, Guid allocationId = default, bool offer = false)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            var (node, quantity) = charge;
            node.Reserved += reservedSign * quantity;
            node.Sold += soldSign * quantity;
            if (node.Reserved < 0 || node.Sold < 0)
            {
                // Only a corrupted store can get here; refusing keeps the corruption out of the ledger.
                throw new InvalidOperationException($"Counters of capacity {node.Id} would go negative.");
            }

            set.Touch(node);
            set.Append(node, kind, reservationId, allocationId, reservedSign * quantity, soldSign * quantity, now, offer);
            if (node.QueueDemand > 0)
            {
                SyncShare(set, node);
            }

            // Units taken from a capacity whose selling out opens a tier or closes it: looked at after this command.
            if (node.Sale is { WatchesSellOut: true } && reservedSign + soldSign > 0)
            {
                set.SellOutCandidates.Add(node);
            }

            // Units back on a node that a waiting entry draws from: the engine settles the queue
            // after this command, before any other can take them.
            if (node.HasWaiting && reservedSign + soldSign < 0)
            {
                NoteFreed(set, node);
            }
        }

        CoreAssert.DemandWithinBounds(set);
    }

    /// <summary>The refusal of a hold that does not fit, with the availability of the first item that draws from the short node.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Outcome Short(WorkingSet set, HoldItem[] items, CapacityNode shortNode, long requested, long left)
    {
        var drawing = FirstItemDrawingFrom(set, items, shortNode);
        return Answers.Short(shortNode, requested, left, Graph.Available(drawing, set, set.Closure));
    }

    private static CapacityNode FirstItemDrawingFrom(WorkingSet set, HoldItem[] items, CapacityNode shortNode)
    {
        foreach (var item in items)
        {
            var node = set.FindCapacity(item.CapacityId)!;
            Graph.Closure(node, set, set.Closure);
            if (set.Closure.Contains(shortNode))
            {
                return node;
            }
        }

        throw new InvalidOperationException("No item draws from the short node.");
    }
}

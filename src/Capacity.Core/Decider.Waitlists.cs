using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capacity.Core;

// Waiting lists. Entries of an event are walked in the order they joined whenever units may have
// come free for them, in the same command that freed them, so that freed units become offers before
// anyone else can see them. While entries wait, their units count as owed on every node they draw
// from (CapacityNode.QueueDemand), so public holds cannot take them, directly or through a sibling.
public static partial class Decider
{
    private static Outcome JoinWaitlist(WorkingSet set, JoinWaitlist command, DateTimeOffset now, CoreLimits limits)
    {
        if (command.Items.Length == 0 || command.Items.Length > limits.MaxItemsPerReservation)
        {
            return Outcome.Invalid("items", $"A waiting-list entry has 1 to {limits.MaxItemsPerReservation} items.");
        }

        if (command.BuyerKey is not null && !Rules.IsValidBuyerKey(command.BuyerKey))
        {
            return Answers.BuyerKey();
        }

        if (command.ExternalRef is { } reference && !Rules.IsValidName(reference, limits.MaxExternalRefLength))
        {
            return Outcome.Invalid("external_ref", Rules.NameRule("external_ref", limits.MaxExternalRefLength, reference));
        }

        string? eventId = null;
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

            eventId ??= node.EventId;
            if (!string.Equals(node.EventId, eventId, StringComparison.Ordinal))
            {
                return Outcome.Invalid($"items[{i}].capacity_id", "A waiting-list entry's capacities belong to one event.");
            }

            for (var j = 0; j < i; j++)
            {
                if (command.Items[j].CapacityId == item.CapacityId)
                {
                    return Outcome.Invalid($"items[{i}].capacity_id", $"Capacity {item.CapacityId} is named twice.");
                }
            }

            if (node.Waitlist is not { Enabled: true })
            {
                return new Outcome(OutcomeCode.WaitlistDisabled, $"Capacity {node.SectionName} ({node.Id}) has no waiting list open.", $"items[{i}].capacity_id")
                {
                    Capacity = Graph.View(node, set, set.Closure),
                };
            }
        }

        SumDemand(set, command.Items, out _);
        if (ClosedForGood(set, now) is { } closed)
        {
            return closed;
        }

        // An entry bigger than a pool it draws from could never be offered, yet it would be owed units
        // there for good: public holds and every fifo entry behind it would wait for nothing.
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (charge.Node.Ceiling is { } total && charge.Quantity > total)
            {
                return Outcome.Invalid(
                    "items", $"The entry asks {charge.Quantity} of {charge.Node.SectionName} ({charge.Node.Id}), which holds {total} in all: it could never be offered.");
            }
        }

        if (set.FindEntry(command.Id) is not null)
        {
            return Outcome.Invalid("id", $"Waiting-list entry {command.Id} already exists.");
        }

        // A buyer may not queue for more than a limit would let them hold: their usage (holds, sales and
        // the units their other entries wait for) plus this.
        var queue = set.QueueOf(command.TenantId, eventId!) ?? throw new MissingRowException($"The waiting list of event {eventId} was not loaded.");
        if (MeetsLimits(set, command.Items, command.BuyerKey) && CheckBuyerLimits(set, command.Items, command.BuyerKey) is { } overLimit)
        {
            return overLimit;
        }

        var entry = new WaitlistEntry
        {
            Id = command.Id,
            TenantId = command.TenantId,
            EventId = eventId!,
            Items = [.. command.Items],
            BuyerKey = command.BuyerKey,
            ExternalRef = command.ExternalRef,
            // After every entry the event ever had (offered, left and lapsed ones too), so that a
            // capacity's list pages by sequence without ties, whatever the clocks of the nodes say.
            Sequence = set.NextSequence(command.TenantId, eventId!),
            Status = WaitlistStatus.Waiting,
            CreatedAt = now,
            UpdatedAt = now,
        };
        set.AddNew(entry);
        Owe(set, entry, 1);

        // Units owed to the queue are no longer the public's: a join that leaves an early tier on sale
        // nothing for the public sells it out as a hold would (the next tier opens and the early one
        // closes; the entry keeps its place there), or the on-sale would stall with an early bird that
        // shows sold out and a next tier that never opens. Only a tier's source: a join takes nothing,
        // so it never closes a close_when_sold_out capacity for good (its buyer may leave at once), and
        // nothing sells out before it is on sale. Done here rather than after the command, so that the
        // answer tells where the entry stands once the tier it waits for has opened.
        SumDemand(set, entry.Items, out _);
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (charge.Node.Sale is { SoldOutAt: null, Successors.Length: > 0 } && OnSaleNow(set, charge.Node, now))
            {
                set.SellOutCandidates.Add(charge.Node);
            }
        }

        set.Unsettled.Add((command.TenantId, entry.EventId));
        SellOutAndSettle(set, now);

        var view = WaitlistEntryView.Of(entry);
        return new Outcome(OutcomeCode.Ok) { Entry = entry.Status == WaitlistStatus.Waiting ? view with { Position = Position(queue, entry) } : view };
    }

    /// <summary>
    /// The refusal of a join whose summed demand reaches a capacity that will not take the public's
    /// holds again by itself: one its sold-out rule closed (an early tier after its sell-out,
    /// <c>close_when_sold_out</c>), whose tickets that come back go to the entries that waited there before
    /// it closed and then to the next tier, never to a new queue; or one whose window has ended, where
    /// an entry would never be offered yet be owed units on every pool above for good. One closed by
    /// hand, a window not yet open or a tier not yet open will open again, so an entry may wait for them.
    /// </summary>
    private static Outcome? ClosedForGood(WorkingSet set, DateTimeOffset now)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (charge.Node.ClosedBySellOut)
            {
                return Answers.Inactive(charge.Node, set);
            }
        }

        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (charge.Node.Sale?.EndsAt <= now)
            {
                return Answers.NotOnSale(set, charge.Node, now);
            }
        }

        return null;
    }

    /// <summary>
    /// Whether a hold on <paramref name="node"/> alone would meet no closed gate now: it and every pool
    /// above it active, their windows open, no tier among them waiting for its earlier capacity.
    /// </summary>
    internal static bool OnSaleNow(WorkingSet set, CapacityNode node, DateTimeOffset now)
    {
        Graph.Closure(node, set, set.Closure);
        foreach (var reached in set.Closure)
        {
            if (!IsOpen(set, reached, now))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether the summed demand reaches a capacity whose window has ended: no hold, an offer included, is placed there again.</summary>
    private static bool ReachesEndedWindow(WorkingSet set, DateTimeOffset now)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (charge.Node.Sale?.EndsAt <= now)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether every node of the summed demand that is inactive was closed by its sold-out rule: closed to
    /// the public, its queue still offered, since those entries waited there before it closed.
    /// </summary>
    private static bool OpenToQueue(WorkingSet set)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (!charge.Node.IsActive && !charge.Node.ClosedBySellOut)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// After <paramref name="shrunk"/>'s ceiling came down (a smaller total or overbook allowance): a waiting
    /// entry that now asks more of a pool than the pool holds in all could never be offered, yet it would be
    /// owed units there for good, and public holds and every fifo entry behind it would wait for nothing. It
    /// lapses, as the join-time rule would have refused it, and its buyer hears <c>waitlist.lapsed</c>.
    /// </summary>
    private static void LapseEntriesTooLarge(WorkingSet set, CapacityNode shrunk, DateTimeOffset now)
    {
        var queue = set.QueueOf(shrunk.TenantId, shrunk.EventId) ?? throw new MissingRowException($"The waiting list of event {shrunk.EventId} was not loaded.");
        foreach (var entry in queue)
        {
            if (entry.Status == WaitlistStatus.Waiting && NeverFits(set, entry.Items))
            {
                Lapse(set, entry, WaitlistLapse.TooLarge, now);
                set.Unsettled.Add((entry.TenantId, entry.EventId));
            }
        }
    }

    /// <summary>A waiting entry that could never be offered lapses: owed nothing from now on, and its buyer hears <c>waitlist.lapsed</c>.</summary>
    private static void Lapse(WorkingSet set, WaitlistEntry entry, WaitlistLapse reason, DateTimeOffset now)
    {
        Owe(set, entry, -1);
        (entry.Status, entry.LapsedReason, entry.UpdatedAt) = (WaitlistStatus.Lapsed, reason, now);
        set.Touch(entry);
        if (entry.BuyerKey is not null)
        {
            // Its buyer's usage fell: an entry of theirs that a limit held back, ahead of this one, may fit now.
            set.Unsettled.Add((entry.TenantId, entry.EventId));
        }

        set.Notify(Topics.WaitlistLapsed, entry.TenantId, entry.EventId, WaitlistEntryView.Of(entry), now);
    }

    /// <summary>Whether these items ask more of some pool they draw from than it holds in all (its total and overbook allowance).</summary>
    private static bool NeverFits(WorkingSet set, WaitlistItem[] items)
    {
        SumDemand(set, items, out _);
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(set.Demand))
        {
            if (charge.Node.Ceiling is { } total && charge.Quantity > total)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Where a waiting entry stands: 1 + the entries ahead of it that still wait and share a capacity with it.</summary>
    public static long Position(IEnumerable<WaitlistEntry> queue, WaitlistEntry entry)
    {
        long position = 1;
        foreach (var other in queue)
        {
            if (other.Status == WaitlistStatus.Waiting && other.Sequence < entry.Sequence && SharesCapacity(other, entry))
            {
                position++;
            }
        }

        return position;
    }

    private static bool SharesCapacity(WaitlistEntry a, WaitlistEntry b)
    {
        foreach (var x in a.Items)
        {
            foreach (var y in b.Items)
            {
                if (x.CapacityId == y.CapacityId)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static Outcome LeaveWaitlist(WorkingSet set, LeaveWaitlist command, DateTimeOffset now)
    {
        var entry = set.FindEntry(command.Id);
        if (entry is null || entry.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"Waiting-list entry {command.Id} was not found.");
        }

        switch (entry.Status)
        {
            case WaitlistStatus.Waiting:
                Owe(set, entry, -1);
                break;
            case WaitlistStatus.Offered:
                // Its offer is released like any hold; the units go to the next in line below.
                ref var slot = ref set.SlotOf(entry.OfferReservationId!.Value);
                if (Unsafe.IsNullRef(ref slot))
                {
                    throw new MissingRowException($"Offer {entry.OfferReservationId} of waiting-list entry {entry.Id} was not loaded.");
                }

                // Leaving first, so that ending the offer does not mark the entry lapsed.
                (entry.Status, entry.UpdatedAt) = (WaitlistStatus.Left, now);
                if (slot.Value.Status == ReservationStatus.Active)
                {
                    var kind = now >= slot.Value.ExpiresAt ? LedgerKind.Expire : LedgerKind.Release;
                    End(set, slot.Value, kind, reservedSign: -1, soldSign: 0, now);
                    set.Replace(ref slot, slot.Value with { Status = kind == LedgerKind.Expire ? ReservationStatus.Expired : ReservationStatus.Released, EndedAt = now });
                }

                break;
            default:
                // Leaving is idempotent; an entry whose offer was accepted or lapsed has nothing left to leave.
                return new Outcome(entry.Status == WaitlistStatus.Left ? OutcomeCode.Unchanged : OutcomeCode.Ok) { Entry = WaitlistEntryView.Of(entry) };
        }

        // A fifo entry that left may have held back those behind it.
        (entry.Status, entry.UpdatedAt) = (WaitlistStatus.Left, now);
        set.Touch(entry);
        set.Unsettled.Add((entry.TenantId, entry.EventId));
        return new Outcome(OutcomeCode.Ok) { Entry = WaitlistEntryView.Of(entry) };
    }

    /// <summary>
    /// Adds (sign 1) or removes (sign -1) a waiting entry's units from what its capacities and every node
    /// above them are owed, and from its buyer's usage: an entry is a claim on tickets, so a buyer who
    /// queues for 4 under a limit of 4 may not also hold 4 elsewhere (the units would stay owed to an
    /// entry its limit never lets be offered). An offer moves them from the entry to its hold.
    /// </summary>
    private static void Owe(WorkingSet set, WaitlistEntry entry, int sign)
    {
        foreach (var item in entry.Items)
        {
            var node = set.FindCapacity(item.CapacityId) ?? throw new MissingRowException($"Capacity {item.CapacityId} of waiting-list entry {entry.Id} was not loaded.");
            node.WaitingUnits += sign * item.Quantity;
            if (entry.BuyerKey is { } buyerKey)
            {
                set.AddUsage(entry.TenantId, item.CapacityId, buyerKey, sign * item.Quantity);
            }

            if (node.WaitingUnits < 0)
            {
                throw new InvalidOperationException($"Waiting-list counters of capacity {node.Id} would go negative.");
            }

            WaitFor(set, node, sign * item.Quantity);
        }
    }

    /// <summary>
    /// Adds <paramref name="units"/> to what is waited for on <paramref name="node"/> and passes the
    /// change of its share up (<see cref="SyncShare"/>).
    /// </summary>
    private static void WaitFor(WorkingSet set, CapacityNode node, long units)
    {
        node.QueueDemand += units;
        if (node.QueueDemand < 0)
        {
            throw new InvalidOperationException($"Waiting-list counters of capacity {node.Id} would go negative.");
        }

        set.Touch(node);
        SyncShare(set, node);
    }

    /// <summary>
    /// Brings what a capacity passes up to its parents (<see cref="CapacityNode.ShareOf"/> of what is
    /// waited for on it) in step with its counters, level by level up: called wherever what is waited
    /// for on it, its reserved or sold units, its total or its allowance change while something is
    /// waited for on it. Its closure is loaded whenever any of those change.
    /// </summary>
    private static void SyncShare(WorkingSet set, CapacityNode node)
    {
        var delta = node.ShareOf(node.QueueDemand) - node.QueueShare;
        if (delta == 0)
        {
            return;
        }

        node.QueueShare += delta;
        foreach (var parentId in node.ParentIds)
        {
            var parent = set.FindCapacity(parentId) ?? throw new MissingRowException($"Capacity {parentId} above {node.Id} was not loaded.");
            WaitFor(set, parent, delta);
        }
    }

    /// <summary>Notes that units came free on nodes some waiting entry draws from; the command settles before it answers.</summary>
    private static void NoteFreed(WorkingSet set, CapacityNode node)
    {
        if (node.HasWaiting)
        {
            set.Unsettled.Add((node.TenantId, node.EventId));
        }
    }

    /// <summary>Marks the capacity's event unsettled: the engine settles it after the command, as it does after a release.</summary>
    private static Outcome SettleWaitlist(WorkingSet set, SettleWaitlist command)
    {
        if (set.FindCapacity(command.CapacityId) is not { } node)
        {
            return Outcome.NotFound($"Capacity {command.CapacityId} was not found.");
        }

        set.Unsettled.Add((node.TenantId, node.EventId));
        return new Outcome(OutcomeCode.Ok);
    }

    /// <summary>Walks every event whose waiting list may now fit an entry.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SettleUnsettled(WorkingSet set, DateTimeOffset now)
    {
        while (set.Unsettled.Count > 0)
        {
            var (tenantId, eventId) = set.Unsettled.First();
            set.Unsettled.Remove((tenantId, eventId));
            Settle(set, tenantId, eventId, now);
        }
    }

    /// <summary>
    /// Offers every waiting entry of the event that fits and is on sale now, in the order they joined. An entry fits when
    /// every node it draws from has the units free, less what entries ahead of it on a <c>fifo</c> list
    /// (which keep their place while they do not fit) need there. An entry its buyer's limit would
    /// refuse (a limit lowered or created since it joined) is passed over and keeps waiting. An entry reaching a window that has ended lapses.
    /// </summary>
    private static void Settle(WorkingSet set, Guid tenantId, string eventId, DateTimeOffset now)
    {
        var queue = set.QueueOf(tenantId, eventId) ?? throw new MissingRowException($"The waiting list of event {eventId} was not loaded.");
        var ahead = set.Ahead;
        ahead.Clear();
        foreach (var entry in queue)
        {
            if (entry.Status != WaitlistStatus.Waiting)
            {
                continue;
            }

            var items = entry.Items;
            var fits = (SumDemand(set, items, out _) || OpenToQueue(set)) && FitsAhead(set.Demand, ahead);
            if (set.DemandHasRules)
            {
                // A window it reaches has ended, so the entry could never be offered, yet it would be owed
                // units on every pool above for good: it lapses, as a join there would be refused, and those
                // behind it and the public may have the units. (A capacity its sold-out rule closed is
                // closed to the public only: entries that waited there before are still offered.)
                if (ReachesEndedWindow(set, now))
                {
                    Lapse(set, entry, WaitlistLapse.SaleEnded, now);
                    continue;
                }

                // An offer is a hold, and no hold is placed before a window opens or on a tier not yet
                // open: the entry waits for that, without holding back entries for what is on sale.
                if (FirstClosedForSale(set, now) is not null)
                {
                    continue;
                }
            }

            if (fits)
            {
                // Its units are in its buyer's usage already: the offer gives them back as it takes them.
                var refused = MeetsLimits(set, items, entry.BuyerKey) ? CheckBuyerLimits(set, items, entry.BuyerKey, givenBack: items) : null;
                if (refused is null)
                {
                    Offer(set, entry, now);
                    continue;
                }

                // No buyer key, under a limit that now requires one: no offer could ever be made, and
                // keeping its place would keep its units from everyone. (A keyed entry past its limit
                // waits, passed over, for its buyer to have room again.)
                if (refused.Value.Code == OutcomeCode.BuyerKeyRequired)
                {
                    Lapse(set, entry, WaitlistLapse.BuyerKeyRequired, now);
                    continue;
                }
            }

            if (fits || !KeepsItsPlace(set, entry))
            {
                continue;
            }

            KeepPlace(set, entry);
        }

        ahead.Clear();
    }

    /// <summary>
    /// An entry that does not fit keeps its place: the entries behind it may not have the units it waits
    /// for, on its capacities and on every node above them, counted as <see cref="CapacityNode.QueueDemand"/>
    /// is (units a full section's queue could never be offered are no one's to keep from the entries
    /// behind on other sections).
    /// </summary>
    private static void KeepPlace(WorkingSet set, WaitlistEntry entry)
    {
        foreach (var item in entry.Items)
        {
            WaitAhead(set, set.FindCapacity(item.CapacityId)!, item.Quantity);
        }
    }

    private static void WaitAhead(WorkingSet set, CapacityNode node, long units)
    {
        ref var waited = ref CollectionsMarshal.GetValueRefOrAddDefault(set.Ahead, node, out _);
        var before = node.ShareOf(waited);
        waited += units;
        var passed = node.ShareOf(waited) - before;
        if (passed > 0)
        {
            foreach (var parentId in node.ParentIds)
            {
                WaitAhead(set, set.FindCapacity(parentId)!, passed);
            }
        }
    }

    private static bool FitsAhead(List<(CapacityNode Node, long Quantity)> demand, Dictionary<CapacityNode, long> ahead)
    {
        foreach (ref readonly var charge in CollectionsMarshal.AsSpan(demand))
        {
            if (charge.Node.Free is { } free && free - ahead.GetValueOrDefault(charge.Node) < charge.Quantity)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether an entry that does not fit holds back those behind it: it does when any of its capacities' lists is <c>fifo</c>.</summary>
    private static bool KeepsItsPlace(WorkingSet set, WaitlistEntry entry)
    {
        foreach (var item in entry.Items)
        {
            if (set.FindCapacity(item.CapacityId)!.Waitlist is not { Policy: WaitlistPolicy.FirstFit })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Turns a waiting entry into an offer: an ordinary hold of its items for the shortest
    /// <c>offer_minutes</c> of its capacities, with the entry's id as the reservation's id (an entry
    /// is offered at most once) and the buyer's key, counted against the buyer's limits.
    /// </summary>
    private static void Offer(WorkingSet set, WaitlistEntry entry, DateTimeOffset now)
    {
        Owe(set, entry, -1);
        var minutes = int.MaxValue;
        var items = new ReservationItem[entry.Items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            var item = entry.Items[i];
            minutes = Math.Min(minutes, set.FindCapacity(item.CapacityId)!.Waitlist!.OfferMinutes);
            items[i] = new ReservationItem(item.CapacityId, item.Quantity, null);
        }

        var offer = new Reservation(entry.Id, entry.TenantId, ReservationStatus.Active, items, now, AfterMinutes(now, minutes), null, null, entry.BuyerKey, entry.Id,
            entry.ExternalRef is { } reference ? new ReservationLabels(reference, null) : null);
        SumDemand(set, items, out _);
        ApplyDemand(set, offer.Id, LedgerKind.Hold, reservedSign: 1, soldSign: 0, now, offer: true);
        if (offer.BuyerKey is not null)
        {
            CountUsage(set, offer, 1);
        }

        set.AddNew(offer);
        CountOffered(set, entry.Items, 1);
        (entry.Status, entry.OfferReservationId, entry.UpdatedAt) = (WaitlistStatus.Offered, offer.Id, now);
        set.Touch(entry);
    }

    private static void CountOffered<T>(WorkingSet set, T[] items, int sign)
        where T : struct, IDemand
    {
        foreach (var item in items)
        {
            var node = set.FindCapacity(item.CapacityId)!;
            node.OfferedUnits += sign * item.Quantity;
            set.Touch(node);
        }
    }

    /// <summary>An offer ended: confirmed, its entry is accepted; released or expired, the entry lapses and its units go on down the line.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void EndOffer(WorkingSet set, in Reservation offer, LedgerKind kind, DateTimeOffset now)
    {
        if (kind == LedgerKind.Cancel)
        {
            // A refund of an accepted offer: a sale like any other.
            return;
        }

        CountOffered(set, offer.Items, -1);
        var entryId = offer.WaitlistId!.Value;
        var entry = set.FindEntry(entryId) ?? throw new MissingRowException($"Waiting-list entry {entryId} of an offer was not loaded.");
        if (entry.Status != WaitlistStatus.Offered)
        {
            // Left already: leaving releases the offer.
            return;
        }

        entry.Status = kind == LedgerKind.Confirm ? WaitlistStatus.Accepted : WaitlistStatus.Lapsed;
        entry.LapsedReason = kind switch
        {
            LedgerKind.Confirm => null,
            LedgerKind.Expire => WaitlistLapse.OfferExpired,
            _ => WaitlistLapse.OfferReleased,
        };
        entry.UpdatedAt = now;
        set.Touch(entry);
    }
}

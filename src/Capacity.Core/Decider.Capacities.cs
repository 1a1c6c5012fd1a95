namespace Capacity.Core;

public static partial class Decider
{
    private static Outcome CreateCapacity(WorkingSet set, CreateCapacity command, DateTimeOffset now, CoreLimits limits)
    {
        if (!Rules.IsValidEventId(command.EventId))
        {
            return Outcome.Invalid("event_id", $"event_id {Rules.EventIdRule}");
        }

        if (command.ScheduleId is not null && !Rules.IsValidEventId(command.ScheduleId))
        {
            return Outcome.Invalid("schedule_id", $"schedule_id {Rules.EventIdRule}");
        }

        if (CheckShape(command.SectionName, command.SectionCode, command.Total, null, limits) is { } shape)
        {
            return shape;
        }

        if (command.ParentIds.Length > limits.MaxParents)
        {
            return Outcome.Invalid("parent_ids", $"A capacity has at most {limits.MaxParents} parents.");
        }

        var mode = CapacityNode.ModeOf(command.Total, command.ParentIds);
        if (command.Mode is { } asked && asked != mode)
        {
            return ModeDisagrees(asked, mode);
        }

        if (set.HasCapacity(command.Id))
        {
            return Outcome.Invalid("id", $"Capacity {command.Id} already exists.");
        }

        if (CheckParents(set, command) is { } parents)
        {
            return parents;
        }

        var sale = command.Sale;
        if (sale is not null && CheckSale(set, command.TenantId, command.Id, command.EventId, command.Total, sale, null, limits) is { } badSale)
        {
            return badSale;
        }

        // Counted in the batch, on the store's count (which nothing else can add to before this batch
        // commits) plus the creates before this one: racing creates cannot pass the bound.
        if (command.MaxInEvent < int.MaxValue)
        {
            var size = set.EventSize(command.TenantId, command.EventId)
                ?? throw new MissingRowException($"The number of capacities of event {command.EventId} was not loaded.");
            if (size >= command.MaxInEvent)
            {
                return Outcome.TooManyCapacities(command.EventId, command.MaxInEvent);
            }
        }

        var node = new CapacityNode
        {
            Id = command.Id,
            TenantId = command.TenantId,
            EventId = command.EventId,
            ScheduleId = command.ScheduleId,
            SectionName = command.SectionName,
            SectionCode = command.SectionCode,
            Total = command.Total,
            // A copy: the graph must not change if the caller reuses its array.
            ParentIds = [.. command.ParentIds],
            IsActive = command.IsActive,
            CreatedAt = now,
            UpdatedAt = now,
            Sale = sale is null
                ? null
                : WithNextEdge(sale with { StartsAt = Ms(sale.StartsAt), EndsAt = Ms(sale.EndsAt), TierOpen = false, SoldOutAt = null, ClosedReason = null, Successors = null }, now),
        };

        // Parents exist before their children and never change, so a new node cannot close a cycle;
        // depth is the only graph rule left to check.
        if (Graph.Depth(node, set) > limits.MaxDepth)
        {
            return Outcome.Invalid("parent_ids", $"Capacities nest at most {limits.MaxDepth} levels deep.");
        }

        set.AddNew(node);
        if (node.Sale?.OpensAfter is { } earlier)
        {
            FollowTier(set, node, set.FindCapacity(earlier)!, now);
        }

        return new Outcome(OutcomeCode.Ok) { Capacity = Graph.View(node, set, set.Closure) };
    }

    /// <summary>
    /// Checks sale rules as they would stand on a capacity: overbooking only on a limited capacity and
    /// within bounds, a window that ends after it starts, and a tier that follows another capacity of
    /// the same tenant and event. A tier is set once (at creation or by the first update that names
    /// one) and only on a capacity no other tier follows, so a chain can never close into a cycle.
    /// </summary>
    private static Outcome? CheckSale(
        WorkingSet set, Guid tenantId, Guid id, string eventId, int? total, SaleRules rules, SaleRules? current, CoreLimits limits)
    {
        if (rules.OverbookLimit < 0 || rules.OverbookLimit > limits.MaxTotalCapacity)
        {
            return Outcome.Invalid("overbook_limit", $"overbook_limit must be between 0 and {limits.MaxTotalCapacity}.");
        }

        if (rules.OverbookLimit > 0 && total is null)
        {
            return Outcome.Invalid("overbook_limit", "overbook_limit applies to a limited capacity; an unlimited one has no total to go past.");
        }

        if (rules.LowWatermark is < 0 || rules.LowWatermark > limits.MaxTotalCapacity)
        {
            return Outcome.Invalid("low_watermark", $"low_watermark must be between 0 and {limits.MaxTotalCapacity}.");
        }

        if (rules.StartsAt is { } starts && rules.EndsAt is { } ends && ends <= starts)
        {
            return Outcome.Invalid("sale_ends_at", "sale_ends_at must be after sale_starts_at.");
        }

        if (current?.OpensAfter is { } fixedEarlier && rules.OpensAfter != fixedEarlier)
        {
            return Outcome.Invalid("opens_after_sold_out_of", $"opens_after_sold_out_of is set once; this capacity opens after {fixedEarlier}.");
        }

        if (rules.OpensAfter is not { } earlierId || current?.OpensAfter == earlierId)
        {
            return null;
        }

        if (current?.Successors is { Length: > 0 } followers)
        {
            return Outcome.Invalid(
                "opens_after_sold_out_of", $"Capacity {followers[0]} opens after this one; a tier that others follow cannot follow another (a chain must not close into a cycle).");
        }

        var earlier = set.FindCapacity(earlierId);
        if (earlier is null || earlier.TenantId != tenantId)
        {
            return Outcome.Invalid("opens_after_sold_out_of", $"Capacity {earlierId} does not exist.");
        }

        if (earlier.Id == id)
        {
            return Outcome.Invalid("opens_after_sold_out_of", "A capacity cannot open after itself.");
        }

        return string.Equals(earlier.EventId, eventId, StringComparison.Ordinal)
            ? null
            : Outcome.Invalid("opens_after_sold_out_of", $"Capacity {earlierId} is in event {earlier.EventId}; a tier follows a capacity of its own event.");
    }

    /// <summary>
    /// Makes <paramref name="tier"/> follow <paramref name="earlier"/>: the earlier capacity lists it, so
    /// the batch that sells the earlier one out opens it. If that has happened already, or the earlier
    /// one's window has ended (it can sell out no more), it opens now; if
    /// the earlier one has nothing available now, it sells out now, as in a hold's batch: every tier
    /// after it opens (this one too) and it closes, so that tickets coming back to it go to the tiers.
    /// Opening at once is recorded (and told as <c>tier_opened</c>) only when <paramref name="told"/>: a
    /// new capacity's opening is; a capacity made a tier by a PUT was never held back by the tier, so
    /// one that follows a capacity already sold out stays open with nothing recorded or told.
    /// </summary>
    private static void FollowTier(WorkingSet set, CapacityNode tier, CapacityNode earlier, DateTimeOffset now, bool told = true)
    {
        var rules = earlier.Sale ?? new SaleRules();
        earlier.Sale = rules with { Successors = [.. rules.Successors ?? [], tier.Id] };
        earlier.UpdatedAt = now;
        set.Touch(earlier);
        if (rules.SoldOutAt is not null || EndedUnsold(rules, now))
        {
            OpenTier(set, tier, now, told);
        }
        else if (Graph.Available(earlier, set, set.Closure) == 0)
        {
            if (!told)
            {
                OpenTier(set, tier, now, told: false);
            }

            SellOut(set, earlier, earlier.Sale, now);
        }
    }

    private static void OpenTier(WorkingSet set, CapacityNode tier, DateTimeOffset now, bool told = true)
    {
        tier.Sale = tier.Sale! with { TierOpen = true };
        tier.UpdatedAt = now;
        set.Touch(tier);
        if (told)
        {
            set.Append(tier, LedgerKind.Open, Guid.Empty, 0, 0, now);
        }

        // A tier whose own window ended while it waited opens with nothing to sell: those after it open too.
        OpenSuccessorsIfEnded(set, tier, now);

        // Entries that waited for the tier to open are offered now, in the same batch.
        if (tier.HasWaiting)
        {
            set.Unsettled.Add((tier.TenantId, tier.EventId));
        }
    }

    /// <summary>
    /// What follows a command in its batch, before the next one is decided: capacities it sold out
    /// (tiers open, capacities close), then waiting lists it freed or opened units for (whose offers
    /// may sell out more), until nothing moves. The engine and every test of the core call this one
    /// method, so they agree.
    /// </summary>
    public static void AfterCommand(WorkingSet set, DateTimeOffset now)
    {
        set.Clock = now;
        SellOutAndSettle(set, now);

        if (set.HasWatchers)
        {
            CollectNotices(set, now);
        }
    }

    /// <summary>
    /// Sells out what the command left with nothing available, then settles the waiting lists it freed
    /// or opened units for, until nothing moves: an offer may sell a tier out, which opens the next,
    /// whose entries are offered in turn. Each tier opens once and each entry is offered once, so this ends.
    /// </summary>
    private static void SellOutAndSettle(WorkingSet set, DateTimeOffset now)
    {
        if (set.HasSellOutCandidates)
        {
            ApplySellOuts(set, now);
        }

        while (set.HasUnsettled)
        {
            SettleWaitlists(set, now);
            if (set.HasSellOutCandidates)
            {
                ApplySellOuts(set, now);
            }
        }
    }

    /// <summary>
    /// After a command: every capacity with a sold-out rule that the command took units from, and whose
    /// availability is now 0, sells out. The first time, the tiers that follow it open and it closes
    /// (tickets that come back to an early bird go to the next tier, not to a reopened early bird);
    /// with <c>close_when_sold_out</c> it closes too. A PUT with <c>is_active: true</c> reopens a closed
    /// one. Each step is one ledger entry, in the same batch as the hold that took the last ticket, so
    /// every node sees the tier open at once.
    /// </summary>
    public static void ApplySellOuts(WorkingSet set, DateTimeOffset now)
    {
        foreach (var node in set.SellOutCandidates)
        {
            // An early tier sells out when the public has nothing left of it, what the queue is owed
            // included (else the next tier would wait for tickets the public can never have); a capacity
            // that only closes, when every unit is held or sold (units only owed may yet come back to
            // the public when their entry leaves, and a closed capacity could not sell them).
            if (node.Sale is { WatchesSellOut: true } rules
                && (rules is { SoldOutAt: null, Successors.Length: > 0 } ? Graph.Available(node, set, set.Closure) : Graph.Unheld(node, set, set.Closure)) == 0)
            {
                SellOut(set, node, rules, now);
            }
        }

        set.SellOutCandidates.Clear();
    }

    /// <summary>A capacity whose sold-out rule watches it has nothing available: see <see cref="ApplySellOuts"/>.</summary>
    private static void SellOut(WorkingSet set, CapacityNode node, SaleRules rules, DateTimeOffset now)
    {
        var next = rules;
        var close = rules.CloseWhenSoldOut;
        if (rules.SoldOutAt is null)
        {
            next = next with { SoldOutAt = now };
            close |= rules.Successors is { Length: > 0 };
            OpenSuccessors(set, node, rules, now);
        }

        if (close && node.IsActive)
        {
            node.IsActive = false;
            next = next with { ClosedReason = SaleRules.SoldOutReason };
            set.Append(node, LedgerKind.Close, Guid.Empty, 0, 0, now);
        }

        node.Sale = next;
        node.UpdatedAt = now;
        set.Touch(node);
    }

    /// <summary>Opens every tier that follows <paramref name="node"/> and is not open yet.</summary>
    private static void OpenSuccessors(WorkingSet set, CapacityNode node, SaleRules rules, DateTimeOffset now)
    {
        foreach (var followerId in rules.Successors ?? [])
        {
            var follower = set.FindCapacity(followerId) ?? throw new MissingRowException($"Capacity {followerId}, which opens after {node.Id}, was not loaded.");
            if (follower.Sale is { TierOpen: false })
            {
                OpenTier(set, follower, now);
            }
        }
    }

    /// <summary>
    /// An earlier tier whose own window has ended can sell out no more: the tiers that follow it open
    /// (an early bird "until 200 are sold or until 1 March"). It is not closed or marked sold out; a
    /// window opened again later sells both, since a tier stays open for good.
    /// </summary>
    private static void OpenSuccessorsIfEnded(WorkingSet set, CapacityNode node, DateTimeOffset now)
    {
        if (node.Sale is { Successors.Length: > 0 } rules && EndedUnsold(rules, now))
        {
            OpenSuccessors(set, node, rules, now);
        }
    }

    /// <summary>
    /// Whether a capacity's own window has ended before it sold out, while it could sell: a tier not
    /// yet open has sold nothing in its window, so the tiers after it wait for it to open (and open
    /// with it, its window being over: <see cref="OpenTier"/>), not for its window.
    /// </summary>
    private static bool EndedUnsold(SaleRules rules, DateTimeOffset now) =>
        rules is { SoldOutAt: null, EndsAt: { } ends } && ends <= now && !(rules.OpensAfter is not null && !rules.TierOpen);

    private static Outcome ModeDisagrees(CapacityMode asked, CapacityMode described) =>
        Outcome.Invalid("mode", $"mode '{asked.ToString().ToLowerInvariant()}' disagrees with the other fields, which describe '{described.ToString().ToLowerInvariant()}'. "
            + "own: limited, no parents; capped: limited, with parents; shared: unlimited, with parents; unlimited: unlimited, no parents.");

    /// <summary>Each parent exists, belongs to the tenant and is named once.</summary>
    private static Outcome? CheckParents(WorkingSet set, CreateCapacity command)
    {
        var parentIds = command.ParentIds;
        for (var i = 0; i < parentIds.Length; i++)
        {
            var parent = set.FindCapacity(parentIds[i]);
            if (parent is null || parent.TenantId != command.TenantId)
            {
                return Outcome.Invalid($"parent_ids[{i}]", $"Capacity {parentIds[i]} does not exist.");
            }

            if (Array.IndexOf(parentIds, parentIds[i]) != i)
            {
                return Outcome.Invalid($"parent_ids[{i}]", $"Capacity {parentIds[i]} is named twice.");
            }
        }

        return null;
    }

    private static CapacityNode? OtherEventAbove(WorkingSet set, CapacityNode node)
    {
        Graph.Closure(node, set, set.Closure);
        foreach (var reached in set.Closure)
        {
            if (!string.Equals(reached.EventId, node.EventId, StringComparison.Ordinal))
            {
                return reached;
            }
        }

        return null;
    }

    private static Outcome UpdateCapacity(WorkingSet set, UpdateCapacity command, DateTimeOffset now, CoreLimits limits)
    {
        var node = set.FindCapacity(command.Id);
        if (node is null || node.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"Capacity {command.Id} was not found.");
        }

        var name = command.SectionName.Or(node.SectionName);
        var code = command.SectionCode.Or(node.SectionCode);
        var total = command.Total.Or(node.Total);
        if (CheckShape(name, code, total, node, limits) is { } shape)
        {
            return shape;
        }

        var waitlist = command.Waitlist is { } patch ? patch.Apply(node.Waitlist, limits) : node.Waitlist;
        if (waitlist is not null && (waitlist.OfferMinutes < 1 || waitlist.OfferMinutes > limits.MaxOfferMinutes))
        {
            return Outcome.Invalid("waitlist.offer_minutes", $"offer_minutes must be between 1 and {limits.MaxOfferMinutes}.");
        }

        // Units freed on a pool wake the waiting list of the pool's own event; a list on a capacity that
        // draws from another event's pool would be owed units there that no one would know to offer.
        if (waitlist is { Enabled: true } && command.Waitlist is not null && OtherEventAbove(set, node) is { } foreign)
        {
            return Outcome.Invalid(
                "waitlist", $"A waiting list needs every pool its capacity draws from in the same event; {foreign.SectionName} ({foreign.Id}) is in event {foreign.EventId}.");
        }

        var sale = command.Sale is { } patch2 ? Patched(node.Sale, patch2) : node.Sale;
        if (sale is not null && (command.Sale is not null || command.Total.IsSet)
            && CheckSale(set, node.TenantId, node.Id, node.EventId, total, sale, node.Sale, limits) is { } badSale)
        {
            return badSale;
        }

        var committed = node.Reserved + node.Sold;
        var overbook = sale?.OverbookLimit ?? 0;
        if (total is { } newTotal && newTotal + overbook < committed)
        {
            return new Outcome(
                OutcomeCode.BelowCommitted,
                overbook == 0
                    ? $"total_capacity {newTotal} is below the {committed} tickets already held or sold ({node.Reserved} reserved, {node.Sold} sold)."
                    : $"total_capacity {newTotal} with overbook_limit {overbook} is below the {committed} tickets already held or sold ({node.Reserved} reserved, {node.Sold} sold).",
                command.Total.IsSet ? "total_capacity" : "overbook_limit");
        }

        var isActive = command.IsActive.Or(node.IsActive);

        // Reopening by hand drops the sold-out rule's close; closing by hand what that rule closed
        // changes nothing (it stays closed for good to new joins, its queue still served).
        var reopening = command.IsActive.IsSet && isActive && sale?.ClosedReason is not null;

        // A PUT that changes nothing writes nothing, and updated_at keeps saying when it last changed.
        if (name == node.SectionName && code == node.SectionCode && total == node.Total && isActive == node.IsActive
            && waitlist == node.Waitlist && sale == node.Sale && !reopening)
        {
            return new Outcome(OutcomeCode.Ok) { Capacity = Graph.View(node, set, set.Closure) };
        }

        // A due edge the sweep has not passed yet is passed first, by the rules it was due under: the
        // PUT works the next edge out anew from now, and would otherwise skip it and its notice.
        if (command.Sale is not null)
        {
            PassEdge(set, node, now);
        }

        var newlyFollowing = sale?.OpensAfter is { } earlierId && node.Sale?.OpensAfter is null ? set.FindCapacity(earlierId) : null;
        var watched = set.Watches(node.TenantId, Topics.All);
        var (freeBefore, openBefore) = watched ? (node.Free, IsOpen(set, node, now)) : (null, false);
        var ceilingBefore = node.Ceiling;
        node.SectionName = name;
        node.SectionCode = code;
        node.Total = total;
        node.IsActive = isActive;
        node.Waitlist = waitlist;
        node.Sale = reopening ? sale! with { ClosedReason = null } : sale;
        if (command.Sale is not null && node.Sale is not null)
        {
            node.Sale = WithNextEdge(node.Sale, now);
        }

        node.UpdatedAt = now;
        set.Touch(node);
        if (node.QueueDemand > 0)
        {
            // A resize or a new allowance changes what could be given here, so what passes up to the pools above.
            SyncShare(set, node);
        }

        // Before a tier is judged: entries the resize lapses are owed nothing on the pools above.
        if (node.HasWaiting && node.Ceiling < (ceilingBefore ?? long.MaxValue))
        {
            LapseEntriesTooLarge(set, node, now);
        }

        if (newlyFollowing is not null)
        {
            node.Sale = node.Sale! with { TierOpen = false };
            FollowTier(set, node, newlyFollowing, now, told: false);
        }

        // A window that now ends at or before now: no sweep will pass that edge (the next edge was
        // just worked out from now), so the tiers that wait for this capacity open here.
        if (command.Sale is not null)
        {
            OpenSuccessorsIfEnded(set, node, now);
        }

        // A rule set on a capacity that is sold out already applies now, as does a resize that leaves it
        // nothing; a hand that reopens one is obeyed until the next hold takes its last ticket. Only
        // while it is on sale, by its own rules and its pools': before a window or its tier opens, what
        // its waiting list is owed is no sale, and the window's opening offers it (an offer that takes
        // the last units sells it out).
        if ((command.Sale is not null || command.Total.IsSet) && !command.IsActive.IsSet && node.Sale is { WatchesSellOut: true } && OnSaleNow(set, node, now))
        {
            set.SellOutCandidates.Add(node);
        }

        // A larger total, a reopened capacity or a changed policy may fit entries that waited; a window
        // ended by the PUT lapses those below that reach it.
        MarkWindowUnsettled(set, node, ended: command.Sale is not null && node.Sale?.EndsAt <= now);

        if (watched)
        {
            if (IsOpen(set, node, now) != openBefore)
            {
                NoticeState(set, node, command.IsActive.IsSet && isActive != openBefore ? (isActive ? "activated" : "deactivated") : "updated", now);
            }

            // Judged with what the rest of the command does (offers it makes may take the units again).
            set.FreeAtStart.TryAdd(node, freeBefore);
        }

        // Here rather than after the command, so that the answer shows what the PUT led to: a sell-out
        // that closed it, offers its waiting list was made.
        SellOutAndSettle(set, now);
        return new Outcome(OutcomeCode.Ok) { Capacity = Graph.View(node, set, set.Closure) };
    }

    private static SaleRules WithNextEdge(SaleRules rules, DateTimeOffset now) => rules with { EdgeAt = rules.NextEdgeAfter(now) };

    private static Outcome PassSaleEdges(WorkingSet set, PassSaleEdges command, DateTimeOffset now)
    {
        var passed = 0;
        foreach (var id in command.CapacityIds)
        {
            if (set.FindCapacity(id) is { } node && PassEdge(set, node, now))
            {
                passed++;
            }
        }

        return new Outcome(OutcomeCode.Ok) { Count = passed };
    }

    /// <summary>
    /// Passes the capacity's window edge if one is due and no sweep has passed it yet: its waiting list
    /// and sell-out are judged, the tiers an ended window releases open, and subscribers are told. The
    /// sweep does it, and so does a PUT of the sale rules before it works out the next edge anew (which
    /// would otherwise skip the due one, and its notice with it).
    /// </summary>
    private static bool PassEdge(WorkingSet set, CapacityNode node, DateTimeOffset now)
    {
        if (node.Sale is not { EdgeAt: { } edge } rules || edge > now)
        {
            return false;
        }

        node.Sale = WithNextEdge(rules, now);
        node.UpdatedAt = now;
        set.Touch(node);

        // A start offers only entries with room; an end lapses every entry below that reaches it.
        MarkWindowUnsettled(set, node, ended: rules.EndsAt <= now);

        // Blocks and waiting entries may take an early tier's units before its window opens, and
        // then no hold can take it to 0: the opening judges it, so that the next tier opens with
        // the sale rather than at some later command (the offers the opening makes may take it to
        // 0 too; SellOutAndSettle judges again after them).
        if (node.Sale is { WatchesSellOut: true } && OnSaleNow(set, node, now))
        {
            set.SellOutCandidates.Add(node);
        }

        OpenSuccessorsIfEnded(set, node, now);
        if (set.Watches(node.TenantId, Topics.CapacityStateChanged) && EdgeChangesSale(set, node, rules, now))
        {
            NoticeState(set, node, rules.EndsAt <= now ? "sale_ended" : "sale_started", now);
        }

        return true;
    }

    /// <summary>
    /// Marks the capacity's event for settling when entries draw from it, or, where its window has
    /// <paramref name="ended"/>, whenever the event's list is loaded (the sweep's and a sale-rule PUT's
    /// batches load it): the end lapses every entry below that reaches it, also those owed nothing
    /// because their own capacity is full, which no counter here shows.
    /// </summary>
    private static void MarkWindowUnsettled(WorkingSet set, CapacityNode node, bool ended)
    {
        if (node.HasWaiting || ended && set.QueueOf(node.TenantId, node.EventId) is not null)
        {
            set.Unsettled.Add((node.TenantId, node.EventId));
        }
    }

    /// <summary>
    /// Whether passing a window's edge opens the capacity for sale (it is on sale now) or closes it (it was
    /// on sale just before its end): a capacity deactivated, closed by its sold-out rule, a tier not yet
    /// open or under a pool that holds it back neither opens nor closes at its own edge, and is not told so.
    /// </summary>
    private static bool EdgeChangesSale(WorkingSet set, CapacityNode node, SaleRules rules, DateTimeOffset now) =>
        rules.EndsAt is { } ends && ends <= now ? OnSaleNow(set, node, ends.AddMilliseconds(-1)) : OnSaleNow(set, node, now);

    /// <summary>Whether a capacity takes holds at all at <paramref name="now"/> (sold out counts as open): what <c>capacity.state_changed</c> reports.</summary>
    private static bool IsOpen(WorkingSet set, CapacityNode node, DateTimeOffset now) =>
        SaleRulesOf.State(node.Sale, node.IsActive, null, now).State == SaleState.OnSale;

    /// <summary>An instant to the millisecond, as the stores keep it: a decision must not depend on precision a reload loses.</summary>
    private static DateTimeOffset? Ms(DateTimeOffset? at) => at is { } t ? Rules.ToMillisecond(t) : null;

    private static SaleRules Patched(SaleRules? current, SalePatch patch)
    {
        var rules = current ?? new SaleRules();
        return rules with
        {
            StartsAt = Ms(patch.StartsAt.Or(rules.StartsAt)),
            EndsAt = Ms(patch.EndsAt.Or(rules.EndsAt)),
            OpensAfter = patch.OpensAfter.Or(rules.OpensAfter),
            CloseWhenSoldOut = patch.CloseWhenSoldOut.Or(rules.CloseWhenSoldOut),
            OverbookLimit = patch.OverbookLimit.Or(rules.OverbookLimit),
            LowWatermark = patch.LowWatermark.Or(rules.LowWatermark),
        };
    }

    // stored: the capacity as it is, for an update; its name and code as stored are not judged again.
    private static Outcome? CheckShape(string name, string? code, int? total, CapacityNode? stored, CoreLimits limits)
    {
        if (!Rules.IsValidNameChange(name, stored?.SectionName, limits.MaxNameLength))
        {
            return Outcome.Invalid("section_name", Rules.NameRule("section_name", limits.MaxNameLength, name));
        }

        if (code is not null && !Rules.IsValidNameChange(code, stored?.SectionCode, limits.MaxCodeLength))
        {
            return Outcome.Invalid("section_code", Rules.NameRule("section_code", limits.MaxCodeLength, code));
        }

        if (total is < 0 || total > limits.MaxTotalCapacity)
        {
            return Outcome.Invalid("total_capacity", $"total_capacity must be between 0 and {limits.MaxTotalCapacity}, or null for unlimited.");
        }

        return null;
    }
}

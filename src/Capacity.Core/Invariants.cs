namespace Capacity.Core;

/// <summary>
/// What must always hold, stated once. Tests call it after every step; the verify operation calls
/// it against the whole store.
/// </summary>
public static class Invariants
{
    /// <summary>
    /// Per node: counters are never negative, a limited node never holds more than its limit, and the
    /// counters equal what the holds add up to (active holds in reserved, confirmed ones in sold).
    /// Returns one line per violation; empty means everything holds.
    /// </summary>
    public static List<string> Check(IReadOnlyCollection<CapacityNode> nodes, IEnumerable<Reservation> reservations) =>
        Check(nodes, reservations, []);

    /// <summary>The same, with the allocations the holds may draw from.</summary>
    public static List<string> Check(IReadOnlyCollection<CapacityNode> nodes, IEnumerable<Reservation> reservations, IReadOnlyCollection<Allocation> allocations)
    {
        var sums = new HoldSums();
        foreach (var r in reservations)
        {
            sums.Add(r);
        }

        return Check(nodes, sums, allocations);
    }

    /// <summary>
    /// The same check from per-capacity sums of the holds, so that a whole store can be audited
    /// without keeping its holds in memory: each capacity's direct sums are charged to it and to
    /// every ancestor once, exactly as a hold charges them.
    /// </summary>
    public static List<string> Check(IReadOnlyCollection<CapacityNode> nodes, HoldSums holds) => Check(nodes, holds, []);

    /// <summary>
    /// The same, with allocations: a capacity's reserved is its live public holds plus every
    /// allocation's size less what it sold (charged to it and every ancestor); each allocation's held
    /// and sold equal its live holds and sales, its idle is never negative, and a closed one keeps no idle.
    /// </summary>
    public static List<string> Check(IReadOnlyCollection<CapacityNode> nodes, HoldSums holds, IReadOnlyCollection<Allocation> allocations)
    {
        var violations = new List<string>();
        var byId = new Lookup(nodes);
        var expected = nodes.ToDictionary(n => n.Id, _ => (Reserved: 0L, Sold: 0L));
        var closure = new List<CapacityNode>();
        var direct = holds.ByCapacity.ToDictionary(e => e.Key, e => e.Value);
        foreach (var a in allocations)
        {
            var (reserved, sold) = direct.GetValueOrDefault(a.CapacityId);
            direct[a.CapacityId] = (reserved + a.Charged, sold);
            CheckAllocation(a, holds, violations);
        }

        foreach (var (capacityId, (reserved, sold)) in direct)
        {
            var node = byId.FindCapacity(capacityId);
            if (node is null)
            {
                violations.Add($"holds name capacity {capacityId}, which does not exist");
                continue;
            }

            try
            {
                Graph.Closure(node, byId, closure);
            }
            catch (InvalidOperationException ex)
            {
                violations.Add($"holds on capacity {capacityId}: {ex.Message}");
                continue;
            }

            foreach (var n in closure)
            {
                var e = expected[n.Id];
                expected[n.Id] = (e.Reserved + reserved, e.Sold + sold);
            }
        }

        foreach (var n in nodes)
        {
            foreach (var parentId in n.ParentIds)
            {
                if (byId.FindCapacity(parentId) is null)
                {
                    violations.Add($"capacity {n.Id}: parent {parentId} does not exist");
                }
            }

            if (n.Reserved < 0 || n.Sold < 0)
            {
                violations.Add($"capacity {n.Id}: negative counters (reserved {n.Reserved}, sold {n.Sold})");
            }

            if (n.Ceiling is { } ceiling && n.Reserved + n.Sold > ceiling)
            {
                violations.Add(n.OverbookLimit == 0
                    ? $"capacity {n.Id}: oversold (reserved {n.Reserved} + sold {n.Sold} > total {n.Total})"
                    : $"capacity {n.Id}: oversold (reserved {n.Reserved} + sold {n.Sold} > total {n.Total} + overbook limit {n.OverbookLimit})");
            }

            var e = expected[n.Id];
            if (e.Reserved != n.Reserved || e.Sold != n.Sold)
            {
                violations.Add($"capacity {n.Id}: counters (reserved {n.Reserved}, sold {n.Sold}) differ from its holds (reserved {e.Reserved}, sold {e.Sold})");
            }
        }

        return violations;
    }

    private static void CheckAllocation(Allocation a, HoldSums holds, List<string> violations)
    {
        var (held, sold) = holds.ByAllocation.GetValueOrDefault(a.Id);
        if (a.Held < 0 || a.Sold < 0 || a.Idle < 0)
        {
            violations.Add($"allocation {a.Id}: negative counters (size {a.Size}, held {a.Held}, sold {a.Sold})");
        }

        if (a.Held != held || a.Sold != sold)
        {
            violations.Add($"allocation {a.Id}: counters (held {a.Held}, sold {a.Sold}) differ from its holds (held {held}, sold {sold})");
        }

        if (a.Status == AllocationStatus.Closed && a.Idle != 0)
        {
            violations.Add($"allocation {a.Id}: closed with {a.Idle} idle units kept from the public");
        }
    }

    /// <summary>
    /// Every buyer's usage row equals the tickets of that buyer's live holds and sales on that capacity
    /// plus the units its waiting entries (in <paramref name="live"/>) wait for there, and every buyer
    /// with either has its row.
    /// </summary>
    public static List<string> CheckUsage(BuyerTally usage, HoldSums holds, IEnumerable<WaitlistEntry> live)
    {
        // Entries are few beside holds: their units are tallied apart, and only their buyers' rows look there.
        var waiting = new BuyerTally();
        foreach (var entry in live)
        {
            if (entry is { Status: WaitlistStatus.Waiting, BuyerKey: { } buyerKey })
            {
                foreach (var item in entry.Items)
                {
                    waiting.Add(item.CapacityId, buyerKey, item.Quantity);
                }
            }
        }

        var violations = new List<string>();
        foreach (var row in usage)
        {
            var tickets = holds.ByBuyer.Find(row.CapacityId, row.BuyerKey) ?? 0;
            var waited = waiting.Find(row.CapacityId, row.BuyerKey) ?? 0;
            if (row.Tickets != tickets + waited)
            {
                violations.Add(waited == 0
                    ? $"capacity {row.CapacityId}: buyer usage {row.Tickets} differs from the buyer's live tickets ({tickets})"
                    : $"capacity {row.CapacityId}: buyer usage {row.Tickets} differs from the buyer's live tickets ({tickets}) and units waited for ({waited})");
            }
        }

        foreach (var sum in holds.ByBuyer)
        {
            if (sum.Tickets != 0 && usage.Find(sum.CapacityId, sum.BuyerKey) is null)
            {
                violations.Add($"capacity {sum.CapacityId}: a buyer has {sum.Tickets} live tickets and no usage row");
            }
        }

        foreach (var sum in waiting)
        {
            if (usage.Find(sum.CapacityId, sum.BuyerKey) is null)
            {
                violations.Add($"capacity {sum.CapacityId}: a buyer waits for {sum.Tickets} units and has no usage row");
            }
        }

        return violations;
    }

    /// <summary>
    /// Waiting lists: each capacity's <see cref="CapacityNode.WaitingUnits"/> and
    /// <see cref="CapacityNode.QueueDemand"/> equal what its waiting entries add up to (its own entries'
    /// units, and what each capacity directly below passes up: <see cref="CapacityNode.ShareOf"/>); an entry is offered exactly while its offer is
    /// active; each capacity's <see cref="CapacityNode.OfferedUnits"/> equals its live offers'; and no
    /// entry waits while it fits and is on sale at <paramref name="now"/> (settling the lists as they are would offer nothing).
    /// <paramref name="live"/> holds every waiting or offered entry and <paramref name="offers"/> the
    /// status of every offer that is active or belongs to one of them.
    /// </summary>
    public static List<string> CheckWaitlists(
        IReadOnlyCollection<CapacityNode> nodes,
        IReadOnlyCollection<WaitlistEntry> live,
        IReadOnlyDictionary<Guid, ReservationStatus> offers,
        HoldSums holds,
        IReadOnlyCollection<BuyerLimit> limits,
        BuyerTally usage,
        DateTimeOffset now)
    {
        var violations = new List<string>();
        var byId = new Lookup(nodes);
        // Below is -1 until WaitedFor works it out (0 is a count).
        var owed = nodes.ToDictionary(n => n.Id, _ => (Own: 0L, Below: -1L));
        foreach (var entry in live)
        {
            var offer = entry.OfferReservationId is { } id && offers.TryGetValue(id, out var status) ? status : (ReservationStatus?)null;
            if ((entry.Status == WaitlistStatus.Offered) != (offer == ReservationStatus.Active))
            {
                violations.Add($"waiting-list entry {entry.Id}: {entry.Status} with its offer {offer?.ToString() ?? "absent"}");
            }

            if (entry.Status != WaitlistStatus.Waiting)
            {
                continue;
            }

            foreach (var item in entry.Items)
            {
                if (byId.FindCapacity(item.CapacityId) is not { } node)
                {
                    violations.Add($"waiting-list entry {entry.Id} names capacity {item.CapacityId}, which does not exist");
                    continue;
                }

                owed[node.Id] = (owed[node.Id].Own + item.Quantity, owed[node.Id].Below);
            }
        }

        // What is waited for on each node: its own units and what each node directly below passes up,
        // at most what that one could still give; worked out from the leaves up.
        var below = nodes.SelectMany(n => n.ParentIds.Select(p => (Parent: p, Child: n))).ToLookup(x => x.Parent, x => x.Child);
        long WaitedFor(CapacityNode node)
        {
            var (own, waited) = owed[node.Id];
            if (waited < 0)
            {
                waited = own + below[node.Id].Sum(child => child.ShareOf(WaitedFor(child)));
                owed[node.Id] = (own, waited);
            }

            return waited;
        }

        foreach (var node in nodes)
        {
            WaitedFor(node);
        }

        foreach (var (entryId, status) in offers)
        {
            if (status == ReservationStatus.Active && !live.Any(e => e.OfferReservationId == entryId && e.Status == WaitlistStatus.Offered))
            {
                violations.Add($"offer {entryId} is active but its waiting-list entry is not offered");
            }
        }

        foreach (var n in nodes)
        {
            if (n.WaitingUnits != owed[n.Id].Own || n.QueueDemand != owed[n.Id].Below)
            {
                violations.Add($"capacity {n.Id}: waiting units {n.WaitingUnits} and queue demand {n.QueueDemand} differ from its waiting entries ({owed[n.Id].Own}, {owed[n.Id].Below})");
            }

            if (n.OfferedUnits != holds.Offered.GetValueOrDefault(n.Id))
            {
                violations.Add($"capacity {n.Id}: offered units {n.OfferedUnits} differ from its live offers ({holds.Offered.GetValueOrDefault(n.Id)})");
            }
        }

        if (violations.Count == 0)
        {
            violations.AddRange(UnofferedFits(nodes, live, limits, usage, now));
        }

        return violations;
    }

    /// <summary>
    /// Settles every event's list on copies of the rows: any entry that would be offered was left waiting
    /// while it fit, and any that would lapse was left waiting past the end of a window.
    /// </summary>
    private static IEnumerable<string> UnofferedFits(
        IReadOnlyCollection<CapacityNode> nodes, IReadOnlyCollection<WaitlistEntry> live, IReadOnlyCollection<BuyerLimit> limits, BuyerTally usage,
        DateTimeOffset now)
    {
        var waiting = live.Where(e => e.Status == WaitlistStatus.Waiting).Select(e => e.Clone()).ToList();
        if (waiting.Count == 0)
        {
            return [];
        }

        var set = new WorkingSet();
        foreach (var n in nodes)
        {
            set.Load(n.Clone());
        }

        foreach (var l in limits)
        {
            set.Load(l);
        }

        // Settling asks for the usage of the buyers who wait and no other's: an on-sale has many more
        // buyers than waiting entries, and the audit keeps no object per buyer (BuyerTally).
        var waitingBuyers = waiting.Where(e => e.BuyerKey is not null).GroupBy(e => e.TenantId)
            .ToDictionary(g => g.Key, g => g.Select(e => e.BuyerKey!).ToHashSet(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>());
        var lookup = new Lookup(nodes);
        foreach (var u in usage)
        {
            if (lookup.FindCapacity(u.CapacityId) is { } node && waitingBuyers.TryGetValue(node.TenantId, out var buyers)
                && buyers.TryGetValue(u.BuyerKey, out var buyerKey))
            {
                set.Load(new BuyerUsage { TenantId = node.TenantId, CapacityId = u.CapacityId, BuyerKey = buyerKey, Used = u.Tickets });
            }
        }

        foreach (var queue in waiting.GroupBy(e => (e.TenantId, e.EventId)))
        {
            set.LoadWaitlist(queue.Key.TenantId, queue.Key.EventId, queue);
            set.Unsettled.Add(queue.Key);
        }

        // A window's edge that the sweep has not passed yet has not opened its waiting lists yet: entries
        // under it may wait a sweep interval longer.
        var pending = nodes.Where(n => n.Sale?.EdgeAt <= now).Select(n => n.Id).ToHashSet();
        var closure = new List<CapacityNode>();
        bool UnderPendingEdge(WaitlistEntry e) => pending.Count > 0 && e.Items.Any(i =>
        {
            if (lookup.FindCapacity(i.CapacityId) is not { } node)
            {
                return false;
            }

            Graph.Closure(node, lookup, closure);
            return closure.Any(n => pending.Contains(n.Id));
        });

        // Nor has it lapsed those past a window's end yet, which may hold back the entries behind them
        // in the same event: an event with such an entry is judged once the sweep has passed the edge.
        var pendingEvents = waiting.Where(UnderPendingEdge).Select(e => (e.TenantId, e.EventId)).ToHashSet();
        try
        {
            Decider.SettleWaitlists(set, now);
        }
        catch (InvalidOperationException ex)
        {
            // Rows that disagree with each other (a waiting buyer's usage row missing or short, which
            // CheckUsage names) can stop the copy's settling: say so rather than fail the audit.
            return [$"the waiting lists could not be settled on copies of the rows: {ex.Message}"];
        }

        return waiting.Where(e => e.Status != WaitlistStatus.Waiting && !pendingEvents.Contains((e.TenantId, e.EventId)))
            .Select(e => e.Status == WaitlistStatus.Lapsed
                ? $"waiting-list entry {e.Id} is waiting past the end of a window it reaches: it should have lapsed"
                : $"waiting-list entry {e.Id} is waiting, but its items fit: it should have been offered");
    }

    /// <summary>Compares every node's counters with the sums of its ledger entries.</summary>
    public static List<string> CheckLedger(IEnumerable<CapacityNode> nodes, IReadOnlyDictionary<Guid, (long Reserved, long Sold)> ledgerSums)
    {
        var violations = new List<string>();
        foreach (var n in nodes)
        {
            var (reserved, sold) = ledgerSums.GetValueOrDefault(n.Id);
            if (reserved != n.Reserved || sold != n.Sold)
            {
                violations.Add($"capacity {n.Id}: counters (reserved {n.Reserved}, sold {n.Sold}) differ from the ledger (reserved {reserved}, sold {sold})");
            }
        }

        return violations;
    }

    /// <summary>
    /// Compares each capacity's sales figures, summed over all time, with its holds: the tickets they
    /// say are held must be in active holds, and those they say are sold in confirmed ones.
    /// </summary>
    public static List<string> CheckSales(HoldSums holds, IReadOnlyDictionary<Guid, SalesFlows> figures)
    {
        var violations = new List<string>();
        foreach (var id in holds.Tickets.Keys.Union(figures.Keys))
        {
            var (holding, sold) = holds.Tickets.GetValueOrDefault(id);
            var f = figures.GetValueOrDefault(id);
            if (f.HoldingDelta != holding || f.NetSold != sold)
            {
                violations.Add($"capacity {id}: sales figures (holding {f.HoldingDelta}, sold {f.NetSold}) differ from its holds (holding {holding}, sold {sold})");
            }

            if (f.Held < 0 || f.Confirmed < 0 || f.Released < 0 || f.Expired < 0 || f.Cancelled < 0 || f.Reclaimed < 0)
            {
                violations.Add($"capacity {id}: negative sales figures {f}");
            }
        }

        return violations;
    }

    private sealed class Lookup(IEnumerable<CapacityNode> nodes) : ICapacityLookup
    {
        private readonly Dictionary<Guid, CapacityNode> _byId = nodes.ToDictionary(n => n.Id);

        public CapacityNode? FindCapacity(Guid id) => _byId.GetValueOrDefault(id);
    }
}

/// <summary>
/// What the live holds put directly on each capacity (before charging ancestors): active quantities
/// as reserved, confirmed ones as sold. An active item drawn from an allocation puts nothing on its
/// capacity (the allocation's size already does) and counts as held by the allocation; a confirmed
/// one counts as sold on both. One entry per capacity and allocation whatever the number of holds, and
/// per buyer a <see cref="BuyerTally"/> entry, which holds no object of its own.
/// </summary>
public sealed class HoldSums
{
    private readonly Dictionary<Guid, (long Reserved, long Sold)> _byCapacity = [];
    private readonly Dictionary<Guid, (long Held, long Sold)> _byAllocation = [];
    private readonly BuyerTally _byBuyer = new();
    private readonly Dictionary<Guid, long> _offered = [];
    private readonly Dictionary<Guid, (long Holding, long Sold)> _tickets = [];

    /// <summary>How many live (active or confirmed) holds were added.</summary>
    public int Count { get; private set; }

    public IReadOnlyDictionary<Guid, (long Reserved, long Sold)> ByCapacity => _byCapacity;

    /// <summary>Per allocation: units in its active holds, and units sold from it.</summary>
    public IReadOnlyDictionary<Guid, (long Held, long Sold)> ByAllocation => _byAllocation;

    /// <summary>Per capacity and buyer key: tickets in that buyer's live holds and sales.</summary>
    public BuyerTally ByBuyer => _byBuyer;

    /// <summary>Per capacity: units in active waiting-list offers.</summary>
    public IReadOnlyDictionary<Guid, long> Offered => _offered;

    /// <summary>Per capacity: tickets in its active holds and tickets sold, allocations' included (what the sales figures add up to).</summary>
    public IReadOnlyDictionary<Guid, (long Holding, long Sold)> Tickets => _tickets;

    public void Add(Reservation reservation)
    {
        if (reservation.Status is not (ReservationStatus.Active or ReservationStatus.Confirmed))
        {
            return;
        }

        Count++;
        var active = reservation.Status == ReservationStatus.Active;
        foreach (var item in reservation.Items)
        {
            var (holding, ticketsSold) = _tickets.GetValueOrDefault(item.CapacityId);
            _tickets[item.CapacityId] = active ? (holding + item.Quantity, ticketsSold) : (holding, ticketsSold + item.Quantity);
            if (reservation.BuyerKey is { } buyer)
            {
                _byBuyer.Add(item.CapacityId, buyer, item.Quantity);
            }

            if (active && reservation.WaitlistId is not null)
            {
                _offered[item.CapacityId] = _offered.GetValueOrDefault(item.CapacityId) + item.Quantity;
            }

            var (reserved, sold) = _byCapacity.GetValueOrDefault(item.CapacityId);
            if (item.AllocationId is { } allocationId)
            {
                var (held, allocationSold) = _byAllocation.GetValueOrDefault(allocationId);
                _byAllocation[allocationId] = active ? (held + item.Quantity, allocationSold) : (held, allocationSold + item.Quantity);
                _byCapacity[item.CapacityId] = active ? (reserved, sold) : (reserved, sold + item.Quantity);
                continue;
            }

            _byCapacity[item.CapacityId] = active ? (reserved + item.Quantity, sold) : (reserved, sold + item.Quantity);
        }
    }
}

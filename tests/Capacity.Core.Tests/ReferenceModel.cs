namespace Capacity.Core.Tests;

/// <summary>
/// A deliberately naive model of the spec, used as the oracle of the model-based tests. It stores no
/// counters at all: what a node holds is recomputed from scratch from the list of live reservations
/// every time it is asked, and ancestors are found by a plain graph walk. Each Decide method states
/// the spec's checks in order and returns the expected code and the ledger entries the step must append.
/// </summary>
/// <remarks>
/// Allocations are kept differently from the core on purpose. The core stores an allocation's size,
/// held and sold and charges its nodes size − sold; the model stores only how many units sit idle in
/// it (set aside, in no hold and no sale) and whether it is open. Held and sold are recomputed from
/// the live holds, the size is idle + held + sold, and a node's reserved is every active hold's units
/// (public or allocated) plus the idle units of every allocation on it or below it.
///
/// Per-buyer limits likewise keep no usage: what a buyer has under a limit is summed, every time it
/// is asked, over the buyer's live (active or confirmed) reservations' items on the limit's own
/// capacities, and the limits over a capacity are found by scanning the limits in creation order.
///
/// Waiting lists keep no counters either: the entries are one list in the order they joined, and what
/// a node is owed is summed from the waiting ones when asked. After every command, whatever it was and
/// whether or not it succeeded, every event's list is settled again from scratch by a plain scan (see
/// <see cref="Settle"/>); the core instead settles only the events a command marked.
///
/// Sale rules are plain fields of a capacity, what became of them too (tier open, first sold out, closed
/// by rule, the tiers that follow it). A hold's gate walks each item's capacity and its pools breadth
/// first; a capacity's ceiling is its total and its allowance wherever room is judged. Sell-outs are
/// looked for after every command among the capacities it took units from (or resized, or gave a new
/// rule), by availability recomputed from scratch, then again after the waiting lists are settled.
/// </remarks>
internal sealed class ReferenceModel
{
    public const int MaxDepth = 8;
    public const int MaxItems = 50;
    public const int MaxQuantity = 100;
    public const int MaxHoldMinutes = 120;
    public const int MaxLifetimeMinutes = 120;
    public const int MaxTotal = 1_000_000;

    public sealed class Cap
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required string EventId { get; init; }
        public required Guid[] Parents { get; init; }
        public int? Total { get; set; }
        public bool Active { get; set; }
        public WaitlistSettings? Waitlist { get; set; }

        // The sale rules, as plain fields: a capacity that never had any has them all at their defaults.
        public DateTimeOffset? SaleStarts { get; set; }
        public DateTimeOffset? SaleEnds { get; set; }
        public Guid? OpensAfter { get; set; }
        public bool CloseWhenSoldOut { get; set; }
        public int Overbook { get; set; }

        /// <summary>A tier whose earlier capacity sold out: open for good.</summary>
        public bool TierOpen { get; set; }

        /// <summary>When its availability was first seen at 0 by a rule that watches it; null before.</summary>
        public DateTimeOffset? SoldOutAt { get; set; }

        /// <summary>Closed by a sold-out rule (closed_reason "sold_out"), until a hand sets is_active.</summary>
        public bool ClosedBySellOut { get; set; }

        /// <summary>The tiers that open after this one, in the order they were set.</summary>
        public List<Guid> Followers { get; } = [];

        /// <summary>The window's next edge (its start, else its end) after the rules were last set or an edge passed; null when none is ahead.</summary>
        public DateTimeOffset? EdgeAt { get; set; }

        /// <summary>The most it may have held and sold together: its total and its overbooking allowance; null when unlimited.</summary>
        public long? Ceiling => Total is { } t ? t + Overbook : null;
    }

    public sealed record Lock(Guid PricingId, decimal UnitPrice, string Currency);

    /// <summary>Units of one capacity at one locked price; <paramref name="Cancelled"/> counts the units refunded from it (no longer in <paramref name="Quantity"/>).</summary>
    public sealed record Item(Guid Capacity, int Quantity, Lock? Lock, Guid? Allocation = null, int Cancelled = 0);

    public sealed class Res
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required Item[] Items { get; set; }
        public required DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset ExpiresAt { get; set; }
        public ReservationStatus Status { get; set; }
        public string? BuyerKey { get; init; }

        /// <summary>The waiting-list entry this hold is the offer of, or null for an ordinary hold.</summary>
        public Guid? WaitlistId { get; init; }
    }

    public sealed class Price
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required Guid Capacity { get; init; }
        public decimal Base { get; set; }
        public decimal? Current { get; set; }
        public required string Currency { get; set; }
    }

    /// <summary>A block of one capacity set aside: only its idle units and its status are state; see the remarks.</summary>
    public sealed class Alloc
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required Guid Capacity { get; init; }
        public DateTimeOffset? ExpiresAt { get; init; }
        public long Idle { get; set; }
        public AllocationStatus Status { get; set; }
    }

    /// <summary>"At most Max tickets per buyer over these capacities"; a deleted one stays here, marked, so its id stays taken.</summary>
    public sealed class Limit
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required string EventId { get; init; }
        public required Guid[] Capacities { get; init; }
        public required string Name { get; set; }
        public int Max { get; set; }
        public bool RequireKey { get; set; }
        public bool Deleted { get; set; }
    }

    /// <summary>A place in one event's waiting lists; its offer, once made, is the reservation with the entry's own id.</summary>
    public sealed class Entry
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required string EventId { get; init; }
        public required (Guid Capacity, int Quantity)[] Items { get; init; }
        public string? BuyerKey { get; init; }
        public WaitlistStatus Status { get; set; }
        public Guid? Offer { get; set; }

        /// <summary>Why it lapsed, once it did.</summary>
        public WaitlistLapse? Lapse { get; set; }
    }

    /// <summary>An expected ledger entry: which reservation (or none) moved which node by how much, for which allocation (or none).</summary>
    public readonly record struct Move(LedgerKind Kind, Guid Reservation, Guid Capacity, long Reserved, long Sold, Guid? Allocation = null);

    public Dictionary<Guid, Cap> Caps { get; } = [];
    public List<Guid> CapOrder { get; } = [];
    public Dictionary<Guid, Res> Reservations { get; } = [];
    public List<Guid> ResOrder { get; } = [];
    public Dictionary<Guid, Price> Prices { get; } = [];
    public List<Guid> PriceOrder { get; } = [];
    public Dictionary<Guid, Alloc> Allocations { get; } = [];
    public List<Guid> AllocOrder { get; } = [];
    public Dictionary<Guid, Limit> Limits { get; } = [];
    public List<Guid> LimitOrder { get; } = [];
    public Dictionary<Guid, Entry> Entries { get; } = [];

    /// <summary>Every entry in the order it joined: an event's queue is this list filtered to the event.</summary>
    public List<Guid> EntryOrder { get; } = [];

    /// <summary>What happened to waiting lists so far, counted to show that the scripts reach each situation.</summary>
    public Dictionary<WaitlistEvent, int> WaitlistEvents { get; } = [];

    // ---- derived, from scratch ----

    private readonly Dictionary<Guid, HashSet<Guid>> _closures = [];

    /// <summary>The node and every ancestor, by a plain walk. Parents never change, so it is cached.</summary>
    public HashSet<Guid> Closure(Guid id)
    {
        if (_closures.TryGetValue(id, out var known))
        {
            return known;
        }

        var seen = new HashSet<Guid>();
        var todo = new Stack<Guid>();
        todo.Push(id);
        while (todo.Count > 0)
        {
            var x = todo.Pop();
            if (seen.Add(x))
            {
                foreach (var p in Caps[x].Parents)
                {
                    todo.Push(p);
                }
            }
        }

        _closures[id] = seen;
        return seen;
    }

    /// <summary>Nodes on the longest path to a root, the node included.</summary>
    public int Depth(Guid id) => Depth(id, []);

    private int Depth(Guid id, Dictionary<Guid, int> memo)
    {
        if (!memo.TryGetValue(id, out var depth))
        {
            depth = 1 + Caps[id].Parents.Select(p => Depth(p, memo)).DefaultIfEmpty(0).Max();
            memo[id] = depth;
        }

        return depth;
    }

    /// <summary>
    /// What every node holds, recomputed from the live reservations and the allocations: active holds
    /// are reserved, whether drawn from an allocation or not; confirmed ones are sold; the idle units of
    /// every allocation are reserved too, since they are kept from the public.
    /// </summary>
    public Dictionary<Guid, (long Reserved, long Sold)> UsedAll()
    {
        var used = Caps.Keys.ToDictionary(id => id, _ => (Reserved: 0L, Sold: 0L));
        foreach (var a in Allocations.Values)
        {
            foreach (var n in Closure(a.Capacity))
            {
                var (reserved, sold) = used[n];
                used[n] = (reserved + a.Idle, sold);
            }
        }

        foreach (var r in Reservations.Values)
        {
            if (r.Status is not (ReservationStatus.Active or ReservationStatus.Confirmed))
            {
                continue;
            }

            foreach (var item in r.Items)
            {
                foreach (var n in Closure(item.Capacity))
                {
                    var (reserved, sold) = used[n];
                    used[n] = r.Status == ReservationStatus.Active ? (reserved + item.Quantity, sold) : (reserved, sold + item.Quantity);
                }
            }
        }

        return used;
    }

    public (long Reserved, long Sold) Used(Guid node) => UsedAll()[node];

    /// <summary>An allocation's units in active holds and in sales, recomputed from the reservations.</summary>
    public (long Held, long Sold) HeldSold(Guid allocation)
    {
        long held = 0, sold = 0;
        foreach (var r in Reservations.Values)
        {
            foreach (var item in r.Items.Where(i => i.Allocation == allocation))
            {
                if (r.Status == ReservationStatus.Active)
                {
                    held += item.Quantity;
                }
                else if (r.Status == ReservationStatus.Confirmed)
                {
                    sold += item.Quantity;
                }
            }
        }

        return (held, sold);
    }

    /// <summary>An allocation's size: idle, held and sold together.</summary>
    public long SizeOf(Guid allocation)
    {
        var (held, sold) = HeldSold(allocation);
        return Allocations[allocation].Idle + held + sold;
    }

    /// <summary>
    /// What the waiting entries are owed on each node: Own, the units of entries' items on the node
    /// itself; Below, what is waited for there: its Own plus, for every capacity directly below it, what
    /// is waited for on that one up to what it could still give (all of it on an unlimited one), worked
    /// out from the leaves up; a capacity with two parents passes its share up both ways. Offered,
    /// lapsed, accepted and departed entries are owed nothing.
    /// </summary>
    public Dictionary<Guid, (long Own, long Below)> Owed() => Owed(UsedAll());

    /// <summary>What the waiting entries are owed, with the nodes' reserved and sold units as <paramref name="used"/> says.</summary>
    private Dictionary<Guid, (long Own, long Below)> Owed(Dictionary<Guid, (long Reserved, long Sold)> used)
    {
        var own = Caps.Keys.ToDictionary(id => id, _ => 0L);
        foreach (var e in Entries.Values.Where(e => e.Status == WaitlistStatus.Waiting))
        {
            foreach (var (capacity, quantity) in e.Items)
            {
                own[capacity] += quantity;
            }
        }

        var children = Caps.Values.SelectMany(c => c.Parents.Select(p => (Parent: p, Child: c.Id))).ToLookup(x => x.Parent, x => x.Child);
        var owed = new Dictionary<Guid, (long Own, long Below)>();
        long Waited(Guid id)
        {
            if (!owed.TryGetValue(id, out var known))
            {
                known = (own[id], own[id] + children[id].Sum(child => Share(child, Waited(child), used)));
                owed[id] = known;
            }

            return known.Below;
        }

        foreach (var id in Caps.Keys)
        {
            Waited(id);
        }

        return owed;
    }

    /// <summary>Of <paramref name="units"/> waited for on a capacity, what counts as owed on it and above: at most what it could still give.</summary>
    private long Share(Guid capacity, long units, Dictionary<Guid, (long Reserved, long Sold)> used) =>
        Caps[capacity].Ceiling is { } ceiling ? Math.Min(units, Math.Max(0, ceiling - used[capacity].Reserved - used[capacity].Sold)) : units;

    /// <summary>Units of the capacity itself in active offers.</summary>
    public long Offered(Guid capacity) =>
        Reservations.Values.Where(r => r.WaitlistId is not null && r.Status == ReservationStatus.Active)
            .SelectMany(r => r.Items).Where(i => i.Capacity == capacity).Sum(i => (long)i.Quantity);

    /// <summary>
    /// The minimum over the node and its limited ancestors of total − reserved − sold − owed to waiting
    /// entries, floored at 0; null if none is limited. What the queue is owed is nobody else's.
    /// </summary>
    public long? Available(Guid id, Dictionary<Guid, (long Reserved, long Sold)> used)
    {
        var owed = Owed();
        long? min = null;
        foreach (var n in Closure(id))
        {
            if (Caps[n].Ceiling is { } ceiling)
            {
                var (r, s) = used[n];
                var left = Math.Max(0, ceiling - r - s - owed[n].Below);
                min = min is null ? left : Math.Min(min.Value, left);
            }
        }

        return min;
    }

    /// <summary>The minimum over the node and its limited ancestors of total − reserved − sold, floored at 0: what owed units do not count against.</summary>
    private long? Unheld(Guid id, Dictionary<Guid, (long Reserved, long Sold)> used)
    {
        long? min = null;
        foreach (var n in Closure(id))
        {
            if (Caps[n].Ceiling is { } ceiling)
            {
                var left = Math.Max(0, ceiling - used[n].Reserved - used[n].Sold);
                min = min is null ? left : Math.Min(min.Value, left);
            }
        }

        return min;
    }

    /// <summary>What a list of items takes from each node: each item charges every node of its closure once.</summary>
    public Dictionary<Guid, long> Demand(IEnumerable<(Guid Capacity, int Quantity)> items)
    {
        var demand = new Dictionary<Guid, long>();
        foreach (var (capacity, quantity) in items)
        {
            foreach (var n in Closure(capacity))
            {
                demand[n] = demand.GetValueOrDefault(n) + quantity;
            }
        }

        return demand;
    }

    /// <summary>One entry per node the items reach, summed over the items, tagged with the allocation they draw from (or none).</summary>
    private List<Move> Moves(Guid reservation, IEnumerable<Item> items, LedgerKind kind, int reservedSign, int soldSign, Guid? allocation) =>
        [.. Demand(items.Select(i => (i.Capacity, i.Quantity))).Select(d => new Move(kind, reservation, d.Key, reservedSign * d.Value, soldSign * d.Value, allocation))];

    /// <summary>An allocation's size set aside or given back: the node and every ancestor once, no reservation.</summary>
    private List<Move> AllocationMoves(Alloc a, LedgerKind kind, long reservedDelta)
    {
        // Units set aside are taken from the public as a hold's are: they may sell a capacity out.
        if (reservedDelta > 0)
        {
            _taken.UnionWith(Closure(a.Capacity));
        }

        return [.. Closure(a.Capacity).Select(n => new Move(kind, Guid.Empty, n, reservedDelta, 0, a.Id))];
    }

    /// <summary>The limits, not deleted, that name this capacity, in the order they were created.</summary>
    public List<Limit> LimitsOn(Guid capacity) =>
        [.. LimitOrder.Select(id => Limits[id]).Where(l => !l.Deleted && l.Capacities.Contains(capacity))];

    /// <summary>
    /// A buyer's tickets on some capacities: the items on them of the buyer's active and confirmed
    /// holds of that tenant. Released, expired and cancelled ones count nothing; ancestors do not count.
    /// </summary>
    /// <summary>What counts against a buyer's limits on these capacities: live tickets, and the units their waiting entries wait for.</summary>
    public long BuyerHas(Guid tenant, string buyerKey, IReadOnlyCollection<Guid> capacities) =>
        Reservations.Values
            .Where(r => r.Tenant == tenant && r.BuyerKey == buyerKey && r.Status is ReservationStatus.Active or ReservationStatus.Confirmed)
            .SelectMany(r => r.Items.Select(i => (i.Capacity, i.Quantity)))
            .Concat(Entries.Values.Where(e => e.Status == WaitlistStatus.Waiting && e.Tenant == tenant && e.BuyerKey == buyerKey).SelectMany(e => e.Items))
            .Where(i => capacities.Contains(i.Capacity))
            .Sum(i => (long)i.Quantity);

    private bool Visible(Guid tenant, Guid capacity) => Caps.TryGetValue(capacity, out var c) && c.Tenant == tenant;

    private Alloc? VisibleAllocation(Guid tenant, Guid id) => Allocations.TryGetValue(id, out var a) && a.Tenant == tenant ? a : null;

    /// <summary>Whether <paramref name="quantity"/> more reserved units fit on the node and every limited ancestor, beside what waiting entries are owed.</summary>
    private bool Fits(Guid capacity, long quantity)
    {
        var used = UsedAll();
        var owed = Owed();
        return Closure(capacity).All(n => Caps[n].Ceiling is not { } ceiling || ceiling - used[n].Reserved - used[n].Sold - owed[n].Below >= quantity);
    }

    // ---- decisions ----

    public OutcomeCode Decide(Command command, DateTimeOffset now, List<Move> moves)
    {
        LastAvailable = null;
        LastShortfall = null;
        LastReclaimed = false;
        LastField = null;
        LastExcess = null;
        LastLimit = null;
        LastNotOnSale = null;
        _joined = null;
        _taken.Clear();
        var code = DecideOne(command, now, moves);
        HeldAvailable = command is PlaceHold { Items: [var first, ..] } && code == OutcomeCode.Ok ? Available(first.CapacityId, UsedAll()) : null;

        // What follows every command, in this order: what it sold out, then the waiting lists it
        // freed units for, then what their offers sold out, until the lists settle without a change
        // (a tier the offers sold out opens the next, or closes with entries waiting).
        SellOuts(now, moves);
        while (Settle(now, moves))
        {
            SellOuts(now, moves);
        }

        var used = UsedAll();
        if (Caps.Values.Any(cap => cap.Total is { } total && used[cap.Id].Reserved + used[cap.Id].Sold > total))
        {
            Tally(SaleEvent.Overbooked);
        }

        if (_joined is { } joined && Entries[joined].Status == WaitlistStatus.Waiting)
        {
            Tally(WaitlistEvent.Waited);
        }

        return code;
    }

    private OutcomeCode DecideOne(Command command, DateTimeOffset now, List<Move> moves) => command switch
    {
        PassSaleEdges c => PassEdges(c, now, moves),
        CreateCapacity c => Create(c, now, moves),
        UpdateCapacity c => Update(c, now, moves),
        CreatePrice c => CreatePricing(c),
        UpdatePrice c => UpdatePricing(c),
        PlaceHold c => Hold(c, now, moves),
        TransitionReservation c => Transit(c, now, moves),
        ExtendReservation c => Extend(c, now, moves),
        ExpireDue c => ExpireAll(c, now, moves),
        CreateAllocation c => Allocate(c, now, moves),
        UpdateAllocation c => ResizeAllocation(c, now, moves),
        ReleaseAllocation c => GiveBack(c, now, moves),
        CloseAllocation c => CloseOne(c, moves),
        CloseDueAllocations c => CloseDue(c, now, moves),
        CreateBuyerLimit c => CreateLimit(c),
        UpdateBuyerLimit c => UpdateLimit(c),
        DeleteBuyerLimit c => DeleteLimit(c),
        JoinWaitlist c => Join(c, now),
        ChangeHold c => Change(c, now, moves),
        ConfirmHold c => ConfirmPart(c, now, moves),
        CancelSale c => Refund(c, now, moves),
        LeaveWaitlist c => Leave(c, now, moves),
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    };

    /// <summary>The count an ExpireDue must report; set by the last ExpireDue decided.</summary>
    public int LastExpiredCount { get; private set; }

    /// <summary>The count a CloseDueAllocations must report; set by the last one decided.</summary>
    public int LastClosedCount { get; private set; }

    /// <summary>
    /// What the last command's refusal must carry as available, where the spec says: an allocation's
    /// idle units for AllocationInsufficient, the capacity's availability for an allocation that does
    /// not fit. Null otherwise (a hold's InsufficientCapacity names the node that ran short first,
    /// an order the model does not state).
    /// </summary>
    public long? LastAvailable { get; private set; }

    /// <summary>
    /// After a hold, its first capacity's availability as the hold left it: what its answer reports, before
    /// what follows the command (entries lapsing on a capacity the hold closed give it units back).
    /// </summary>
    public long? HeldAvailable { get; private set; }

    /// <summary>The field the last refusal must name, where the model states it (limits, buyer keys); null otherwise.</summary>
    public string? LastField { get; private set; }

    /// <summary>What the last BuyerLimitExceeded must carry: the limit, the buyer's tickets, the hold's and the maximum.</summary>
    public BuyerLimitExcess? LastExcess { get; private set; }

    /// <summary>The limit a BuyerKeyRequired names, or a limit command acted on.</summary>
    public Guid? LastLimit { get; private set; }

    private OutcomeCode Create(CreateCapacity c, DateTimeOffset now, List<Move> moves)
    {
        var derived = (c.Total is null, c.ParentIds.Length == 0) switch
        {
            (false, true) => CapacityMode.Own,
            (false, false) => CapacityMode.Capped,
            (true, false) => CapacityMode.Shared,
            (true, true) => CapacityMode.Unlimited,
        };
        if (c.Total is < 0 or > MaxTotal)
        {
            return OutcomeCode.Invalid;
        }

        if (c.Mode is { } asked && asked != derived)
        {
            return OutcomeCode.Invalid;
        }

        if (Caps.ContainsKey(c.Id))
        {
            return OutcomeCode.Invalid;
        }

        if (c.ParentIds.Any(p => !Visible(c.TenantId, p)) || c.ParentIds.Distinct().Count() != c.ParentIds.Length)
        {
            return OutcomeCode.Invalid;
        }

        var rules = c.Sale ?? new SaleRules();
        if (RulesRefusal(c.TenantId, c.Id, c.EventId, c.Total, rules.StartsAt, rules.EndsAt, rules.OpensAfter, rules.OverbookLimit, null) is { } badRules)
        {
            return badRules;
        }

        if (Caps.Values.Count(x => x.Tenant == c.TenantId && x.EventId == c.EventId) >= c.MaxInEvent)
        {
            return OutcomeCode.TooManyCapacities;
        }

        if (1 + c.ParentIds.Select(Depth).DefaultIfEmpty(0).Max() > MaxDepth)
        {
            return OutcomeCode.Invalid;
        }

        // Only the rules themselves are taken from the command: what became of them starts afresh.
        var cap = new Cap
        {
            Id = c.Id, Tenant = c.TenantId, EventId = c.EventId, Parents = [.. c.ParentIds], Total = c.Total, Active = c.IsActive,
            SaleStarts = rules.StartsAt, SaleEnds = rules.EndsAt, OpensAfter = rules.OpensAfter, CloseWhenSoldOut = rules.CloseWhenSoldOut, Overbook = rules.OverbookLimit,
        };
        cap.EdgeAt = c.Sale is null ? null : NextEdge(cap, now);
        Caps[c.Id] = cap;
        CapOrder.Add(c.Id);
        if (cap.OpensAfter is { } earlier)
        {
            Follow(cap, Caps[earlier], now, moves);
        }

        return OutcomeCode.Ok;
    }

    private OutcomeCode Update(UpdateCapacity c, DateTimeOffset now, List<Move> moves)
    {
        if (!Visible(c.TenantId, c.Id))
        {
            return OutcomeCode.NotFound;
        }

        var cap = Caps[c.Id];
        var total = c.Total.Or(cap.Total);
        if (total is < 0 or > MaxTotal)
        {
            // Reachable since allocations: blocks of up to a million each can put more than a million on an unlimited node.
            return OutcomeCode.Invalid;
        }

        // A patch: what it names changes, the rest keeps its value or, on a first list, the default.
        var waitlist = c.Waitlist is { } p
            ? new WaitlistSettings(p.Enabled ?? cap.Waitlist?.Enabled ?? true, p.OfferMinutes ?? cap.Waitlist?.OfferMinutes ?? 30, p.Policy ?? cap.Waitlist?.Policy ?? WaitlistPolicy.Fifo)
            : cap.Waitlist;
        if (waitlist is { OfferMinutes: < 1 or > MaxOfferMinutes })
        {
            return Refuse("waitlist.offer_minutes");
        }

        // Freed units wake only their own event's lists: a list may not draw from another event's pool.
        if (c.Waitlist is not null && waitlist is { Enabled: true } && Closure(c.Id).Any(n => Caps[n].EventId != cap.EventId))
        {
            return Refuse("waitlist");
        }

        // The sale rules the PUT names change, the others keep their value; they are checked as they
        // would stand whenever the PUT names one or resizes (an unlimited capacity cannot overbook).
        var sale = c.Sale;
        var starts = sale is null ? cap.SaleStarts : sale.StartsAt.Or(cap.SaleStarts);
        var ends = sale is null ? cap.SaleEnds : sale.EndsAt.Or(cap.SaleEnds);
        var after = sale is null ? cap.OpensAfter : sale.OpensAfter.Or(cap.OpensAfter);
        var closeWhenSoldOut = sale is null ? cap.CloseWhenSoldOut : sale.CloseWhenSoldOut.Or(cap.CloseWhenSoldOut);
        var overbook = sale is null ? cap.Overbook : sale.OverbookLimit.Or(cap.Overbook);
        if ((sale is not null || c.Total.IsSet) && RulesRefusal(cap.Tenant, cap.Id, cap.EventId, total, starts, ends, after, overbook, cap) is { } badRules)
        {
            return badRules;
        }

        // Only what is held and sold binds a new total (with its allowance): what the queue is owed may go unmet.
        var (r, s) = Used(c.Id);
        if (total is { } t && t + overbook < r + s)
        {
            return OutcomeCode.BelowCommitted;
        }

        var active = c.IsActive.Or(cap.Active);
        var reopening = c.IsActive.IsSet && active && cap.ClosedBySellOut;
        if (total == cap.Total && active == cap.Active && waitlist == cap.Waitlist && starts == cap.SaleStarts && ends == cap.SaleEnds
            && after == cap.OpensAfter && closeWhenSoldOut == cap.CloseWhenSoldOut && overbook == cap.Overbook && !reopening)
        {
            return OutcomeCode.Ok;
        }

        if (reopening && active)
        {
            Tally(SaleEvent.Reopened);
        }

        // A due edge the sweep has not passed yet is passed first, by the rules it was due under.
        if (sale is not null)
        {
            PassEdge(cap, now, moves);
        }

        var newlyFollowing = after is { } earlier && cap.OpensAfter is null ? Caps[earlier] : null;
        cap.Total = total;
        cap.Active = active;
        cap.Waitlist = waitlist;
        (cap.SaleStarts, cap.SaleEnds, cap.OpensAfter, cap.CloseWhenSoldOut, cap.Overbook) = (starts, ends, after, closeWhenSoldOut, overbook);
        if (sale is not null)
        {
            cap.EdgeAt = NextEdge(cap, now);
        }

        // A waiting entry that now asks more of a limited pool than it holds in all could never be
        // offered (a join would be refused so): it lapses, owed nothing.
        foreach (var e in EntryOrder.Select(id => Entries[id]).Where(e => e.Status == WaitlistStatus.Waiting))
        {
            if (Demand(e.Items).Any(d => Caps[d.Key].Ceiling is { } ceiling && d.Value > ceiling))
            {
                (e.Status, e.Lapse) = (WaitlistStatus.Lapsed, WaitlistLapse.TooLarge);
                Tally(WaitlistEvent.LapsedTooLarge);
            }
        }

        // A hand that reopens overrides what a sold-out rule did; one that closes what it closed changes nothing.
        if (c.IsActive.IsSet && active)
        {
            cap.ClosedBySellOut = false;
        }

        if (newlyFollowing is not null)
        {
            Follow(cap, newlyFollowing, now, moves, told: false);
        }

        // A window set to end by now: no sweep passes that edge, so the tiers waiting for it open here.
        if (sale is not null)
        {
            OpenFollowersIfEnded(cap, now, moves);
        }

        // A resize or a new rule that leaves a watched capacity with nothing available sells it out;
        // a hand that sets is_active is obeyed until the next hold takes its last ticket.
        if ((sale is not null || c.Total.IsSet) && !c.IsActive.IsSet && Watches(cap) && OnSaleNow(cap.Id, now))
        {
            _taken.Add(cap.Id);
            _noticedOnUpdate = true;
        }

        return OutcomeCode.Ok;
    }

    // ---- sale rules ----

    /// <summary>The capacity the last SaleNotOpen or SaleClosed names: the first node met that is not on sale.</summary>
    public Guid? LastNotOnSale { get; private set; }

    /// <summary>Capacities the command being decided took units from (or resized, or gave a new rule): where a sell-out is looked for.</summary>
    private readonly HashSet<Guid> _taken = [];

    private bool _noticedOnUpdate;

    /// <summary>The command passed window edges that opened a watched capacity.</summary>
    private bool _atWindowStart;

    /// <summary>What sale rules did, counted to show that the scripts reach each situation.</summary>
    public Dictionary<SaleEvent, int> SaleEvents { get; } = [];

    private void Tally(SaleEvent what) => SaleEvents[what] = SaleEvents.GetValueOrDefault(what) + 1;

    /// <summary>
    /// Sale rules as they would stand on a capacity: an allowance of 0 to a million, only on a limited
    /// capacity; a window that ends after it starts; a tier set once, following a capacity of the same
    /// tenant and event other than itself, and only on a capacity that no tier follows yet.
    /// </summary>
    private OutcomeCode? RulesRefusal(Guid tenant, Guid id, string eventId, int? total, DateTimeOffset? starts, DateTimeOffset? ends, Guid? after, int overbook, Cap? current)
    {
        if (overbook is < 0 or > MaxTotal || (overbook > 0 && total is null))
        {
            return Refuse("overbook_limit");
        }

        if (starts is { } s && ends is { } e && e <= s)
        {
            return Refuse("sale_ends_at");
        }

        if (current?.OpensAfter is { } set)
        {
            return after == set ? null : Refuse("opens_after_sold_out_of");
        }

        if (after is not { } earlier)
        {
            return null;
        }

        if (current is { Followers.Count: > 0 } || !Visible(tenant, earlier) || earlier == id || Caps[earlier].EventId != eventId)
        {
            return Refuse("opens_after_sold_out_of");
        }

        return null;
    }

    /// <summary>Whether a hold on the capacity alone would meet no closed gate now: it and its pools active, on sale by their windows and tiers.</summary>
    private bool OnSaleNow(Guid id, DateTimeOffset now)
    {
        var named = LastNotOnSale;
        var open = ClosureInOrder(id).All(n => Caps[n].Active) && SaleRefusal([id], now) is null;
        LastNotOnSale = named;
        return open;
    }

    /// <summary>Whether a capacity's availability reaching 0 would change something: it closes, or tiers open the first time.</summary>
    private static DateTimeOffset? NextEdge(Cap cap, DateTimeOffset now) => cap.SaleStarts > now ? cap.SaleStarts : cap.SaleEnds > now ? cap.SaleEnds : null;

    /// <summary>
    /// The sweep passes the window edges the clock reached (the lists they open are settled after every
    /// command anyway). A window that opens on a capacity whose sold-out rule watches it has it judged,
    /// as a hold would: blocks and waiting entries may have left the public nothing before it opened.
    /// </summary>
    private OutcomeCode PassEdges(PassSaleEdges c, DateTimeOffset now, List<Move> moves)
    {
        foreach (var id in c.CapacityIds)
        {
            if (Caps.TryGetValue(id, out var cap))
            {
                PassEdge(cap, now, moves);
            }
        }

        return OutcomeCode.Ok;
    }

    /// <summary>A due edge no sweep has passed: the sweep passes it, and so does a PUT of the sale rules before it works the next edge out anew.</summary>
    private void PassEdge(Cap cap, DateTimeOffset now, List<Move> moves)
    {
        if (cap.EdgeAt <= now)
        {
            cap.EdgeAt = NextEdge(cap, now);
            OpenFollowersIfEnded(cap, now, moves);
            if (Watches(cap) && OnSaleNow(cap.Id, now))
            {
                _taken.Add(cap.Id);
                _atWindowStart = true;
            }
        }
    }

    /// <summary>An earlier tier whose own window has ended (and that never sold out) opens the tiers that wait for it.</summary>
    private void OpenFollowersIfEnded(Cap cap, DateTimeOffset now, List<Move> moves)
    {
        // Not a tier that never opened: the tiers after it wait for it to open (and open with it).
        if (cap.SoldOutAt is null && cap.SaleEnds <= now && !(cap.OpensAfter is not null && !cap.TierOpen))
        {
            foreach (var follower in cap.Followers.Select(f => Caps[f]).Where(f => !f.TierOpen))
            {
                Open(follower, now, moves);
                Tally(SaleEvent.TierOpenedAsWindowEnded);
            }
        }
    }

    private static bool Watches(Cap cap) => cap.CloseWhenSoldOut || (cap.Followers.Count > 0 && cap.SoldOutAt is null);

    /// <summary>
    /// A tier follows an earlier capacity. If that one sold out before, the tier opens now; if it has
    /// nothing available now, it sells out now, as it would in a hold's batch: every tier after it opens
    /// and it closes.
    /// </summary>
    /// <summary>A capacity made a tier by a PUT (<paramref name="told"/> false) was never held back: opening at once records nothing.</summary>
    private void Follow(Cap tier, Cap earlier, DateTimeOffset now, List<Move> moves, bool told = true)
    {
        earlier.Followers.Add(tier.Id);
        if (earlier.SoldOutAt is not null || (earlier.SaleEnds <= now && !(earlier.OpensAfter is not null && !earlier.TierOpen)))
        {
            Open(tier, now, moves, told);
            Tally(SaleEvent.TierOpenedAtOnce);
        }
        else if (Available(earlier.Id, UsedAll()) == 0)
        {
            Tally(SaleEvent.FollowedSoldOut);
            if (!told)
            {
                Open(tier, now, moves, told: false);
            }

            SellOut(earlier, now, moves);
        }
    }

    private void Open(Cap tier, DateTimeOffset now, List<Move> moves, bool told = true)
    {
        tier.TierOpen = true;
        if (told)
        {
            moves.Add(new Move(LedgerKind.Open, Guid.Empty, tier.Id, 0, 0));
        }

        // Its own window over while it waited: the tiers after it open with it.
        OpenFollowersIfEnded(tier, now, moves);
    }

    /// <summary>
    /// A watched capacity with nothing available: the first time, it records when, opens every tier
    /// that follows it and, if it has any, closes; with close_when_sold_out it closes every time it is
    /// open. A capacity closed already (by hand) is not closed again.
    /// </summary>
    private void SellOut(Cap cap, DateTimeOffset now, List<Move> moves)
    {
        var close = cap.CloseWhenSoldOut;
        if (cap.SoldOutAt is null)
        {
            cap.SoldOutAt = now;
            close |= cap.Followers.Count > 0;
            foreach (var follower in cap.Followers.Select(f => Caps[f]).Where(f => !f.TierOpen))
            {
                Open(follower, now, moves);
                Tally(SaleEvent.TierOpened);
            }
        }

        if (close && cap.Active)
        {
            cap.Active = false;
            cap.ClosedBySellOut = true;
            moves.Add(new Move(LedgerKind.Close, Guid.Empty, cap.Id, 0, 0));
            Tally(cap.CloseWhenSoldOut ? SaleEvent.ClosedWhenSoldOut : SaleEvent.ClosedForNextTier);
        }
    }

    /// <summary>After a command: every capacity it took units from (or resized) that watches its sell-out and has nothing available sells out.</summary>
    private void SellOuts(DateTimeOffset now, List<Move> moves)
    {
        var used = UsedAll();
        foreach (var cap in CapOrder.Where(_taken.Contains).Select(id => Caps[id]).ToList())
        {
            // An early tier sells out when the public has nothing left of it (what the queue is owed
            // included); a capacity that only closes, when every unit is held or sold.
            if (Watches(cap) && (cap.Followers.Count > 0 && cap.SoldOutAt is null ? Available(cap.Id, used) : Unheld(cap.Id, used)) == 0)
            {
                if (_noticedOnUpdate)
                {
                    Tally(SaleEvent.SoldOutByUpdate);
                }

                if (_atWindowStart)
                {
                    Tally(SaleEvent.SoldOutAsItsWindowOpened);
                }

                SellOut(cap, now, moves);
            }
        }

        _taken.Clear();
        _noticedOnUpdate = false;
        _atWindowStart = false;
    }

    /// <summary>A node and its pools breadth first, each parent in the order named, each node once: the order in which a hold meets them.</summary>
    private List<Guid> ClosureInOrder(Guid id)
    {
        var order = new List<Guid> { id };
        for (var i = 0; i < order.Count; i++)
        {
            order.AddRange(Caps[order[i]].Parents.Where(p => !order.Contains(p)).Distinct());
        }

        return order;
    }

    /// <summary>
    /// Whether new units of these capacities are refused by a sale rule at <paramref name="now"/>. The
    /// nodes are met item by item, each capacity then its pools (a window on a pool gates what draws
    /// from it), each node once; the first not on sale answers: SaleClosed once its window has ended,
    /// SaleNotOpen before its window starts or while it is a tier whose earlier capacity has not sold out.
    /// </summary>
    private OutcomeCode? SaleRefusal(IEnumerable<Guid> capacities, DateTimeOffset now)
    {
        var met = new List<Guid>();
        foreach (var capacity in capacities)
        {
            met.AddRange(ClosureInOrder(capacity).Where(n => !met.Contains(n)));
        }

        foreach (var n in met)
        {
            var cap = Caps[n];
            if (cap.SaleEnds <= now || cap.SaleStarts > now || (cap.OpensAfter is not null && !cap.TierOpen))
            {
                LastNotOnSale = n;
                return cap.SaleEnds <= now ? OutcomeCode.SaleClosed : OutcomeCode.SaleNotOpen;
            }
        }

        return null;
    }

    /// <summary>Where a capacity stands for a buyer at <paramref name="now"/>, and the next instant the clock changes that (null when none is known).</summary>
    public (SaleState State, DateTimeOffset? Next) State(Guid id, DateTimeOffset now, Dictionary<Guid, (long Reserved, long Sold)> used)
    {
        var cap = Caps[id];
        if (!cap.Active || cap.SaleEnds <= now)
        {
            return (SaleState.Closed, null);
        }

        // A tier not yet open opens by a sell-out, not by the clock: only its window's end changes it.
        if (cap.OpensAfter is not null && !cap.TierOpen)
        {
            return (SaleState.Scheduled, cap.SaleEnds);
        }

        if (cap.SaleStarts > now)
        {
            return (SaleState.Scheduled, cap.SaleStarts);
        }

        return (Available(id, used) == 0 ? SaleState.SoldOut : SaleState.OnSale, cap.SaleEnds);
    }

    private OutcomeCode CreatePricing(CreatePrice c)
    {
        if (!Visible(c.TenantId, c.CapacityId))
        {
            return OutcomeCode.NotFound;
        }

        if (Prices.ContainsKey(c.Id))
        {
            return OutcomeCode.Invalid;
        }

        Prices[c.Id] = new Price { Id = c.Id, Tenant = c.TenantId, Capacity = c.CapacityId, Base = c.BasePrice, Current = c.CurrentPrice, Currency = c.Currency };
        PriceOrder.Add(c.Id);
        return OutcomeCode.Ok;
    }

    private OutcomeCode UpdatePricing(UpdatePrice c)
    {
        if (!Prices.TryGetValue(c.Id, out var p) || p.Tenant != c.TenantId)
        {
            return OutcomeCode.NotFound;
        }

        p.Base = c.BasePrice.Or(p.Base);
        p.Current = c.CurrentPrice.Or(p.Current);
        p.Currency = c.Currency.Or(p.Currency);
        return OutcomeCode.Ok;
    }

    /// <summary>Why the buyer limits refuse some items: the code, the limit that refuses, and for an excess the numbers.</summary>
    public readonly record struct LimitRefusalOf(OutcomeCode Code, Guid Limit, BuyerLimitExcess? Excess);

    /// <summary>
    /// Every limit over any item's capacity, once, items in order and each capacity's limits in
    /// creation order; the first that refuses answers: without a key, a limit that requires one;
    /// with one, a limit the buyer's live tickets, waiting units (<see cref="BuyerHas"/>) and these items together
    /// would exceed, less what is given back. Null when none refuses.
    /// </summary>
    /// <param name="keepsWithin">A change of a hold: what takes no more under a limit than it gives back passes it.</param>
    private LimitRefusalOf? LimitRefusal(Guid tenant, string? buyerKey, IEnumerable<(Guid Capacity, int Quantity)> items, IEnumerable<(Guid Capacity, int Quantity)>? givenBack = null, bool keepsWithin = false)
    {
        var list = items.ToList();
        var seen = new HashSet<Guid>();
        foreach (var limit in list.SelectMany(i => LimitsOn(i.Capacity)))
        {
            if (!seen.Add(limit.Id))
            {
                continue;
            }

            if (buyerKey is null)
            {
                if (limit.RequireKey)
                {
                    return new LimitRefusalOf(OutcomeCode.BuyerKeyRequired, limit.Id, null);
                }

                continue;
            }

            var back = (givenBack ?? []).Where(b => limit.Capacities.Contains(b.Capacity)).Sum(b => (long)b.Quantity);
            var has = BuyerHas(tenant, buyerKey, limit.Capacities) - back;
            var asks = list.Where(i => limit.Capacities.Contains(i.Capacity)).Sum(i => (long)i.Quantity);
            if (keepsWithin && asks <= back && has + asks > limit.Max)
            {
                Tally(ChangeEvent.MovedPastLoweredLimit);
            }
            else if (has + asks > limit.Max)
            {
                var waited = Entries.Values.Where(e => e.Status == WaitlistStatus.Waiting && e.Tenant == tenant && e.BuyerKey == buyerKey)
                    .SelectMany(e => e.Items).Where(i => limit.Capacities.Contains(i.Capacity)).Sum(i => (long)i.Quantity);
                if (givenBack is null && has - waited + asks <= limit.Max)
                {
                    Tally(WaitlistEvent.RefusedForUnitsWaitedFor);
                }

                return new LimitRefusalOf(OutcomeCode.BuyerLimitExceeded, limit.Id, new BuyerLimitExcess(limit.Id, has, asks, limit.Max));
            }
        }

        return null;
    }

    /// <summary>Records what a limit's refusal must carry and answers its code.</summary>
    private OutcomeCode Refused(LimitRefusalOf refusal)
    {
        LastLimit = refusal.Limit;
        LastExcess = refusal.Excess;
        if (refusal.Code == OutcomeCode.BuyerKeyRequired)
        {
            LastField = "buyer_key";
        }

        return refusal.Code;
    }

    private OutcomeCode Hold(PlaceHold c, DateTimeOffset now, List<Move> moves)
    {
        if (c.Items.Length is 0 or > MaxItems)
        {
            return OutcomeCode.Invalid;
        }

        if (c.Minutes is < 1 or > MaxHoldMinutes)
        {
            return OutcomeCode.Invalid;
        }

        if (c.BuyerKey is { } key && !ValidBuyerKey(key))
        {
            LastField = "buyer_key";
            return OutcomeCode.Invalid;
        }

        var items = new List<Item>();
        foreach (var item in c.Items)
        {
            if (item.Quantity is < 1 or > MaxQuantity)
            {
                return OutcomeCode.InvalidQuantity;
            }

            if (!Visible(c.TenantId, item.CapacityId))
            {
                return OutcomeCode.NotFound;
            }

            Lock? locked = null;
            if (item.PricingId is { } pid)
            {
                if (!Prices.TryGetValue(pid, out var price) || price.Tenant != c.TenantId || price.Capacity != item.CapacityId)
                {
                    return OutcomeCode.Invalid;
                }

                locked = new Lock(pid, price.Current ?? price.Base, price.Currency);
            }

            items.Add(new Item(item.CapacityId, item.Quantity, locked, item.AllocationId));
        }

        // Then the allocations, item by item, each checked in full before the next item: it exists and
        // is the tenant's, is the item's capacity's, is open, and has idle units for all the cart draws from it.
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Allocation is not { } allocationId)
            {
                continue;
            }

            if (VisibleAllocation(c.TenantId, allocationId) is not { } a)
            {
                return OutcomeCode.NotFound;
            }

            if (a.Capacity != items[i].Capacity)
            {
                return OutcomeCode.Invalid;
            }

            if (a.Status == AllocationStatus.Closed || a.ExpiresAt <= now)
            {
                return OutcomeCode.AllocationClosed;
            }

            if (items.Where(x => x.Allocation == allocationId).Sum(x => (long)x.Quantity) > a.Idle)
            {
                LastAvailable = a.Idle;
                return OutcomeCode.AllocationInsufficient;
            }
        }

        // An inactive node refuses the public items; the allocated ones only if it was deactivated by
        // hand (one its sell-out closed is closed to the public, not to the blocks set aside in it).
        if (Demand(items.Where(i => i.Allocation is null).Select(i => (i.Capacity, i.Quantity))).Keys.Any(n => !Caps[n].Active)
            || Demand(items.Select(i => (i.Capacity, i.Quantity))).Keys.Any(n => !Caps[n].Active && !Caps[n].ClosedBySellOut))
        {
            return OutcomeCode.CapacityInactive;
        }

        // Only the public items meet the sale rules and take room: allocated ones are already kept aside.
        var publicItems = items.Where(i => i.Allocation is null).ToList();
        if (SaleRefusal(publicItems.Select(i => i.Capacity), now) is { } notOnSale)
        {
            return notOnSale;
        }

        var demand = Demand(publicItems.Select(i => (i.Capacity, i.Quantity)));
        var used = UsedAll();
        var owed = Owed();
        foreach (var (node, quantity) in demand)
        {
            if (Caps[node].Ceiling is { } ceiling)
            {
                var (r, s) = used[node];
                if (ceiling - r - s - owed[node].Below < quantity)
                {
                    return OutcomeCode.InsufficientCapacity;
                }
            }
        }

        // Last, the buyer limits.
        if (LimitRefusal(c.TenantId, c.BuyerKey, items.Select(i => (i.Capacity, i.Quantity))) is { } refusal)
        {
            return Refused(refusal);
        }

        var res = new Res
        {
            Id = c.ReservationId, Tenant = c.TenantId, Items = [.. items], CreatedAt = now, ExpiresAt = now.AddMinutes(c.Minutes),
            Status = ReservationStatus.Active, BuyerKey = c.BuyerKey,
        };
        Reservations[res.Id] = res;
        ResOrder.Add(res.Id);
        _taken.UnionWith(demand.Keys);
        moves.AddRange(Moves(res.Id, publicItems, LedgerKind.Hold, 1, 0, null));
        foreach (var item in items.Where(i => i.Allocation is not null))
        {
            // Idle to held: the nodes keep the units reserved; the ledger still names the hold.
            Allocations[item.Allocation!.Value].Idle -= item.Quantity;
            moves.Add(new Move(LedgerKind.Hold, res.Id, item.Capacity, 0, 0, item.Allocation));
        }

        return OutcomeCode.Ok;
    }

    /// <summary>
    /// A hold or sale ends (confirm, release, expiry, cancel). Public items move their nodes as ever.
    /// Allocated units: a confirm sells them (reserved to sold on the nodes); a release or expiry puts
    /// them back in an open allocation's idle (nodes unmoved, an empty entry per item) or, once it is
    /// closed, frees them to the public; a cancelled sale frees them to the public.
    /// </summary>
    private void End(Res r, LedgerKind kind, ReservationStatus status, List<Move> moves)
    {
        var (reservedSign, soldSign) = kind switch
        {
            LedgerKind.Confirm => (-1, 1),
            LedgerKind.Release or LedgerKind.Expire => (-1, 0),
            LedgerKind.Cancel => (0, -1),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        // An offer's end is its entry's: confirmed, accepted; released or expired, lapsed for good. A
        // refund of an accepted offer is a sale like any other, and an entry that left stays left.
        if (r.WaitlistId is { } entryId && kind != LedgerKind.Cancel && Entries[entryId] is { Status: WaitlistStatus.Offered } entry)
        {
            entry.Status = kind == LedgerKind.Confirm ? WaitlistStatus.Accepted : WaitlistStatus.Lapsed;
            entry.Lapse = kind switch { LedgerKind.Release => WaitlistLapse.OfferReleased, LedgerKind.Expire => WaitlistLapse.OfferExpired, _ => null };
            Tally(kind == LedgerKind.Confirm ? WaitlistEvent.Accepted : WaitlistEvent.Lapsed);
        }

        moves.AddRange(Moves(r.Id, r.Items.Where(i => i.Allocation is null), kind, reservedSign, soldSign, null));
        foreach (var drawn in r.Items.Where(i => i.Allocation is not null).GroupBy(i => i.Allocation!.Value))
        {
            var a = Allocations[drawn.Key];
            if (kind is LedgerKind.Release or LedgerKind.Expire && a.Status == AllocationStatus.Open)
            {
                a.Idle += drawn.Sum(i => i.Quantity);
                moves.AddRange(drawn.Select(i => new Move(kind, r.Id, i.Capacity, 0, 0, a.Id)));
            }
            else
            {
                moves.AddRange(Moves(r.Id, drawn, kind, reservedSign, soldSign, a.Id));
            }
        }

        r.Status = status;
    }

    private void ExpireIfDue(Res r, DateTimeOffset now, List<Move> moves)
    {
        if (r.Status == ReservationStatus.Active && now >= r.ExpiresAt)
        {
            End(r, LedgerKind.Expire, ReservationStatus.Expired, moves);
        }
    }

    private OutcomeCode Transit(TransitionReservation c, DateTimeOffset now, List<Move> moves)
    {
        if (!Reservations.TryGetValue(c.ReservationId, out var r) || r.Tenant != c.TenantId)
        {
            return OutcomeCode.NotFound;
        }

        ExpireIfDue(r, now, moves);
        switch (c.Transition, r.Status)
        {
            case (Transition.Confirm, ReservationStatus.Active):
                End(r, LedgerKind.Confirm, ReservationStatus.Confirmed, moves);
                return OutcomeCode.Ok;
            case (Transition.Release, ReservationStatus.Active):
                End(r, LedgerKind.Release, ReservationStatus.Released, moves);
                return OutcomeCode.Ok;
            case (Transition.Cancel, ReservationStatus.Confirmed):
                End(r, LedgerKind.Cancel, ReservationStatus.Cancelled, moves);

                // A whole refund reads as refunds in part that took everything: nothing left, all cancelled.
                r.Items = [.. r.Items.Select(i => i with { Quantity = 0, Cancelled = i.Cancelled + i.Quantity })];
                return OutcomeCode.Ok;
            case (Transition.Confirm, ReservationStatus.Confirmed):
            case (Transition.Release, ReservationStatus.Released):
                return OutcomeCode.Unchanged;
            case (_, ReservationStatus.Expired):
                return OutcomeCode.ReservationExpired;
            default:
                return OutcomeCode.ReservationNotActive;
        }
    }

    private OutcomeCode Extend(ExtendReservation c, DateTimeOffset now, List<Move> moves)
    {
        if (c.Minutes is < 1 or > MaxHoldMinutes)
        {
            return OutcomeCode.Invalid;
        }

        if (!Reservations.TryGetValue(c.ReservationId, out var r) || r.Tenant != c.TenantId)
        {
            return OutcomeCode.NotFound;
        }

        ExpireIfDue(r, now, moves);
        if (r.Status == ReservationStatus.Expired)
        {
            return OutcomeCode.ReservationExpired;
        }

        if (r.Status != ReservationStatus.Active)
        {
            return OutcomeCode.ReservationNotActive;
        }

        // An offer keeps the length its organiser gave it.
        if (r.WaitlistId is not null)
        {
            return OutcomeCode.NotChangeable;
        }

        var expiresAt = now.AddMinutes(c.Minutes);
        if (expiresAt > r.CreatedAt.AddMinutes(MaxLifetimeMinutes))
        {
            return OutcomeCode.ExtensionLimit;
        }

        r.ExpiresAt = expiresAt;
        return OutcomeCode.Ok;
    }

    private OutcomeCode ExpireAll(ExpireDue c, DateTimeOffset now, List<Move> moves)
    {
        var count = 0;
        foreach (var id in c.ReservationIds)
        {
            if (Reservations.TryGetValue(id, out var r) && r.Status == ReservationStatus.Active && now >= r.ExpiresAt)
            {
                ExpireIfDue(r, now, moves);
                count++;
            }
        }

        LastExpiredCount = count;
        return OutcomeCode.Ok;
    }

    // ---- allocations ----

    public const int MaxAllocationSize = MaxTotal;
    public const int MaxNameLength = 200;

    private OutcomeCode Allocate(CreateAllocation c, DateTimeOffset now, List<Move> moves)
    {
        if (string.IsNullOrWhiteSpace(c.Name) || c.Name.Length > MaxNameLength || c.Name.Any(char.IsControl))
        {
            return OutcomeCode.Invalid;
        }

        if (c.Size is < 1 or > MaxAllocationSize)
        {
            return OutcomeCode.InvalidQuantity;
        }

        if (c.ExpiresAt is { } at && at <= now)
        {
            return OutcomeCode.Invalid;
        }

        if (!Visible(c.TenantId, c.CapacityId))
        {
            return OutcomeCode.NotFound;
        }

        if (Allocations.ContainsKey(c.Id))
        {
            return OutcomeCode.Invalid;
        }

        // Taken like a hold of its size, inactive or not.
        if (!Fits(c.CapacityId, c.Size))
        {
            LastAvailable = Available(c.CapacityId, UsedAll());
            return OutcomeCode.InsufficientCapacity;
        }

        var a = new Alloc { Id = c.Id, Tenant = c.TenantId, Capacity = c.CapacityId, ExpiresAt = c.ExpiresAt, Idle = c.Size, Status = AllocationStatus.Open };
        Allocations[a.Id] = a;
        AllocOrder.Add(a.Id);
        moves.AddRange(AllocationMoves(a, LedgerKind.Allocate, c.Size));
        return OutcomeCode.Ok;
    }

    /// <summary>Only the size is changed by the scripts; name and expiry are kept.</summary>
    private OutcomeCode ResizeAllocation(UpdateAllocation c, DateTimeOffset now, List<Move> moves)
    {
        _ = now;
        if (c.Name.IsSet || c.ExpiresAt.IsSet)
        {
            throw new ArgumentOutOfRangeException(nameof(c), "The model only resizes allocations.");
        }

        if (VisibleAllocation(c.TenantId, c.Id) is not { } a)
        {
            return OutcomeCode.NotFound;
        }

        // Past its expiry an allocation takes no new business, swept or not.
        if (a.Status == AllocationStatus.Closed || a.ExpiresAt <= now)
        {
            return OutcomeCode.AllocationClosed;
        }

        var size = SizeOf(a.Id);
        var wanted = c.Size.Or((int)size);
        if (wanted is < 0 or > MaxAllocationSize)
        {
            return OutcomeCode.InvalidQuantity;
        }

        var (held, sold) = HeldSold(a.Id);
        if (wanted < held + sold)
        {
            return OutcomeCode.AllocationBelowCommitted;
        }

        var delta = wanted - size;
        if (delta > 0 && !Fits(a.Capacity, delta))
        {
            LastAvailable = Available(a.Capacity, UsedAll());
            return OutcomeCode.InsufficientCapacity;
        }

        if (delta == 0)
        {
            return OutcomeCode.Unchanged;
        }

        a.Idle += delta;
        moves.AddRange(AllocationMoves(a, delta > 0 ? LedgerKind.Allocate : LedgerKind.Deallocate, delta));
        return OutcomeCode.Ok;
    }

    private OutcomeCode GiveBack(ReleaseAllocation c, DateTimeOffset now, List<Move> moves)
    {
        if (c.Quantity is < 1 or > MaxAllocationSize)
        {
            return OutcomeCode.InvalidQuantity;
        }

        if (VisibleAllocation(c.TenantId, c.Id) is not { } a)
        {
            return OutcomeCode.NotFound;
        }

        // Past its expiry an allocation takes no new business, swept or not.
        if (a.Status == AllocationStatus.Closed || a.ExpiresAt <= now)
        {
            return OutcomeCode.AllocationClosed;
        }

        if (c.Quantity > a.Idle)
        {
            LastAvailable = a.Idle;
            return OutcomeCode.AllocationInsufficient;
        }

        a.Idle -= c.Quantity;
        moves.AddRange(AllocationMoves(a, LedgerKind.Deallocate, -c.Quantity));
        return OutcomeCode.Ok;
    }

    private OutcomeCode CloseOne(CloseAllocation c, List<Move> moves)
    {
        if (VisibleAllocation(c.TenantId, c.Id) is not { } a)
        {
            return OutcomeCode.NotFound;
        }

        if (a.Status == AllocationStatus.Closed)
        {
            return OutcomeCode.Unchanged;
        }

        Close(a, moves);
        return OutcomeCode.Ok;
    }

    /// <summary>Every idle unit back to the public; from now on its holds' units go back to the public too.</summary>
    private void Close(Alloc a, List<Move> moves)
    {
        if (a.Idle > 0)
        {
            moves.AddRange(AllocationMoves(a, LedgerKind.Deallocate, -a.Idle));
        }

        a.Idle = 0;
        a.Status = AllocationStatus.Closed;
    }

    /// <summary>The sweep: any tenant's, open and due; an id named twice is closed once.</summary>
    private OutcomeCode CloseDue(CloseDueAllocations c, DateTimeOffset now, List<Move> moves)
    {
        var count = 0;
        foreach (var id in c.AllocationIds)
        {
            if (Allocations.TryGetValue(id, out var a) && a.Status == AllocationStatus.Open && a.ExpiresAt is { } at && at <= now)
            {
                Close(a, moves);
                count++;
            }
        }

        LastClosedCount = count;
        return OutcomeCode.Ok;
    }

    // ---- buyer limits ----

    public const int MaxLimitCapacities = 100;
    public const int MaxPerBuyer = 1_000_000;
    public const int MaxBuyerKeyLength = 128;

    /// <summary>An event id: 1 to 64 ASCII letters, digits, '.', '_', ':' or '-'.</summary>
    public static bool ValidEventId(string id) =>
        System.Text.RegularExpressions.Regex.IsMatch(id, @"\A[A-Za-z0-9._:\-]{1,64}\z");

    /// <summary>A buyer key: 1 to 128 characters, not blank, none a control or format character.</summary>
    public static bool ValidBuyerKey(string key) =>
        key.Length is >= 1 and <= MaxBuyerKeyLength
        && !key.All(char.IsWhiteSpace)
        && !key.Any(ch => char.IsControl(ch) || char.GetUnicodeCategory(ch) == System.Globalization.UnicodeCategory.Format);

    private static bool ValidName(string name, int maxLength = MaxNameLength) =>
        !string.IsNullOrWhiteSpace(name) && name.Length <= maxLength && !name.Any(c => char.IsControl(c) || Invisible.Contains(c));

    /// <summary>Zero-width spaces and joiners, direction marks, bidi embeddings, overrides and isolates, the byte-order mark.</summary>
    private static readonly HashSet<char> Invisible =
        [.. Enumerable.Range(0x200B, 5).Concat(Enumerable.Range(0x202A, 5)).Concat(Enumerable.Range(0x2060, 5)).Concat(Enumerable.Range(0x2066, 4)).Append(0xFEFF).Select(c => (char)c)];

    private OutcomeCode Refuse(string field)
    {
        LastField = field;
        return OutcomeCode.Invalid;
    }

    /// <summary>Event id, name, maximum, how many capacities, then each capacity in order (the tenant's, the event's, named once), then the id.</summary>
    private OutcomeCode CreateLimit(CreateBuyerLimit c)
    {
        if (!ValidEventId(c.EventId))
        {
            return Refuse("event_id");
        }

        if (!ValidName(c.Name))
        {
            return Refuse("name");
        }

        if (c.PerBuyerMax is < 1 or > MaxPerBuyer)
        {
            return Refuse("per_buyer_max");
        }

        if (c.CapacityIds.Length is 0 or > MaxLimitCapacities)
        {
            return Refuse("capacity_ids");
        }

        for (var i = 0; i < c.CapacityIds.Length; i++)
        {
            var id = c.CapacityIds[i];
            if (!Visible(c.TenantId, id) || Caps[id].EventId != c.EventId || c.CapacityIds[..i].Contains(id))
            {
                return Refuse($"capacity_ids[{i}]");
            }
        }

        if (Limits.ContainsKey(c.Id))
        {
            return Refuse("id");
        }

        Limits[c.Id] = new Limit
        {
            Id = c.Id, Tenant = c.TenantId, EventId = c.EventId, Capacities = [.. c.CapacityIds], Name = c.Name, Max = c.PerBuyerMax, RequireKey = c.RequireBuyerKey,
        };
        LimitOrder.Add(c.Id);
        LastLimit = c.Id;
        return OutcomeCode.Ok;
    }

    private Limit? VisibleLimit(Guid tenant, Guid id) => Limits.TryGetValue(id, out var l) && l.Tenant == tenant && !l.Deleted ? l : null;

    /// <summary>A new maximum applies to the next holds only: nothing held or sold is touched.</summary>
    private OutcomeCode UpdateLimit(UpdateBuyerLimit c)
    {
        if (VisibleLimit(c.TenantId, c.Id) is not { } l)
        {
            return OutcomeCode.NotFound;
        }

        LastLimit = l.Id;
        var (name, max, require) = (c.Name.Or(l.Name), c.PerBuyerMax.Or(l.Max), c.RequireBuyerKey.Or(l.RequireKey));
        if (!ValidName(name))
        {
            return Refuse("name");
        }

        if (max is < 1 or > MaxPerBuyer)
        {
            return Refuse("per_buyer_max");
        }

        if ((name, max, require) == (l.Name, l.Max, l.RequireKey))
        {
            return OutcomeCode.Unchanged;
        }

        (l.Name, l.Max, l.RequireKey) = (name, max, require);
        return OutcomeCode.Ok;
    }

    private OutcomeCode DeleteLimit(DeleteBuyerLimit c)
    {
        if (VisibleLimit(c.TenantId, c.Id) is not { } l)
        {
            return OutcomeCode.NotFound;
        }

        LastLimit = l.Id;
        l.Deleted = true;
        return OutcomeCode.Ok;
    }

    // ---- holds changed in part ----

    /// <summary>What the last refused reclaim must list: each capacity short, in the order of the hold's items.</summary>
    public List<ShortfallItem>? LastShortfall { get; private set; }

    /// <summary>Whether the last command confirmed an expired hold after all.</summary>
    public bool LastReclaimed { get; private set; }

    /// <summary>What changes in part did, counted to show that the scripts reach each situation.</summary>
    public Dictionary<ChangeEvent, int> ChangeEvents { get; } = [];

    private void Tally(ChangeEvent what) => ChangeEvents[what] = ChangeEvents.GetValueOrDefault(what) + 1;

    private static int Held(IEnumerable<Item> items, Guid capacity) => items.Where(i => i.Capacity == capacity).Sum(i => i.Quantity);

    /// <summary>
    /// Takes units of a capacity off a hold, the ones added last first. A refund keeps every item and
    /// counts what left it as cancelled; otherwise an item left empty goes.
    /// </summary>
    private static List<Item> Take(List<Item> items, Guid capacity, int units, bool refund)
    {
        var result = new List<Item>(items);
        for (var i = result.Count - 1; i >= 0 && units > 0; i--)
        {
            if (result[i].Capacity == capacity)
            {
                var take = Math.Min(units, result[i].Quantity);
                units -= take;
                result[i] = result[i] with { Quantity = result[i].Quantity - take, Cancelled = result[i].Cancelled + (refund ? take : 0) };
            }
        }

        return refund ? result : [.. result.Where(i => i.Quantity > 0)];
    }

    /// <summary>
    /// Adds units of a capacity: they lock today's price of the named entry, or else of the entry the
    /// capacity's last item locked; at the same price as that item they join it, otherwise they are an item of their own.
    /// </summary>
    private List<Item> Put(List<Item> items, Guid capacity, int units, Guid? pricing)
    {
        var last = items.FindLastIndex(i => i.Capacity == capacity);
        pricing ??= last >= 0 ? items[last].Lock?.PricingId : null;
        var locked = pricing is { } id ? new Lock(id, Prices[id].Current ?? Prices[id].Base, Prices[id].Currency) : null;
        var result = new List<Item>(items);
        if (last >= 0 && result[last].Lock == locked)
        {
            result[last] = result[last] with { Quantity = result[last].Quantity + units };
        }
        else
        {
            result.Add(new Item(capacity, units, locked));
        }

        return result;
    }

    /// <summary>
    /// New target quantities for an active hold. The request's shape first (item count, minutes, then
    /// item by item: quantity 0..100, no allocation, each capacity once); then the hold (the tenant's,
    /// expired on the spot if due, active, neither drawn from an allocation nor an offer); then item by
    /// item its capacity and price; then the lifetime. Targets all 0 release the hold. Units added are
    /// checked as a new hold's are (inactive nodes, room beside the queues, the buyer's limits), net of
    /// what this change gives back: per node the units added less the units lowered below it, per limit
    /// the buyer's tickets less those lowered on its capacities; then what is lowered is released,
    /// newest units first, and what is added held.
    /// </summary>
    private OutcomeCode Change(ChangeHold c, DateTimeOffset now, List<Move> moves)
    {
        if (c.Items.Length is 0 or > MaxItems)
        {
            return Refuse("items");
        }

        if (c.Minutes is { } asked && asked is < 1 or > MaxHoldMinutes)
        {
            return Refuse("reservation_minutes");
        }

        for (var i = 0; i < c.Items.Length; i++)
        {
            if (c.Items[i].Quantity is < 0 or > MaxQuantity)
            {
                LastField = $"items[{i}].quantity";
                return OutcomeCode.InvalidQuantity;
            }

            if (c.Items[i].AllocationId is not null)
            {
                return Refuse($"items[{i}].allocation_id");
            }

            if (c.Items[..i].Any(x => x.CapacityId == c.Items[i].CapacityId))
            {
                return Refuse($"items[{i}].capacity_id");
            }
        }

        if (!Reservations.TryGetValue(c.ReservationId, out var r) || r.Tenant != c.TenantId)
        {
            return OutcomeCode.NotFound;
        }

        ExpireIfDue(r, now, moves);
        if (r.Status != ReservationStatus.Active)
        {
            return r.Status == ReservationStatus.Expired ? OutcomeCode.ReservationExpired : OutcomeCode.ReservationNotActive;
        }

        if (r.Items.Any(i => i.Allocation is not null) || r.WaitlistId is not null)
        {
            return OutcomeCode.NotChangeable;
        }

        var up = new List<(Guid Capacity, int Quantity, Guid? Pricing)>();
        var down = new List<(Guid Capacity, int Quantity)>();
        for (var i = 0; i < c.Items.Length; i++)
        {
            var target = c.Items[i];
            if (!Visible(c.TenantId, target.CapacityId))
            {
                return OutcomeCode.NotFound;
            }

            if (target.PricingId is { } pid && (!Prices.TryGetValue(pid, out var price) || price.Tenant != c.TenantId || price.Capacity != target.CapacityId))
            {
                return Refuse($"items[{i}].pricing_id");
            }

            var held = Held(r.Items, target.CapacityId);
            if (target.Quantity > held)
            {
                up.Add((target.CapacityId, target.Quantity - held, target.PricingId));
            }
            else if (target.Quantity < held)
            {
                down.Add((target.CapacityId, held - target.Quantity));
            }
        }

        var expiresAt = c.Minutes is { } minutes ? now.AddMinutes(minutes) : r.ExpiresAt;
        if (expiresAt > r.CreatedAt.AddMinutes(MaxLifetimeMinutes))
        {
            return OutcomeCode.ExtensionLimit;
        }

        var items = r.Items.ToList();
        foreach (var (capacity, units) in down)
        {
            items = Take(items, capacity, units, refund: false);
        }

        if (items.Count == 0 && up.Count == 0)
        {
            End(r, LedgerKind.Release, ReservationStatus.Released, moves);
            Tally(ChangeEvent.ReleasedByChange);
            return OutcomeCode.Ok;
        }

        if (up.Count > 0)
        {
            var demand = Demand(up.Select(u => (u.Capacity, u.Quantity)));
            if (demand.Keys.Any(n => !Caps[n].Active))
            {
                return OutcomeCode.CapacityInactive;
            }

            // Units added meet the sale rules as a new hold's do.
            if (SaleRefusal(up.Select(u => u.Capacity), now) is { } notOnSale)
            {
                return notOnSale;
            }

            // Judged as if what it gives back were released first, with what the queues are then owed.
            var back = Demand(down);
            var used = UsedAll().ToDictionary(u => u.Key, u => (Reserved: u.Value.Reserved - back.GetValueOrDefault(u.Key), u.Value.Sold));
            var owed = Owed(used);
            if (demand.Any(d => Caps[d.Key].Ceiling is { } ceiling
                && Math.Max(0, ceiling - used[d.Key].Reserved - used[d.Key].Sold - owed[d.Key].Below) < d.Value))
            {
                return OutcomeCode.InsufficientCapacity;
            }

            if (LimitRefusal(r.Tenant, r.BuyerKey, up.Select(u => (u.Capacity, u.Quantity)), down, keepsWithin: true) is { } refusal)
            {
                return Refused(refusal);
            }
        }

        moves.AddRange(Moves(r.Id, down.Select(d => new Item(d.Capacity, d.Quantity, null)), LedgerKind.Release, -1, 0, null));
        moves.AddRange(Moves(r.Id, up.Select(u => new Item(u.Capacity, u.Quantity, null)), LedgerKind.Hold, 1, 0, null));
        _taken.UnionWith(Demand(up.Select(u => (u.Capacity, u.Quantity))).Keys);
        foreach (var (capacity, units, pricing) in up)
        {
            items = Put(items, capacity, units, pricing);
            Tally(Held(r.Items, capacity) == 0 ? ChangeEvent.Added : ChangeEvent.Raised);
        }

        if (down.Count > 0)
        {
            Tally(ChangeEvent.Lowered);
        }

        r.Items = [.. items];
        r.ExpiresAt = expiresAt;
        return OutcomeCode.Ok;
    }

    /// <summary>
    /// A confirm that names quantities, or that reclaims an expired hold. The hold (the tenant's, expired
    /// on the spot if due): a sale asked for nothing more is unchanged; an expired hold needs a reclaim;
    /// otherwise it must be active or expired. Then the quantities (at least one, each a capacity of the
    /// hold named once, 0 up to what it has there, not all 0); a capacity not named keeps none. A hold
    /// drawn from an allocation confirms only whole and is never reclaimed; an offer is never reclaimed.
    /// An active hold sells what it keeps and releases the rest; an expired one is reclaimed.
    /// </summary>
    private OutcomeCode ConfirmPart(ConfirmHold c, DateTimeOffset now, List<Move> moves)
    {
        if (!Reservations.TryGetValue(c.ReservationId, out var r) || r.Tenant != c.TenantId)
        {
            return OutcomeCode.NotFound;
        }

        ExpireIfDue(r, now, moves);
        switch (r.Status)
        {
            case ReservationStatus.Confirmed when c.Items is null
                || (c.Items.GroupBy(p => p.CapacityId).All(g => g.Sum(p => p.Quantity) == r.Items.Where(i => i.Capacity == g.Key).Sum(i => i.Quantity))
                    && r.Items.Where(i => i.Quantity > 0).All(i => c.Items.Any(p => p.CapacityId == i.Capacity))):
                return OutcomeCode.Unchanged;
            case ReservationStatus.Expired when !c.Reclaim:
                return OutcomeCode.ReservationExpired;
            case ReservationStatus.Active or ReservationStatus.Expired:
                break;
            default:
                return OutcomeCode.ReservationNotActive;
        }

        var kept = r.Items.ToList();
        var rest = new List<(Guid Capacity, int Quantity)>();
        if (c.Items is { } parts)
        {
            if (PartsRefusal(r, parts, least: 0) is { } refused)
            {
                return refused;
            }

            if (parts.Sum(p => p.Quantity) == 0)
            {
                return Refuse("items");
            }

            foreach (var capacity in r.Items.Select(i => i.Capacity).Distinct())
            {
                var keep = parts.Where(p => p.CapacityId == capacity).Sum(p => p.Quantity);
                var held = Held(r.Items, capacity);
                if (held > keep)
                {
                    rest.Add((capacity, held - keep));
                    kept = Take(kept, capacity, held - keep, refund: false);
                }
            }
        }

        var drawn = r.Items.Any(i => i.Allocation is not null);
        if (r.Status == ReservationStatus.Expired ? drawn || r.WaitlistId is not null : drawn && rest.Count > 0)
        {
            return OutcomeCode.NotChangeable;
        }

        if (r.Status == ReservationStatus.Expired)
        {
            return Reclaim(r, kept, moves);
        }

        moves.AddRange(Moves(r.Id, rest.Select(x => new Item(x.Capacity, x.Quantity, null)), LedgerKind.Release, -1, 0, null));
        r.Items = [.. kept];
        End(r, LedgerKind.Confirm, ReservationStatus.Confirmed, moves);
        if (rest.Count > 0)
        {
            Tally(ChangeEvent.ConfirmedPart);
        }

        return OutcomeCode.Ok;
    }

    /// <summary>
    /// An expired hold sold after all, if what it asks for is free now as for a new public hold: no
    /// inactive node; on each of its capacities, availability (less what queues are owed) at least what
    /// it asks there, else each such capacity is short; and, if each fits alone, all of them together,
    /// else the first node short of their sum is listed with that sum; then the buyer's limits. The units go straight to sold at the
    /// prices the hold locked.
    /// </summary>
    private OutcomeCode Reclaim(Res r, List<Item> items, List<Move> moves)
    {
        var demand = Demand(items.Select(i => (i.Capacity, i.Quantity)));
        if (demand.Keys.Any(n => !Caps[n].Active))
        {
            return OutcomeCode.CapacityInactive;
        }

        var used = UsedAll();
        var capacities = items.Select(i => i.Capacity).Distinct().ToList();
        var shortfall = capacities
            .Select(cap => new ShortfallItem(cap, Held(items, cap), Available(cap, used) ?? long.MaxValue))
            .Where(s => s.Available < s.Requested)
            .ToList();
        var owed = Owed();
        long Left(Guid n) => Math.Max(0, Caps[n].Ceiling!.Value - used[n].Reserved - used[n].Sold - owed[n].Below);
        // The first node short of the sum, met as a hold meets them: item by item, each capacity then its pools.
        var met = items.SelectMany(i => ClosureInOrder(i.Capacity)).Distinct();
        if (shortfall.Count == 0 && met.Where(n => Caps[n].Ceiling is not null && Left(n) < demand[n]).Select(n => (Guid?)n).FirstOrDefault() is { } shortNode)
        {
            shortfall = [new ShortfallItem(shortNode, demand[shortNode], Left(shortNode))];
        }

        if (shortfall.Count > 0)
        {
            LastShortfall = shortfall;
            Tally(ChangeEvent.ReclaimShort);
            return OutcomeCode.ReservationExpired;
        }

        if (LimitRefusal(r.Tenant, r.BuyerKey, items.Select(i => (i.Capacity, i.Quantity))) is { } refusal)
        {
            return Refused(refusal);
        }

        r.Items = [.. items];
        r.Status = ReservationStatus.Confirmed;
        _taken.UnionWith(demand.Keys);
        moves.AddRange(Moves(r.Id, items, LedgerKind.Reclaim, 0, 1, null));
        LastReclaimed = true;
        Tally(ChangeEvent.Reclaimed);
        return OutcomeCode.Ok;
    }

    /// <summary>
    /// A partial refund of a sale (nothing else), the quantities checked as for a partial confirm but
    /// from 1; a sale drawn from an allocation is refunded only whole. The units leave the newest items
    /// first, which keep the count; the sale is cancelled once nothing is left.
    /// </summary>
    private OutcomeCode Refund(CancelSale c, DateTimeOffset now, List<Move> moves)
    {
        if (!Reservations.TryGetValue(c.ReservationId, out var r) || r.Tenant != c.TenantId)
        {
            return OutcomeCode.NotFound;
        }

        ExpireIfDue(r, now, moves);
        if (r.Status != ReservationStatus.Confirmed)
        {
            return r.Status == ReservationStatus.Expired ? OutcomeCode.ReservationExpired : OutcomeCode.ReservationNotActive;
        }

        if (PartsRefusal(r, c.Items, least: 1) is { } refused)
        {
            return refused;
        }

        if (r.Items.Any(i => i.Allocation is not null))
        {
            return OutcomeCode.NotChangeable;
        }

        var items = r.Items.ToList();
        foreach (var part in c.Items)
        {
            items = Take(items, part.CapacityId, part.Quantity, refund: true);
        }

        moves.AddRange(Moves(r.Id, c.Items.Select(p => new Item(p.CapacityId, p.Quantity, null)), LedgerKind.Cancel, 0, -1, null));
        r.Items = [.. items];
        if (items.All(i => i.Quantity == 0))
        {
            r.Status = ReservationStatus.Cancelled;
            Tally(ChangeEvent.RefundedLast);
        }
        else
        {
            Tally(ChangeEvent.RefundedPart);
        }

        return OutcomeCode.Ok;
    }

    /// <summary>At least one part; item by item a capacity the reservation has, <paramref name="least"/> up to what it has there, named once.</summary>
    private OutcomeCode? PartsRefusal(Res r, ItemQuantity[] parts, int least)
    {
        if (parts.Length == 0)
        {
            return Refuse("items");
        }

        for (var i = 0; i < parts.Length; i++)
        {
            if (r.Items.All(x => x.Capacity != parts[i].CapacityId))
            {
                return Refuse($"items[{i}].capacity_id");
            }

            if (parts[i].Quantity < least || parts[i].Quantity > Held(r.Items, parts[i].CapacityId))
            {
                LastField = $"items[{i}].quantity";
                return OutcomeCode.InvalidQuantity;
            }

            if (parts[..i].Any(p => p.CapacityId == parts[i].CapacityId))
            {
                return Refuse($"items[{i}].capacity_id");
            }
        }

        return null;
    }

    // ---- waiting lists ----

    public const int MaxOfferMinutes = 120;
    public const int MaxExternalRefLength = 128;

    /// <summary>The entry the command being decided added, so that an offer made in the same step counts as made on joining.</summary>
    private Guid? _joined;

    /// <summary>Entries already counted as held back or passed over: a list is settled after every step, and each entry counts once.</summary>
    private readonly HashSet<(WaitlistEvent, Guid)> _tallied = [];

    private void Tally(WaitlistEvent what) => WaitlistEvents[what] = WaitlistEvents.GetValueOrDefault(what) + 1;

    private void TallyOnce(WaitlistEvent what, Guid entry)
    {
        if (_tallied.Add((what, entry)))
        {
            Tally(what);
        }
    }

    /// <summary>
    /// The item count, the buyer key, the external reference; then item by item: its quantity, a
    /// capacity of the tenant, of the first item's event, named once, with its list open; then no
    /// capacity reached closed for good (by its sold-out rule, or its window ended); then no pool too
    /// small for it; then the id; then the buyer limits, as for a hold, counting the buyer's entries still waiting (a buyer may not queue for more than they could hold now).
    /// The entry joins waiting; the settling that follows every command offers it if it fits.
    /// </summary>
    private OutcomeCode Join(JoinWaitlist c, DateTimeOffset now)
    {
        if (c.Items.Length is 0 or > MaxItems)
        {
            return Refuse("items");
        }

        if (c.BuyerKey is { } key && !ValidBuyerKey(key))
        {
            return Refuse("buyer_key");
        }

        if (c.ExternalRef is { } reference && !ValidName(reference, MaxExternalRefLength))
        {
            return Refuse("external_ref");
        }

        for (var i = 0; i < c.Items.Length; i++)
        {
            var item = c.Items[i];
            if (item.Quantity is < 1 or > MaxQuantity)
            {
                LastField = $"items[{i}].quantity";
                return OutcomeCode.InvalidQuantity;
            }

            if (!Visible(c.TenantId, item.CapacityId))
            {
                return OutcomeCode.NotFound;
            }

            if (Caps[item.CapacityId].EventId != Caps[c.Items[0].CapacityId].EventId || c.Items[..i].Any(x => x.CapacityId == item.CapacityId))
            {
                return Refuse($"items[{i}].capacity_id");
            }

            if (Caps[item.CapacityId].Waitlist is not { Enabled: true })
            {
                LastField = $"items[{i}].capacity_id";
                return OutcomeCode.WaitlistDisabled;
            }
        }

        // A capacity that will not take holds again by itself (closed by its sold-out rule, or its window
        // over), here or above, would owe the entry units for good: refused as a hold there would be.
        var met = new List<Guid>();
        foreach (var item in c.Items)
        {
            met.AddRange(ClosureInOrder(item.CapacityId).Where(n => !met.Contains(n)));
        }

        if (met.Any(n => !Caps[n].Active && Caps[n].ClosedBySellOut))
        {
            return OutcomeCode.CapacityInactive;
        }

        if (met.FirstOrDefault(n => Caps[n].SaleEnds <= now) is var ended && ended != Guid.Empty)
        {
            LastNotOnSale = ended;
            return OutcomeCode.SaleClosed;
        }

        // An entry larger than a limited pool it reaches could never be offered.
        var reach = c.Items.SelectMany(i => Closure(i.CapacityId).Select(n => (Node: n, i.Quantity))).GroupBy(x => x.Node);
        if (reach.Any(g => Caps[g.Key].Ceiling is { } ceiling && g.Sum(x => (long)x.Quantity) > ceiling))
        {
            return Refuse("items");
        }

        if (Entries.ContainsKey(c.Id))
        {
            return Refuse("id");
        }

        var items = c.Items.Select(i => (i.CapacityId, i.Quantity)).ToArray();
        if (LimitRefusal(c.TenantId, c.BuyerKey, items) is { } refusal)
        {
            return Refused(refusal);
        }

        Entries[c.Id] = new Entry
        {
            Id = c.Id, Tenant = c.TenantId, EventId = Caps[items[0].CapacityId].EventId, Items = items, BuyerKey = c.BuyerKey, Status = WaitlistStatus.Waiting,
        };
        EntryOrder.Add(c.Id);
        _joined = c.Id;

        // Units owed to the queue are no longer the public's: a join may sell out an early tier it
        // reaches that is on sale (never a close_when_sold_out capacity alone: a join takes nothing).
        _taken.UnionWith(Demand(items).Keys.Where(n => Caps[n] is { Followers.Count: > 0, SoldOutAt: null } && OnSaleNow(n, now)));
        return OutcomeCode.Ok;
    }

    /// <summary>
    /// A waiting entry leaves; an offered one leaves and its offer ends (expired if already due,
    /// released otherwise), without lapsing. Leaving again changes nothing; an accepted or lapsed
    /// entry has nothing left to leave.
    /// </summary>
    private OutcomeCode Leave(LeaveWaitlist c, DateTimeOffset now, List<Move> moves)
    {
        if (!Entries.TryGetValue(c.Id, out var e) || e.Tenant != c.TenantId)
        {
            return OutcomeCode.NotFound;
        }

        switch (e.Status)
        {
            case WaitlistStatus.Waiting:
                e.Status = WaitlistStatus.Left;
                Tally(WaitlistEvent.LeftWaiting);
                return OutcomeCode.Ok;
            case WaitlistStatus.Offered:
                e.Status = WaitlistStatus.Left;
                Tally(WaitlistEvent.LeftWithOffer);
                var offer = Reservations[e.Offer!.Value];
                if (now >= offer.ExpiresAt)
                {
                    End(offer, LedgerKind.Expire, ReservationStatus.Expired, moves);
                }
                else
                {
                    End(offer, LedgerKind.Release, ReservationStatus.Released, moves);
                }

                return OutcomeCode.Ok;
            case WaitlistStatus.Left:
                return OutcomeCode.Unchanged;
            default:
                return OutcomeCode.Ok;
        }
    }

    /// <summary>
    /// Settles every event's list from scratch, each in the order its entries joined. An entry reaching
    /// a window that has ended lapses. An entry reaching a capacity not on sale (its window not yet
    /// open, its tier) is skipped. An entry fits when every node its items reach is active (or closed
    /// by its sold-out rule, which closes it to the public only) and, where limited, has free (total − reserved −
    /// sold) at least what the entry takes there plus what entries ahead of it that keep their place
    /// wait for there. An entry that fits is offered, unless its buyer's limits would refuse it: then
    /// it is passed over and keeps waiting, holding nobody back. An entry that does not fit keeps its
    /// place (its units are waited for, ahead of everyone behind it) unless every one of its
    /// capacities' lists is first_fit. One pass is enough: an offer only ever takes units. Answers
    /// whether any entry was offered or lapsed.
    /// </summary>
    private bool Settle(DateTimeOffset now, List<Move> moves)
    {
        var changed = false;
        var queues = EntryOrder.Select(id => Entries[id]).Where(e => e.Status == WaitlistStatus.Waiting).GroupBy(e => (e.Tenant, e.EventId)).ToList();
        foreach (var queue in queues)
        {
            var ahead = new Dictionary<Guid, long>();
            var passed = new List<HashSet<Guid>>();
            foreach (var e in queue)
            {
                // Reaching a window that has ended, it could never be offered.
                var reached = e.Items.SelectMany(i => Closure(i.Capacity)).ToHashSet();
                if (reached.Any(n => Caps[n].SaleEnds <= now))
                {
                    (e.Status, e.Lapse) = (WaitlistStatus.Lapsed, WaitlistLapse.SaleEnded);
                    Tally(WaitlistEvent.LapsedClosed);
                    changed = true;
                    continue;
                }

                // No offer while a capacity it reaches is not on sale; it waits without holding anyone back.
                var named = LastNotOnSale;
                var closed = SaleRefusal(e.Items.Select(i => i.Capacity), now) is not null;
                LastNotOnSale = named;
                if (closed)
                {
                    continue;
                }

                var demand = Demand(e.Items);
                var used = UsedAll();
                // A capacity its sold-out rule closed is closed to the public only: its queue is still offered.
                bool FitsBeside(Func<Guid, long> waitedFor) => demand.All(d => (Caps[d.Key].Active || Caps[d.Key].ClosedBySellOut)
                    && (Caps[d.Key].Ceiling is not { } ceiling || Math.Max(0, ceiling - used[d.Key].Reserved - used[d.Key].Sold) - waitedFor(d.Key) >= d.Value));

                if (FitsBeside(n => ahead.GetValueOrDefault(n)))
                {
                    // Its units count against its buyer already: the offer gives them back as it takes them.
                    // Without a key under a limit that requires one, it could never be offered: it lapses.
                    if (LimitRefusal(e.Tenant, e.BuyerKey, e.Items, givenBack: e.Items) is { } refusal)
                    {
                        if (refusal.Code == OutcomeCode.BuyerKeyRequired)
                        {
                            (e.Status, e.Lapse) = (WaitlistStatus.Lapsed, WaitlistLapse.BuyerKeyRequired);
                            Tally(WaitlistEvent.LapsedForKey);
                            changed = true;
                            continue;
                        }

                        TallyOnce(WaitlistEvent.PassedOverForLimit, e.Id);
                        continue;
                    }

                    if (passed.Any(p => p.Overlaps(demand.Keys)))
                    {
                        Tally(WaitlistEvent.OvertookUnderFirstFit);
                    }

                    Offer(e, now, moves);
                    changed = true;
                    continue;
                }

                if (FitsBeside(_ => 0))
                {
                    TallyOnce(WaitlistEvent.HeldBackByFifo, e.Id);
                }

                if (e.Items.All(i => Caps[i.Capacity].Waitlist is { Policy: WaitlistPolicy.FirstFit }))
                {
                    passed.Add([.. demand.Keys]);
                    continue;
                }

                // It keeps its place on each capacity it names and above, counted as what is owed is.
                void WaitAhead(Guid capacity, long units)
                {
                    var before = Share(capacity, ahead.GetValueOrDefault(capacity), used);
                    ahead[capacity] = ahead.GetValueOrDefault(capacity) + units;
                    var passed = Share(capacity, ahead[capacity], used) - before;
                    foreach (var parent in passed > 0 ? Caps[capacity].Parents : [])
                    {
                        WaitAhead(parent, passed);
                    }
                }

                foreach (var (capacity, quantity) in e.Items)
                {
                    WaitAhead(capacity, quantity);
                }
            }
        }

        return changed;
    }

    /// <summary>An offer is an ordinary hold with the entry's id and buyer, for the shortest offer_minutes of its capacities.</summary>
    private void Offer(Entry e, DateTimeOffset now, List<Move> moves)
    {
        var items = e.Items.Select(i => new Item(i.Capacity, i.Quantity, null)).ToArray();
        var offer = new Res
        {
            Id = e.Id, Tenant = e.Tenant, Items = items, CreatedAt = now, ExpiresAt = now.AddMinutes(e.Items.Min(i => Caps[i.Capacity].Waitlist!.OfferMinutes)),
            Status = ReservationStatus.Active, BuyerKey = e.BuyerKey, WaitlistId = e.Id,
        };
        Reservations[offer.Id] = offer;
        ResOrder.Add(offer.Id);
        moves.AddRange(Moves(offer.Id, items, LedgerKind.Hold, 1, 0, null));
        if (Demand(e.Items).Keys.Any(n => !Caps[n].Active))
        {
            Tally(WaitlistEvent.OfferedWhileClosed);
        }

        _taken.UnionWith(Demand(e.Items).Keys);
        (e.Status, e.Offer) = (WaitlistStatus.Offered, offer.Id);
        Tally(e.Id == _joined ? WaitlistEvent.OfferedOnJoining : WaitlistEvent.OfferedLater);
    }
}

/// <summary>What changes in part did, counted by the model, so that a test can require its scripts to reach each.</summary>
internal enum ChangeEvent
{
    /// <summary>A change gave units back (and the hold lives on).</summary>
    Lowered,
    /// <summary>A change added units to a capacity the hold had.</summary>
    Raised,
    /// <summary>A change added a capacity.</summary>
    Added,
    /// <summary>A change with every target 0 released the hold.</summary>
    ReleasedByChange,
    /// <summary>A change by a buyer past a limit (lowered since) that took no more under it than it gave back, let through.</summary>
    MovedPastLoweredLimit,
    /// <summary>A confirm sold part and released the rest.</summary>
    ConfirmedPart,
    Reclaimed,
    /// <summary>A reclaim refused with a shortfall.</summary>
    ReclaimShort,
    /// <summary>A refund of part, the sale still confirmed.</summary>
    RefundedPart,
    /// <summary>A refund in part of the last units, cancelling the sale.</summary>
    RefundedLast,
}

/// <summary>Situations of waiting lists the model counts, so that a test can require its scripts to reach them.</summary>
internal enum WaitlistEvent
{
    /// <summary>Offered in the step it joined: units were free and nobody waited ahead for them.</summary>
    OfferedOnJoining,
    /// <summary>Joined, and still waiting once its step settled.</summary>
    Waited,
    /// <summary>Offered in a later step, as units came free.</summary>
    OfferedLater,
    Accepted,
    /// <summary>An offer released or expired.</summary>
    Lapsed,
    LeftWaiting,
    LeftWithOffer,
    /// <summary>An entry whose units were free, but waited for by a fifo entry ahead that did not fit.</summary>
    HeldBackByFifo,
    /// <summary>An entry offered past an earlier one on a node they share, which did not fit and, all first_fit, kept no place.</summary>
    OvertookUnderFirstFit,
    /// <summary>A waiting entry that lapsed because a resize left it larger than a pool it draws from.</summary>
    LapsedTooLarge,
    /// <summary>An entry that fit, passed over because its buyer's limits would refuse it (a limit lowered or created since it joined).</summary>
    PassedOverForLimit,
    /// <summary>A hold, change or join a limit refused that the buyer's live tickets alone would have let through: the units their entries wait for count.</summary>
    RefusedForUnitsWaitedFor,
    /// <summary>An entry without a buyer key whose turn came under a limit that requires one.</summary>
    LapsedForKey,
    /// <summary>A waiting entry that lapsed because a window it reaches ended.</summary>
    LapsedClosed,
    /// <summary>An entry offered units of a capacity its sold-out rule had closed to the public.</summary>
    OfferedWhileClosed,
}

/// <summary>What sale rules did, counted by the model, so that a test can require its scripts to reach each.</summary>
internal enum SaleEvent
{
    /// <summary>A tier opened because a command took the last ticket of the capacity before it.</summary>
    TierOpened,
    /// <summary>A tier set on a capacity that had sold out before, or whose window had ended, opened at once.</summary>
    TierOpenedAtOnce,
    /// <summary>A tier opened because the window of the capacity before it ended (by the clock or a PUT) before it sold out.</summary>
    TierOpenedAsWindowEnded,
    /// <summary>A tier set on a capacity with nothing available sold that capacity out then.</summary>
    FollowedSoldOut,
    /// <summary>A capacity closed by close_when_sold_out.</summary>
    ClosedWhenSoldOut,
    /// <summary>An earlier tier closed as the tiers after it opened.</summary>
    ClosedForNextTier,
    /// <summary>A resize or a new rule sold a capacity out.</summary>
    SoldOutByUpdate,
    /// <summary>A window opened on a capacity its blocks and waiting entries had left nothing for the public, and sold it out.</summary>
    SoldOutAsItsWindowOpened,
    /// <summary>A PUT with is_active true reopened a capacity a sold-out rule closed.</summary>
    Reopened,
    /// <summary>A step ended with some capacity held and sold past its total.</summary>
    Overbooked,
}

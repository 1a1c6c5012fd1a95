namespace Capacity.Core.Tests;

/// <summary>
/// A deliberately naive model of the spec, used as the oracle of the model-based tests. It stores no
/// counters at all: what a node holds is recomputed from scratch from the list of live reservations
/// every time it is asked, and ancestors are found by a plain graph walk. Each Decide method states
/// the spec's checks in order and returns the expected code and the ledger entries the step must append.
/// </summary>
internal sealed class ReferenceModel
{
    public const int MaxDepth = 8;
    public const int MaxItems = 50;
    public const int MaxQuantity = 100;
    public const int MaxHoldMinutes = 120;
    public const int MaxLifetimeMinutes = 120;

    public sealed class Cap
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required string EventId { get; init; }
        public required Guid[] Parents { get; init; }
        public int? Total { get; set; }
        public bool Active { get; set; }
    }

    public sealed record Lock(Guid PricingId, decimal UnitPrice, string Currency);

    public sealed record Item(Guid Capacity, int Quantity, Lock? Lock);

    public sealed class Res
    {
        public required Guid Id { get; init; }
        public required Guid Tenant { get; init; }
        public required Item[] Items { get; init; }
        public required DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset ExpiresAt { get; set; }
        public ReservationStatus Status { get; set; }
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

    /// <summary>An expected ledger entry: which reservation moved which node by how much.</summary>
    public readonly record struct Move(LedgerKind Kind, Guid Reservation, Guid Capacity, long Reserved, long Sold);

    public Dictionary<Guid, Cap> Caps { get; } = [];
    public List<Guid> CapOrder { get; } = [];
    public Dictionary<Guid, Res> Reservations { get; } = [];
    public List<Guid> ResOrder { get; } = [];
    public Dictionary<Guid, Price> Prices { get; } = [];
    public List<Guid> PriceOrder { get; } = [];

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

    /// <summary>What every node holds, recomputed from the live reservations: active ones are reserved, confirmed ones sold.</summary>
    public Dictionary<Guid, (long Reserved, long Sold)> UsedAll()
    {
        var used = Caps.Keys.ToDictionary(id => id, _ => (Reserved: 0L, Sold: 0L));
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

    /// <summary>The minimum over the node and its limited ancestors of total − reserved − sold, floored at 0; null if none is limited.</summary>
    public long? Available(Guid id, Dictionary<Guid, (long Reserved, long Sold)> used)
    {
        long? min = null;
        foreach (var n in Closure(id))
        {
            if (Caps[n].Total is { } total)
            {
                var (r, s) = used[n];
                var left = Math.Max(0, total - r - s);
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

    private List<Move> Moves(Res r, LedgerKind kind, int reservedSign, int soldSign) =>
        [.. Demand(r.Items.Select(i => (i.Capacity, i.Quantity))).Select(d => new Move(kind, r.Id, d.Key, reservedSign * d.Value, soldSign * d.Value))];

    private bool Visible(Guid tenant, Guid capacity) => Caps.TryGetValue(capacity, out var c) && c.Tenant == tenant;

    // ---- decisions ----

    public OutcomeCode Decide(Command command, DateTimeOffset now, List<Move> moves) => command switch
    {
        CreateCapacity c => Create(c, now),
        UpdateCapacity c => Update(c),
        CreatePrice c => CreatePricing(c),
        UpdatePrice c => UpdatePricing(c),
        PlaceHold c => Hold(c, now, moves),
        TransitionReservation c => Transit(c, now, moves),
        ExtendReservation c => Extend(c, now, moves),
        ExpireDue c => ExpireAll(c, now, moves),
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    };

    /// <summary>The count an ExpireDue must report; set by the last ExpireDue decided.</summary>
    public int LastExpiredCount { get; private set; }

    private OutcomeCode Create(CreateCapacity c, DateTimeOffset now)
    {
        _ = now;
        var derived = (c.Total is null, c.ParentIds.Length == 0) switch
        {
            (false, true) => CapacityMode.Own,
            (false, false) => CapacityMode.Capped,
            (true, false) => CapacityMode.Shared,
            (true, true) => CapacityMode.Unlimited,
        };
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

        if (1 + c.ParentIds.Select(Depth).DefaultIfEmpty(0).Max() > MaxDepth)
        {
            return OutcomeCode.Invalid;
        }

        Caps[c.Id] = new Cap { Id = c.Id, Tenant = c.TenantId, EventId = c.EventId, Parents = [.. c.ParentIds], Total = c.Total, Active = c.IsActive };
        CapOrder.Add(c.Id);
        return OutcomeCode.Ok;
    }

    private OutcomeCode Update(UpdateCapacity c)
    {
        if (!Visible(c.TenantId, c.Id))
        {
            return OutcomeCode.NotFound;
        }

        var cap = Caps[c.Id];
        var total = c.Total.Or(cap.Total);
        var (r, s) = Used(c.Id);
        if (total is { } t && t < r + s)
        {
            return OutcomeCode.BelowCommitted;
        }

        cap.Total = total;
        cap.Active = c.IsActive.Or(cap.Active);
        return OutcomeCode.Ok;
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

            items.Add(new Item(item.CapacityId, item.Quantity, locked));
        }

        var demand = Demand(items.Select(i => (i.Capacity, i.Quantity)));
        if (demand.Keys.Any(n => !Caps[n].Active))
        {
            return OutcomeCode.CapacityInactive;
        }

        var used = UsedAll();
        foreach (var (node, quantity) in demand)
        {
            if (Caps[node].Total is { } total)
            {
                var (r, s) = used[node];
                if (total - r - s < quantity)
                {
                    return OutcomeCode.InsufficientCapacity;
                }
            }
        }

        var res = new Res { Id = c.ReservationId, Tenant = c.TenantId, Items = [.. items], CreatedAt = now, ExpiresAt = now.AddMinutes(c.Minutes), Status = ReservationStatus.Active };
        Reservations[res.Id] = res;
        ResOrder.Add(res.Id);
        moves.AddRange(Moves(res, LedgerKind.Hold, 1, 0));
        return OutcomeCode.Ok;
    }

    private void ExpireIfDue(Res r, DateTimeOffset now, List<Move> moves)
    {
        if (r.Status == ReservationStatus.Active && now >= r.ExpiresAt)
        {
            moves.AddRange(Moves(r, LedgerKind.Expire, -1, 0));
            r.Status = ReservationStatus.Expired;
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
                moves.AddRange(Moves(r, LedgerKind.Confirm, -1, 1));
                r.Status = ReservationStatus.Confirmed;
                return OutcomeCode.Ok;
            case (Transition.Release, ReservationStatus.Active):
                moves.AddRange(Moves(r, LedgerKind.Release, -1, 0));
                r.Status = ReservationStatus.Released;
                return OutcomeCode.Ok;
            case (Transition.Cancel, ReservationStatus.Confirmed):
                moves.AddRange(Moves(r, LedgerKind.Cancel, 0, -1));
                r.Status = ReservationStatus.Cancelled;
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
}

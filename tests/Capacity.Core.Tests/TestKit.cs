namespace Capacity.Core.Tests;

/// <summary>
/// One working set fed commands in order, as the engine would, plus what a test needs around it: a
/// clock, the ids of every row created or loaded (the working set cannot enumerate its rows), and
/// the ledger accumulated across steps so that its sums can be compared with the counters.
/// </summary>
internal sealed class Scenario
{
    public static readonly Guid TenantA = new("aaaaaaaa-0000-0000-0000-000000000001");
    public static readonly Guid TenantB = new("bbbbbbbb-0000-0000-0000-000000000002");
    public static readonly DateTimeOffset Start = new(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly List<Guid> _capacityIds = [];
    private readonly List<Guid> _reservationIds = [];
    private readonly List<Guid> _allocationIds = [];
    private readonly List<BuyerUsage> _usage = [];
    private readonly List<Guid> _entryIds = [];
    private readonly List<Guid> _limitIds = [];
    private readonly Dictionary<Guid, (long Reserved, long Sold)> _ledgerSums = [];
    private readonly Dictionary<Guid, SalesFlows> _sales = [];
    private readonly List<LedgerEntry> _ledger = [];
    private int _nextId;

    public WorkingSet Ws { get; } = new();
    public DateTimeOffset Now { get; set; } = Start;
    public CoreLimits Limits { get; init; } = CoreLimits.Default;
    public Guid Tenant { get; set; } = TenantA;
    public string EventId { get; set; } = "evt-1";

    /// <summary>Every ledger entry appended so far, in order.</summary>
    public IReadOnlyList<LedgerEntry> Ledger => _ledger;

    /// <summary>The ledger entries appended by the last command.</summary>
    public IReadOnlyList<LedgerEntry> LastLedger { get; private set; } = [];

    /// <summary>The sales figures the last command tallied, by capacity (one minute: the command's).</summary>
    public IReadOnlyDictionary<Guid, SalesFlows> LastSales { get; private set; } = new Dictionary<Guid, SalesFlows>();

    /// <summary>The hold-to-confirm counts the last command tallied.</summary>
    public IReadOnlyList<ConfirmTimeCount> LastConfirmTimes { get; private set; } = [];

    /// <summary>Every command's sales figures summed, by capacity.</summary>
    public IReadOnlyDictionary<Guid, SalesFlows> Sales => _sales;

    /// <summary>Every notice decided so far, and those of the last command.</summary>
    public IReadOnlyList<Notice> Notices => _notices;

    public IReadOnlyList<Notice> LastNotices { get; private set; } = [];

    private readonly List<Notice> _notices = [];

    public IReadOnlyList<CapacityNode> Nodes => [.. _capacityIds.Select(id => Ws.FindCapacity(id)!)];
    public IReadOnlyList<Reservation> Reservations => [.. _reservationIds.Select(id => Ws.FindReservation(id)!.Value)];
    public IReadOnlyList<Allocation> Allocations => [.. _allocationIds.Select(id => Ws.FindAllocation(id)!)];

    /// <summary>A fresh, deterministic id.</summary>
    public Guid NewId()
    {
        _nextId++;
        return new Guid(_nextId, 0x5c, 0x5c, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    public void Advance(TimeSpan by) => Now += by;

    public void AdvanceMinutes(double minutes) => Now = Now.AddMinutes(minutes);

    /// <summary>Decides one command, records the new rows and the ledger it appended, and accepts the changes.</summary>
    public Outcome Do(Command command)
    {
        var outcome = Decider.Decide(Ws, command, Now, Limits);
        Decider.AfterCommand(Ws, Now);

        Ws.AssertBatchConsistent();
        _capacityIds.AddRange(Ws.NewCapacities.Select(n => n.Id));
        _reservationIds.AddRange(Ws.NewReservations.Select(r => r.Id));
        _allocationIds.AddRange(Ws.NewAllocations.Select(a => a.Id));
        _usage.AddRange(Ws.NewUsage);
        _entryIds.AddRange(Ws.NewEntries.Select(e => e.Id));
        _limitIds.AddRange(Ws.NewLimits.Select(l => l.Id));
        LastLedger = [.. Ws.Ledger];
        LastNotices = [.. Ws.Notices];
        _notices.AddRange(Ws.Notices);
        foreach (var e in Ws.Ledger)
        {
            _ledger.Add(e);
            var (r, s) = _ledgerSums.GetValueOrDefault(e.CapacityId);
            _ledgerSums[e.CapacityId] = (r + e.ReservedDelta, s + e.SoldDelta);
        }

        LastSales = Ws.SalesMinutes.ToDictionary(m => m.CapacityId, m => m.Flows);
        LastConfirmTimes = [.. Ws.ConfirmTimes];
        foreach (var m in Ws.SalesMinutes)
        {
            Assert.Equal(SalesStats.MinuteOf(Now), m.Minute);
            Assert.Equal((Node(m.CapacityId).TenantId, Node(m.CapacityId).EventId), (m.TenantId, m.EventId));
            _sales[m.CapacityId] = _sales.GetValueOrDefault(m.CapacityId) + m.Flows;
        }

        Ws.AcceptChanges();
        return outcome;
    }

    /// <summary>Loads a row as the store has it; its counters count as already in the ledger.</summary>
    public void Load(CapacityNode node)
    {
        Ws.Load(node);
        _capacityIds.Add(node.Id);
        _ledgerSums[node.Id] = (node.Reserved, node.Sold);
    }

    public void Load(Reservation reservation)
    {
        Ws.Load(reservation);
        _reservationIds.Add(reservation.Id);

        // As the store has it: its tickets already in the figures, like its counters in the ledger.
        foreach (var item in reservation.Items)
        {
            var q = item.Quantity;
            _sales[item.CapacityId] = _sales.GetValueOrDefault(item.CapacityId) + reservation.Status switch
            {
                ReservationStatus.Active => new SalesFlows { Held = q },
                ReservationStatus.Confirmed => new SalesFlows { Held = q, Confirmed = q },
                _ => default,
            };
        }
    }

    // ---- capacities ----

    public CreateCapacity CreateCommand(int? total, Guid[]? parents = null, string name = "Section", CapacityMode? mode = null, bool active = true, Guid? tenant = null) =>
        new(tenant ?? Tenant, NewId(), EventId, null, name, null, total, parents ?? [], active, mode);

    public Guid Create(int? total, Guid[]? parents = null, string name = "Section", bool active = true, Guid? tenant = null)
    {
        var command = CreateCommand(total, parents, name, null, active, tenant);
        var outcome = Do(command);
        Assert.True(outcome.Code == OutcomeCode.Ok, $"creating {name} answered {outcome.Code}: {outcome.Detail}");
        return command.Id;
    }

    public Guid Own(int total, string name = "Own") => Create(total, null, name);

    public Guid Capped(int total, params Guid[] parents) => Create(total, parents, "Capped");

    public Guid Shared(params Guid[] parents) => Create(null, parents, "Shared");

    public Guid Unlimited(string name = "Unlimited") => Create(null, null, name);

    public Outcome Resize(Guid id, int? total, Guid? tenant = null) =>
        Do(new UpdateCapacity(tenant ?? Tenant, id, Change<string>.Keep, Change<string?>.Keep, Change<int?>.To(total), Change<bool>.Keep));

    public Outcome SetActive(Guid id, bool active, Guid? tenant = null) =>
        Do(new UpdateCapacity(tenant ?? Tenant, id, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.To(active)));

    public CapacityNode Node(Guid id) => Ws.FindCapacity(id) ?? throw new InvalidOperationException($"capacity {id} is not in the working set");

    public long? Available(Guid id) => Graph.Available(Node(id), Ws);

    // ---- prices ----

    public Guid Price(Guid capacityId, decimal basePrice, decimal? currentPrice = null, string currency = "EUR", decimal serviceFee = 0m, decimal facilityFee = 0m, decimal taxRate = 0m, Guid? tenant = null)
    {
        var id = NewId();
        var outcome = Do(new CreatePrice(tenant ?? Tenant, id, capacityId, "Standard", basePrice, currentPrice, serviceFee, facilityFee, taxRate, currency));
        Assert.True(outcome.Code == OutcomeCode.Ok, $"creating a price answered {outcome.Code}: {outcome.Detail}");
        return id;
    }

    public Outcome SetCurrentPrice(Guid priceId, decimal? currentPrice, Guid? tenant = null) =>
        Do(new UpdatePrice(tenant ?? Tenant, priceId, Change<string>.Keep, Change<decimal>.Keep, Change<decimal?>.To(currentPrice), Change<decimal>.Keep, Change<decimal>.Keep, Change<decimal>.Keep, Change<string>.Keep));

    // ---- reservations ----

    public PlaceHold HoldCommand(int minutes, params HoldItem[] items) => new(Tenant, NewId(), items, minutes);

    public Outcome Hold(params (Guid Capacity, int Quantity)[] items) => HoldFor(15, items);

    public Outcome HoldFor(int minutes, params (Guid Capacity, int Quantity)[] items) =>
        Do(HoldCommand(minutes, [.. items.Select(i => new HoldItem(i.Capacity, i.Quantity, null))]));

    public Guid HoldOk(params (Guid Capacity, int Quantity)[] items) => HoldOkFor(15, items);

    public Guid HoldOkFor(int minutes, params (Guid Capacity, int Quantity)[] items)
    {
        var outcome = HoldFor(minutes, items);
        Assert.True(outcome.Code == OutcomeCode.Ok, $"hold answered {outcome.Code}: {outcome.Detail}");
        return outcome.Reservation!.Value.Id;
    }

    public Outcome Confirm(Guid id, Guid? tenant = null) => Do(new TransitionReservation(tenant ?? Tenant, id, Transition.Confirm));

    public Outcome Release(Guid id, Guid? tenant = null) => Do(new TransitionReservation(tenant ?? Tenant, id, Transition.Release));

    public Outcome Cancel(Guid id, Guid? tenant = null) => Do(new TransitionReservation(tenant ?? Tenant, id, Transition.Cancel));

    public Outcome Extend(Guid id, int minutes, Guid? tenant = null) => Do(new ExtendReservation(tenant ?? Tenant, id, minutes));

    public Outcome ExpireDue(params Guid[] ids) => Do(new ExpireDue(ids));

    public Reservation Reservation(Guid id) => Ws.FindReservation(id) ?? throw new InvalidOperationException($"reservation {id} is not in the working set");

    // ---- allocations ----

    public Outcome Allocate(Guid capacityId, int size, string name = "Box office", DateTimeOffset? expiresAt = null, Guid? tenant = null, Guid? id = null) =>
        Do(new CreateAllocation(tenant ?? Tenant, id ?? NewId(), capacityId, name, size, expiresAt));

    public Guid AllocateOk(Guid capacityId, int size, string name = "Box office", DateTimeOffset? expiresAt = null)
    {
        var outcome = Allocate(capacityId, size, name, expiresAt);
        Assert.True(outcome.Code == OutcomeCode.Ok, $"allocating answered {outcome.Code}: {outcome.Detail}");
        return outcome.Allocation!.Id;
    }

    public Outcome ResizeAllocation(Guid id, int size, Guid? tenant = null) =>
        Do(new UpdateAllocation(tenant ?? Tenant, id, Change<string>.Keep, Change<int>.To(size), Change<DateTimeOffset?>.Keep));

    public Outcome ReleaseAllocation(Guid id, int quantity, Guid? tenant = null) => Do(new ReleaseAllocation(tenant ?? Tenant, id, quantity));

    public Outcome CloseAllocation(Guid id, Guid? tenant = null) => Do(new CloseAllocation(tenant ?? Tenant, id));

    public Outcome CloseDueAllocations(params Guid[] ids) => Do(new CloseDueAllocations(ids));

    /// <summary>A hold whose items draw from allocations (or from the public pool where the allocation is null).</summary>
    public Outcome HoldFrom(params (Guid Capacity, int Quantity, Guid? Allocation)[] items) =>
        Do(HoldCommand(15, [.. items.Select(i => new HoldItem(i.Capacity, i.Quantity, null, i.Allocation))]));

    public Guid HoldFromOk(params (Guid Capacity, int Quantity, Guid? Allocation)[] items)
    {
        var outcome = HoldFrom(items);
        Assert.True(outcome.Code == OutcomeCode.Ok, $"hold answered {outcome.Code}: {outcome.Detail}");
        return outcome.Reservation!.Value.Id;
    }

    // ---- buyer limits ----

    public Outcome Limit(int perBuyerMax, Guid[] capacities, bool requireKey = false, string name = "Four per person", Guid? tenant = null, Guid? id = null) =>
        Do(new CreateBuyerLimit(tenant ?? Tenant, id ?? NewId(), EventId, name, capacities, perBuyerMax, requireKey));

    public Guid LimitOk(int perBuyerMax, params Guid[] capacities)
    {
        var outcome = Limit(perBuyerMax, capacities);
        Assert.True(outcome.Code == OutcomeCode.Ok, $"creating a limit answered {outcome.Code}: {outcome.Detail}");
        return outcome.Limit!.Id;
    }

    public Outcome SetLimit(Guid id, int perBuyerMax, Guid? tenant = null) =>
        Do(new UpdateBuyerLimit(tenant ?? Tenant, id, Change<string>.Keep, Change<int>.To(perBuyerMax), Change<bool>.Keep));

    public Outcome DeleteLimit(Guid id, Guid? tenant = null) => Do(new DeleteBuyerLimit(tenant ?? Tenant, id));

    /// <summary>A hold for a buyer (or none, when <paramref name="buyer"/> is null).</summary>
    public Outcome HoldFor(string? buyer, params (Guid Capacity, int Quantity)[] items) =>
        Do(new PlaceHold(Tenant, NewId(), [.. items.Select(i => new HoldItem(i.Capacity, i.Quantity, null))], 15, buyer));

    public long Used(string buyer, params Guid[] capacities) => capacities.Sum(c => Ws.UsageOf(c, buyer));

    // ---- waiting lists ----

    /// <summary>Turns a capacity's waiting list on; the event's (empty) list counts as loaded, as the store would load it.</summary>
    public Outcome EnableWaitlist(Guid capacityId, WaitlistPolicy policy = WaitlistPolicy.Fifo, int offerMinutes = 30, bool enabled = true)
    {
        Ws.LoadWaitlist(Tenant, Node(capacityId).EventId, []);
        return Do(new UpdateCapacity(
            Tenant, capacityId, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep,
            new WaitlistPatch(enabled, offerMinutes, policy)));
    }

    public Outcome Join(string? buyer, params (Guid Capacity, int Quantity)[] items) =>
        Do(new JoinWaitlist(Tenant, NewId(), [.. items.Select(i => new WaitlistItem(i.Capacity, i.Quantity))], buyer, null));

    public Guid JoinOk(params (Guid Capacity, int Quantity)[] items)
    {
        var outcome = Join(null, items);
        Assert.True(outcome.Code == OutcomeCode.Ok, $"joining answered {outcome.Code}: {outcome.Detail}");
        return outcome.Entry!.Id;
    }

    public Outcome Leave(Guid entryId, Guid? tenant = null) => Do(new LeaveWaitlist(tenant ?? Tenant, entryId));

    public WaitlistEntry Entry(Guid id) => Ws.FindEntry(id) ?? throw new InvalidOperationException($"entry {id} is not in the working set");

    public Allocation AllocationOf(Guid id) => Ws.FindAllocation(id) ?? throw new InvalidOperationException($"allocation {id} is not in the working set");

    // ---- checks ----

    /// <summary>A picture of every counter, reservation and the ledger length, to show that a refused command changed nothing.</summary>
    public string Snapshot()
    {
        var nodes = string.Join("; ", Nodes.Select(n => $"{n.Id}:{n.Total}/{n.Reserved}/{n.Sold}/{n.IsActive}"));
        var reservations = string.Join("; ", Reservations.Select(r => $"{r.Id}:{r.Status}/{r.ExpiresAt:O}"));
        var allocations = string.Join("; ", Allocations.Select(a => $"{a.Id}:{a.Size}/{a.Held}/{a.Sold}/{a.Status}/{a.Name}/{a.ExpiresAt:O}"));
        return $"nodes[{nodes}] reservations[{reservations}] allocations[{allocations}] capacities={Ws.CapacityCount} ledger={_ledger.Count}";
    }

    /// <summary>
    /// What must hold after every step: the invariants, the ledger sums equal to the counters, and
    /// every ledger entry a single nonzero change to one node of the right tenant and event.
    /// </summary>
    public void AssertConsistent()
    {
        var nodes = Nodes;
        var violations = Invariants.Check(nodes, Reservations, Allocations);
        var sums = new HoldSums();
        foreach (var r in Reservations)
        {
            sums.Add(r);
        }

        var entries = _entryIds.Select(Entry).ToList();
        violations.AddRange(Invariants.CheckUsage(_usage.Tally(), sums, entries));
        var offers = Reservations.Where(r => r.WaitlistId is not null).ToDictionary(r => r.Id, r => r.Status);
        var limits = _limitIds.Select(id => Ws.FindLimit(id)).OfType<BuyerLimit>().Where(l => !l.Deleted).ToList();
        violations.AddRange(Invariants.CheckWaitlists(nodes, [.. entries.Where(e => e.Status is WaitlistStatus.Waiting or WaitlistStatus.Offered)], offers, sums, limits, _usage.Tally(), Now));
        Assert.True(violations.Count == 0, "invariants: " + string.Join(Environment.NewLine, violations));
        violations.AddRange(Invariants.CheckSales(sums, _sales));
        Assert.True(violations.Count == 0, "sales figures: " + string.Join(Environment.NewLine, violations));
        var ledger = Invariants.CheckLedger(nodes, _ledgerSums);
        Assert.True(ledger.Count == 0, "ledger: " + string.Join(Environment.NewLine, ledger));
        foreach (var e in _ledger)
        {
            var node = Node(e.CapacityId);
            Assert.Equal(node.TenantId, e.TenantId);
            Assert.Equal(node.EventId, e.EventId);
            // Only a hold's units moving inside an allocation, and a tier opening or a capacity closing by rule, leave the counters as they were.
            Assert.True(
                e.ReservedDelta != 0 || e.SoldDelta != 0 || e.AllocationId is not null || e.Kind is LedgerKind.Open or LedgerKind.Close,
                $"ledger entry {e} changes nothing");
        }

        foreach (var n in nodes)
        {
            Assert.True(n.Ceiling is null || n.Reserved + n.Sold <= n.Ceiling, $"capacity {n.SectionName} is oversold");
        }
    }
}

/// <summary>The usage rows a test keeps, as the audit compares them.</summary>
internal static class UsageRows
{
    public static BuyerTally Tally(this IEnumerable<BuyerUsage> rows)
    {
        var tally = new BuyerTally();
        foreach (var row in rows)
        {
            tally.Add(row.CapacityId, row.BuyerKey, row.Used);
        }

        return tally;
    }
}

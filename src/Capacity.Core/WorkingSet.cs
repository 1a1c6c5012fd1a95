using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capacity.Core;

/// <summary>Finds capacities by id; the working set and read snapshots both answer it.</summary>
public interface ICapacityLookup
{
    CapacityNode? FindCapacity(Guid id);
}

/// <summary>
/// The rows one batch has loaded, and what the core changed in them. The engine fills it from the
/// store, the core decides against it in arrival order, and the store writes back exactly what is
/// marked here. Nothing in it does IO.
/// </summary>
public sealed class WorkingSet : ICapacityLookup
{
    private readonly Dictionary<Guid, CapacityNode> _capacities = [];
    private readonly Dictionary<Guid, ReservationSlot> _reservations = [];
    private readonly Dictionary<Guid, PriceEntry> _prices = [];
    private readonly Dictionary<Guid, Allocation> _allocations = [];
    private readonly Dictionary<Guid, BuyerLimit> _limits = [];
    private readonly Dictionary<(Guid CapacityId, string BuyerKey), BuyerUsage> _usage = [];

    private readonly HashSet<Guid> _newCapacities = [];
    private readonly HashSet<Guid> _changedCapacities = [];
    private readonly List<Guid> _newReservations = [];
    private readonly List<Guid> _changedReservations = [];
    private readonly Dictionary<Guid, int> _liveHoldChanges = [];

    // Loaded holds whose items changed too (a change in part): the store writes their items, which
    // for every other change (a confirm, a release, an expiry) stay as they were and are not written.
    private readonly List<Guid> _changedItems = [];
    private readonly HashSet<Guid> _newPrices = [];
    private readonly HashSet<Guid> _changedPrices = [];
    private readonly List<Allocation> _newAllocations = [];
    private readonly List<Allocation> _changedAllocations = [];
    private readonly List<BuyerLimit> _newLimits = [];
    private readonly List<BuyerLimit> _changedLimits = [];
    private readonly List<BuyerUsage> _newUsage = [];
    private readonly List<BuyerUsage> _changedUsage = [];
    private readonly Dictionary<Guid, WaitlistEntry> _entries = [];
    private readonly Dictionary<(Guid TenantId, string EventId), List<WaitlistEntry>> _queues = [];
    private readonly Dictionary<(Guid TenantId, string EventId), long> _lastSequences = [];
    private readonly Dictionary<(Guid TenantId, string EventId), int> _eventSizes = [];
    private readonly HashSet<Guid> _keysLoadedFor = [];
    private readonly List<WaitlistEntry> _newEntries = [];
    private readonly List<WaitlistEntry> _changedEntries = [];
    private readonly HashSet<(Guid TenantId, string EventId)> _unsettled = [];
    private readonly LedgerList _ledger = new();
    private readonly SalesTally _sales = new();
    private readonly Dictionary<Guid, Tenant> _tenants = [];
    private readonly Dictionary<Guid, ApiKey> _keys = [];

    // Tenants and keys are values, replaced when they change; these keep their ids, and the rows are
    // read from the dictionaries when the store writes them. A row created and changed in one batch is
    // written once, by its insert, as it stands at the end.
    private readonly HashSet<Guid> _newTenants = [];
    private readonly HashSet<Guid> _changedTenants = [];
    private readonly HashSet<Guid> _newKeys = [];
    private readonly HashSet<Guid> _changedKeys = [];

    // Webhooks. Every endpoint of every tenant the batch touches is loaded, so that a notice is written
    // for each one that wants it; _watched is the union of the topics of each tenant's enabled
    // endpoints, and while it is empty (no tenant of the batch has one) no notice is even looked for.
    private readonly Dictionary<Guid, WebhookEndpoint> _endpoints = [];
    private readonly Dictionary<Guid, Topics> _watched = [];
    private readonly List<WebhookEndpoint> _newEndpoints = [];
    private readonly List<WebhookEndpoint> _changedEndpoints = [];
    private readonly Dictionary<(Guid EndpointId, long Sequence), WebhookDelivery> _deliveries = [];
    private readonly List<WebhookDelivery> _changedDeliveries = [];
    private readonly List<WebhookAttempt> _attempts = [];
    private readonly List<Notice> _notices = [];

    // The ledger entries already looked at for notices: those after it belong to the current command.
    private int _noticedThrough;
    internal readonly Dictionary<CapacityNode, long> NoticeScratch = new(ReferenceEqualityComparer.Instance);

    // What a command's update of a capacity found it had free before changing its total or allowance
    // (null: it was unlimited), so that its crossing is judged on the whole command, offers included.
    internal readonly Dictionary<CapacityNode, long?> FreeAtStart = new(ReferenceEqualityComparer.Instance);

    // Which changes are recorded: a row marked with the current epoch is already in a new or changed
    // list, so recording it again costs a comparison instead of two hash lookups (a hold touches each
    // node of its closure; a batch touches the same few nodes hundreds of times). Accepting the changes
    // starts a new epoch. Epochs are unique across working sets, so a node object that somehow sat in
    // two of them could only ever take the slow path, never skip one.
    private static long s_epochs;
    private long _epoch = Interlocked.Increment(ref s_epochs);

    // Scratch space for the decide path, reused so that deciding allocates nothing. Demand is a list,
    // not a dictionary: a hold reaches a handful of nodes, and a scan by reference beats hashing ids.
    internal readonly List<(CapacityNode Node, long Quantity)> Demand = [];
    internal readonly List<CapacityNode> Closure = [];


    /// <summary>Whether a node of the last summed demand has sale rules (a window, a tier, overbooking): only then are they looked at.</summary>
    internal bool DemandHasRules;

    /// <summary>Capacities with a sold-out rule that the last command took units from (<see cref="Decider.ApplySellOuts"/>).</summary>
    internal readonly HashSet<CapacityNode> SellOutCandidates = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// The tiers that open after a loaded capacity that has not sold out yet, and are not loaded: a
    /// batch that may sell that capacity out must hold them too, to open them in the same transaction.
    /// Empty unless some capacity is the earlier tier of another (and then a store loads these, and
    /// asks again with what it just loaded, until it is empty; one asked for and still missing does not exist).
    /// </summary>
    public IReadOnlyCollection<Guid> UnloadedTiers(IReadOnlyCollection<Guid>? justLoaded = null)
    {
        HashSet<Guid>? missing = null;
        foreach (var node in _capacities.Values)
        {
            if (node.Sale is { SoldOutAt: null, Successors: { Length: > 0 } followers })
            {
                foreach (var id in followers)
                {
                    if (!_capacities.ContainsKey(id))
                    {
                        if (justLoaded?.Contains(id) == true)
                        {
                            throw new MissingRowException($"Capacity {id}, which opens after {node.Id}, does not exist.");
                        }

                        (missing ??= []).Add(id);
                    }
                }
            }
        }

        return missing ?? (IReadOnlyCollection<Guid>)[];
    }

    /// <summary>Whether a command left a capacity whose sell-out must be looked at.</summary>
    public bool HasSellOutCandidates => SellOutCandidates.Count > 0;

#if DEBUG
    // For the Debug-build assertions only (CoreAssert, AssertBatchConsistent): each capacity's
    // counters as loaded or as last accepted, and scratch space, so that a passing check allocates
    // nothing. Release builds carry none of it.
    private readonly Dictionary<Guid, (long Reserved, long Sold)> _countersAsLoaded = [];
    private readonly Dictionary<Guid, (long Reserved, long Sold)> _chargedSinceLoaded = [];
    internal readonly List<CapacityNode> AssertScratch = [];
#endif

    internal int CapacityCount => _capacities.Count;

    /// <summary>Every capacity loaded or created in this batch.</summary>
    public IEnumerable<CapacityNode> Capacities => _capacities.Values;

    // TryGetValue rather than GetValueOrDefault: the extension method goes through IReadOnlyDictionary,
    // an interface call on the hottest lookup of the decide path.
    public CapacityNode? FindCapacity(Guid id) => _capacities.TryGetValue(id, out var node) ? node : null;
    internal Reservation? FindReservation(Guid id) => _reservations.TryGetValue(id, out var slot) ? slot.Value : null;

    /// <summary>
    /// The slot of a loaded hold, or a null reference. A transition reads the hold in the slot and
    /// writes the new state back through it: one lookup instead of two, and the hold (over a hundred
    /// bytes) never copied out to be decided on. Valid until a hold is added, which a transition never does.
    /// </summary>
    internal ref ReservationSlot SlotOf(Guid id) => ref CollectionsMarshal.GetValueRefOrNullRef(_reservations, id);

    /// <summary>Whether a reservation with this id is loaded (or created by this batch).</summary>
    public bool HasReservation(Guid id) => _reservations.ContainsKey(id);
    internal PriceEntry? FindPrice(Guid id) => _prices.TryGetValue(id, out var price) ? price : null;

    internal Tenant? FindTenant(Guid id) => _tenants.TryGetValue(id, out var tenant) ? tenant : null;

    internal ApiKey? FindKey(Guid id) => _keys.TryGetValue(id, out var key) ? key : null;

    internal bool HasCapacity(Guid id) => _capacities.ContainsKey(id);

    public Allocation? FindAllocation(Guid id) => _allocations.TryGetValue(id, out var allocation) ? allocation : null;

    public BuyerLimit? FindLimit(Guid id) => _limits.TryGetValue(id, out var limit) ? limit : null;

    /// <summary>
    /// A buyer's tickets on a capacity as loaded or changed in this batch; 0 when the row does not exist
    /// yet. Only a capacity a limit covers is asked, and its rows are always read (<see cref="LoadKeys.UsageKeys(WorkingSet)"/>):
    /// a row that was not read holds a change, not the usage, and deciding on it would let a buyer past
    /// a limit, so this throws instead (the batch fails and nothing is written).
    /// </summary>
    public long UsageOf(Guid capacityId, string buyerKey)
    {
        if (!_usage.TryGetValue((capacityId, buyerKey), out var usage))
        {
            return 0;
        }

        return usage.Unread
            ? throw new InvalidOperationException($"The usage of a buyer on capacity {capacityId} was not read, and a limit asked for it.")
            : usage.Used;
    }

    /// <summary>
    /// Whether the store read the usage row of every (capacity, buyer) pair the batch names, or only
    /// those on capacities a loaded limit covers (<see cref="LoadKeys.UsageKeys(WorkingSet)"/>). True
    /// until a store says otherwise, and again after <see cref="Clear"/>: a working set that holds every
    /// row there is (the core's tests) never writes an unread row.
    /// </summary>
    public bool EveryUsageRead { get; set; } = true;

    public WaitlistEntry? FindEntry(Guid id) => _entries.TryGetValue(id, out var entry) ? entry : null;

    /// <summary>
    /// The event's entries that were waiting when loaded or joined in this batch, in the order they
    /// joined (some may have been offered or left since); null when the store did not load the event's list.
    /// </summary>
    internal List<WaitlistEntry>? QueueOf(Guid tenantId, string eventId) => _queues.TryGetValue((tenantId, eventId), out var queue) ? queue : null;

    /// <summary>Events whose waiting lists may now fit an entry: freed units, a join, a leave, a setting changed.</summary>
    internal HashSet<(Guid TenantId, string EventId)> Unsettled => _unsettled;

    /// <summary>Whether a command left a waiting list to settle (<see cref="Decider.SettleWaitlists"/>).</summary>
    public bool HasUnsettled => _unsettled.Count > 0;

    /// <summary>
    /// Scratch for the walk of a waiting list: units that entries keeping their place wait for on each
    /// node, counted as <see cref="CapacityNode.QueueDemand"/> is (their own, plus what the nodes below pass up).
    /// </summary>
    internal readonly Dictionary<CapacityNode, long> Ahead = new(ReferenceEqualityComparer.Instance);

    /// <summary>Scratch for judging a hold change: units it gives back on each node they reach.</summary>
    internal readonly Dictionary<CapacityNode, long> Freed = new(ReferenceEqualityComparer.Instance);

    /// <summary>Scratch for the same: what more would be waited for on each node once those units are free.</summary>
    internal readonly Dictionary<CapacityNode, long> WaitedMore = new(ReferenceEqualityComparer.Instance);

    /// <summary>Scratch for the same: what each node would then pass up to its parents.</summary>
    internal readonly Dictionary<CapacityNode, long> PassedAfter = new(ReferenceEqualityComparer.Instance);

    // Loading: rows as the store has them. Loading never marks anything changed.
    public void Load(CapacityNode node)
    {
        if (_capacities.TryAdd(node.Id, node))
        {
            node.QueueShare = node.ShareOf(node.QueueDemand);
            RememberCounters(node);
        }
    }

    public void Load(Reservation reservation) => _reservations.TryAdd(reservation.Id, new ReservationSlot { Value = reservation });
    public void Load(PriceEntry price) => _prices.TryAdd(price.Id, price);
    public void Load(Tenant tenant) => _tenants.TryAdd(tenant.Id, tenant);
    public void Load(ApiKey key) => _keys.TryAdd(key.Id, key);
    public void Load(Allocation allocation) => _allocations.TryAdd(allocation.Id, allocation);
    public void Load(BuyerLimit limit) => _limits.TryAdd(limit.Id, limit);
    public void Load(BuyerUsage usage) => _usage.TryAdd((usage.CapacityId, usage.BuyerKey), usage);
    public void Load(WaitlistEntry entry) => _entries.TryAdd(entry.Id, entry);

    public void Load(WebhookEndpoint endpoint)
    {
        if (_endpoints.TryAdd(endpoint.Id, endpoint))
        {
            Rewatch(endpoint.TenantId);
        }
    }

    public void Load(WebhookDelivery delivery) => _deliveries.TryAdd((delivery.EndpointId, delivery.Sequence), delivery);

    public WebhookEndpoint? FindEndpoint(Guid id) => _endpoints.TryGetValue(id, out var endpoint) ? endpoint : null;

    internal WebhookDelivery? FindDelivery(Guid endpointId, long sequence) => _deliveries.TryGetValue((endpointId, sequence), out var d) ? d : null;

    /// <summary>The loaded endpoints of a tenant, deleted ones included.</summary>
    public IEnumerable<WebhookEndpoint> EndpointsOf(Guid tenantId) => _endpoints.Values.Where(e => e.TenantId == tenantId);

    /// <summary>Whether any tenant of the batch has an enabled endpoint: the one check the hot path pays for webhooks.</summary>
    public bool HasWatchers => _watched.Count > 0;

    internal bool Watches(Guid tenantId, Topics topic) => _watched.Count > 0 && _watched.TryGetValue(tenantId, out var topics) && (topics & topic) != 0;

    /// <summary>Recomputes what a tenant's endpoints want after one was loaded or changed.</summary>
    internal void Rewatch(Guid tenantId)
    {
        var topics = Topics.None;
        foreach (var e in _endpoints.Values)
        {
            if (e.TenantId == tenantId && e.Enabled && !e.Deleted)
            {
                topics |= e.Topics;
            }
        }

        if (topics == Topics.None)
        {
            _watched.Remove(tenantId);
        }
        else
        {
            _watched[tenantId] = topics;
        }
    }

    internal void Notify(Topics topic, Guid tenantId, string? eventId, object subject, DateTimeOffset at, string? reason = null)
    {
        if (Watches(tenantId, topic))
        {
            _notices.Add(new Notice { Topic = topic, TenantId = tenantId, EventId = eventId, Subject = subject, At = at, Reason = reason });
        }
    }

    /// <summary>The ledger entries appended since notices were last looked for.</summary>
    internal (int From, int To) UnnoticedLedger() => (_noticedThrough, _ledger.Count);

    internal void MarkNoticed() => _noticedThrough = _ledger.Count;

    internal LedgerList LedgerEntries => _ledger;

    internal void AddNew(WebhookEndpoint endpoint)
    {
        _endpoints.Add(endpoint.Id, endpoint);
        _newEndpoints.Add(endpoint);
        endpoint.RecordedIn = _epoch;
        Rewatch(endpoint.TenantId);
    }

    internal void Touch(WebhookEndpoint endpoint)
    {
        if (endpoint.RecordedIn != _epoch)
        {
            _changedEndpoints.Add(endpoint);
            endpoint.RecordedIn = _epoch;
        }

        Rewatch(endpoint.TenantId);
    }

    internal void Touch(WebhookDelivery delivery)
    {
        if (delivery.RecordedIn != _epoch)
        {
            _changedDeliveries.Add(delivery);
            delivery.RecordedIn = _epoch;
        }
    }

    internal void Add(WebhookAttempt attempt) => _attempts.Add(attempt);

    /// <summary>
    /// Every waiting entry of one event, from the store: the core walks them when units come free.
    /// Entries already loaded by id keep their instance. <paramref name="lastSequence"/> is the highest
    /// sequence any entry of the event ever had, waiting or not: the next join takes the one after it.
    /// </summary>
    public void LoadWaitlist(Guid tenantId, string eventId, IEnumerable<WaitlistEntry> waiting, long lastSequence = 0)
    {
        if (_queues.ContainsKey((tenantId, eventId)))
        {
            return;
        }

        var queue = new List<WaitlistEntry>();
        foreach (var entry in waiting)
        {
            _entries.TryAdd(entry.Id, entry);
            queue.Add(_entries[entry.Id]);
            lastSequence = Math.Max(lastSequence, entry.Sequence);
        }

        queue.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
        _queues.Add((tenantId, eventId), queue);
        _lastSequences[(tenantId, eventId)] = lastSequence;
    }

    /// <summary>How many capacities the event has as committed (<see cref="LoadKeys.EventSizes"/>): the store's count, for every event it was asked.</summary>
    public void LoadEventSize(Guid tenantId, string eventId, int capacities) => _eventSizes[(tenantId, eventId)] = capacities;

    /// <summary>The event's capacities: as loaded, with those the batch has created since; null when it was not loaded.</summary>
    internal int? EventSize(Guid tenantId, string eventId) => _eventSizes.TryGetValue((tenantId, eventId), out var size) ? size : null;

    /// <summary>Records that every key of the tenant that is not revoked has been loaded (<see cref="LoadKeys.TenantKeys"/>).</summary>
    public void LoadedKeysOf(Guid tenantId) => _keysLoadedFor.Add(tenantId);

    /// <summary>The tenant's keys usable at <paramref name="now"/>, loaded and new; null when its keys were not all loaded.</summary>
    internal int? UsableKeys(Guid tenantId, DateTimeOffset now)
    {
        if (!_keysLoadedFor.Contains(tenantId))
        {
            return null;
        }

        var count = 0;
        foreach (var key in _keys.Values)
        {
            if (key.TenantId == tenantId && key.IsUsableAt(now))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The sequence of a new entry of the event: one after the highest it ever gave.</summary>
    internal long NextSequence(Guid tenantId, string eventId)
    {
        ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(_lastSequences, (tenantId, eventId), out _);
        return ++last;
    }

    // Changes, recorded by the core.
    internal void AddNew(CapacityNode node)
    {
        _capacities.Add(node.Id, node);
        if (_eventSizes.Count > 0)
        {
            ref var size = ref CollectionsMarshal.GetValueRefOrNullRef(_eventSizes, (node.TenantId, node.EventId));
            if (!Unsafe.IsNullRef(ref size))
            {
                size++;
            }
        }

        _newCapacities.Add(node.Id);
        node.RecordedIn = _epoch;
        RememberCounters(node);
    }

    internal void Touch(CapacityNode node)
    {
        if (node.RecordedIn == _epoch)
        {
            return;
        }

        if (!_newCapacities.Contains(node.Id))
        {
            _changedCapacities.Add(node.Id);
        }

        node.RecordedIn = _epoch;
    }

    internal void AddNew(in Reservation reservation)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_reservations, reservation.Id, out var exists);
        if (exists)
        {
            throw new InvalidOperationException($"Reservation {reservation.Id} is already in the working set.");
        }

        slot.Value = reservation;
        slot.RecordedIn = _epoch;
        slot.AddedIn = _epoch;
        _newReservations.Add(reservation.Id);
        if (reservation.Status == ReservationStatus.Active)
        {
            CountLiveHold(reservation.TenantId, +1);
        }

        _sales.Record(this, null, reservation, Clock);
    }

    /// <summary>
    /// Writes a hold's new state into its slot (from <see cref="SlotOf"/>) and records the change. A new
    /// items array (the core never changes one in place) marks a loaded hold's items as changed too.
    /// </summary>
    internal void Replace(ref ReservationSlot slot, in Reservation reservation)
    {
        if (slot.RecordedIn != _epoch)
        {
            _changedReservations.Add(reservation.Id);
        }

        if (!ReferenceEquals(slot.Value.Items, reservation.Items) && slot.AddedIn != _epoch && slot.ItemsRecordedIn != _epoch)
        {
            slot.ItemsRecordedIn = _epoch;
            _changedItems.Add(reservation.Id);
        }

        if ((slot.Value.Status == ReservationStatus.Active) != (reservation.Status == ReservationStatus.Active))
        {
            CountLiveHold(reservation.TenantId, reservation.Status == ReservationStatus.Active ? +1 : -1);
        }

        _sales.Record(this, slot.Value, reservation, Clock);
        slot.Value = reservation;
        slot.RecordedIn = _epoch;
    }

    private void CountLiveHold(Guid tenantId, int change)
    {
        ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(_liveHoldChanges, tenantId, out _);
        count += change;
    }

    internal void AddNew(PriceEntry price)
    {
        _prices.Add(price.Id, price);
        _newPrices.Add(price.Id);
    }

    internal void Replace(PriceEntry price)
    {
        _prices[price.Id] = price;
        if (!_newPrices.Contains(price.Id))
        {
            _changedPrices.Add(price.Id);
        }
    }

    internal void Append(CapacityNode node, LedgerKind kind, Guid reservationId, long reservedDelta, long soldDelta, DateTimeOffset at) =>
        _ledger.Add(node, new LedgerCharge(kind, false, reservationId, reservedDelta, soldDelta, at));

    internal void Append(CapacityNode node, LedgerKind kind, Guid reservationId, Guid allocationId, long reservedDelta, long soldDelta, DateTimeOffset at, bool offer = false) =>
        _ledger.Add(node, new LedgerCharge(kind, offer, reservationId, reservedDelta, soldDelta, at, allocationId));

    internal void AddNew(Allocation allocation)
    {
        _allocations.Add(allocation.Id, allocation);
        _newAllocations.Add(allocation);
        allocation.RecordedIn = _epoch;
    }

    internal void AddNew(BuyerLimit limit)
    {
        _limits.Add(limit.Id, limit);
        _newLimits.Add(limit);
        limit.RecordedIn = _epoch;
    }

    internal void Touch(BuyerLimit limit)
    {
        if (limit.RecordedIn != _epoch)
        {
            _changedLimits.Add(limit);
            limit.RecordedIn = _epoch;
        }
    }

    /// <summary>
    /// Moves a buyer's tickets on a capacity, creating the row on first use. A row not loaded was either
    /// read and absent, or, on a capacity no limit covers, not read at all: then it records this
    /// batch's change only (<see cref="BuyerUsage.Unread"/>), which may be below 0 (a release).
    /// </summary>
    internal void AddUsage(Guid tenantId, Guid capacityId, string buyerKey, long delta)
    {
        if (!_usage.TryGetValue((capacityId, buyerKey), out var usage))
        {
            var unread = !EveryUsageRead && FindCapacity(capacityId) is { LimitIds.Length: 0 };
            usage = new BuyerUsage { TenantId = tenantId, CapacityId = capacityId, BuyerKey = buyerKey, Unread = unread };
            _usage.Add((capacityId, buyerKey), usage);
            _newUsage.Add(usage);
            usage.RecordedIn = _epoch;
        }
        else if (usage.RecordedIn != _epoch)
        {
            _changedUsage.Add(usage);
            usage.RecordedIn = _epoch;
        }

        usage.Used += delta;
        if (usage.Used < 0 && !usage.Unread)
        {
            throw new InvalidOperationException($"Buyer usage on capacity {capacityId} would go negative.");
        }
    }

    internal void AddNew(WaitlistEntry entry)
    {
        _entries.Add(entry.Id, entry);
        _newEntries.Add(entry);
        entry.RecordedIn = _epoch;
        QueueOf(entry.TenantId, entry.EventId)!.Add(entry);
    }

    internal void Touch(WaitlistEntry entry)
    {
        if (entry.RecordedIn != _epoch)
        {
            _changedEntries.Add(entry);
            entry.RecordedIn = _epoch;
        }
    }

    internal void Touch(Allocation allocation)
    {
        if (allocation.RecordedIn != _epoch)
        {
            _changedAllocations.Add(allocation);
            allocation.RecordedIn = _epoch;
        }
    }

    internal void AddNew(Tenant tenant)
    {
        _tenants.Add(tenant.Id, tenant);
        _newTenants.Add(tenant.Id);
    }

    internal void Replace(Tenant tenant)
    {
        _tenants[tenant.Id] = tenant;
        if (!_newTenants.Contains(tenant.Id))
        {
            _changedTenants.Add(tenant.Id);
        }
    }

    internal void AddNew(ApiKey key)
    {
        _keys.Add(key.Id, key);
        _newKeys.Add(key.Id);
    }

    internal void Replace(ApiKey key)
    {
        _keys[key.Id] = key;
        if (!_newKeys.Contains(key.Id))
        {
            _changedKeys.Add(key.Id);
        }
    }

    public IEnumerable<CapacityNode> NewCapacities => _newCapacities.Select(id => _capacities[id]);
    public IEnumerable<CapacityNode> ChangedCapacities => _changedCapacities.Select(id => _capacities[id]);
    public int NewReservationCount => _newReservations.Count;
    public int ChangedReservationCount => _changedReservations.Count;
    public IEnumerable<Reservation> NewReservations => _newReservations.Select(id => _reservations[id].Value);
    public IEnumerable<Reservation> ChangedReservations => _changedReservations.Select(id => _reservations[id].Value);

    /// <summary>
    /// By tenant, how many more active holds there are once the batch is written (negative: fewer): new
    /// active holds, less the holds that stopped being active. A store that is the only writer of its
    /// holds keeps its count of live holds with it, instead of counting them again (SQLite's <c>LiveHoldCounts</c>).
    /// </summary>
    public IReadOnlyDictionary<Guid, int> LiveHoldChanges => _liveHoldChanges;

    /// <summary>How many of <see cref="ChangedReservations"/> have new items, which the store writes as well.</summary>
    public int ChangedItemsCount => _changedItems.Count;

    /// <summary>The changed reservations whose items changed (a change in part); always among <see cref="ChangedReservations"/>.</summary>
    public IEnumerable<Reservation> ChangedItems => _changedItems.Select(id => _reservations[id].Value);
    public IEnumerable<PriceEntry> NewPrices => _newPrices.Select(id => _prices[id]);
    public IEnumerable<PriceEntry> ChangedPrices => _changedPrices.Select(id => _prices[id]);
    public IReadOnlyList<Allocation> NewAllocations => _newAllocations;
    public IReadOnlyList<Allocation> ChangedAllocations => _changedAllocations;
    public IReadOnlyList<BuyerLimit> NewLimits => _newLimits;
    public IReadOnlyList<BuyerLimit> ChangedLimits => _changedLimits;

    /// <summary>
    /// Usage rows this batch created, and rows it did not read (<see cref="BuyerUsage.Unread"/>): the store
    /// adds each one's <see cref="BuyerUsage.Used"/> to the row it has, or creates the row. A row once
    /// created is only ever updated (it may fall to 0).
    /// </summary>
    public IReadOnlyList<BuyerUsage> NewUsage => _newUsage;
    public IReadOnlyList<BuyerUsage> ChangedUsage => _changedUsage;
    public IReadOnlyList<WaitlistEntry> NewEntries => _newEntries;
    public IReadOnlyList<WaitlistEntry> ChangedEntries => _changedEntries;
    public IReadOnlyList<LedgerEntry> Ledger => _ledger;

    /// <summary>Tickets each changed hold moved, per capacity and minute, to be added to the stored figures.</summary>
    public IReadOnlyCollection<SalesMinute> SalesMinutes => _sales.Minutes;

    /// <summary>Hold-to-confirm times of this batch's confirms, counted per capacity, minute and bucket.</summary>
    public IReadOnlyCollection<ConfirmTimeCount> ConfirmTimes => _sales.Times;

    /// <summary>
    /// The instant of the command being decided: when a hold's change is tallied (<see cref="SalesMinutes"/>).
    /// Set by <see cref="Decider.Decide"/> and <see cref="Decider.AfterCommand"/>, the only ways in.
    /// </summary>
    internal DateTimeOffset Clock { get; set; }
    public IEnumerable<Tenant> NewTenants => _newTenants.Select(id => _tenants[id]);

    /// <summary>Loaded tenants this batch disabled or enabled.</summary>
    public IEnumerable<Tenant> ChangedTenants => _changedTenants.Select(id => _tenants[id]);
    public IEnumerable<ApiKey> NewKeys => _newKeys.Select(id => _keys[id]);

    /// <summary>Loaded keys this batch revoked or recorded the use of.</summary>
    public IEnumerable<ApiKey> ChangedKeys => _changedKeys.Select(id => _keys[id]);
    public IReadOnlyList<WebhookEndpoint> NewEndpoints => _newEndpoints;
    public IReadOnlyList<WebhookEndpoint> ChangedEndpoints => _changedEndpoints;
    public IReadOnlyList<WebhookDelivery> ChangedDeliveries => _changedDeliveries;
    public IReadOnlyList<WebhookAttempt> Attempts => _attempts;

    /// <summary>The batch's notices, in the order they happened; the store writes one delivery per endpoint that wants each.</summary>
    public IReadOnlyList<Notice> Notices => _notices;

    /// <summary>
    /// Checks, in Debug builds, what a batch is about to write: every capacity it created or changed
    /// has non-negative counters and, when limited, reserved + sold at most its total; and the ledger
    /// charges to each node add up to how far its counters moved since it was loaded (or since the
    /// last <see cref="AcceptChanges"/>), every charged node being one that will be written. Throws
    /// <see cref="InvariantViolationException"/> otherwise. The engine calls it right before it writes
    /// a batch; in Release builds the call is compiled away.
    /// </summary>
    [Conditional("DEBUG")]
    public void AssertBatchConsistent()
    {
#if DEBUG
        var charged = _chargedSinceLoaded;
        charged.Clear();
        for (var i = 0; i < _ledger.Count; i++)
        {
            var node = _ledger.NodeAt(i);
            var charge = _ledger.ChargeAt(i);
            // An entry that moves nothing (a hold drawn from an allocation) needs no written node.
            if ((charge.ReservedDelta != 0 || charge.SoldDelta != 0) && !_newCapacities.Contains(node.Id) && !_changedCapacities.Contains(node.Id))
            {
                CoreAssert.Fail($"The ledger charges capacity {node.Id}, which is not recorded as changed, so its counters would not be written.");
            }

            ref var sum = ref CollectionsMarshal.GetValueRefOrAddDefault(charged, node.Id, out _);
            sum = (sum.Reserved + charge.ReservedDelta, sum.Sold + charge.SoldDelta);
        }

        AssertMovedAsCharged(_newCapacities);
        AssertMovedAsCharged(_changedCapacities);
#endif
    }

#if DEBUG
    private void AssertMovedAsCharged(HashSet<Guid> ids)
    {
        foreach (var id in ids)
        {
            var node = _capacities[id];
            CoreAssert.WithinBounds(node);
            _countersAsLoaded.TryGetValue(id, out var loaded);
            _chargedSinceLoaded.TryGetValue(id, out var charged);
            if (node.Reserved - loaded.Reserved != charged.Reserved || node.Sold - loaded.Sold != charged.Sold)
            {
                CoreAssert.Fail($"Capacity {id}: counters moved from (reserved {loaded.Reserved}, sold {loaded.Sold}) to (reserved {node.Reserved}, sold {node.Sold}), "
                    + $"but the batch's ledger charges it (reserved {charged.Reserved}, sold {charged.Sold}).");
            }
        }
    }
#endif

    [Conditional("DEBUG")]
    private void RememberCounters(CapacityNode node)
    {
#if DEBUG
        _countersAsLoaded[node.Id] = (node.Reserved, node.Sold);
#endif
    }

    /// <summary>Forgets the change marks once the store has written them; the rows stay loaded.</summary>
    internal void AcceptChanges()
    {
#if DEBUG
        foreach (var id in _newCapacities)
        {
            RememberCounters(_capacities[id]);
        }

        foreach (var id in _changedCapacities)
        {
            RememberCounters(_capacities[id]);
        }
#endif

        _epoch = Interlocked.Increment(ref s_epochs);
        _newCapacities.Clear();
        _changedCapacities.Clear();
        _newReservations.Clear();
        _changedReservations.Clear();
        _liveHoldChanges.Clear();
        _changedItems.Clear();
        _newPrices.Clear();
        _changedPrices.Clear();
        _newAllocations.Clear();
        _changedAllocations.Clear();
        _newLimits.Clear();
        _changedLimits.Clear();
        _newUsage.Clear();
        _changedUsage.Clear();
        _newEntries.Clear();
        _changedEntries.Clear();
        _unsettled.Clear();
        _ledger.Clear();
        _sales.Clear();
        _newTenants.Clear();
        _changedTenants.Clear();
        _newKeys.Clear();
        _changedKeys.Clear();
        _newEndpoints.Clear();
        _changedEndpoints.Clear();
        _changedDeliveries.Clear();
        _attempts.Clear();
        _notices.Clear();
        _noticedThrough = 0;
        FreeAtStart.Clear();
    }

    /// <summary>Forgets everything, rows included, so the instance can serve the next batch.</summary>
    public void Clear()
    {
        AcceptChanges();
        SellOutCandidates.Clear();
        _capacities.Clear();
        _reservations.Clear();
        _prices.Clear();
        _tenants.Clear();
        _keys.Clear();
        _allocations.Clear();
        _limits.Clear();
        _usage.Clear();
        EveryUsageRead = true;
        _entries.Clear();
        _queues.Clear();
        _lastSequences.Clear();
        _eventSizes.Clear();
        _keysLoadedFor.Clear();
        _endpoints.Clear();
        _watched.Clear();
        _deliveries.Clear();
#if DEBUG
        _countersAsLoaded.Clear();
#endif
    }
}

/// <summary>
/// A loaded or changed hold, with the epoch in which the working set last recorded it (0: only
/// loaded). Mutable fields, written in place in the dictionary's storage: building a new slot and
/// assigning it would copy the hold through a temporary.
/// </summary>
internal struct ReservationSlot
{
    public Reservation Value;
    public long RecordedIn;

    /// <summary>The epoch that added it (a new hold, written whole by its insert); 0 for one loaded.</summary>
    public long AddedIn;

    /// <summary>The epoch whose changed-items list has it.</summary>
    public long ItemsRecordedIn;
}

/// <summary>
/// What a ledger entry says beyond its node: no references, so appending one is a plain copy. An empty
/// allocation id is none. <see cref="Offer"/> marks the entries of a waiting-list offer, whose waitlist
/// id is its reservation id; it sits in the padding after <see cref="Kind"/>, so the struct is no larger.
/// </summary>
internal readonly record struct LedgerCharge(LedgerKind Kind, bool Offer, Guid ReservationId, long ReservedDelta, long SoldDelta, DateTimeOffset At, Guid AllocationId = default);

/// <summary>
/// A batch's ledger, kept as the node each entry charges and what it charges, in two lists. A
/// <see cref="LedgerEntry"/> carries the event id, a reference, so appending whole entries copied each
/// through the write barrier and a string move (measured by <c>DecideBenchmarks</c>; see
/// docs/performance.md); the entries are put together when the store reads them. A node's tenant, event and id never change, so they are the
/// same then as when the entry was appended.
/// </summary>
internal sealed class LedgerList : IReadOnlyList<LedgerEntry>
{
    private readonly List<CapacityNode> _nodes = [];
    private readonly List<LedgerCharge> _charges = [];

    public int Count => _charges.Count;

    public LedgerEntry this[int index]
    {
        get
        {
            var (node, c) = (_nodes[index], _charges[index]);
            return new LedgerEntry(
                c.Kind, node.TenantId, node.EventId, node.Id, c.ReservationId, c.ReservedDelta, c.SoldDelta, c.At, c.AllocationId == Guid.Empty ? null : c.AllocationId,
                c.Offer ? c.ReservationId : null);
        }
    }

    public CapacityNode NodeAt(int index) => _nodes[index];

    public LedgerCharge ChargeAt(int index) => _charges[index];

    public void Add(CapacityNode node, in LedgerCharge charge)
    {
        _nodes.Add(node);
        _charges.Add(charge);
    }

    public void Clear()
    {
        _nodes.Clear();
        _charges.Clear();
    }

    public IEnumerator<LedgerEntry> GetEnumerator()
    {
        for (var i = 0; i < _charges.Count; i++)
        {
            yield return this[i];
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

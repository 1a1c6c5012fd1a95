namespace Capacity.Core;

/// <summary>
/// The read set of a batch: the rows, by id, that its commands decide on. Each command adds its own
/// (<see cref="Command.CollectKeys"/>); the engine has them loaded into the working set before the
/// core decides. A capacity is needed with all its ancestors, since a hold charges them too.
/// </summary>
public sealed class LoadKeys
{
    public HashSet<Guid> Capacities { get; } = [];
    public HashSet<Guid> Reservations { get; } = [];

    /// <summary>
    /// Ids that commands are about to create. The core only needs to see those that already exist,
    /// so that it can refuse the reuse; an id that is not loaded is taken to be free.
    /// </summary>
    public HashSet<Guid> NewReservations { get; } = [];
    public HashSet<Guid> Prices { get; } = [];

    /// <summary>Reservations whose items' prices the batch needs (a change adds units at an item's current price).</summary>
    public HashSet<Guid> ReservationPrices { get; } = [];

    /// <summary>
    /// Capacities a change may add to a reservation, by reservation: a keyed hold's buyer is known only
    /// once its row is loaded, and units added under a limit count against that buyer's usage there.
    /// </summary>
    public Dictionary<Guid, Guid[]> ReservationTargets { get; } = [];

    /// <summary>
    /// Adds a change's capacities to its reservation's targets: two changes of one hold in a batch need
    /// its buyer's usage on the capacities of both.
    /// </summary>
    public void AddReservationTargets(Guid reservationId, Guid[] capacityIds) =>
        ReservationTargets[reservationId] = ReservationTargets.TryGetValue(reservationId, out var earlier) ? [.. earlier.Union(capacityIds)] : capacityIds;

    /// <summary>
    /// What a change needs of a reservation once its row is loaded: the price entries of its items, and
    /// its buyer's usage on every capacity the change names (<see cref="ReservationPrices"/>, <see cref="ReservationTargets"/>).
    /// </summary>
    public void AddChangeKeysOf(in Reservation reservation)
    {
        if (ReservationPrices.Contains(reservation.Id))
        {
            foreach (var item in reservation.Items)
            {
                if (item.LockedPrice is { } locked)
                {
                    Prices.Add(locked.PricingId);
                }
            }
        }

        if (reservation.BuyerKey is { } buyerKey && ReservationTargets.TryGetValue(reservation.Id, out var targets))
        {
            foreach (var capacityId in targets)
            {
                Buyers.Add((capacityId, buyerKey));
            }
        }
    }
    public HashSet<Guid> Tenants { get; } = [];

    /// <summary>API keys by id: those a command revokes or records the use of.</summary>
    public HashSet<Guid> ApiKeys { get; } = [];

    /// <summary>
    /// Tenants whose keys that are not revoked a key issued under a bound needs (<see cref="AddApiKey.MaxUsable"/>),
    /// loaded after the tenant's row is locked, so that no other issue can add one before the batch commits
    /// (<see cref="WorkingSet.LoadedKeysOf"/>).
    /// </summary>
    public HashSet<Guid> TenantKeys { get; } = [];

    /// <summary>
    /// Allocations by id. The store also loads every allocation that a loaded hold's items draw from,
    /// and the capacities (with ancestors) of every allocation it loads: ending a hold from an
    /// allocation moves the allocation's counters, and giving units back charges its nodes.
    /// </summary>
    public HashSet<Guid> Allocations { get; } = [];

    /// <summary>
    /// Buyer limits by id. The store also loads every limit that a loaded capacity names
    /// (<see cref="CapacityNode.LimitIds"/>), and the capacities a named limit covers.
    /// </summary>
    public HashSet<Guid> Limits { get; } = [];

    /// <summary>
    /// A buyer's usage rows by (capacity, buyer key): a keyed hold's items, and a loaded keyed hold's.
    /// The store widens them to every capacity of the limits that cover them (<see cref="UsageKeys(WorkingSet)"/>)
    /// before it loads them, since a limit adds up its buyer's tickets over all its capacities.
    /// </summary>
    public HashSet<(Guid CapacityId, string BuyerKey)> Buyers { get; } = [];

    /// <summary>
    /// Waiting-list entries by id. The store also loads the entry of every loaded offer
    /// (<see cref="Reservation.WaitlistId"/>), its capacities, and, for every event with a loaded
    /// capacity whose <see cref="CapacityNode.QueueDemand"/> is above 0 or whose waiting list is on,
    /// every waiting entry of that event and their capacities (<see cref="WorkingSet.LoadWaitlist"/>).
    /// </summary>
    public HashSet<Guid> Waitlist { get; } = [];

    /// <summary>Capacities whose event's waiting list a command needs whole (a join: it takes its place behind the others).</summary>
    public HashSet<Guid> Queues { get; } = [];

    /// <summary>
    /// Whether some command of the batch may give units back, or open a capacity, that waiting entries
    /// are owed units on (<see cref="Command.CollectKeys"/>). A batch of holds only, the on-sale's
    /// usual batch, does not: its holds are refused the owed units by the capacities' counters, and
    /// no waiting list needs loading for them.
    /// </summary>
    public bool MayFreeUnits { get; set; }

    /// <summary>
    /// The capacities of the limits the batch creates. Where no limit covered a capacity its buyers'
    /// changes were appended to a log rather than added to their rows; a store that reads rows
    /// (PostgreSQL) folds that log into them at the load of the batch that creates a limit over it, so
    /// that the limit counts them (SQLite's writer counts rows plus log from memory).
    /// </summary>
    public HashSet<Guid> LimitCapacities { get; } = [];

    /// <summary>
    /// Whether some command of the batch creates a per-buyer limit. Such a batch reads the usage row of
    /// every buyer it names (<see cref="UsageKeys(WorkingSet)"/>): a hold decided after the limit, in the
    /// same batch, is checked against its buyer's whole usage on capacities no limit covered at the load.
    /// </summary>
    public bool CreatesLimits => LimitCapacities.Count > 0;

    /// <summary>A keyed entry's buyer on each of its capacities: an offer counts against the buyer's limits.</summary>
    public void AddBuyersOf(IEnumerable<WaitlistEntry> entries)
    {
        foreach (var entry in entries)
        {
            if (entry.BuyerKey is { } buyerKey)
            {
                foreach (var item in entry.Items)
                {
                    Buyers.Add((item.CapacityId, buyerKey));
                }
            }
        }
    }

    /// <summary>
    /// The events whose waiting lists a batch must see whole, once its capacities and entries are
    /// loaded: those of the capacities in <see cref="Queues"/>, of every loaded entry, of every loaded
    /// capacity that waiting entries are owed units on (when a command may free units there, <see cref="MayFreeUnits"/>,
    /// or a hold may open a tier), and of every loaded capacity under a buyer
    /// limit that a loaded keyed hold draws from (ending it lowers its buyer's usage, which may let an
    /// entry the limit held back be offered). Limits are per event, so that event is the one to settle.
    /// </summary>
    public HashSet<(Guid TenantId, string EventId)> QueueEvents(WorkingSet set, IEnumerable<CapacityNode> loaded)
    {
        var events = new HashSet<(Guid, string)>();
        var owed = MayFreeUnits || MayOpenTiers(loaded);
        foreach (var node in loaded)
        {
            // Waiting units with no share (their capacity has nothing to give) are owed once a ticket comes back to it.
            if (owed && node.HasWaiting || Queues.Contains(node.Id))
            {
                events.Add((node.TenantId, node.EventId));
            }
        }

        AddEventsOfEndingKeyedHolds(set, Reservations, events);
        AddEventsOfEndingKeyedHolds(set, ExpiryCandidates, events);

        foreach (var id in Waitlist)
        {
            if (set.FindEntry(id) is { } entry)
            {
                events.Add((entry.TenantId, entry.EventId));
            }
        }

        return events;
    }

    /// <summary>
    /// The events of the limited capacities that loaded keyed holds (which this batch may end) draw
    /// from: one pass over those holds' items, whatever the number of buyers.
    /// </summary>
    private static void AddEventsOfEndingKeyedHolds(WorkingSet set, HashSet<Guid> ids, HashSet<(Guid, string)> events)
    {
        foreach (var id in ids)
        {
            ref var slot = ref set.SlotOf(id);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot) || slot.Value.BuyerKey is null)
            {
                continue;
            }

            foreach (var item in slot.Value.Items)
            {
                if (set.FindCapacity(item.CapacityId) is { LimitIds.Length: > 0 } node)
                {
                    events.Add((node.TenantId, node.EventId));
                }
            }
        }
    }

    /// <summary>
    /// Holds the sweeper believes are due. The core expires those that are loaded and still due, and
    /// passes over any that are not loaded: such a hold stays due for a later <see cref="ExpireDue"/>.
    /// </summary>
    public HashSet<Guid> ExpiryCandidates { get; } = [];

    /// <summary>Webhook endpoints by id; the store loads every endpoint of their tenants too.</summary>
    public HashSet<Guid> Webhooks { get; } = [];

    /// <summary>
    /// Tenants whose endpoints the batch needs besides those of its capacities' tenants, which the
    /// store always loads: a notice is written for every endpoint that wants it, in the batch of the change.
    /// </summary>
    public HashSet<Guid> WebhookTenants { get; } = [];

    /// <summary>
    /// Tenants whose endpoints a command creates, changes or deletes: who is sent the notices of the
    /// tenant's changes from that command on. A store with more than one writer makes such a command
    /// take turns with every batch that changes the tenant's capacities (PostgreSQL locks every
    /// capacity of the tenant), so that no batch decided on the endpoints as they were before it
    /// commits after it, leaving an endpoint whose creation was acknowledged without a notice of a
    /// change it was created in time for.
    /// </summary>
    public HashSet<Guid> EndpointChanges { get; } = [];

    /// <summary>
    /// Tenants in which a command creates a capacity. Beside <see cref="EndpointChanges"/>: a change of
    /// a tenant's endpoints takes turns with the tenant's changes through its capacities' locks, which a
    /// capacity still being created on another node does not have yet; the two take turns too (on
    /// PostgreSQL a lock per tenant, shared by creations, exclusive for the endpoint change).
    /// </summary>
    public HashSet<Guid> CapacityCreations { get; } = [];

    /// <summary>Deliveries by (endpoint, sequence).</summary>
    public HashSet<(Guid EndpointId, long Sequence)> Deliveries { get; } = [];

    /// <summary>
    /// Events whose number of capacities a create with a bound needs (<see cref="CreateCapacity.MaxInEvent"/>).
    /// The store counts each (<see cref="WorkingSet.LoadEventSize"/>) so that no other create can add
    /// to it before the batch commits: the single writer on SQLite, a lock per event on PostgreSQL.
    /// </summary>
    public HashSet<(Guid TenantId, string EventId)> EventSizes { get; } = [];

    /// <summary>
    /// Whether a batch that has loaded these keys has loaded everything <paramref name="candidate"/>
    /// names, but for the ids it is about to create (<see cref="NewReservations"/>, which take no lock,
    /// only a look) and the usage of buyers on capacities it names (<see cref="Buyers"/>: read, not
    /// locked, since the locks that guard a usage row are its capacity's and that capacity's limits',
    /// which the batch holds). The engine adds such a command to a batch after its rows are locked
    /// (<c>IWriteTransaction.LoadAddedAsync</c>): every other row it decides on is then already in the
    /// working set, and no lock is taken out of the global order. What the store loads besides the
    /// keys (ancestors, limits, waiting lists) follows from the keys and the rows, so it is loaded
    /// too. A change of a hold is never covered: its buyer, and so the usage it needs, is known only
    /// once its hold is loaded (<see cref="AddChangeKeysOf"/>), which the load did for the batch's own.
    /// </summary>
    public bool Covers(LoadKeys candidate) =>
        candidate.ReservationTargets.Count == 0
        && (MayFreeUnits || !candidate.MayFreeUnits)
        && candidate.LimitCapacities.IsSubsetOf(LimitCapacities)
        && candidate.Capacities.IsSubsetOf(Capacities)
        && candidate.Reservations.IsSubsetOf(Reservations)
        && candidate.Prices.IsSubsetOf(Prices)
        && candidate.ReservationPrices.IsSubsetOf(ReservationPrices)
        && candidate.Tenants.IsSubsetOf(Tenants)
        && candidate.ApiKeys.IsSubsetOf(ApiKeys)
        && candidate.TenantKeys.IsSubsetOf(TenantKeys)
        && candidate.Allocations.IsSubsetOf(Allocations)
        && candidate.Limits.IsSubsetOf(Limits)
        && BuyersOnNamedCapacities(candidate.Buyers)
        && candidate.Waitlist.IsSubsetOf(Waitlist)
        && candidate.Queues.IsSubsetOf(Queues)
        && candidate.ExpiryCandidates.IsSubsetOf(ExpiryCandidates)
        && candidate.Webhooks.IsSubsetOf(Webhooks)
        && candidate.WebhookTenants.IsSubsetOf(WebhookTenants)
        && candidate.EndpointChanges.IsSubsetOf(EndpointChanges)
        && candidate.CapacityCreations.IsSubsetOf(CapacityCreations)
        && candidate.Deliveries.IsSubsetOf(Deliveries)
        && candidate.EventSizes.IsSubsetOf(EventSizes);

    private bool BuyersOnNamedCapacities(HashSet<(Guid CapacityId, string BuyerKey)> buyers)
    {
        foreach (var (capacityId, _) in buyers)
        {
            if (!Capacities.Contains(capacityId))
            {
                return false;
            }
        }

        return true;
    }

    public void Clear()
    {
        Capacities.Clear();
        LimitCapacities.Clear();
        Webhooks.Clear();
        WebhookTenants.Clear();
        EndpointChanges.Clear();
        CapacityCreations.Clear();
        Deliveries.Clear();
        EventSizes.Clear();
        TenantKeys.Clear();
        Reservations.Clear();
        NewReservations.Clear();
        Prices.Clear();
        ReservationPrices.Clear();
        ReservationTargets.Clear();
        Tenants.Clear();
        ApiKeys.Clear();
        Allocations.Clear();
        Limits.Clear();
        Buyers.Clear();
        Waitlist.Clear();
        Queues.Clear();
        ExpiryCandidates.Clear();
        MayFreeUnits = false;
    }

    /// <summary>
    /// Whether a hold may sell out a loaded capacity that opens tiers when it sells out: an entry
    /// waiting for such a tier is offered in the same batch, so the waiting list is needed after all.
    /// </summary>
    private static bool MayOpenTiers(IEnumerable<CapacityNode> loaded)
    {
        foreach (var node in loaded)
        {
            if (node.Sale is { SoldOutAt: null, Successors.Length: > 0 })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The usage rows a batch needs once its capacities and limits are loaded: each (capacity, buyer)
    /// named on a capacity a loaded limit covers, and the same buyer on every capacity of each such
    /// limit. A capacity no limit covers needs no read: its usage is only ever added to, never checked,
    /// so the store writes the batch's change without reading the row (<see cref="BuyerUsage.Unread"/>;
    /// a keyed hold's commonest case, which no longer pays for limits it does not have). A batch that
    /// creates a limit reads every pair named (<see cref="CreatesLimits"/>). The store records which it
    /// did in <see cref="WorkingSet.EveryUsageRead"/>.
    /// </summary>
    public HashSet<(Guid CapacityId, string BuyerKey)> UsageKeys(WorkingSet set) => UsageKeys(set, Buyers, CreatesLimits);

    /// <summary>The usage rows of these (capacity, buyer) pairs, chosen and widened as <see cref="UsageKeys(WorkingSet)"/> does the batch's; <paramref name="every"/> when the batch reads every pair.</summary>
    public static HashSet<(Guid CapacityId, string BuyerKey)> UsageKeys(WorkingSet set, IReadOnlyCollection<(Guid CapacityId, string BuyerKey)> buyers, bool every)
    {
        var usage = new HashSet<(Guid, string)>();
        foreach (var (capacityId, buyerKey) in buyers)
        {
            var node = set.FindCapacity(capacityId);
            if (every || node is not { LimitIds.Length: 0 })
            {
                usage.Add((capacityId, buyerKey));
            }

            if (node is null)
            {
                continue;
            }

            foreach (var limitId in node.LimitIds)
            {
                if (set.FindLimit(limitId) is { } limit)
                {
                    foreach (var covered in limit.CapacityIds)
                    {
                        usage.Add((covered, buyerKey));
                    }
                }
            }
        }

        return usage;
    }
}

using Capacity.Core;

namespace Capacity.Engine;

/// <summary>
/// A durable store's write side. It writes; it never decides. Only the engine and the expiry sweeper
/// hold it: every change goes through <see cref="BeginWriteAsync"/>, one transaction per batch, run
/// by the engine's single writer. A store class implements this, <see cref="IReadStore"/> and
/// <see cref="IAsyncDisposable"/>; whoever creates it hands each side to its users.
/// </summary>
public interface IWriteStore
{
    /// <summary>Creates or upgrades the schema from the versioned scripts. Safe to call on every start.</summary>
    Task MigrateAsync(CancellationToken ct);

    Task<IWriteTransaction> BeginWriteAsync(CancellationToken ct);

    /// <summary>
    /// Whether a batch's transaction failed only because the database broke a lock cycle between it and
    /// another node's batch by failing it (a deadlock it detected), or because another node committed a
    /// row between two of the batch's reads: nothing of it applied, and the same commands decided again
    /// in a new transaction may well pass. The engine tries such a batch again (up to
    /// <see cref="CommandEngine.MaxAttempts"/> times in all); every other failure answers its callers 503.
    /// </summary>
    bool IsLockConflict(Exception failure);

    /// <summary>
    /// Active holds whose expiry is at or before <paramref name="now"/>, in (expiry, id) order, starting
    /// after <paramref name="after"/> when it is given (a page's last hold: the next page never repeats it).
    /// </summary>
    Task<IReadOnlyList<DueHold>> GetDueReservationsAsync(DateTimeOffset now, int limit, DueHold? after, CancellationToken ct);

    /// <summary>Open allocations whose expiry is at or before <paramref name="now"/>, soonest first.</summary>
    Task<IReadOnlyList<Guid>> GetDueAllocationsAsync(DateTimeOffset now, int limit, CancellationToken ct);

    /// <summary>Capacities whose sale window has an edge at or before <paramref name="now"/> that no sweep has passed, soonest first.</summary>
    Task<IReadOnlyList<Guid>> GetDueSaleEdgesAsync(DateTimeOffset now, int limit, CancellationToken ct);

    /// <summary>One capacity of each event (up to <paramref name="limit"/> events) where waiting-list entries wait: what a node settles as it starts.</summary>
    Task<IReadOnlyList<Guid>> GetWaitingEventCapacitiesAsync(int limit, CancellationToken ct);
}

/// <summary>
/// A durable store's read side: what the endpoints, authentication, the event stream, health and the
/// audit read. Reads may run concurrently with the engine's transaction and see the last committed state.
/// </summary>
public interface IReadStore
{
    /// <summary>True when the database answers and the schema is current.</summary>
    Task<bool> IsReadyAsync(CancellationToken ct);

    /// <summary>The tenant's capacities with these ids, plus all their ancestors.</summary>
    Task<IReadOnlyList<CapacityNode>> GetCapacitiesAsync(Guid tenantId, IReadOnlyCollection<Guid> ids, CancellationToken ct);

    /// <summary>
    /// One event as one committed state, all of it read in a single read transaction, so that a batch
    /// committing meanwhile shows in every part or in none (separate reads let a snapshot's counters,
    /// allocations and hold count disagree): the tenant's capacities of the event, plus their ancestors
    /// (which may belong to other events); the event's allocations, oldest first, read only when one of
    /// its capacities has had any (<see cref="CapacityNode.AllocationCount"/>) and null otherwise; and,
    /// when <paramref name="soonestHolds"/> is given, the tenant's active holds on the event's own
    /// capacities with that many that expire soonest (null when it is not).
    /// </summary>
    Task<EventRead> ReadEventAsync(Guid tenantId, string eventId, int? soonestHolds, CancellationToken ct);

    Task<Reservation?> GetReservationAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>The tenant's events: every event id that has a capacity, oldest first.</summary>
    Task<IReadOnlyList<EventSummary>> GetEventsAsync(Guid tenantId, CancellationToken ct);

    /// <summary>Active holds per tenant, for the bound on what one tenant may hold (tenants without any are absent).</summary>
    Task<IReadOnlyDictionary<Guid, long>> GetLiveHoldsByTenantAsync(CancellationToken ct);

    /// <summary>
    /// The committed record of one Idempotency-Key, or null: for a retried hold met by the bound on live
    /// holds, which replays what the first request answered rather than refuse it.
    /// </summary>
    Task<IdempotencyRecord?> GetIdempotencyRecordAsync(IdempotencyKey key, CancellationToken ct);

    /// <summary>All active holds, and the expiry of the oldest one still active (for the expiry-lag metric).</summary>
    Task<(long Active, DateTimeOffset? OldestExpiry)> GetHoldStatsAsync(CancellationToken ct);

    Task<PriceEntry?> GetPriceAsync(Guid tenantId, Guid id, CancellationToken ct);

    Task<IReadOnlyList<PriceEntry>> GetPricesAsync(Guid tenantId, Guid capacityId, CancellationToken ct);

    Task<Allocation?> GetAllocationAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>The tenant's allocations on one capacity, oldest first.</summary>
    Task<IReadOnlyList<Allocation>> GetAllocationsAsync(Guid tenantId, Guid capacityId, CancellationToken ct);

    Task<BuyerLimit?> GetBuyerLimitAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>The tenant's buyer limits of one event, oldest first.</summary>
    Task<IReadOnlyList<BuyerLimit>> GetBuyerLimitsAsync(Guid tenantId, string eventId, CancellationToken ct);

    /// <summary>
    /// A buyer's usage over these capacities of the tenant's: tickets in active holds and sales, and the
    /// units the buyer's waiting-list entries wait for there.
    /// </summary>
    Task<long> GetBuyerUsageAsync(Guid tenantId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct);

    /// <summary>The units a buyer's waiting entries of the tenant's event wait for on these capacities (a part of its usage).</summary>
    Task<long> GetBuyerWaitingAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct);

    Task<WaitlistEntry?> GetWaitlistEntryAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>
    /// A waiting entry's place: 1 + the waiting entries that joined before it and want any of its
    /// capacities. Null when it no longer waits.
    /// </summary>
    Task<long?> GetWaitlistPositionAsync(WaitlistEntry entry, CancellationToken ct);

    /// <summary>The tenant's entries with a line on this capacity, in the order they joined, after <paramref name="afterSequence"/>, of every status.</summary>
    Task<IReadOnlyList<WaitlistEntry>> GetWaitlistAsync(Guid tenantId, Guid capacityId, long afterSequence, int limit, CancellationToken ct);

    /// <summary>
    /// The tenant's reservations that match <paramref name="query"/>, newest first (by creation, then
    /// id), after its cursor. A reservation is found under every event one of its items belongs to.
    /// </summary>
    Task<IReadOnlyList<Reservation>> ListReservationsAsync(ReservationQuery query, CancellationToken ct);

    /// <summary>Ledger entries of the event's capacities with a sequence above <paramref name="after"/>, in sequence order.</summary>
    Task<IReadOnlyList<LedgerRow>> GetLedgerAsync(Guid tenantId, string eventId, long after, int limit, CancellationToken ct);

    /// <summary>
    /// The key with this SHA-256 hash and whether its tenant is disabled, in one read: what
    /// authentication needs to accept or refuse the key. Null when no key has the hash.
    /// </summary>
    Task<StoredKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct);

    Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct);

    /// <summary>Every tenant, disabled ones included, oldest first: the operator's list.</summary>
    Task<IReadOnlyList<Tenant>> GetTenantsAsync(CancellationToken ct);

    /// <summary>Every key of the tenant, revoked and expired ones included, oldest first.</summary>
    Task<IReadOnlyList<ApiKey>> GetApiKeysAsync(Guid tenantId, CancellationToken ct);

    /// <summary>
    /// The event's stored sales figures for minutes <paramref name="fromMinute"/> (inclusive) to
    /// <paramref name="toMinute"/> (exclusive), over these of its capacities, or all of them when null,
    /// all read as one committed state.
    /// </summary>
    Task<SalesRead> ReadSalesAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid>? capacityIds, long fromMinute, long toMinute, CancellationToken ct);

    /// <summary>Everything <see cref="Invariants"/> needs to audit the whole store.</summary>
    Task<AuditData> ReadAuditDataAsync(CancellationToken ct);
}

/// <summary>
/// An optional capability of a write store: the last committed capacity rows, without reading the
/// database. Only a store that is the sole writer of its rows and keeps them in memory has it (the
/// SQLite store); a store shared by several nodes does not, since what it saw last may be stale. The
/// rows are exactly what the next batch would load, which is what lets the engine refuse a hold that
/// cannot fit without queueing it (<see cref="EarlyRefusal"/>).
/// </summary>
public interface ICommittedRows
{
    /// <summary>
    /// Puts into <paramref name="rows"/> these capacities and all their ancestors as last committed,
    /// each once; false when any of them is not in memory. The rows are the store's own, not copies:
    /// a caller reads them and never changes them (it decides on copies). A commit never changes a
    /// row handed out either, it replaces it with a new object, so a caller that finds the same
    /// objects again knows nothing about them has changed.
    /// </summary>
    bool TryGetCommittedCapacities(IReadOnlyList<Guid> ids, List<CapacityNode> rows);
}

/// <summary>Answers worked out from committed rows, remembered with the row objects they came from (<see cref="ICommittedRows"/>).</summary>
public static class CommittedRows
{
    /// <summary>
    /// Whether <paramref name="found"/> are the very objects of <paramref name="remembered"/>, in order:
    /// then no commit has changed any of them since, and an answer worked out from them still holds.
    /// </summary>
    public static bool Same(CapacityNode[] remembered, List<CapacityNode> found)
    {
        if (remembered.Length != found.Count)
        {
            return false;
        }

        for (var i = 0; i < remembered.Length; i++)
        {
            if (!ReferenceEquals(remembered[i], found[i]))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>One batch's transaction. Disposing without <see cref="CommitAsync"/> rolls everything back.</summary>
public interface IWriteTransaction : IAsyncDisposable
{
    /// <summary>
    /// Loads the named rows into the working set: reservations first, then every capacity named
    /// directly or by those reservations' items, with all ancestors, then prices and tenants.
    /// A store shared by several processes locks what it loads here.
    /// </summary>
    Task LoadAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct);

    /// <summary>
    /// Reads the records of these keys into <paramref name="into"/>. A store shared by several nodes
    /// puts into <paramref name="busy"/> the keys whose first request another node is applying right
    /// now; their commands are not decided in this batch, and the caller asks again shortly. The engine
    /// calls it before <see cref="LoadAsync"/>, so such a store may only try key locks, never wait.
    /// </summary>
    Task LoadIdempotencyAsync(
        IReadOnlyCollection<IdempotencyKey> keys, Dictionary<IdempotencyKey, IdempotencyRecord> into, HashSet<IdempotencyKey> busy, CancellationToken ct);

    /// <summary>
    /// For commands the engine adds to the batch after <see cref="LoadAsync"/> (those queued meanwhile
    /// whose rows the batch has loaded already, <see cref="LoadKeys.Covers"/>): the records of their
    /// idempotency keys, as <see cref="LoadIdempotencyAsync"/> reads them (a store shared by nodes only
    /// tries the keys' locks), every reservation that already has one of the ids they are about to
    /// create (a reuse the core refuses), and the buyers' usage rows in <paramref name="usage"/> (on
    /// capacities the batch has locked, chosen and widened over their limits as <see cref="LoadKeys.UsageKeys(WorkingSet)"/>
    /// does; those locks guard them). It takes no row lock, so the batch's locks stay in the global
    /// order; on a store shared by nodes it is one round trip.
    /// </summary>
    Task LoadAddedAsync(
        IReadOnlyCollection<IdempotencyKey> keys,
        Dictionary<IdempotencyKey, IdempotencyRecord> into,
        HashSet<IdempotencyKey> busy,
        IReadOnlyCollection<Guid> newReservations,
        IReadOnlyCollection<(Guid CapacityId, string BuyerKey)> usage,
        WorkingSet ws,
        CancellationToken ct);

    /// <summary>
    /// Writes what the working set marks as new or changed, its ledger entries, and the idempotency
    /// records. A store whose <see cref="CommitsWithWrites"/> is true commits here as well.
    /// </summary>
    Task WriteAsync(WorkingSet ws, IReadOnlyList<IdempotencyRecord> records, CancellationToken ct);

    /// <summary>
    /// True when <see cref="WriteAsync"/> sends the commit with the writes (PostgreSQL: one round trip
    /// less while the batch's row locks are held); <see cref="CommitAsync"/> then has nothing left to
    /// do. Either way the engine answers only after <see cref="CommitAsync"/> returns, and a write
    /// that fails applies nothing.
    /// </summary>
    bool CommitsWithWrites => false;

    /// <summary>
    /// Deletes the idempotency records created before <paramref name="before"/> and returns how many;
    /// the engine runs it in a transaction of its own, apart from any batch.
    /// </summary>
    Task<int> PurgeIdempotencyAsync(DateTimeOffset before, CancellationToken ct);

    /// <summary>
    /// Adds the oldest <paramref name="max"/> entries (or fewer) of one capacity's buyer usage log into
    /// their buyers' rows and removes them; returns how many. A buyer's usage (row plus log) is the same
    /// after it. The entries are taken in the order they were written, so a buyer's part of them is a
    /// prefix of its history and its row never goes below 0. Where the capacity's lock is held by
    /// another transaction, folds nothing and returns 0 rather than wait. The engine runs it in a
    /// transaction of its own, apart from any batch.
    /// </summary>
    Task<int> FoldUsageLogAsync(int max, CancellationToken ct);

    /// <summary>Returns only once the commit is durable.</summary>
    Task CommitAsync(CancellationToken ct);
}

/// <summary>Idempotency keys are scoped per tenant; admin requests use <see cref="Guid.Empty"/>.</summary>
public readonly record struct IdempotencyKey(Guid TenantId, string Key);

/// <summary>What a request with an Idempotency-Key answered, written in the same transaction as its effect.</summary>
public sealed record IdempotencyRecord(
    Guid TenantId,
    string Key,
    string Method,
    string Path,
    byte[] RequestHash,
    int Status,
    byte[] Body,
    string? Location,
    DateTimeOffset CreatedAt)
{
    /// <summary>Whether <paramref name="request"/> is the request this answered (method, path and body), which a repeat must be to be replayed.</summary>
    public bool IsFor(IdempotencyRequest request) =>
        Method == request.Method && Path == request.Path && RequestHash.AsSpan().SequenceEqual(request.RequestHash);

    /// <summary>The answer as stored, for replay.</summary>
    public StoredResponse Response => new(Status, Body, Location);
}

/// <summary>A key as <see cref="IReadStore.FindApiKeyAsync"/> finds it, with whether its tenant is disabled.</summary>
public sealed record StoredKey(ApiKey Key, bool TenantDisabled);

public sealed record LedgerRow(long Sequence, LedgerEntry Entry);

/// <summary>A hold the sweeper found due, with the expiry it was found with (the paging key).</summary>
public readonly record struct DueHold(Guid Id, DateTimeOffset ExpiresAt);

public sealed record EventSummary(string EventId, int Capacities, DateTimeOffset CreatedAt);

/// <summary>Active holds: how many, and the ones that expire soonest, soonest first.</summary>
public sealed record HoldSummary(long Active, IReadOnlyList<Reservation> Soonest);

/// <summary>What <see cref="IReadStore.ReadEventAsync"/> read, all of it from one committed state.</summary>
/// <param name="Capacities">The event's capacities and their ancestors, the event's own oldest first.</param>
/// <param name="Allocations">The event's allocations, oldest first; null when none of its capacities has had one (none were read).</param>
/// <param name="Holds">The active holds on the event's capacities; null when they were not asked for.</param>
public sealed record EventRead(IReadOnlyList<CapacityNode> Capacities, IReadOnlyList<Allocation>? Allocations, HoldSummary? Holds);

/// <summary>What <see cref="IReadStore.ReadAuditDataAsync"/> read, all of it from one committed state.</summary>
/// <param name="UsageLogCapacities">
/// The capacities with entries in the buyers' usage log, where a store writes a covered capacity's usage
/// to its rows (PostgreSQL); empty where every change goes to the log (SQLite's usage map).
/// </param>
public sealed record AuditData(
    IReadOnlyList<CapacityNode> Capacities,
    HoldSums LiveHolds,
    IReadOnlyDictionary<Guid, (long Reserved, long Sold)> LedgerSums,
    IReadOnlyList<MisnumberedLedger> MisnumberedLedgers,
    IReadOnlyList<Allocation> Allocations,
    BuyerTally Usage,
    IReadOnlyList<BuyerLimit> Limits,
    IReadOnlyList<WaitlistEntry> LiveEntries,
    IReadOnlyDictionary<Guid, ReservationStatus> Offers,
    OutboxAudit Outbox,
    IReadOnlyDictionary<Guid, SalesFlows> Sales,
    IReadOnlyCollection<Guid> UsageLogCapacities);

/// <summary>
/// An event whose ledger is not numbered 1, 2, 3… without a gap or an overlap: how many of its chunks do
/// not start right after the one before (the first must start at 1), and the last number of the first of them.
/// </summary>
public sealed record MisnumberedLedger(Guid TenantId, string EventId, long Chunks, long FirstEndingAt);

/// <summary>
/// Stored sales figures (see <see cref="SalesFlows"/>) of some of an event's capacities, summed over
/// them: everything before the range (where its levels start), each minute of the range with any
/// activity in minute order, and the range's confirms by hold-to-confirm bucket.
/// </summary>
public sealed record SalesRead(SalesFlows Before, IReadOnlyList<(long Minute, SalesFlows Flows)> Minutes, IReadOnlyDictionary<int, long> ConfirmTimes);

/// <summary>The webhook outbox as the audit sees it: each endpoint's counts, and deliveries left without an endpoint.</summary>
public sealed record OutboxAudit(IReadOnlyList<OutboxCounts> Endpoints, long Orphans);

/// <summary>One endpoint's outbox: deliveries are numbered 1 to <see cref="LastSequence"/> without a gap, none missing.</summary>
public sealed record OutboxCounts(Guid EndpointId, long LastSequence, long Deliveries, long MaxSequence, long PendingWithoutAttempt);

/// <summary>
/// A search of a tenant's reservations: by event or by the platform's reference (at least one), and
/// optionally by status (the effective one at <see cref="Now"/>: a due hold is expired) and buyer.
/// <see cref="Before"/> is the last reservation of the previous page (its creation and id).
/// </summary>
public sealed record ReservationQuery(
    Guid TenantId,
    string? EventId,
    string? ExternalRef,
    string? BuyerKey,
    ReservationStatus? Status,
    DateTimeOffset Now,
    (DateTimeOffset CreatedAt, Guid Id)? Before,
    int Limit);

/// <summary>
/// A store's webhook side: what the API reads, and the dispatcher's claims on the outbox. Claims are
/// the one write outside the engine's batches, and they decide nothing: they only say which node is
/// sending an endpoint's deliveries now (see <see cref="ClaimDeliveriesAsync"/>).
/// </summary>
public interface IWebhookStore
{
    /// <summary>The tenant's endpoints, oldest first.</summary>
    Task<IReadOnlyList<WebhookEndpoint>> GetWebhooksAsync(Guid tenantId, CancellationToken ct);

    Task<WebhookEndpoint?> GetWebhookAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>An endpoint's deliveries after <paramref name="after"/> in sequence order, each with its attempts.</summary>
    Task<IReadOnlyList<DeliveryRecord>> GetDeliveriesAsync(Guid tenantId, Guid endpointId, long after, int limit, CancellationToken ct);

    /// <summary>
    /// Claims up to <paramref name="endpoints"/> enabled endpoints whose next pending delivery is due at
    /// <paramref name="now"/> and that no other node holds, until <paramref name="leaseUntil"/>, and returns
    /// each with up to <paramref name="perEndpoint"/> of its pending deliveries in order (the first of them due).
    /// On PostgreSQL the claim is a lease taken with <c>FOR UPDATE SKIP LOCKED</c>, so nodes never
    /// claim the same endpoint at once; a node that dies leaves its lease to run out, and its
    /// deliveries are sent again (at least once). <paramref name="busy"/>: endpoints this node is
    /// sending to now, never claimed again meanwhile (on PostgreSQL their lease keeps them out anyway).
    /// </summary>
    Task<IReadOnlyList<OutboxWork>> ClaimDeliveriesAsync(
        string node, DateTimeOffset now, DateTimeOffset leaseUntil, int endpoints, int perEndpoint, IReadOnlyCollection<Guid> busy, CancellationToken ct);

    /// <summary>Gives back a claim before its lease runs out.</summary>
    Task ReleaseClaimAsync(string node, Guid endpointId, CancellationToken ct);
}

/// <summary>A delivery as the API lists it: the outbox row and its attempts.</summary>
public sealed record DeliveryRecord(
    Guid EndpointId,
    long Sequence,
    Guid MessageId,
    string Type,
    string? EventId,
    DateTimeOffset OccurredAt,
    DeliveryStatus Status,
    int Attempts,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    int? LastStatusCode,
    string? LastError,
    IReadOnlyList<WebhookAttempt> AttemptLog);

/// <summary>One claimed endpoint and the deliveries to send it, in order.</summary>
public sealed record OutboxWork(Guid EndpointId, Guid TenantId, string Url, string Secret, IReadOnlyList<OutboxMessage> Messages);

/// <summary>One delivery to send: the envelope's parts and its raw <c>data</c>.</summary>
public sealed record OutboxMessage(long Sequence, Guid MessageId, string Type, Guid TenantId, string? EventId, DateTimeOffset OccurredAt, string Data, DateTimeOffset? NextAttemptAt);

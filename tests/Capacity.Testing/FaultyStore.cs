using Capacity.Core;
using Capacity.Engine;

namespace Capacity.Testing;

public enum FaultPoint
{
    Begin,
    Load,
    Write,
    Commit,

    /// <summary>The commit succeeds, then the answer is lost: the caller hears 503 for a change that happened.</summary>
    AfterCommit,
}

/// <summary>
/// A real store with a switch: the next batch transaction throws at the chosen point. Everything
/// else passes straight through to the real store, and it has <see cref="ICommittedRows"/> exactly
/// when the real store has (so the engine's early refusals stay as they are without the switch).
/// </summary>
public class FaultyStore : IWriteStore, IReadStore, IWebhookStore, IAsyncDisposable
{
    private readonly IWriteStore _write;
    private readonly IReadStore _read;
    private readonly IAsyncDisposable _owner;
    private FaultPoint? _fail;
    private int _failDeliveryRecord;
    private int _conflicts;
    private int _lockConflicts;
    private TimeSpan _commitDelay;
    private int _batches;
    private int _holdSummaries;
    private SummaryGate? _summaryGate;
    private SummaryGate? _eventReadGate;
    private LoadGate? _loadGate;
    private LoadGate? _commitGate;

    private FaultyStore(IWriteStore write, IReadStore read, IAsyncDisposable owner)
    {
        _write = write;
        _read = read;
        _owner = owner;
    }

    public static FaultyStore Over<TStore>(TStore store) where TStore : IWriteStore, IReadStore, IAsyncDisposable => Over(store, store, store);

    /// <summary>The sides of one real store (a store class implements all three).</summary>
    public static FaultyStore Over(IWriteStore write, IReadStore read, IAsyncDisposable owner) =>
        write is ICommittedRows rows ? new WithCommittedRows(write, read, owner, rows) : new FaultyStore(write, read, owner);

    private sealed class WithCommittedRows(IWriteStore write, IReadStore read, IAsyncDisposable owner, ICommittedRows rows)
        : FaultyStore(write, read, owner), ICommittedRows
    {
        public bool TryGetCommittedCapacities(IReadOnlyList<Guid> ids, List<CapacityNode> into) => rows.TryGetCommittedCapacities(ids, into);
    }

    /// <summary>Batch transactions begun so far.</summary>
    public int Batches => Volatile.Read(ref _batches);

    /// <summary>Event reads with live holds (what the event stream polls) so far.</summary>
    public int HoldSummaryReads => Volatile.Read(ref _holdSummaries);

    public void FailNextBatchAt(FaultPoint point) => _fail = point;

    /// <summary>
    /// The next <paramref name="tries"/> batch transactions fail at their load as the database fails a
    /// deadlock's victim (<see cref="IsLockConflict"/> says so), after taking their locks.
    /// </summary>
    public void ConflictNextBatches(int tries) => Volatile.Write(ref _conflicts, tries);

    /// <summary>Conflicts <see cref="ConflictNextBatches"/> asked for that no batch has met yet (0 or less: none).</summary>
    public int ConflictsPending => Volatile.Read(ref _conflicts);

    /// <summary>The real store's answer, or true for a conflict this store made up.</summary>
    public bool IsLockConflict(Exception failure)
    {
        var conflict = failure is InjectedConflict || _write.IsLockConflict(failure);
        if (conflict)
        {
            Interlocked.Increment(ref _lockConflicts);
        }

        return conflict;
    }

    /// <summary>
    /// Failures of this store's batches that it called lock conflicts (real or made up), each of which
    /// the engine then decided again: a test that must see no lock cycle asserts none, since the retry
    /// would hide one. Counted here rather than by the engine's metric, which every engine of the
    /// process shares.
    /// </summary>
    public int LockConflicts => Volatile.Read(ref _lockConflicts);

    /// <summary>A lock conflict as the switch makes it.</summary>
    public sealed class InjectedConflict() : Exception("injected: deadlock detected");

    /// <summary>
    /// The next batch that records an attempt at a webhook delivery fails at its load, whatever other
    /// batches run before it: the webhook sender's own write, picked out of the traffic around it.
    /// </summary>
    public void FailNextDeliveryRecord() => Volatile.Write(ref _failDeliveryRecord, 1);

    /// <summary>Whether <see cref="FailNextDeliveryRecord"/> is still waiting for its batch.</summary>
    public bool DeliveryRecordFaultPending => Volatile.Read(ref _failDeliveryRecord) == 1;

    /// <summary>
    /// The next batch transaction loads its rows, then waits until <paramref name="release"/> completes
    /// before it goes on: a batch that waits for another node's row locks, while commands queue behind
    /// it. The task returned completes once it has loaded and waits.
    /// </summary>
    public Task HoldNextLoad(Task release)
    {
        var gate = new LoadGate(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), release);
        Volatile.Write(ref _loadGate, gate);
        return gate.Loaded.Task;
    }

    private sealed record LoadGate(TaskCompletionSource Loaded, Task Release);

    /// <summary>
    /// The next transaction to commit (a batch or a chore such as a fold) has done its work and waits,
    /// holding its locks, until <paramref name="release"/> completes. The task returned completes once
    /// it waits.
    /// </summary>
    public Task HoldNextCommit(Task release)
    {
        var gate = new LoadGate(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), release);
        Volatile.Write(ref _commitGate, gate);
        return gate.Loaded.Task;
    }

    /// <summary>The next commit takes this long: a request that is still in flight.</summary>
    public void DelayNextCommit(TimeSpan delay) => _commitDelay = delay;

    public async Task<IWriteTransaction> BeginWriteAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref _batches);
        if (Take(FaultPoint.Begin))
        {
            throw new IOException("injected: begin");
        }

        return new Tx(this, await _write.BeginWriteAsync(ct));
    }

    private async Task DelayCommitAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _commitGate, null) is { } gate)
        {
            gate.Loaded.TrySetResult();
            await gate.Release.WaitAsync(ct);
        }

        if (_commitDelay > TimeSpan.Zero)
        {
            var delay = _commitDelay;
            _commitDelay = TimeSpan.Zero;
            await Task.Delay(delay, ct);
        }
    }

    private bool Take(FaultPoint point)
    {
        if (_fail != point)
        {
            return false;
        }

        _fail = null;
        return true;
    }

    private sealed class Tx(FaultyStore owner, IWriteTransaction inner) : IWriteTransaction
    {
        public async Task LoadAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
        {
            if (owner.Take(FaultPoint.Load) || keys.Deliveries.Count > 0 && Interlocked.Exchange(ref owner._failDeliveryRecord, 0) == 1)
            {
                throw new IOException("injected: load");
            }

            await inner.LoadAsync(keys, ws, ct);
            if (Volatile.Read(ref owner._conflicts) > 0 && Interlocked.Decrement(ref owner._conflicts) >= 0)
            {
                throw new InjectedConflict();
            }

            if (Interlocked.Exchange(ref owner._loadGate, null) is { } gate)
            {
                gate.Loaded.TrySetResult();
                await gate.Release.WaitAsync(ct);
            }
        }

        public Task LoadAddedAsync(
            IReadOnlyCollection<IdempotencyKey> keys,
            Dictionary<IdempotencyKey, IdempotencyRecord> into,
            HashSet<IdempotencyKey> busy,
            IReadOnlyCollection<Guid> newReservations,
            IReadOnlyCollection<(Guid CapacityId, string BuyerKey)> usage,
            WorkingSet ws,
            CancellationToken ct) =>
            inner.LoadAddedAsync(keys, into, busy, newReservations, usage, ws, ct);

        public Task LoadIdempotencyAsync(
            IReadOnlyCollection<IdempotencyKey> keys, Dictionary<IdempotencyKey, IdempotencyRecord> into, HashSet<IdempotencyKey> busy, CancellationToken ct) =>
            inner.LoadIdempotencyAsync(keys, into, busy, ct);

        public bool CommitsWithWrites => inner.CommitsWithWrites;

        public async Task WriteAsync(WorkingSet ws, IReadOnlyList<IdempotencyRecord> records, CancellationToken ct)
        {
            if (inner.CommitsWithWrites)
            {
                // The writes and the commit are one round trip: a failure in either is the round trip
                // failing before its COMMIT took effect (a statement failing stops the batch there),
                // and a request still in flight is one whose round trip has not come back yet.
                if (owner.Take(FaultPoint.Write) || owner.Take(FaultPoint.Commit))
                {
                    throw new IOException("injected: writes and commit");
                }

                await owner.DelayCommitAsync(ct);
                await inner.WriteAsync(ws, records, ct);
                return;
            }

            // Write first, then fail: the rows are in the transaction and must still vanish.
            await inner.WriteAsync(ws, records, ct);
            if (owner.Take(FaultPoint.Write))
            {
                throw new IOException("injected: after write");
            }
        }

        public Task<int> PurgeIdempotencyAsync(DateTimeOffset before, CancellationToken ct) => inner.PurgeIdempotencyAsync(before, ct);

        public Task<int> FoldUsageLogAsync(int max, CancellationToken ct) => inner.FoldUsageLogAsync(max, ct);

        public async Task CommitAsync(CancellationToken ct)
        {
            if (owner.Take(FaultPoint.Commit))
            {
                throw new IOException("injected: commit");
            }

            await owner.DelayCommitAsync(ct);
            await inner.CommitAsync(ct);
            if (owner.Take(FaultPoint.AfterCommit))
            {
                throw new IOException("injected: after commit, before the answer");
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    public Task MigrateAsync(CancellationToken ct) => _write.MigrateAsync(ct);
    public Task<IReadOnlyList<DueHold>> GetDueReservationsAsync(DateTimeOffset now, int limit, DueHold? after, CancellationToken ct) =>
        _write.GetDueReservationsAsync(now, limit, after, ct);

    public Task<IReadOnlyList<Guid>> GetDueAllocationsAsync(DateTimeOffset now, int limit, CancellationToken ct) => _write.GetDueAllocationsAsync(now, limit, ct);

    public Task<IReadOnlyList<Guid>> GetDueSaleEdgesAsync(DateTimeOffset now, int limit, CancellationToken ct) => _write.GetDueSaleEdgesAsync(now, limit, ct);

    public Task<IReadOnlyList<Guid>> GetWaitingEventCapacitiesAsync(int limit, CancellationToken ct) => _write.GetWaitingEventCapacitiesAsync(limit, ct);

    public Task<bool> IsReadyAsync(CancellationToken ct) => _read.IsReadyAsync(ct);
    public Task<IReadOnlyList<CapacityNode>> GetCapacitiesAsync(Guid tenantId, IReadOnlyCollection<Guid> ids, CancellationToken ct) => _read.GetCapacitiesAsync(tenantId, ids, ct);
    public Task<Reservation?> GetReservationAsync(Guid tenantId, Guid id, CancellationToken ct) => _read.GetReservationAsync(tenantId, id, ct);
    public Task<IReadOnlyList<EventSummary>> GetEventsAsync(Guid tenantId, CancellationToken ct) => _read.GetEventsAsync(tenantId, ct);
    public async Task<EventRead> ReadEventAsync(Guid tenantId, string eventId, int? soonestHolds, CancellationToken ct)
    {
        if (soonestHolds is null)
        {
            var held = Interlocked.Exchange(ref _eventReadGate, null);
            var plain = await _read.ReadEventAsync(tenantId, eventId, soonestHolds, ct);
            if (held is not null)
            {
                held.Read.TrySetResult();
                await held.Answer.WaitAsync(ct);
            }

            return plain;
        }

        Interlocked.Increment(ref _holdSummaries);
        OnSummaryRead?.Invoke();
        var gate = Interlocked.Exchange(ref _summaryGate, null);
        if (gate is not null)
        {
            await gate.Start.WaitAsync(ct);
        }

        var read = await _read.ReadEventAsync(tenantId, eventId, soonestHolds, ct);
        if (gate is not null)
        {
            gate.Read.TrySetResult();
            await gate.Answer.WaitAsync(ct);
        }

        return read;
    }

    /// <summary>
    /// Called as each event read with live holds (a stream snapshot) begins, on the flow that reads:
    /// a test looks at what that flow carries (its <see cref="System.Diagnostics.Activity.Current"/>).
    /// </summary>
    public Action? OnSummaryRead { get; set; }

    /// <summary>
    /// The next event read with live holds (a stream snapshot) waits until <paramref name="start"/>
    /// completes, reads, then is kept from its caller until <paramref name="answer"/> completes: a
    /// snapshot of the state at <paramref name="start"/> that other reads, begun later, overtake. The
    /// task returned completes once it has read and waits to answer.
    /// </summary>
    public Task HoldNextSummaryRead(Task start, Task answer)
    {
        var gate = new SummaryGate(start, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), answer);
        Volatile.Write(ref _summaryGate, gate);
        return gate.Read.Task;
    }

    private sealed record SummaryGate(Task Start, TaskCompletionSource Read, Task Answer);

    /// <summary>
    /// The next event read without holds (a list of an event's capacities, or its totals) reads, then
    /// is kept from its caller until <paramref name="answer"/> completes; the task returned completes
    /// once it has read.
    /// </summary>
    public Task HoldNextEventRead(Task answer)
    {
        var gate = new SummaryGate(Task.CompletedTask, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), answer);
        Volatile.Write(ref _eventReadGate, gate);
        return gate.Read.Task;
    }

    public Task<(long Active, DateTimeOffset? OldestExpiry)> GetHoldStatsAsync(CancellationToken ct) => _read.GetHoldStatsAsync(ct);

    public Task<IReadOnlyDictionary<Guid, long>> GetLiveHoldsByTenantAsync(CancellationToken ct) => _read.GetLiveHoldsByTenantAsync(ct);

    public Task<IdempotencyRecord?> GetIdempotencyRecordAsync(IdempotencyKey key, CancellationToken ct) => _read.GetIdempotencyRecordAsync(key, ct);
    public Task<PriceEntry?> GetPriceAsync(Guid tenantId, Guid id, CancellationToken ct) => _read.GetPriceAsync(tenantId, id, ct);
    public Task<IReadOnlyList<PriceEntry>> GetPricesAsync(Guid tenantId, Guid capacityId, CancellationToken ct) => _read.GetPricesAsync(tenantId, capacityId, ct);

    public Task<Allocation?> GetAllocationAsync(Guid tenantId, Guid id, CancellationToken ct) => _read.GetAllocationAsync(tenantId, id, ct);

    public Task<IReadOnlyList<Allocation>> GetAllocationsAsync(Guid tenantId, Guid capacityId, CancellationToken ct) => _read.GetAllocationsAsync(tenantId, capacityId, ct);

    public Task<BuyerLimit?> GetBuyerLimitAsync(Guid tenantId, Guid id, CancellationToken ct) => _read.GetBuyerLimitAsync(tenantId, id, ct);

    public Task<IReadOnlyList<BuyerLimit>> GetBuyerLimitsAsync(Guid tenantId, string eventId, CancellationToken ct) => _read.GetBuyerLimitsAsync(tenantId, eventId, ct);

    public Task<long> GetBuyerUsageAsync(Guid tenantId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct) =>
        _read.GetBuyerUsageAsync(tenantId, capacityIds, buyerKey, ct);

    public Task<long> GetBuyerWaitingAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct) =>
        _read.GetBuyerWaitingAsync(tenantId, eventId, capacityIds, buyerKey, ct);

    public Task<WaitlistEntry?> GetWaitlistEntryAsync(Guid tenantId, Guid id, CancellationToken ct) => _read.GetWaitlistEntryAsync(tenantId, id, ct);

    public Task<long?> GetWaitlistPositionAsync(WaitlistEntry entry, CancellationToken ct) => _read.GetWaitlistPositionAsync(entry, ct);

    public Task<IReadOnlyList<WaitlistEntry>> GetWaitlistAsync(Guid tenantId, Guid capacityId, long afterSequence, int limit, CancellationToken ct) =>
        _read.GetWaitlistAsync(tenantId, capacityId, afterSequence, limit, ct);

    public Task<IReadOnlyList<Reservation>> ListReservationsAsync(ReservationQuery query, CancellationToken ct) => _read.ListReservationsAsync(query, ct);

    public Task<IReadOnlyList<LedgerRow>> GetLedgerAsync(Guid tenantId, string eventId, long after, int limit, CancellationToken ct) => _read.GetLedgerAsync(tenantId, eventId, after, limit, ct);

    public Task<SalesRead> ReadSalesAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid>? capacityIds, long fromMinute, long toMinute, CancellationToken ct) =>
        _read.ReadSalesAsync(tenantId, eventId, capacityIds, fromMinute, toMinute, ct);

    // Webhooks pass straight through: both real stores have them.
    private IWebhookStore Webhooks => (IWebhookStore)_read;

    public Task<IReadOnlyList<WebhookEndpoint>> GetWebhooksAsync(Guid tenantId, CancellationToken ct) => Webhooks.GetWebhooksAsync(tenantId, ct);

    public Task<WebhookEndpoint?> GetWebhookAsync(Guid tenantId, Guid id, CancellationToken ct) => Webhooks.GetWebhookAsync(tenantId, id, ct);

    public Task<IReadOnlyList<DeliveryRecord>> GetDeliveriesAsync(Guid tenantId, Guid endpointId, long after, int limit, CancellationToken ct) =>
        Webhooks.GetDeliveriesAsync(tenantId, endpointId, after, limit, ct);

    public Task<IReadOnlyList<OutboxWork>> ClaimDeliveriesAsync(
        string node, DateTimeOffset now, DateTimeOffset leaseUntil, int endpoints, int perEndpoint, IReadOnlyCollection<Guid> busy, CancellationToken ct) =>
        Webhooks.ClaimDeliveriesAsync(node, now, leaseUntil, endpoints, perEndpoint, busy, ct);

    public Task ReleaseClaimAsync(string node, Guid endpointId, CancellationToken ct) => Webhooks.ReleaseClaimAsync(node, endpointId, ct);

    public Task<StoredKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct) => _read.FindApiKeyAsync(keyHash, ct);
    public Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct) => _read.GetTenantAsync(tenantId, ct);
    public Task<IReadOnlyList<Tenant>> GetTenantsAsync(CancellationToken ct) => _read.GetTenantsAsync(ct);
    public Task<IReadOnlyList<ApiKey>> GetApiKeysAsync(Guid tenantId, CancellationToken ct) => _read.GetApiKeysAsync(tenantId, ct);
    public Task<AuditData> ReadAuditDataAsync(CancellationToken ct) => _read.ReadAuditDataAsync(ct);
    public ValueTask DisposeAsync() => _owner.DisposeAsync();
}

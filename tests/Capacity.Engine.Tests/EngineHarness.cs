using Capacity.Core;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;
using Capacity.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.Engine.Tests;

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
/// else passes straight through to SQLite.
/// </summary>
public sealed class FaultyStore(ICapacityStore inner) : ICapacityStore
{
    private FaultPoint? _fail;

    public void FailNextBatchAt(FaultPoint point) => _fail = point;

    public async Task<IWriteTransaction> BeginWriteAsync(CancellationToken ct)
    {
        if (Take(FaultPoint.Begin))
        {
            throw new IOException("injected: begin");
        }

        return new Tx(this, await inner.BeginWriteAsync(ct));
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
        public Task LoadAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct) =>
            owner.Take(FaultPoint.Load) ? throw new IOException("injected: load") : inner.LoadAsync(keys, ws, ct);

        public Task LoadIdempotencyAsync(IReadOnlyCollection<IdempotencyKey> keys, Dictionary<IdempotencyKey, IdempotencyRecord> into, CancellationToken ct) =>
            inner.LoadIdempotencyAsync(keys, into, ct);

        public async Task WriteAsync(WorkingSet ws, IReadOnlyList<IdempotencyRecord> records, CancellationToken ct)
        {
            // Write first, then fail: the rows are in the transaction and must still vanish.
            await inner.WriteAsync(ws, records, ct);
            if (owner.Take(FaultPoint.Write))
            {
                throw new IOException("injected: after write");
            }
        }

        public async Task CommitAsync(CancellationToken ct)
        {
            if (owner.Take(FaultPoint.Commit))
            {
                throw new IOException("injected: commit");
            }

            await inner.CommitAsync(ct);
            if (owner.Take(FaultPoint.AfterCommit))
            {
                throw new IOException("injected: after commit, before the answer");
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    public Task MigrateAsync(CancellationToken ct) => inner.MigrateAsync(ct);
    public Task<bool> IsReadyAsync(CancellationToken ct) => inner.IsReadyAsync(ct);
    public Task<IReadOnlyList<CapacityNode>> GetCapacitiesAsync(Guid tenantId, IReadOnlyCollection<Guid> ids, CancellationToken ct) => inner.GetCapacitiesAsync(tenantId, ids, ct);
    public Task<IReadOnlyList<CapacityNode>> GetEventCapacitiesAsync(Guid tenantId, string eventId, CancellationToken ct) => inner.GetEventCapacitiesAsync(tenantId, eventId, ct);
    public Task<Reservation?> GetReservationAsync(Guid tenantId, Guid id, CancellationToken ct) => inner.GetReservationAsync(tenantId, id, ct);
    public Task<IReadOnlyList<EventSummary>> GetEventsAsync(Guid tenantId, CancellationToken ct) => inner.GetEventsAsync(tenantId, ct);
    public Task<HoldSummary> GetActiveHoldsAsync(Guid tenantId, IReadOnlyCollection<Guid> capacityIds, int limit, CancellationToken ct) => inner.GetActiveHoldsAsync(tenantId, capacityIds, limit, ct);
    public Task<(long Active, DateTimeOffset? OldestExpiry)> GetHoldStatsAsync(CancellationToken ct) => inner.GetHoldStatsAsync(ct);
    public Task<PriceEntry?> GetPriceAsync(Guid tenantId, Guid id, CancellationToken ct) => inner.GetPriceAsync(tenantId, id, ct);
    public Task<IReadOnlyList<PriceEntry>> GetPricesAsync(Guid tenantId, Guid capacityId, CancellationToken ct) => inner.GetPricesAsync(tenantId, capacityId, ct);
    public Task<IReadOnlyList<LedgerRow>> GetLedgerAsync(Guid tenantId, string eventId, long after, int limit, CancellationToken ct) => inner.GetLedgerAsync(tenantId, eventId, after, limit, ct);
    public Task<ApiKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct) => inner.FindApiKeyAsync(keyHash, ct);
    public Task<bool> TenantExistsAsync(Guid tenantId, CancellationToken ct) => inner.TenantExistsAsync(tenantId, ct);
    public Task<IReadOnlyList<Guid>> GetDueReservationsAsync(DateTimeOffset now, int limit, CancellationToken ct) => inner.GetDueReservationsAsync(now, limit, ct);
    public Task<int> PurgeIdempotencyAsync(DateTimeOffset before, CancellationToken ct) => inner.PurgeIdempotencyAsync(before, ct);
    public Task<AuditData> ReadAuditDataAsync(CancellationToken ct) => inner.ReadAuditDataAsync(ct);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>An engine over a fresh store (a SQLite file or a PostgreSQL schema); reopen it to see what survived.</summary>
public sealed class EngineHarness : IAsyncDisposable
{
    public static readonly Guid TenantA = Guid.Parse("00000000-0000-0000-0000-00000000000a");

    private EngineHarness(StoreKind kind, string location, FaultyStore store, CommandEngine engine, ManualTime clock)
    {
        Kind = kind;
        Location = location;
        Store = store;
        Engine = engine;
        Clock = clock;
    }

    public StoreKind Kind { get; }

    /// <summary>The SQLite file, or the PostgreSQL connection string of the schema.</summary>
    public string Location { get; }
    public FaultyStore Store { get; }
    public CommandEngine Engine { get; }
    public ManualTime Clock { get; }

    public static async Task<EngineHarness> OpenAsync(StoreKind kind, EngineOptions? options = null)
    {
        var location = kind == StoreKind.Sqlite
            ? Path.Combine(Path.GetTempPath(), "capacity-engine-tests", Guid.NewGuid().ToString("N"), "capacity.db")
            : await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        return await OpenAtAsync(kind, location, options, new ManualTime(DateTimeOffset.UtcNow));
    }

    public static ICapacityStore CreateStore(StoreKind kind, string location) =>
        kind == StoreKind.Sqlite ? new SqliteStore(location) : new PostgresStore(location);

    private static async Task<EngineHarness> OpenAtAsync(StoreKind kind, string location, EngineOptions? options, ManualTime clock)
    {
        var store = new FaultyStore(CreateStore(kind, location));
        await store.MigrateAsync(CancellationToken.None);
        var engine = new CommandEngine(store, clock, CoreLimits.Default, options ?? new EngineOptions(), NullLogger<CommandEngine>.Instance);
        return new EngineHarness(kind, location, store, engine, clock);
    }

    public async Task<EngineHarness> ReopenAsync()
    {
        await DisposeEngineAsync();
        return await OpenAtAsync(Kind, Location, null, Clock);
    }

    public ExpirySweeper Sweeper() => new(Store, Engine, Clock, NullLogger<ExpirySweeper>.Instance);

    public async Task<Guid> CreateAsync(string name, int? total, params Guid[] parents)
    {
        var id = Guid.CreateVersion7();
        var result = await Engine.SubmitAsync(new CreateCapacity(TenantA, id, "e1", null, name, null, total, parents, true, null));
        Assert.Equal(OutcomeCode.Ok, result.Outcome?.Code);
        return id;
    }

    public Task<EngineResult> HoldAsync(Guid capacity, int quantity, int minutes = 15) =>
        Engine.SubmitAsync(new PlaceHold(TenantA, Guid.CreateVersion7(), [new HoldItem(capacity, quantity, null)], minutes));

    public async Task<CapacityNode> NodeAsync(Guid id) => (await Store.GetCapacitiesAsync(TenantA, [id], CancellationToken.None)).Single(n => n.Id == id);

    public async Task AssertAuditCleanAsync()
    {
        var report = await Audit.RunAsync(Store, CancellationToken.None);
        Assert.True(report.Ok, string.Join("\n", report.Violations));
    }

    private async Task DisposeEngineAsync()
    {
        await Engine.DisposeAsync();
        await Store.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await DisposeEngineAsync();
        if (Kind == StoreKind.Sqlite)
        {
            try
            {
                Directory.Delete(Path.GetDirectoryName(Location)!, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

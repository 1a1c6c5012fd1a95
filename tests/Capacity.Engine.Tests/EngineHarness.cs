using Capacity.Core;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;
using Capacity.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.Engine.Tests;

/// <summary>An engine over a fresh store (a SQLite file or a PostgreSQL schema); reopen it to see what survived.</summary>
public sealed class EngineHarness : IAsyncDisposable
{
    public static readonly Guid TenantA = Guid.Parse("00000000-0000-0000-0000-00000000000a");

    private EngineHarness(StoreKind kind, string location, FaultyStore store, CommandEngine engine, ManualTime clock, SqliteStore? sqlite)
    {
        Sqlite = sqlite;
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

    /// <summary>The SQLite store behind <see cref="Store"/>, on SQLite; its clock is <see cref="Clock"/>.</summary>
    public SqliteStore? Sqlite { get; }

    public static async Task<EngineHarness> OpenAsync(StoreKind kind, EngineOptions? options = null, ILogger<CommandEngine>? logger = null) =>
        await OpenAtAsync(kind, await NewLocationAsync(kind), options, new ManualTime(DateTimeOffset.UtcNow), logger);

    /// <summary>A place for a fresh store that nothing has opened yet: a SQLite file path or a PostgreSQL schema.</summary>
    public static async Task<string> NewLocationAsync(StoreKind kind)
    {
        if (kind == StoreKind.Postgres)
        {
            return await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        }

        var path = Path.Combine(Path.GetTempPath(), "capacity-engine-tests", Guid.NewGuid().ToString("N"), "capacity.db");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    /// <summary>Opens (and migrates) a store that something else created at <paramref name="location"/>.</summary>
    public static Task<EngineHarness> OpenExistingAsync(StoreKind kind, string location) =>
        OpenAtAsync(kind, location, null, new ManualTime(DateTimeOffset.UtcNow));

    private static async Task<EngineHarness> OpenAtAsync(StoreKind kind, string location, EngineOptions? options, ManualTime clock, ILogger<CommandEngine>? logger = null)
    {
        // The real store, behind the switch of FaultyStore; a SQLite store's usage in memory goes idle by the harness's clock.
        var sqlite = kind == StoreKind.Sqlite ? new SqliteStore(location, clock) : null;
        var store = sqlite is not null ? FaultyStore.Over(sqlite) : FaultyStore.Over(new PostgresStore(location));
        await store.MigrateAsync(CancellationToken.None);
        var engine = new CommandEngine(store, clock, CoreLimits.Default, options ?? new EngineOptions(), logger ?? NullLogger<CommandEngine>.Instance);
        return new EngineHarness(kind, location, store, engine, clock, sqlite);
    }

    public async Task<EngineHarness> ReopenAsync()
    {
        await CloseAsync();
        return await OpenAtAsync(Kind, Location, null, Clock);
    }

    public ExpirySweeper Sweeper(int batchSize = 5000) => new(Store, Engine, Clock, NullLogger<ExpirySweeper>.Instance) { BatchSize = batchSize };

    public async Task<Guid> CreateAsync(string name, int? total, params Guid[] parents)
    {
        var id = Guid.CreateVersion7();
        var result = await Engine.SubmitAsync(new CreateCapacity(TenantA, id, "e1", null, name, null, total, parents, true, null));
        Assert.Equal(OutcomeCode.Ok, result.Outcome?.Code);
        return id;
    }

    public Task<EngineResult> HoldAsync(Guid capacity, int quantity, int minutes = 15) =>
        Engine.SubmitAsync(new PlaceHold(TenantA, Guid.CreateVersion7(), [new HoldItem(capacity, quantity, null)], minutes));

    /// <summary>
    /// Runs one SQL statement on the store's database directly, outside the engine (a tamper, or a
    /// count the API does not give), and returns its first column of its first row, if any.
    /// </summary>
    public async Task<object?> SqlAsync(string sql)
    {
        await using System.Data.Common.DbConnection c = Kind == StoreKind.Sqlite
            ? new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Location};Pooling=False")
            : new Npgsql.NpgsqlConnection(Location);
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return await cmd.ExecuteScalarAsync();
    }

    public async Task<CapacityNode> NodeAsync(Guid id) => (await Store.GetCapacitiesAsync(TenantA, [id], CancellationToken.None)).Single(n => n.Id == id);

    public async Task AssertAuditCleanAsync()
    {
        var report = await Audit.RunAsync(Store, CancellationToken.None);
        Assert.True(report.Ok, string.Join("\n", report.Violations));
    }

    private bool _closed;

    /// <summary>Closes the engine and the store but keeps the database, to read or change it from outside; once.</summary>
    public async Task CloseAsync()
    {
        if (!_closed)
        {
            _closed = true;
            await Engine.DisposeAsync();
            await Store.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
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

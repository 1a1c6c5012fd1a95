using BenchmarkDotNet.Attributes;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.Benchmarks;

/// <summary>
/// The store read behind <c>GET /capacity/{id}</c> and <c>POST /capacity/{id}/check</c>: a capped
/// child with its pool, from a real SQLite store. The store serves it from the capacity rows it
/// committed (<c>CommittedCapacities</c>), so this measures the in-memory path; the baseline opens a
/// pooled connection to the same file and runs <c>SELECT 1</c>, the least any read from SQLite costs.
/// </summary>
[MemoryDiagnoser]
public class StoreReadBenchmarks
{
    private static readonly Guid Tenant = Guid.Parse("0197a000-0000-7000-8000-00000000000b");

    private string _folder = "";
    private string _connectionString = "";
    private SqliteStore _store = null!;
    private Guid _capped;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "capacity-bdn-" + Guid.NewGuid().ToString("N")[..12]);
        var path = Path.Combine(_folder, "capacity.db");
        _store = new SqliteStore(path);
        await _store.MigrateAsync(CancellationToken.None);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();

        await using var engine = new CommandEngine(_store, TimeProvider.System, CoreLimits.Default, new EngineOptions(), NullLogger<CommandEngine>.Instance);
        var pool = await CreateAsync(engine, "Pool", 1000, []);
        _capped = await CreateAsync(engine, "Capped", 500, [pool]);
        await CreateAsync(engine, "Shared", null, [pool]);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public async Task<object?> Open_pooled_connection_and_select_1()
    {
        await using var c = new SqliteConnection(_connectionString);
        await c.OpenAsync();
        await using var cmd = new SqliteCommand("SELECT 1", c);
        return await cmd.ExecuteScalarAsync();
    }

    [Benchmark]
    public async Task<int> Capacity_with_ancestors() => (await _store.GetCapacitiesAsync(Tenant, [_capped], CancellationToken.None)).Count;

    private static async Task<Guid> CreateAsync(CommandEngine engine, string name, int? total, Guid[] parents)
    {
        var id = Guid.CreateVersion7();
        var result = await engine.SubmitAsync(new CreateCapacity(Tenant, id, "bench-read", null, name, null, total, parents, true, null));
        return result.Outcome?.Code == OutcomeCode.Ok ? id : throw new InvalidOperationException($"Creating {name}: {result.Status} {result.Outcome?.Detail}");
    }
}

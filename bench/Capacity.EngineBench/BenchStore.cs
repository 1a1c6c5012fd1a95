using Capacity.Engine;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;
using Npgsql;

namespace Capacity.EngineBench;

/// <summary>
/// A fresh, empty, durable store for one run, and its clean-up: a SQLite file in a temporary
/// folder (synchronous=FULL, as the store always opens it), or a PostgreSQL schema of its own on
/// the given server or on a throwaway cluster.
/// </summary>
internal sealed class BenchStore : IAsyncDisposable
{
    private readonly Func<ValueTask> _cleanUp;

    private BenchStore(IWriteStore write, IReadStore read, string description, Func<ValueTask> cleanUp)
    {
        Write = write;
        Read = read;
        Description = description;
        _cleanUp = cleanUp;
    }

    public IWriteStore Write { get; }

    public IReadStore Read { get; }

    public string Description { get; }

    public static async Task<BenchStore> OpenAsync(Settings settings, CancellationToken ct)
    {
        var bench = settings.Store == "postgres" ? await OpenPostgresAsync(settings.Connection, ct) : OpenSqlite(settings.SqlitePath);
        try
        {
            await bench.Write.MigrateAsync(ct);
            return bench;
        }
        catch
        {
            await bench.DisposeAsync();
            throw;
        }
    }

    private static BenchStore OpenSqlite(string? keepAt)
    {
        var folder = keepAt is null ? Path.Combine(Path.GetTempPath(), "capacity-bench-" + Guid.NewGuid().ToString("N")[..12]) : null;
        var path = keepAt ?? Path.Combine(folder!, "capacity.db");
        if (keepAt is not null && File.Exists(keepAt))
        {
            throw new InvalidOperationException($"{keepAt} exists; the bench needs an empty store.");
        }

        var store = new SqliteStore(path);
        return new BenchStore(store, store, $"SQLite {path} (WAL, synchronous=FULL)", async () =>
        {
            await store.DisposeAsync();
            if (folder is not null)
            {
                Directory.Delete(folder, recursive: true);
            }
        });
    }

    private static async Task<BenchStore> OpenPostgresAsync(string? connection, CancellationToken ct)
    {
        var cluster = connection is null ? await PostgresCluster.StartAsync(ct) : null;
        var admin = connection ?? cluster!.ConnectionString;

        // A schema of its own, so repeated runs against one server never see each other's rows.
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync(admin, $"CREATE SCHEMA {schema}", ct);
        var store = new PostgresStore(new NpgsqlConnectionStringBuilder(admin) { SearchPath = schema }.ConnectionString);
        var where = cluster is null ? "the given server" : $"a throwaway cluster ({PostgresCluster.Settings})";
        return new BenchStore(store, store, $"PostgreSQL schema {schema} on {where}", async () =>
        {
            await store.DisposeAsync();
            if (cluster is null)
            {
                await ExecuteAsync(admin, $"DROP SCHEMA {schema} CASCADE", CancellationToken.None);
            }
            else
            {
                await cluster.DisposeAsync();
            }
        });
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public ValueTask DisposeAsync() => _cleanUp();
}

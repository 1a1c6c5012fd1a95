using Capacity.Storage;
using Capacity.Storage.Postgres;
using Capacity.Testing;
using Npgsql;

namespace Capacity.Engine.Tests;

/// <summary>
/// PostgreSQL's usage log entries get a number in the order they are written (migration 016), which the
/// idle-time fold takes them by; the entries written before it have none to go by.
/// </summary>
public sealed class UsageLogMigrationTests
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    /// <summary>
    /// The migration folds the whole log into the rows first (exact whatever order the entries lie in:
    /// a release stored before the hold it gives back included), then numbers what comes after.
    /// </summary>
    [Fact]
    public async Task Migration_016_folds_the_entries_written_before_it_whole_and_numbers_those_after()
    {
        var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        var (stalls, circle) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var scripts = MigrationScripts.Load(typeof(PostgresStore).Assembly).Where(m => m.Version <= 15).ToList();
        var statements = new List<string> { "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)" };
        statements.AddRange(scripts.Select(m => m.Sql));
        statements.AddRange(scripts.Select(m => $"INSERT INTO schema_migrations VALUES ({m.Version}, '{m.Name}', 0)"));
        statements.Add($"INSERT INTO buyer_usage VALUES ('{stalls}', 'kept', '{Tenant}', 2)");
        foreach (var (capacity, buyer, delta) in new[] { (stalls, "kept", -2L), (stalls, "fan", -1L), (circle, "fan", 4L), (stalls, "fan", 3L), (stalls, "kept", 5L), (stalls, "gone", 1L), (stalls, "gone", -1L) })
        {
            statements.Add($"INSERT INTO buyer_usage_log VALUES ('{capacity}', '{buyer}', '{Tenant}', {delta})");
        }

        await using (var c = new NpgsqlConnection(schema))
        {
            await c.OpenAsync();
            foreach (var sql in statements)
            {
                await using var cmd = new NpgsqlCommand(sql, c);
                await cmd.ExecuteNonQueryAsync();
            }
        }

        await using var store = new PostgresStore(schema);
        await store.MigrateAsync(CancellationToken.None);

        await using var db = new NpgsqlDataSourceBuilder(schema).Build();
        Assert.Equal(0L, (long)(await db.CreateCommand("SELECT COUNT(*) FROM buyer_usage_log").ExecuteScalarAsync())!);
        Assert.Equal(5, await store.GetBuyerUsageAsync(Tenant, [stalls], "kept", CancellationToken.None));
        Assert.Equal(2, await store.GetBuyerUsageAsync(Tenant, [stalls], "fan", CancellationToken.None));
        Assert.Equal(4, await store.GetBuyerUsageAsync(Tenant, [circle], "fan", CancellationToken.None));
        Assert.Equal(3L, (long)(await db.CreateCommand("SELECT COUNT(*) FROM buyer_usage").ExecuteScalarAsync())!);

        await db.CreateCommand($"INSERT INTO buyer_usage_log (capacity_id, buyer_key, tenant_id, delta) VALUES ('{stalls}', 'fan', '{Tenant}', 1), ('{stalls}', 'fan', '{Tenant}', -1)").ExecuteNonQueryAsync();
        var numbers = new List<long>();
        await using (var read = await db.CreateCommand("SELECT seq FROM buyer_usage_log ORDER BY delta DESC").ExecuteReaderAsync())
        {
            while (await read.ReadAsync())
            {
                numbers.Add(read.GetInt64(0));
            }
        }

        Assert.Equal(2, numbers.Count);
        Assert.True(numbers[0] < numbers[1], "the entry written first has the smaller number");
    }
}

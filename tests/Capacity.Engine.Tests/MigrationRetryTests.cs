using Capacity.Storage.Postgres;
using Capacity.Testing;
using Npgsql;

namespace Capacity.Engine.Tests;

/// <summary>
/// A PostgreSQL migration that meets a catalog entry another session is dropping at that moment fails
/// with XX000 "cache lookup failed" (seen with test schemas migrating side by side), and Npgsql breaks
/// the connection on it. Nothing of the script was applied, so the run starts again on a new
/// connection; the third failure goes through.
/// </summary>
public sealed class MigrationRetryTests
{
    // Fails while the sequence is below `times`: a sequence is not rolled back with the transaction that advanced it.
    private static (int, string, string) Flaky(int times) => (999, "999_flaky",
        "CREATE TABLE landed (n integer); INSERT INTO landed VALUES (1); "
        + $"DO $$ BEGIN IF nextval('flaky') <= {times} THEN RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'cache lookup failed for attribute 1 of relation 12345'; END IF; END $$;");

    [Fact]
    public async Task A_script_that_meets_a_catalog_entry_being_dropped_is_tried_again_on_a_new_connection_and_lands_once()
    {
        var (store, c) = await MigratedAsync();
        await using (store)
        await using (c)
        {
            await store.MigrateAsync([.. Migrations.All, Flaky(2)], CancellationToken.None);
            Assert.Equal((1L, 1L, 3L), (
                await ScalarAsync(c, "SELECT COUNT(*) FROM landed"),
                await ScalarAsync(c, "SELECT COUNT(*) FROM schema_migrations WHERE version = 999"),
                await ScalarAsync(c, "SELECT last_value FROM flaky")));
        }
    }

    [Fact]
    public async Task The_third_failure_goes_through_and_any_other_error_at_once_with_nothing_applied()
    {
        var (store, c) = await MigratedAsync();
        await using (store)
        await using (c)
        {
            var failed = await Assert.ThrowsAsync<PostgresException>(() => store.MigrateAsync([.. Migrations.All, Flaky(3)], CancellationToken.None));
            Assert.Equal("XX000", failed.SqlState);
            var other = await Assert.ThrowsAsync<PostgresException>(() => store.MigrateAsync([.. Migrations.All, (998, "998_broken", "SELECT * FROM no_such_table")], CancellationToken.None));
            Assert.Equal("42P01", other.SqlState);
            Assert.Equal((0L, 0L), (
                await ScalarAsync(c, "SELECT COUNT(*) FROM schema_migrations WHERE version >= 998"),
                await ScalarAsync(c, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'landed'")));
        }
    }

    private static async Task<(PostgresStore Store, NpgsqlConnection Connection)> MigratedAsync()
    {
        var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        var store = new PostgresStore(schema);
        await store.MigrateAsync(CancellationToken.None);
        var c = new NpgsqlConnection(schema);
        await c.OpenAsync();
        await using var sequence = new NpgsqlCommand("CREATE SEQUENCE flaky", c);
        await sequence.ExecuteNonQueryAsync();
        return (store, c);
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection c, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

using System.Data.Common;
using System.Globalization;
using Capacity.Core;
using Capacity.Storage;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;
using Capacity.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Capacity.Engine.Tests;

public sealed class RepairMigrationTests_on_sqlite() : RepairMigrationTests(StoreKind.Sqlite);

public sealed class RepairMigrationTests_on_postgres() : RepairMigrationTests(StoreKind.Postgres);

/// <summary>
/// Migration 018: databases that ran 007, 009, 010 or 017 before those scripts were edited come out
/// with today's schema, refunds and sales figures written by older versions are repaired, an
/// up-to-date database is left as it is; and a database a newer version migrated is refused.
/// </summary>
public abstract class RepairMigrationTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    /// <summary>The scripts as first released, before their edits (git history: f38cb41^, d3a0eb0^, 0abba4a^, 2125251^).</summary>
    private static readonly string[] OldTexts = ["007_waitlists", "009_sale_rules", "010_webhooks", "017_reservations_by_status"];

    [Fact]
    public async Task A_database_migrated_by_the_old_texts_of_007_009_010_and_017_gets_todays_schema_keeps_its_data_and_takes_sale_rules_and_overbooking()
    {
        // Rows written by today's engine (sale rules with an overbooking allowance, a waiting list, holds,
        // sales, a refund), copied into a database migrated by the scripts as they were first released.
        await using var source = await EngineHarness.OpenAsync(kind);
        var now = source.Clock.GetUtcNow();
        var pool = Guid.CreateVersion7();
        var created = await source.Engine.SubmitAsync(new CreateCapacity(
            Tenant, pool, "e1", null, "Hall", null, 10, [], true, null, new SaleRules(now.AddHours(-1), now.AddDays(1), OverbookLimit: 2)));
        Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
        var stalls = await source.CreateAsync("Stalls", 4, pool);
        Assert.Equal(OutcomeCode.Ok, (await source.Engine.SubmitAsync(new UpdateCapacity(
            Tenant, stalls, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, new WaitlistPatch(true, 30, WaitlistPolicy.Fifo)))).Outcome?.Code);
        var holds = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            holds.Add((await source.HoldAsync(stalls, 1)).Outcome!.Value.Reservation!.Value.Id);
        }

        var waiting = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await source.Engine.SubmitAsync(new JoinWaitlist(Tenant, waiting, [new WaitlistItem(stalls, 1)], null, null))).Outcome?.Code);
        await TransitionAsync(source, holds[0], Transition.Confirm);
        await TransitionAsync(source, holds[1], Transition.Confirm);
        await TransitionAsync(source, holds[1], Transition.Cancel);
        await source.AssertAuditCleanAsync();
        await source.CloseAsync();
        var today = await SchemaAsync(source.Location);
        var rows = await RowsAsync(source.Location);

        var old = await EngineHarness.NewLocationAsync(kind);
        await MigrateWithOldTextsAsync(old, appliedAt: now.AddDays(-1).ToUnixTimeMilliseconds());
        Assert.DoesNotContain("sale_edge_at", string.Join("\n", await SchemaAsync(old)), StringComparison.Ordinal);
        await CopyRowsAsync(source.Location, old);

        await using var h = await EngineHarness.OpenExistingAsync(kind, old);
        Assert.Equal(today, await SchemaAsync(old));
        AssertSameRows(rows, await RowsAsync(old));
        Assert.Equal(2, (await h.NodeAsync(pool)).Sale!.OverbookLimit);

        // What failed on such a database: a batch writing sale rules (sale_edge_at), and a hold past the
        // total into the allowance (the table's old check).
        var moved = await h.Engine.SubmitAsync(new UpdateCapacity(
            Tenant, pool, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, null,
            new SalePatch(Change<DateTimeOffset?>.Keep, Change<DateTimeOffset?>.To(h.Clock.GetUtcNow().AddDays(2)), Change<Guid?>.Keep, Change<bool>.Keep, Change<int>.Keep)));
        Assert.Equal(OutcomeCode.Ok, moved.Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 8)).Outcome?.Code);
        var hall = await h.NodeAsync(pool);
        Assert.Equal(12, hall.Reserved + hall.Sold);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Sales_refunded_whole_before_80aebc9_read_as_todays_refunds_after_018_and_other_reservations_are_untouched()
    {
        var aged = await AgedSalesAsync();
        await using var h = aged.Harness;

        foreach (var (id, cancelled) in new[] { (aged.WholeBefore012, 2), (aged.PartThenWhole, 3), (aged.WholeAfter012, 2) })
        {
            var item = Assert.Single((await h.Store.GetReservationAsync(Tenant, id, CancellationToken.None))!.Value.Items);
            Assert.Equal((0, cancelled), (item.Quantity, item.CancelledQuantity));
        }

        var kept = Assert.Single((await h.Store.GetReservationAsync(Tenant, aged.Confirmed, CancellationToken.None))!.Value.Items);
        Assert.Equal((2, 0), (kept.Quantity, kept.CancelledQuantity));
        var active = Assert.Single((await h.Store.GetReservationAsync(Tenant, aged.Active, CancellationToken.None))!.Value.Items);
        Assert.Equal((1, 0), (active.Quantity, active.CancelledQuantity));
    }

    [Fact]
    public async Task Sales_cancelled_before_012_ran_are_counted_by_018_at_their_confirm_and_cancel_minutes_and_the_audit_stays_clean()
    {
        var aged = await AgedSalesAsync();
        await using var h = aged.Harness;

        // What 012 counted (held 2 + 1, confirmed 2), what the engine counted after it (2 held, confirmed
        // and cancelled), and now the two sales 012 left out, of 2 and 3 tickets.
        Assert.Equal(new SalesFlows(5 + 2 + 3, 4 + 2 + 3, 0, 0, 2 + 2 + 3, 0), await TotalAsync(h, aged.Stalls));

        // The 012-era sales: held and confirmed in the minute of their confirm, cancelled in that of their cancel.
        var confirmedMinute = SalesStats.MinuteOf(aged.Start);
        var cancelledMinute = SalesStats.MinuteOf(aged.Start.AddMinutes(2));
        var read = await h.Store.ReadSalesAsync(Tenant, "e1", [aged.Stalls], confirmedMinute, cancelledMinute + 1, CancellationToken.None);
        var byMinute = read.Minutes.ToDictionary(m => m.Minute, m => m.Flows);
        Assert.Equal(new SalesFlows(2 + 3 + 2 + 1, 2 + 3 + 2, 0, 0, 0, 0), byMinute[confirmedMinute]);
        Assert.Equal(new SalesFlows(0, 0, 0, 0, 2 + 3, 0), byMinute[cancelledMinute]);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Migration_018_on_an_up_to_date_database_changes_nothing()
    {
        // The engine's clock starts before the migrations ran; a server's runs after them.
        await using var h = await EngineHarness.OpenAsync(kind);
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        var now = h.Clock.GetUtcNow();
        var pool = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateCapacity(
            Tenant, pool, "e1", null, "Hall", null, 4, [], true, null, new SaleRules(now.AddHours(-1), now.AddDays(1), OverbookLimit: 3)))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new UpdateCapacity(
            Tenant, pool, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, new WaitlistPatch(true, 30, WaitlistPolicy.Fifo)))).Outcome?.Code);
        var whole = await SaleAsync(h, pool, 2);
        var part = await SaleAsync(h, pool, 3);
        await TransitionAsync(h, whole, Transition.Cancel);
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CancelSale(Tenant, part, [new ItemQuantity(pool, 1)]))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 3)).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new JoinWaitlist(Tenant, Guid.CreateVersion7(), [new WaitlistItem(pool, 2)], null, null))).Outcome?.Code);
        await h.CloseAsync();
        var (schema, rows) = (await SchemaAsync(h.Location), await RowsAsync(h.Location));

        await ExecuteAsync(h.Location, "DELETE FROM schema_migrations WHERE version = 18");
        await using var again = await EngineHarness.OpenExistingAsync(kind, h.Location);
        Assert.Equal(1L, Convert.ToInt64(await again.SqlAsync("SELECT COUNT(*) FROM schema_migrations WHERE version = 18"), CultureInfo.InvariantCulture));
        Assert.Equal(schema, await SchemaAsync(h.Location));
        AssertSameRows(rows, await RowsAsync(h.Location));
        await again.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_database_with_a_newer_migration_recorded_is_refused_before_anything_is_written()
    {
        var location = await EngineHarness.NewLocationAsync(kind);
        await (await OpenStoreAsync(location)).DisposeAsync();
        await ExecuteAsync(location, "DELETE FROM schema_migrations WHERE version >= 18; INSERT INTO schema_migrations (version, name, applied_at) VALUES (23, '023_future', 0)");

        await using var store = await OpenStoreAsync(location, migrate: false);
        var refused = await Assert.ThrowsAsync<NewerSchemaException>(() => store.MigrateAsync(CancellationToken.None));
        Assert.Equal(
            "The database was migrated by a newer version of Capacity (migration 23; this one knows up to 22): run that version or restore the backup taken before the upgrade.",
            refused.Message);
        Assert.Equal(0L, await ScalarAsync(location, "SELECT COUNT(*) FROM schema_migrations WHERE version >= 18 AND version < 23"));
    }

    /// <summary>
    /// Reservations as versions before 012 and before 80aebc9 left them, on one capacity: sales refunded
    /// whole (their quantities kept) and one refunded in part first, cancelled before 012 ran (so 012 left
    /// them out of sales_minutes), a sale and a hold 012 counted, and a sale refunded whole after 012,
    /// which the engine counted. Then 018 runs.
    /// </summary>
    private async Task<AgedSales> AgedSalesAsync()
    {
        var h = await EngineHarness.OpenAsync(kind);
        var start = h.Clock.GetUtcNow();
        var stalls = await h.CreateAsync("Stalls", 100);
        var wholeBefore = await SaleAsync(h, stalls, 2);
        var partThenWhole = await SaleAsync(h, stalls, 3);
        var confirmed = await SaleAsync(h, stalls, 2);
        var active = (await h.HoldAsync(stalls, 1, minutes: 120)).Outcome!.Value.Reservation!.Value.Id;
        h.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CancelSale(Tenant, partThenWhole, [new ItemQuantity(stalls, 1)]))).Outcome?.Code);
        await TransitionAsync(h, wholeBefore, Transition.Cancel);
        await TransitionAsync(h, partThenWhole, Transition.Cancel);

        // 012 runs five minutes later: sales_minutes as its backfill makes them, from the holds of then.
        var applied012 = h.Clock.GetUtcNow().AddMinutes(5);
        var backfill = MigrationScripts.Load(kind == StoreKind.Sqlite ? typeof(SqliteStore).Assembly : typeof(PostgresStore).Assembly).Single(m => m.Version == 12).Sql;
        await h.SqlAsync(
            "DELETE FROM sales_minutes; DELETE FROM confirm_times; "
            + backfill[backfill.IndexOf("INSERT INTO sales_minutes", StringComparison.Ordinal)..]
            + $"; UPDATE schema_migrations SET applied_at = {applied012.ToUnixTimeMilliseconds()} WHERE version = 12");
        h = await h.ReopenAsync();
        h.Clock.Advance(TimeSpan.FromMinutes(10));
        var wholeAfter = await SaleAsync(h, stalls, 2);
        await TransitionAsync(h, wholeAfter, Transition.Cancel);
        await h.AssertAuditCleanAsync();

        // Refunds as older versions wrote them: the whole refund left what was still sold in quantity.
        foreach (var (id, left, refunded) in new[] { (wholeBefore, 2, 0), (partThenWhole, 2, 1), (wholeAfter, 2, 0) })
        {
            var items = $"[{{\"capacity_id\":\"{stalls}\",\"quantity\":{left},\"locked_price\":null{(refunded > 0 ? $",\"cancelled_quantity\":{refunded}" : "")}}}]";
            await h.SqlAsync($"UPDATE reservations SET items = '{items}' WHERE id = '{id}'");
        }

        await h.SqlAsync("DELETE FROM schema_migrations WHERE version = 18");
        h = await h.ReopenAsync();
        return new AgedSales(h, start, stalls, wholeBefore, partThenWhole, confirmed, active, wholeAfter);
    }

    private sealed record AgedSales(EngineHarness Harness, DateTimeOffset Start, Guid Stalls, Guid WholeBefore012, Guid PartThenWhole, Guid Confirmed, Guid Active, Guid WholeAfter012);

    private static async Task<SalesFlows> TotalAsync(EngineHarness h, Guid capacity)
    {
        var read = await h.Store.ReadSalesAsync(Tenant, "e1", [capacity], 0, SalesStats.MinuteOf(h.Clock.GetUtcNow()) + 1, CancellationToken.None);
        return read.Minutes.Aggregate(read.Before, (sum, m) => sum + m.Flows);
    }

    private static async Task<Guid> SaleAsync(EngineHarness h, Guid capacity, int quantity)
    {
        var id = (await h.HoldAsync(capacity, quantity)).Outcome!.Value.Reservation!.Value.Id;
        await TransitionAsync(h, id, Transition.Confirm);
        return id;
    }

    private static async Task TransitionAsync(EngineHarness h, Guid reservation, Transition transition) =>
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new TransitionReservation(Tenant, reservation, transition))).Outcome?.Code);

    private async Task<FaultyStore> OpenStoreAsync(string location, bool migrate = true)
    {
        var store = kind == StoreKind.Sqlite ? FaultyStore.Over(new SqliteStore(location, new ManualTime(DateTimeOffset.UtcNow))) : FaultyStore.Over(new PostgresStore(location));
        if (migrate)
        {
            await store.MigrateAsync(CancellationToken.None);
        }

        return store;
    }

    /// <summary>Today's scripts up to 017, with the four edited ones as first released, recorded as applied at <paramref name="appliedAt"/>.</summary>
    private async Task MigrateWithOldTextsAsync(string location, long appliedAt)
    {
        var store = kind == StoreKind.Sqlite ? "Sqlite" : "Postgres";
        var scripts = MigrationScripts.Load(kind == StoreKind.Sqlite ? typeof(SqliteStore).Assembly : typeof(PostgresStore).Assembly).Where(m => m.Version <= 17);
        var sql = new List<string>
        {
            kind == StoreKind.Sqlite
                ? "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
                : "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)",
        };
        foreach (var (version, name, text) in scripts)
        {
            sql.Add(OldTexts.Contains(name) ? await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "OldMigrations", store, name + ".sql")) : text);
            sql.Add($"INSERT INTO schema_migrations (version, name, applied_at) VALUES ({version}, '{name}', {appliedAt})");
        }

        foreach (var statement in sql)
        {
            await ExecuteAsync(location, statement);
        }
    }

    /// <summary>Every row of <paramref name="from"/> into the same table of <paramref name="to"/>, in the columns both have.</summary>
    private async Task CopyRowsAsync(string from, string to)
    {
        await using var c = await ConnectAsync(to);
        string fromSchema = "src", toSchema = "main";
        if (kind == StoreKind.Sqlite)
        {
            await RunAsync(c, $"ATTACH DATABASE '{from}' AS src");
        }
        else
        {
            (fromSchema, toSchema) = (new NpgsqlConnectionStringBuilder(from).SearchPath!, new NpgsqlConnectionStringBuilder(to).SearchPath!);
        }

        // Those others refer to first: PostgreSQL checks every reference as each row goes in.
        foreach (var table in (await TablesAsync(c)).OrderBy(t => t is "tenants" or "capacities" ? 0 : 1))
        {
            var columns = (await ColumnsAsync(c, toSchema, table)).Intersect(await ColumnsAsync(c, fromSchema, table)).ToList();
            var list = string.Join(", ", columns);
            await RunAsync(c, kind == StoreKind.Sqlite
                ? $"INSERT INTO main.{table} ({list}) SELECT {list} FROM src.{table}"
                : $"INSERT INTO {toSchema}.{table} ({list}) OVERRIDING SYSTEM VALUE SELECT {list} FROM {fromSchema}.{table}");
        }
    }

    private async Task<List<string>> ColumnsAsync(DbConnection c, string schema, string table) => kind == StoreKind.Sqlite
        ? await ListAsync(c, $"SELECT name FROM pragma_table_info('{table}', '{schema}')")
        : await ListAsync(c, $"SELECT column_name FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = '{table}'");

    private async Task<List<string>> TablesAsync(DbConnection c) => await ListAsync(c, kind == StoreKind.Sqlite
        ? "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name"
        : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY table_name");

    /// <summary>
    /// The schema as text to compare: SQLite's own statements for every table and index; on PostgreSQL
    /// every column (by name: a column added later comes last), index and constraint.
    /// </summary>
    private async Task<List<string>> SchemaAsync(string location)
    {
        await using var c = await ConnectAsync(location);
        return kind == StoreKind.Sqlite
            ? await ListAsync(c, "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            : await ListAsync(c,
                "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') "
                + "FROM information_schema.columns WHERE table_schema = current_schema() "
                + "UNION ALL SELECT 'index ' || indexname || ': ' || replace(indexdef, current_schema() || '.', '') FROM pg_indexes WHERE schemaname = current_schema() "
                + "UNION ALL SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint "
                + "WHERE connamespace = current_schema()::regnamespace ORDER BY 1");
    }

    /// <summary>Every row of every table but schema_migrations, each as its columns by name, sorted.</summary>
    private async Task<Dictionary<string, List<string>>> RowsAsync(string location)
    {
        await using var c = await ConnectAsync(location);
        var rows = new Dictionary<string, List<string>>();
        foreach (var table in await TablesAsync(c))
        {
            await using var cmd = c.CreateCommand();
            cmd.CommandText = $"SELECT * FROM {table}";
            await using var r = await cmd.ExecuteReaderAsync();
            var list = new List<string>();
            while (await r.ReadAsync())
            {
                list.Add(string.Join("; ", Enumerable.Range(0, r.FieldCount).OrderBy(r.GetName, StringComparer.Ordinal).Select(i => $"{r.GetName(i)}={Text(r.GetValue(i))}")));
            }

            list.Sort(StringComparer.Ordinal);
            rows[table] = list;
        }

        return rows;
    }

    private static void AssertSameRows(Dictionary<string, List<string>> expected, Dictionary<string, List<string>> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (table, rows) in expected)
        {
            Assert.True(rows.SequenceEqual(actual[table]), $"{table}:\nexpected\n{string.Join("\n", rows)}\nactual\n{string.Join("\n", actual[table])}");
        }
    }

    private static string Text(object value) => value switch
    {
        DBNull => "null",
        byte[] bytes => Convert.ToHexString(bytes),
        System.Collections.IEnumerable items and not string => string.Join(",", items.Cast<object>().Select(Text)),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    private async Task ExecuteAsync(string location, string sql)
    {
        await using var c = await ConnectAsync(location);
        await RunAsync(c, sql);
    }

    private async Task<long> ScalarAsync(string location, string sql)
    {
        await using var c = await ConnectAsync(location);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private async Task<DbConnection> ConnectAsync(string location)
    {
        DbConnection c = kind == StoreKind.Sqlite ? new SqliteConnection($"Data Source={location};Pooling=False") : new NpgsqlConnection(location);
        await c.OpenAsync();
        return c;
    }

    private static async Task RunAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> ListAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<string>();
        while (await r.ReadAsync())
        {
            list.Add(r.GetString(0));
        }

        return list;
    }
}

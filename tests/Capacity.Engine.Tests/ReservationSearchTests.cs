using System.Text.Json;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Testing;
using SQLitePCL;

namespace Capacity.Engine.Tests;

public sealed class ReservationSearchTests_on_sqlite() : ReservationSearchTests(StoreKind.Sqlite);

public sealed class ReservationSearchTests_on_postgres() : ReservationSearchTests(StoreKind.Postgres);

/// <summary>
/// The store's side of <c>GET /reservations</c>: every filter against a model of what it names, what a
/// page of one status reads on a large event, and what migration 008 fills in for holds made before it.
/// </summary>
public abstract class ReservationSearchTests(StoreKind kind)
{
    [Fact]
    public async Task Migration_008_lists_holds_made_before_it_under_their_events_a_cart_across_events_under_each()
    {
        var location = await EngineHarness.NewLocationAsync(kind);
        var before = await EngineHarness.OpenExistingAsync(kind, location);
        var day1 = await before.CreateAsync("Day 1", 10);
        var day2Id = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await before.Engine.SubmitAsync(
            new CreateCapacity(EngineHarness.TenantA, day2Id, "e2", null, "Day 2", null, 10, [], true, null))).Outcome?.Code);
        var single = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await before.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, single, [new HoldItem(day1, 1, null)], 15))).Outcome?.Code);
        var cart = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await before.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, cart, [new HoldItem(day1, 1, null), new HoldItem(day2Id, 2, null)], 15))).Outcome?.Code);
        await before.Engine.DisposeAsync();
        await before.Store.DisposeAsync();

        // Back to the schema as it was before 008, these rows in it (and without 017's index, which needs 008's
        // column: 013 and 017 run again after 008).
        await RunAsync(location, kind == StoreKind.Sqlite
            ? "DROP INDEX reservations_event_status; DROP INDEX reservations_external_ref; DROP TABLE reservation_events; "
              + "ALTER TABLE reservations DROP COLUMN event_id; ALTER TABLE reservations DROP COLUMN external_ref; ALTER TABLE reservations DROP COLUMN metadata; "
              + "DELETE FROM schema_migrations WHERE version IN (8, 13, 17);"
            : "DROP TABLE reservation_events; ALTER TABLE reservations DROP COLUMN event_id, DROP COLUMN external_ref, DROP COLUMN metadata; "
              + "DELETE FROM schema_migrations WHERE version IN (8, 13, 17);");

        await using var after = await EngineHarness.OpenExistingAsync(kind, location);
        Assert.True(await after.Store.IsReadyAsync(CancellationToken.None));
        Assert.Equal(new[] { cart, single }, await ListAsync(after, "e1"));
        Assert.Equal(new[] { cart }, await ListAsync(after, "e2"));

        // And the writer lists a new cart across events the same way.
        var newer = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await after.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, newer, [new HoldItem(day2Id, 1, null), new HoldItem(day1, 1, null)], 15))).Outcome?.Code);
        Assert.Equal(new[] { newer, cart, single }, await ListAsync(after, "e1"));
        Assert.Equal(new[] { newer, cart }, await ListAsync(after, "e2"));
        await after.AssertAuditCleanAsync();
    }

    /// <summary>
    /// Holds of every stored status (and due ones the sweeper has not written), some naming a buyer or a
    /// reference, carts across two events, several made in one batch (so their creation times tie): each
    /// combination of event, reference, status and buyer, read in pages of 4, lists exactly what a filter
    /// over every reservation names, newest first (creation, then id), with no gap or repeat.
    /// </summary>
    [Fact]
    public async Task Every_filter_lists_exactly_what_it_names_newest_first_in_pages_without_gaps_or_repeats()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var floor = await h.CreateAsync("Floor", 1000);
        var other = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(
            new CreateCapacity(EngineHarness.TenantA, other, "e2", null, "Other", null, 1000, [], true, null))).Outcome?.Code);
        var eventOf = new Dictionary<Guid, string> { [floor] = "e1", [other] = "e2" };

        var ids = new List<Guid>();
        for (var round = 0; round < 8; round++)
        {
            // Five at once: one batch, one creation time, ordered by id.
            var placed = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
            {
                var n = round * 5 + i;
                HoldItem[] items = (n % 7) switch
                {
                    3 => [new HoldItem(floor, 1, null), new HoldItem(other, 1, null)],
                    5 => [new HoldItem(other, 2, null), new HoldItem(floor, 1, null)],
                    6 => [new HoldItem(other, 1, null)],
                    _ => [new HoldItem(floor, 1 + n % 2, null)],
                };
                var id = TimeOrderedIds.New();
                ids.Add(id);
                return h.Engine.SubmitAsync(new PlaceHold(EngineHarness.TenantA, id, items, n % 4 == 0 ? 1 : 15,
                    n % 3 == 0 ? "buyer-1" : n % 3 == 1 ? "buyer-2" : null, n % 5 == 0 ? new ReservationLabels("ref-a", null) : null));
            }));
            Assert.All(placed, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
            h.Clock.Advance(TimeSpan.FromSeconds(1));
        }

        // Confirmed, released and cancelled holds among the active ones; then the one-minute holds fall due,
        // the sweeper writes half of them expired and leaves the others active past their expiry.
        for (var i = 1; i < ids.Count; i += 4)
        {
            var transition = (i / 4 % 3) switch { 0 => Transition.Confirm, 1 => Transition.Release, _ => Transition.Confirm };
            Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new TransitionReservation(EngineHarness.TenantA, ids[i], transition))).Outcome?.Code);
            if (i / 4 % 3 == 2)
            {
                Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new TransitionReservation(EngineHarness.TenantA, ids[i], Transition.Cancel))).Outcome?.Code);
            }
        }

        h.Clock.Advance(TimeSpan.FromMinutes(2));
        var due = ids.Where((_, n) => n % 4 == 0).ToArray();
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new ExpireDue(due[..(due.Length / 2)]))).Outcome?.Code);

        var now = h.Clock.GetUtcNow();
        var all = new List<(Reservation R, string[] Events, ReservationStatus Seen)>();
        foreach (var id in ids)
        {
            var r = (await h.Store.GetReservationAsync(EngineHarness.TenantA, id, CancellationToken.None))!.Value;
            var seen = r.Status == ReservationStatus.Active && r.ExpiresAt <= now ? ReservationStatus.Expired : r.Status;
            all.Add((r, [.. r.Items.Select(item => eventOf[item.CapacityId]).Distinct()], seen));
        }

        foreach (var status in Enum.GetValues<ReservationStatus>())
        {
            Assert.Contains(all, x => x.Seen == status);
        }

        Assert.Contains(all, x => x.R.Status == ReservationStatus.Active && x.Seen == ReservationStatus.Expired);
        Assert.Contains(all, x => x.R.Status == ReservationStatus.Expired);

        ReservationStatus?[] statuses = [null, .. Enum.GetValues<ReservationStatus>().Cast<ReservationStatus?>()];
        foreach (var eventId in new[] { "e1", "e2", null })
        {
            foreach (var reference in eventId is null ? ["ref-a"] : new[] { null, "ref-a" })
            {
                foreach (var status in statuses)
                {
                    foreach (var buyer in new[] { null, "buyer-1" })
                    {
                        var expected = all
                            .Where(x => (eventId is null || x.Events.Contains(eventId)) && (reference is null || x.R.Labels?.ExternalRef == reference)
                                && (status is null || x.Seen == status) && (buyer is null || x.R.BuyerKey == buyer))
                            .OrderByDescending(x => x.R.CreatedAt).ThenByDescending(x => x.R.Id.ToString(), StringComparer.Ordinal)
                            .Select(x => x.R.Id).ToArray();
                        var listed = new List<Guid>();
                        (DateTimeOffset, Guid)? before = null;
                        while (true)
                        {
                            var page = await h.Store.ListReservationsAsync(
                                new ReservationQuery(EngineHarness.TenantA, eventId, reference, buyer, status, now, before, 4), CancellationToken.None);
                            listed.AddRange(page.Select(r => r.Id));
                            if (page.Count < 4)
                            {
                                break;
                            }

                            before = (page[^1].CreatedAt, page[^1].Id);
                        }

                        Assert.True(expected.SequenceEqual(listed),
                            $"event {eventId ?? "-"}, ref {reference ?? "-"}, status {status?.ToString() ?? "-"}, buyer {buyer ?? "-"}: "
                            + $"expected {string.Join(' ', expected.Select(Short))}, listed {string.Join(' ', listed.Select(Short))}");
                    }
                }
            }
        }

        await h.AssertAuditCleanAsync();
        static string Short(Guid id) => id.ToString()[^6..];
    }

    /// <summary>
    /// An event of 60,000 sold holds and a few of each other status: a page of any status, at the start
    /// or deep into the event, reads its own status's rows, not the event's. What a read did is the
    /// database's own count, not a time: SQLite's virtual machine steps for the statement, PostgreSQL's
    /// buffers in <c>EXPLAIN (ANALYZE, BUFFERS)</c>. Reading the event whole to fill a page takes several
    /// times the bound (the status read as a filter: 540,585 steps on SQLite; the index by event and
    /// creation alone: 2,414 buffers on PostgreSQL).
    /// </summary>
    [Fact]
    public async Task A_page_of_one_status_reads_that_status_rows_not_the_whole_event()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        const int Sold = 60_000;
        await RunAsync(h.Location, kind == StoreKind.Sqlite
            ? $"""
              WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {Sold + 40})
              INSERT INTO reservations (id, tenant_id, status, items, created_at, expires_at, confirmed_at, ended_at, event_id)
              SELECT printf('00000000-0000-7000-8000-%012d', i), '{EngineHarness.TenantA}',
                     CASE WHEN i % 1500 = 7 THEN 4 WHEN i % 1500 = 8 THEN 2 WHEN i > {Sold} THEN 0 ELSE 1 END,
                     '[]', 1000000 + i, CASE WHEN i > {Sold} THEN 9000000000000 - i ELSE 2000000 + i END, 1000000 + i, NULL, 'big'
              FROM n;
              """
            : $"""
              INSERT INTO reservations (id, tenant_id, status, items, created_at, expires_at, confirmed_at, ended_at, event_id)
              SELECT ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, '{EngineHarness.TenantA}',
                     CASE WHEN i % 1500 = 7 THEN 4 WHEN i % 1500 = 8 THEN 2 WHEN i > {Sold} THEN 0 ELSE 1 END,
                     '[]', 1000000 + i, CASE WHEN i > {Sold} THEN 9000000000000 - i ELSE 2000000 + i END, 1000000 + i, NULL, 'big'
              FROM generate_series(1, {Sold + 40}) i;
              ANALYZE reservations;
              """);

        var now = h.Clock.GetUtcNow();
        ReservationStatus?[] statuses = [null, .. Enum.GetValues<ReservationStatus>().Cast<ReservationStatus?>()];
        foreach (var status in statuses)
        {
            foreach (var deep in new[] { false, true })
            {
                var parameters = new Dictionary<string, object>
                {
                    ["t"] = EngineHarness.TenantA, ["event"] = "big", ["now"] = now.ToUnixTimeMilliseconds(), ["limit"] = 100,
                };
                if (deep)
                {
                    // Half-way through the event.
                    parameters["before_at"] = 1000000L + Sold / 2;
                    parameters["before_id"] = Guid.Parse($"00000000-0000-7000-8000-{Sold / 2:D12}");
                }

                var sql = Storage.ReservationSearch.Sql(byEvent: true, byRef: false, byBuyer: false, status, paged: deep, sqlite: kind == StoreKind.Sqlite);
                var (rows, work) = kind == StoreKind.Sqlite ? SqliteSteps(h.Location, sql, parameters) : await PostgresBuffersAsync(h.Location, sql, parameters);
                var bound = kind == StoreKind.Sqlite ? 30_000 : 400;
                Assert.True(work < bound, $"status {status?.ToString() ?? "-"}{(deep ? ", deep" : "")}: {work} {(kind == StoreKind.Sqlite ? "steps" : "buffers")} for {rows} rows");
                // Every 1,500th hold cancelled and the next released (41 of each, 20 before half-way), the
                // last 40 still active but for two of those.
                Assert.Equal(status switch
                {
                    ReservationStatus.Cancelled or ReservationStatus.Released => deep ? 20 : 41,
                    ReservationStatus.Active => deep ? 0 : 38,
                    ReservationStatus.Expired => 0,
                    _ => 100,
                }, rows);
            }
        }
    }

    /// <summary>
    /// The live stream's snapshot of the same kind of event: the count of its active holds and the
    /// soonest to expire, found among the event's active holds by the expiry the status index holds.
    /// </summary>
    [Fact]
    public async Task A_snapshot_counts_an_events_active_holds_and_lists_the_soonest_to_expire_among_its_sold_ones()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var held = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            var id = TimeOrderedIds.New();
            // Expiry in neither order of creation.
            Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(
                new PlaceHold(EngineHarness.TenantA, id, [new HoldItem(pool, 1, null)], new[] { 20, 10, 25, 5, 30, 15 }[i]))).Outcome?.Code);
            held.Add(id);
            h.Clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new TransitionReservation(EngineHarness.TenantA, held[5], Transition.Confirm))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new TransitionReservation(EngineHarness.TenantA, held[4], Transition.Release))).Outcome?.Code);
        await RunAsync(h.Location, kind == StoreKind.Sqlite
            ? $"""
              WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
              INSERT INTO reservations (id, tenant_id, status, items, created_at, expires_at, confirmed_at, ended_at, event_id)
              SELECT printf('00000000-0000-7000-8000-%012d', i), '{EngineHarness.TenantA}', 1, '[]', 1000 + i, 2000 + i, 1000 + i, NULL, 'e1' FROM n;
              """
            : $"""
              INSERT INTO reservations (id, tenant_id, status, items, created_at, expires_at, confirmed_at, ended_at, event_id)
              SELECT ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, '{EngineHarness.TenantA}', 1, '[]', 1000 + i, 2000 + i, 1000 + i, NULL, 'e1'
              FROM generate_series(1, 20000) i;
              ANALYZE reservations;
              """);

        var read = await h.Store.ReadEventAsync(EngineHarness.TenantA, "e1", 3, CancellationToken.None);
        Assert.Equal(4, read.Holds!.Active);
        Assert.Equal(new[] { held[3], held[1], held[0] }, read.Holds.Soonest.Select(r => r.Id));
        await RunAsync(h.Location, "DELETE FROM reservations WHERE items = '[]'");
        await h.AssertAuditCleanAsync();
    }

    /// <summary>Runs <paramref name="sql"/> on its own connection: the rows and the virtual machine's steps it took.</summary>
    private static (int Rows, long Steps) SqliteSteps(string location, string sql, Dictionary<string, object> parameters)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={location};Pooling=False");
        c.Open();
        Assert.Equal(raw.SQLITE_OK, raw.sqlite3_prepare_v2(c.Handle, sql, out var stmt, out _));
        using (stmt)
        {
            foreach (var (name, value) in parameters)
            {
                var index = raw.sqlite3_bind_parameter_index(stmt, "@" + name);
                if (index == 0)
                {
                    continue;
                }

                Assert.Equal(raw.SQLITE_OK, value switch
                {
                    Guid g => raw.sqlite3_bind_text(stmt, index, g.ToString()),
                    string text => raw.sqlite3_bind_text(stmt, index, text),
                    long l => raw.sqlite3_bind_int64(stmt, index, l),
                    int i => raw.sqlite3_bind_int64(stmt, index, i),
                    var other => throw new ArgumentException($"{other.GetType()}"),
                });
            }

            var rows = 0;
            int rc;
            while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
            {
                rows++;
            }

            Assert.Equal(raw.SQLITE_DONE, rc);
            return (rows, raw.sqlite3_stmt_status(stmt, raw.SQLITE_STMTSTATUS_VM_STEP, 0));
        }
    }

    /// <summary>Runs <paramref name="sql"/> under <c>EXPLAIN (ANALYZE, BUFFERS)</c>: the rows and the buffers it touched.</summary>
    private static async Task<(int Rows, long Buffers)> PostgresBuffersAsync(string location, string sql, Dictionary<string, object> parameters)
    {
        await using var c = new Npgsql.NpgsqlConnection(location);
        await c.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, c);
        foreach (var (name, value) in parameters)
        {
            if (sql.Contains("@" + name, StringComparison.Ordinal))
            {
                cmd.Parameters.AddWithValue(name, value);
            }
        }

        using var plan = JsonDocument.Parse((string)(await cmd.ExecuteScalarAsync())!);
        var root = plan.RootElement[0].GetProperty("Plan");
        return (root.GetProperty("Actual Rows").GetInt32(), root.GetProperty("Shared Hit Blocks").GetInt64() + root.GetProperty("Shared Read Blocks").GetInt64());
    }

    private static async Task<Guid[]> ListAsync(EngineHarness h, string eventId) =>
        [.. (await h.Store.ListReservationsAsync(
            new ReservationQuery(EngineHarness.TenantA, eventId, null, null, null, h.Clock.GetUtcNow(), null, 100), CancellationToken.None)).Select(r => r.Id)];

    private async Task RunAsync(string location, string sql)
    {
        if (kind == StoreKind.Sqlite)
        {
            await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={location};Pooling=False");
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            await cmd.ExecuteNonQueryAsync();
        }
        else
        {
            await using var c = new Npgsql.NpgsqlConnection(location);
            await c.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand(sql, c);
            await cmd.ExecuteNonQueryAsync();
        }
    }
}

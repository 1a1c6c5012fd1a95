using Capacity.Core;
using Capacity.Storage;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;
using Capacity.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Capacity.Engine.Tests;

public sealed class LedgerTests_on_sqlite() : LedgerTests(StoreKind.Sqlite);

public sealed class LedgerTests_on_postgres() : LedgerTests(StoreKind.Postgres);

/// <summary>The chunk format on its own.</summary>
public sealed class LedgerChunkTests
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    private static LedgerRow Row(long sequence, LedgerEntry entry) => new(sequence, entry);

    [Fact]
    public void A_chunk_keeps_each_events_entries_in_order_and_a_huge_group_is_split()
    {
        var capacity = Guid.CreateVersion7();
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        var entries = new List<LedgerEntry>();
        for (var i = 0; i < LedgerChunks.MaxEntries + 10; i++)
        {
            // Interleaved with a second event, whose three entries must come out as a chunk of their own.
            if (i % 30_000 == 0)
            {
                entries.Add(new LedgerEntry(LedgerKind.Release, Tenant, "other", capacity, Guid.CreateVersion7(), -i, 0, at));
            }

            entries.Add(new LedgerEntry(LedgerKind.Hold, Tenant, "e1", capacity, Guid.CreateVersion7(), i, -i, at));
        }

        var chunks = LedgerChunks.Encode(entries);

        Assert.Equal([("other", 3), ("e1", LedgerChunks.MaxEntries), ("e1", 10)], chunks.Select(c => (c.EventId, c.Count)));
        var decoded = new List<LedgerRow>();
        var last = 0L;
        foreach (var chunk in chunks.Where(c => c.EventId == "e1"))
        {
            last += chunk.Count;
            LedgerChunks.Decode(Tenant, "e1", last, chunk.Count, chunk.Entries, after: 0, limit: int.MaxValue, decoded, Row);
        }

        Assert.Equal(entries.Where(e => e.EventId == "e1"), decoded.Select(r => r.Entry));
        Assert.Equal(Enumerable.Range(1, decoded.Count).Select(i => (long)i), decoded.Select(r => r.Sequence));
    }

    [Fact]
    public void A_chunk_that_does_not_hold_as_many_entries_as_its_row_says_is_refused()
    {
        var entry = new LedgerEntry(LedgerKind.Hold, Tenant, "e1", Guid.CreateVersion7(), Guid.CreateVersion7(), 1, 0, DateTimeOffset.UnixEpoch);
        var chunk = LedgerChunks.Encode([entry, entry]).Single();

        Assert.Throws<InvalidDataException>(() => LedgerChunks.Decode(Tenant, "e1", 10, 3, chunk.Entries, 0, 100, new List<LedgerRow>(), Row));
        Assert.Throws<InvalidDataException>(() => LedgerChunks.Decode(Tenant, "e1", 10, 2, chunk.Entries.AsSpan(0, chunk.Entries.Length - 2), 0, 100, new List<LedgerRow>(), Row));
    }
}

/// <summary>The ledger is stored one chunk per event per batch; readers must still see one entry per sequence number.</summary>
public abstract class LedgerTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task Pages_that_start_and_end_inside_a_batch_return_every_entry_once_in_order()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10_000);
        var child = await h.CreateAsync("Child", 500, pool);

        // Concurrent holds land in a few large batches, so each chunk holds many entries.
        var holds = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => h.HoldAsync(i % 2 == 0 ? pool : child, 1 + (i % 3))));
        Assert.All(holds, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        var all = await h.Store.GetLedgerAsync(Tenant, "e1", 0, int.MaxValue, CancellationToken.None);
        var paged = new List<LedgerRow>();
        var after = 0L;
        while (true)
        {
            var page = await h.Store.GetLedgerAsync(Tenant, "e1", after, 7, CancellationToken.None);
            Assert.True(page.Count <= 7);
            paged.AddRange(page);
            if (page.Count == 0)
            {
                break;
            }

            after = page[^1].Sequence;
        }

        // A hold on the child charges the pool too: 150 entries for pool holds, 2 × 150 for child holds.
        Assert.Equal(450, all.Count);
        Assert.Equal(all, paged);
        Assert.Equal(Enumerable.Range(1, 450).Select(i => (long)i), all.Select(r => r.Sequence));
        var poolNode = await h.NodeAsync(pool);
        Assert.Equal(poolNode.Reserved, all.Where(r => r.Entry.CapacityId == pool).Sum(r => r.Entry.ReservedDelta));
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task The_audit_names_an_event_whose_ledger_numbers_have_a_gap_or_an_overlap()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var section = await h.CreateAsync("Section", 50, pool);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(section, 1)).Outcome?.Code);
        }

        // Three chunks of two entries, ending at 2, 4 and 6. The last moved on by one leaves a gap at 5;
        // moved back by two from there, it overlaps the one before at 4.
        await h.AssertAuditCleanAsync();
        foreach (var (shift, from) in new[] { (1, 6), (-2, 7) })
        {
            await ExecuteAsync(h.Location, $"UPDATE ledger_chunks SET last_seq = last_seq + {shift} WHERE last_seq = {from}");
            var report = await Audit.RunAsync(h.Store, CancellationToken.None);
            var violation = Assert.Single(report.Violations);
            Assert.StartsWith($"ledger of event e1 (tenant {Tenant}): 1 chunks do not follow on", violation, StringComparison.Ordinal);
        }
    }

    private async Task ExecuteAsync(string location, string sql)
    {
        await using var c = kind == StoreKind.Sqlite
            ? (System.Data.Common.DbConnection)new SqliteConnection($"Data Source={location};Pooling=false")
            : new NpgsqlConnection(location);
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Entries_written_one_row_each_before_migration_3_keep_their_order_numbered_per_event_and_new_ones_follow()
    {
        var location = await EngineHarness.NewLocationAsync(kind);
        var capacity = Guid.CreateVersion7();
        var reservation = Guid.CreateVersion7();
        await SeedVersion2Async(location, capacity, reservation);

        await using var h = await EngineHarness.OpenExistingAsync(kind, location);

        // Migration 003 kept the old global numbers 1, 2, 7 and 9; migration 014 numbers each event on its own.
        var legacy = await h.Store.GetLedgerAsync(Tenant, "e1", 0, 100, CancellationToken.None);
        Assert.Equal([1L, 2L, 3L], legacy.Select(r => r.Sequence));
        Assert.Equal(new LedgerEntry(LedgerKind.Hold, Tenant, "e1", capacity, reservation, 3, 0, At), legacy[0].Entry);
        Assert.Equal(new LedgerEntry(LedgerKind.Confirm, Tenant, "e1", capacity, reservation, -3, 3, At), legacy[1].Entry);
        Assert.Equal(LedgerKind.Release, legacy[2].Entry.Kind);
        Assert.Equal([1L], (await h.Store.GetLedgerAsync(Tenant, "e2", 0, 100, CancellationToken.None)).Select(r => r.Sequence));

        var pool = await h.CreateAsync("Pool", 10);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 2)).Outcome?.Code);
        var after = await h.Store.GetLedgerAsync(Tenant, "e1", 2, 100, CancellationToken.None);
        Assert.Equal([3L, 4L], after.Select(r => r.Sequence));
        Assert.Equal(LedgerKind.Release, after[0].Entry.Kind);
        Assert.Equal((pool, 2L), (after[1].Entry.CapacityId, after[1].Entry.ReservedDelta));
    }

    [Fact]
    public async Task Migration_014_numbers_each_events_chunks_from_1_in_the_order_they_were_written_and_new_entries_follow_on()
    {
        // Two tenants with an event id in common and one more event each, written in turn, so that the
        // old global numbers of every event are interleaved with the others'.
        var location = await EngineHarness.NewLocationAsync(kind);
        var before = await EngineHarness.OpenExistingAsync(kind, location);
        var tenantB = Guid.Parse("00000000-0000-0000-0000-00000000000b");
        (Guid Tenant, string Event)[] events = [(Tenant, "shared"), (tenantB, "shared"), (Tenant, "own-a"), (tenantB, "own-b")];
        var sections = new Guid[events.Length];
        for (var e = 0; e < events.Length; e++)
        {
            // The first event's section is under a pool, so its holds write two entries each.
            Guid[] parents = e == 0 ? [await CreateAsync(before, events[e], "Pool", 1000)] : [];
            sections[e] = await CreateAsync(before, events[e], "Section", 500, parents);
        }

        for (var round = 0; round < 6; round++)
        {
            for (var e = 0; e < events.Length; e++)
            {
                var hold = await before.Engine.SubmitAsync(new PlaceHold(events[e].Tenant, Guid.CreateVersion7(), [new HoldItem(sections[e], 1 + round, null)], 15));
                Assert.Equal(OutcomeCode.Ok, hold.Outcome?.Code);
            }
        }

        var written = new List<LedgerEntry>[events.Length];
        for (var e = 0; e < events.Length; e++)
        {
            written[e] = [.. (await before.Store.GetLedgerAsync(events[e].Tenant, events[e].Event, 0, 1000, CancellationToken.None)).Select(r => r.Entry)];
        }

        await before.Engine.DisposeAsync();
        await before.Store.DisposeAsync();
        await RollBackTo013Async(location, written);

        await using var after = await EngineHarness.OpenExistingAsync(kind, location);
        Assert.True(await after.Store.IsReadyAsync(CancellationToken.None));
        for (var e = 0; e < events.Length; e++)
        {
            var ledger = await after.Store.GetLedgerAsync(events[e].Tenant, events[e].Event, 0, 1000, CancellationToken.None);
            Assert.Equal(written[e], ledger.Select(r => r.Entry));
            Assert.Equal(Enumerable.Range(1, written[e].Count).Select(i => (long)i), ledger.Select(r => r.Sequence));

            // A page that starts inside a renumbered chunk.
            var page = await after.Store.GetLedgerAsync(events[e].Tenant, events[e].Event, 2, 3, CancellationToken.None);
            Assert.Equal(written[e].GetRange(2, 3), page.Select(r => r.Entry));
            Assert.Equal([3L, 4L, 5L], page.Select(r => r.Sequence));
        }

        // New entries follow on from each event's own last number.
        var next = await after.Engine.SubmitAsync(new PlaceHold(tenantB, Guid.CreateVersion7(), [new HoldItem(sections[1], 1, null)], 15));
        Assert.Equal(OutcomeCode.Ok, next.Outcome?.Code);
        var tail = await after.Store.GetLedgerAsync(tenantB, "shared", written[1].Count - 1, 10, CancellationToken.None);
        Assert.Equal([written[1].Count, written[1].Count + 1L], tail.Select(r => r.Sequence));
        await after.AssertAuditCleanAsync();
    }

    private static async Task<Guid> CreateAsync(EngineHarness h, (Guid Tenant, string Event) on, string name, int total, params Guid[] parents)
    {
        var id = Guid.CreateVersion7();
        var created = await h.Engine.SubmitAsync(new CreateCapacity(on.Tenant, id, on.Event, null, name, null, total, parents, true, null));
        Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
        return id;
    }

    /// <summary>
    /// The ledger as it was before migration 014: the same entries in chunks of 1, 2 and 3, the events'
    /// chunks taking turns, numbered globally as each store did (SQLite on from the last chunk, PostgreSQL
    /// from blocks of its sequence).
    /// </summary>
    private async Task RollBackTo013Async(string location, IReadOnlyList<List<LedgerEntry>> events)
    {
        var rows = new List<(long LastSeq, LedgerChunks.Chunk Chunk)>();
        var taken = new int[events.Count];
        var last = 0L;
        for (var turn = 0; taken.Where((t, e) => t < events[e].Count).Any(); turn++)
        {
            for (var e = 0; e < events.Count; e++)
            {
                var size = Math.Min(1 + ((turn + e) % 3), events[e].Count - taken[e]);
                if (size > 0)
                {
                    var chunk = LedgerChunks.Encode(events[e].GetRange(taken[e], size)).Single();
                    taken[e] += size;
                    last = kind == StoreKind.Sqlite ? last + size : (rows.Count * 1_048_576L) + size;
                    rows.Add((last, chunk));
                }
            }
        }

        await using var c = kind == StoreKind.Sqlite
            ? (System.Data.Common.DbConnection)new SqliteConnection($"Data Source={location};Pooling=false")
            : new NpgsqlConnection(location);
        await c.OpenAsync();
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = kind == StoreKind.Sqlite
                ? "DROP TABLE ledger_chunks; "
                  + "CREATE TABLE ledger_chunks (last_seq INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, event_id TEXT NOT NULL, count INTEGER NOT NULL CHECK (count > 0), entries BLOB NOT NULL); "
                  + "CREATE INDEX ledger_chunks_by_event ON ledger_chunks (tenant_id, event_id, last_seq); DELETE FROM schema_migrations WHERE version = 14;"
                : "DROP TABLE ledger_chunks; "
                  + "CREATE TABLE ledger_chunks (last_seq bigint PRIMARY KEY, tenant_id uuid NOT NULL, event_id text NOT NULL, count integer NOT NULL CHECK (count > 0), entries bytea NOT NULL); "
                  + "CREATE INDEX ledger_chunks_by_event ON ledger_chunks (tenant_id, event_id, last_seq); "
                  + $"CREATE SEQUENCE ledger_blocks INCREMENT BY 1048576 MINVALUE 1; SELECT setval('ledger_blocks', {(rows.Count * 1_048_576L) + 1}, false); "
                  + "DELETE FROM schema_migrations WHERE version = 14;";
            await cmd.ExecuteNonQueryAsync();
        }

        foreach (var (lastSeq, chunk) in rows)
        {
            await using var insert = c.CreateCommand();
            insert.CommandText = "INSERT INTO ledger_chunks (last_seq, tenant_id, event_id, count, entries) VALUES ($1, $2, $3, $4, $5)";
            object[] values = [lastSeq, kind == StoreKind.Sqlite ? chunk.TenantId.ToString() : chunk.TenantId, chunk.EventId, chunk.Count, chunk.Entries];
            for (var i = 0; i < values.Length; i++)
            {
                var p = insert.CreateParameter();
                p.ParameterName = kind == StoreKind.Sqlite ? $"${i + 1}" : "";
                p.Value = values[i];
                insert.Parameters.Add(p);
            }

            await insert.ExecuteNonQueryAsync();
        }
    }

    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    /// <summary>A store as versions 1 and 2 of the schema left it, with ledger rows of the old shape.</summary>
    private async Task SeedVersion2Async(string location, Guid capacity, Guid reservation)
    {
        var assembly = kind == StoreKind.Sqlite ? typeof(SqliteStore).Assembly : typeof(PostgresStore).Assembly;
        var scripts = MigrationScripts.Load(assembly).Where(m => m.Version <= 2).ToList();
        var rows = new (long Seq, string Event, int Kind, long Reserved, long Sold)[]
        {
            (1, "e1", (int)LedgerKind.Hold, 3, 0),
            (2, "e1", (int)LedgerKind.Confirm, -3, 3),
            (7, "e1", (int)LedgerKind.Release, 0, -3),
            (9, "e2", (int)LedgerKind.Hold, 1, 0),
        };
        var statements = new List<string>
        {
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        };
        statements.AddRange(scripts.Select(m => m.Sql));
        statements.AddRange(scripts.Select(m => $"INSERT INTO schema_migrations VALUES ({m.Version}, '{m.Name}', 0)"));
        var overriding = kind == StoreKind.Postgres ? "OVERRIDING SYSTEM VALUE" : "";
        statements.AddRange(rows.Select(r =>
            $"INSERT INTO ledger (seq, tenant_id, event_id, capacity_id, reservation_id, kind, reserved_delta, sold_delta, at) {overriding} "
            + $"VALUES ({r.Seq}, '{Tenant}', '{r.Event}', '{capacity}', '{reservation}', {r.Kind}, {r.Reserved}, {r.Sold}, {At.ToUnixTimeMilliseconds()})"));

        if (kind == StoreKind.Sqlite)
        {
            await using var c = new SqliteConnection($"Data Source={location};Pooling=false");
            await c.OpenAsync();
            foreach (var sql in statements)
            {
                await using var cmd = new SqliteCommand(sql, c);
                await cmd.ExecuteNonQueryAsync();
            }
        }
        else
        {
            await using var c = new NpgsqlConnection(location);
            await c.OpenAsync();
            foreach (var sql in statements)
            {
                await using var cmd = new NpgsqlCommand(sql, c);
                await cmd.ExecuteNonQueryAsync();
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Storage;
using Microsoft.Data.Sqlite;
using static Capacity.Storage.RowFormat;
using static Capacity.Storage.TableColumns;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// The embedded default. One connection, owned by the engine's single writer, does every write:
/// SQLite allows one writer at a time anyway, and keeping it open keeps its prepared statements.
/// Reads use pooled connections; in WAL mode they never block the writer or each other. They run
/// synchronously and observe <c>ct</c> at most when opening a connection: Microsoft.Data.Sqlite's async
/// methods are synchronous anyway.
/// <para>
/// One store per database file, in one process: it holds a lock file (<c>capacity.db.lock</c>) for as
/// long as it is open, because it keeps the committed capacity rows in memory
/// (<see cref="CommittedCapacities"/>) and would serve stale ones if another process wrote the file.
/// Several nodes share PostgreSQL instead.
/// </para>
/// </summary>
public sealed partial class SqliteStore : IWriteStore, IReadStore, ICommittedRows, IWebhookStore, IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SqliteWriteTransaction _tx;
    private readonly CommittedCapacities _capacities = new();
    private readonly WebhookTenants _webhookTenants = new();
    private readonly LiveHoldCounts _liveHolds = new();
    private readonly UsageMap _usage;
    private readonly FileStream _lock;

    // Open read connections with their statements prepared, rented by the hot reads. Beyond this
    // many idle ones, a returned connection is closed: more only outlive a burst of readers.
    private const int MaxIdleReaders = 64;
    private readonly ConcurrentBag<StatementCache> _readers = new();
    private volatile bool _disposed;

    /// <param name="path">The database file.</param>
    /// <param name="time">The clock by which buyers' usage kept in memory is forgotten when idle (tests move it by hand).</param>
    /// <param name="meters">Where the store's gauges go (the server's; none without it).</param>
    public SqliteStore(string path, TimeProvider? time = null, IMeterFactory? meters = null)
    {
        _usage = new UsageMap(time ?? TimeProvider.System);
        SqliteProcess.Configure();
        var full = Path.GetFullPath(path);
        OwnerOnly.CreateDirectory(Path.GetDirectoryName(full)!);
        _lock = TakeLock(full);

        // The file is created readable by its owner only; SQLite gives its -wal and -shm files the
        // database file's permissions, so they are too.
        OwnerOnly.CreateFile(full);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 10,
        }.ToString();
        // The writer opens through WalWriteBuffer's VFS, which writes each commit's WAL frames in one
        // piece at its sync; readers open as SQLite does. Not pooled: the store keeps it for its life.
        _writer = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = WalWriteBuffer.Uri(full),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 10,
        }.ToString());
        _writer.Open();

        // FULL: the WAL is synced at every commit, so an acknowledged hold survives power loss.
        // Group commit is what makes that affordable. WalWriteBuffer relies on it: it writes what it
        // gathered at that sync, before SQLite publishes the commit to readers.
        Execute(_writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;");
        _tx = new SqliteWriteTransaction(_writer, _capacities, _webhookTenants, _liveHolds, _usage);

        // What the usage kept in memory weighs, for operators sizing a node (docs/operations.md); only
        // once the file is open, so a store that failed to open leaves no gauges behind.
        if (meters is not null)
        {
            var meter = meters.Create("Capacity.Storage.Sqlite");
            meter.CreateObservableGauge("capacity.sqlite.usage_capacities", () => _usage.Capacities, description: "Capacities whose buyers' usage the SQLite writer keeps in memory for per-buyer limits");
            meter.CreateObservableGauge("capacity.sqlite.usage_buyers", () => _usage.Entries(), description: "Buyers' usage entries the SQLite writer keeps in memory (about 150-210 bytes each)");
        }
    }

    /// <summary>
    /// How long the writer keeps a capacity's buyers' usage in memory after the last batch that read it
    /// (30 minutes unless set; zero or less keeps it for as long as the store is open). A capacity forgotten is
    /// loaded again from the file by the next batch that checks a limit on it.
    /// </summary>
    public TimeSpan UsageIdle
    {
        get => _usage.Idle;
        init => _usage.Idle = value;
    }

    /// <summary>For tests: whether the writer has the capacity's buyers' usage in memory.</summary>
    internal bool HasUsageInMemory(Guid capacityId) => _usage.Find(capacityId) is not null;

    /// <summary>For tests: how many times the writer forgot a capacity's buyers' usage for being idle.</summary>
    internal long UsageForgotten => _usage.Forgotten;

    /// <summary>
    /// For EngineBench's batch-size sweep only: commits without waiting for the disk, so the fixed CPU of a
    /// commit can be told apart from the flush's own. Never used by the server: nothing would be durable.
    /// </summary>
    internal void SkipSyncForMeasurement()
    {
        // Not synchronous=OFF: WalWriteBuffer relies on SQLite syncing the WAL at every commit.
        if (!WalWriteBuffer.SkipSyncs(_writer))
        {
            throw new InvalidOperationException("The writer's WAL is not open through WalWriteBuffer.");
        }
    }

    // 0: no commit hook; 1: the hook vetoes the next commit; 2: the hook is installed and lets commits through.
    private int _vetoCommits;

    /// <summary>
    /// For tests only: the writer's next COMMIT fails, as SQLite fails a commit a commit hook vetoes
    /// (and rolls it back), so the path a failed COMMIT takes can be tested. Nothing else makes SQLite's
    /// own COMMIT fail on demand. The hook is installed by the first call; the server never makes one.
    /// </summary>
    internal void VetoNextCommit()
    {
        if (Interlocked.Exchange(ref _vetoCommits, 1) == 0)
        {
            SQLitePCL.raw.sqlite3_commit_hook(_writer.Handle, static state => Interlocked.Exchange(ref ((SqliteStore)state)._vetoCommits, 2) == 1 ? 1 : 0, this);
        }
    }

    /// <summary>For tests: the writes SQLite made to the writer's WAL and those that reached the file (<see cref="WalWriteBuffer"/>); read while the writer is idle.</summary>
    internal (long Gathered, long Written)? WalWrites => WalWriteBuffer.Counts(_writer);

    /// <summary>For tests: the active holds the store keeps counted, or null when it will count them again at the next commit.</summary>
    internal long? KeptLiveHolds => _liveHolds.Total;

    private static FileStream TakeLock(string database)
    {
        try
        {
            // FileShare.None is an exclusive flock on Unix: the kernel drops it when the process dies,
            // so a crashed server never leaves the file locked.
            return new FileStream(database + ".lock", OwnerOnly.Options(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"{database} is already open in another Capacity server (or another store in this process). "
                + "A SQLite database serves one node; run several nodes on PostgreSQL.", ex);
        }
    }

    public static int LatestVersion => Migrations().Max(m => m.Version);

    public Task MigrateAsync(CancellationToken ct)
    {
        // Before anything is written: a database a newer version migrated is left as it is.
        // (Two statements: one naming a table that does not exist yet would not even be prepared.)
        using (var exists = new SqliteCommand("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", _writer))
        {
            if ((long)exists.ExecuteScalar()! > 0)
            {
                using var newest = new SqliteCommand("SELECT MAX(version) FROM schema_migrations", _writer);
                MigrationScripts.RefuseNewer(newest.ExecuteScalar() as long?, LatestVersion);
            }
        }

        Execute(_writer, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
        foreach (var (version, name, sql) in Migrations())
        {
            // A script that rebuilds a table others refer to runs with foreign keys off (SQLite cannot
            // turn them off inside a transaction, and dropping the old table would fail its references),
            // and proves before it commits that every reference still holds.
            var rebuild = sql.StartsWith(RebuildMarker, StringComparison.Ordinal);
            if (rebuild)
            {
                Execute(_writer, "PRAGMA foreign_keys=OFF");
            }

            try
            {
                ApplyMigration(version, name, sql, rebuild);
            }
            finally
            {
                if (rebuild)
                {
                    Execute(_writer, "PRAGMA foreign_keys=ON");
                }
            }
        }

        // Before the engine's first batch: the live holds counted once here, then kept by every commit.
        _liveHolds.CountIfUnknown(_writer);
        return Task.CompletedTask;
    }

    /// <summary>The first line of a migration that rebuilds a table other tables refer to.</summary>
    private const string RebuildMarker = "-- rebuilds a table";

    private void ApplyMigration(int version, string name, string sql, bool rebuild)
    {
        {
            using var tx = _writer.BeginTransaction();
            using var check = new SqliteCommand("SELECT COUNT(*) FROM schema_migrations WHERE version = $v", _writer, tx);
            check.Parameters.AddWithValue("$v", version);
            if ((long)check.ExecuteScalar()! > 0)
            {
                return;
            }

            foreach (var (condition, statements) in ConditionalParts(name, sql))
            {
                if (condition is not null)
                {
                    using var test = new SqliteCommand(condition, _writer, tx);
                    if (test.ExecuteScalar() is not 1L)
                    {
                        continue;
                    }
                }

                using var apply = new SqliteCommand(statements, _writer, tx);
                apply.ExecuteNonQuery();
            }

            if (rebuild)
            {
                using var references = new SqliteCommand("PRAGMA foreign_key_check", _writer, tx);
                using var broken = references.ExecuteReader();
                if (broken.Read())
                {
                    throw new InvalidOperationException($"Migration {name} left a reference to a missing row in {broken.GetString(0)}.");
                }
            }

            using var mark = new SqliteCommand("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($v, $n, $t)", _writer, tx);
            mark.Parameters.AddWithValue("$v", version);
            mark.Parameters.AddWithValue("$n", name);
            mark.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            mark.ExecuteNonQuery();
            tx.Commit();
        }
    }

    /// <summary>
    /// A script's parts in order, each with the query that decides whether it runs (null: always).
    /// SQLite has no ADD COLUMN IF NOT EXISTS nor a conditional block, so a script that must work on
    /// schemas that differ (018, which repairs databases migrated by edited scripts) says so in
    /// comments, run in the migration's own transaction:
    /// <code>
    /// -- when: SELECT NOT EXISTS (SELECT 1 FROM pragma_table_info('capacities') WHERE name = 'sale_edge_at')
    /// ALTER TABLE capacities ADD COLUMN sale_edge_at INTEGER;
    /// -- end when
    /// </code>
    /// The part between runs only when the query answers 1. Parts do not nest.
    /// </summary>
    internal static List<(string? Condition, string Sql)> ConditionalParts(string name, string sql)
    {
        const string When = "-- when:", End = "-- end when";
        var parts = new List<(string?, string)>();
        var current = new System.Text.StringBuilder();
        string? condition = null;
        foreach (var line in sql.Split('\n'))
        {
            var trimmed = line.Trim();
            if (trimmed.StartsWith(When, StringComparison.Ordinal) || trimmed == End)
            {
                var opens = trimmed != End;
                if (opens == condition is not null)
                {
                    throw new InvalidOperationException($"Migration {name}: '{trimmed}' {(opens ? "inside another '-- when:'" : "without a '-- when:'")}.");
                }

                parts.Add((condition, current.ToString()));
                current.Clear();
                condition = opens ? trimmed[When.Length..].Trim() : null;
                continue;
            }

            current.Append(line).Append('\n');
        }

        if (condition is not null)
        {
            throw new InvalidOperationException($"Migration {name}: a '-- when:' has no '-- end when'.");
        }

        parts.Add((null, current.ToString()));
        parts.RemoveAll(p => string.IsNullOrWhiteSpace(p.Item2));
        return parts;
    }

    private static IReadOnlyList<(int Version, string Name, string Sql)> Migrations() => MigrationScripts.Load(typeof(SqliteStore).Assembly);

    public async Task<bool> IsReadyAsync(CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand("SELECT MAX(version) FROM schema_migrations", c);
        return cmd.ExecuteScalar() is long v && v >= LatestVersion;
    }

    public Task<IWriteTransaction> BeginWriteAsync(CancellationToken ct)
    {
        _tx.Begin();
        return Task.FromResult<IWriteTransaction>(_tx);
    }

    /// <summary>Never: one writer owns the file, so no other batch holds a lock this one waits for.</summary>
    public bool IsLockConflict(Exception failure) => false;

    public bool TryGetCommittedCapacities(IReadOnlyList<Guid> ids, List<CapacityNode> rows) => _capacities.TryGetCommitted(ids, rows);

    public Task<IReadOnlyList<CapacityNode>> GetCapacitiesAsync(Guid tenantId, IReadOnlyCollection<Guid> ids, CancellationToken ct)
    {
        if (_capacities.TryGetClosure(tenantId, ids, out var cached))
        {
            return Task.FromResult<IReadOnlyList<CapacityNode>>(cached);
        }

        var generation = _capacities.Generation;
        return Read(reader =>
        {
            // "+tenant_id" keeps SQLite on the primary key: on the plain column it picks the tenant's
            // index and scans every capacity of the tenant for each read.
            var cmd = reader.Get($"SELECT {CapacityColumns} FROM capacities WHERE +tenant_id = $t AND id IN (SELECT value FROM json_each($ids))", null, "$t", "$ids");
            cmd.Parameters[0].Value = Id(tenantId);
            cmd.Parameters[1].Value = IdArray(ids);
            var nodes = ReadCapacities(cmd);
            LoadAncestors(reader.Get(SelectCapacities, null, "$ids"), nodes);
            _capacities.Offer(nodes, generation);
            return (IReadOnlyList<CapacityNode>)nodes;
        });
    }

    private const string SalesSums = "SUM(held), SUM(confirmed), SUM(released), SUM(expired), SUM(cancelled), SUM(reclaimed)";

    private static SalesFlows ReadFlows(SqliteDataReader r, int at) => r.IsDBNull(at) ? default
        : new(r.GetInt64(at), r.GetInt64(at + 1), r.GetInt64(at + 2), r.GetInt64(at + 3), r.GetInt64(at + 4), r.GetInt64(at + 5));

    // Unprepared: the capacity filter varies, and a figures read is an organiser's, not the hot path.
    public Task<SalesRead> ReadSalesAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid>? capacityIds, long fromMinute, long toMinute, CancellationToken ct) => Read(reader =>
    {
        using var tx = reader.Connection.BeginTransaction(deferred: true);
        var filter = capacityIds is null ? "" : " AND capacity_id IN (SELECT value FROM json_each($ids))";
        SqliteCommand Query(string sql)
        {
            var cmd = new SqliteCommand(sql, reader.Connection, tx);
            cmd.Parameters.AddWithValue("$t", Id(tenantId));
            cmd.Parameters.AddWithValue("$e", eventId);
            cmd.Parameters.AddWithValue("$from", fromMinute);
            cmd.Parameters.AddWithValue("$to", toMinute);
            if (capacityIds is not null)
            {
                cmd.Parameters.AddWithValue("$ids", IdArray(capacityIds));
            }

            return cmd;
        }

        SalesFlows before;
        using (var cmd = Query($"SELECT {SalesSums} FROM sales_minutes WHERE tenant_id = $t AND event_id = $e AND minute < $from{filter}"))
        using (var r = cmd.ExecuteReader())
        {
            r.Read();
            before = ReadFlows(r, 0);
        }

        var minutes = new List<(long, SalesFlows)>();
        using (var cmd = Query($"SELECT minute, {SalesSums} FROM sales_minutes WHERE tenant_id = $t AND event_id = $e AND minute >= $from AND minute < $to{filter} GROUP BY minute ORDER BY minute"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                minutes.Add((r.GetInt64(0), ReadFlows(r, 1)));
            }
        }

        var times = new Dictionary<int, long>();
        using (var cmd = Query($"SELECT bucket, SUM(count) FROM confirm_times WHERE tenant_id = $t AND event_id = $e AND minute >= $from AND minute < $to{filter} GROUP BY bucket"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                times[r.GetInt32(0)] = r.GetInt64(1);
            }
        }

        tx.Commit();
        return new SalesRead(before, minutes, times);
    });

    public Task<EventRead> ReadEventAsync(Guid tenantId, string eventId, int? soonestHolds, CancellationToken ct) => Read(reader =>
    {
        // One deferred read transaction: in WAL mode it sees one committed state from its first SELECT
        // to its end, so the capacities, the ancestors, the allocations and the holds agree.
        using var tx = reader.Connection.BeginTransaction(deferred: true);
        var cmd = reader.Get($"SELECT {CapacityColumns} FROM capacities WHERE tenant_id = $t AND event_id = $e ORDER BY created_at, id", tx, "$t", "$e");
        cmd.Parameters[0].Value = Id(tenantId);
        cmd.Parameters[1].Value = eventId;
        var nodes = ReadCapacities(cmd);
        var own = nodes.ConvertAll(n => n.Id);
        var hasAllocations = nodes.Exists(n => n.AllocationCount > 0);
        LoadAncestors(reader.Get(SelectCapacities, tx, "$ids"), nodes);

        List<Allocation>? allocations = null;
        if (hasAllocations)
        {
            var allocationsCmd = reader.Get($"SELECT {AllocationColumns} FROM allocations WHERE tenant_id = $t AND event_id = $e ORDER BY created_at, id", tx, "$t", "$e");
            allocationsCmd.Parameters[0].Value = Id(tenantId);
            allocationsCmd.Parameters[1].Value = eventId;
            allocations = ReadAllocations(allocationsCmd);
        }

        var holds = soonestHolds is not { } limit ? null
            : own.Count == 0 ? new HoldSummary(0, [])
            : ReadActiveHolds(reader, tx, tenantId, eventId, limit);
        tx.Commit();
        return new EventRead(nodes, allocations, holds);
    });

    /// <summary>
    /// The tenant's active holds on the event: how many, and the <paramref name="limit"/> that expire
    /// soonest. Holds whose first item is on the event are found by its status index (migration 017),
    /// which holds each one's expiry, so the count and the soonest come from the index and only those
    /// rows are read (SQLite is told the index: the one of all active holds by expiry would spare it a
    /// sort and read every other event's first); carts that reach it through a later item by
    /// reservation_events; no hold is in both.
    /// </summary>
    private static HoldSummary ReadActiveHolds(StatementCache reader, SqliteTransaction tx, Guid tenantId, string eventId, int limit)
    {
        const string Own = "FROM reservations INDEXED BY reservations_event_status WHERE tenant_id = $t AND event_id = $e AND status = 0";
        const string Others = "FROM reservations WHERE status = 0 AND id IN (SELECT reservation_id FROM reservation_events WHERE tenant_id = $t AND event_id = $e)";
        var count = reader.Get($"SELECT (SELECT COUNT(*) {Own}) + (SELECT COUNT(*) {Others})", tx, "$t", "$e");
        count.Parameters[0].Value = Id(tenantId);
        count.Parameters[1].Value = eventId;
        var active = (long)count.ExecuteScalar()!;

        var soonest = reader.Get(
            $"SELECT * FROM (SELECT {ReservationColumns} FROM reservations WHERE rowid IN (SELECT rowid {Own} ORDER BY expires_at LIMIT $limit)) "
            + $"UNION ALL SELECT * FROM (SELECT {ReservationColumns} {Others} ORDER BY expires_at LIMIT $limit) ORDER BY expires_at LIMIT $limit",
            tx, "$t", "$e", "$limit");
        soonest.Parameters[0].Value = Id(tenantId);
        soonest.Parameters[1].Value = eventId;
        soonest.Parameters[2].Value = limit;
        var holds = new List<Reservation>();
        using (var r = soonest.ExecuteReader())
        {
            while (r.Read())
            {
                holds.Add(ReadReservation(r));
            }
        }

        return new HoldSummary(active, holds);
    }

    public Task<Reservation?> GetReservationAsync(Guid tenantId, Guid id, CancellationToken ct) => Read<Reservation?>(reader =>
    {
        var cmd = reader.Get($"SELECT {ReservationColumns} FROM reservations WHERE id = $id AND tenant_id = $t", null, "$id", "$t");
        cmd.Parameters[0].Value = Id(id);
        cmd.Parameters[1].Value = Id(tenantId);
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadReservation(r) : null;
    });

    public async Task<IReadOnlyList<EventSummary>> GetEventsAsync(Guid tenantId, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(
            "SELECT event_id, COUNT(*), MIN(created_at) FROM capacities WHERE tenant_id = $t GROUP BY event_id ORDER BY MIN(created_at), event_id", c);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        using var r = cmd.ExecuteReader();
        var events = new List<EventSummary>();
        while (r.Read())
        {
            events.Add(new EventSummary(r.GetString(0), r.GetInt32(1), Time(r.GetInt64(2))));
        }

        return events;
    }

    public async Task<IReadOnlyDictionary<Guid, long>> GetLiveHoldsByTenantAsync(CancellationToken ct)
    {
        if (_liveHolds.Snapshot() is { } kept)
        {
            return kept;
        }

        // Not counted yet (before the migration), or again (after a failed COMMIT, until the next commit).
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        return LiveHoldCounts.Count(c);
    }

    public async Task<IdempotencyRecord?> GetIdempotencyRecordAsync(IdempotencyKey key, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(SqliteWriteTransaction.IdempotencyByKey, c);
        cmd.Parameters.AddWithValue("$t", Id(key.TenantId));
        cmd.Parameters.AddWithValue("$k", key.Key);
        using var r = cmd.ExecuteReader();
        return r.Read() ? SqliteWriteTransaction.IdempotencyRow(r) : null;
    }

    public async Task<(long Active, DateTimeOffset? OldestExpiry)> GetHoldStatsAsync(CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        if (_liveHolds.Total is { } active)
        {
            // The soonest expiry is the first entry of the due index: a lookup, not a scan.
            using var soonest = new SqliteCommand("SELECT MIN(expires_at) FROM reservations WHERE status = 0", c);
            return (active, soonest.ExecuteScalar() is long ms ? Time(ms) : null);
        }

        using var cmd = new SqliteCommand("SELECT COUNT(*), MIN(expires_at) FROM reservations WHERE status = 0", c);
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.IsDBNull(1) ? null : Time(r.GetInt64(1)));
    }

    public Task<PriceEntry?> GetPriceAsync(Guid tenantId, Guid id, CancellationToken ct) => Read(reader =>
    {
        var cmd = reader.Get($"SELECT {PriceColumns} FROM pricing WHERE id = $id AND tenant_id = $t", null, "$id", "$t");
        cmd.Parameters[0].Value = Id(id);
        cmd.Parameters[1].Value = Id(tenantId);
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadPrice(r) : null;
    });

    public async Task<IReadOnlyList<PriceEntry>> GetPricesAsync(Guid tenantId, Guid capacityId, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {PriceColumns} FROM pricing WHERE capacity_id = $c AND tenant_id = $t ORDER BY created_at, id", c);
        cmd.Parameters.AddWithValue("$c", Id(capacityId));
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        using var r = cmd.ExecuteReader();
        var prices = new List<PriceEntry>();
        while (r.Read())
        {
            prices.Add(ReadPrice(r));
        }

        return prices;
    }

    public async Task<Allocation?> GetAllocationAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {AllocationColumns} FROM allocations WHERE id = $id AND tenant_id = $t", c);
        cmd.Parameters.AddWithValue("$id", Id(id));
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        return ReadAllocations(cmd) is [var allocation] ? allocation : null;
    }

    public async Task<IReadOnlyList<Allocation>> GetAllocationsAsync(Guid tenantId, Guid capacityId, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {AllocationColumns} FROM allocations WHERE capacity_id = $c AND tenant_id = $t ORDER BY created_at, id", c);
        cmd.Parameters.AddWithValue("$c", Id(capacityId));
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        return ReadAllocations(cmd);
    }

    public async Task<BuyerLimit?> GetBuyerLimitAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {LimitColumns} FROM buyer_limits WHERE id = $id AND tenant_id = $t", c);
        cmd.Parameters.AddWithValue("$id", Id(id));
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        return ReadLimits(cmd) is [var limit] ? limit : null;
    }

    public async Task<IReadOnlyList<BuyerLimit>> GetBuyerLimitsAsync(Guid tenantId, string eventId, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {LimitColumns} FROM buyer_limits WHERE tenant_id = $t AND event_id = $e ORDER BY created_at, id", c);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        cmd.Parameters.AddWithValue("$e", eventId);
        return ReadLimits(cmd);
    }

    public async Task<WaitlistEntry?> GetWaitlistEntryAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {EntryColumns} FROM waitlist_entries WHERE id = $id AND tenant_id = $t", c);
        cmd.Parameters.AddWithValue("$id", Id(id));
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        return ReadEntries(cmd) is [var entry] ? entry : null;
    }

    public async Task<long?> GetWaitlistPositionAsync(WaitlistEntry entry, CancellationToken ct)
    {
        if (entry.Status != WaitlistStatus.Waiting)
        {
            return null;
        }

        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(
            "SELECT COUNT(DISTINCT l.entry_id) FROM waitlist_lines l JOIN waitlist_entries e ON e.id = l.entry_id "
            + "WHERE l.capacity_id IN (SELECT value FROM json_each($ids)) AND l.sequence < $s AND e.status = 0", c);
        cmd.Parameters.AddWithValue("$ids", IdArray(entry.Items.Select(i => i.CapacityId)));
        cmd.Parameters.AddWithValue("$s", entry.Sequence);
        return 1 + (long)cmd.ExecuteScalar()!;
    }

    public async Task<IReadOnlyList<WaitlistEntry>> GetWaitlistAsync(Guid tenantId, Guid capacityId, long afterSequence, int limit, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(
            $"SELECT {Of(EntryColumns, "e")} FROM waitlist_lines l JOIN waitlist_entries e ON e.id = l.entry_id "
            + "WHERE l.capacity_id = $c AND l.sequence > $after AND e.tenant_id = $t ORDER BY l.sequence, l.entry_id LIMIT $limit", c);
        cmd.Parameters.AddWithValue("$c", Id(capacityId));
        cmd.Parameters.AddWithValue("$after", afterSequence);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        cmd.Parameters.AddWithValue("$limit", limit);
        return ReadEntries(cmd);
    }

    public async Task<IReadOnlyList<Reservation>> ListReservationsAsync(ReservationQuery q, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(
            ReservationSearch.Sql(q.EventId is not null, q.ExternalRef is not null, q.BuyerKey is not null, q.Status, q.Before is not null, sqlite: true), c);
        cmd.Parameters.AddWithValue("@t", Id(q.TenantId));
        cmd.Parameters.AddWithValue("@now", Time(q.Now));
        cmd.Parameters.AddWithValue("@limit", q.Limit);
        if (q.EventId is { } eventId)
        {
            cmd.Parameters.AddWithValue("@event", eventId);
        }

        if (q.ExternalRef is { } reference)
        {
            cmd.Parameters.AddWithValue("@ref", reference);
        }

        if (q.BuyerKey is { } buyer)
        {
            cmd.Parameters.AddWithValue("@buyer", buyer);
        }

        if (q.Before is { } before)
        {
            cmd.Parameters.AddWithValue("@before_at", Time(before.CreatedAt));
            cmd.Parameters.AddWithValue("@before_id", Id(before.Id));
        }
        using var r = cmd.ExecuteReader();
        var page = new List<Reservation>();
        while (r.Read())
        {
            page.Add(ReadReservation(r));
        }

        return page;
    }

    public async Task<long> GetBuyerUsageAsync(Guid tenantId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct)
    {
        // From the writer's memory where it has every capacity (those a limit covers, once a hold there
        // was checked): the file's answer adds up the capacity's usage log, which a busy writer does not
        // fold and which has no index by buyer.
        if (_usage.Sum(tenantId, capacityIds, buyerKey) is { } remembered)
        {
            return remembered;
        }

        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(
            "SELECT COALESCE(SUM(used), 0) FROM (SELECT used FROM buyer_usage WHERE tenant_id = $t AND buyer_key = $k AND capacity_id IN (SELECT value FROM json_each($ids)) "
            + "UNION ALL SELECT delta FROM buyer_usage_log WHERE tenant_id = $t AND buyer_key = $k AND capacity_id IN (SELECT value FROM json_each($ids)))", c);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        cmd.Parameters.AddWithValue("$k", buyerKey);
        cmd.Parameters.AddWithValue("$ids", IdArray(capacityIds));
        return (long)cmd.ExecuteScalar()!;
    }

    public async Task<long> GetBuyerWaitingAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct)
    {
        // The event's waiting entries (an index of its own), that buyer's among them: few, summed here.
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand("SELECT items FROM waitlist_entries WHERE tenant_id = $t AND event_id = $e AND status = 0 AND buyer_key = $k", c);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        cmd.Parameters.AddWithValue("$e", eventId);
        cmd.Parameters.AddWithValue("$k", buyerKey);
        using var r = cmd.ExecuteReader();
        var lines = new List<string>();
        while (r.Read())
        {
            lines.Add(r.GetString(0));
        }

        return WaitingOn(lines, capacityIds);
    }

    public Task<IReadOnlyList<Guid>> GetDueAllocationsAsync(DateTimeOffset now, int limit, CancellationToken ct) =>
        DueIdsAsync("SELECT id FROM allocations WHERE status = 0 AND expires_at IS NOT NULL AND expires_at <= $now ORDER BY expires_at, id LIMIT $limit", now, limit, ct);

    public Task<IReadOnlyList<Guid>> GetDueSaleEdgesAsync(DateTimeOffset now, int limit, CancellationToken ct) =>
        DueIdsAsync("SELECT id FROM capacities WHERE sale_edge_at IS NOT NULL AND sale_edge_at <= $now ORDER BY sale_edge_at, id LIMIT $limit", now, limit, ct);

    public Task<IReadOnlyList<Guid>> GetWaitingEventCapacitiesAsync(int limit, CancellationToken ct) =>
        DueIdsAsync("SELECT MIN(id) FROM capacities WHERE waiting_units > 0 GROUP BY tenant_id, event_id LIMIT $limit", null, limit, ct);

    private async Task<IReadOnlyList<Guid>> DueIdsAsync(string sql, DateTimeOffset? now, int limit, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(sql, c);
        if (now is { } at)
        {
            cmd.Parameters.AddWithValue("$now", Time(at));
        }

        cmd.Parameters.AddWithValue("$limit", limit);
        using var r = cmd.ExecuteReader();
        var due = new List<Guid>();
        while (r.Read())
        {
            due.Add(Id(r.GetString(0)));
        }

        return due;
    }

    public async Task<IReadOnlyList<LedgerRow>> GetLedgerAsync(Guid tenantId, string eventId, long after, int limit, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        // Chunks whose last entry is past the cursor, read until the page is full.
        using var cmd = new SqliteCommand(
            "SELECT last_seq, count, entries FROM ledger_chunks WHERE tenant_id = $t AND event_id = $e AND last_seq > $after ORDER BY last_seq LIMIT $limit", c);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        cmd.Parameters.AddWithValue("$e", eventId);
        cmd.Parameters.AddWithValue("$after", after);
        cmd.Parameters.AddWithValue("$limit", limit);
        using var r = cmd.ExecuteReader();
        var rows = new List<LedgerRow>();
        while (rows.Count < limit && r.Read())
        {
            LedgerChunks.Decode(tenantId, eventId, r.GetInt64(0), r.GetInt32(1), r.GetFieldValue<byte[]>(2), after, limit, rows, static (seq, entry) => new LedgerRow(seq, entry));
        }

        return rows;
    }

    private static readonly string SelectKeyByHash =
        $"SELECT {Of(ApiKeyColumns, "k")}, t.disabled_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = $h";

    public Task<StoredKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct) => Read(reader =>
    {
        var cmd = reader.Get(SelectKeyByHash, null, "$h");
        cmd.Parameters[0].Value = keyHash;
        using var r = cmd.ExecuteReader();
        return r.Read() ? new StoredKey(ReadApiKey(r), !r.IsDBNull(10)) : null;
    });

    public Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct) => Read(reader =>
    {
        var cmd = reader.Get("SELECT " + TenantColumns + " FROM tenants WHERE id = $id", null, "$id");
        cmd.Parameters[0].Value = Id(tenantId);
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadTenant(r) : null;
    });

    public async Task<IReadOnlyList<Tenant>> GetTenantsAsync(CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {TenantColumns} FROM tenants ORDER BY created_at, id", c);
        using var r = cmd.ExecuteReader();
        var tenants = new List<Tenant>();
        while (r.Read())
        {
            tenants.Add(ReadTenant(r));
        }

        return tenants;
    }

    public async Task<IReadOnlyList<ApiKey>> GetApiKeysAsync(Guid tenantId, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = $t ORDER BY created_at, id", c);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        using var r = cmd.ExecuteReader();
        var keys = new List<ApiKey>();
        while (r.Read())
        {
            keys.Add(ReadApiKey(r));
        }

        return keys;
    }

    /// <summary>A row of <see cref="TableColumns.TenantColumns"/>.</summary>
    internal static Tenant ReadTenant(SqliteDataReader r) =>
        new(Id(r.GetString(0)), r.GetString(1), Time(r.GetInt64(2)), r.IsDBNull(3) ? null : Time(r.GetInt64(3)));

    /// <summary>A row of <see cref="TableColumns.ApiKeyColumns"/>.</summary>
    internal static ApiKey ReadApiKey(SqliteDataReader r) => new(
        Id(r.GetString(0)), (byte[])r.GetValue(1), Id(r.GetString(2)), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
        (KeyScope)r.GetInt64(5), Time(r.GetInt64(6)), NullableTime(r, 7), NullableTime(r, 8), NullableTime(r, 9));

    private static DateTimeOffset? NullableTime(SqliteDataReader r, int column) => r.IsDBNull(column) ? null : Time(r.GetInt64(column));

    public async Task<IReadOnlyList<DueHold>> GetDueReservationsAsync(DateTimeOffset now, int limit, DueHold? after, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand(
            "SELECT id, expires_at FROM reservations WHERE status = 0 AND expires_at <= $now "
            + (after is null ? "" : "AND (expires_at, id) > ($e, $id) ")
            + "ORDER BY expires_at, id LIMIT $limit", c);
        cmd.Parameters.AddWithValue("$now", Time(now));
        cmd.Parameters.AddWithValue("$limit", limit);
        if (after is { } a)
        {
            cmd.Parameters.AddWithValue("$e", Time(a.ExpiresAt));
            cmd.Parameters.AddWithValue("$id", Id(a.Id));
        }

        using var r = cmd.ExecuteReader();
        var due = new List<DueHold>();
        while (r.Read())
        {
            due.Add(new DueHold(Id(r.GetString(0)), Time(r.GetInt64(1))));
        }

        return due;
    }

    public async Task<AuditData> ReadAuditDataAsync(CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);

        // One read transaction: in WAL mode it sees a single committed state, so the reads agree.
        using var tx = c.BeginTransaction(deferred: true);
        using var nodesCmd = new SqliteCommand($"SELECT {CapacityColumns} FROM capacities", c, tx);
        var nodes = ReadCapacities(nodesCmd);

        using var resCmd = new SqliteCommand($"SELECT {ReservationColumns} FROM reservations WHERE status IN (0, 1)", c, tx);
        // Summed as they are read, not kept: a million holds would otherwise sit in memory at once.
        var holds = new HoldSums();
        using (var r = resCmd.ExecuteReader())
        {
            while (r.Read())
            {
                holds.Add(ReadReservation(r));
            }
        }

        using var sumCmd = new SqliteCommand("SELECT entries FROM ledger_chunks", c, tx);
        var sums = new Dictionary<Guid, (long, long)>();
        using (var r = sumCmd.ExecuteReader())
        {
            while (r.Read())
            {
                LedgerChunks.Sum(r.GetFieldValue<byte[]>(0), sums);
            }
        }

        var misnumbered = new List<MisnumberedLedger>();
        using (var cmd = new SqliteCommand(LedgerChunks.AuditNumbering, c, tx))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                misnumbered.Add(new MisnumberedLedger(Id(r.GetString(0)), r.GetString(1), r.GetInt64(2), r.GetInt64(3)));
            }
        }

        using var allocationsCmd = new SqliteCommand($"SELECT {AllocationColumns} FROM allocations", c, tx);
        var allocations = ReadAllocations(allocationsCmd);

        // A buyer's usage is its row plus what the usage log holds for it (capacities no limit covers).
        // A capacity has one tenant, so its buyers' rows group by capacity and key alone.
        using var usageCmd = new SqliteCommand(
            "SELECT capacity_id, buyer_key, SUM(used) FROM (SELECT capacity_id, buyer_key, used FROM buyer_usage "
            + "UNION ALL SELECT capacity_id, buyer_key, delta FROM buyer_usage_log) GROUP BY capacity_id, buyer_key", c, tx);
        var usage = new BuyerTally();
        using (var r = usageCmd.ExecuteReader())
        {
            while (r.Read())
            {
                usage.Add(Id(r.GetString(0)), r.GetString(1), r.GetInt64(2));
            }
        }

        using var limitsCmd = new SqliteCommand($"SELECT {LimitColumns} FROM buyer_limits", c, tx);
        var limits = ReadLimits(limitsCmd);

        // Every entry waiting or offered, and the status of every offer that is active or theirs.
        using var entriesCmd = new SqliteCommand($"SELECT {EntryColumns} FROM waitlist_entries WHERE status IN (0, 1)", c, tx);
        var entries = ReadEntries(entriesCmd);
        using var offersCmd = new SqliteCommand(
            "SELECT r.id, r.status FROM reservations r WHERE r.waitlist_id IS NOT NULL AND (r.status = 0 OR r.id IN (SELECT offer_reservation_id FROM waitlist_entries WHERE status IN (0, 1)))",
            c, tx);
        var offers = new Dictionary<Guid, ReservationStatus>();
        using (var r = offersCmd.ExecuteReader())
        {
            while (r.Read())
            {
                offers[Id(r.GetString(0))] = (ReservationStatus)r.GetInt32(1);
            }
        }

        var outbox = new List<OutboxCounts>();
        using (var cmd = new SqliteCommand(WebhookRows.AuditOutbox, c, tx))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                outbox.Add(new OutboxCounts(Id(r.GetString(0)), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)));
            }
        }

        using var orphans = new SqliteCommand(WebhookRows.AuditOrphans, c, tx);
        var orphaned = (long)orphans.ExecuteScalar()!;

        var sales = new Dictionary<Guid, SalesFlows>();
        using (var cmd = new SqliteCommand($"SELECT capacity_id, {SalesSums} FROM sales_minutes GROUP BY capacity_id", c, tx))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                sales[Id(r.GetString(0))] = ReadFlows(r, 1);
            }
        }

        tx.Commit();
        // No usage-log capacities to hold to the rows: on SQLite every change of a buyer's usage goes to
        // the log, a limit or not (UsageMap), and the usage above is rows plus log.
        return new AuditData(nodes, holds, sums, misnumbered, allocations, usage, limits, entries, offers, new OutboxAudit(outbox, orphaned), sales, []);
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        while (_readers.TryTake(out var reader))
        {
            reader.Dispose();
            reader.Connection.Dispose();
        }

        _tx.DisposeCommands();
        _writer.Dispose();
        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
        _lock.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Runs a read on a rented connection with prepared statements, and returns it.</summary>
    private Task<T> Read<T>(Func<StatementCache, T> read)
    {
        if (!_readers.TryTake(out var reader))
        {
            var connection = new SqliteConnection(_connectionString);
            connection.Open();
            reader = new StatementCache(connection);
        }

        try
        {
            return Task.FromResult(read(reader));
        }
        finally
        {
            if (_disposed || _readers.Count >= MaxIdleReaders)
            {
                reader.Dispose();
                reader.Connection.Dispose();
            }
            else
            {
                _readers.Add(reader);
            }
        }
    }

    private async Task<SqliteConnection> OpenReadAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct).ConfigureAwait(false);
        return c;
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = new SqliteCommand(sql, c);
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// Adds every ancestor not yet in <paramref name="nodes"/>, level by level, with
    /// <paramref name="byIds"/>: a prepared <see cref="SelectCapacities"/>.
    /// </summary>
    internal static void LoadAncestors(SqliteCommand byIds, List<CapacityNode> nodes)
    {
        var known = nodes.Select(n => n.Id).ToHashSet();
        var missing = nodes.SelectMany(n => n.ParentIds).Where(known.Add).ToList();
        while (missing.Count > 0)
        {
            byIds.Parameters[0].Value = IdArray(missing);
            var found = ReadCapacities(byIds);
            nodes.AddRange(found);
            missing = found.SelectMany(n => n.ParentIds).Where(known.Add).ToList();
        }
    }

    internal static List<CapacityNode> ReadCapacities(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var nodes = new List<CapacityNode>();
        while (r.Read())
        {
            nodes.Add(new CapacityNode
            {
                Id = Id(r.GetString(0)),
                TenantId = Id(r.GetString(1)),
                EventId = r.GetString(2),
                ScheduleId = r.IsDBNull(3) ? null : r.GetString(3),
                SectionName = r.GetString(4),
                SectionCode = r.IsDBNull(5) ? null : r.GetString(5),
                Total = r.IsDBNull(6) ? null : r.GetInt32(6),
                ParentIds = Ids(r.GetString(7)),
                IsActive = r.GetInt64(8) != 0,
                Reserved = r.GetInt64(9),
                Sold = r.GetInt64(10),
                CreatedAt = Time(r.GetInt64(11)),
                UpdatedAt = Time(r.GetInt64(12)),
                AllocationCount = r.GetInt32(13),
                LimitIds = Ids(r.GetString(14)),
                Waitlist = Waitlist(r.IsDBNull(15) ? null : r.GetString(15)),
                WaitingUnits = r.GetInt64(16),
                QueueDemand = r.GetInt64(17),
                OfferedUnits = r.GetInt64(18),
                Sale = Sale(r.IsDBNull(19) ? null : r.GetString(19)),
            });
        }

        return nodes;
    }

    internal static Reservation ReadReservation(SqliteDataReader r) => new(
        Id(r.GetString(0)),
        Id(r.GetString(1)),
        (ReservationStatus)r.GetInt32(2),
        Items(r.GetString(3)),
        Time(r.GetInt64(4)),
        Time(r.GetInt64(5)),
        r.IsDBNull(6) ? null : Time(r.GetInt64(6)),
        r.IsDBNull(7) ? null : Time(r.GetInt64(7)),
        r.IsDBNull(8) ? null : r.GetString(8),
        r.IsDBNull(9) ? null : Id(r.GetString(9)),
        Labels(r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)));

    /// <summary>The same row through the C API (the writer's point lookups); valid until the statement steps or resets.</summary>
    internal static Reservation ReadReservation(RawStatement r) => new(
        r.Guid(0),
        r.Guid(1),
        (ReservationStatus)r.Int64(2),
        Items(r.Bytes(3)),
        Time(r.Int64(4)),
        Time(r.Int64(5)),
        r.IsNull(6) ? null : Time(r.Int64(6)),
        r.IsNull(7) ? null : Time(r.Int64(7)),
        r.Text(8),
        r.IsNull(9) ? null : r.Guid(9),
        r.IsNull(10) && r.IsNull(11) ? null : Labels(r.Text(10), r.Text(11)));

    internal static WaitlistEntry ReadEntry(SqliteDataReader r) => new()
    {
        Id = Id(r.GetString(0)),
        TenantId = Id(r.GetString(1)),
        EventId = r.GetString(2),
        Items = Lines(r.GetString(3)),
        BuyerKey = r.IsDBNull(4) ? null : r.GetString(4),
        ExternalRef = r.IsDBNull(5) ? null : r.GetString(5),
        Sequence = r.GetInt64(6),
        Status = (WaitlistStatus)r.GetInt32(7),
        OfferReservationId = r.IsDBNull(8) ? null : Id(r.GetString(8)),
        CreatedAt = Time(r.GetInt64(9)),
        UpdatedAt = Time(r.GetInt64(10)),
        LapsedReason = r.IsDBNull(11) ? null : (WaitlistLapse)r.GetInt32(11),
    };

    internal static List<WaitlistEntry> ReadEntries(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var entries = new List<WaitlistEntry>();
        while (r.Read())
        {
            entries.Add(ReadEntry(r));
        }

        return entries;
    }

    internal static Allocation ReadAllocation(SqliteDataReader r) => new()
    {
        Id = Id(r.GetString(0)),
        TenantId = Id(r.GetString(1)),
        CapacityId = Id(r.GetString(2)),
        EventId = r.GetString(3),
        Name = r.GetString(4),
        Size = r.GetInt64(5),
        Held = r.GetInt64(6),
        Sold = r.GetInt64(7),
        ExpiresAt = r.IsDBNull(8) ? null : Time(r.GetInt64(8)),
        Status = (AllocationStatus)r.GetInt32(9),
        CreatedAt = Time(r.GetInt64(10)),
        UpdatedAt = Time(r.GetInt64(11)),
    };

    internal static List<Allocation> ReadAllocations(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var allocations = new List<Allocation>();
        while (r.Read())
        {
            allocations.Add(ReadAllocation(r));
        }

        return allocations;
    }

    internal static List<BuyerLimit> ReadLimits(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var limits = new List<BuyerLimit>();
        while (r.Read())
        {
            limits.Add(new BuyerLimit
            {
                Id = Id(r.GetString(0)),
                TenantId = Id(r.GetString(1)),
                EventId = r.GetString(2),
                Name = r.GetString(3),
                CapacityIds = Ids(r.GetString(4)),
                PerBuyerMax = r.GetInt32(5),
                RequireBuyerKey = r.GetInt64(6) != 0,
                CreatedAt = Time(r.GetInt64(7)),
                UpdatedAt = Time(r.GetInt64(8)),
            });
        }

        return limits;
    }

    internal static PriceEntry ReadPrice(SqliteDataReader r) => new(
        Id(r.GetString(0)),
        Id(r.GetString(1)),
        Id(r.GetString(2)),
        r.GetString(3),
        Money(r.GetString(4)),
        r.IsDBNull(5) ? null : Money(r.GetString(5)),
        Money(r.GetString(6)),
        Money(r.GetString(7)),
        Money(r.GetString(8)),
        r.GetString(9),
        Time(r.GetInt64(10)),
        Time(r.GetInt64(11)));

    internal const string SelectCapacities = $"SELECT {CapacityColumns} FROM capacities WHERE id IN (SELECT value FROM json_each($ids))";
    internal const string SelectReservation = $"SELECT {ReservationColumns} FROM reservations WHERE id = ?1";
    internal const string SelectPrices = $"SELECT {PriceColumns} FROM pricing WHERE id IN (SELECT value FROM json_each($ids))";
    internal const string SelectAllocations = $"SELECT {AllocationColumns} FROM allocations WHERE id IN (SELECT value FROM json_each($ids))";
}

using System.Data;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Storage;
using Npgsql;
using static Capacity.Storage.RowFormat;
using static Capacity.Storage.TableColumns;

namespace Capacity.Storage.Postgres;

/// <summary>
/// PostgreSQL, for several server nodes on one database. Each node's engine still batches; across
/// nodes, correctness comes from row locks taken in one global order (reservations, then capacities,
/// then prices, each by ascending id), so batches on different nodes queue behind each other on a hot
/// pool instead of deadlocking. It has no <see cref="ICommittedRows"/>: other nodes write the same
/// rows, so what this one saw last may be stale.
/// </summary>
public sealed partial class PostgresStore : IWriteStore, IReadStore, IWebhookStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>The engine's write transactions' own pool, whose sessions plan prepared statements once (<see cref="ForWriter"/>).</summary>
    private readonly NpgsqlDataSource _writeSource;

    public PostgresStore(string connectionString)
    {
        var settings = WithDefaults(connectionString);
        _dataSource = NpgsqlDataSource.Create(settings);
        _writeSource = NpgsqlDataSource.Create(ForWriter(settings));
    }

    /// <summary>
    /// The connection string of the write transactions' sessions, unless it names the setting itself:
    /// <list type="bullet">
    /// <item><c>plan_cache_mode=force_generic_plan</c>: PostgreSQL plans a prepared statement afresh on
    /// every execution while a plan for its actual parameters looks cheaper than a generic one, and for
    /// the batch's statements, whose parameters are arrays of ids, it always did (the closure query 0.6 ms
    /// of CPU a batch, more than it took to run, on cores the database shares with the nodes, while
    /// the pool's row lock was held).</item>
    /// <item><c>enable_seqscan=off</c>: a plan made once is kept until the table's statistics change, so
    /// one made while a table was small stayed a scan as it grew (the check that new hold ids are unused
    /// read every hold on every batch until autovacuum analyzed the table). Every statement of a batch
    /// finds its rows by key; the setting only prices scans out, so a statement with no index to use
    /// would still scan.</item>
    /// </list>
    /// Reads keep PostgreSQL's choice: their filters (times, statuses) are where a plan for the actual
    /// values can differ (docs/performance.md, "PostgreSQL: generic plans for the writer"; BatchScaleTests).
    /// </summary>
    public static string ForWriter(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        SetUnlessNamed(builder, "plan_cache_mode", "force_generic_plan");
        SetUnlessNamed(builder, "enable_seqscan", "off");
        return builder.ConnectionString;
    }

    /// <summary>A session setting in the connection's options (<c>-c name=value</c>), unless the options already set it.</summary>
    private static void SetUnlessNamed(NpgsqlConnectionStringBuilder builder, string name, string value)
    {
        if (builder.Options?.Contains($"{name}=", StringComparison.Ordinal) != true)
        {
            builder.Options = $"{builder.Options} -c {name}={value}".Trim();
        }
    }

    /// <summary>The connection string with the store's defaults added where it does not name them itself.</summary>
    public static string WithDefaults(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);

        // Npgsql's ContainsKey says whether it knows a keyword, not whether the string set it, so what
        // was set is read from the string as Npgsql writes it back, under each setting's own name
        // (in whatever case the caller wrote it). Before this, the two timeouts below never applied.
        var named = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = builder.ConnectionString };

        // Fail fast when the database is down: a request should get its 503 within a few seconds, not
        // after the 15 s default connect timeout. Not 1 s: on a busy host a new backend can take longer
        // than that to start, and a node just restarted (or a pool growing under a burst) answered
        // 503 to requests the database would have served (outside test, and the suite under load).
        if (!named.ContainsKey("Timeout"))
        {
            builder.Timeout = 3;
        }

        if (!named.ContainsKey("Command Timeout"))
        {
            builder.CommandTimeout = 10;
        }

        // A batch waiting longer than this for a lock means something is wrong (a stuck node):
        // failing it with a 503 beats holding every caller hostage. Set for the session, not per
        // transaction, so that a batch costs no extra round trip for it; reads take no locks.
        SetUnlessNamed(builder, "lock_timeout", "5s");

        // No JIT compilation of queries: ours are short OLTP statements, and without table statistics the
        // batch's recursive closure query is estimated at about a million rows, over jit_above_cost, so
        // PostgreSQL compiled it on every batch (152 ms of a 438 ms EXPLAIN ANALYZE; a node ran 45-146
        // holds/s until ANALYZE, about 1,000 after). The estimate grows with the table, so statistics alone
        // do not keep it under the threshold.
        SetUnlessNamed(builder, "jit", "off");

        // Statements prepared on each connection once they have run twice (Npgsql's automatic
        // preparation): every statement text here is constant, and PostgreSQL then skips parsing and
        // planning them. Over HTTP, two nodes on one database ran 1.12× the holds a second with it, one
        // node 1.14× (docs/performance.md, "PostgreSQL: statements prepared"): the database shares the
        // machine's cores with the nodes, and a batch plans while it holds its row locks. A connection
        // string that names either setting keeps its own.
        if (!named.ContainsKey("Max Auto Prepare"))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (!named.ContainsKey("Auto Prepare Min Usages"))
        {
            builder.AutoPrepareMinUsages = 2;
        }

        return builder.ConnectionString;
    }

    public static int LatestVersion => Migrations.All.Max(m => m.Version);

    /// <summary>
    /// Applies the versioned scripts under a session advisory lock, so that several nodes starting
    /// at once migrate one at a time and the later ones find nothing left to do.
    /// </summary>
    public Task MigrateAsync(CancellationToken ct) => MigrateAsync(Migrations.All, ct);

    /// <summary>
    /// <see cref="MigrateAsync(CancellationToken)"/> over these scripts. A script that meets a catalog entry
    /// another session is dropping at that moment fails with XX000 "cache lookup failed" (a catalog view
    /// such as information_schema.columns, which 018 reads, looks at every schema of the database, and
    /// other schemas' DDL may be under way: seen with test schemas migrating side by side). Npgsql breaks
    /// the connection on an XX error, taking the lock and the script's transaction with it, so nothing of
    /// the script was applied: the whole run starts again on a new connection (the scripts applied before
    /// it are skipped), up to three times in all.
    /// </summary>
    internal async Task MigrateAsync(IReadOnlyList<(int Version, string Name, string Sql)> scripts, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await MigrateOnceAsync(scripts, ct).ConfigureAwait(false);
                return;
            }
            catch (PostgresException ex) when (attempt < 3 && ex.SqlState == PostgresErrorCodes.InternalError
                && ex.MessageText.StartsWith("cache lookup failed", StringComparison.Ordinal))
            {
            }
        }
    }

    private async Task MigrateOnceAsync(IReadOnlyList<(int Version, string Name, string Sql)> scripts, CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await Execute(c, null, "SELECT pg_advisory_lock(hashtext('capacity-migrations:' || current_schema()))", ct).ConfigureAwait(false);
        try
        {
            // Before anything is written: a database a newer version migrated is left as it is.
            // (Two statements: one naming a table that does not exist yet would not even be planned.)
            await using (var exists = new NpgsqlCommand("SELECT to_regclass('schema_migrations') IS NOT NULL", c))
            {
                if ((bool)(await exists.ExecuteScalarAsync(ct).ConfigureAwait(false))!)
                {
                    await using var newest = new NpgsqlCommand("SELECT max(version) FROM schema_migrations", c);
                    MigrationScripts.RefuseNewer(await newest.ExecuteScalarAsync(ct).ConfigureAwait(false) is int v ? v : null, scripts.Max(m => m.Version));
                }
            }

            await Execute(c, null, "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)", ct).ConfigureAwait(false);
            foreach (var (version, name, sql) in scripts)
            {
                await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
                await using (var check = new NpgsqlCommand("SELECT count(*) FROM schema_migrations WHERE version = @v", c, tx))
                {
                    check.Parameters.AddWithValue("v", version);
                    if ((long)(await check.ExecuteScalarAsync(ct).ConfigureAwait(false))! > 0)
                    {
                        continue;
                    }
                }

                await Execute(c, tx, sql, ct).ConfigureAwait(false);
                await using (var mark = new NpgsqlCommand("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @t)", c, tx))
                {
                    mark.Parameters.AddWithValue("v", version);
                    mark.Parameters.AddWithValue("n", name);
                    mark.Parameters.AddWithValue("t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    await mark.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }

                await tx.CommitAsync(ct).ConfigureAwait(false);
            }
        }
        finally
        {
            // A connection that broke mid-migration took its session's lock with it; unlocking there would
            // only hide the failure that broke it behind "Connection is not open".
            if (c.State == System.Data.ConnectionState.Open)
            {
                await Execute(c, null, "SELECT pg_advisory_unlock(hashtext('capacity-migrations:' || current_schema()))", CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    public async Task<bool> IsReadyAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT max(version) FROM schema_migrations");
        return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) is int v && v >= LatestVersion;
    }

    public async Task<IWriteTransaction> BeginWriteAsync(CancellationToken ct) =>
        await PostgresWriteTransaction.BeginAsync(_writeSource, ct).ConfigureAwait(false);

    /// <summary>
    /// A deadlock PostgreSQL broke by failing this transaction. Batches take their row locks in one
    /// order, save the capacities found late (a tier that opens after one loaded, or those of an entry
    /// that joined a waiting list while the batch loaded), so two nodes' batches can rarely close a cycle.
    /// Also a row the core found missing: a batch reads its rows in more than one statement, and a row
    /// another node committed between two of them (an offer made while this batch's leave loaded the
    /// entry's reservation, then the entry) is seen by the later read only. Decided again in a new
    /// transaction, the batch reads both; on SQLite's single writer this cannot happen, and a missing
    /// row there is a fault that fails its batch.
    /// </summary>
    public bool IsLockConflict(Exception failure) =>
        failure is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected } or Capacity.Core.MissingRowException;

    public async Task<IReadOnlyList<CapacityNode>> GetCapacitiesAsync(Guid tenantId, IReadOnlyCollection<Guid> ids, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(ClosureQuery("WHERE id = ANY(@ids) AND tenant_id = @t"));
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadCapacitiesAsync(cmd, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// In one REPEATABLE READ READ ONLY transaction, whose snapshot (taken at its first query) every
    /// read shares, in at most two round trips and the commit: the capacities with their ancestors
    /// first (they say whether there are allocations to read), then the allocations and the holds
    /// together. Npgsql sends BEGIN with the first batch.
    /// </summary>
    private const string SalesSums = "SUM(held)::bigint, SUM(confirmed)::bigint, SUM(released)::bigint, SUM(expired)::bigint, SUM(cancelled)::bigint, SUM(reclaimed)::bigint";

    private static SalesFlows ReadFlows(NpgsqlDataReader r, int at) => r.IsDBNull(at) ? default
        : new(r.GetInt64(at), r.GetInt64(at + 1), r.GetInt64(at + 2), r.GetInt64(at + 3), r.GetInt64(at + 4), r.GetInt64(at + 5));

    public async Task<SalesRead> ReadSalesAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid>? capacityIds, long fromMinute, long toMinute, CancellationToken ct)
    {
        // One round trip, one snapshot: the three reads agree on which batches they see.
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);
        var filter = capacityIds is null ? "" : " AND capacity_id = ANY($5)";
        NpgsqlBatchCommand Query(string sql)
        {
            var cmd = new NpgsqlBatchCommand(sql);
            cmd.Parameters.Add(new() { Value = tenantId });
            cmd.Parameters.Add(new() { Value = eventId });
            cmd.Parameters.Add(new() { Value = fromMinute });
            cmd.Parameters.Add(new() { Value = toMinute });
            if (capacityIds is not null)
            {
                cmd.Parameters.Add(new() { Value = capacityIds.ToArray() });
            }

            return cmd;
        }

        await using var batch = new NpgsqlBatch(c, tx);
        batch.BatchCommands.Add(Query($"SELECT {SalesSums} FROM sales_minutes WHERE tenant_id = $1 AND event_id = $2 AND minute < $3{filter}"));
        batch.BatchCommands.Add(Query($"SELECT minute, {SalesSums} FROM sales_minutes WHERE tenant_id = $1 AND event_id = $2 AND minute >= $3 AND minute < $4{filter} GROUP BY minute ORDER BY minute"));
        batch.BatchCommands.Add(Query($"SELECT bucket, SUM(count)::bigint FROM confirm_times WHERE tenant_id = $1 AND event_id = $2 AND minute >= $3 AND minute < $4{filter} GROUP BY bucket"));
        await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await r.ReadAsync(ct).ConfigureAwait(false);
        var before = ReadFlows(r, 0);
        await r.NextResultAsync(ct).ConfigureAwait(false);
        var minutes = new List<(long, SalesFlows)>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            minutes.Add((r.GetInt64(0), ReadFlows(r, 1)));
        }

        await r.NextResultAsync(ct).ConfigureAwait(false);
        var times = new Dictionary<int, long>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            times[r.GetInt32(0)] = r.GetInt64(1);
        }

        return new SalesRead(before, minutes, times);
    }

    public async Task<EventRead> ReadEventAsync(Guid tenantId, string eventId, int? soonestHolds, CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);
        List<CapacityNode> nodes;
        await using (var first = new NpgsqlBatch(c, tx))
        {
            first.BatchCommands.Add(new NpgsqlBatchCommand("SET TRANSACTION READ ONLY"));
            first.BatchCommands.Add(BatchCommand(ClosureQuery("WHERE tenant_id = $1 AND event_id = $2") + " ORDER BY created_at, id", tenantId, eventId));
            await using var r = await first.ExecuteReaderAsync(ct).ConfigureAwait(false);
            nodes = await ReadCapacitiesAsync(r, ct).ConfigureAwait(false);
        }

        var own = nodes.Where(n => n.EventId == eventId).ToList();
        var withAllocations = own.Exists(n => n.AllocationCount > 0);
        var withHolds = soonestHolds is not null && own.Count > 0;
        List<Allocation>? allocations = null;
        HoldSummary? holds = soonestHolds is null ? null : new HoldSummary(0, []);
        if (withAllocations || withHolds)
        {
            await using var second = new NpgsqlBatch(c, tx);
            if (withAllocations)
            {
                second.BatchCommands.Add(BatchCommand($"SELECT {AllocationColumns} FROM allocations WHERE tenant_id = $1 AND event_id = $2 ORDER BY created_at, id", tenantId, eventId));
            }

            // The event's active holds by the status index of migration 017, and carts that reach it
            // through a later item by reservation_events (no hold is in both): the cost follows this
            // event's active holds, not all of the tenant's. The index holds each hold's expiry, so the
            // soonest are picked from it before their rows are read.
            const string Own = "FROM reservations WHERE tenant_id = $1 AND event_id = $2 AND status = 0";
            const string Others = "FROM reservations WHERE status = 0 AND id IN (SELECT reservation_id FROM reservation_events WHERE tenant_id = $1 AND event_id = $2)";
            if (withHolds)
            {
                second.BatchCommands.Add(BatchCommand($"SELECT (SELECT count(*) {Own}) + (SELECT count(*) {Others})", tenantId, eventId));
                second.BatchCommands.Add(BatchCommand(
                    $"(SELECT {ReservationColumns} FROM reservations WHERE id IN (SELECT id {Own} ORDER BY expires_at LIMIT $3)) "
                    + $"UNION ALL (SELECT {ReservationColumns} {Others} ORDER BY expires_at LIMIT $3) ORDER BY expires_at LIMIT $3",
                    tenantId, eventId, soonestHolds!.Value));
            }

            await using var r = await second.ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (withAllocations)
            {
                allocations = await ReadAllocationsAsync(r, ct).ConfigureAwait(false);
                await r.NextResultAsync(ct).ConfigureAwait(false);
            }

            if (withHolds)
            {
                await r.ReadAsync(ct).ConfigureAwait(false);
                var active = r.GetInt64(0);
                await r.NextResultAsync(ct).ConfigureAwait(false);
                var soonest = new List<Reservation>();
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    soonest.Add(ReadReservation(r));
                }

                holds = new HoldSummary(active, soonest);
            }
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return new EventRead(nodes, allocations, holds);
    }

    private static NpgsqlBatchCommand BatchCommand(string sql, params object[] values)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        foreach (var v in values)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        return cmd;
    }

    /// <summary>The rows matching <paramref name="where"/> and all their ancestors, in one round trip.</summary>
    private static string ClosureQuery(string where) =>
        $"WITH RECURSIVE c AS (SELECT {CapacityColumns} FROM capacities {where} "
        + $"UNION SELECT {Prefixed("p")} FROM capacities p JOIN c ON p.id = ANY(c.parent_ids)) SELECT {CapacityColumns} FROM c";

    private static string Prefixed(string alias) => string.Join(", ", CapacityColumns.Split(", ").Select(c => $"{alias}.{c}"));

    public async Task<Reservation?> GetReservationAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {ReservationColumns} FROM reservations WHERE id = @id AND tenant_id = @t");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? ReadReservation(r) : null;
    }

    public async Task<IReadOnlyList<EventSummary>> GetEventsAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT event_id, count(*)::int, min(created_at) FROM capacities WHERE tenant_id = @t GROUP BY event_id ORDER BY min(created_at), event_id");
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var events = new List<EventSummary>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            events.Add(new EventSummary(r.GetString(0), r.GetInt32(1), Time(r.GetInt64(2))));
        }

        return events;
    }

    public async Task<IReadOnlyDictionary<Guid, long>> GetLiveHoldsByTenantAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT tenant_id, count(*) FROM reservations WHERE status = 0 GROUP BY tenant_id");
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var counts = new Dictionary<Guid, long>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            counts[r.GetGuid(0)] = r.GetInt64(1);
        }

        return counts;
    }

    public async Task<IdempotencyRecord?> GetIdempotencyRecordAsync(IdempotencyKey key, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(
            $"SELECT {PostgresWriteTransaction.IdempotencyColumns} FROM idempotency i WHERE i.tenant_id = @t AND i.key = @k");
        cmd.Parameters.AddWithValue("t", key.TenantId);
        cmd.Parameters.AddWithValue("k", key.Key);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? PostgresWriteTransaction.IdempotencyRow(r) : null;
    }

    public async Task<(long Active, DateTimeOffset? OldestExpiry)> GetHoldStatsAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT count(*), min(expires_at) FROM reservations WHERE status = 0");
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await r.ReadAsync(ct).ConfigureAwait(false);
        return (r.GetInt64(0), r.IsDBNull(1) ? null : Time(r.GetInt64(1)));
    }

    public async Task<PriceEntry?> GetPriceAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {PriceColumns} FROM pricing WHERE id = @id AND tenant_id = @t");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? ReadPrice(r) : null;
    }

    public async Task<IReadOnlyList<PriceEntry>> GetPricesAsync(Guid tenantId, Guid capacityId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {PriceColumns} FROM pricing WHERE capacity_id = @c AND tenant_id = @t ORDER BY created_at, id");
        cmd.Parameters.AddWithValue("c", capacityId);
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var prices = new List<PriceEntry>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            prices.Add(ReadPrice(r));
        }

        return prices;
    }

    public async Task<Allocation?> GetAllocationAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {AllocationColumns} FROM allocations WHERE id = @id AND tenant_id = @t");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadAllocationsAsync(cmd, ct).ConfigureAwait(false) is [var allocation] ? allocation : null;
    }

    public async Task<IReadOnlyList<Allocation>> GetAllocationsAsync(Guid tenantId, Guid capacityId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {AllocationColumns} FROM allocations WHERE capacity_id = @c AND tenant_id = @t ORDER BY created_at, id");
        cmd.Parameters.AddWithValue("c", capacityId);
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadAllocationsAsync(cmd, ct).ConfigureAwait(false);
    }

    public async Task<BuyerLimit?> GetBuyerLimitAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {LimitColumns} FROM buyer_limits WHERE id = @id AND tenant_id = @t");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadLimitsAsync(cmd, ct).ConfigureAwait(false) is [var limit] ? limit : null;
    }

    public async Task<IReadOnlyList<BuyerLimit>> GetBuyerLimitsAsync(Guid tenantId, string eventId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {LimitColumns} FROM buyer_limits WHERE tenant_id = @t AND event_id = @e ORDER BY created_at, id");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("e", eventId);
        return await ReadLimitsAsync(cmd, ct).ConfigureAwait(false);
    }

    public async Task<long> GetBuyerUsageAsync(Guid tenantId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT COALESCE(SUM(used), 0)::bigint FROM (SELECT used FROM buyer_usage WHERE tenant_id = @t AND buyer_key = @k AND capacity_id = ANY(@ids) "
            + "UNION ALL SELECT delta FROM buyer_usage_log WHERE tenant_id = @t AND buyer_key = @k AND capacity_id = ANY(@ids)) u");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("k", buyerKey);
        cmd.Parameters.AddWithValue("ids", capacityIds.ToArray());
        return (long)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    public async Task<long> GetBuyerWaitingAsync(Guid tenantId, string eventId, IReadOnlyCollection<Guid> capacityIds, string buyerKey, CancellationToken ct)
    {
        // The event's waiting entries (an index of its own), that buyer's among them: few, summed here.
        await using var cmd = _dataSource.CreateCommand("SELECT items FROM waitlist_entries WHERE tenant_id = @t AND event_id = @e AND status = 0 AND buyer_key = @k");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("e", eventId);
        cmd.Parameters.AddWithValue("k", buyerKey);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var lines = new List<string>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            lines.Add(r.GetString(0));
        }

        return WaitingOn(lines, capacityIds);
    }

    public async Task<WaitlistEntry?> GetWaitlistEntryAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {EntryColumns} FROM waitlist_entries WHERE id = @id AND tenant_id = @t");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadEntriesAsync(cmd, ct).ConfigureAwait(false) is [var entry] ? entry : null;
    }

    public async Task<long?> GetWaitlistPositionAsync(WaitlistEntry entry, CancellationToken ct)
    {
        if (entry.Status != WaitlistStatus.Waiting)
        {
            return null;
        }

        await using var cmd = _dataSource.CreateCommand(
            "SELECT COUNT(DISTINCT l.entry_id) FROM waitlist_lines l JOIN waitlist_entries e ON e.id = l.entry_id "
            + "WHERE l.capacity_id = ANY(@ids) AND l.sequence < @s AND e.status = 0");
        cmd.Parameters.AddWithValue("ids", entry.Items.Select(i => i.CapacityId).ToArray());
        cmd.Parameters.AddWithValue("s", entry.Sequence);
        return 1 + (long)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    public async Task<IReadOnlyList<WaitlistEntry>> GetWaitlistAsync(Guid tenantId, Guid capacityId, long afterSequence, int limit, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(
            $"SELECT {Of(EntryColumns, "e")} FROM waitlist_lines l JOIN waitlist_entries e ON e.id = l.entry_id "
            + "WHERE l.capacity_id = @c AND l.sequence > @after AND e.tenant_id = @t ORDER BY l.sequence, l.entry_id LIMIT @limit");
        cmd.Parameters.AddWithValue("c", capacityId);
        cmd.Parameters.AddWithValue("after", afterSequence);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("limit", limit);
        return await ReadEntriesAsync(cmd, ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<Reservation>> ListReservationsAsync(ReservationQuery q, CancellationToken ct)
    {
        var sql = ReservationSearch.Sql(q.EventId is not null, q.ExternalRef is not null, q.BuyerKey is not null, q.Status, q.Before is not null);
        await using var cmd = _dataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue("t", q.TenantId);
        cmd.Parameters.AddWithValue("limit", q.Limit);
        if (sql.Contains("@now", StringComparison.Ordinal))
        {
            cmd.Parameters.AddWithValue("now", Time(q.Now));
        }

        if (q.EventId is { } eventId)
        {
            cmd.Parameters.AddWithValue("event", eventId);
        }

        if (q.ExternalRef is { } reference)
        {
            cmd.Parameters.AddWithValue("ref", reference);
        }

        if (q.BuyerKey is { } buyer)
        {
            cmd.Parameters.AddWithValue("buyer", buyer);
        }

        if (q.Before is { } before)
        {
            cmd.Parameters.AddWithValue("before_at", Time(before.CreatedAt));
            cmd.Parameters.AddWithValue("before_id", before.Id);
        }

        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var page = new List<Reservation>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            page.Add(ReadReservation(r));
        }

        return page;
    }

    public Task<IReadOnlyList<Guid>> GetDueAllocationsAsync(DateTimeOffset now, int limit, CancellationToken ct) =>
        DueIdsAsync("SELECT id FROM allocations WHERE status = 0 AND expires_at IS NOT NULL AND expires_at <= @now ORDER BY expires_at, id LIMIT @limit", now, limit, ct);

    public Task<IReadOnlyList<Guid>> GetDueSaleEdgesAsync(DateTimeOffset now, int limit, CancellationToken ct) =>
        DueIdsAsync("SELECT id FROM capacities WHERE sale_edge_at IS NOT NULL AND sale_edge_at <= @now ORDER BY sale_edge_at, id LIMIT @limit", now, limit, ct);

    public Task<IReadOnlyList<Guid>> GetWaitingEventCapacitiesAsync(int limit, CancellationToken ct) =>
        DueIdsAsync("SELECT DISTINCT ON (tenant_id, event_id) id FROM capacities WHERE waiting_units > 0 ORDER BY tenant_id, event_id, id LIMIT @limit", null, limit, ct);

    private async Task<IReadOnlyList<Guid>> DueIdsAsync(string sql, DateTimeOffset? now, int limit, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(sql);
        if (now is { } at)
        {
            cmd.Parameters.AddWithValue("now", Time(at));
        }

        cmd.Parameters.AddWithValue("limit", limit);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var due = new List<Guid>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            due.Add(r.GetGuid(0));
        }

        return due;
    }

    public async Task<IReadOnlyList<LedgerRow>> GetLedgerAsync(Guid tenantId, string eventId, long after, int limit, CancellationToken ct)
    {
        // Chunks whose last entry is past the cursor, read until the page is full.
        await using var cmd = _dataSource.CreateCommand(
            "SELECT last_seq, count, entries FROM ledger_chunks WHERE tenant_id = @t AND event_id = @e AND last_seq > @after ORDER BY last_seq LIMIT @limit");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("e", eventId);
        cmd.Parameters.AddWithValue("after", after);
        cmd.Parameters.AddWithValue("limit", limit);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var rows = new List<LedgerRow>();
        while (rows.Count < limit && await r.ReadAsync(ct).ConfigureAwait(false))
        {
            LedgerChunks.Decode(tenantId, eventId, r.GetInt64(0), r.GetInt32(1), (byte[])r.GetValue(2), after, limit, rows, static (seq, entry) => new LedgerRow(seq, entry));
        }

        return rows;
    }

    private static readonly string SelectKeyByHash =
        $"SELECT {Of(ApiKeyColumns, "k")}, t.disabled_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = @h";

    public async Task<StoredKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(SelectKeyByHash);
        cmd.Parameters.AddWithValue("h", keyHash);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? new StoredKey(ReadApiKey(r), !r.IsDBNull(10)) : null;
    }

    public async Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {TenantColumns} FROM tenants WHERE id = @id");
        cmd.Parameters.AddWithValue("id", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? ReadTenant(r) : null;
    }

    public async Task<IReadOnlyList<Tenant>> GetTenantsAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {TenantColumns} FROM tenants ORDER BY created_at, id");
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var tenants = new List<Tenant>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            tenants.Add(ReadTenant(r));
        }

        return tenants;
    }

    public async Task<IReadOnlyList<ApiKey>> GetApiKeysAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = @t ORDER BY created_at, id");
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var keys = new List<ApiKey>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            keys.Add(ReadApiKey(r));
        }

        return keys;
    }

    /// <summary>A row of <see cref="TableColumns.TenantColumns"/>.</summary>
    internal static Tenant ReadTenant(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), Time(r.GetInt64(2)), NullableTime(r, 3));

    /// <summary>A row of <see cref="TableColumns.ApiKeyColumns"/>.</summary>
    internal static ApiKey ReadApiKey(NpgsqlDataReader r) => new(
        r.GetGuid(0), (byte[])r.GetValue(1), r.GetGuid(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
        (KeyScope)r.GetInt16(5), Time(r.GetInt64(6)), NullableTime(r, 7), NullableTime(r, 8), NullableTime(r, 9));

    private static DateTimeOffset? NullableTime(NpgsqlDataReader r, int column) => r.IsDBNull(column) ? null : Time(r.GetInt64(column));

    public async Task<IReadOnlyList<DueHold>> GetDueReservationsAsync(DateTimeOffset now, int limit, DueHold? after, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT id, expires_at FROM reservations WHERE status = 0 AND expires_at <= @now "
            + (after is null ? "" : "AND (expires_at, id) > (@e, @id) ")
            + "ORDER BY expires_at, id LIMIT @limit");
        cmd.Parameters.AddWithValue("now", Time(now));
        cmd.Parameters.AddWithValue("limit", limit);
        if (after is { } a)
        {
            cmd.Parameters.AddWithValue("e", Time(a.ExpiresAt));
            cmd.Parameters.AddWithValue("id", a.Id);
        }

        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var due = new List<DueHold>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            due.Add(new DueHold(r.GetGuid(0), Time(r.GetInt64(1))));
        }

        return due;
    }

    public async Task<AuditData> ReadAuditDataAsync(CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);

        // One snapshot for all the reads, so they agree with each other while other nodes write.
        await using var tx = await c.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);
        await using var nodesCmd = new NpgsqlCommand($"SELECT {CapacityColumns} FROM capacities", c, tx);
        var nodes = await ReadCapacitiesAsync(nodesCmd, ct).ConfigureAwait(false);

        // Summed as they are read, not kept: a million holds would otherwise sit in memory at once.
        var holds = new HoldSums();
        await using (var resCmd = new NpgsqlCommand($"SELECT {ReservationColumns} FROM reservations WHERE status IN (0, 1)", c, tx))
        await using (var r = await resCmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                holds.Add(ReadReservation(r));
            }
        }

        var sums = new Dictionary<Guid, (long, long)>();
        await using (var sumCmd = new NpgsqlCommand("SELECT entries FROM ledger_chunks", c, tx))
        await using (var r = await sumCmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                LedgerChunks.Sum((byte[])r.GetValue(0), sums);
            }
        }

        var misnumbered = new List<MisnumberedLedger>();
        await using (var cmd = new NpgsqlCommand(LedgerChunks.AuditNumbering, c, tx))
        await using (var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                misnumbered.Add(new MisnumberedLedger(r.GetGuid(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3)));
            }
        }

        await using var allocationsCmd = new NpgsqlCommand($"SELECT {AllocationColumns} FROM allocations", c, tx);
        var allocations = await ReadAllocationsAsync(allocationsCmd, ct).ConfigureAwait(false);
        // A buyer's usage is its row plus what the usage log holds for it (capacities no limit covers).
        // A capacity has one tenant, so its buyers' rows group by capacity and key alone.
        await using var usageCmd = new NpgsqlCommand(
            "SELECT capacity_id, buyer_key, SUM(used)::bigint FROM (SELECT capacity_id, buyer_key, used FROM buyer_usage "
            + "UNION ALL SELECT capacity_id, buyer_key, delta FROM buyer_usage_log) u GROUP BY capacity_id, buyer_key", c, tx);
        var usage = new BuyerTally();
        await using (var r = await usageCmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                usage.Add(r.GetGuid(0), r.GetString(1), r.GetInt64(2));
            }
        }

        var logged = new HashSet<Guid>();
        await using (var loggedCmd = new NpgsqlCommand("SELECT DISTINCT capacity_id FROM buyer_usage_log", c, tx))
        await using (var r = await loggedCmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                logged.Add(r.GetGuid(0));
            }
        }

        await using var limitsCmd = new NpgsqlCommand($"SELECT {LimitColumns} FROM buyer_limits", c, tx);
        var limits = await ReadLimitsAsync(limitsCmd, ct).ConfigureAwait(false);

        // Every entry waiting or offered, and the status of every offer that is active or theirs.
        await using var entriesCmd = new NpgsqlCommand($"SELECT {EntryColumns} FROM waitlist_entries WHERE status IN (0, 1)", c, tx);
        var entries = await ReadEntriesAsync(entriesCmd, ct).ConfigureAwait(false);
        var offers = new Dictionary<Guid, ReservationStatus>();
        await using (var offersCmd = new NpgsqlCommand(
            "SELECT r.id, r.status FROM reservations r WHERE r.waitlist_id IS NOT NULL "
            + "AND (r.status = 0 OR r.id IN (SELECT offer_reservation_id FROM waitlist_entries WHERE status IN (0, 1)))", c, tx))
        await using (var r = await offersCmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                offers[r.GetGuid(0)] = (ReservationStatus)r.GetInt16(1);
            }
        }

        var outbox = new List<OutboxCounts>();
        await using (var cmd = new NpgsqlCommand(WebhookRows.AuditOutbox, c, tx))
        await using (var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                outbox.Add(new OutboxCounts(r.GetGuid(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)));
            }
        }

        await using var orphans = new NpgsqlCommand(WebhookRows.AuditOrphans, c, tx);
        var orphaned = (long)(await orphans.ExecuteScalarAsync(ct).ConfigureAwait(false))!;

        var sales = new Dictionary<Guid, SalesFlows>();
        await using (var cmd = new NpgsqlCommand($"SELECT capacity_id, {SalesSums} FROM sales_minutes GROUP BY capacity_id", c, tx))
        await using (var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                sales[r.GetGuid(0)] = ReadFlows(r, 1);
            }
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return new AuditData(nodes, holds, sums, misnumbered, allocations, usage, limits, entries, offers, new OutboxAudit(outbox, orphaned), sales, logged);
    }

    public async ValueTask DisposeAsync()
    {
        await _writeSource.DisposeAsync().ConfigureAwait(false);
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task Execute(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, c, tx);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    internal static async Task<List<CapacityNode>> ReadCapacitiesAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await ReadCapacitiesAsync(r, ct).ConfigureAwait(false);
    }

    internal static async Task<List<BuyerLimit>> ReadLimitsAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var limits = new List<BuyerLimit>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            limits.Add(new BuyerLimit
            {
                Id = r.GetGuid(0),
                TenantId = r.GetGuid(1),
                EventId = r.GetString(2),
                Name = r.GetString(3),
                CapacityIds = r.GetFieldValue<Guid[]>(4),
                PerBuyerMax = r.GetInt32(5),
                RequireBuyerKey = r.GetBoolean(6),
                CreatedAt = Time(r.GetInt64(7)),
                UpdatedAt = Time(r.GetInt64(8)),
            });
        }

        return limits;
    }

    internal static async Task<List<BuyerUsage>> ReadUsageAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await ReadUsageAsync(r, ct).ConfigureAwait(false);
    }

    /// <summary>Usage rows as (capacity_id, buyer_key, tenant_id, used), from the reader's current result.</summary>
    internal static async Task<List<BuyerUsage>> ReadUsageAsync(NpgsqlDataReader r, CancellationToken ct)
    {
        var usage = new List<BuyerUsage>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            usage.Add(new BuyerUsage { CapacityId = r.GetGuid(0), BuyerKey = r.GetString(1), TenantId = r.GetGuid(2), Used = r.GetInt64(3) });
        }

        return usage;
    }

    internal static async Task<List<Allocation>> ReadAllocationsAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await ReadAllocationsAsync(r, ct).ConfigureAwait(false);
    }

    /// <summary>The allocations of the reader's current result.</summary>
    internal static async Task<List<Allocation>> ReadAllocationsAsync(NpgsqlDataReader r, CancellationToken ct)
    {
        var allocations = new List<Allocation>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            allocations.Add(new Allocation
            {
                Id = r.GetGuid(0),
                TenantId = r.GetGuid(1),
                CapacityId = r.GetGuid(2),
                EventId = r.GetString(3),
                Name = r.GetString(4),
                Size = r.GetInt64(5),
                Held = r.GetInt64(6),
                Sold = r.GetInt64(7),
                ExpiresAt = r.IsDBNull(8) ? null : Time(r.GetInt64(8)),
                Status = (AllocationStatus)r.GetInt16(9),
                CreatedAt = Time(r.GetInt64(10)),
                UpdatedAt = Time(r.GetInt64(11)),
            });
        }

        return allocations;
    }

    internal static async Task<List<CapacityNode>> ReadCapacitiesAsync(NpgsqlDataReader r, CancellationToken ct)
    {
        var nodes = new List<CapacityNode>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            nodes.Add(new CapacityNode
            {
                Id = r.GetGuid(0),
                TenantId = r.GetGuid(1),
                EventId = r.GetString(2),
                ScheduleId = r.IsDBNull(3) ? null : r.GetString(3),
                SectionName = r.GetString(4),
                SectionCode = r.IsDBNull(5) ? null : r.GetString(5),
                Total = r.IsDBNull(6) ? null : r.GetInt32(6),
                ParentIds = r.GetFieldValue<Guid[]>(7),
                IsActive = r.GetBoolean(8),
                Reserved = r.GetInt64(9),
                Sold = r.GetInt64(10),
                CreatedAt = Time(r.GetInt64(11)),
                UpdatedAt = Time(r.GetInt64(12)),
                AllocationCount = r.GetInt32(13),
                LimitIds = r.GetFieldValue<Guid[]>(14),
                Waitlist = Waitlist(r.IsDBNull(15) ? null : r.GetString(15)),
                WaitingUnits = r.GetInt64(16),
                QueueDemand = r.GetInt64(17),
                OfferedUnits = r.GetInt64(18),
                Sale = Sale(r.IsDBNull(19) ? null : r.GetString(19)),
            });
        }

        return nodes;
    }

    internal static Reservation ReadReservation(NpgsqlDataReader r) => new(
        r.GetGuid(0),
        r.GetGuid(1),
        (ReservationStatus)r.GetInt16(2),
        Items(r.GetString(3)),
        Time(r.GetInt64(4)),
        Time(r.GetInt64(5)),
        r.IsDBNull(6) ? null : Time(r.GetInt64(6)),
        r.IsDBNull(7) ? null : Time(r.GetInt64(7)),
        r.IsDBNull(8) ? null : r.GetString(8),
        r.IsDBNull(9) ? null : r.GetGuid(9),
        Labels(r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)));

    internal static async Task<List<WaitlistEntry>> ReadEntriesAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var entries = new List<WaitlistEntry>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            entries.Add(new WaitlistEntry
            {
                Id = r.GetGuid(0),
                TenantId = r.GetGuid(1),
                EventId = r.GetString(2),
                Items = Lines(r.GetString(3)),
                BuyerKey = r.IsDBNull(4) ? null : r.GetString(4),
                ExternalRef = r.IsDBNull(5) ? null : r.GetString(5),
                Sequence = r.GetInt64(6),
                Status = (WaitlistStatus)r.GetInt16(7),
                OfferReservationId = r.IsDBNull(8) ? null : r.GetGuid(8),
                CreatedAt = Time(r.GetInt64(9)),
                UpdatedAt = Time(r.GetInt64(10)),
                LapsedReason = r.IsDBNull(11) ? null : (WaitlistLapse)r.GetInt16(11),
            });
        }

        return entries;
    }

    internal static PriceEntry ReadPrice(NpgsqlDataReader r) => new(
        r.GetGuid(0),
        r.GetGuid(1),
        r.GetGuid(2),
        r.GetString(3),
        r.GetDecimal(4),
        r.IsDBNull(5) ? null : r.GetDecimal(5),
        r.GetDecimal(6),
        r.GetDecimal(7),
        r.GetDecimal(8),
        r.GetString(9),
        Time(r.GetInt64(10)),
        Time(r.GetInt64(11)));
}

internal static class Migrations
{
    public static readonly IReadOnlyList<(int Version, string Name, string Sql)> All = MigrationScripts.Load(typeof(Migrations).Assembly);
}

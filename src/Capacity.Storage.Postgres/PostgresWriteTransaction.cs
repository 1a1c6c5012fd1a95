using Capacity.Core;
using Capacity.Engine;
using Capacity.Storage;
using Npgsql;
using NpgsqlTypes;
using static Capacity.Storage.Postgres.PostgresStore;
using static Capacity.Storage.RowFormat;
using static Capacity.Storage.TableColumns;

namespace Capacity.Storage.Postgres;

/// <summary>
/// One engine batch on PostgreSQL. Locks follow one global order (idempotency keys are only tried,
/// never waited for, before any row) so that batches of different nodes wait for each other but never deadlock:
/// reservations, allocations, capacities with all their ancestors, buyer limits, prices, tenants, API
/// keys, each by ascending id, FOR UPDATE, and last the webhook endpoints and deliveries a batch changes. Buyer usage rows are read after the locks that guard them (see migration 006).
/// Decisions are made against the locked rows; writes go out as one batch of set-based statements.
/// </summary>
internal sealed partial class PostgresWriteTransaction : IWriteTransaction
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _tx;

    /// <summary>The batch's tenants' endpoints came with the capacities' round trip.</summary>
    private bool _endpointsRead;

    /// <summary>COMMIT went out as the last statement of the writes' round trip.</summary>
    private bool _committed;

    private PostgresWriteTransaction(NpgsqlConnection connection, NpgsqlTransaction tx)
    {
        _connection = connection;
        _tx = tx;
    }

    public static async Task<PostgresWriteTransaction> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            // Npgsql sends BEGIN with the batch's first statement, so it costs no round trip of its
            // own; lock_timeout is a session setting of every connection (PostgresStore). READ
            // COMMITTED by name, whatever the database's default_transaction_isolation: a batch that
            // waited for another's lock must then read what that one committed (an event's count of
            // capacities, its ledger's last number), which a snapshot taken before the wait would not
            // show, and PostgreSQL would fail the batch as a serialization conflict (MultiEngineTests).
            var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, ct).ConfigureAwait(false);
            return new PostgresWriteTransaction(connection, tx);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// In the global lock order: reservations (which name more capacities and allocations), then
    /// allocations (which name more capacities), capacities with their ancestors (and a look at ids
    /// about to be created, in the same round trip), prices, tenants, API keys.
    /// </summary>
    public async Task LoadAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        var capacityIds = new HashSet<Guid>(keys.Capacities);
        var loaded = new HashSet<Guid>();
        await LockEventSizesAsync(keys, ws, ct).ConfigureAwait(false);
        await LockEndpointGuardsAsync(keys, ct).ConfigureAwait(false);
        await LockReservationsAsync(keys, ws, capacityIds, loaded, ct).ConfigureAwait(false);
        await LockAllocationsAsync(keys, ws, capacityIds, ct).ConfigureAwait(false);
        await AddLimitCapacitiesAsync(keys, capacityIds, ct).ConfigureAwait(false);
        await AddEntryCapacitiesAsync(keys, capacityIds, ct).ConfigureAwait(false);
        await AddEndpointTenantCapacitiesAsync(keys, capacityIds, ct).ConfigureAwait(false);
        var limitIds = new HashSet<Guid>(keys.Limits);
        await LockCapacitiesAsync(keys, ws, capacityIds, loaded, limitIds, ct).ConfigureAwait(false);
        await LockTiersAsync(ws, limitIds, ct).ConfigureAwait(false);
        await LoadEntriesAsync(keys, ws, ct).ConfigureAwait(false);
        await LoadQueuesAsync(keys, ws, limitIds, ct).ConfigureAwait(false);
        await LockLimitsAsync(limitIds, ws, ct).ConfigureAwait(false);
        await LoadUsageAsync(keys, ws, ct).ConfigureAwait(false);
        await LockPricesAsync(keys, ws, ct).ConfigureAwait(false);
        await LockTenantsAsync(keys, ws, ct).ConfigureAwait(false);
        await LockKeysAsync(keys, ws, ct).ConfigureAwait(false);
        await LoadWebhooksAsync(keys, ws, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Advisory locks held to the commit, one per distinct (tenant, text) pair of the arrays $1 (uuid[])
    /// and $2 (text[]) under <paramref name="kind"/>, taken in hash order, so two batches over the same
    /// pairs never wait on each other in a cycle: an event's capacity count, its ledger numbering.
    /// </summary>
    private static string PairLocks(string kind) =>
        $"SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended('{kind}:' || t::text || ':' || k, 0) AS h "
        + "FROM unnest($1::uuid[], $2::text[]) AS u(t, k) ORDER BY h) s";

    /// <summary>
    /// The number of capacities of each event a bounded create names, counted under a lock per event
    /// that every such count takes and holds to its commit: two nodes' creates in one event take turns,
    /// and each counts what the other committed (READ COMMITTED: the count begins after the lock is
    /// held). Taken first, before any row lock, and only by batches that create under a bound, so no
    /// other lock is held while waiting for it; in one order (by hash) when a batch names several events.
    /// </summary>
    private async Task LockEventSizesAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        if (keys.EventSizes.Count == 0)
        {
            return;
        }

        var tenants = keys.EventSizes.Select(k => k.TenantId).ToArray();
        var events = keys.EventSizes.Select(k => k.EventId).ToArray();
        await using var batch = new NpgsqlBatch(_connection, _tx);
        var locks = new NpgsqlBatchCommand(PairLocks("capacities"));
        locks.Parameters.Add(new() { Value = tenants });
        locks.Parameters.Add(new() { Value = events });
        batch.BatchCommands.Add(locks);
        var counts = new NpgsqlBatchCommand(
            "SELECT u.t, u.e, (SELECT count(*) FROM capacities c WHERE c.tenant_id = u.t AND c.event_id = u.e)::integer "
            + "FROM unnest($1::uuid[], $2::text[]) AS u(t, e)");
        counts.Parameters.Add(new() { Value = tenants });
        counts.Parameters.Add(new() { Value = events });
        batch.BatchCommands.Add(counts);
        await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await r.NextResultAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            ws.LoadEventSize(r.GetGuid(0), r.GetString(1), r.GetInt32(2));
        }
    }

    private async Task LockReservationsAsync(LoadKeys keys, WorkingSet ws, HashSet<Guid> capacityIds, HashSet<Guid> loaded, CancellationToken ct)
    {
        if (keys.Reservations.Count > 0)
        {
            await LoadReservationsAsync($"SELECT {ReservationColumns} FROM reservations WHERE id = ANY(@ids) ORDER BY id FOR UPDATE", keys.Reservations, keys, ws, capacityIds, loaded, ct).ConfigureAwait(false);
        }

        var candidates = keys.ExpiryCandidates.Where(id => !loaded.Contains(id)).ToArray();
        if (candidates.Length > 0)
        {
            // Another node sweeping the same holds has them locked: skip them rather than wait, and
            // leave them to that node. That is what lets every node sweep without double work.
            await LoadReservationsAsync(
                $"SELECT {ReservationColumns} FROM reservations WHERE id = ANY(@ids) AND status = 0 ORDER BY id FOR UPDATE SKIP LOCKED",
                candidates, keys, ws, capacityIds, loaded, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Locked, not skipped: two nodes closing the same expired allocation queue behind each other, and
    /// the second finds it closed, so its idle units are given back once.
    /// </summary>
    private async Task LockAllocationsAsync(LoadKeys keys, WorkingSet ws, HashSet<Guid> capacityIds, CancellationToken ct)
    {
        if (keys.Allocations.Count > 0)
        {
            await using var cmd = Command($"SELECT {AllocationColumns} FROM allocations WHERE id = ANY(@ids) ORDER BY id FOR UPDATE");
            cmd.Parameters.AddWithValue("ids", keys.Allocations.ToArray());
            foreach (var allocation in await ReadAllocationsAsync(cmd, ct).ConfigureAwait(false))
            {
                ws.Load(allocation);
                capacityIds.Add(allocation.CapacityId);
            }
        }
    }

    /// <summary>
    /// A lock per tenant between a change of its endpoints (exclusive) and the creation of its
    /// capacities (shared), taken before any row lock, tenant by tenant in id order (every node the
    /// same), and after the event sizes' locks, which only creations take. An endpoint change reads
    /// the tenant's capacities to lock them (<see cref="AddEndpointTenantCapacitiesAsync"/>) once no
    /// capacity of the tenant is being created, and none is created until it commits: a capacity
    /// created on another node meanwhile cannot escape its locks.
    /// </summary>
    private async Task LockEndpointGuardsAsync(LoadKeys keys, CancellationToken ct)
    {
        if (keys.CapacityCreations.Count == 0 && keys.EndpointChanges.Count == 0)
        {
            return;
        }

        foreach (var tenant in keys.CapacityCreations.Union(keys.EndpointChanges).Order())
        {
            var exclusive = keys.EndpointChanges.Contains(tenant);
            await using var cmd = Command(exclusive
                ? "SELECT pg_advisory_xact_lock(hashtextextended('endpoints:' || $1::text, 0))"
                : "SELECT pg_advisory_xact_lock_shared(hashtextextended('endpoints:' || $1::text, 0))");
            cmd.Parameters.Add(new NpgsqlParameter { Value = tenant });
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Every capacity of a tenant whose endpoints the batch creates, changes or deletes, to be locked
    /// with the rest in id order. A batch that changes tickets reads the tenant's endpoints after it
    /// holds its capacities' locks and keeps them to its commit, so with these held the two take
    /// turns: an endpoint acknowledged as created is sent a notice of every change that commits after
    /// it, and one acknowledged as deleted is written none. Read under the tenant's endpoint guard
    /// (<see cref="LockEndpointGuardsAsync"/>), so no capacity of the tenant is being created meanwhile.
    /// </summary>
    private async Task AddEndpointTenantCapacitiesAsync(LoadKeys keys, HashSet<Guid> capacityIds, CancellationToken ct)
    {
        if (keys.EndpointChanges.Count > 0)
        {
            await using var cmd = Command("SELECT id FROM capacities WHERE tenant_id = ANY($1)");
            cmd.Parameters.Add(new() { Value = keys.EndpointChanges.ToArray() });
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                capacityIds.Add(r.GetGuid(0));
            }
        }
    }

    /// <summary>A named limit's capacities, read without a lock: they never change, and the capacities come next in the lock order.</summary>
    private async Task AddLimitCapacitiesAsync(LoadKeys keys, HashSet<Guid> capacityIds, CancellationToken ct)
    {
        if (keys.Limits.Count > 0)
        {
            await using var cmd = Command("SELECT capacity_ids FROM buyer_limits WHERE id = ANY(@ids)");
            cmd.Parameters.AddWithValue("ids", keys.Limits.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                capacityIds.UnionWith(r.GetFieldValue<Guid[]>(0));
            }
        }
    }

    /// <summary>
    /// A named entry's capacities, read without a lock: an entry's lines never change, and an entry
    /// itself changes only under the locks of all its capacities, which come next.
    /// </summary>
    private async Task AddEntryCapacitiesAsync(LoadKeys keys, HashSet<Guid> capacityIds, CancellationToken ct)
    {
        if (keys.Waitlist.Count > 0)
        {
            await using var cmd = Command("SELECT capacity_ids FROM waitlist_entries WHERE id = ANY(@ids)");
            cmd.Parameters.AddWithValue("ids", keys.Waitlist.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                capacityIds.UnionWith(r.GetFieldValue<Guid[]>(0));
            }
        }
    }

    /// <summary>Named entries, read under their capacities' locks.</summary>
    private async Task LoadEntriesAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        if (keys.Waitlist.Count > 0)
        {
            await using var cmd = Command($"SELECT {EntryColumns} FROM waitlist_entries WHERE id = ANY(@ids)");
            cmd.Parameters.AddWithValue("ids", keys.Waitlist.ToArray());
            var entries = await PostgresStore.ReadEntriesAsync(cmd, ct).ConfigureAwait(false);
            foreach (var entry in entries)
            {
                ws.Load(entry);
            }

            keys.AddBuyersOf(entries);
        }
    }

    /// <summary>
    /// Every waiting entry of each event whose list the batch may walk (<see cref="LoadKeys.QueueEvents"/>),
    /// read under the locks of all their capacities: the capacity query already locked the
    /// capacities of the entries waiting when it ran. An entry that joined between that query's
    /// snapshot and its locks may name a capacity not yet locked; those are locked here, after the
    /// others (the only place locks are taken out of order, and PostgreSQL breaks the rare deadlock
    /// that can follow by failing one batch, which is answered 503 and applies nothing).
    /// </summary>
    private async Task LoadQueuesAsync(LoadKeys keys, WorkingSet ws, HashSet<Guid> limitIds, CancellationToken ct)
    {
        var events = keys.QueueEvents(ws, ws.Capacities);
        foreach (var (tenantId, eventId) in events)
        {
            await using var cmd = Command($"SELECT {EntryColumns} FROM waitlist_entries WHERE tenant_id = @t AND event_id = @e AND status = 0 ORDER BY sequence");
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.AddWithValue("e", eventId);
            var waiting = await PostgresStore.ReadEntriesAsync(cmd, ct).ConfigureAwait(false);
            await using var last = Command("SELECT COALESCE(MAX(sequence), 0) FROM waitlist_entries WHERE tenant_id = @t AND event_id = @e");
            last.Parameters.AddWithValue("t", tenantId);
            last.Parameters.AddWithValue("e", eventId);
            var lastSequence = (long)(await last.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
            var missing = waiting.SelectMany(e => e.Items).Select(i => i.CapacityId).Where(id => ws.FindCapacity(id) is null).ToHashSet();
            if (missing.Count > 0)
            {
                await using var more = Command(
                    $"SELECT {CapacityColumns} FROM capacities WHERE id = ANY(ARRAY({ClosureOf("@ids")})) ORDER BY id FOR UPDATE");
                more.Parameters.AddWithValue("ids", missing.ToArray());
                foreach (var node in await PostgresStore.ReadCapacitiesAsync(more, ct).ConfigureAwait(false))
                {
                    ws.Load(node);
                    limitIds.UnionWith(node.LimitIds);
                }
            }

            ws.LoadWaitlist(tenantId, eventId, waiting, lastSequence);
            keys.AddBuyersOf(waiting);
        }
    }

    /// <summary>
    /// The tiers that open after a loaded capacity that has not sold out, locked after the others (like
    /// the capacities of a late-loaded queue, and with the same rare deadlock answered 503), so that
    /// the batch that sells the earlier tier out opens them in its own transaction, once, on any node.
    /// </summary>
    private async Task LockTiersAsync(WorkingSet ws, HashSet<Guid> limitIds, CancellationToken ct)
    {
        for (var tiers = ws.UnloadedTiers(); tiers.Count > 0; tiers = ws.UnloadedTiers(tiers))
        {
            await using var more = Command($"SELECT {CapacityColumns} FROM capacities WHERE id = ANY(ARRAY({ClosureOf("@ids")})) ORDER BY id FOR UPDATE");
            more.Parameters.AddWithValue("ids", tiers.ToArray());
            foreach (var node in await PostgresStore.ReadCapacitiesAsync(more, ct).ConfigureAwait(false))
            {
                ws.Load(node);
                limitIds.UnionWith(node.LimitIds);
            }
        }
    }

    /// <summary>
    /// The ids of these capacities and all their ancestors, as a subquery over <paramref name="ids"/>,
    /// for <c>id = ANY(ARRAY(...))</c>: the rows are then found by key, whatever the planner makes of the subquery.
    /// </summary>
    private static string ClosureOf(string ids) =>
        $"WITH RECURSIVE c AS (SELECT id, parent_ids FROM capacities WHERE id = ANY({ids}) "
        + "UNION SELECT p.id, p.parent_ids FROM capacities p JOIN c ON p.id = ANY(c.parent_ids)) SELECT id FROM c";

    /// <summary>
    /// Named limits and those covering a loaded capacity, locked after the capacities: every hold on a
    /// covered capacity takes its limit's lock, so a hold reading a buyer's usage on the limit's other
    /// capacities waits for any batch writing it.
    /// </summary>
    private async Task LockLimitsAsync(HashSet<Guid> limitIds, WorkingSet ws, CancellationToken ct)
    {
        if (limitIds.Count > 0)
        {
            await using var cmd = Command($"SELECT {LimitColumns} FROM buyer_limits WHERE id = ANY(@ids) ORDER BY id FOR UPDATE");
            cmd.Parameters.AddWithValue("ids", limitIds.ToArray());
            foreach (var limit in await ReadLimitsAsync(cmd, ct).ConfigureAwait(false))
            {
                ws.Load(limit);
            }
        }
    }

    private async Task LoadUsageAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        ws.EveryUsageRead = keys.CreatesLimits;
        if (keys.Buyers.Count == 0 && keys.LimitCapacities.Count == 0)
        {
            return;
        }

        var wanted = keys.Buyers.Count == 0 ? [] : keys.UsageKeys(ws);
        if (keys.CreatesLimits)
        {
            // As the SQLite writer: a limit created in this batch counts every ticket its capacities'
            // buyers hold, so what was appended to the usage log while no limit covered them is added
            // into the rows (updated where a row is, inserted where none is: an insert's CHECK would see
            // a negative change before the conflict) and the log emptied, before any row is read; and
            // so are the logs of the other capacities whose rows the batch reads, which it writes back
            // whole. The batch holds the capacities' locks, which every batch appending to their log holds.
            await FoldLogsAsync([.. keys.LimitCapacities, .. wanted.Select(w => w.CapacityId)], ct).ConfigureAwait(false);
        }

        if (wanted.Count == 0)
        {
            return;
        }

        await using var cmd = Command(UsageByPairs);
        cmd.Parameters.Add(new() { Value = wanted.Select(w => w.CapacityId).ToArray() });
        cmd.Parameters.Add(new() { Value = wanted.Select(w => w.BuyerKey).ToArray() });
        foreach (var usage in await ReadUsageAsync(cmd, ct).ConfigureAwait(false))
        {
            ws.Load(usage);
        }
    }

    private async Task FoldLogsAsync(HashSet<Guid> capacityIds, CancellationToken ct)
    {
        await using var fold = Command(FoldUsageLog);
        fold.Parameters.Add(new() { Value = capacityIds.ToArray() });
        await fold.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The usage log of the capacities in $1 added into their buyers' rows, and removed.</summary>
    private const string FoldUsageLog = "WITH folded AS (DELETE FROM buyer_usage_log WHERE capacity_id = ANY($1) " + FoldFolded;

    /// <summary>
    /// The oldest $2 entries of capacity $1's usage log (by the number each was given when written)
    /// added into their buyers' rows and removed; its one row is how many. The caller holds the
    /// capacity's lock, as every batch that appends to or folds its log does.
    /// </summary>
    private const string FoldUsageLogSlice =
        "WITH folded AS (DELETE FROM buyer_usage_log WHERE capacity_id = $1 AND seq = ANY(ARRAY(SELECT seq FROM buyer_usage_log WHERE capacity_id = $1 ORDER BY seq LIMIT $2)) "
        + FoldFolded;

    /// <summary>
    /// The rest of a fold, after its DELETE: the entries' sums added into the rows where a row is, a row
    /// inserted where none is (never for a sum below 0: the holds that made it made the row), and how
    /// many entries were folded.
    /// </summary>
    private const string FoldFolded =
        "RETURNING capacity_id, buyer_key, tenant_id, delta), "
        + "sums AS (SELECT capacity_id, buyer_key, tenant_id, SUM(delta)::bigint AS delta FROM folded GROUP BY capacity_id, buyer_key, tenant_id), "
        + "updated AS (UPDATE buyer_usage u SET used = u.used + s.delta FROM sums s WHERE u.capacity_id = s.capacity_id AND u.buyer_key = s.buyer_key RETURNING u.capacity_id, u.buyer_key), "
        + "inserted AS (INSERT INTO buyer_usage (capacity_id, buyer_key, tenant_id, used) SELECT s.capacity_id, s.buyer_key, s.tenant_id, s.delta FROM sums s "
        + "WHERE s.delta <> 0 AND NOT EXISTS (SELECT 1 FROM updated x WHERE x.capacity_id = s.capacity_id AND x.buyer_key = s.buyer_key) RETURNING 1) "
        + "SELECT count(*) FROM folded";

    public async Task<int> FoldUsageLogAsync(int max, CancellationToken ct)
    {
        // The first of the smallest eight capacity ids with entries (found by skipping along the log's
        // index, not by reading it) that no batch holds, locked as a batch locks it: a capacity a batch
        // of this node's or another's holds is passed over rather than waited for, so a pool on sale
        // elsewhere does not keep the idle writer from other capacities' logs. The lock keeps the
        // batches that append to this log and the folds of other nodes off it until this one commits.
        await using var pick = Command(
            "WITH RECURSIVE logged AS ((SELECT capacity_id FROM buyer_usage_log ORDER BY capacity_id LIMIT 1) "
            + "UNION ALL SELECT (SELECT l.capacity_id FROM buyer_usage_log l WHERE l.capacity_id > logged.capacity_id ORDER BY l.capacity_id LIMIT 1) "
            + "FROM logged WHERE logged.capacity_id IS NOT NULL) "
            + "SELECT id FROM capacities WHERE id = ANY(ARRAY(SELECT capacity_id FROM logged WHERE capacity_id IS NOT NULL LIMIT 8)) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED");
        if (await pick.ExecuteScalarAsync(ct).ConfigureAwait(false) is not Guid capacityId)
        {
            return 0;
        }

        await using var fold = Command(FoldUsageLogSlice);
        fold.Parameters.Add(new() { Value = capacityId });
        fold.Parameters.Add(new() { Value = (long)max });
        return (int)(long)(await fold.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    /// <summary>Usage rows by (capacity, buyer) pairs, as two arrays ($1 the capacities, $2 the buyers).</summary>
    private const string UsageByPairs =
        "SELECT u.capacity_id, u.buyer_key, u.tenant_id, u.used FROM buyer_usage u JOIN unnest($1::uuid[], $2::text[]) AS w(c, k) ON u.capacity_id = w.c AND u.buyer_key = w.k";

    private async Task LockCapacitiesAsync(LoadKeys keys, WorkingSet ws, HashSet<Guid> capacityIds, HashSet<Guid> loaded, HashSet<Guid> limitIds, CancellationToken ct)
    {
        if (capacityIds.Count + keys.NewReservations.Count > 0)
        {
            await using var batch = new NpgsqlBatch(_connection, _tx);

            // Ids about to be created need no lock, only a look: a row found here is a reuse the core refuses.
            var newIds = keys.NewReservations.Where(id => !loaded.Contains(id)).ToArray();
            if (newIds.Length > 0)
            {
                var existing = new NpgsqlBatchCommand($"SELECT {ReservationColumns} FROM reservations WHERE id = ANY($1)");
                existing.Parameters.Add(new() { Value = newIds });
                batch.BatchCommands.Add(existing);
            }

            // Parents never change, so the closure can be found without locks and locked in order,
            // in the same round trip. Where waiting entries are owed units on a node of it (or a
            // command joins a list), the capacities of every waiting entry of that event are locked
            // with it: a batch may walk the event's list and offer any of them. Each set of ids is
            // collected into an array (ARRAY(...)) and the rows found by it: written as IN (subquery),
            // PostgreSQL planned a hash join over a scan of every capacity in the database and a
            // merge join along the whole primary key, 630 ms a batch at 100,000 capacities against
            // 0.2 ms this way (BatchScaleTests; docs/performance.md, "PostgreSQL: a batch reads only its rows").
            var closure = new NpgsqlBatchCommand(
                $"SELECT {CapacityColumns} FROM capacities WHERE id = ANY(ARRAY("
                + "WITH RECURSIVE c AS (SELECT id, parent_ids FROM capacities WHERE id = ANY($1) "
                + "UNION SELECT p.id, p.parent_ids FROM capacities p JOIN c ON p.id = ANY(c.parent_ids)), "
                + "q AS (SELECT DISTINCT k.tenant_id, k.event_id FROM capacities k WHERE k.id = ANY(ARRAY(SELECT id FROM c)) AND (k.queue_demand > 0 OR k.id = ANY($2))), "
                + "x AS (SELECT DISTINCT unnest(w.capacity_ids) AS id FROM waitlist_entries w JOIN q ON w.tenant_id = q.tenant_id AND w.event_id = q.event_id WHERE w.status = 0), "
                + "c2 AS (SELECT id, parent_ids FROM capacities WHERE id = ANY(ARRAY(SELECT id FROM c UNION SELECT id FROM x)) "
                + "UNION SELECT p.id, p.parent_ids FROM capacities p JOIN c2 ON p.id = ANY(c2.parent_ids)) SELECT id FROM c2)) "
                + "ORDER BY id FOR UPDATE");
            closure.Parameters.Add(new() { Value = capacityIds.ToArray() });
            closure.Parameters.Add(new() { Value = keys.Queues.ToArray() });
            batch.BatchCommands.Add(closure);

            // The endpoints of the batch's tenants, read (not locked) in the same round trip when no
            // command changes an endpoint: every capacity the batch loads later (tiers, waiting
            // entries' capacities) is in the same tenant as one named here, so this is the tenant set
            // LoadWebhooksAsync would ask for, one round trip sooner, and a round trip less while the
            // pool's row lock is held (which is what two nodes on one hot pool wait for). The tenants
            // as an array, like the closure's ids: as an OR of two conditions, PostgreSQL read every
            // endpoint in the database on every batch (BatchScaleTests).
            var endpoints = keys.Webhooks.Count == 0;
            if (endpoints)
            {
                var read = new NpgsqlBatchCommand(
                    $"SELECT {WebhookRows.EndpointColumns} FROM webhooks WHERE tenant_id = ANY(ARRAY("
                    + "SELECT unnest($1::uuid[]) UNION SELECT tenant_id FROM capacities WHERE id = ANY($2)))");
                read.Parameters.Add(new() { Value = keys.WebhookTenants.ToArray() });
                read.Parameters.Add(new() { Value = capacityIds.ToArray() });
                batch.BatchCommands.Add(read);
            }

            await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (newIds.Length > 0)
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    ws.Load(ReadReservation(r));
                }

                await r.NextResultAsync(ct).ConfigureAwait(false);
            }

            foreach (var node in await ReadCapacitiesAsync(r, ct).ConfigureAwait(false))
            {
                ws.Load(node);
                limitIds.UnionWith(node.LimitIds);
            }

            if (endpoints)
            {
                await r.NextResultAsync(ct).ConfigureAwait(false);
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    ws.Load(WebhookRows.ReadEndpoint(r));
                }

                _endpointsRead = true;
            }
        }
    }

    private async Task LockPricesAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        if (keys.Prices.Count > 0)
        {
            await using var cmd = Command($"SELECT {PriceColumns} FROM pricing WHERE id = ANY(@ids) ORDER BY id FOR UPDATE");
            cmd.Parameters.AddWithValue("ids", keys.Prices.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(ReadPrice(r));
            }
        }
    }

    // Locked, so that a tenant disabled on one node and enabled on another end as the later commit says,
    // and a key revoked on one node is never written back unrevoked by another node's record of its use.
    private async Task LockTenantsAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        if (keys.Tenants.Count > 0)
        {
            await using var cmd = Command($"SELECT {TenantColumns} FROM tenants WHERE id = ANY(@ids) ORDER BY id FOR UPDATE");
            cmd.Parameters.AddWithValue("ids", keys.Tenants.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(ReadTenant(r));
            }
        }
    }

    private async Task LockKeysAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        if (keys.ApiKeys.Count > 0)
        {
            await using var cmd = Command($"SELECT {ApiKeyColumns} FROM api_keys WHERE id = ANY(@ids) ORDER BY id FOR UPDATE");
            cmd.Parameters.AddWithValue("ids", keys.ApiKeys.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(ReadApiKey(r));
            }
        }

        // Every key a bounded issue counts, read once the tenant's row is locked (LockTenantsAsync): every
        // issue to the tenant locks that row to its commit, so none can be added meanwhile, and in READ
        // COMMITTED this read sees what the issue before committed. Without a lock on the keys: a revoke
        // at the same time only lowers the count. After the keys locked by id, whose rows win.
        if (keys.TenantKeys.Count > 0)
        {
            var tenants = keys.TenantKeys.ToArray();
            await using var cmd = Command($"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = ANY(@tenants) AND revoked_at IS NULL");
            cmd.Parameters.AddWithValue("tenants", tenants);
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(ReadApiKey(r));
            }

            foreach (var tenantId in tenants)
            {
                ws.LoadedKeysOf(tenantId);
            }
        }
    }

    private async Task LoadReservationsAsync(string sql, IEnumerable<Guid> ids, LoadKeys keys, WorkingSet ws, HashSet<Guid> capacityIds, HashSet<Guid> loaded, CancellationToken ct)
    {
        await using var cmd = Command(sql);
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            var reservation = ReadReservation(r);
            ws.Load(reservation);
            loaded.Add(reservation.Id);
            foreach (var item in reservation.Items)
            {
                capacityIds.Add(item.CapacityId);
                if (item.AllocationId is { } allocationId)
                {
                    keys.Allocations.Add(allocationId);
                }

                if (reservation.BuyerKey is { } buyerKey)
                {
                    keys.Buyers.Add((item.CapacityId, buyerKey));
                }
            }

            keys.AddChangeKeysOf(reservation);
            if (reservation.WaitlistId is { } entryId)
            {
                keys.Waitlist.Add(entryId);
            }
        }
    }

    /// <summary>
    /// Tries a transaction-scoped advisory lock per key, then reads the records, in one round trip
    /// (the read is a statement of its own, so in READ COMMITTED it sees every record committed before
    /// the locks were taken). A key another node holds is busy: its first request is being applied
    /// there right now. Trying instead of waiting keeps one duplicate from holding up this node's whole
    /// batch; the caller asks again shortly, and then finds the record and replays it. The engine asks
    /// for this before it loads the rows: the try never waits, so it needs no place in the lock order,
    /// and a hot pool's row lock is not held across this round trip.
    /// </summary>
    public async Task LoadIdempotencyAsync(
        IReadOnlyCollection<IdempotencyKey> keys, Dictionary<IdempotencyKey, IdempotencyRecord> into, HashSet<IdempotencyKey> busy, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(_connection, _tx);
        AddIdempotencyReads(batch, keys);
        await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await ReadIdempotencyAsync(r, into, busy, ct).ConfigureAwait(false);
    }

    /// <summary>The keys' locks, only tried (never waited for: no place in the lock order), then their records: two results.</summary>
    private static void AddIdempotencyReads(NpgsqlBatch batch, IReadOnlyCollection<IdempotencyKey> keys)
    {
        var tenants = keys.Select(k => k.TenantId).ToArray();
        var names = keys.Select(k => k.Key).ToArray();
        var locks = new NpgsqlBatchCommand(
            "SELECT t, k, pg_try_advisory_xact_lock(hashtextextended(t::text || ':' || k, 0)) FROM (SELECT DISTINCT t, k FROM unnest($1::uuid[], $2::text[]) AS u(t, k)) s");
        locks.Parameters.Add(new() { Value = tenants });
        locks.Parameters.Add(new() { Value = names });
        batch.BatchCommands.Add(locks);
        var records = new NpgsqlBatchCommand(
            $"SELECT {IdempotencyColumns} FROM idempotency i "
            + "JOIN unnest($1::uuid[], $2::text[]) AS u(t, k) ON i.tenant_id = u.t AND i.key = u.k");
        records.Parameters.Add(new() { Value = tenants });
        records.Parameters.Add(new() { Value = names });
        batch.BatchCommands.Add(records);
    }

    /// <summary>Reads what <see cref="AddIdempotencyReads"/> asked for; leaves the reader on the records' result.</summary>
    private static async Task ReadIdempotencyAsync(NpgsqlDataReader r, Dictionary<IdempotencyKey, IdempotencyRecord> into, HashSet<IdempotencyKey> busy, CancellationToken ct)
    {
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            if (!r.GetBoolean(2))
            {
                busy.Add(new IdempotencyKey(r.GetGuid(0), r.GetString(1)));
            }
        }

        await r.NextResultAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            var record = IdempotencyRow(r);
            into[new IdempotencyKey(record.TenantId, record.Key)] = record;
        }
    }

    /// <summary>
    /// Commands added after the load, in one round trip and without a row lock: their keys' locks tried
    /// and records read (as <see cref="LoadIdempotencyAsync"/>), any hold that already has one of
    /// their new ids (a reuse the core refuses, as in the capacities' round trip), and their buyers'
    /// usage, read under the locks of its capacities and their limits, which the batch holds.
    /// </summary>
    public async Task LoadAddedAsync(
        IReadOnlyCollection<IdempotencyKey> keys,
        Dictionary<IdempotencyKey, IdempotencyRecord> into,
        HashSet<IdempotencyKey> busy,
        IReadOnlyCollection<Guid> newReservations,
        IReadOnlyCollection<(Guid CapacityId, string BuyerKey)> usage,
        WorkingSet ws,
        CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(_connection, _tx);
        if (keys.Count > 0)
        {
            AddIdempotencyReads(batch, keys);
        }

        if (newReservations.Count > 0)
        {
            var existing = new NpgsqlBatchCommand($"SELECT {ReservationColumns} FROM reservations WHERE id = ANY($1)");
            existing.Parameters.Add(new() { Value = newReservations.ToArray() });
            batch.BatchCommands.Add(existing);
        }

        if (usage.Count > 0 && ws.EveryUsageRead)
        {
            // Rows read in a batch that creates a limit are written back whole (LoadUsageAsync).
            await FoldLogsAsync([.. usage.Select(u => u.CapacityId)], ct).ConfigureAwait(false);
        }

        if (usage.Count > 0)
        {
            var read = new NpgsqlBatchCommand(UsageByPairs);
            read.Parameters.Add(new() { Value = usage.Select(u => u.CapacityId).ToArray() });
            read.Parameters.Add(new() { Value = usage.Select(u => u.BuyerKey).ToArray() });
            batch.BatchCommands.Add(read);
        }

        if (batch.BatchCommands.Count == 0)
        {
            return;
        }

        await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (keys.Count > 0)
        {
            await ReadIdempotencyAsync(r, into, busy, ct).ConfigureAwait(false);
            await r.NextResultAsync(ct).ConfigureAwait(false);
        }

        if (newReservations.Count > 0)
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(ReadReservation(r));
            }

            await r.NextResultAsync(ct).ConfigureAwait(false);
        }

        if (usage.Count > 0)
        {
            foreach (var row in await ReadUsageAsync(r, ct).ConfigureAwait(false))
            {
                ws.Load(row);
            }
        }
    }

    /// <summary>A record's columns (of <c>idempotency i</c>) as <see cref="IdempotencyRow"/> reads them. The read side uses both.</summary>
    internal const string IdempotencyColumns = "i.tenant_id, i.key, i.method, i.path, i.request_hash, i.status, i.body, i.location, i.created_at";

    internal static IdempotencyRecord IdempotencyRow(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), (byte[])r.GetValue(4),
        r.GetInt32(5), (byte[])r.GetValue(6), r.IsDBNull(7) ? null : r.GetString(7), Time(r.GetInt64(8)));

    /// <summary>
    /// One round trip: a batch with one step per table, in this order: tenants and keys, capacities,
    /// prices, new holds, changed holds, webhooks and their outbox, the ledger (whose per-event lock is
    /// the last lock taken), idempotency records, and COMMIT.
    /// </summary>
    public async Task WriteAsync(WorkingSet ws, IReadOnlyList<IdempotencyRecord> records, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(_connection, _tx);
        AddTenants(batch, ws);
        AddCapacities(batch, ws);
        AddAllocations(batch, ws);
        AddLimits(batch, ws);
        AddEntries(batch, ws);
        AddPrices(batch, ws);
        AddNewReservations(batch, ws);
        AddChangedReservations(batch, ws);
        AddSales(batch, ws);
        AddWebhooks(batch, ws);
        AddLedger(batch, ws);
        AddIdempotency(batch, records);
        if (batch.BatchCommands.Count > 0)
        {
            // COMMIT rides with the writes: the locks taken in LoadAsync are held for one round trip
            // and the flush, not two round trips. The answer comes once the commit is durable
            // (synchronous_commit on), as CommitAsync's would. A statement that fails stops the batch
            // before its COMMIT (PostgreSQL skips the rest of a batch after an error), so nothing of
            // it is applied and DisposeAsync rolls the transaction back, as before.
            batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            _committed = true;
        }
    }

    private static void AddTenants(NpgsqlBatch batch, WorkingSet ws)
    {
        foreach (var t in ws.NewTenants)
        {
            Add(batch, $"INSERT INTO tenants ({TenantColumns}) VALUES ($1, $2, $3, $4::bigint)", t.Id, t.Name, Time(t.CreatedAt), Time(t.DisabledAt));
        }

        foreach (var t in ws.ChangedTenants)
        {
            Add(batch, "UPDATE tenants SET disabled_at = $2::bigint WHERE id = $1", t.Id, Time(t.DisabledAt));
        }

        foreach (var k in ws.NewKeys)
        {
            Add(batch, $"INSERT INTO api_keys ({ApiKeyColumns}) VALUES ($1, $2, $3, $4::text, $5::text, $6, $7, $8::bigint, $9::bigint, $10::bigint)",
                k.Id, k.KeyHash, k.TenantId, k.Prefix, k.Name, (short)k.Scope, Time(k.CreatedAt), Time(k.ExpiresAt), Time(k.RevokedAt), Time(k.LastUsedAt));
        }

        // Only what can change once issued: revocation and last use.
        foreach (var k in ws.ChangedKeys)
        {
            Add(batch, "UPDATE api_keys SET revoked_at = $2::bigint, last_used_at = $3::bigint WHERE id = $1", k.Id, Time(k.RevokedAt), Time(k.LastUsedAt));
        }
    }

    private static void AddCapacities(NpgsqlBatch batch, WorkingSet ws)
    {
        foreach (var n in ws.NewCapacities)
        {
            Add(batch,
                $"INSERT INTO capacities ({CapacityColumns}) "
                + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                n.Id, n.TenantId, n.EventId, n.ScheduleId, n.SectionName, n.SectionCode, n.Total, n.ParentIds, n.IsActive, n.Reserved, n.Sold, Time(n.CreatedAt), Time(n.UpdatedAt),
                n.AllocationCount, n.LimitIds, Waitlist(n.Waitlist), n.WaitingUnits, n.QueueDemand, n.OfferedUnits, Sale(n.Sale), n.OverbookLimit);
        }

        var changed = ws.ChangedCapacities.ToList();
        if (changed.Count > 0)
        {
            // One statement for every changed node: on a hot pool that is one row, many holds.
            var cmd = new NpgsqlBatchCommand(
                "UPDATE capacities c SET section_name = u.name, section_code = u.code, total_capacity = u.total, is_active = u.active, "
                + "reserved = u.reserved, sold = u.sold, updated_at = u.updated, allocations = u.allocations, "
                + "limit_ids = CASE WHEN u.limits = '' THEN '{}'::uuid[] ELSE string_to_array(u.limits, ',')::uuid[] END, "
                + "waitlist = u.waitlist, waiting_units = u.waiting, queue_demand = u.owed, offered_units = u.offered, sale = u.sale, overbook_limit = u.overbook "
                + "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[], $5::boolean[], $6::bigint[], $7::bigint[], $8::bigint[], $9::integer[], $10::text[], "
                + "$11::text[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::integer[]) "
                + "AS u(id, name, code, total, active, reserved, sold, updated, allocations, limits, waitlist, waiting, owed, offered, sale, overbook) WHERE c.id = u.id");
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.Id).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.SectionName).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.SectionCode).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.Total).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.IsActive).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.Reserved).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.Sold).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => Time(n.UpdatedAt)).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.AllocationCount).ToArray() });
            // unnest cannot take an array of arrays of different lengths, so each node's limits travel as text.
            cmd.Parameters.Add(new() { Value = changed.Select(n => Ids(n.LimitIds)).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => Waitlist(n.Waitlist)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.WaitingUnits).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.QueueDemand).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.OfferedUnits).ToArray() });
            cmd.Parameters.Add(new() { Value = changed.Select(n => Sale(n.Sale)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = changed.Select(n => n.OverbookLimit).ToArray() });
            batch.BatchCommands.Add(cmd);
        }

        // The few capacities with sale rules: the sweep finds their next window edge by this column.
        var ruled = ws.NewCapacities.Concat(changed).Where(n => n.Sale is not null).ToList();
        if (ruled.Count > 0)
        {
            var cmd = new NpgsqlBatchCommand("UPDATE capacities c SET sale_edge_at = u.edge FROM unnest($1::uuid[], $2::bigint[]) AS u(id, edge) WHERE c.id = u.id");
            cmd.Parameters.Add(new() { Value = ruled.Select(n => n.Id).ToArray() });
            cmd.Parameters.Add(NullableTimes([.. ruled.Select(n => Time(n.Sale!.EdgeAt))]));
            batch.BatchCommands.Add(cmd);
        }
    }

    private static void AddAllocations(NpgsqlBatch batch, WorkingSet ws)
    {
        foreach (var a in ws.NewAllocations)
        {
            Add(batch,
                "INSERT INTO allocations (id, tenant_id, capacity_id, event_id, name, size, held, sold, expires_at, status, created_at, updated_at) "
                + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                a.Id, a.TenantId, a.CapacityId, a.EventId, a.Name, a.Size, a.Held, a.Sold, Time(a.ExpiresAt), (short)a.Status, Time(a.CreatedAt), Time(a.UpdatedAt));
        }

        foreach (var a in ws.ChangedAllocations)
        {
            Add(batch,
                "UPDATE allocations SET name = $2, size = $3, held = $4, sold = $5, expires_at = $6, status = $7, updated_at = $8 WHERE id = $1",
                a.Id, a.Name, a.Size, a.Held, a.Sold, Time(a.ExpiresAt), (short)a.Status, Time(a.UpdatedAt));
        }
    }

    private static void AddLimits(NpgsqlBatch batch, WorkingSet ws)
    {
        foreach (var l in ws.NewLimits.Where(l => !l.Deleted))
        {
            Add(batch,
                "INSERT INTO buyer_limits (id, tenant_id, event_id, name, capacity_ids, per_buyer_max, require_buyer_key, created_at, updated_at) "
                + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                l.Id, l.TenantId, l.EventId, l.Name, l.CapacityIds, l.PerBuyerMax, l.RequireBuyerKey, Time(l.CreatedAt), Time(l.UpdatedAt));
        }

        foreach (var l in ws.ChangedLimits)
        {
            if (l.Deleted)
            {
                Add(batch, "DELETE FROM buyer_limits WHERE id = $1", l.Id);
            }
            else
            {
                Add(batch, "UPDATE buyer_limits SET name = $2, per_buyer_max = $3, require_buyer_key = $4, updated_at = $5 WHERE id = $1",
                    l.Id, l.Name, l.PerBuyerMax, l.RequireBuyerKey, Time(l.UpdatedAt));
            }
        }

        foreach (var u in ws.NewUsage)
        {
            // As the SQLite writer: a row read and found absent is inserted; a row not read (no limit
            // covers its capacity) has the batch's change appended to the capacity's usage log, which
            // lands on the log's last pages whatever the buyers' keys; no change, no write.
            var sql = !u.Unread
                ? "INSERT INTO buyer_usage (capacity_id, buyer_key, tenant_id, used) VALUES ($1, $2, $3, $4)"
                : u.Used != 0
                    ? "INSERT INTO buyer_usage_log (capacity_id, buyer_key, tenant_id, delta) VALUES ($1, $2, $3, $4)"
                    : null;
            if (sql is not null)
            {
                Add(batch, sql, u.CapacityId, u.BuyerKey, u.TenantId, u.Used);
            }
        }

        foreach (var u in ws.ChangedUsage)
        {
            Add(batch, "UPDATE buyer_usage SET used = $3 WHERE capacity_id = $1 AND buyer_key = $2", u.CapacityId, u.BuyerKey, u.Used);
        }
    }

    private static void AddEntries(NpgsqlBatch batch, WorkingSet ws)
    {
        foreach (var e in ws.NewEntries)
        {
            Add(batch,
                $"INSERT INTO waitlist_entries ({EntryColumns}, capacity_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                e.Id, e.TenantId, e.EventId, Lines(e.Items), e.BuyerKey, e.ExternalRef, e.Sequence, (short)e.Status, e.OfferReservationId,
                Time(e.CreatedAt), Time(e.UpdatedAt), (short?)e.LapsedReason, e.Items.Select(i => i.CapacityId).ToArray());
            foreach (var item in e.Items)
            {
                Add(batch, "INSERT INTO waitlist_lines (capacity_id, sequence, entry_id) VALUES ($1, $2, $3)", item.CapacityId, e.Sequence, e.Id);
            }
        }

        foreach (var e in ws.ChangedEntries)
        {
            Add(batch, "UPDATE waitlist_entries SET status = $2, offer_reservation_id = $3, updated_at = $4, lapsed_reason = $5 WHERE id = $1",
                e.Id, (short)e.Status, e.OfferReservationId, Time(e.UpdatedAt), (short?)e.LapsedReason);
        }
    }

    private static void AddPrices(NpgsqlBatch batch, WorkingSet ws)
    {
        foreach (var p in ws.NewPrices)
        {
            Add(batch,
                "INSERT INTO pricing (id, tenant_id, capacity_id, name, base_price, current_price, service_fee, facility_fee, tax_rate, currency, created_at, updated_at) "
                + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                p.Id, p.TenantId, p.CapacityId, p.Name, p.BasePrice, p.CurrentPrice, p.ServiceFee, p.FacilityFee, p.TaxRate, p.Currency, Time(p.CreatedAt), Time(p.UpdatedAt));
        }

        foreach (var p in ws.ChangedPrices)
        {
            Add(batch,
                "UPDATE pricing SET name = $2, base_price = $3, current_price = $4, service_fee = $5, facility_fee = $6, tax_rate = $7, currency = $8, updated_at = $9 WHERE id = $1",
                p.Id, p.Name, p.BasePrice, p.CurrentPrice, p.ServiceFee, p.FacilityFee, p.TaxRate, p.Currency, Time(p.UpdatedAt));
        }
    }

    private static void AddNewReservations(NpgsqlBatch batch, WorkingSet ws)
    {
        // Column arrays filled in one pass over the holds, not a list of them: a hold is a struct of
        // over a hundred bytes, and a list of a full batch's would be a large-object allocation.
        if (ws.NewReservationCount is var created and > 0)
        {
            var (ids, tenants, statuses, items) = (new Guid[created], new Guid[created], new short[created], new string[created]);
            var (createdAt, expiresAt, confirmedAt, endedAt) = (new long[created], new long[created], new long?[created], new long?[created]);
            var (buyers, waitlists) = (new string?[created], new Guid?[created]);
            var (references, metadata, events) = (new string?[created], new string?[created], new string[created]);
            List<(Reservation Hold, string EventId)>? alsoListed = null;
            var i = 0;
            foreach (var r in ws.NewReservations)
            {
                (ids[i], tenants[i], statuses[i], items[i]) = (r.Id, r.TenantId, (short)r.Status, Items(r.Items));
                (createdAt[i], expiresAt[i], confirmedAt[i], endedAt[i]) = (Time(r.CreatedAt), Time(r.ExpiresAt), Time(r.ConfirmedAt), Time(r.EndedAt));
                (buyers[i], waitlists[i]) = (r.BuyerKey, r.WaitlistId);
                (references[i], metadata[i], events[i]) = (r.Labels?.ExternalRef, Metadata(r.Labels), EventOf(ws, r));
                if (r.Items.Length > 1)
                {
                    foreach (var other in OtherEventsOf(ws, r))
                    {
                        (alsoListed ??= []).Add((r, other));
                    }
                }

                i++;
            }

            var cmd = new NpgsqlBatchCommand(
                $"INSERT INTO reservations ({ReservationColumns}, event_id) "
                + "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::uuid[], "
                + "$11::text[], $12::text[], $13::text[])");
            cmd.Parameters.Add(new() { Value = ids });
            cmd.Parameters.Add(new() { Value = tenants });
            cmd.Parameters.Add(new() { Value = statuses });
            cmd.Parameters.Add(new() { Value = items });
            cmd.Parameters.Add(new() { Value = createdAt });
            cmd.Parameters.Add(new() { Value = expiresAt });
            cmd.Parameters.Add(NullableTimes(confirmedAt));
            cmd.Parameters.Add(NullableTimes(endedAt));
            cmd.Parameters.Add(new() { Value = buyers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = waitlists, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            cmd.Parameters.Add(new() { Value = references, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = metadata, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = events });
            batch.BatchCommands.Add(cmd);
            foreach (var (hold, eventId) in alsoListed ?? [])
            {
                AddListedUnder(batch, hold, eventId);
            }
        }
    }

    /// <summary>A cart across events is listed under each of them, not only its first item's.</summary>
    private static void AddListedUnder(NpgsqlBatch batch, in Reservation r, string eventId) =>
        Add(batch, "INSERT INTO reservation_events (tenant_id, event_id, created_at, reservation_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            r.TenantId, eventId, Time(r.CreatedAt), r.Id);

    private static void AddChangedReservations(NpgsqlBatch batch, WorkingSet ws)
    {
        if (ws.ChangedReservationCount is var updated and > 0)
        {
            var (ids, statuses, expiresAt, confirmedAt, endedAt) = (new Guid[updated], new short[updated], new long[updated], new long?[updated], new long?[updated]);
            var i = 0;
            foreach (var r in ws.ChangedReservations)
            {
                (ids[i], statuses[i], expiresAt[i], confirmedAt[i], endedAt[i]) = (r.Id, (short)r.Status, Time(r.ExpiresAt), Time(r.ConfirmedAt), Time(r.EndedAt));
                i++;
            }

            var cmd = new NpgsqlBatchCommand(
                "UPDATE reservations r SET status = u.status, expires_at = u.expires, confirmed_at = u.confirmed, ended_at = u.ended "
                + "FROM unnest($1::uuid[], $2::smallint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, status, expires, confirmed, ended) WHERE r.id = u.id");
            cmd.Parameters.Add(new() { Value = ids });
            cmd.Parameters.Add(new() { Value = statuses });
            cmd.Parameters.Add(new() { Value = expiresAt });
            cmd.Parameters.Add(NullableTimes(confirmedAt));
            cmd.Parameters.Add(NullableTimes(endedAt));
            batch.BatchCommands.Add(cmd);
        }

        // Items change only in a change in part (a new target, a partial confirm or refund), so they
        // are written only then, not with every confirmed or expired hold.
        // A change may also move a hold to other events: it is listed under its first item's event and
        // the others of its items, as a new hold would be, and no longer under one it has left. Only
        // carts across events have reservation_events rows, so finding its rows without the event (a
        // scan of the tenant's few) costs little, and only in a change in part.
        if (ws.ChangedItemsCount is var changedItems and > 0)
        {
            var (ids, items, events, tenants, created) = (new Guid[changedItems], new string[changedItems], new string[changedItems], new Guid[changedItems], new long[changedItems]);
            var i = 0;
            foreach (var r in ws.ChangedItems)
            {
                (ids[i], items[i], events[i], tenants[i], created[i]) = (r.Id, Items(r.Items), EventOf(ws, r), r.TenantId, Time(r.CreatedAt));
                i++;
            }

            var unlist = new NpgsqlBatchCommand(
                "DELETE FROM reservation_events e USING unnest($1::uuid[], $2::bigint[], $3::uuid[]) AS u(tenant_id, created_at, id) "
                + "WHERE e.tenant_id = u.tenant_id AND e.created_at = u.created_at AND e.reservation_id = u.id");
            unlist.Parameters.Add(new() { Value = tenants });
            unlist.Parameters.Add(new() { Value = created });
            unlist.Parameters.Add(new() { Value = ids });
            batch.BatchCommands.Add(unlist);

            var cmd = new NpgsqlBatchCommand("UPDATE reservations r SET items = u.items, event_id = u.event_id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, items, event_id) WHERE r.id = u.id");
            cmd.Parameters.Add(new() { Value = ids });
            cmd.Parameters.Add(new() { Value = items });
            cmd.Parameters.Add(new() { Value = events });
            batch.BatchCommands.Add(cmd);

            foreach (var r in ws.ChangedItems)
            {
                foreach (var other in OtherEventsOf(ws, r))
                {
                    AddListedUnder(batch, r, other);
                }
            }
        }
    }

    // Before the ledger: its lock is taken last. A batch writes only rows of capacities it has locked, so
    // these upserts never wait on another node that the capacity's lock had not already made it wait for.
    private static void AddSales(NpgsqlBatch batch, WorkingSet ws)
    {
        if (ws.SalesMinutes.Count > 0)
        {
            var rows = ws.SalesMinutes.OrderBy(m => m.CapacityId).ThenBy(m => m.Minute).ToArray();
            var cmd = new NpgsqlBatchCommand(
                "INSERT INTO sales_minutes (tenant_id, event_id, capacity_id, minute, held, confirmed, released, expired, cancelled, reclaimed) "
                + "SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[]) "
                + "ON CONFLICT (tenant_id, event_id, minute, capacity_id) DO UPDATE SET held = sales_minutes.held + excluded.held, "
                + "confirmed = sales_minutes.confirmed + excluded.confirmed, released = sales_minutes.released + excluded.released, "
                + "expired = sales_minutes.expired + excluded.expired, cancelled = sales_minutes.cancelled + excluded.cancelled, "
                + "reclaimed = sales_minutes.reclaimed + excluded.reclaimed");
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.TenantId).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.EventId).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.CapacityId).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.Minute).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.Flows.Held).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.Flows.Confirmed).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.Flows.Released).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.Flows.Expired).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.Flows.Cancelled).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(m => m.Flows.Reclaimed).ToArray() });
            batch.BatchCommands.Add(cmd);
        }

        if (ws.ConfirmTimes.Count > 0)
        {
            var rows = ws.ConfirmTimes.OrderBy(t => t.CapacityId).ThenBy(t => t.Minute).ThenBy(t => t.Bucket).ToArray();
            var cmd = new NpgsqlBatchCommand(
                "INSERT INTO confirm_times (tenant_id, event_id, capacity_id, minute, bucket, count) "
                + "SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::bigint[], $5::integer[], $6::bigint[]) "
                + "ON CONFLICT (tenant_id, event_id, minute, capacity_id, bucket) DO UPDATE SET count = confirm_times.count + excluded.count");
            cmd.Parameters.Add(new() { Value = rows.Select(t => t.TenantId).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(t => t.EventId).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(t => t.CapacityId).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(t => t.Minute).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(t => t.Bucket).ToArray() });
            cmd.Parameters.Add(new() { Value = rows.Select(t => t.Count).ToArray() });
            batch.BatchCommands.Add(cmd);
        }
    }

    private static void AddLedger(NpgsqlBatch batch, WorkingSet ws)
    {
        var chunks = LedgerChunks.Encode(ws.Ledger);
        if (chunks.Count > 0)
        {
            // Each event numbers its own entries 1, 2, 3… (migration 014), and readers page through an
            // event's ledger by those numbers, so an event's chunks must be numbered without a gap or a
            // repeat and become visible in number order, also when several nodes write to one event.
            // Two nodes writing to one event without a row in common (two sections with no shared pool)
            // lock nothing in common, so a lock per event does it: held from reading the event's last
            // number to the commit, it makes one writer at a time number the event, and the order of
            // numbers the order of commits. Taken in one order (by hash), so two batches over the same
            // events cannot deadlock; taken last, so no other lock is waited for while holding it.
            var order = new NpgsqlBatchCommand(PairLocks("ledger"));
            order.Parameters.Add(new() { Value = chunks.Select(c => c.TenantId).ToArray() });
            order.Parameters.Add(new() { Value = chunks.Select(c => c.EventId).ToArray() });
            batch.BatchCommands.Add(order);

            // Numbered on from the highest number of the event's chunks, read once the lock is held:
            // the writer before released it only by ending its transaction, and in READ COMMITTED this
            // statement sees everything committed before it began, so it sees that writer's chunks.
            // max over the primary key (tenant_id, event_id, last_seq) is one index descent per chunk;
            // chosen over a table of per-event heads, which would be a second copy of the number to
            // keep in step and one more row to update per event per batch. The primary key refuses two
            // chunks of an event ending on one number. The running sum numbers an event's chunks that
            // follow each other in one batch (a group too big for one chunk, split in order).
            var cmd = new NpgsqlBatchCommand(
                "INSERT INTO ledger_chunks (tenant_id, event_id, last_seq, count, entries) "
                + "SELECT u.tenant_id, u.event_id, "
                + "COALESCE((SELECT max(c.last_seq) FROM ledger_chunks c WHERE c.tenant_id = u.tenant_id AND c.event_id = u.event_id), 0) "
                + "+ sum(u.count) OVER (PARTITION BY u.tenant_id, u.event_id ORDER BY u.n), u.count, u.entries "
                + "FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::bytea[]) WITH ORDINALITY AS u(tenant_id, event_id, count, entries, n)");
            cmd.Parameters.Add(new() { Value = chunks.Select(c => c.TenantId).ToArray() });
            cmd.Parameters.Add(new() { Value = chunks.Select(c => c.EventId).ToArray() });
            cmd.Parameters.Add(new() { Value = chunks.Select(c => c.Count).ToArray() });
            cmd.Parameters.Add(new() { Value = chunks.Select(c => c.Entries).ToArray() });
            batch.BatchCommands.Add(cmd);
        }
    }

    private static void AddIdempotency(NpgsqlBatch batch, IReadOnlyList<IdempotencyRecord> records)
    {
        foreach (var rec in records)
        {
            Add(batch,
                "INSERT INTO idempotency (tenant_id, key, method, path, request_hash, status, body, location, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                rec.TenantId, rec.Key, rec.Method, rec.Path, rec.RequestHash, rec.Status, rec.Body, rec.Location, Time(rec.CreatedAt));
        }
    }

    public async Task<int> PurgeIdempotencyAsync(DateTimeOffset before, CancellationToken ct)
    {
        await using var cmd = Command("DELETE FROM idempotency WHERE created_at < @before");
        cmd.Parameters.AddWithValue("before", Time(before));
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public bool CommitsWithWrites => true;

    public Task CommitAsync(CancellationToken ct) => _committed ? Task.CompletedTask : _tx.CommitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await _tx.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private NpgsqlCommand Command(string sql) => new(sql, _connection, _tx);

    private static void Add(NpgsqlBatch batch, string sql, params object?[] values)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        foreach (var v in values)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v ?? DBNull.Value });
        }

        batch.BatchCommands.Add(cmd);
    }

    private static NpgsqlParameter NullableTimes(long?[] times) => new() { Value = times, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint };
}

using System.Text;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Storage;
using Microsoft.Data.Sqlite;
using static Capacity.Storage.RowFormat;
using static Capacity.Storage.TableColumns;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// The engine's batch transaction on the writer connection. One instance lives as long as the
/// store and is reused batch after batch, with its statements prepared once: the engine runs one
/// batch at a time, so there is never more than one in use.
/// </summary>
internal sealed partial class SqliteWriteTransaction(SqliteConnection connection, CommittedCapacities committed, WebhookTenants watchers, LiveHoldCounts liveHolds, UsageMap usage) : IWriteTransaction
{
    // What this batch changed, published to the in-memory rows once (and only if) it commits.
    private readonly List<CapacityNode> _changed = [];

    private readonly StatementCache _statements = new(connection);

    // BEGIN IMMEDIATE, COMMIT and ROLLBACK as statements prepared once. Microsoft.Data.Sqlite's
    // BeginTransaction and Commit prepare a new command for each, every batch (about 14 µs of BEGIN alone,
    // docs/performance.md); SQLite itself needs no transaction object, so the batch's commands run with none.
    private RawStatement? _begin;
    private RawStatement? _commit;
    private RawStatement? _rollback;
    private bool _open;

    // The statements run once per hold, bound directly (see RawStatement); the rest go through
    // Microsoft.Data.Sqlite, where a few rows per batch make its overhead irrelevant.
    private RawStatement? _selectReservation;
    private RawStatement? _insertReservation;
    private RawStatement? _updateReservation;
    private RawStatement? _updateCapacity;
    private RawStatement? _upsertSales;
    private RawStatement? _lastLedgerSeq;
    private RawStatement? _insertLedger;

    // A keyed hold appends its change to the usage log on every capacity, and on one a limit covers
    // reads its buyer's usage from the map (rows plus log, loaded per capacity); the idle fold and its
    // two statements add the log into the rows.
    private RawStatement? _selectUsage;
    private RawStatement? _selectUsageLog;
    private RawStatement? _logUsage;
    private RawStatement? _firstLogged;
    private RawStatement? _oldestLogged;
    private RawStatement? _deleteLogged;
    private RawStatement? _addUsage;
    private RawStatement? _subtractUsage;
    private RawStatement? _selectLimit;
    private RawStatement? _selectEndpoints;
    private readonly JsonRowBuffer _items = new();
    private readonly Dictionary<string, byte[]> _eventUtf8 = [];

    // The rowid of each reservation this batch loaded, so that its update finds the row with one
    // B-tree descent instead of two (the id's index, then the table): an expiry updates 5000 rows.
    private readonly Dictionary<Guid, long> _rowids = [];

    // The greatest reservation id in the file, as the "D" text the table keys on (empty when there are
    // none, null when unknown), and the greatest this batch inserts. A new id above it cannot be in the
    // table, so it needs no lookup: the server's ids are time-ordered (version 7), so nearly every new
    // hold skips one, about a ninth of a hold's cost on the writer. Any other id is looked up as before,
    // so this never depends on how ids are made.
    private byte[]? _maxId;

    /// <summary>The working set the batch wrote, whose live-hold changes the commit applies.</summary>
    private WorkingSet? _written;
    private static readonly Dictionary<Guid, int> NoLiveHoldChanges = [];
    private readonly byte[] _batchMaxId = new byte[RawStatement.GuidTextLength];
    private bool _batchInserted;

    public void Begin()
    {
        if (_open)
        {
            throw new InvalidOperationException("A batch transaction is already open.");
        }

        // BEGIN IMMEDIATE: take the write lock up front, so nothing read here can change before commit.
        _changed.Clear();
        _written = null;
        _rowids.Clear();
        _endpointCounts.Clear();
        _batchInserted = false;
        usage.StartBatch();
        (_begin ??= new RawStatement(connection, "BEGIN IMMEDIATE")).Run();
        _open = true;
    }

    /// <summary>
    /// One step per table: reservations (which name more capacities, allocations and buyers),
    /// allocations and named limits (which name more capacities), prices, capacities, the limits that
    /// cover them, the buyers' usage, tenants.
    /// </summary>
    public Task LoadAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        var capacityIds = new HashSet<Guid>(keys.Capacities);
        var limitIds = new HashSet<Guid>();
        LoadReservations(keys, ws, capacityIds);
        LoadAllocations(keys, ws, capacityIds);
        LoadLimits(keys.Limits, ws, capacityIds);
        LoadEntries(keys, ws, capacityIds);
        LoadPrices(keys, ws);
        LoadCapacities(capacityIds, ws, limitIds);
        for (var tiers = ws.UnloadedTiers(); tiers.Count > 0;)
        {
            LoadCapacities([.. tiers], ws, limitIds);
            tiers = ws.UnloadedTiers(tiers);
        }

        LoadQueues(keys, ws, limitIds);
        limitIds.ExceptWith(keys.Limits);
        LoadLimits(limitIds, ws, null);
        LoadUsage(keys, ws);
        LoadTenants(keys, ws);
        LoadKeys(keys, ws);
        LoadWebhooks(keys, ws);
        LoadEventSizes(keys, ws);
        return Task.CompletedTask;
    }

    // The one writer holds the write lock from BEGIN IMMEDIATE to COMMIT: no create can land between
    // this count and the batch's own.
    private void LoadEventSizes(LoadKeys keys, WorkingSet ws)
    {
        foreach (var (tenantId, eventId) in keys.EventSizes)
        {
            var cmd = Command("SELECT COUNT(*) FROM capacities WHERE tenant_id = $t AND event_id = $e", "$t", "$e");
            cmd.Parameters[0].Value = Id(tenantId);
            cmd.Parameters[1].Value = eventId;
            ws.LoadEventSize(tenantId, eventId, Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    // Every batch on a capacity a limit covers loads that limit, so the lookup is bound directly
    // (RawStatement): through a data reader and json_each it was 2.6 % of the writer's CPU under the
    // rules benchmark (docs/performance.md).
    private void LoadLimits(HashSet<Guid> ids, WorkingSet ws, HashSet<Guid>? capacityIds)
    {
        if (ids.Count == 0)
        {
            return;
        }

        var select = _selectLimit ??= new RawStatement(connection, $"SELECT {LimitColumns} FROM buyer_limits WHERE id = ?1");
        foreach (var id in ids)
        {
            select.Bind(1, id);
            if (!select.Step())
            {
                continue;
            }

            try
            {
                var limit = new BuyerLimit
                {
                    Id = select.Guid(0),
                    TenantId = select.Guid(1),
                    EventId = select.Text(2)!,
                    Name = select.Text(3)!,
                    CapacityIds = Ids(select.Text(4)!),
                    PerBuyerMax = checked((int)select.Int64(5)),
                    RequireBuyerKey = select.Int64(6) != 0,
                    CreatedAt = Time(select.Int64(7)),
                    UpdatedAt = Time(select.Int64(8)),
                };
                ws.Load(limit);
                capacityIds?.UnionWith(limit.CapacityIds);
            }
            finally
            {
                select.Reset();
            }
        }
    }

    // A batch that creates a limit reads every pair it names (a hold decided after the limit is checked
    // against it); the map has each capacity's rows plus its log, so nothing needs folding first (the
    // PostgreSQL writer, which reads rows, folds the log into them).
    private void LoadUsage(LoadKeys keys, WorkingSet ws)
    {
        ws.EveryUsageRead = keys.CreatesLimits;
        ReadUsage(keys.Buyers.Count == 0 ? [] : keys.UsageKeys(ws), ws);
    }

    public Task<int> FoldUsageLogAsync(int max, CancellationToken ct)
    {
        // The capacity of the oldest entry, and its oldest entries in the order they were written (the
        // table's rowid, one more than the largest at each insert, which the index by capacity carries).
        // Kept prepared: while a log drains, UsageFoldService asks every few milliseconds.
        var first = _firstLogged ??= new RawStatement(connection, "SELECT capacity_id FROM buyer_usage_log ORDER BY rowid LIMIT 1");
        if (!first.Step())
        {
            return Task.FromResult(0);
        }

        var capacityId = first.Guid(0);
        first.Reset();

        var select = _oldestLogged ??= new RawStatement(connection, "SELECT rowid, buyer_key, tenant_id, delta FROM buyer_usage_log WHERE capacity_id = ?1 ORDER BY rowid LIMIT ?2");
        select.Bind(1, capacityId);
        select.Bind(2, (long)max);
        var sums = new Dictionary<(string BuyerKey, Guid TenantId), long>();
        var (count, last) = (0, 0L);
        while (select.Step())
        {
            (count, last) = (count + 1, select.Int64(0));
            var key = (select.Text(1)!, select.Guid(2));
            sums[key] = sums.GetValueOrDefault(key) + select.Int64(3);
        }

        foreach (var ((buyerKey, tenantId), delta) in sums)
        {
            if (delta != 0)
            {
                AddToUsageRow(capacityId, buyerKey, tenantId, delta);
            }
        }

        var delete = _deleteLogged ??= new RawStatement(connection, "DELETE FROM buyer_usage_log WHERE capacity_id = ?1 AND rowid <= ?2");
        delete.Bind(1, capacityId);
        delete.Bind(2, last);
        delete.Run();
        return Task.FromResult(count);
    }

    // Adds to a buyer's row, creating it with a positive change; a negative one is subtracted by an
    // update (the holds that took the tickets made the row, and an insert's CHECK would see the
    // negative value before the conflict).
    private void AddToUsageRow(Guid capacityId, string buyerKey, Guid tenantId, long delta)
    {
        var write = delta > 0
            ? _addUsage ??= new RawStatement(connection, "INSERT INTO buyer_usage (capacity_id, buyer_key, tenant_id, used) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (capacity_id, buyer_key) DO UPDATE SET used = used + excluded.used")
            : _subtractUsage ??= new RawStatement(connection, "UPDATE buyer_usage SET used = used + ?4 WHERE capacity_id = ?1 AND buyer_key = ?2 AND tenant_id = ?3");
        write.Bind(1, capacityId);
        write.Bind(2, buyerKey);
        write.Bind(3, tenantId);
        write.Bind(4, delta);
        write.Run();
    }

    // Each pair's usage from the map, which loads a capacity whole (its rows plus its log) the first time
    // one of its pairs is wanted: nothing is read per hold. This runs before the batch changes any usage
    // (a fold only moves it between the log and the rows), so what it loads is what is committed.
    private void ReadUsage(IReadOnlyCollection<(Guid CapacityId, string BuyerKey)> wanted, WorkingSet ws)
    {
        foreach (var (capacityId, buyerKey) in wanted)
        {
            if ((usage.Read(capacityId) ?? LoadCapacityUsage(capacityId)).TryGetValue(buyerKey, out var used))
            {
                ws.Load(new BuyerUsage { TenantId = used.TenantId, CapacityId = capacityId, BuyerKey = buyerKey, Used = used.Value });
            }
        }
    }

    // The rows, then each log entry added: two plain scans (the map does the adding up) rather than a
    // grouping of their union, which sorted every row.
    private UsageMap.Buyers LoadCapacityUsage(Guid capacityId)
    {
        var buyers = new UsageMap.Buyers();
        var rows = _selectUsage ??= new RawStatement(connection, "SELECT buyer_key, tenant_id, used FROM buyer_usage WHERE capacity_id = ?1");
        rows.Bind(1, capacityId);
        while (rows.Step())
        {
            buyers[rows.Text(0)!] = new UsageMap.Used(rows.Guid(1), rows.Int64(2));
        }

        var log = _selectUsageLog ??= new RawStatement(connection, "SELECT buyer_key, tenant_id, delta FROM buyer_usage_log WHERE capacity_id = ?1");
        log.Bind(1, capacityId);
        while (log.Step())
        {
            var buyerKey = log.Text(0)!;
            buyers[buyerKey] = new UsageMap.Used(log.Guid(1), buyers.GetValueOrDefault(buyerKey).Value + log.Int64(2));
        }

        usage.Add(capacityId, buyers);
        return buyers;
    }

    private void LoadReservations(LoadKeys keys, WorkingSet ws, HashSet<Guid> capacityIds)
    {
        // One writer holds the lock, so expiry candidates need no different treatment here. A point
        // lookup per id, bound and read through the C API: an expiry batch loads 5000 holds, and
        // through json_each and SqliteDataReader that was most of its time.
        _maxId ??= Command("SELECT MAX(id) FROM reservations").ExecuteScalar() is string max ? Encoding.UTF8.GetBytes(max) : [];
        foreach (var id in keys.Reservations.Concat(keys.NewReservations.Where(MayExist)).Concat(keys.ExpiryCandidates))
        {
            if (!TryFindReservation(id, out var reservation, out var rowid))
            {
                continue;
            }

            _rowids[reservation.Id] = rowid;
            ws.Load(reservation);
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

    private void LoadEntries(LoadKeys keys, WorkingSet ws, HashSet<Guid> capacityIds)
    {
        if (keys.Waitlist.Count > 0)
        {
            var cmd = Command($"SELECT {EntryColumns} FROM waitlist_entries WHERE id IN (SELECT value FROM json_each($ids))", "$ids");
            cmd.Parameters[0].Value = IdArray(keys.Waitlist);
            foreach (var entry in SqliteStore.ReadEntries(cmd))
            {
                ws.Load(entry);
                capacityIds.UnionWith(entry.Items.Select(i => i.CapacityId));
                keys.AddBuyersOf([entry]);
            }
        }
    }

    /// <summary>
    /// Every waiting entry of each event whose list the batch may walk (<see cref="LoadKeys.QueueEvents"/>),
    /// in order, with the capacities they name. Most batches have none: a capacity nobody waits for
    /// costs this one look at its counter.
    /// </summary>
    private void LoadQueues(LoadKeys keys, WorkingSet ws, HashSet<Guid> limitIds)
    {
        var events = keys.QueueEvents(ws, ws.Capacities);
        if (events.Count == 0)
        {
            return;
        }

        var cmd = Command(
            $"SELECT {EntryColumns} FROM waitlist_entries WHERE tenant_id = $t AND event_id = $e AND status = 0 ORDER BY sequence", "$t", "$e");
        var last = Command("SELECT COALESCE(MAX(sequence), 0) FROM waitlist_entries WHERE tenant_id = $t AND event_id = $e", "$t", "$e");
        foreach (var (tenantId, eventId) in events)
        {
            cmd.Parameters[0].Value = last.Parameters[0].Value = Id(tenantId);
            cmd.Parameters[1].Value = last.Parameters[1].Value = eventId;
            var waiting = SqliteStore.ReadEntries(cmd);
            var lastSequence = (long)last.ExecuteScalar()!;
            var more = waiting.SelectMany(e => e.Items).Select(i => i.CapacityId).Where(id => ws.FindCapacity(id) is null).ToHashSet();
            if (more.Count > 0)
            {
                LoadCapacities(more, ws, limitIds);
            }

            ws.LoadWaitlist(tenantId, eventId, waiting, lastSequence);
            keys.AddBuyersOf(waiting);
        }
    }

    private void LoadAllocations(LoadKeys keys, WorkingSet ws, HashSet<Guid> capacityIds)
    {
        if (keys.Allocations.Count > 0)
        {
            var cmd = Command(SqliteStore.SelectAllocations, "$ids");
            cmd.Parameters[0].Value = IdArray(keys.Allocations);
            foreach (var allocation in SqliteStore.ReadAllocations(cmd))
            {
                ws.Load(allocation);
                capacityIds.Add(allocation.CapacityId);
            }
        }
    }

    private void LoadPrices(LoadKeys keys, WorkingSet ws)
    {
        if (keys.Prices.Count > 0)
        {
            var cmd = Command(SqliteStore.SelectPrices, "$ids");
            cmd.Parameters[0].Value = IdArray(keys.Prices);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                ws.Load(SqliteStore.ReadPrice(r));
            }
        }
    }

    private void LoadCapacities(HashSet<Guid> capacityIds, WorkingSet ws, HashSet<Guid> limitIds)
    {
        // This connection is the file's only writer, so the rows it last committed are the rows in the
        // file: no need to read them again. Copies, since the core changes them in place.
        if (capacityIds.Count > 0 && committed.TryGetClosure(null, capacityIds, out var known))
        {
            foreach (var node in known)
            {
                ws.Load(node);
                limitIds.UnionWith(node.LimitIds);
            }
        }
        else if (capacityIds.Count > 0)
        {
            var generation = committed.Generation;
            var cmd = Command(SqliteStore.SelectCapacities, "$ids");
            cmd.Parameters[0].Value = IdArray(capacityIds);
            var nodes = SqliteStore.ReadCapacities(cmd);
            SqliteStore.LoadAncestors(cmd, nodes);
            committed.Offer(nodes, generation);
            foreach (var node in nodes)
            {
                ws.Load(node);
                limitIds.UnionWith(node.LimitIds);
            }
        }
    }

    private void LoadTenants(LoadKeys keys, WorkingSet ws)
    {
        if (keys.Tenants.Count > 0)
        {
            var cmd = Command($"SELECT {TenantColumns} FROM tenants WHERE id IN (SELECT value FROM json_each($ids))", "$ids");
            cmd.Parameters[0].Value = IdArray(keys.Tenants);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                ws.Load(SqliteStore.ReadTenant(r));
            }
        }
    }

    private void LoadKeys(LoadKeys keys, WorkingSet ws)
    {
        if (keys.ApiKeys.Count > 0)
        {
            var cmd = Command($"SELECT {ApiKeyColumns} FROM api_keys WHERE id IN (SELECT value FROM json_each($ids))", "$ids");
            cmd.Parameters[0].Value = IdArray(keys.ApiKeys);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                ws.Load(SqliteStore.ReadApiKey(r));
            }
        }

        // Every key a bounded issue counts: the one writer means none can be added before this batch commits.
        foreach (var tenantId in keys.TenantKeys)
        {
            var cmd = Command($"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = $t AND revoked_at IS NULL", "$t");
            cmd.Parameters[0].Value = Id(tenantId);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                ws.Load(SqliteStore.ReadApiKey(r));
            }

            ws.LoadedKeysOf(tenantId);
        }
    }

    // One process, one writer: no other node can be applying a key, so nothing is ever busy.
    public Task LoadIdempotencyAsync(
        IReadOnlyCollection<IdempotencyKey> keys, Dictionary<IdempotencyKey, IdempotencyRecord> into, HashSet<IdempotencyKey> busy, CancellationToken ct)
    {
        var cmd = Command(IdempotencyByKey, "$t", "$k");
        foreach (var key in keys)
        {
            cmd.Parameters[0].Value = Id(key.TenantId);
            cmd.Parameters[1].Value = key.Key;
            using var r = cmd.ExecuteReader();
            if (r.Read())
            {
                into[key] = IdempotencyRow(r);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Commands added after the load: their keys' records, any hold that already has one of their new ids, their buyers' usage.</summary>
    public async Task LoadAddedAsync(
        IReadOnlyCollection<IdempotencyKey> keys,
        Dictionary<IdempotencyKey, IdempotencyRecord> into,
        HashSet<IdempotencyKey> busy,
        IReadOnlyCollection<Guid> newReservations,
        IReadOnlyCollection<(Guid CapacityId, string BuyerKey)> usage,
        WorkingSet ws,
        CancellationToken ct)
    {
        await LoadIdempotencyAsync(keys, into, busy, ct).ConfigureAwait(false);
        ReadUsage(usage, ws);
        foreach (var id in newReservations.Where(MayExist))
        {
            // Only to be refused: the core never changes a hold it finds under a new id.
            if (TryFindReservation(id, out var reservation, out _))
            {
                ws.Load(reservation);
            }
        }
    }

    /// <summary>The reservation with this id and its rowid, by the prepared point lookup; false when there is none.</summary>
    private bool TryFindReservation(Guid id, out Reservation reservation, out long rowid)
    {
        var select = _selectReservation ??= new RawStatement(connection, SelectReservationAndRowid);
        select.Bind(1, id);
        if (!select.Step())
        {
            reservation = default;
            rowid = 0;
            return false;
        }

        try
        {
            reservation = SqliteStore.ReadReservation(select);
            rowid = select.Int64(RowidColumn);
            return true;
        }
        finally
        {
            select.Reset();
        }
    }

    /// <summary>One key's record; its columns as <see cref="IdempotencyRow"/> reads them. The read side uses it too.</summary>
    internal const string IdempotencyByKey =
        "SELECT tenant_id, key, method, path, request_hash, status, body, location, created_at FROM idempotency WHERE tenant_id = $t AND key = $k";

    internal static IdempotencyRecord IdempotencyRow(SqliteDataReader r) => new(
        Id(r.GetString(0)), r.GetString(1), r.GetString(2), r.GetString(3), (byte[])r.GetValue(4),
        r.GetInt32(5), (byte[])r.GetValue(6), r.IsDBNull(7) ? null : r.GetString(7), Time(r.GetInt64(8)));

    /// <summary>
    /// One step per table, in this order: tenants and keys, capacities, prices, new holds, changed
    /// holds, the ledger, idempotency records.
    /// </summary>
    public Task WriteAsync(WorkingSet ws, IReadOnlyList<IdempotencyRecord> records, CancellationToken ct)
    {
        _written = ws;
        _changed.AddRange(ws.NewCapacities);
        _changed.AddRange(ws.ChangedCapacities);
        WriteTenants(ws);
        WriteCapacities(ws);
        WriteAllocations(ws);
        WriteLimits(ws);
        WriteEntries(ws);
        WritePrices(ws);
        InsertReservations(ws);
        UpdateReservations(ws);
        WriteLedger(ws);
        WriteSales(ws);
        WriteWebhooks(ws);
        WriteIdempotency(records);
        return Task.CompletedTask;
    }

    private void WriteTenants(WorkingSet ws)
    {
        foreach (var t in ws.NewTenants)
        {
            Run(Command($"INSERT INTO tenants ({TenantColumns}) VALUES ($1, $2, $3, $4)", "$1", "$2", "$3", "$4"), Id(t.Id), t.Name, Time(t.CreatedAt), Time(t.DisabledAt));
        }

        foreach (var t in ws.ChangedTenants)
        {
            Run(Command("UPDATE tenants SET disabled_at = $2 WHERE id = $1", "$1", "$2"), Id(t.Id), Time(t.DisabledAt));
        }

        foreach (var k in ws.NewKeys)
        {
            Run(
                Command($"INSERT INTO api_keys ({ApiKeyColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10"),
                Id(k.Id), k.KeyHash, Id(k.TenantId), k.Prefix, k.Name, (long)k.Scope, Time(k.CreatedAt), Time(k.ExpiresAt), Time(k.RevokedAt), Time(k.LastUsedAt));
        }

        // Only what can change once issued: revocation and last use.
        foreach (var k in ws.ChangedKeys)
        {
            Run(Command("UPDATE api_keys SET revoked_at = $2, last_used_at = $3 WHERE id = $1", "$1", "$2", "$3"), Id(k.Id), Time(k.RevokedAt), Time(k.LastUsedAt));
        }
    }

    private void WriteCapacities(WorkingSet ws)
    {
        foreach (var n in ws.NewCapacities)
        {
            Run(
                Command(
                    $"INSERT INTO capacities ({CapacityColumns}) "
                    + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16", "$17", "$18", "$19", "$20", "$21"),
                Id(n.Id), Id(n.TenantId), n.EventId, n.ScheduleId, n.SectionName, n.SectionCode, n.Total, Ids(n.ParentIds), n.IsActive ? 1 : 0,
                n.Reserved, n.Sold, Time(n.CreatedAt), Time(n.UpdatedAt), n.AllocationCount, Ids(n.LimitIds), Waitlist(n.Waitlist), n.WaitingUnits, n.QueueDemand, n.OfferedUnits,
                Sale(n.Sale), n.OverbookLimit);
        }

        // Every batch that takes tickets changes a few capacities, so this one is bound directly (RawStatement).
        var update = _updateCapacity ??= new RawStatement(
            connection,
            "UPDATE capacities SET section_name = ?2, section_code = ?3, total_capacity = ?4, is_active = ?5, reserved = ?6, sold = ?7, updated_at = ?8, "
            + "allocations = ?9, limit_ids = ?10, waitlist = ?11, waiting_units = ?12, queue_demand = ?13, offered_units = ?14, sale = ?15, overbook_limit = ?16 WHERE id = ?1");
        foreach (var n in ws.ChangedCapacities)
        {
            update.Bind(1, n.Id);
            update.Bind(2, n.SectionName);
            update.Bind(3, n.SectionCode);
            update.Bind(4, n.Total);
            update.Bind(5, n.IsActive ? 1L : 0L);
            update.Bind(6, n.Reserved);
            update.Bind(7, n.Sold);
            update.Bind(8, Time(n.UpdatedAt));
            update.Bind(9, n.AllocationCount);
            update.Bind(10, Ids(n.LimitIds));
            update.Bind(11, Waitlist(n.Waitlist));
            update.Bind(12, n.WaitingUnits);
            update.Bind(13, n.QueueDemand);
            update.Bind(14, n.OfferedUnits);
            update.Bind(15, Sale(n.Sale));
            update.Bind(16, n.OverbookLimit);
            update.Run();
        }

        // The few capacities with sale rules: the sweep finds their next window edge by this column.
        foreach (var n in ws.NewCapacities.Concat(ws.ChangedCapacities))
        {
            if (n.Sale is { } rules)
            {
                Run(Command("UPDATE capacities SET sale_edge_at = $2 WHERE id = $1", "$1", "$2"), Id(n.Id), Time(rules.EdgeAt));
            }
        }
    }

    private void WriteEntries(WorkingSet ws)
    {
        foreach (var e in ws.NewEntries)
        {
            Run(
                Command(
                    $"INSERT INTO waitlist_entries ({EntryColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12"),
                Id(e.Id), Id(e.TenantId), e.EventId, Lines(e.Items), e.BuyerKey, e.ExternalRef, e.Sequence, (int)e.Status,
                e.OfferReservationId is { } offer ? Id(offer) : null, Time(e.CreatedAt), Time(e.UpdatedAt), (int?)e.LapsedReason);
            foreach (var item in e.Items)
            {
                Run(Command("INSERT INTO waitlist_lines (capacity_id, sequence, entry_id) VALUES ($1, $2, $3)", "$1", "$2", "$3"), Id(item.CapacityId), e.Sequence, Id(e.Id));
            }
        }

        foreach (var e in ws.ChangedEntries)
        {
            Run(
                Command("UPDATE waitlist_entries SET status = $2, offer_reservation_id = $3, updated_at = $4, lapsed_reason = $5 WHERE id = $1", "$1", "$2", "$3", "$4", "$5"),
                Id(e.Id), (int)e.Status, e.OfferReservationId is { } offer ? Id(offer) : null, Time(e.UpdatedAt), (int?)e.LapsedReason);
        }
    }

    private void WriteAllocations(WorkingSet ws)
    {
        foreach (var a in ws.NewAllocations)
        {
            Run(
                Command(
                    "INSERT INTO allocations (id, tenant_id, capacity_id, event_id, name, size, held, sold, expires_at, status, created_at, updated_at) "
                    + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12"),
                Id(a.Id), Id(a.TenantId), Id(a.CapacityId), a.EventId, a.Name, a.Size, a.Held, a.Sold, Time(a.ExpiresAt), (int)a.Status,
                Time(a.CreatedAt), Time(a.UpdatedAt));
        }

        foreach (var a in ws.ChangedAllocations)
        {
            Run(
                Command(
                    "UPDATE allocations SET name = $2, size = $3, held = $4, sold = $5, expires_at = $6, status = $7, updated_at = $8 WHERE id = $1",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8"),
                Id(a.Id), a.Name, a.Size, a.Held, a.Sold, Time(a.ExpiresAt), (int)a.Status, Time(a.UpdatedAt));
        }
    }

    private void WriteLimits(WorkingSet ws)
    {
        foreach (var l in ws.NewLimits.Where(l => !l.Deleted))
        {
            Run(
                Command(
                    "INSERT INTO buyer_limits (id, tenant_id, event_id, name, capacity_ids, per_buyer_max, require_buyer_key, created_at, updated_at) "
                    + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"),
                Id(l.Id), Id(l.TenantId), l.EventId, l.Name, Ids(l.CapacityIds), l.PerBuyerMax, l.RequireBuyerKey ? 1 : 0, Time(l.CreatedAt), Time(l.UpdatedAt));
        }

        foreach (var l in ws.ChangedLimits)
        {
            if (l.Deleted)
            {
                Run(Command("DELETE FROM buyer_limits WHERE id = $1", "$1"), Id(l.Id));
            }
            else if (!ws.NewLimits.Contains(l))
            {
                Run(
                    Command("UPDATE buyer_limits SET name = $2, per_buyer_max = $3, require_buyer_key = $4, updated_at = $5 WHERE id = $1", "$1", "$2", "$3", "$4", "$5"),
                    Id(l.Id), l.Name, l.PerBuyerMax, l.RequireBuyerKey ? 1 : 0, Time(l.UpdatedAt));
            }
        }

        // Every change of a buyer's usage is appended to the capacity's usage log, in commit order: a row
        // not read (no limit covers its capacity) holds the batch's change already; a row read (from the
        // map) holds the buyer's new usage, and the change is that less what the map had. With buyers'
        // keys as platforms send them (hashes), writing the row instead would be a page of its own for
        // nearly every hold. The idle fold adds the log into the rows (UsageFoldService); the map takes
        // the new usage once the batch commits. No change, no write.
        foreach (var u in ws.NewUsage)
        {
            // A pair read and found absent has no usage before; one that has some was not read, and
            // deciding on it would have let a buyer past a limit: the batch fails (as an insert of its
            // row did, on the row there).
            if (!u.Unread && UsageOf(u) is not null)
            {
                throw new InvalidOperationException($"The usage of a buyer on capacity {u.CapacityId} was written without being read.");
            }

            LogUsage(u, u.Used);
        }

        foreach (var u in ws.ChangedUsage)
        {
            LogUsage(u, u.Used - (UsageOf(u) ?? 0));
        }
    }

    /// <summary>The pair's usage in the map (which has every pair the batch read), null where it has none.</summary>
    private long? UsageOf(BuyerUsage u) =>
        (usage.Find(u.CapacityId) ?? throw new InvalidOperationException($"The usage of capacity {u.CapacityId} was read without the map.")).TryGetValue(u.BuyerKey, out var used)
            ? used.Value
            : null;

    private void LogUsage(BuyerUsage u, long delta)
    {
        if (delta == 0)
        {
            return;
        }

        var log = _logUsage ??= new RawStatement(connection, "INSERT INTO buyer_usage_log (capacity_id, buyer_key, tenant_id, delta) VALUES (?1, ?2, ?3, ?4)");
        log.Bind(1, u.CapacityId);
        log.Bind(2, u.BuyerKey);
        log.Bind(3, u.TenantId);
        log.Bind(4, delta);
        log.Run();
    }

    // After the commit: the new usage of every pair the batch read, and the change of every pair it did
    // not read on a capacity the map has (one a limit covered until this batch, say).
    private void PublishUsage(WorkingSet ws)
    {
        foreach (var u in ws.NewUsage)
        {
            Publish(u);
        }

        foreach (var u in ws.ChangedUsage)
        {
            Publish(u);
        }

        void Publish(BuyerUsage u)
        {
            if (usage.Find(u.CapacityId) is { } buyers)
            {
                var before = buyers.GetValueOrDefault(u.BuyerKey).Value;
                UsageMap.Set(buyers, u.BuyerKey, new UsageMap.Used(u.TenantId, u.Unread ? before + u.Used : u.Used));
            }
        }
    }

    private void WritePrices(WorkingSet ws)
    {
        foreach (var p in ws.NewPrices)
        {
            Run(
                Command(
                    "INSERT INTO pricing (id, tenant_id, capacity_id, name, base_price, current_price, service_fee, facility_fee, tax_rate, currency, created_at, updated_at) "
                    + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12"),
                Id(p.Id), Id(p.TenantId), Id(p.CapacityId), p.Name, Money(p.BasePrice), p.CurrentPrice is { } cp ? Money(cp) : null,
                Money(p.ServiceFee), Money(p.FacilityFee), Money(p.TaxRate), p.Currency, Time(p.CreatedAt), Time(p.UpdatedAt));
        }

        foreach (var p in ws.ChangedPrices)
        {
            Run(
                Command(
                    "UPDATE pricing SET name = $2, base_price = $3, current_price = $4, service_fee = $5, facility_fee = $6, tax_rate = $7, currency = $8, updated_at = $9 WHERE id = $1",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"),
                Id(p.Id), p.Name, Money(p.BasePrice), p.CurrentPrice is { } cp ? Money(cp) : null,
                Money(p.ServiceFee), Money(p.FacilityFee), Money(p.TaxRate), p.Currency, Time(p.UpdatedAt));
        }
    }

    private void InsertReservations(WorkingSet ws)
    {
        var insertReservation = _insertReservation ??= new RawStatement(connection, InsertReservationSql);
        Span<byte> id = stackalloc byte[RawStatement.GuidTextLength];
        foreach (var r in ws.NewReservations)
        {
            r.Id.TryFormat(id, out _, "D");
            if (!_batchInserted || id.SequenceCompareTo(_batchMaxId) > 0)
            {
                id.CopyTo(_batchMaxId);
                _batchInserted = true;
            }

            InsertReservation(insertReservation, id, r, _items, EventUtf8(EventOf(ws, r)));
            if (r.Items.Length > 1)
            {
                ListUnderOtherEvents(ws, r);
            }
        }
    }

    /// <summary>A cart across events is listed under each of them, not only its first item's.</summary>
    private void ListUnderOtherEvents(WorkingSet ws, in Reservation r)
    {
        foreach (var eventId in OtherEventsOf(ws, r))
        {
            Run(
                Command("INSERT OR IGNORE INTO reservation_events (tenant_id, event_id, created_at, reservation_id) VALUES ($1, $2, $3, $4)", "$1", "$2", "$3", "$4"),
                Id(r.TenantId), eventId, Time(r.CreatedAt), Id(r.Id));
        }
    }

    /// <summary>An event id as UTF-8, kept per event so that a batch of holds on one event encodes it once.</summary>
    private byte[] EventUtf8(string eventId)
    {
        if (!_eventUtf8.TryGetValue(eventId, out var utf8))
        {
            if (_eventUtf8.Count >= 1024)
            {
                _eventUtf8.Clear();
            }

            _eventUtf8[eventId] = utf8 = Encoding.UTF8.GetBytes(eventId);
        }

        return utf8;
    }

    private void UpdateReservations(WorkingSet ws)
    {
        var updateReservation = _updateReservation ??= new RawStatement(
            connection, "UPDATE reservations SET status = ?2, expires_at = ?3, confirmed_at = ?4, ended_at = ?5 WHERE rowid = ?1");
        foreach (var r in ws.ChangedReservations)
        {
            // The core changes only rows it was given, and this batch loaded every one of them.
            updateReservation.Bind(1, _rowids.TryGetValue(r.Id, out var rowid)
                ? rowid
                : throw new InvalidOperationException($"Reservation {r.Id} changed without being loaded in this batch."));
            updateReservation.Bind(2, (long)r.Status);
            updateReservation.Bind(3, Time(r.ExpiresAt));
            updateReservation.Bind(4, r.ConfirmedAt is { } ca ? Time(ca) : null);
            updateReservation.Bind(5, r.EndedAt is { } ea ? Time(ea) : null);
            updateReservation.Run();
        }

        // Items change only in a change in part (a new target, a partial confirm or refund): rare, so
        // a statement of their own rather than rewriting every confirmed or expired hold's items.
        // A change may also move a hold to other events: it is listed under its first item's event and
        // the others of its items, as a new hold would be, and no longer under one it has left. Only
        // carts across events have reservation_events rows, so finding its rows without the event (a
        // scan of the tenant's few) costs little, and only in a change in part.
        if (ws.ChangedItemsCount > 0)
        {
            var updateItems = Command("UPDATE reservations SET items = $items, event_id = $event WHERE rowid = $rowid", "$rowid", "$items", "$event");
            var unlist = Command("DELETE FROM reservation_events WHERE tenant_id = $t AND created_at = $c AND reservation_id = $r", "$t", "$c", "$r");
            foreach (var r in ws.ChangedItems)
            {
                Run(updateItems, _rowids[r.Id], Items(r.Items), EventOf(ws, r));
                Run(unlist, Id(r.TenantId), Time(r.CreatedAt), Id(r.Id));
                ListUnderOtherEvents(ws, r);
            }
        }
    }

    private void WriteLedger(WorkingSet ws)
    {
        var chunks = LedgerChunks.Encode(ws.Ledger);
        if (chunks.Count > 0)
        {
            // Each event numbers its own entries 1, 2, 3… (migration 014), on from the last number of
            // its chunks: MAX through ledger_chunks_by_event is one B-tree descent per event. Read from
            // the table rather than kept in memory: this connection is the only writer, so the table
            // is always right, and a batch that rolls back leaves no number behind to forget.
            // Every batch that moves tickets writes here, so both statements are bound directly (RawStatement).
            var lastOf = _lastLedgerSeq ??= new RawStatement(connection, "SELECT COALESCE(MAX(last_seq), 0) FROM ledger_chunks WHERE tenant_id = ?1 AND event_id = ?2");
            var insert = _insertLedger ??= new RawStatement(
                connection, "INSERT INTO ledger_chunks (tenant_id, event_id, last_seq, count, entries) VALUES (?1, ?2, ?3, ?4, ?5)");
            var last = 0L;
            for (var i = 0; i < chunks.Count; i++)
            {
                var chunk = chunks[i];

                // An event's chunks come together (a group too big for one is split in order), so only its first reads.
                if (i == 0 || chunks[i - 1].TenantId != chunk.TenantId || !string.Equals(chunks[i - 1].EventId, chunk.EventId, StringComparison.Ordinal))
                {
                    lastOf.Bind(1, chunk.TenantId);
                    lastOf.Bind(2, chunk.EventId);
                    last = lastOf.Step() ? lastOf.Int64(0) : 0;
                    lastOf.Reset();
                }

                last += chunk.Count;
                insert.Bind(1, chunk.TenantId);
                insert.Bind(2, chunk.EventId);
                insert.Bind(3, last);
                insert.Bind(4, chunk.Count);
                insert.BindBlob(5, chunk.Entries);
                insert.Run();
            }
        }
    }

    // One upsert per capacity and minute the batch moved tickets on: a batch of holds on one pool adds one row's
    // worth. Nearly every batch runs it, so it is bound directly (RawStatement).
    private void WriteSales(WorkingSet ws)
    {
        if (ws.SalesMinutes.Count > 0)
        {
            var upsert = _upsertSales ??= new RawStatement(
                connection,
                "INSERT INTO sales_minutes (tenant_id, event_id, capacity_id, minute, held, confirmed, released, expired, cancelled, reclaimed) "
                + "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO UPDATE SET held = held + excluded.held, "
                + "confirmed = confirmed + excluded.confirmed, released = released + excluded.released, expired = expired + excluded.expired, "
                + "cancelled = cancelled + excluded.cancelled, reclaimed = reclaimed + excluded.reclaimed");
            foreach (var m in ws.SalesMinutes)
            {
                var f = m.Flows;
                upsert.Bind(1, m.TenantId);
                upsert.Bind(2, m.EventId);
                upsert.Bind(3, m.CapacityId);
                upsert.Bind(4, m.Minute);
                upsert.Bind(5, f.Held);
                upsert.Bind(6, f.Confirmed);
                upsert.Bind(7, f.Released);
                upsert.Bind(8, f.Expired);
                upsert.Bind(9, f.Cancelled);
                upsert.Bind(10, f.Reclaimed);
                upsert.Run();
            }
        }

        if (ws.ConfirmTimes.Count > 0)
        {
            var upsert = Command(
                "INSERT INTO confirm_times (tenant_id, event_id, capacity_id, minute, bucket, count) VALUES ($1, $2, $3, $4, $5, $6) "
                + "ON CONFLICT DO UPDATE SET count = count + excluded.count",
                "$1", "$2", "$3", "$4", "$5", "$6");
            foreach (var t in ws.ConfirmTimes)
            {
                Run(upsert, Id(t.TenantId), t.EventId, Id(t.CapacityId), t.Minute, t.Bucket, t.Count);
            }
        }
    }

    private void WriteIdempotency(IReadOnlyList<IdempotencyRecord> records)
    {
        foreach (var rec in records)
        {
            Run(
                Command(
                    "INSERT INTO idempotency (tenant_id, key, method, path, request_hash, status, body, location, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"),
                Id(rec.TenantId), rec.Key, rec.Method, rec.Path, rec.RequestHash, rec.Status, rec.Body, rec.Location, Time(rec.CreatedAt));
        }
    }

    public Task<int> PurgeIdempotencyAsync(DateTimeOffset before, CancellationToken ct)
    {
        var cmd = Command("DELETE FROM idempotency WHERE created_at < $before", "$before");
        cmd.Parameters[0].Value = Time(before);
        return Task.FromResult(cmd.ExecuteNonQuery());
    }

    public Task CommitAsync(CancellationToken ct)
    {
        try
        {
            (_commit ??= new RawStatement(connection, "COMMIT")).Run();
            _open = false;
        }
        catch
        {
            // A failed COMMIT may or may not have reached the file; the rows in memory can no longer be trusted.
            committed.Invalidate();
            liveHolds.Invalidate();
            usage.Invalidate();
            _maxId = null;
            PublishWebhooks(false);
            throw;
        }

        if (_batchInserted && _maxId is not null && _batchMaxId.AsSpan().SequenceCompareTo(_maxId) > 0)
        {
            _maxId = [.. _batchMaxId];
        }

        committed.Publish(_changed);
        _changed.Clear();
        if (!liveHolds.Apply(_written?.LiveHoldChanges ?? NoLiveHoldChanges))
        {
            liveHolds.CountIfUnknown(connection);
        }

        if (_written is { } written)
        {
            PublishUsage(written);
        }

        _written = null;
        PublishWebhooks(true);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        // Without a commit this rolls back: a failed batch leaves nothing behind. A COMMIT that failed
        // (SQLITE_BUSY, a full disk) may leave the transaction open; an error SQLite already rolled back
        // for leaves none, and then there is nothing to roll back.
        if (_open)
        {
            _open = false;
            if (!RawStatement.InAutocommit(connection))
            {
                (_rollback ??= new RawStatement(connection, "ROLLBACK")).Run();
            }
        }

        return ValueTask.CompletedTask;
    }

    public void DisposeCommands()
    {
        _statements.Dispose();
        _selectReservation?.Dispose();
        _insertReservation?.Dispose();
        _updateReservation?.Dispose();
        _updateCapacity?.Dispose();
        _upsertSales?.Dispose();
        _lastLedgerSeq?.Dispose();
        _insertLedger?.Dispose();
        _selectUsage?.Dispose();
        _selectUsageLog?.Dispose();
        _firstLogged?.Dispose();
        _oldestLogged?.Dispose();
        _deleteLogged?.Dispose();
        _selectLimit?.Dispose();
        _logUsage?.Dispose();
        _selectEndpoints?.Dispose();
        _addUsage?.Dispose();
        _subtractUsage?.Dispose();
        _begin?.Dispose();
        _commit?.Dispose();
        _rollback?.Dispose();
        _items.Dispose();
    }

    /// <summary>False only for an id above every id in the file, compared byte by byte as SQLite compares TEXT.</summary>
    private bool MayExist(Guid id)
    {
        if (_maxId is null)
        {
            return true;
        }

        Span<byte> text = stackalloc byte[RawStatement.GuidTextLength];
        id.TryFormat(text, out _, "D");
        return text.SequenceCompareTo(_maxId) <= 0;
    }

    // The store's columns (0-7) and the rowid after them, so the store's row reader applies unchanged.
    private const string SelectReservationAndRowid = $"SELECT {ReservationColumns}, rowid FROM reservations WHERE id = ?1";
    private const int RowidColumn = 12;

    private SqliteCommand Command(string sql, params string[] parameters) => _statements.Get(sql, null, parameters);

    private static void Run(SqliteCommand cmd, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        cmd.ExecuteNonQuery();
    }

    internal const string InsertReservationSql =
        "INSERT INTO reservations (id, tenant_id, status, items, created_at, expires_at, confirmed_at, ended_at, buyer_key, waitlist_id, external_ref, metadata, event_id) "
        + "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

    /// <summary>
    /// Inserts a new hold's row, <paramref name="id"/> being its id as text. The one place a hold
    /// becomes a row: the writer uses it, and so does the engine bench's floor, which measures it alone.
    /// </summary>
    internal static void InsertReservation(RawStatement insert, ReadOnlySpan<byte> id, in Reservation r, JsonRowBuffer items, ReadOnlySpan<byte> eventId)
    {
        Items(r.Items, items.Start());
        insert.BindText(1, id);
        insert.Bind(2, r.TenantId);
        insert.Bind(3, (long)r.Status);
        insert.BindText(4, items.Written());
        insert.Bind(5, Time(r.CreatedAt));
        insert.Bind(6, Time(r.ExpiresAt));
        insert.Bind(7, r.ConfirmedAt is { } ca ? Time(ca) : null);
        insert.Bind(8, r.EndedAt is { } ea ? Time(ea) : null);
        insert.Bind(9, r.BuyerKey);
        insert.Bind(10, r.WaitlistId is { } waitlistId ? Id(waitlistId) : null);
        insert.Bind(11, r.Labels?.ExternalRef);
        insert.Bind(12, Metadata(r.Labels));
        insert.BindText(13, eventId);
        insert.Run();
    }
}

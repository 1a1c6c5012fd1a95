using Capacity.Core;
using Capacity.Testing;
using Npgsql;

namespace Capacity.Engine.Tests;

/// <summary>
/// PostgreSQL with many other tenants' rows: a batch finds its own rows by key and reads no table
/// whole. The capacities' lock query once did (PostgreSQL planned its <c>IN (subquery)</c> as a hash
/// join over every capacity): 630 ms a batch at 100,000 capacities, unseen by every other test, whose
/// databases hold a handful. What a table's scans read is PostgreSQL's own count
/// (<c>pg_stat_user_tables</c>), so this fails on any statement of the write path whose plan scans
/// the capacities, the endpoints or the deliveries, not only that one.
/// </summary>
public sealed class BatchScaleTests
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    private const int OtherCapacities = 100_000;
    private const int OtherEndpoints = 20_000;
    private const int OtherDeliveries = 100_000;

    [Fact]
    public Task Batches_on_a_database_full_of_other_tenants_rows_read_only_their_own_rows() => CountScansAsync(fillFirst: true);

    /// <summary>
    /// The writer's sessions keep a plan made once until the table's statistics change: plans made
    /// while the tables held a few rows (autovacuum off, so no ANALYZE comes between) must still find
    /// rows by key once the tables hold many. With generic plans and scans allowed this failed: a
    /// one-row table is read fastest whole, and that plan stayed.
    /// </summary>
    [Fact]
    public Task Batches_planned_while_the_tables_were_small_read_only_their_own_rows_once_they_fill() => CountScansAsync(fillFirst: false);

    private static async Task CountScansAsync(bool fillFirst)
    {
        var h = await EngineHarness.OpenAsync(StoreKind.Postgres);
        EngineHarness? reopened = null;
        try
        {
            if (fillFirst)
            {
                await FillAsync(h.Location, analyze: true);
            }
            else
            {
                await ExecuteAsync(h.Location, "ALTER TABLE capacities SET (autovacuum_enabled = false); ALTER TABLE webhooks SET (autovacuum_enabled = false); "
                    + "ALTER TABLE webhook_deliveries SET (autovacuum_enabled = false)");
                await WorkloadAsync(h);
                await FillAsync(h.Location, analyze: false);
            }

            var before = await ScansAsync(h.Location);
            await WorkloadAsync(h);

            // A backend reports what it read when it goes idle, at most once a second, and when it ends:
            // closing the pools ends the sessions, and the counts are awaited until the capacities' index
            // shows this work and they stop changing, so a report not yet made cannot pass for a clean one.
            reopened = await h.ReopenAsync();
            var after = await SettledScansAsync(h.Location, before);
            Assert.True(after["capacities"].SeqRead - before["capacities"].SeqRead < OtherCapacities / 10,
                $"batches read {after["capacities"].SeqRead - before["capacities"].SeqRead} capacity rows by scans ({OtherCapacities} others in the table)");
            Assert.True(after["webhooks"].SeqRead - before["webhooks"].SeqRead < OtherEndpoints / 10,
                $"batches read {after["webhooks"].SeqRead - before["webhooks"].SeqRead} endpoint rows by scans ({OtherEndpoints} others in the table)");
            Assert.True(after["webhook_deliveries"].SeqRead - before["webhook_deliveries"].SeqRead < OtherDeliveries / 10,
                $"batches read {after["webhook_deliveries"].SeqRead - before["webhook_deliveries"].SeqRead} delivery rows by scans ({OtherDeliveries} others in the table)");
            await reopened.AssertAuditCleanAsync();
        }
        finally
        {
            await (reopened ?? h).DisposeAsync();
        }
    }

    /// <summary>
    /// Holds that sell a pool out, a queue behind them, confirms and releases (whose freed units go to
    /// the queue in the same batch), more holds racing them, and a sender's attempts: every path of a
    /// plain batch, with deliveries written for a subscribed endpoint.
    /// </summary>
    private static async Task WorkloadAsync(EngineHarness h)
    {
        var pool = await h.CreateAsync("Floor", 40, await h.CreateAsync("Venue", 1000));
        var endpoint = Guid.CreateVersion7();
        var subscribed = await h.Engine.SubmitAsync(new CreateWebhook(
            Tenant, endpoint, $"https://{endpoint:N}.example/hook", Topics.CapacitySoldOut | Topics.ReservationConfirmed | Topics.ReservationReleased, null, "whsec_c2VjcmV0"));
        Assert.Equal(OutcomeCode.Ok, subscribed.Outcome?.Code);
        var waitlist = await h.Engine.SubmitAsync(new UpdateCapacity(
            Tenant, pool, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, new WaitlistPatch(true, 30, WaitlistPolicy.Fifo)));
        Assert.Equal(OutcomeCode.Ok, waitlist.Outcome?.Code);

        var holds = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => h.HoldAsync(pool, 1)));
        var held = holds.Where(r => r.Outcome?.Code == OutcomeCode.Ok).Select(r => r.Outcome!.Value.Reservation!.Value.Id).ToArray();
        Assert.Equal(40, held.Length);
        var joins = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ =>
            h.Engine.SubmitAsync(new JoinWaitlist(Tenant, Guid.CreateVersion7(), [new WaitlistItem(pool, 1)], null, null))));
        Assert.All(joins, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        var changes = await Task.WhenAll(held.Select((id, i) =>
            h.Engine.SubmitAsync(new TransitionReservation(Tenant, id, i % 2 == 0 ? Transition.Confirm : Transition.Release)))
            .Concat(Enumerable.Range(0, 20).Select(_ => h.HoldAsync(pool, 1))));
        Assert.All(changes.Take(held.Length), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        var node = (await h.Store.GetCapacitiesAsync(Tenant, [pool], CancellationToken.None)).Single(n => n.Id == pool);
        Assert.True(node.Reserved + node.Sold <= 40);

        var deliveries = await h.Store.GetDeliveriesAsync(Tenant, endpoint, 0, 100, CancellationToken.None);
        Assert.True(deliveries.Count >= 40, $"{deliveries.Count} deliveries written");
        var attempts = await Task.WhenAll(deliveries.Take(20).Select(d =>
            h.Engine.SubmitAsync(new RecordDeliveryAttempt(Tenant, endpoint, d.Sequence, 200, null, 5, 0.5))));
        Assert.All(attempts, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var command = new NpgsqlCommand(sql, c) { CommandTimeout = 120 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Other tenants' capacities (a venue and four sections per event), endpoints and delivered
    /// messages (ten for each of the first endpoints, numbered as the audit expects), written directly,
    /// and, when <paramref name="analyze"/>, the statistics PostgreSQL plans by.
    /// </summary>
    private static Task FillAsync(string connectionString, bool analyze) => ExecuteAsync(connectionString,
        $$"""
        INSERT INTO capacities (id, tenant_id, event_id, section_name, total_capacity, parent_ids, is_active, reserved, sold, created_at, updated_at)
        SELECT v.id, v.tenant, 'ev' || v.e, 's' || v.k, 1000, CASE WHEN v.k = 0 THEN '{}'::uuid[] ELSE ARRAY[v.parent] END, true, 0, 0, 0, 0
        FROM (SELECT t, e, k, md5(t || ':' || e || ':' || k)::uuid AS id, md5(t || ':' || e || ':0')::uuid AS parent, md5('tenant' || t)::uuid AS tenant
              FROM generate_series(1, {{OtherCapacities / 50}}) t, generate_series(1, 10) e, generate_series(0, 4) k) v;
        INSERT INTO webhooks (id, tenant_id, url, topics, secret, enabled, created_at, updated_at)
        SELECT md5('endpoint' || i)::uuid, md5('tenant' || (i % {{OtherCapacities / 50}} + 1))::uuid, 'https://other.example/' || i, 1, 'whsec_c2VjcmV0', true, 0, 0
        FROM generate_series(1, {{OtherEndpoints}}) i;
        INSERT INTO webhook_deliveries (endpoint_id, sequence, tenant_id, message_id, type, occurred_at, data, status, attempts, retrying_since, delivered_at)
        SELECT w.id, s, w.tenant_id, md5(w.id::text || s)::uuid, 'reservation.confirmed', 0, '{}', 1, 1, 0, 0
        FROM (SELECT id, tenant_id FROM webhooks WHERE url LIKE 'https://other.example/%' ORDER BY id LIMIT {{OtherDeliveries / 10}}) w, generate_series(1, 10) s;
        UPDATE webhooks SET last_sequence = 10 WHERE id IN (SELECT DISTINCT endpoint_id FROM webhook_deliveries WHERE tenant_id <> '{{Tenant}}');
        {{(analyze ? "ANALYZE;" : "")}}
        """);

    private sealed record Scans(long SeqRead, long IndexScans);

    private static async Task<Dictionary<string, Scans>> ScansAsync(string connectionString)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var read = new NpgsqlCommand(
            "SELECT relname, seq_tup_read, COALESCE(idx_scan, 0) FROM pg_stat_user_tables WHERE schemaname = current_schema()", c);
        await using var r = await read.ExecuteReaderAsync();
        var scans = new Dictionary<string, Scans>();
        while (await r.ReadAsync())
        {
            scans[r.GetString(0)] = new Scans(r.GetInt64(1), r.GetInt64(2));
        }

        return scans;
    }

    /// <summary>
    /// The counts once the batches' sessions have reported them: the capacities' index shows work
    /// since <paramref name="before"/> (so a report not yet made cannot pass for a clean one), and two
    /// looks a moment apart agree (the sessions have ended, so nothing more is on its way).
    /// </summary>
    private static async Task<Dictionary<string, Scans>> SettledScansAsync(string connectionString, Dictionary<string, Scans> before)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var last = await ScansAsync(connectionString);
        while (true)
        {
            await Task.Delay(1500);
            var now = await ScansAsync(connectionString);
            if (now["capacities"].IndexScans > before["capacities"].IndexScans && now.All(t => last.TryGetValue(t.Key, out var was) && was == t.Value))
            {
                return now;
            }

            Assert.True(DateTime.UtcNow < deadline, "PostgreSQL never reported the batches' reads");
            last = now;
        }
    }
}

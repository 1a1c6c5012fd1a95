using Capacity.Core;
using Capacity.Storage;
using Npgsql;
using NpgsqlTypes;
using static Capacity.Storage.RowFormat;

namespace Capacity.Storage.Postgres;

internal sealed partial class PostgresWriteTransaction
{
    /// <summary>
    /// Last in the lock order: the endpoints of every tenant the batch touches, read without a lock
    /// (a batch that writes deliveries takes its sequence numbers with an UPDATE at its write, in id
    /// order, which orders nodes); when a command names an endpoint (an attempt recorded, an endpoint
    /// changed), all of them locked in id order instead, and the named deliveries after them, so that
    /// two nodes recording an attempt at one delivery, or changing one endpoint, take turns.
    /// </summary>
    private async Task LoadWebhooksAsync(LoadKeys keys, WorkingSet ws, CancellationToken ct)
    {
        var tenants = new HashSet<Guid>(keys.WebhookTenants);
        foreach (var node in ws.Capacities)
        {
            tenants.Add(node.TenantId);
        }

        if (keys.Webhooks.Count > 0)
        {
            // Every endpoint of the tenants, not only those named: a batch may write notices to any of
            // them, taking their sequence numbers (an UPDATE) at its write. Holding a named endpoint
            // from the load while waiting there for another one that a second node's batch holds the
            // same way (each recording for the endpoint its sender claimed) is a deadlock; taking them
            // all here, in id order, leaves the write no endpoint to wait for.
            await using var lockCmd = Command(
                $"SELECT {WebhookRows.EndpointColumns} FROM webhooks "
                + "WHERE tenant_id IN (SELECT tenant_id FROM webhooks WHERE id = ANY($1) UNION SELECT unnest($2::uuid[])) ORDER BY id FOR UPDATE");
            lockCmd.Parameters.Add(new NpgsqlParameter { Value = keys.Webhooks.ToArray() });
            lockCmd.Parameters.Add(new NpgsqlParameter { Value = tenants.ToArray() });
            await using var r = await lockCmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(WebhookRows.ReadEndpoint(r));
            }
        }
        else if (tenants.Count > 0 && !_endpointsRead)
        {
            await using var cmd = Command($"SELECT {WebhookRows.EndpointColumns} FROM webhooks WHERE tenant_id = ANY($1)");
            cmd.Parameters.Add(new NpgsqlParameter { Value = tenants.ToArray() });
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(WebhookRows.ReadEndpoint(r));
            }
        }

        if (keys.Deliveries.Count > 0)
        {
            await using var cmd = Command(
                $"SELECT {WebhookRows.DeliveryColumns} FROM webhook_deliveries WHERE (endpoint_id, sequence) IN (SELECT * FROM unnest($1::uuid[], $2::bigint[])) "
                + "ORDER BY endpoint_id, sequence FOR UPDATE");
            cmd.Parameters.Add(new NpgsqlParameter { Value = keys.Deliveries.Select(d => d.EndpointId).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter { Value = keys.Deliveries.Select(d => d.Sequence).ToArray() });
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                ws.Load(WebhookRows.ReadDelivery(r));
            }
        }
    }

    private static object Uuid(Guid id) => id;

    private static object BoolFlag(bool value) => value;

    private static void AddWebhooks(NpgsqlBatch batch, WorkingSet ws)
    {
        foreach (var e in ws.NewEndpoints)
        {
            Add(batch, WebhookRows.InsertEndpoint, WebhookRows.EndpointValues(e, Uuid, BoolFlag));
        }

        foreach (var e in ws.ChangedEndpoints)
        {
            if (e.Deleted)
            {
                Add(batch, WebhookRows.DeleteAttempts, e.Id);
                Add(batch, WebhookRows.DeleteDeliveries, e.Id);
                Add(batch, WebhookRows.DeleteEndpoint, e.Id);
            }
            else
            {
                Add(batch, WebhookRows.UpdateEndpoint, WebhookRows.EndpointUpdateValues(e, Uuid, BoolFlag));
            }
        }

        foreach (var d in ws.ChangedDeliveries)
        {
            AddTyped(batch, WebhookRows.UpdateDelivery, WebhookRows.DeliveryUpdateValues(d, Uuid),
                NpgsqlDbType.Uuid, NpgsqlDbType.Bigint, NpgsqlDbType.Integer, NpgsqlDbType.Integer, NpgsqlDbType.Bigint, NpgsqlDbType.Bigint, NpgsqlDbType.Bigint,
                NpgsqlDbType.Integer, NpgsqlDbType.Text);
        }

        foreach (var a in ws.Attempts)
        {
            AddTyped(batch, WebhookRows.InsertAttempt, WebhookRows.AttemptValues(a, Uuid),
                NpgsqlDbType.Uuid, NpgsqlDbType.Bigint, NpgsqlDbType.Integer, NpgsqlDbType.Bigint, NpgsqlDbType.Integer, NpgsqlDbType.Text, NpgsqlDbType.Integer);
        }

        if (ws.Notices.Count == 0)
        {
            return;
        }

        // One statement per endpoint: its sequence numbers taken and its deliveries inserted together,
        // in the write batch's single round trip. In PostgreSQL's order of the ids (that of the load's
        // ORDER BY id FOR UPDATE; a uuid compares as its text does), so that two batches writing to the
        // same endpoints take their row locks in one order and wait for each other, never in a cycle.
        foreach (var group in WebhookRows.FanOut(ws).GroupBy(row => row.Endpoint).OrderBy(g => g.Key.Id.ToString("N"), StringComparer.Ordinal))
        {
            var notices = group.Select(row => row.Notice).ToArray();
            var cmd = new NpgsqlBatchCommand(
                "WITH s AS (UPDATE webhooks SET last_sequence = last_sequence + $2 WHERE id = $1 RETURNING last_sequence - $2 AS base) "
                + "INSERT INTO webhook_deliveries (endpoint_id, sequence, tenant_id, message_id, type, event_id, occurred_at, data, status, attempts, next_attempt_at, retrying_since) "
                + "SELECT $1, s.base + u.ord, $3, u.message_id, u.type, u.event_id, u.occurred_at, u.data, 0, 0, u.occurred_at, u.occurred_at "
                + "FROM s, unnest($4::uuid[], $5::text[], $6::text[], $7::bigint[], $8::text[]) WITH ORDINALITY AS u(message_id, type, event_id, occurred_at, data, ord)");
            cmd.Parameters.Add(new NpgsqlParameter { Value = group.Key.Id });
            cmd.Parameters.Add(new NpgsqlParameter { Value = (long)notices.Length });
            cmd.Parameters.Add(new NpgsqlParameter { Value = group.Key.TenantId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = notices.Select(n => n.MessageId).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter { Value = notices.Select(n => TopicNames.Of(n.Topic)).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter { Value = notices.Select(n => n.EventId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            cmd.Parameters.Add(new NpgsqlParameter { Value = notices.Select(n => Time(n.At)).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter { Value = notices.Select(n => System.Text.Encoding.UTF8.GetString(n.Data ?? "{}"u8.ToArray())).ToArray() });
            batch.BatchCommands.Add(cmd);
        }
    }

    private static void AddTyped(NpgsqlBatch batch, string sql, object?[] values, params NpgsqlDbType[] types)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        for (var i = 0; i < values.Length; i++)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = values[i] ?? DBNull.Value, NpgsqlDbType = types[i] });
        }

        batch.BatchCommands.Add(cmd);
    }
}

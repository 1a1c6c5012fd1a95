using Capacity.Core;
using Capacity.Engine;
using Npgsql;
using static Capacity.Storage.RowFormat;
using static Capacity.Storage.WebhookRows;

namespace Capacity.Storage.Postgres;

public sealed partial class PostgresStore
{
    public async Task<IReadOnlyList<WebhookEndpoint>> GetWebhooksAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {EndpointColumns} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id");
        cmd.Parameters.Add(new NpgsqlParameter { Value = tenantId });
        return await ReadEndpointsAsync(cmd, ct).ConfigureAwait(false);
    }

    public async Task<WebhookEndpoint?> GetWebhookAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand($"SELECT {EndpointColumns} FROM webhooks WHERE id = $1 AND tenant_id = $2");
        cmd.Parameters.Add(new NpgsqlParameter { Value = id });
        cmd.Parameters.Add(new NpgsqlParameter { Value = tenantId });
        return await ReadEndpointsAsync(cmd, ct).ConfigureAwait(false) is [var endpoint] ? endpoint : null;
    }

    public async Task<IReadOnlyList<DeliveryRecord>> GetDeliveriesAsync(Guid tenantId, Guid endpointId, long after, int limit, CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);
        var rows = new List<(DeliveryRecord, long)>();
        await using (var cmd = new NpgsqlCommand(
            $"SELECT {DeliveryColumns} FROM webhook_deliveries WHERE endpoint_id = $1 AND tenant_id = $2 AND sequence > $3 ORDER BY sequence LIMIT $4", c, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = endpointId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = tenantId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = after });
            cmd.Parameters.Add(new NpgsqlParameter { Value = limit });
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                rows.Add((ReadRecord(r, []), r.GetInt64(1)));
            }
        }

        var attempts = new List<WebhookAttempt>();
        if (rows.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(
                $"SELECT {AttemptColumns} FROM webhook_attempts WHERE endpoint_id = $1 AND sequence BETWEEN $2 AND $3 ORDER BY sequence, attempt", c, tx);
            cmd.Parameters.Add(new NpgsqlParameter { Value = endpointId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = rows[0].Item2 });
            cmd.Parameters.Add(new NpgsqlParameter { Value = rows[^1].Item2 });
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                attempts.Add(ReadAttempt(r));
            }
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return WithAttempts(rows, attempts);
    }

    /// <summary>
    /// Leases endpoints whose first pending delivery is due and that no live lease holds. SKIP LOCKED:
    /// two nodes claiming at once each take different endpoints instead of waiting for each other.
    /// </summary>
    public async Task<IReadOnlyList<OutboxWork>> ClaimDeliveriesAsync(
        string node, DateTimeOffset now, DateTimeOffset leaseUntil, int endpoints, int perEndpoint, IReadOnlyCollection<Guid> busy, CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        var claimed = new List<(Guid Id, Guid Tenant, string Url, string Secret)>();
        await using (var cmd = new NpgsqlCommand(
            "WITH due AS (SELECT w.id FROM webhooks w WHERE w.enabled AND (w.lease_until IS NULL OR w.lease_until <= $1) "
            + "AND (SELECT d.next_attempt_at FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 0 ORDER BY d.sequence LIMIT 1) <= $1 "
            + "ORDER BY w.id LIMIT $2 FOR UPDATE SKIP LOCKED) "
            + "UPDATE webhooks w SET lease_until = $3, leased_by = $4 FROM due WHERE w.id = due.id RETURNING w.id, w.tenant_id, w.url, w.secret",
            c))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = Time(now) });
            cmd.Parameters.Add(new NpgsqlParameter { Value = endpoints });
            cmd.Parameters.Add(new NpgsqlParameter { Value = Time(leaseUntil) });
            cmd.Parameters.Add(new NpgsqlParameter { Value = node });
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                claimed.Add((r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3)));
            }
        }

        var work = new List<OutboxWork>();
        foreach (var (id, tenant, url, secret) in claimed)
        {
            await using var cmd = new NpgsqlCommand($"SELECT {PendingColumns} FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 0 ORDER BY sequence LIMIT $2", c);
            cmd.Parameters.Add(new NpgsqlParameter { Value = id });
            cmd.Parameters.Add(new NpgsqlParameter { Value = perEndpoint });
            var messages = new List<OutboxMessage>();
            await using (var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    messages.Add(ReadMessage(r));
                }
            }

            work.Add(new OutboxWork(id, tenant, url, secret, messages));
        }

        return work;
    }

    public async Task ReleaseClaimAsync(string node, Guid endpointId, CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand("UPDATE webhooks SET lease_until = NULL, leased_by = NULL WHERE id = $1 AND leased_by = $2");
        cmd.Parameters.Add(new NpgsqlParameter { Value = endpointId });
        cmd.Parameters.Add(new NpgsqlParameter { Value = node });
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static async Task<List<WebhookEndpoint>> ReadEndpointsAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        var endpoints = new List<WebhookEndpoint>();
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            endpoints.Add(ReadEndpoint(r));
        }

        return endpoints;
    }
}

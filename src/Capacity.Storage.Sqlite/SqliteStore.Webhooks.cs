using Capacity.Core;
using Capacity.Engine;
using Microsoft.Data.Sqlite;
using static Capacity.Storage.RowFormat;
using static Capacity.Storage.WebhookRows;

namespace Capacity.Storage.Sqlite;

public sealed partial class SqliteStore
{
    public async Task<IReadOnlyList<WebhookEndpoint>> GetWebhooksAsync(Guid tenantId, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {EndpointColumns} FROM webhooks WHERE tenant_id = $t ORDER BY created_at, id", c);
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        return ReadEndpoints(cmd);
    }

    public async Task<WebhookEndpoint?> GetWebhookAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        using var cmd = new SqliteCommand($"SELECT {EndpointColumns} FROM webhooks WHERE id = $id AND tenant_id = $t", c);
        cmd.Parameters.AddWithValue("$id", Id(id));
        cmd.Parameters.AddWithValue("$t", Id(tenantId));
        return ReadEndpoints(cmd) is [var endpoint] ? endpoint : null;
    }

    public async Task<IReadOnlyList<DeliveryRecord>> GetDeliveriesAsync(Guid tenantId, Guid endpointId, long after, int limit, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        await using var tx = (SqliteTransaction)await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        var rows = new List<(DeliveryRecord, long)>();
        using (var cmd = new SqliteCommand(
            $"SELECT {DeliveryColumns} FROM webhook_deliveries WHERE endpoint_id = $e AND tenant_id = $t AND sequence > $a ORDER BY sequence LIMIT $l", c, tx))
        {
            cmd.Parameters.AddWithValue("$e", Id(endpointId));
            cmd.Parameters.AddWithValue("$t", Id(tenantId));
            cmd.Parameters.AddWithValue("$a", after);
            cmd.Parameters.AddWithValue("$l", limit);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                rows.Add((ReadRecord(r, []), r.GetInt64(1)));
            }
        }

        var attempts = new List<WebhookAttempt>();
        if (rows.Count > 0)
        {
            using var cmd = new SqliteCommand(
                $"SELECT {AttemptColumns} FROM webhook_attempts WHERE endpoint_id = $e AND sequence BETWEEN $from AND $to ORDER BY sequence, attempt", c, tx);
            cmd.Parameters.AddWithValue("$e", Id(endpointId));
            cmd.Parameters.AddWithValue("$from", rows[0].Item2);
            cmd.Parameters.AddWithValue("$to", rows[^1].Item2);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                attempts.Add(ReadAttempt(r));
            }
        }

        return WithAttempts(rows, attempts);
    }

    /// <summary>One process owns the file, so a claim needs no lease: the dispatcher keeps its own endpoints apart (<paramref name="busy"/>).</summary>
    public async Task<IReadOnlyList<OutboxWork>> ClaimDeliveriesAsync(
        string node, DateTimeOffset now, DateTimeOffset leaseUntil, int endpoints, int perEndpoint, IReadOnlyCollection<Guid> busy, CancellationToken ct)
    {
        await using var c = await OpenReadAsync(ct).ConfigureAwait(false);
        var candidates = new List<(Guid Id, Guid Tenant, string Url, string Secret)>();
        using (var cmd = new SqliteCommand(
            "SELECT w.id, w.tenant_id, w.url, w.secret FROM webhooks w WHERE w.enabled = 1 "
            + "AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 0) ORDER BY w.id",
            c))
        {
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                candidates.Add((Id(r.GetString(0)), Id(r.GetString(1)), r.GetString(2), r.GetString(3)));
            }
        }

        var work = new List<OutboxWork>();
        using var pending = new SqliteCommand($"SELECT {PendingColumns} FROM webhook_deliveries WHERE endpoint_id = $e AND status = 0 ORDER BY sequence LIMIT $l", c);
        pending.Parameters.AddWithValue("$e", "");
        pending.Parameters.AddWithValue("$l", perEndpoint);
        foreach (var (id, tenant, url, secret) in candidates)
        {
            if (busy.Contains(id))
            {
                continue;
            }

            pending.Parameters[0].Value = Id(id);
            var messages = new List<OutboxMessage>();
            using (var r = pending.ExecuteReader())
            {
                while (r.Read())
                {
                    messages.Add(ReadMessage(r));
                }
            }

            // In order: an endpoint whose first pending delivery waits for its retry sends nothing after it either.
            if (messages.Count > 0 && (messages[0].NextAttemptAt is not { } next || next <= now))
            {
                work.Add(new OutboxWork(id, tenant, url, secret, messages));
                if (work.Count == endpoints)
                {
                    break;
                }
            }
        }

        return work;
    }

    public Task ReleaseClaimAsync(string node, Guid endpointId, CancellationToken ct) => Task.CompletedTask;

    private static List<WebhookEndpoint> ReadEndpoints(SqliteCommand cmd)
    {
        var endpoints = new List<WebhookEndpoint>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            endpoints.Add(ReadEndpoint(r));
        }

        return endpoints;
    }
}

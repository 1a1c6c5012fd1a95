using Capacity.Core;
using Capacity.Storage;
using static Capacity.Storage.RowFormat;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// Which tenants have webhook endpoints, as last committed: the writer's own count, so that a batch of
/// a tenant without one never reads the webhooks table. Only the writer thread touches it.
/// </summary>
internal sealed class WebhookTenants
{
    private readonly Dictionary<Guid, int> _endpoints = [];

    public bool Loaded { get; private set; }

    public bool Any => _endpoints.Count > 0;

    public bool Has(Guid tenantId) => _endpoints.ContainsKey(tenantId);

    public void Load(IEnumerable<(Guid TenantId, int Count)> counts)
    {
        _endpoints.Clear();
        foreach (var (tenant, count) in counts)
        {
            _endpoints[tenant] = count;
        }

        Loaded = true;
    }

    public void Add(Guid tenantId, int delta)
    {
        var count = _endpoints.GetValueOrDefault(tenantId) + delta;
        if (count > 0)
        {
            _endpoints[tenantId] = count;
        }
        else
        {
            _endpoints.Remove(tenantId);
        }
    }

    /// <summary>After a failed commit the counts may be wrong: read them again before the next batch.</summary>
    public void Invalidate() => Loaded = false;
}

internal sealed partial class SqliteWriteTransaction
{
    // Endpoints created and deleted by this batch, counted into the tenants once (and only if) it commits.
    private readonly List<(Guid TenantId, int Delta)> _endpointCounts = [];

    private void LoadWebhooks(LoadKeys keys, WorkingSet ws)
    {
        if (!watchers.Loaded)
        {
            var counts = new List<(Guid, int)>();
            using (var r = Command("SELECT tenant_id, COUNT(*) FROM webhooks GROUP BY tenant_id").ExecuteReader())
            {
                while (r.Read())
                {
                    counts.Add((Id(r.GetString(0)), r.GetInt32(1)));
                }
            }

            watchers.Load(counts);
        }

        if (!watchers.Any && keys.Webhooks.Count == 0 && keys.WebhookTenants.Count == 0)
        {
            return;
        }

        var tenants = new HashSet<Guid>(keys.WebhookTenants);
        foreach (var node in ws.Capacities)
        {
            if (watchers.Has(node.TenantId))
            {
                tenants.Add(node.TenantId);
            }
        }

        var byId = Command($"SELECT {WebhookRows.EndpointColumns} FROM webhooks WHERE id = $1", "$1");
        foreach (var id in keys.Webhooks)
        {
            byId.Parameters[0].Value = Id(id);
            using var r = byId.ExecuteReader();
            if (r.Read())
            {
                tenants.Add(Id(r.GetString(1)));
            }
        }

        // Every batch of a tenant with an endpoint reads them, so this lookup is bound directly
        // (RawStatement), as the limits' and the usage rows' are: through a data reader it was 1.6 % of
        // the writer's CPU under the rules benchmark (docs/performance.md).
        var byTenant = _selectEndpoints ??= new RawStatement(connection, $"SELECT {WebhookRows.EndpointColumns} FROM webhooks WHERE tenant_id = ?1");
        foreach (var tenant in tenants)
        {
            byTenant.Bind(1, tenant);
            try
            {
                while (byTenant.Step())
                {
                    ws.Load(ReadEndpoint(byTenant));
                }
            }
            finally
            {
                byTenant.Reset();
            }
        }

        var delivery = Command($"SELECT {WebhookRows.DeliveryColumns} FROM webhook_deliveries WHERE endpoint_id = $1 AND sequence = $2", "$1", "$2");
        foreach (var (endpointId, sequence) in keys.Deliveries)
        {
            delivery.Parameters[0].Value = Id(endpointId);
            delivery.Parameters[1].Value = sequence;
            using var r = delivery.ExecuteReader();
            if (r.Read())
            {
                ws.Load(WebhookRows.ReadDelivery(r));
            }
        }
    }

    // WebhookRows.ReadEndpoint's mapping of WebhookRows.EndpointColumns, from a bound statement.
    private static WebhookEndpoint ReadEndpoint(RawStatement s) => new()
    {
        Id = s.Guid(0),
        TenantId = s.Guid(1),
        Url = s.Text(2)!,
        Topics = (Topics)s.Int64(3),
        Description = s.Text(4),
        Secret = s.Text(5)!,
        Enabled = s.Int64(6) != 0,
        DisabledReason = s.Text(7),
        FailingSince = s.IsNull(8) ? null : Time(s.Int64(8)),
        CreatedAt = Time(s.Int64(9)),
        UpdatedAt = Time(s.Int64(10)),
    };

    private static object TextId(Guid id) => Id(id);

    private static object IntFlag(bool value) => value ? 1 : 0;

    private void WriteWebhooks(WorkingSet ws)
    {
        foreach (var e in ws.NewEndpoints)
        {
            Run(Command(WebhookRows.InsertEndpoint, Params(11)), WebhookRows.EndpointValues(e, TextId, IntFlag));
            _endpointCounts.Add((e.TenantId, 1));
        }

        foreach (var e in ws.ChangedEndpoints)
        {
            if (e.Deleted)
            {
                Run(Command(WebhookRows.DeleteAttempts, "$1"), Id(e.Id));
                Run(Command(WebhookRows.DeleteDeliveries, "$1"), Id(e.Id));
                Run(Command(WebhookRows.DeleteEndpoint, "$1"), Id(e.Id));
                _endpointCounts.Add((e.TenantId, -1));
            }
            else
            {
                Run(Command(WebhookRows.UpdateEndpoint, Params(9)), WebhookRows.EndpointUpdateValues(e, TextId, IntFlag));
            }
        }

        foreach (var d in ws.ChangedDeliveries)
        {
            Run(Command(WebhookRows.UpdateDelivery, Params(9)), WebhookRows.DeliveryUpdateValues(d, TextId));
        }

        foreach (var a in ws.Attempts)
        {
            Run(Command(WebhookRows.InsertAttempt, Params(7)), WebhookRows.AttemptValues(a, TextId));
        }

        if (ws.Notices.Count == 0)
        {
            return;
        }

        var rows = WebhookRows.FanOut(ws);
        var take = Command(WebhookRows.TakeSequences, "$1", "$2");
        var insert = Command(WebhookRows.InsertDelivery, Params(9));
        foreach (var group in rows.GroupBy(row => row.Endpoint.Id))
        {
            take.Parameters[0].Value = Id(group.Key);
            take.Parameters[1].Value = group.Count();
            var last = (long)take.ExecuteScalar()!;
            var sequence = last - group.Count();
            foreach (var (notice, _) in group)
            {
                Run(insert, WebhookRows.DeliveryValues(group.Key, ++sequence, notice, TextId));
            }
        }
    }

    private void PublishWebhooks(bool committed)
    {
        if (committed)
        {
            foreach (var (tenant, delta) in _endpointCounts)
            {
                watchers.Add(tenant, delta);
            }
        }
        else if (_endpointCounts.Count > 0)
        {
            watchers.Invalidate();
        }

        _endpointCounts.Clear();
    }

    private static string[] Params(int count) => [.. Enumerable.Range(1, count).Select(i => "$" + i)];
}

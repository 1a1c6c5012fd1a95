using Microsoft.Data.Sqlite;
using static Capacity.Storage.RowFormat;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// The active holds per tenant, kept by the store that is their only writer: what the live-hold
/// bound (every 2 s by default) and the <c>capacity_holds_active</c> gauge (every 5 s) read. Counting
/// them in SQL scans every active hold, synchronously, on the reader's thread: 160–185 ms at 1,650,000
/// active holds (docs/performance.md). Here they are counted once on the writer's connection (when the
/// store is migrated, or after a commit whose outcome is unknown), and every commit adds the batch's
/// changes (<see cref="Capacity.Core.WorkingSet.LiveHoldChanges"/>). Readers get copies.
/// </summary>
internal sealed class LiveHoldCounts
{
    private readonly Lock _gate = new();
    private Dictionary<Guid, long>? _byTenant;

    /// <summary>A copy of the counts (tenants without active holds absent), or null when they are not known.</summary>
    public Dictionary<Guid, long>? Snapshot()
    {
        lock (_gate)
        {
            return _byTenant is null ? null : _byTenant.Where(t => t.Value > 0).ToDictionary();
        }
    }

    /// <summary>All active holds, or null when the counts are not known.</summary>
    public long? Total
    {
        get
        {
            lock (_gate)
            {
                return _byTenant?.Values.Sum();
            }
        }
    }

    /// <summary>
    /// Counts the active holds on <paramref name="writer"/>, the store's only writing connection, outside
    /// any transaction of its own: no commit can land between the count and the next batch's changes.
    /// Does nothing when the counts are known.
    /// </summary>
    public void CountIfUnknown(SqliteConnection writer)
    {
        lock (_gate)
        {
            if (_byTenant is not null)
            {
                return;
            }
        }

        var counts = Count(writer);
        lock (_gate)
        {
            _byTenant = counts;
        }
    }

    /// <summary>The active holds per tenant in the file, counted in SQL: a scan of every active hold.</summary>
    public static Dictionary<Guid, long> Count(SqliteConnection connection)
    {
        using var cmd = new SqliteCommand("SELECT tenant_id, COUNT(*) FROM reservations WHERE status = 0 GROUP BY tenant_id", connection);
        using var r = cmd.ExecuteReader();
        var counts = new Dictionary<Guid, long>();
        while (r.Read())
        {
            counts[Id(r.GetString(0))] = r.GetInt64(1);
        }

        return counts;
    }

    /// <summary>
    /// A committed batch's changes. False, and nothing done, while the counts are not known: then the
    /// caller counts them (<see cref="CountIfUnknown"/>), and that count includes the batch.
    /// </summary>
    public bool Apply(IReadOnlyDictionary<Guid, int> changes)
    {
        lock (_gate)
        {
            if (_byTenant is null)
            {
                return false;
            }

            foreach (var (tenantId, change) in changes)
            {
                _byTenant[tenantId] = _byTenant.GetValueOrDefault(tenantId) + change;
            }

            return true;
        }
    }

    /// <summary>After a commit whose outcome is unknown: counted again before the next commit is applied.</summary>
    public void Invalidate()
    {
        lock (_gate)
        {
            _byTenant = null;
        }
    }
}

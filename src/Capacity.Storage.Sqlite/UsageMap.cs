using System.Collections.Concurrent;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// The buyers' usage on the capacities whose usage the writer reads (those a limit covers, and those a
/// batch that creates a limit reads), kept in memory: per capacity, every buyer's row plus log entries,
/// loaded whole the first time a batch reads the capacity and then changed by each batch that commits.
/// With it a hold under a limit reads nothing from the file and appends its change to the usage log, as
/// a hold where no limit applies does: with buyers' keys as platforms send them (hashes) reading and
/// writing the buyer's row was a page of its own for nearly every hold (docs/performance.md). One node
/// writes a SQLite file, so what it holds is the truth; on PostgreSQL other nodes write too, and the
/// rows are read under the capacity's lock instead. Only the writer thread changes it, a capacity's
/// buyers under that dictionary's own lock; readers (a buyer's usage over the API) take that lock to
/// read what it has, which is what is committed, instead of adding up a log that a busy writer has not
/// folded. (Concurrent dictionaries cost keyed holds 4 %: an update of a value allocates there.)
/// </summary>
internal sealed class UsageMap
{
    private readonly ConcurrentDictionary<Guid, Dictionary<string, Used>> _byCapacity = new();

    /// <summary>A buyer's usage on a capacity, and the buyer's tenant (its row's, or its log's).</summary>
    internal record struct Used(Guid TenantId, long Value);

    /// <summary>Every buyer's usage on the capacity, or null when the capacity is not loaded.</summary>
    public Dictionary<string, Used>? Find(Guid capacityId) => _byCapacity.GetValueOrDefault(capacityId);

    /// <summary>A capacity's usage as the file holds it, read inside the writer's transaction before any change of its usage.</summary>
    public void Add(Guid capacityId, Dictionary<string, Used> buyers) => _byCapacity[capacityId] = buyers;

    /// <summary>Sets a buyer's usage on a loaded capacity, under the lock readers take.</summary>
    public static void Set(Dictionary<string, Used> buyers, string buyerKey, Used used)
    {
        lock (buyers)
        {
            buyers[buyerKey] = used;
        }
    }

    /// <summary>
    /// A tenant's buyer's usage over the capacities, when every one of them is loaded; null otherwise
    /// (the caller reads the file). A capacity of another tenant counts nothing.
    /// </summary>
    public long? Sum(Guid tenantId, IReadOnlyCollection<Guid> capacityIds, string buyerKey)
    {
        var sum = 0L;
        foreach (var capacityId in capacityIds)
        {
            if (Find(capacityId) is not { } buyers)
            {
                return null;
            }

            lock (buyers)
            {
                if (buyers.TryGetValue(buyerKey, out var used) && used.TenantId == tenantId)
                {
                    sum += used.Value;
                }
            }
        }

        return sum;
    }

    /// <summary>Forgets everything: after a commit that may or may not have reached the file.</summary>
    public void Invalidate() => _byCapacity.Clear();
}

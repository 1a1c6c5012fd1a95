namespace Capacity.Storage.Sqlite;

/// <summary>
/// The buyers' usage on the capacities whose usage the writer reads (those a limit covers, and those a
/// batch that creates a limit reads), kept in the writer's memory: per capacity, every buyer's row plus
/// log entries, loaded whole the first time a batch reads the capacity and then changed by each batch
/// that commits. With it a hold under a limit reads nothing from the file and appends its change to the
/// usage log, as a hold where no limit applies does: with buyers' keys as platforms send them (hashes)
/// reading and writing the buyer's row was a page of its own for nearly every hold
/// (docs/performance.md). One node writes a SQLite file, so what it holds is the truth; on PostgreSQL
/// other nodes write too, and the rows are read under the capacity's lock instead. Only the writer
/// thread touches it.
/// </summary>
internal sealed class UsageMap
{
    private readonly Dictionary<Guid, Dictionary<string, Used>> _byCapacity = [];

    /// <summary>A buyer's usage on a capacity, and the buyer's tenant (its row's, or its log's).</summary>
    internal record struct Used(Guid TenantId, long Value);

    /// <summary>Every buyer's usage on the capacity, or null when the capacity is not loaded.</summary>
    public Dictionary<string, Used>? Find(Guid capacityId) => _byCapacity.GetValueOrDefault(capacityId);

    /// <summary>A capacity's usage as the file holds it, read inside the writer's transaction before any change of its usage.</summary>
    public void Add(Guid capacityId, Dictionary<string, Used> buyers) => _byCapacity[capacityId] = buyers;

    /// <summary>Forgets everything: after a commit that may or may not have reached the file.</summary>
    public void Invalidate() => _byCapacity.Clear();
}

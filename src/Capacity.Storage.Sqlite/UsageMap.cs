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
/// <para>
/// A capacity no batch has read for <see cref="Idle"/> is forgotten at the start of a batch, and loaded
/// again from the file if a batch reads it later: an event's buyers stay in memory (150–210 bytes each)
/// while it sells, not for as long as the process runs. Forgetting is safe at any batch's start, for
/// the same reason a failed COMMIT's <see cref="Invalidate"/> is: the file has rows plus log, which is
/// what a load adds up. A reader that found the capacity just before reads what was committed then.
/// </para>
/// </summary>
internal sealed class UsageMap(TimeProvider time)
{
    private readonly ConcurrentDictionary<Guid, Buyers> _byCapacity = new();

    // The writer's clock for the batch it is in (UTC ticks), when it last looked for idle capacities,
    // and how many it has forgotten.
    private long _now;
    private long _lastLook;
    private long _forgotten;

    /// <summary>How long a capacity stays in memory without a batch reading it; zero or less keeps it for good.</summary>
    public TimeSpan Idle { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How many times a capacity was forgotten for being idle (tests read it).</summary>
    public long Forgotten => Volatile.Read(ref _forgotten);

    /// <summary>A buyer's usage on a capacity, and the buyer's tenant (its row's, or its log's).</summary>
    internal record struct Used(Guid TenantId, long Value);

    /// <summary>Every buyer's usage on one capacity, and when a batch last read it (the writer's clock, UTC ticks).</summary>
    internal sealed class Buyers : Dictionary<string, Used>
    {
        public long ReadAt;
    }

    /// <summary>How many capacities are in memory.</summary>
    public int Capacities => _byCapacity.Count;

    /// <summary>How many (capacity, buyer) entries are in memory, each counted under its capacity's lock.</summary>
    public long Entries()
    {
        var entries = 0L;
        foreach (var buyers in _byCapacity.Values)
        {
            lock (buyers)
            {
                entries += buyers.Count;
            }
        }

        return entries;
    }

    /// <summary>Every buyer's usage on the capacity, or null when the capacity is not loaded.</summary>
    public Buyers? Find(Guid capacityId) => _byCapacity.GetValueOrDefault(capacityId);

    /// <summary>The capacity's buyers for a batch that reads them (which keeps them in memory), or null when not loaded.</summary>
    public Buyers? Read(Guid capacityId)
    {
        if (_byCapacity.TryGetValue(capacityId, out var buyers))
        {
            buyers.ReadAt = _now;
        }

        return buyers;
    }

    /// <summary>A capacity's usage as the file holds it, read inside the writer's transaction before any change of its usage.</summary>
    public void Add(Guid capacityId, Buyers buyers)
    {
        buyers.ReadAt = _now;
        _byCapacity[capacityId] = buyers;
    }

    /// <summary>
    /// At the start of each batch, before anything is read: takes the batch's time and, at most once a
    /// minute (or once per <see cref="Idle"/> if shorter), forgets the capacities no batch has read for
    /// <see cref="Idle"/>.
    /// </summary>
    public void StartBatch()
    {
        _now = time.GetUtcNow().UtcTicks;
        var idle = Idle.Ticks;
        // A clock set back looks again at once (and forgets nothing read "later" until it catches up).
        if (idle <= 0 || (_now >= _lastLook && _now - _lastLook < Math.Min(idle, TimeSpan.TicksPerMinute)))
        {
            return;
        }

        _lastLook = _now;
        foreach (var (capacityId, buyers) in _byCapacity)
        {
            if (_now - buyers.ReadAt >= idle && _byCapacity.TryRemove(capacityId, out _))
            {
                Interlocked.Increment(ref _forgotten);
            }
        }
    }

    /// <summary>Sets a buyer's usage on a loaded capacity, under the lock readers take.</summary>
    public static void Set(Buyers buyers, string buyerKey, Used used)
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

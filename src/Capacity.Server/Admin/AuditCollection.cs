namespace Capacity.Server.Admin;

/// <summary>What an audit of the whole store leaves behind in memory, and the collection that clears it.</summary>
internal static class AuditCollection
{
    /// <summary>Below this many live holds an audit's sums stay small, and so would the pause it leaves (<see cref="After"/>).</summary>
    public const int Floor = 50_000;

    /// <summary>
    /// After an audit of the whole store (<c>GET /admin/verify</c>) over at least
    /// <see cref="Floor"/> live holds, start a full collection in the background. The
    /// audit's sums per pool, buyer and allocation live in dictionaries whose entry arrays are large
    /// objects (in the oldest generation from birth) and point at the buyer keys and rows read
    /// meanwhile, in the young generations. Once the audit is over all of it is garbage, but a young
    /// collection does not ask whether an old object is alive: it keeps whatever the large arrays point
    /// at and promotes it, all at once. After an audit of 300,000 holds from 75,000 buyers the first
    /// young collection under load paused the server for 55 ms (perf trace; docs/performance.md, "Holds
    /// p99: the pause an audit left behind"). A background collection finds the arrays dead first,
    /// beside the requests rather than in front of them. Small stores are left alone: the pause grows
    /// with what the audit read, and a full collection after every audit of a test's store would be
    /// pure cost.
    /// </summary>
    /// <returns>Whether a collection was started.</returns>
    public static bool After(int liveReservations)
    {
        if (liveReservations < Floor)
        {
            return false;
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: false, compacting: false);
        return true;
    }
}

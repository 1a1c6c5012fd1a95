namespace Capacity.Server.Admin;

/// <summary>What an audit of the whole store leaves behind in memory, and the collection that clears it.</summary>
internal static class AuditCollection
{
    /// <summary>Below this many live holds an audit's sums stay small, and so would the pause it leaves (<see cref="After"/>).</summary>
    public const int Floor = 50_000;

    /// <summary>
    /// After an audit of the whole store (<c>GET /admin/verify</c>) over at least
    /// <see cref="Floor"/> live holds, start a full collection in the background. The
    /// audit's sums per buyer (<see cref="Core.BuyerTally"/>) and per pool are large arrays, in the
    /// oldest generation from birth, which only a full collection frees; started in the background, it
    /// frees them beside the requests. (Before the tallies held their keys without references, the
    /// arrays also pointed at every buyer key read, and the first young collection after an audit of
    /// 75,000 buyers promoted them all in a pause of 55 ms: docs/performance.md, "Holds p99: the pause
    /// an audit left behind".) Small stores are left alone: their arrays are small, and a full
    /// collection after every audit of a test's store would be pure cost.
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

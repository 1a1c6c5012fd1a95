namespace Capacity.Server.Memory;

/// <summary>
/// Gives memory back after a burst. The server GC collects when the process allocates; once a burst
/// is over and nothing allocates, nothing collects, and whatever the burst grew stays resident: a
/// hostile tenant's streams and whole-event reads took a server from 179 MiB to 1.5 GiB, and 30 s after
/// it had closed everything the server still held all of it (bench/hostile.sh). The pools that keep
/// buffers (the shared array pool among them) are trimmed only by a full collection too. So, when the
/// process has gone quiet while holding much more than after its last trim, one full, compacting
/// collection that decommits what it frees (<see cref="GCCollectionMode.Aggressive"/>): a pause taken
/// only while idle, once per burst.
/// </summary>
internal sealed class MemoryTrim(ILogger<MemoryTrim> logger) : BackgroundService
{
    /// <summary>How often the process is looked at.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>Below this much committed memory the process is left alone: a trim would give back little.</summary>
    public const long FloorBytes = 256L << 20;

    /// <summary>Quiet: less than this allocated per second over the last interval (a dashboard or two, not traffic).</summary>
    public const long QuietBytesPerSecond = 4L << 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        var allocated = GC.GetTotalAllocatedBytes();
        long afterLastTrim = 0;
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var now = GC.GetTotalAllocatedBytes();
            var committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
            if (ShouldTrim(committed, now - allocated, Interval, afterLastTrim))
            {
                // The big answers and snapshots of a burst live on the large object heap, which a
                // collection does not compact unless asked.
                System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                var after = GC.GetGCMemoryInfo();
                afterLastTrim = after.TotalCommittedBytes;
                logger.LogInformation(
                    "Quiet after a burst: gave back {Freed} MiB of memory ({Committed} MiB committed now; heap {Heap} MiB, of it large objects {Large} MiB, pinned {Pinned} MiB)",
                    Math.Max(0, committed - afterLastTrim) >> 20, afterLastTrim >> 20, after.HeapSizeBytes >> 20,
                    after.GenerationInfo[3].SizeAfterBytes >> 20, after.GenerationInfo[4].SizeAfterBytes >> 20);
            }

            allocated = GC.GetTotalAllocatedBytes();
        }
    }

    /// <summary>
    /// Trim when the process is quiet, holds more than <see cref="FloorBytes"/>, and has grown by a
    /// quarter since its last trim left it (so memory the process really uses is not collected again
    /// every interval).
    /// </summary>
    internal static bool ShouldTrim(long committedBytes, long allocatedSinceLastLook, TimeSpan interval, long committedAfterLastTrim) =>
        committedBytes > FloorBytes
        && allocatedSinceLastLook < QuietBytesPerSecond * interval.TotalSeconds
        && committedBytes > committedAfterLastTrim + (committedAfterLastTrim / 4);
}

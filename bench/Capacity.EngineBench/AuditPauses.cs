using System.Diagnostics;
using Capacity.Bench;
using Capacity.Engine;

namespace Capacity.EngineBench;

/// <summary>
/// What an audit of a filled store costs the rest of the process: it runs beside the writer and every
/// request, and its collections stop them all. Three audits (the first also compiles), each reported
/// with its time, the collections it caused by generation, the collector's pauses in all, and the
/// longest gap a thread waking every millisecond saw (a pause, or the machine's scheduling). The figures
/// are the process's, so nothing else should run in it meanwhile: the fill is over when this starts.
/// </summary>
internal static class AuditPauses
{
    private const int Rounds = 3;

    public static async Task<bool> RunAsync(IReadStore store, List<(string, object)> fields, CancellationToken ct)
    {
        var ok = true;
        var stalls = new List<double>();
        var pauses = new List<double>();
        for (var round = 1; round <= Rounds; round++)
        {
            // Each audit starts from a clean heap, so one's garbage is not counted against the next.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var pausedBefore = GC.GetTotalPauseDuration();
            int[] before = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
            var allocatedBefore = GC.GetTotalAllocatedBytes();
            using var ticker = new Ticker();
            var sw = Stopwatch.StartNew();
            var report = await Audit.RunAsync(store, ct);
            sw.Stop();
            var stall = ticker.Stop();
            var paused = (GC.GetTotalPauseDuration() - pausedBefore).TotalMilliseconds;
            ok &= report.Ok;
            stalls.Add(stall);
            pauses.Add(paused);
            Console.WriteLine($"  audit {round}         {sw.Elapsed.TotalSeconds:0.00} s, {(report.Ok ? "ok" : "FAILED")}, "
                + $"{Report.N((GC.GetTotalAllocatedBytes() - allocatedBefore) / 1048576.0)} MiB allocated; collections gen0 {GC.CollectionCount(0) - before[0]}, "
                + $"gen1 {GC.CollectionCount(1) - before[1]}, gen2 {GC.CollectionCount(2) - before[2]}, paused {paused:0} ms in all; longest stall {stall:0.0} ms");
        }

        var median = (List<double> v) => v.Order().ElementAt(v.Count / 2);
        fields.AddRange([("audit_pause_ms", median(pauses)), ("audit_stall_ms", median(stalls))]);
        return ok;
    }

    /// <summary>A thread that sleeps a millisecond at a time and keeps the longest it was away.</summary>
    private sealed class Ticker : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stop;
        private double _longest;

        public Ticker()
        {
            _thread = new Thread(() =>
            {
                var last = Stopwatch.GetTimestamp();
                while (!_stop)
                {
                    Thread.Sleep(1);
                    var now = Stopwatch.GetTimestamp();
                    _longest = Math.Max(_longest, Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                    last = now;
                }
            })
            { IsBackground = true, Name = "audit-ticker" };
            _thread.Start();
        }

        public double Stop()
        {
            _stop = true;
            _thread.Join();
            return _longest;
        }

        public void Dispose()
        {
            if (!_stop)
            {
                Stop();
            }
        }
    }
}

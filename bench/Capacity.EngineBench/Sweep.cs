using System.Diagnostics;
using Capacity.Bench;
using Capacity.Core;
using Capacity.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.EngineBench;

/// <summary>
/// CPU per commit at fixed batch sizes, and the straight line through it: a fixed part per commit plus a part
/// per hold. Each size runs its own engine with <c>MaxBatch</c> = size and twice as many submitters, so a batch
/// is full whenever the writer starts one (the other half waits in the queue while a batch commits). The
/// process's CPU over the measured window, divided by the batches committed in it, is the cost of a commit
/// with its holds: the writer, the submitters' continuations, the thread pool, SQLite and the kernel's share
/// (the fsync's CPU included, unless <c>--sync off</c>). The fit is least squares over the sizes measured, to relative error (see <see cref="Fit"/>).
/// </summary>
internal static class Sweep
{
    private static readonly CoreLimits Limits = CoreLimits.Default with { MaxTotalCapacity = int.MaxValue };

    public static async Task<int> RunAsync(Settings s, int[] sizes, bool sync, CancellationToken ct)
    {
        await using var bench = await BenchStore.OpenAsync(s, ct);
        if (!sync)
        {
            if (bench.Write is not Storage.Sqlite.SqliteStore sqlite)
            {
                Console.Error.WriteLine("--sync off applies to SQLite only.");
                return 2;
            }

            sqlite.SkipSyncForMeasurement();
        }

        Console.WriteLine($"Capacity.EngineBench: batch-size sweep on {bench.Description}{(sync ? "" : ", the WAL written but not synced (no fsync)")}");
        Console.WriteLine($"  each size: {s.Warmup:0.#} s warm-up, {s.Duration:0.#} s measured, twice its size in submitters");
        Console.WriteLine("  size   mean batch   commits/s     holds/s   cores   CPU µs/commit   CPU µs/hold");

        HotEvent? hot = null;
        var points = new List<(double Batch, double CpuPerCommit)>();
        var passed = true;
        long acknowledged = 0;
        foreach (var size in sizes)
        {
            var options = new EngineOptions { Batching = true, MaxBatch = size, QueueLimit = Math.Max(new EngineOptions().QueueLimit, 2 * size) };
            await using var engine = new CommandEngine(bench.Write, TimeProvider.System, Limits, options, NullLogger<CommandEngine>.Instance);
            hot ??= await HotEvent.CreateAsync(engine, Guid.CreateVersion7(), int.MaxValue, int.MaxValue);
            var window = new Window(TimeSpan.FromSeconds(s.Warmup), TimeSpan.FromSeconds(s.Duration));
            using var batches = new BatchRecorder(() => window.Contains(Stopwatch.GetTimestamp()));
            var cpu = window.CoresUsedAsync(Process.GetCurrentProcess(), ct);
            var counts = await Task.WhenAll(Enumerable.Range(0, 2 * size).Select(i => Task.Run(() => SubmitAsync(engine, hot, i, window, ct), ct)));
            var cores = await cpu;
            acknowledged += counts.Sum(c => c.Ok);
            passed &= counts.All(c => c.Failed == 0) && batches.Failed == 0;

            var commits = batches.Batches / window.Seconds;
            var cpuPerCommit = commits > 0 ? cores * 1e6 / commits : double.NaN;
            points.Add((batches.MeanSize, cpuPerCommit));
            Console.WriteLine($"  {size,4}   {batches.MeanSize,10:0.0}   {Report.N(commits),9}   {Report.N(commits * batches.MeanSize),9}   {cores,5:0.00}"
                + $"   {Report.N(cpuPerCommit),13}   {cpuPerCommit / batches.MeanSize,11:0.0}");
        }

        var (fixedUs, perHoldUs, r2) = Fit(points);
        Console.WriteLine($"  fit             CPU per commit ≈ {fixedUs:0} µs fixed + {perHoldUs:0.0} µs per hold (R² {r2:0.000}, {points.Count} sizes)");

        var report = await Audit.RunAsync(bench.Read, ct);
        var pool = (await bench.Read.GetCapacitiesAsync(hot!.Tenant, [hot.Pool], ct)).Single(n => n.Id == hot.Pool);
        var kept = pool.Reserved == acknowledged;
        Console.WriteLine($"  audit           {(report.Ok ? "ok" : "FAILED: " + string.Join("; ", report.Violations.Take(5)))}; "
            + $"{Report.N(acknowledged)} acknowledged holds, pool reserved {Report.N(pool.Reserved)}: {(kept ? "equal" : "DIFFERENT")}");
        passed &= report.Ok && kept;

        Report.Result(
            ("scenario", "sweep"), ("store", s.Store), ("sync", sync ? "on" : "off"), ("sizes", string.Join(',', sizes)),
            ("fixed_us", fixedUs), ("per_hold_us", perHoldUs), ("r2", r2), ("audit", report.Ok ? "ok" : "failed"), ("passed", passed));
        return passed ? 0 : 1;
    }

    /// <summary>
    /// The line through CPU per commit against mean batch size, fitted to relative error (each point weighted by
    /// 1/y²): an ordinary fit would be decided by the largest batches, whose CPU per commit is ten times the
    /// smallest's, and would leave the intercept (the fixed part, the figure sought) to the noise of their
    /// measurement. Returns the intercept, the slope and the weighted R².
    /// </summary>
    internal static (double Intercept, double Slope, double R2) Fit(IReadOnlyList<(double X, double Y)> points)
    {
        var valid = points.Where(p => double.IsFinite(p.Y) && p.Y > 0 && p.X > 0).ToArray();
        if (valid.Length < 2)
        {
            return (double.NaN, double.NaN, double.NaN);
        }

        var w = valid.Select(p => 1 / (p.Y * p.Y)).ToArray();
        var sw = w.Sum();
        var mx = valid.Select((p, i) => w[i] * p.X).Sum() / sw;
        var my = valid.Select((p, i) => w[i] * p.Y).Sum() / sw;
        var sxx = valid.Select((p, i) => w[i] * (p.X - mx) * (p.X - mx)).Sum();
        var sxy = valid.Select((p, i) => w[i] * (p.X - mx) * (p.Y - my)).Sum();
        var slope = sxy / sxx;
        var intercept = my - slope * mx;
        var ssTotal = valid.Select((p, i) => w[i] * (p.Y - my) * (p.Y - my)).Sum();
        var ssResidual = valid.Select((p, i) => w[i] * Math.Pow(p.Y - (intercept + slope * p.X), 2)).Sum();
        return (intercept, slope, ssTotal == 0 ? 1 : 1 - ssResidual / ssTotal);
    }

    private static async Task<(long Ok, long Failed)> SubmitAsync(CommandEngine engine, HotEvent hot, long n, Window window, CancellationToken ct)
    {
        long ok = 0, failed = 0;
        while (!window.Over && !ct.IsCancellationRequested)
        {
            var result = await engine.SubmitAsync(hot.Hold(n++, 15));
            if (result is { Status: EngineStatus.Decided, Outcome.Code: OutcomeCode.Ok })
            {
                ok++;
            }
            else
            {
                failed++;
            }
        }

        return (ok, failed);
    }
}

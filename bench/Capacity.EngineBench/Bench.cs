using System.Diagnostics;
using System.Runtime.CompilerServices;
using Capacity.Bench;
using Capacity.Core;
using Capacity.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.EngineBench;

/// <summary>
/// Holds through the real <see cref="CommandEngine"/> into a real durable store, then the audit.
/// Scenarios: <c>onsale</c> (totals so large every hold succeeds), <c>soldout</c> (a pool of 100,
/// so nearly every hold is refused), <c>expiry</c> (place holds, move the clock past their expiry,
/// time one sweep), <c>fill</c> (place many holds, naming buyers with <c>--buyers</c>; report resident
/// memory, and what the audit's collections pause the process for, <see cref="AuditPauses"/>).
/// </summary>
internal static class Bench
{
    private static readonly Guid Tenant = Guid.Parse("0197a000-0000-7000-8000-0000000000be");

    // The default total limit (1,000,000) would end an on-sale run early; the decide path is the same.
    private static readonly CoreLimits Limits = CoreLimits.Default with { MaxTotalCapacity = int.MaxValue };

    public static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        await using var bench = await BenchStore.OpenAsync(s, ct);
        var load = s.Scenario is "onsale" or "soldout";
        var window = load ? new Window(TimeSpan.FromSeconds(s.Warmup), TimeSpan.FromSeconds(s.Duration)) : null;
        // Expiry times the writer only during the measured sweep, not while the holds are placed.
        var sweeping = new StrongBox<bool>();
        var phases = new PhaseTimes(() => window?.Contains(Stopwatch.GetTimestamp()) ?? (s.Scenario != "expiry" || Volatile.Read(ref sweeping.Value)));
        var clock = new ShiftedClock();
        var options = new EngineOptions
        {
            Batching = s.Batching,
            MaxBatch = s.MaxBatch,
            QueueLimit = Math.Max(new EngineOptions().QueueLimit, s.Clients),
        };
        await using var engine = new CommandEngine(TimedStore.Wrap(bench.Write, phases), clock, Limits, options, NullLogger<CommandEngine>.Instance);

        Console.WriteLine($"Capacity.EngineBench: {s.Scenario} on {bench.Description}");
        Console.WriteLine($"  batching {(s.Batching ? $"on (limit {s.MaxBatch})" : "off (one transaction per command)")}, {s.Clients} concurrent submitters");

        var soldOut = s.Scenario == "soldout";
        var hot = await HotEvent.CreateAsync(engine, Tenant, soldOut ? 100 : int.MaxValue, soldOut ? 50 : int.MaxValue);
        var fields = new List<(string, object)>
        {
            ("scenario", s.Scenario), ("store", s.Store), ("batching", s.Batching ? "on" : "off"), ("clients", s.Clients),
        };

        var (passed, expectedReserved) = s.Scenario switch
        {
            "expiry" => await ExpiryAsync(s, engine, bench.Write, clock, hot, sweeping, fields, ct),
            "fill" => await FillAsync(s, engine, hot, fields, ct),
            "stats" => await StatsRead.RunAsync(s, engine, bench.Read, clock, hot, fields, ct),
            _ => await LoadAsync(s, engine, window!, hot, fields, ct),
        };

        PrintPhases(phases, window);

        if (s.Scenario == "fill")
        {
            passed &= await AuditPauses.RunAsync(bench.Read, fields, ct);
        }

        passed &= await CheckAsync(bench.Read, hot, expectedReserved, fields, ct);
        if (s.Scenario == "fill")
        {
            var (rss, peak) = Report.Memory();
            Console.WriteLine($"  memory          after the audit: resident {Report.N(rss)} MiB, peak {Report.N(peak)} MiB");
            fields.Add(("peak_mib", peak));
        }

        fields.Add(("passed", passed));
        Report.Result([.. fields]);
        return passed ? 0 : 1;
    }

    /// <summary>Closed loop: each submitter places one single-ticket hold, waits for its durable answer, and goes again.</summary>
    private static async Task<(bool, long)> LoadAsync(
        Settings s, CommandEngine engine, Window window, HotEvent hot, List<(string, object)> fields, CancellationToken ct)
    {
        using var batches = new BatchRecorder(() => window.Contains(Stopwatch.GetTimestamp()));
        var cpu = window.CoresUsedAsync(Process.GetCurrentProcess(), ct);
        var tallies = await Task.WhenAll(Enumerable.Range(0, s.Clients).Select(i => Task.Run(() => SubmitterAsync(engine, hot, i, window, ct), ct)));

        var latency = LatencySamples.Summarise(tallies.Select(t => t.Latency));
        var ok = tallies.Sum(t => t.Ok);
        var refused = tallies.Sum(t => t.Refused);
        var unavailable = tallies.Sum(t => t.Unavailable);
        var overloaded = tallies.Sum(t => t.Overloaded);
        var perSecond = latency.Count / window.Seconds;
        Console.WriteLine($"  window          {s.Warmup:0.#} s warm-up, {s.Duration:0.#} s measured");
        Console.WriteLine($"  commands/s      {Report.N(perSecond)}   (holds placed {Report.N(ok / window.Seconds)}/s, refused {Report.N(refused / window.Seconds)}/s)");
        Console.WriteLine($"  latency         {latency}");
        Console.WriteLine($"  outcomes        ok {Report.N(ok)}  refused {Report.N(refused)}  unavailable {Report.N(unavailable)}  overloaded {Report.N(overloaded)}");

        var (p50, p99) = batches.BatchMs();
        Console.WriteLine($"  batches         {Report.N(batches.Batches)} committed, mean {Report.N(batches.MeanSize, "0.0")} commands, "
            + $"BEGIN to durable COMMIT p50 {p50:0.00} ms p99 {p99:0.00} ms, {batches.Failed} failed");
        batches.Print(s.Batching ? s.MaxBatch : 1);
        var cores = await cpu;
        Console.WriteLine($"  cpu             {cores:0.00} of {Environment.ProcessorCount} cores used by this process (engine, store and submitters)");

        fields.AddRange([
            ("commands_per_s", perSecond), ("holds_per_s", ok / window.Seconds),
            ("p50_ms", latency.P50), ("p99_ms", latency.P99), ("p999_ms", latency.P999),
            ("mean_batch", batches.MeanSize), ("batch_p50_ms", p50), ("unavailable", unavailable + overloaded),
        ]);
        return (unavailable + overloaded == 0 && batches.Failed == 0, tallies.Sum(t => t.Acknowledged));
    }

    /// <summary>Where a batch's time goes, as seen from the store's side of the interface.</summary>
    private static void PrintPhases(PhaseTimes phases, Window? window)
    {
        var (batches, meanMs) = phases.Snapshot();
        if (batches == 0)
        {
            return;
        }

        var parts = string.Join(", ", PhaseTimes.Names.Select((p, i) => $"{p} {meanMs[i]:0.00}"));
        var busy = window is null ? "" : $"busy {100 * batches * meanMs.Sum() / 1000 / window.Seconds:0}% of the window; ";
        Console.WriteLine($"  writer          {busy}mean ms per batch: {parts}");
    }

    private static async Task<Tally> SubmitterAsync(CommandEngine engine, HotEvent hot, long n, Window window, CancellationToken ct)
    {
        var tally = new Tally();
        while (!window.Over && !ct.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            var result = await engine.SubmitAsync(hot.Hold(n++, 15));
            var completed = Stopwatch.GetTimestamp();
            var ok = result is { Status: EngineStatus.Decided, Outcome.Code: OutcomeCode.Ok };
            if (ok)
            {
                tally.Acknowledged++;
            }

            if (!window.Contains(completed))
            {
                continue;
            }

            tally.Latency.Add(completed - started);
            switch (result.Status)
            {
                case EngineStatus.Decided when ok:
                    tally.Ok++;
                    break;
                case EngineStatus.Decided:
                    tally.Refused++;
                    break;
                case EngineStatus.Overloaded:
                    tally.Overloaded++;
                    break;
                default:
                    tally.Unavailable++;
                    break;
            }
        }

        return tally;
    }

    /// <summary>
    /// Places <see cref="Settings.Holds"/> one-minute holds, moves the clock two minutes on, and times one
    /// sweep. Smaller rounds go first. The first is reported apart: a fresh process's first sweep also
    /// pays for the JIT. Then rounds repeat, unreported, for <see cref="Settings.Warmup"/> seconds: in a
    /// server the sweeper runs every second, so its code is compiled and fully optimised long before a
    /// mass expiry, and tiered compilation waits for a lull in new compilations before it optimises, which
    /// a single warm round does not give it (one round left the per-hold load at twice its warm cost).
    /// </summary>
    private static async Task<(bool, long)> ExpiryAsync(
        Settings s, CommandEngine engine, IWriteStore store, ShiftedClock clock, HotEvent hot, StrongBox<bool> sweeping,
        List<(string, object)> fields, CancellationToken ct)
    {
        var sweeper = new ExpirySweeper(store, engine, clock, NullLogger<ExpirySweeper>.Instance);
        var small = Math.Max(1, s.Holds / 5);

        var (ok, expired, seconds) = await RoundAsync(small);
        Console.WriteLine($"  first sweep     one sweep expired {Report.N(expired)} due holds in {seconds:0.000} s, unoptimised code included");
        fields.Add(("first_sweep_per_100k_s", seconds * 100_000 / Math.Max(1, expired)));

        var warmUp = Stopwatch.StartNew();
        var warmRounds = 0;
        while (warmUp.Elapsed.TotalSeconds < s.Warmup)
        {
            var (warmOk, _, _) = await RoundAsync(small);
            ok &= warmOk;
            warmRounds++;
        }

        Console.WriteLine($"  warm-up         {warmRounds} more rounds of {Report.N(small)} in {warmUp.Elapsed.TotalSeconds:0.0} s");
        var (measuredOk, measured, measuredSeconds) = await RoundAsync(s.Holds, measure: true);
        ok &= measuredOk;
        Console.WriteLine($"  expiry          one sweep expired {Report.N(measured)} due holds in {measuredSeconds:0.000} s "
            + $"({Report.N(measured / measuredSeconds)}/s, batches of {sweeper.BatchSize})");
        fields.AddRange([("holds", s.Holds), ("expired", measured), ("expiry_s", measuredSeconds)]);
        return (ok, 0);

        async Task<(bool Ok, long Expired, double Seconds)> RoundAsync(int holds, bool measure = false)
        {
            var (placed, failed, placing) = await PlaceAsync(engine, hot, holds, s.Clients, minutes: 1, ct);
            clock.Advance(TimeSpan.FromMinutes(2));
            Volatile.Write(ref sweeping.Value, measure);
            var sweep = Stopwatch.StartNew();
            var swept = await sweeper.SweepOnceAsync(ct);
            sweep.Stop();
            Volatile.Write(ref sweeping.Value, false);
            if (measure)
            {
                Console.WriteLine($"  placed          {Report.N(placed)} one-minute holds in {placing:0.00} s ({Report.N(placed / placing)}/s), {failed} not placed");
            }

            return (failed == 0 && swept == placed, swept, sweep.Elapsed.TotalSeconds);
        }
    }

    /// <summary>Places <see cref="Settings.Holds"/> long holds and reports this process's resident memory.</summary>
    private static async Task<(bool, long)> FillAsync(Settings s, CommandEngine engine, HotEvent hot, List<(string, object)> fields, CancellationToken ct)
    {
        var (placed, failed, seconds) = await PlaceAsync(engine, hot, s.Holds, s.Clients, Limits.MaxLifetimeMinutes, ct, s.Buyers);
        Console.WriteLine($"  placed          {Report.N(placed)} {(s.Buyers ? $"holds of {Report.N((placed + 3) / 4)} buyers" : "holds")} in {seconds:0.00} s ({Report.N(placed / seconds)}/s), {failed} not placed");

        // What stays resident, not what is waiting for the next collection.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var (rss, peak) = Report.Memory();
        Console.WriteLine($"  memory          after placing: resident {Report.N(rss)} MiB, peak so far {Report.N(peak)} MiB");
        fields.AddRange([("holds", placed), ("fill_per_s", placed / seconds), ("rss_mib", rss)]);
        return (failed == 0, placed);
    }

    private static async Task<(long Placed, long Failed, double Seconds)> PlaceAsync(
        CommandEngine engine, HotEvent hot, int count, int clients, int minutes, CancellationToken ct, bool keyed = false)
    {
        long next = 0, placed = 0, failed = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(
            async () =>
            {
                long n;
                while ((n = Interlocked.Increment(ref next)) <= count && !ct.IsCancellationRequested)
                {
                    var result = await engine.SubmitAsync(keyed ? hot.KeyedHold(n, minutes) : hot.Hold(n, minutes));
                    Interlocked.Increment(ref result is { Status: EngineStatus.Decided, Outcome.Code: OutcomeCode.Ok } ? ref placed : ref failed);
                }
            },
            ct)));
        return (placed, failed, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The audit (every counter recomputed from the holds and from the ledger, no pool over its
    /// limit), and no acknowledged hold lost: the pool holds exactly what was acknowledged.
    /// </summary>
    private static async Task<bool> CheckAsync(IReadStore store, HotEvent hot, long expectedReserved, List<(string, object)> fields, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var report = await Audit.RunAsync(store, ct);
        sw.Stop();
        Console.WriteLine(report.Ok
            ? $"  audit           ok in {sw.Elapsed.TotalSeconds:0.00} s: {report.Capacities} capacities, {Report.N(report.LiveReservations)} live reservations; "
                + "counters equal the holds and the ledger, nothing oversold"
            : $"  audit           FAILED in {sw.Elapsed.TotalSeconds:0.00} s:{Environment.NewLine}    {string.Join(Environment.NewLine + "    ", report.Violations.Take(20))}");

        var pool = (await store.GetCapacitiesAsync(hot.Tenant, [hot.Pool], ct)).Single(n => n.Id == hot.Pool);
        var kept = pool.Reserved == expectedReserved;
        Console.WriteLine($"  acknowledged    {Report.N(expectedReserved)} tickets held by acknowledged holds, pool reserved {Report.N(pool.Reserved)}: {(kept ? "equal" : "DIFFERENT")}");
        fields.AddRange([("audit", report.Ok ? "ok" : "failed"), ("audit_s", sw.Elapsed.TotalSeconds)]);
        return report.Ok && kept;
    }

    private sealed class Tally
    {
        public LatencySamples Latency { get; } = new();

        /// <summary>Successful holds in or out of the window: the tickets the pool must hold at the end.</summary>
        public long Acknowledged { get; set; }

        public long Ok { get; set; }
        public long Refused { get; set; }
        public long Unavailable { get; set; }
        public long Overloaded { get; set; }
    }
}

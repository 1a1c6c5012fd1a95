using System.Diagnostics;
using Capacity.Bench;
using Capacity.Core;
using Capacity.Engine;

namespace Capacity.EngineBench;

/// <summary>
/// The organiser's figures over a long ledger: a day of sales (holds, half of them confirmed, one
/// round per simulated minute) written through the engine, then the reads GET /events/{id}/stats
/// makes (the range and the rate window, then the report), timed over several ranges. A hold writes
/// two ledger entries (its section and the pool) and so does a confirm of half of them: <c>--holds 340000</c>
/// (236 a minute for 1,440 minutes) is a ledger of 1,019,520 entries, the million docs/performance.md
/// measures (<c>--holds 250000</c> gives about 747,000).
/// </summary>
internal static class StatsRead
{
    private const int Minutes = 1440;
    private const int Repeats = 9;

    public static async Task<(bool, long)> RunAsync(
        Settings s, CommandEngine engine, IReadStore read, ShiftedClock clock, HotEvent hot, List<(string, object)> fields, CancellationToken ct)
    {
        var start = clock.GetUtcNow();
        var perMinute = Math.Max(1, s.Holds / Minutes);
        long placed = 0, confirmed = 0, failed = 0, entries = 0;
        var sw = Stopwatch.StartNew();
        for (var minute = 0; minute < Minutes && placed < s.Holds; minute++)
        {
            var round = (int)Math.Min(perMinute, s.Holds - placed);
            var commands = Enumerable.Range(0, round).Select(i => hot.Hold(placed + i, CoreLimits.Default.MaxLifetimeMinutes)).ToArray();
            var holds = await Task.WhenAll(commands.Select(c => engine.SubmitAsync(c)));
            var ok = commands.Where((_, i) => holds[i].Outcome?.Code == OutcomeCode.Ok).Select(c => c.ReservationId).ToList();
            failed += round - ok.Count;
            placed += ok.Count;
            clock.Advance(TimeSpan.FromSeconds(20));
            var confirms = await Task.WhenAll(ok.Where((_, i) => i % 2 == 0).Select(id => engine.SubmitAsync(new TransitionReservation(hot.Tenant, id, Transition.Confirm))));
            confirmed += confirms.Count(c => c.Outcome?.Code == OutcomeCode.Ok);
            clock.Advance(TimeSpan.FromSeconds(40));
        }

        entries = 2 * (placed + confirmed);
        Console.WriteLine($"  written         {Report.N(placed)} holds, {Report.N(confirmed)} confirmed, over {Minutes} simulated minutes: "
            + $"{Report.N(entries)} ledger entries in {sw.Elapsed.TotalSeconds:0.0} s");

        var now = clock.GetUtcNow();
        var ranges = new (string Field, string Name, DateTimeOffset? From, string Bucket, Guid[]? Capacities)[]
        {
            ("stats_ms_hour", "last hour by minute", null, "1m", null),
            ("stats_ms_day_by_minute", "the last 1,440 minutes by minute", now.AddMinutes(-1439), "1m", null),
            ("stats_ms_day_by_hour", "whole day by hour", start, "1h", null),
            ("stats_ms_section", "one section, whole day by 5 minutes", start, "5m", [hot.Capped]),
        };
        var ok2 = true;
        foreach (var (field, name, from, bucket, capacities) in ranges)
        {
            var range = StatsRange.Create(from, now, bucket, now).Range!;
            var times = new List<double>();
            SalesReport? report = null;
            for (var i = 0; i < Repeats; i++)
            {
                var t = Stopwatch.StartNew();
                report = await SalesReports.ReadAsync(read, hot.Tenant, "bench-hot", capacities, range, default, now, ct);
                times.Add(t.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            var median = times[times.Count / 2];
            Console.WriteLine($"  stats           {name}: median {median:0.0} ms, worst {times[^1]:0.0} ms over {Repeats} reads "
                + $"({report!.Buckets.Count} buckets, {Report.N(report.Totals.Held)} held, {Report.N(report.Totals.Confirmed)} confirmed in range)");
            fields.Add((field, median));
            if (bucket == "1h" && (report.Totals.Held != placed || report.Totals.Confirmed != confirmed))
            {
                Console.WriteLine($"  stats           FAILED: the day's figures say {report.Totals.Held} held and {report.Totals.Confirmed} confirmed");
                ok2 = false;
            }
        }

        fields.AddRange([("holds", placed), ("ledger_entries", entries)]);
        return (ok2 && failed == 0, placed - confirmed);
    }
}

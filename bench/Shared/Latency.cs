using System.Diagnostics;

namespace Capacity.Bench;

/// <summary>
/// Latencies of one client, kept raw (Stopwatch ticks) so percentiles are exact. One instance per
/// client, merged at the end, so recording never contends.
/// </summary>
internal sealed class LatencySamples
{
    private readonly List<long> _ticks = new(1 << 14);

    public void Add(long ticks) => _ticks.Add(ticks);

    public static LatencySummary Summarise(IEnumerable<LatencySamples> clients)
    {
        var all = clients.SelectMany(c => c._ticks).ToArray();
        Array.Sort(all);
        return new LatencySummary(
            all.Length,
            Percentile(all, 0.50),
            Percentile(all, 0.90),
            Percentile(all, 0.99),
            Percentile(all, 0.999),
            all.Length == 0 ? 0 : ToMs(all[^1]));
    }

    /// <summary>Nearest rank: the smallest sample with at least <paramref name="p"/> of the samples at or below it.</summary>
    private static double Percentile(long[] sorted, double p)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(p * sorted.Length);
        return ToMs(sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)]);
    }

    private static double ToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

internal sealed record LatencySummary(int Count, double P50, double P90, double P99, double P999, double Max)
{
    public override string ToString() =>
        FormattableString.Invariant($"p50 {P50:0.000}  p90 {P90:0.000}  p99 {P99:0.000}  p99.9 {P999:0.000}  max {Max:0.000} ms");
}

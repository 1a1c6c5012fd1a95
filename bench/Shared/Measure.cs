using System.Diagnostics;
using System.Globalization;

namespace Capacity.Bench;

/// <summary>
/// The measured window of a run: a warm-up that is thrown away (JIT, connection pools, SQLite page
/// cache, queues filling up), then a fixed wall-clock window. A request counts when it completes
/// inside the window, whenever it started: with a long queue (one transaction per hold) latency can
/// be longer than the window itself, and requiring the start inside too would undercount.
/// </summary>
internal sealed class Window(TimeSpan warmup, TimeSpan duration)
{
    public long Start { get; } = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);

    public long End => Start + (long)(duration.TotalSeconds * Stopwatch.Frequency);

    public double Seconds => duration.TotalSeconds;

    public bool Over => Stopwatch.GetTimestamp() >= End;

    public bool Contains(long timestamp) => timestamp >= Start && timestamp <= End;

    /// <summary>
    /// Cores a process kept busy during the window (CPU time divided by wall time): near 0 means it
    /// waited (on the disk, on the network), near the core count means it was the bottleneck.
    /// </summary>
    public async Task<double> CoresUsedAsync(Process process, CancellationToken ct)
    {
        await Task.Delay(Until(Start), ct);
        process.Refresh();
        var before = process.TotalProcessorTime;
        await Task.Delay(Until(End), ct);
        process.Refresh();
        return (process.TotalProcessorTime - before).TotalSeconds / Seconds;
    }

    private static TimeSpan Until(long timestamp)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}

/// <summary>Output helpers: invariant numbers, and the one machine-readable line bench/run.sh reads.</summary>
internal static class Report
{
    public static string N(double value, string format = "#,0") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>Prints <c>RESULT key=value ...</c>; values must not contain spaces.</summary>
    public static void Result(params (string Key, object Value)[] fields) =>
        Console.WriteLine("RESULT " + string.Join(' ', fields.Select(f => f.Key + "=" + Format(f.Value))));

    private static string Format(object value) => value switch
    {
        double d => d.ToString("0.###", CultureInfo.InvariantCulture),
        bool b => b ? "yes" : "no",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Resident and peak resident memory of this process, in MiB, from /proc (Linux only).</summary>
    public static (double Rss, double Peak) Memory()
    {
        double rss = 0, peak = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kib(line) / 1024.0;
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kib(line) / 1024.0;
            }
        }

        return (rss, peak);
    }

    private static long Kib(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

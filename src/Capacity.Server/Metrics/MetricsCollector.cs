using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Capacity.Server.Metrics;

/// <summary>
/// Listens to every <c>Capacity.*</c> meter and keeps, per series, a counter sum, a gauge's last value
/// or a histogram's buckets, then writes them in the Prometheus text format with Prometheus' naming:
/// base units (durations recorded in ms are exposed in seconds, <c>_seconds</c>), counters ending in
/// <c>_total</c>, and the usual <c>process_*</c> and runtime series beside ours. No exporter package
/// restores here, and this is small enough to own: series are keyed by instrument and label values,
/// and created once.
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    private static readonly double[] LatencyBucketsSeconds = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
    private static readonly double[] SizeBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

    private readonly MeterListener _listener = new();
    // Keyed by the tag values (our instruments carry at most three, always in the same order), so a
    // measurement allocates nothing; the label text is built once, when the series is created.
    private readonly ConcurrentDictionary<(Instrument Instrument, object? A, object? B, object? C), Series> _series = new();

    // Counters this host exposes, so that one never incremented is still scraped, at 0: a counter that
    // appears only at its first failure reads as "no data" on a dashboard, not as none.
    private readonly ConcurrentDictionary<Instrument, bool> _counters = new();

    public MetricsCollector(IMeterFactory meters)
    {
        // Process-wide meters (no scope) and this host's own (IMeterFactory's): another server in the same
        // process (the tests run many) has meters of its own that are not this one's to expose.
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith("Capacity.", StringComparison.Ordinal)
                && (instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, meters)))
            {
                listener.EnableMeasurementEvents(instrument);
                if (Kind(instrument) == SeriesKind.Counter)
                {
                    _counters.TryAdd(instrument, true);
                }
            }
        };
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = (instrument, tags.Length > 0 ? tags[0].Value : null, tags.Length > 1 ? tags[1].Value : null, tags.Length > 2 ? tags[2].Value : null);
        if (!_series.TryGetValue(key, out var series))
        {
            series = _series.GetOrAdd(key, new Series(Kind(instrument), Buckets(instrument), Labels(tags)));
        }

        // Prometheus wants base units: a duration the code measures in ms is exposed in seconds.
        series.Record(instrument.Unit == "ms" ? value / 1000 : value);
    }

    /// <summary>The exposition: observable gauges are read now, everything else as accumulated.</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        var seen = _series.Keys.Select(k => k.Instrument).ToHashSet();
        foreach (var counter in _counters.Keys.Where(c => !seen.Contains(c)).OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            Metric(text, Name(counter), "counter", counter.Description ?? counter.Name, 0);
        }

        foreach (var group in _series.GroupBy(s => s.Key.Instrument).OrderBy(g => g.Key.Name, StringComparer.Ordinal))
        {
            var instrument = group.Key;
            var kind = Kind(instrument);
            var name = Name(instrument);
            text.Append("# HELP ").Append(name).Append(' ').AppendLine(instrument.Description ?? instrument.Name);
            text.Append("# TYPE ").Append(name).Append(' ').AppendLine(kind switch { SeriesKind.Counter => "counter", SeriesKind.Gauge => "gauge", _ => "histogram" });
            foreach (var series in group.Select(s => s.Value).OrderBy(s => s.Labels, StringComparer.Ordinal))
            {
                series.Write(text, name);
            }
        }

        WriteProcess(text);
        return text.ToString();
    }

    /// <summary>
    /// The series every Prometheus set-up expects of a process (the names the official client
    /// libraries use), and the .NET runtime's own: read at scrape time, so they cost nothing between scrapes.
    /// </summary>
    private static void WriteProcess(StringBuilder text)
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var gc = GC.GetGCMemoryInfo();
        Metric(text, "process_cpu_seconds_total", "counter", "CPU time used by the process, user and system", process.TotalProcessorTime.TotalSeconds);
        Metric(text, "process_resident_memory_bytes", "gauge", "Resident memory of the process", process.WorkingSet64);
        Metric(text, "process_start_time_seconds", "gauge", "When the process started, in Unix seconds", new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        if (Directory.Exists("/proc/self/fd"))
        {
            Metric(text, "process_open_fds", "gauge", "Open file descriptors", Directory.GetFileSystemEntries("/proc/self/fd").Length);
        }

        Metric(text, "dotnet_gc_heap_bytes", "gauge", "Managed heap size after the last collection", gc.HeapSizeBytes);
        Metric(text, "dotnet_gc_allocated_bytes_total", "counter", "Bytes allocated on the managed heap since start", GC.GetTotalAllocatedBytes());
        Metric(text, "dotnet_gc_pause_seconds_total", "counter", "Time the runtime paused for garbage collections", GC.GetTotalPauseDuration().TotalSeconds);
        text.AppendLine("# HELP dotnet_gc_collections_total Garbage collections by generation").AppendLine("# TYPE dotnet_gc_collections_total counter");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            text.Append("dotnet_gc_collections_total{generation=\"").Append(generation).Append("\"} ").AppendLine(GC.CollectionCount(generation).ToString(CultureInfo.InvariantCulture));
        }

        Metric(text, "dotnet_threadpool_threads", "gauge", "Thread-pool threads", ThreadPool.ThreadCount);
        Metric(text, "dotnet_threadpool_queue_length", "gauge", "Work items waiting for a thread-pool thread", ThreadPool.PendingWorkItemCount);
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value) =>
        text.Append("# HELP ").Append(name).Append(' ').AppendLine(help)
            .Append("# TYPE ").Append(name).Append(' ').AppendLine(type)
            .Append(name).Append(' ').AppendLine(value.ToString("R", CultureInfo.InvariantCulture));

    public void Dispose() => _listener.Dispose();

    private static SeriesKind Kind(Instrument instrument) => instrument switch
    {
        Counter<long> or Counter<int> or Counter<double> => SeriesKind.Counter,
        Histogram<int> or Histogram<long> or Histogram<double> => SeriesKind.Histogram,
        _ => SeriesKind.Gauge,
    };

    private static double[] Buckets(Instrument instrument) => instrument.Unit is "ms" or "s" ? LatencyBucketsSeconds : SizeBuckets;

    /// <summary>
    /// <c>capacity.engine.commit_duration</c> in ms becomes <c>capacity_engine_commit_duration_seconds</c>
    /// (its values divided by 1,000), <c>capacity.expiry.lag</c> in s <c>capacity_expiry_lag_seconds</c>;
    /// counters end in <c>_total</c>.
    /// </summary>
    private static string Name(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_').Replace('-', '_');
        if (instrument.Unit is "ms" or "s")
        {
            name += "_seconds";
        }
        else if (!string.IsNullOrEmpty(instrument.Unit) && instrument.Unit != "{count}")
        {
            name += "_" + instrument.Unit.Replace('/', '_');
        }

        return Kind(instrument) == SeriesKind.Counter ? name + "_total" : name;
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }

        var parts = new string[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            var value = Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "";
            parts[i] = $"{tags[i].Key.Replace('.', '_')}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"";
        }

        Array.Sort(parts, StringComparer.Ordinal);
        return string.Join(',', parts);
    }

    private enum SeriesKind
    {
        Counter,
        Gauge,
        Histogram,
    }

    private sealed class Series(SeriesKind kind, double[] bounds, string labels)
    {
        public string Labels => labels;

        private readonly long[] _buckets = kind == SeriesKind.Histogram ? new long[bounds.Length] : [];
        private double _sum;
        private long _count;
        private double _last;

        /// <summary>
        /// Without a lock: every request records two series (its route's count and duration), so a lock
        /// here was one that every request thread took in turn. The count goes up before the bucket, and
        /// <see cref="Write"/> reads the buckets before the count, so a scrape never shows a bucket
        /// above <c>+Inf</c>; a scrape during a measurement may show its count and not yet its sum.
        /// </summary>
        public void Record(double value)
        {
            Volatile.Write(ref _last, value);
            Add(ref _sum, value);
            Interlocked.Increment(ref _count);
            for (var i = 0; i < _buckets.Length; i++)
            {
                if (value <= bounds[i])
                {
                    Interlocked.Increment(ref _buckets[i]);
                    break;
                }
            }
        }

        private static void Add(ref double total, double value)
        {
            var seen = Volatile.Read(ref total);
            while (true)
            {
                var found = Interlocked.CompareExchange(ref total, seen + value, seen);
                if (found.Equals(seen))
                {
                    return;
                }

                seen = found;
            }
        }

        public void Write(StringBuilder text, string name)
        {
            switch (kind)
            {
                case SeriesKind.Counter:
                    Line(text, name, labels, Volatile.Read(ref _sum));
                    break;
                case SeriesKind.Gauge:
                    Line(text, name, labels, Volatile.Read(ref _last));
                    break;
                default:
                    long cumulative = 0;
                    for (var i = 0; i < bounds.Length; i++)
                    {
                        cumulative += Volatile.Read(ref _buckets[i]);
                        Line(text, name + "_bucket", Join(labels, $"le=\"{bounds[i].ToString(CultureInfo.InvariantCulture)}\""), cumulative);
                    }

                    // Read after the buckets: every measurement a bucket shows is counted here too.
                    var count = Volatile.Read(ref _count);
                    Line(text, name + "_bucket", Join(labels, "le=\"+Inf\""), count);
                    Line(text, name + "_sum", labels, Volatile.Read(ref _sum));
                    Line(text, name + "_count", labels, count);
                    break;
            }
        }

        private static string Join(string labels, string label) => labels.Length == 0 ? label : labels + "," + label;

        private static void Line(StringBuilder text, string name, string labels, double value)
        {
            text.Append(name);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }

            text.Append(' ').AppendLine(value.ToString("R", CultureInfo.InvariantCulture));
        }
    }
}

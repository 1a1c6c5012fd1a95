using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Capacity.Server.Metrics;

/// <summary>
/// Listens to every <c>Capacity.*</c> meter and keeps, per series, a counter sum, a gauge's last value
/// or a histogram's buckets, then writes them in the Prometheus text format. No exporter package
/// restores here, and this is small enough to own: series are keyed by instrument and label values,
/// and created once.
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    private static readonly double[] LatencyBucketsMs = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
    private static readonly double[] SizeBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

    private readonly MeterListener _listener = new();
    // Keyed by the tag values (our instruments carry at most three, always in the same order), so a
    // measurement allocates nothing; the label text is built once, when the series is created.
    private readonly ConcurrentDictionary<(Instrument Instrument, object? A, object? B, object? C), Series> _series = new();

    public MetricsCollector()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith("Capacity.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
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

        series.Record(value);
    }

    /// <summary>The exposition: observable gauges are read now, everything else as accumulated.</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
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

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private static SeriesKind Kind(Instrument instrument) => instrument switch
    {
        Counter<long> or Counter<int> or Counter<double> => SeriesKind.Counter,
        Histogram<int> or Histogram<long> or Histogram<double> => SeriesKind.Histogram,
        _ => SeriesKind.Gauge,
    };

    private static double[] Buckets(Instrument instrument) => instrument.Unit == "ms" ? LatencyBucketsMs : SizeBuckets;

    /// <summary><c>capacity.engine.commit_duration</c> in ms becomes <c>capacity_engine_commit_duration_ms</c>; counters end in <c>_total</c>.</summary>
    private static string Name(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_').Replace('-', '_');
        if (!string.IsNullOrEmpty(instrument.Unit) && instrument.Unit != "{count}")
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

        public void Record(double value)
        {
            lock (this)
            {
                _last = value;
                _sum += value;
                _count++;
                for (var i = 0; i < _buckets.Length; i++)
                {
                    if (value <= bounds[i])
                    {
                        _buckets[i]++;
                        break;
                    }
                }
            }
        }

        public void Write(StringBuilder text, string name)
        {
            lock (this)
            {
                switch (kind)
                {
                    case SeriesKind.Counter:
                        Line(text, name, labels, _sum);
                        break;
                    case SeriesKind.Gauge:
                        Line(text, name, labels, _last);
                        break;
                    default:
                        long cumulative = 0;
                        for (var i = 0; i < bounds.Length; i++)
                        {
                            cumulative += _buckets[i];
                            Line(text, name + "_bucket", Join(labels, $"le=\"{bounds[i].ToString(CultureInfo.InvariantCulture)}\""), cumulative);
                        }

                        Line(text, name + "_bucket", Join(labels, "le=\"+Inf\""), _count);
                        Line(text, name + "_sum", labels, _sum);
                        Line(text, name + "_count", labels, _count);
                        break;
                }
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

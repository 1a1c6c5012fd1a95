using System.Diagnostics.Metrics;
using Capacity.Bench;
using Capacity.Engine;

namespace Capacity.EngineBench;

/// <summary>
/// Listens to the engine's own metrics: how many commands each committed batch held, how long each
/// batch took from BEGIN to durable COMMIT, and how many batches failed. Only batches that commit
/// inside <paramref name="counts"/> are kept, so warm-up batches do not skew the distribution.
/// </summary>
internal sealed class BatchRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Func<bool> _counts;
    private readonly Lock _gate = new();
    private readonly List<int> _sizes = [];
    private readonly List<double> _durations = [];
    private long _failed;

    public BatchRecorder(Func<bool> counts)
    {
        _counts = counts;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == CommandEngine.Meter)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            if (instrument.Name == "capacity.engine.batch_size" && _counts())
            {
                lock (_gate)
                {
                    _sizes.Add(value);
                }
            }
        });
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "capacity.engine.commit_duration" && _counts())
            {
                lock (_gate)
                {
                    _durations.Add(value);
                }
            }
        });
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "capacity.engine.failed_batches")
            {
                Interlocked.Add(ref _failed, value);
            }
        });
        _listener.Start();
    }

    public int Batches
    {
        get
        {
            lock (_gate)
            {
                return _sizes.Count;
            }
        }
    }

    public double MeanSize
    {
        get
        {
            lock (_gate)
            {
                return _sizes.Count == 0 ? 0 : _sizes.Average();
            }
        }
    }

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Median and p99 of BEGIN-to-COMMIT time per batch, in ms.</summary>
    public (double P50, double P99) BatchMs()
    {
        lock (_gate)
        {
            if (_durations.Count == 0)
            {
                return (0, 0);
            }

            var sorted = _durations.Order().ToArray();
            return (sorted[(sorted.Length - 1) / 2], sorted[(int)Math.Ceiling(0.99 * sorted.Length) - 1]);
        }
    }

    /// <summary>Batches and commands per size range: 1, 2–9, 10–99, ... up to the batch limit, which gets a row of its own.</summary>
    public void Print(int maxBatch)
    {
        int[] sizes;
        lock (_gate)
        {
            sizes = [.. _sizes];
        }

        var commands = Math.Max(1, sizes.Sum(s => (long)s));
        var bounds = new List<int> { 1, 2 };
        for (var b = 10; b < maxBatch; b *= 10)
        {
            bounds.Add(b);
        }

        bounds = [.. bounds.Where(b => b < maxBatch).Distinct(), maxBatch, maxBatch + 1];
        Console.WriteLine("  batch size        batches   share of commands");
        for (var i = 0; i + 1 < bounds.Count; i++)
        {
            var (low, high) = (bounds[i], bounds[i + 1] - 1);
            var inRange = sizes.Where(s => s >= low && s <= high).ToArray();
            var label = low == high ? (low == maxBatch ? $"{low} (limit)" : $"{low}") : $"{low}-{high}";
            Console.WriteLine($"  {label,-16} {Report.N(inRange.Length),8}   {Report.N(100.0 * inRange.Sum(s => (long)s) / commands, "0.0"),6} %");
        }
    }

    public void Dispose() => _listener.Dispose();
}

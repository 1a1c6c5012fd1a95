using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Capacity.Engine;

namespace Capacity.EngineBench;

/// <summary>
/// Where a batch's time goes, measured from outside the engine: BEGIN, loading the touched rows,
/// deciding (the engine's own time between load and write: the core plus idempotency bookkeeping),
/// writing, and the durable COMMIT. Only batches that commit while <c>counts</c> says so are kept.
/// </summary>
internal sealed class PhaseTimes(Func<bool> counts)
{
    public static readonly string[] Names = ["begin", "load", "decide", "write", "commit"];

    private readonly Lock _gate = new();
    private readonly long[] _ticks = new long[Names.Length];
    private long _batches;

    /// <summary>Committed batches counted, and mean milliseconds per batch in each phase.</summary>
    public (long Batches, double[] MeanMs) Snapshot()
    {
        lock (_gate)
        {
            return (_batches, [.. _ticks.Select(t => _batches == 0 ? 0 : t * 1000.0 / Stopwatch.Frequency / _batches)]);
        }
    }

    public void Record(long[] phaseTicks)
    {
        if (!counts())
        {
            return;
        }

        lock (_gate)
        {
            _batches++;
            for (var i = 0; i < phaseTicks.Length; i++)
            {
                _ticks[i] += phaseTicks[i];
            }
        }
    }
}

/// <summary>
/// Wraps the real store's write side so that every batch transaction reports its phases to
/// <see cref="PhaseTimes"/>. A <see cref="DispatchProxy"/> rather than a hand-written decorator: the
/// store interface grows with src/, and the proxy forwards every member it does not time without
/// needing an edit. It has <see cref="ICommittedRows"/> when the real store has, so the engine's early
/// refusals are measured as they run in the server.
/// </summary>
internal class TimedStore : DispatchProxy
{
    private IWriteStore _inner = null!;
    private PhaseTimes _times = null!;

    public interface ICommittedWriteStore : IWriteStore, ICommittedRows;

    public static IWriteStore Wrap(IWriteStore inner, PhaseTimes times)
    {
        var proxy = inner is ICommittedRows ? Create<ICommittedWriteStore, TimedStore>() : Create<IWriteStore, TimedStore>();
        var self = (TimedStore)(object)proxy;
        self._inner = inner;
        self._times = times;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args) =>
        method!.Name == nameof(IWriteStore.BeginWriteAsync) ? BeginAsync((CancellationToken)args![0]!) : Forward(method, _inner, args);

    private async Task<IWriteTransaction> BeginAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var tx = await _inner.BeginWriteAsync(ct).ConfigureAwait(false);
        return TimedTransaction.Wrap(tx, _times, started);
    }

    /// <summary>Calls the real member; an exception comes out as itself, not wrapped by reflection.</summary>
    internal static object? Forward(MethodInfo method, object target, object?[]? args)
    {
        try
        {
            return method.Invoke(target, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}

internal class TimedTransaction : DispatchProxy
{
    private IWriteTransaction _inner = null!;
    private PhaseTimes _times = null!;
    private long[] _phase = null!;
    private long _mark;

    public static IWriteTransaction Wrap(IWriteTransaction inner, PhaseTimes times, long started)
    {
        var proxy = Create<IWriteTransaction, TimedTransaction>();
        var self = (TimedTransaction)(object)proxy;
        self._inner = inner;
        self._times = times;
        self._mark = Stopwatch.GetTimestamp();
        self._phase = [self._mark - started, 0, 0, 0, 0];
        return proxy;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        switch (method!.Name)
        {
            case nameof(IWriteTransaction.LoadAsync) or nameof(IWriteTransaction.LoadIdempotencyAsync) or nameof(IWriteTransaction.LoadAddedAsync):
                return Then(Call(method, args), phase: 1);
            case nameof(IWriteTransaction.WriteAsync):
                // Everything since the last load finished was the engine deciding.
                Lap(2);
                return Then(Call(method, args), phase: 3);
            case nameof(IWriteTransaction.CommitAsync):
                return Then(Call(method, args), phase: 4, done: true);
            default:
                return TimedStore.Forward(method, _inner, args);
        }
    }

    private Task Call(MethodInfo method, object?[]? args) => (Task)TimedStore.Forward(method, _inner, args)!;

    private async Task Then(Task call, int phase, bool done = false)
    {
        await call.ConfigureAwait(false);
        Lap(phase);
        if (done)
        {
            _times.Record(_phase);
        }
    }

    private void Lap(int phase)
    {
        var now = Stopwatch.GetTimestamp();
        _phase[phase] += now - _mark;
        _mark = now;
    }
}

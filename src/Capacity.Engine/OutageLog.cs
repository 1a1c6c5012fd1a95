using System.Data.Common;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Capacity.Engine;

/// <summary>
/// How a store outage is logged: one warning when failures start (with the first failure's exception,
/// the only stack trace of the outage), then a summary every <see cref="SummaryInterval"/> while they
/// go on (how many, from where, the last reason), and one line when the store answers again. Before
/// it, every failed batch, read and sweep logged its own trace, several 4 KB traces a second for as
/// long as the database was down, which buried everything else. One instance per process, shared by
/// the engine, the sweeper and the HTTP layer, so an outage is one story however many see it.
/// </summary>
public sealed class OutageLog(ILogger<OutageLog> logger, TimeProvider time)
{
    public static readonly TimeSpan SummaryInterval = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _sinceSummary = new(StringComparer.Ordinal);
    private volatile bool _failing;
    private DateTimeOffset _started;
    private DateTimeOffset _lastSummary;
    private int _failures;
    private string _lastReason = "";

    /// <summary>Whether the store is failing now: a failure has been seen and no success since.</summary>
    public bool Failing => _failing;

    /// <summary>Whether an exception is the store failing (down, unreachable, timing out), not a bug: what this log counts.</summary>
    public static bool IsStoreFailure(Exception e) =>
        e is DbException or TimeoutException or SocketException or InvalidOperationException { InnerException: DbException or TimeoutException or SocketException };

    /// <summary>Counts a failure of the store seen by <paramref name="source"/> ("batch", "read", "expiry sweep").</summary>
    public void Failed(string source, Exception e)
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            _lastReason = e.Message.ReplaceLineEndings(" ");
            if (!_failing)
            {
                _failing = true;
                (_started, _lastSummary, _failures) = (now, now, 1);
                _sinceSummary.Clear();
                logger.LogWarning(
                    e,
                    "The database is failing ({Source}): {Reason}. What needs it answers 503 until it is back; until then a summary every {Interval} s instead of a line per failure",
                    source, _lastReason, SummaryInterval.TotalSeconds);
                return;
            }

            _failures++;
            _sinceSummary[source] = _sinceSummary.GetValueOrDefault(source) + 1;
            if (now - _lastSummary >= SummaryInterval)
            {
                logger.LogWarning(
                    "The database is still failing after {Duration}: {Count} failures in the last {Interval} s ({Sources}), {Failures} in all; last: {Reason}",
                    Round(now - _started), _sinceSummary.Values.Sum(), Math.Round((now - _lastSummary).TotalSeconds),
                    string.Join(", ", _sinceSummary.Select(s => $"{s.Key} {s.Value}")), _failures, _lastReason);
                _lastSummary = now;
                _sinceSummary.Clear();
            }
        }
    }

    /// <summary>The store answered. Costs one volatile read when it was not failing, so the engine calls it after every commit.</summary>
    public void Succeeded()
    {
        if (!_failing)
        {
            return;
        }

        lock (_lock)
        {
            if (!_failing)
            {
                return;
            }

            _failing = false;
            logger.LogInformation("The database answers again, after {Duration} and {Failures} failures", Round(time.GetUtcNow() - _started), _failures);
        }
    }

    private static TimeSpan Round(TimeSpan span) => TimeSpan.FromSeconds(Math.Round(span.TotalSeconds));
}

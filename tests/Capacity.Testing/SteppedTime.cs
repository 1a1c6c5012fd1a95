namespace Capacity.Testing;

/// <summary>
/// A monotonic clock (<see cref="TimeProvider.GetTimestamp"/>) that moves only when the test says so,
/// for code that measures elapsed time rather than reading the date (<see cref="ManualTime"/> moves that).
/// Starts at <paramref name="start"/> ticks, so a test can check that nothing treats zero as special.
/// </summary>
public sealed class SteppedTime(long start = 0) : TimeProvider
{
    private long _ticks = start;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

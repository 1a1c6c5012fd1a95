using Capacity.Server.Memory;

namespace Capacity.Server.Tests;

/// <summary>When the server gives memory back: only quiet, only big, and once per burst.</summary>
public sealed class MemoryTrimTests
{
    private const long MiB = 1L << 20;
    private static readonly TimeSpan Ten = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_quiet_process_holding_far_more_than_after_its_last_trim_is_trimmed() =>
        Assert.True(MemoryTrim.ShouldTrim(1500 * MiB, 5 * MiB, Ten, committedAfterLastTrim: 0));

    [Fact]
    public void A_busy_process_is_left_to_its_own_collections() =>
        Assert.False(MemoryTrim.ShouldTrim(1500 * MiB, 400 * MiB, Ten, committedAfterLastTrim: 0));

    [Fact]
    public void A_small_process_is_left_alone_however_quiet() =>
        Assert.False(MemoryTrim.ShouldTrim(200 * MiB, 0, Ten, committedAfterLastTrim: 0));

    [Fact]
    public void A_process_that_really_uses_its_memory_is_not_collected_again_every_interval()
    {
        // The last trim left 1,000 MiB: that much is in use, and stays so while quiet.
        Assert.False(MemoryTrim.ShouldTrim(1100 * MiB, 0, Ten, committedAfterLastTrim: 1000 * MiB));
        Assert.True(MemoryTrim.ShouldTrim(1300 * MiB, 0, Ten, committedAfterLastTrim: 1000 * MiB));
    }
}

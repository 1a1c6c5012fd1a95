using Capacity.Engine;

namespace Capacity.Engine.Tests;

public sealed class TimeOrderedIdsTests
{
    [Fact]
    public void Ids_made_in_the_same_millisecond_still_sort_in_the_order_they_were_made()
    {
        var maker = new TimeOrderedIds();
        var at = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 10_000).Select(_ => maker.Next(at)).ToList();

        Assert.Equal(ids, ids.Order());
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(7, id.Version));
        Assert.All(ids, id => Assert.Equal(0b1000, id.Variant & 0b1100)); // RFC 9562's variant, 10xx
        Assert.All(ids, id => Assert.Equal(at.ToUnixTimeMilliseconds(), Millisecond(id)));
    }

    [Fact]
    public void A_clock_that_steps_back_does_not_make_an_id_that_sorts_before_the_last()
    {
        var maker = new TimeOrderedIds();
        var now = DateTimeOffset.UtcNow;
        var first = maker.Next(now);
        var second = maker.Next(now.AddSeconds(-5));

        Assert.True(second.CompareTo(first) > 0);
        Assert.True(maker.Next(now.AddMilliseconds(1)).CompareTo(second) > 0);
    }

    [Fact]
    public void Ids_from_many_threads_are_all_different()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                ids.Add(TimeOrderedIds.New());
            }
        });

        Assert.Equal(40_000, ids.Distinct().Count());
    }

    private static long Millisecond(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        return (long)(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes) >> 16);
    }
}

using Capacity.Server.Http;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>The per-tenant token bucket that <c>AuthMiddleware</c> charges (HTTP behaviour: <see cref="OverloadTests"/>).</summary>
public sealed class RateLimitsTests
{
    private static readonly Guid Greedy = Guid.NewGuid();
    private static readonly Guid Polite = Guid.NewGuid();

    [Fact]
    public void A_tenant_may_burst_then_gets_the_seconds_until_its_next_request()
    {
        var time = new SteppedTime(1_000_000_000);
        var limits = new RateLimits(new RateLimitOptions { PermitsPerSecond = 2, Burst = 5 }, time);

        for (var i = 0; i < 5; i++)
        {
            Assert.Null(limits.TryTake(Greedy));
        }

        // Empty: one token comes back in half a second, so the answer is the whole second above it.
        Assert.Equal(1, limits.TryTake(Greedy));
        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.Equal(1, limits.TryTake(Greedy));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(limits.TryTake(Greedy));
        Assert.Equal(1, limits.TryTake(Greedy));
    }

    [Fact]
    public void Refused_requests_take_nothing_and_an_idle_bucket_refills_only_to_its_burst()
    {
        var time = new SteppedTime();
        var limits = new RateLimits(new RateLimitOptions { PermitsPerSecond = 10, Burst = 3 }, time);
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(limits.TryTake(Greedy));
        }

        // A refused request does not dig the hole deeper: a tenth of a second later one gets through.
        for (var i = 0; i < 100; i++)
        {
            Assert.NotNull(limits.TryTake(Greedy));
        }

        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Null(limits.TryTake(Greedy));

        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(3, Enumerable.Range(0, 10).Count(_ => limits.TryTake(Greedy) is null));
    }

    [Fact]
    public void Each_tenant_has_its_own_bucket()
    {
        var limits = new RateLimits(new RateLimitOptions { PermitsPerSecond = 1, Burst = 1 }, new SteppedTime());
        Assert.Null(limits.TryTake(Greedy));
        Assert.NotNull(limits.TryTake(Greedy));
        Assert.Null(limits.TryTake(Polite));
        Assert.Null(limits.TryTake(Guid.Empty));
    }

    [Fact]
    public void A_slow_rate_says_how_many_seconds_to_wait()
    {
        var time = new SteppedTime();
        var limits = new RateLimits(new RateLimitOptions { PermitsPerSecond = 1, Burst = 1 }, time);
        Assert.Null(limits.TryTake(Greedy));
        Assert.Equal(1, limits.TryTake(Greedy));

        // A permit every second: 0.4 s after the last one, 0.6 s remain, answered as 1.
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Equal(1, limits.TryTake(Greedy));
    }

    [Fact]
    public void Zero_permits_turns_limiting_off()
    {
        var limits = new RateLimits(new RateLimitOptions { PermitsPerSecond = 0, Burst = 1 }, new SteppedTime());
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.Null(limits.TryTake(Greedy)));
    }

    [Fact]
    public async Task Concurrent_callers_never_take_more_than_the_burst()
    {
        var limits = new RateLimits(new RateLimitOptions { PermitsPerSecond = 1, Burst = 500 }, new SteppedTime());
        var taken = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                if (limits.TryTake(Greedy) is null)
                {
                    Interlocked.Increment(ref taken);
                }
            }
        })));
        Assert.Equal(500, taken);
    }
}

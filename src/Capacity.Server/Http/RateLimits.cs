using System.Collections.Concurrent;

namespace Capacity.Server.Http;

/// <summary>Per-tenant request budget, bound from <c>Capacity:RateLimit</c>.</summary>
internal sealed class RateLimitOptions
{
    /// <summary>Requests each tenant may make per second, sustained. 0 turns limiting off.</summary>
    public int PermitsPerSecond { get; set; } = 50_000;

    /// <summary>How far above the sustained rate a tenant may burst.</summary>
    public int Burst { get; set; } = 50_000;
}

/// <summary>
/// A token bucket per tenant (the admin key has one of its own), so one tenant's stampede cannot
/// starve the others. Over budget is answered at once with 429 and Retry-After; nothing queues.
/// <para>
/// Charged by <see cref="AuthMiddleware"/> as soon as it knows the caller, on every route that needs
/// a credential. It replaced ASP.NET Core's rate-limiting middleware, which cost about 2.5 % of an
/// availability read's CPU (a middleware and its state machine per request, a partition looked up
/// under a lock, a lease allocated and disposed; docs/performance.md): here a request takes one
/// uncontended lock and a subtraction.
/// </para>
/// </summary>
internal sealed class RateLimits(RateLimitOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<Guid, Bucket> _buckets = new();
    private readonly double _perTick = options.PermitsPerSecond / (double)time.TimestampFrequency;

    /// <summary>Takes one request from the tenant's bucket: null when taken, else the whole seconds until one is there (at least 1).</summary>
    public int? TryTake(Guid tenantId)
    {
        if (options.PermitsPerSecond <= 0)
        {
            return null;
        }

        var burst = Math.Max(1, options.Burst);
        var now = time.GetTimestamp();
        var bucket = _buckets.GetOrAdd(tenantId, static (_, state) => new Bucket(state.Burst, state.Now), (Burst: burst, Now: now));
        lock (bucket)
        {
            // Refilled continuously, up to the burst. Racing callers may come in out of their clock
            // order: the later reading refills, the earlier refills nothing.
            bucket.Tokens = Math.Min(burst, bucket.Tokens + (Math.Max(0, now - bucket.At) * _perTick));
            bucket.At = Math.Max(bucket.At, now);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return null;
            }

            return Math.Max(1, (int)Math.Ceiling((1 - bucket.Tokens) / options.PermitsPerSecond));
        }
    }

    private sealed class Bucket(double tokens, long at)
    {
        public double Tokens = tokens;
        public long At = at;
    }
}

using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

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
/// </summary>
internal static class RateLimits
{
    public const string PerTenant = "per-tenant";

    public static void AddRateLimits(this IServiceCollection services, RateLimitOptions options)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(PerTenant, context =>
            {
                if (options.PermitsPerSecond <= 0)
                {
                    return RateLimitPartition.GetNoLimiter(Guid.Empty);
                }

                // The admin key shares the empty id, which no tenant has.
                var partition = context.Items[TenantCaller.ItemKey] is TenantCaller caller ? caller.TenantId : Guid.Empty;
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(1, options.Burst),
                    TokensPerPeriod = Math.Max(1, options.PermitsPerSecond / 10),
                    ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await ApiErrors.RateLimited(retryAfter).ExecuteAsync(context.HttpContext);
            };
        });
    }
}

using System.Security.Cryptography;
using System.Text;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Metrics;

/// <summary>Who may scrape <c>/metrics</c>, bound from the <c>Metrics</c> section.</summary>
internal sealed class MetricsOptions
{
    /// <summary>
    /// When set, a scrape must send <c>Authorization: Bearer &lt;key&gt;</c> (Prometheus' <c>authorization</c>
    /// setting); unset, <c>/metrics</c> is open, for a scraper on a private network.
    /// </summary>
    public string? Key { get; set; }
}

/// <summary>The Prometheus scrape of every <c>Capacity.*</c> meter (<see cref="MetricsCollector"/>).</summary>
internal static class MetricsApi
{
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder app) =>
        app.MapGet("/metrics", Scrape)
            .RequireAccess(Access.Anonymous)
            .WithTags("Operations")
            .WithSummary("Prometheus metrics")
            .WithDescription(
                "Requests by route and status, commands (holds by outcome), batch sizes, commit latency, queue depth, active holds, expiry lag, refused credentials by reason. "
                + "With `Metrics:Key` set, a scrape sends `Authorization: Bearer <key>` (401 otherwise).");

    private static Results<ContentHttpResult, ProblemHttpResult> Scrape(HttpContext context, MetricsCollector collector, MetricsOptions options)
    {
        if (options.Key is { Length: > 0 } key && !Presents(context.Request.Headers.Authorization.ToString(), key))
        {
            return ApiErrors.Unauthorized("/metrics needs Authorization: Bearer <Metrics:Key>.");
        }

        return TypedResults.Text(collector.Scrape(), "text/plain; version=0.0.4; charset=utf-8");
    }

    /// <summary>Compared in constant time, so the answer's timing says nothing about the key.</summary>
    private static bool Presents(string header, string key) =>
        header.StartsWith("Bearer ", StringComparison.Ordinal)
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

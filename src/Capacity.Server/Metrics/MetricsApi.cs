using Capacity.Server.Http;

namespace Capacity.Server.Metrics;

/// <summary>The Prometheus scrape of every <c>Capacity.*</c> meter (<see cref="MetricsCollector"/>).</summary>
internal static class MetricsApi
{
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder app) =>
        app.MapGet("/metrics", (MetricsCollector collector) => TypedResults.Text(collector.Scrape(), "text/plain; version=0.0.4; charset=utf-8"))
            .RequireAccess(Access.Anonymous)
            .WithTags("Operations")
            .WithSummary("Prometheus metrics")
            .WithDescription("Requests by route and status, commands (holds by outcome), batch sizes, commit latency, queue depth, active holds, expiry lag, refused credentials by reason.");
}

using System.Reflection;
using Capacity.Server.Http;

namespace Capacity.Server.Docs;

/// <summary>Where to go from the service's root: relative links, so they hold behind any proxy.</summary>
internal sealed record IndexLinks(string Dashboard, string Docs, string Openapi, string Problems, string Health, string Ready, string Metrics);

internal sealed record IndexResponse(string Service, string Version, IndexLinks Links);

/// <summary>
/// <c>GET /</c>: what is running and where its pages are, for whoever opens the bare address. It
/// needs no credentials and says nothing a stranger should not know (no store, no tenant, no key).
/// </summary>
internal static class IndexApi
{
    /// <summary>The build's version (informational: with the commit when the build knew it).</summary>
    public static string Version { get; } =
        typeof(IndexApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private static readonly IndexResponse Index = new("capacity", Version, new IndexLinks(
        Dashboard: "/dashboard/",
        Docs: "/docs",
        Openapi: "/openapi/v1.json",
        Problems: "/problems",
        Health: "/healthz",
        Ready: "/readyz",
        Metrics: "/metrics"));

    public static IEndpointConventionBuilder MapIndex(this IEndpointRouteBuilder app) =>
        app.MapGet("/", () => JsonResults.Ok(Index))
            .RequireAccess(Access.Anonymous)
            .WithTags("Operations")
            .WithSummary("Index")
            .WithDescription("The version and links to the dashboard, the API docs, the OpenAPI document, the error pages, health, readiness and metrics. No credentials needed.");
}

using Capacity.Engine;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Health;

internal sealed record HealthResponse(string Status);

/// <summary>Liveness (the process answers) and readiness (the database answers and its schema is current).</summary>
internal static class HealthApi
{
    private static readonly string[] Probe = [HttpMethods.Get, HttpMethods.Head];

    public static RouteGroupBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").RequireAccess(Access.Anonymous).WithTags("Health");
        // HEAD too: load balancers and uptime checkers probe with it (Kestrel sends the headers alone).
        group.MapMethods("/healthz", Probe, () => JsonResults.Ok(new HealthResponse("ok")))
            .WithSummary("Liveness").WithDescription("The process answers.");
        group.MapMethods("/readyz", Probe, Ready)
            .WithSummary("Readiness").WithDescription("The database answers within 2 s and its schema is current; 503 otherwise.")
            .ProducesProblem(503);
        return group;
    }

    private static async Task<Results<JsonOk<HealthResponse>, ProblemHttpResult>> Ready(IReadStore store, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            if (await store.IsReadyAsync(timeout.Token))
            {
                return JsonResults.Ok(new HealthResponse("ready"));
            }

            return ApiErrors.ServiceUnavailable("The database schema is not current.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return ApiErrors.ServiceUnavailable("The database does not answer.");
        }
    }
}

using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Admin;

internal sealed record CreateTenantRequest
{
    public required string Name { get; init; }
}

/// <summary><c>api_key</c> is shown once, here; a replay of the request shows null, because only its hash is kept.</summary>
internal sealed record TenantKeyResponse(Guid TenantId, string Name, string? ApiKey);

internal sealed record VerifyResponse(bool Ok, int Capacities, int LiveReservations, string[] Violations);

/// <summary>Operator routes, for the admin key only.</summary>
internal static class AdminApi
{
    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin").Secured(Access.Admin, "Admin");
        group.MapPost("/tenants", CreateTenant).Body<CreateTenantRequest>().Doc(
            "Create a tenant", "Answers its first API key, once: only its hash is stored (a replay answers `api_key` null).", 400, 409, 413, 422);
        group.MapPost("/tenants/{id}/keys", IssueKey).Doc("Issue another API key", "For rotation: old keys keep working.", 400, 404, 409, 422);
        group.MapGet("/verify", Verify).Doc(
            "Audit every counter", "Recomputes each counter from the ledger and from the live holds, and checks every pool's limit.");
        return group;
    }

    private static async Task<Results<JsonCreated<TenantKeyResponse>, ProblemHttpResult, StoredResult>> CreateTenant(
        JsonRequest<CreateTenantRequest> body, HttpContext context, Writes writes)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        var key = Authenticator.NewKey(Authenticator.TenantKeyPrefix);
        var command = new CreateTenant(Guid.CreateVersion7(), body.Value.Name, Authenticator.Hash(key));
        return await writes.ExecuteAsync(context, Guid.Empty, body.Bytes, command, o => Answer(o, key), o => Answer(o, null));
    }

    private static async Task<Results<JsonCreated<TenantKeyResponse>, ProblemHttpResult, StoredResult>> IssueKey(
        string id, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var tenantId))
        {
            return ApiErrors.NotFound($"Tenant {id} was not found.");
        }

        var key = Authenticator.NewKey(Authenticator.TenantKeyPrefix);
        var command = new AddApiKey(tenantId, Authenticator.Hash(key));
        return await writes.ExecuteAsync(context, Guid.Empty, body.Bytes, command, o => Answer(o, key), o => Answer(o, null));
    }

    private static Results<JsonCreated<TenantKeyResponse>, ProblemHttpResult> Answer(Outcome o, string? key) =>
        o.Succeeded ? JsonResults.Created($"/admin/tenants/{o.Tenant!.Id}", new TenantKeyResponse(o.Tenant.Id, o.Tenant.Name, key)) : ApiErrors.FromOutcome(o);

    private static async Task<JsonOk<VerifyResponse>> Verify(IReadStore store, TimeProvider time, CancellationToken ct)
    {
        var report = await Audit.RunAsync(store, ct, time.GetUtcNow());
        return JsonResults.Ok(new VerifyResponse(report.Ok, report.Capacities, report.LiveReservations, [.. report.Violations]));
    }
}

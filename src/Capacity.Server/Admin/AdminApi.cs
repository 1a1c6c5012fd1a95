using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Admin;

/// <summary>Operator routes, for the admin key only: tenants, their keys, and the audit.</summary>
internal static class AdminApi
{
    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin").Secured(Access.Admin, "Admin");
        group.MapPost("/tenants", CreateTenant).Body<CreateTenantRequest>().Doc(
            "Create a tenant",
            "Answers its first API key, once: only its hash is stored (a replay answers `api_key` null). `key` (optional: `name`, `scope`, `expires_at`) "
            + "says what that key is, as for `POST /admin/tenants/{id}/keys`; without it, a write key that never expires.",
            400, 409, 413, 422);
        group.MapGet("/tenants", ListTenants).Doc(
            "List the tenants",
            "Every tenant, disabled ones included, oldest first (with `after`/`limit` a page and `next_after`, as every list): its id, name, when it was created, "
            + "and `disabled_at` while it is disabled. How an operator finds a tenant whose id was not kept.");
        group.MapGet("/tenants/{id}/keys", ListKeys).Doc(
            "List a tenant's keys",
            "Every key, revoked and expired ones included, oldest first (with `after`/`limit` a page and `next_after`, as every list): its id, its first 12 characters (`prefix`, null for a key issued before they were kept), "
            + "name, scope, status, and when it was created, last used (updated about once a minute), expires and was revoked. Never a key's text or hash.",
            404);
        group.MapPost("/tenants/{id}/keys", IssueKey).OptionalBody<IssueKeyRequest>().Doc(
            "Issue another API key",
            "For rotation, or for a key of another scope: the other keys keep working. Optional `name`, `scope` (`read`: GET routes and streams only; `write`, the default; "
            + "`elevated`: write and what is reserved to a box office) and `expires_at` (RFC 3339 with an offset, in the future). The key's text is answered once, in `api_key`. A tenant has at most "
            + "`Capacity:Quotas:MaxKeysPerTenant` usable keys (409 TOO_MANY_KEYS).",
            400, 404, 409, 413, 422);
        group.MapDelete("/tenants/{id}/keys/{keyId}", RevokeKey).Doc(
            "Revoke an API key",
            "At once on the node that answers, within 2 seconds on every other node: the key is refused with 401 from then on, and its open live streams end. Revoking a revoked key answers 200 "
            + "and changes nothing. The key stays in the list, with `revoked_at`.",
            400, 404, 422);
        group.MapPost("/tenants/{id}/disable", Disable).Doc(
            "Disable a tenant",
            "Every key and JWT of the tenant is refused with 403 TENANT_DISABLED, at once on the node that answers and within 2 seconds on the others, and its open live streams end; "
            + "nothing of the tenant is deleted, and keys may still be issued and revoked. Disabling a disabled tenant answers 200 and changes nothing.",
            400, 404, 422);
        group.MapPost("/tenants/{id}/enable", Enable).Doc(
            "Enable a tenant", "Its keys and JWTs work again (revoked and expired keys stay refused). Enabling an enabled tenant answers 200 and changes nothing.",
            400, 404, 422);
        group.MapGet("/verify", Verify).Doc(
            "Audit every counter", "Recomputes each counter from the ledger and from the live holds, checks every pool's limit, and that each event's ledger is numbered 1, 2, 3… without a gap.");
        return group;
    }

    private static async Task<Results<JsonCreated<TenantKeyResponse>, ProblemHttpResult, StoredResult>> CreateTenant(
        JsonRequest<CreateTenantRequest> body, HttpContext context, Writes writes, TimeProvider time)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        if (NewKey(body.Value.Key ?? new IssueKeyRequest()) is not ({ } key, { } text))
        {
            return ApiErrors.Validation("key.scope", ScopeRule);
        }

        var command = new CreateTenant(TimeOrderedIds.New(), body.Value.Name, key);
        return await writes.ExecuteAsync(context, Guid.Empty, body.Bytes, command, o => Issued(o, text, time), o => Issued(o, null, time));
    }

    private static async Task<Results<JsonOk<TenantListResponse>, ProblemHttpResult>> ListTenants(
        [FromQuery] string? after, [FromQuery] string? limit, IReadStore store, ServerOptions options, CancellationToken ct)
    {
        var tenants = await store.GetTenantsAsync(ct);
        return ListPages.TryCut(tenants, t => t.Id.ToString(), after, limit, options, "tenant", out var page, out var more) is { } bad
            ? bad
            : JsonResults.Ok(new TenantListResponse([.. page.Select(TenantResponse.From)], more ? page[^1].Id : null));
    }

    private static async Task<Results<JsonOk<ApiKeyListResponse>, ProblemHttpResult>> ListKeys(
        string id, [FromQuery] string? after, [FromQuery] string? limit, IReadStore store, ServerOptions options, TimeProvider time, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId) || await store.GetTenantAsync(tenantId, ct) is null)
        {
            return TenantNotFound(id);
        }

        // Revoked keys stay listed, so the list grows with rotations: it pages as every list does.
        var keys = await store.GetApiKeysAsync(tenantId, ct);
        var now = time.GetUtcNow();
        return ListPages.TryCut(keys, k => k.Id.ToString(), after, limit, options, $"key of tenant {id}", out var page, out var more) is { } bad
            ? bad
            : JsonResults.Ok(new ApiKeyListResponse(tenantId, [.. page.Select(k => ApiKeyResponse.From(k, now))], more ? page[^1].Id : null));
    }

    private static async Task<Results<JsonCreated<TenantKeyResponse>, ProblemHttpResult, StoredResult>> IssueKey(
        string id, RawRequest body, HttpContext context, Writes writes, TimeProvider time, TenantQuotas quotas)
    {
        // No body, or {}, issues a write key that never expires, as this route always did.
        var (request, problem) = body.Unread is { } unread ? (null, unread)
            : body.IsEmpty ? (new IssueKeyRequest(), null)
            : JsonRequest<IssueKeyRequest>.Parse(context, body.Bytes);
        if (problem is not null)
        {
            return problem;
        }

        if (!Guid.TryParse(id, out var tenantId))
        {
            return TenantNotFound(id);
        }

        if (NewKey(request!) is not ({ } key, { } text))
        {
            return ApiErrors.Validation("scope", ScopeRule);
        }

        // The bound is decided in the batch, on the tenant's keys there: keys issued at once cannot pass
        // it, and the issue that reached it, retried with its key, replays its answer as any write does
        // (without the secret, as every replay of an issue is).
        var command = new AddApiKey(tenantId, key, quotas.Options.MaxKeysPerTenant);
        return await writes.ExecuteAsync(context, Guid.Empty, body.Bytes, command, o => Issued(o, text, time), o => Issued(o, null, time));
    }

    private static async Task<Results<JsonOk<ApiKeyResponse>, ProblemHttpResult, StoredResult>> RevokeKey(
        string id, string keyId, RawRequest body, HttpContext context, Writes writes, Authenticator authenticator, TimeProvider time)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var tenantId))
        {
            return TenantNotFound(id);
        }

        if (!Guid.TryParse(keyId, out var key))
        {
            return ApiErrors.NotFound($"API key {keyId} of tenant {id} was not found.");
        }

        var answer = await writes.ExecuteAsync<JsonOk<ApiKeyResponse>>(context, Guid.Empty, body.Bytes, new RevokeApiKey(tenantId, key), o => o.Succeeded
            ? JsonResults.Ok(ApiKeyResponse.From(o.Key!, time.GetUtcNow()))
            : ApiErrors.FromOutcome(o));

        // Once committed (or found committed, on a replay): every key this node remembers is read again
        // before its next use, so the revoked one is refused from the next request on.
        authenticator.CredentialsChanged();
        return answer;
    }

    private static Task<Results<JsonOk<TenantResponse>, ProblemHttpResult, StoredResult>> Disable(
        string id, RawRequest body, HttpContext context, Writes writes, Authenticator authenticator) =>
        SetDisabled(id, true, body, context, writes, authenticator);

    private static Task<Results<JsonOk<TenantResponse>, ProblemHttpResult, StoredResult>> Enable(
        string id, RawRequest body, HttpContext context, Writes writes, Authenticator authenticator) =>
        SetDisabled(id, false, body, context, writes, authenticator);

    private static async Task<Results<JsonOk<TenantResponse>, ProblemHttpResult, StoredResult>> SetDisabled(
        string id, bool disabled, RawRequest body, HttpContext context, Writes writes, Authenticator authenticator)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var tenantId))
        {
            return TenantNotFound(id);
        }

        var answer = await writes.ExecuteAsync<JsonOk<TenantResponse>>(context, Guid.Empty, body.Bytes, new SetTenantDisabled(tenantId, disabled), o => o.Succeeded
            ? JsonResults.Ok(TenantResponse.From(o.Tenant!))
            : ApiErrors.FromOutcome(o));
        authenticator.CredentialsChanged();
        return answer;
    }

    private const string ScopeRule = "scope must be read, write or elevated.";

    /// <summary>
    /// A new key's text and what the core is asked to keep of it (id, hash, first characters, name, scope,
    /// expiry); null when the scope is not one of ours. The rest of the request is the core's to judge.
    /// </summary>
    private static (NewApiKey Key, string Text)? NewKey(IssueKeyRequest request)
    {
        var scope = KeyScope.Write;
        if (request.Scope is { } name && !Authenticator.TryParseScope(name, out scope))
        {
            return null;
        }

        // expires_at is already to the millisecond (InstantConverter), as the stores keep it.
        var text = Authenticator.NewKey(Authenticator.TenantKeyPrefix);
        return (new NewApiKey(TimeOrderedIds.New(), Authenticator.Hash(text), Authenticator.ShownPrefix(text), request.Name, scope, request.ExpiresAt), text);
    }

    private static Results<JsonCreated<TenantKeyResponse>, ProblemHttpResult> Issued(Outcome o, string? text, TimeProvider time) =>
        o.Succeeded
            ? JsonResults.Created($"/admin/tenants/{o.Tenant!.Id}/keys", new TenantKeyResponse(o.Tenant.Id, o.Tenant.Name, text, ApiKeyResponse.From(o.Key!, time.GetUtcNow())))
            : ApiErrors.FromOutcome(o);

    private static ProblemHttpResult TenantNotFound(string id) => ApiErrors.NotFound($"Tenant {id} was not found.");

    private static async Task<JsonOk<VerifyResponse>> Verify(IReadStore store, TimeProvider time, CancellationToken ct)
    {
        var report = await Audit.RunAsync(store, ct, time.GetUtcNow());
        AuditCollection.After(report.LiveReservations);
        return JsonResults.Ok(new VerifyResponse(report.Ok, report.Capacities, report.LiveReservations, [.. report.Violations]));
    }
}

using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Http;

namespace Capacity.Server.Admin;

/// <summary><c>POST /admin/tenants</c>: the tenant's name and, optionally, what its first key is (a write key that never expires otherwise).</summary>
internal sealed record CreateTenantRequest
{
    public required string Name { get; init; }

    public IssueKeyRequest? Key { get; init; }
}

/// <summary><c>POST /admin/tenants/{id}/keys</c>'s optional body, and the first key's in a tenant's creation.</summary>
internal sealed record IssueKeyRequest
{
    /// <summary>What the key is for, as a person will look for it in the list (&quot;box office&quot;, &quot;dashboard&quot;).</summary>
    public string? Name { get; init; }

    /// <summary><c>read</c>, <c>write</c> (the default) or <c>elevated</c>.</summary>
    public string? Scope { get; init; }

    /// <summary>When the key stops working by itself; absent or null: never (until revoked).</summary>
    [JsonConverter(typeof(InstantConverter))]
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>
/// A key as a list shows it: never its text or its hash, only its first characters (<c>prefix</c>, null
/// for a key issued before they were kept). <c>status</c> is <c>active</c>, <c>expired</c> (past
/// <c>expires_at</c>) or <c>revoked</c>. <c>last_used_at</c> is updated about once a minute.
/// </summary>
internal sealed record ApiKeyResponse(
    Guid Id,
    Guid TenantId,
    string? Prefix,
    string? Name,
    [property: OneOf(typeof(KeyScope))] string Scope,
    [property: OneOf("active", "expired", "revoked")] string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt)
{
    public static ApiKeyResponse From(ApiKey k, DateTimeOffset now) => new(
        k.Id, k.TenantId, k.Prefix, k.Name, ScopeName(k.Scope),
        k.RevokedAt is not null ? "revoked" : k.IsUsableAt(now) ? "active" : "expired",
        k.CreatedAt, k.LastUsedAt, k.ExpiresAt, k.RevokedAt);

    public static string ScopeName(KeyScope scope) => scope switch
    {
        KeyScope.Read => "read",
        KeyScope.Elevated => "elevated",
        _ => "write",
    };
}

/// <summary>
/// A tenant and a key just issued for it. <c>api_key</c> is the key's text, shown once, here; a replay of
/// the request shows null, because only its hash is kept. <c>name</c> is the tenant's; the key's is in <c>key</c>.
/// </summary>
internal sealed record TenantKeyResponse(Guid TenantId, string Name, string? ApiKey, ApiKeyResponse Key);

internal sealed record ApiKeyListResponse(Guid TenantId, ApiKeyResponse[] Keys, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

internal sealed record TenantListResponse(TenantResponse[] Tenants, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

/// <summary>A tenant; <c>disabled_at</c> is set while it is disabled.</summary>
internal sealed record TenantResponse(Guid TenantId, string Name, DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt)
{
    public static TenantResponse From(Tenant t) => new(t.Id, t.Name, t.CreatedAt, t.DisabledAt);
}

internal sealed record VerifyResponse(bool Ok, int Capacities, int LiveReservations, string[] Violations);

using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>What a tenant credential may do; each scope can do all the one before it can.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ApiKeyScope>))]
public enum ApiKeyScope
{
    /// <summary>Reads (GET routes, the availability check) and live streams; any change is 403 <c>FORBIDDEN</c>.</summary>
    [JsonStringEnumMemberName("read")]
    Read,

    /// <summary>Everything a tenant does through the API. The default.</summary>
    [JsonStringEnumMemberName("write")]
    Write,

    /// <summary>Write, and what is reserved to a box office: confirming an expired hold after all (<see cref="ExpiredHoldAction.Reclaim"/>).</summary>
    [JsonStringEnumMemberName("elevated")]
    Elevated,
}

/// <summary>Whether a key works.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ApiKeyStatus>))]
public enum ApiKeyStatus
{
    /// <summary>It authenticates.</summary>
    [JsonStringEnumMemberName("active")]
    Active,

    /// <summary>Its <see cref="ApiKeyInfo.ExpiresAt"/> has passed.</summary>
    [JsonStringEnumMemberName("expired")]
    Expired,

    /// <summary>It was revoked (<see cref="CapacityClient.RevokeKeyAsync"/>).</summary>
    [JsonStringEnumMemberName("revoked")]
    Revoked,
}

/// <summary>
/// The credential a client calls with, as <c>GET /credential</c> tells it: whose it is and what it may do, for an
/// API key and a JWT alike. The API says nothing more of it (not a key's name or expiry: the admin routes list those).
/// </summary>
/// <param name="TenantId">The tenant it acts for.</param>
/// <param name="Scope">What it may do, so that a client can offer only that.</param>
public sealed record CredentialInfo(Guid TenantId, ApiKeyScope Scope);

/// <summary>A tenant's API key as the server lists it: never its text or its hash.</summary>
/// <param name="Id">What the admin routes name it by.</param>
/// <param name="TenantId">Its tenant.</param>
/// <param name="Prefix">Its first 12 characters, to recognise it by; null for a key issued before the server kept them.</param>
/// <param name="Name">What it is for, when it was given one.</param>
/// <param name="Scope">What it may do.</param>
/// <param name="Status">Whether it works now.</param>
/// <param name="CreatedAt">When it was issued.</param>
/// <param name="LastUsedAt">When it was last seen in use, to about a minute; null when never.</param>
/// <param name="ExpiresAt">When it stops working by itself; null when never.</param>
/// <param name="RevokedAt">When it was revoked; null when it was not.</param>
public sealed record ApiKeyInfo(
    Guid Id,
    Guid TenantId,
    string? Prefix,
    string? Name,
    ApiKeyScope Scope,
    ApiKeyStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt);

/// <summary>A tenant and one of its API keys, just issued.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Name">The tenant's name.</param>
/// <param name="ApiKey">
/// The new key, shown this once. A replay for a repeated Idempotency-Key has none, because the server keeps only the
/// key's hash; the calls that issue keys throw <see cref="SecretNotShownException"/> for such a replay instead of returning it.
/// </param>
/// <param name="Key">What the key is (its id, scope, expiry); null from a server that predates key management.</param>
public sealed record TenantKey(Guid TenantId, string Name, string? ApiKey, ApiKeyInfo? Key = null);

/// <summary>
/// What a key to issue is: every field optional. Without any, a write key that never expires, as
/// <see cref="CapacityClient.IssueKeyAsync(Guid, string?, CancellationToken)"/> issues.
/// </summary>
public sealed record IssueKeyRequest
{
    /// <summary>What it is for, as a person will look for it in the list (&quot;box office&quot;).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    /// <summary>What it may do; the server's default, <see cref="ApiKeyScope.Write"/>, when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ApiKeyScope? Scope { get; init; }

    /// <summary>When it stops working by itself, in the future; never when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>The body of <c>POST /admin/tenants</c>.</summary>
public sealed record CreateTenantRequest
{
    /// <summary>The tenant's name.</summary>
    public required string Name { get; init; }

    /// <summary>What its first key is; a write key that never expires when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IssueKeyRequest? Key { get; init; }
}

/// <summary>A tenant's keys, oldest first, revoked and expired ones included: every key, or one page of them.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Keys">Its keys (of this page).</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page (a key's id); null on the last page, and on a list asked for whole.</param>
public sealed record ApiKeyList(
    Guid TenantId,
    IReadOnlyList<ApiKeyInfo> Keys,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

/// <summary>A page of tenants (<see cref="CapacityClient.ListTenantsAsync(Guid?, int?, CancellationToken)"/>), oldest first.</summary>
/// <param name="Tenants">The tenants of this page, disabled ones included.</param>
/// <param name="NextAfter">The last tenant of this page when more follow: pass it as <c>after</c> for the next; null on the last page.</param>
public sealed record TenantList(
    IReadOnlyList<TenantInfo> Tenants,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

/// <summary>A tenant, as listing, disabling or enabling it answers.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Name">Its name.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="DisabledAt">Since when it is disabled (every key and JWT of it refused); null while it is enabled.</param>
public sealed record TenantInfo(Guid TenantId, string Name, DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt);

/// <summary>The ledger audit: every counter checked against the ledger and the live holds.</summary>
/// <param name="Ok">True when nothing is wrong.</param>
/// <param name="Capacities">How many capacities were checked.</param>
/// <param name="LiveReservations">How many active holds were checked.</param>
/// <param name="Violations">One line per inconsistency found.</param>
public sealed record VerifyReport(bool Ok, int Capacities, int LiveReservations, IReadOnlyList<string> Violations);

/// <summary>The answer of <c>/healthz</c> ("ok") or <c>/readyz</c> ("ready").</summary>
/// <param name="Status">The state reported.</param>
public sealed record HealthStatus(string Status);

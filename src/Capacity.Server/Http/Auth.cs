using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Capacity.Engine;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Capacity.Server.Http;

/// <summary>Who may call a route group.</summary>
internal enum Access
{
    Anonymous,
    Tenant,
    Admin,
}

/// <summary>The authenticated tenant, bound as a handler parameter on tenant routes.</summary>
internal sealed record TenantCaller(Guid TenantId)
{
    internal const string ItemKey = "capacity.tenant";

    public static ValueTask<TenantCaller?> BindAsync(HttpContext context, ParameterInfo parameter) =>
        ValueTask.FromResult(context.Items[ItemKey] as TenantCaller);
}

/// <summary>Credentials, bound from the <c>Auth</c> configuration section.</summary>
internal sealed class AuthOptions
{
    /// <summary>The admin key. When unset, one is generated on first start and kept in the data directory.</summary>
    public string? AdminKey { get; set; }

    /// <summary>HS256 key for tenant JWTs, at least 32 bytes. When unset, JWTs are refused.</summary>
    public string? JwtSigningKey { get; set; }
}

/// <summary>
/// Resolves a bearer token to a tenant or the admin. API keys are looked up by their SHA-256 hash,
/// the only form the store keeps, and compared in constant time. A tenant key that resolved is
/// remembered by its text, so the store is asked once per key and the hash is computed once per key,
/// not once per request (the hash's share of a request's CPU was measured under load with LoadGen;
/// see docs/performance.md).
/// Tokens are never logged.
/// </summary>
internal sealed class Authenticator
{
    public const string TenantKeyPrefix = "cap_";
    public const string AdminKeyPrefix = "capadmin_";

    /// <summary>Longer bearer tokens are refused unread: no key or JWT of ours comes near it.</summary>
    private const int MaxTokenLength = 4096;

    private readonly IReadStore _store;
    private readonly byte[] _adminHash;
    private readonly JsonWebTokenHandler _jwt = new();
    private readonly TokenValidationParameters? _jwtParameters;
    private readonly ConcurrentDictionary<string, Guid> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Guid>.AlternateLookup<ReadOnlySpan<char>> _resolved;
    private readonly ConcurrentDictionary<Guid, bool> _knownTenants = new();

    public Authenticator(IReadStore store, string adminKey, string? jwtSigningKey)
    {
        _store = store;
        _adminHash = Hash(adminKey);
        _resolved = _keys.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!string.IsNullOrEmpty(jwtSigningKey))
        {
            _jwtParameters = new TokenValidationParameters
            {
                ValidateIssuer = false,
                ValidateAudience = false,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwtSigningKey)),
                ClockSkew = TimeSpan.FromSeconds(30),
            };
        }
    }

    /// <summary>How many tenant keys this process has resolved and remembers.</summary>
    internal int RememberedKeys => _keys.Count;

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static string NewKey(string prefix) => prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public enum Kind
    {
        None,
        Tenant,
        Admin,
    }

    public ValueTask<(Kind Kind, Guid TenantId)> AuthenticateAsync(string? authorization, CancellationToken ct)
    {
        var header = authorization.AsSpan();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return ValueTask.FromResult((Kind.None, Guid.Empty));
        }

        var token = header[7..].Trim();
        if (token.Length is 0 or > MaxTokenLength)
        {
            return ValueTask.FromResult((Kind.None, Guid.Empty));
        }

        // The common case: a tenant key this process has resolved before. It is found by its text,
        // without copying it, encoding it or hashing it.
        if (_resolved.TryGetValue(token, out var known))
        {
            return ValueTask.FromResult((Kind.Tenant, known));
        }

        return token.Count('.') == 2 ? ValidateJwtAsync(token.ToString()) : ResolveKeyAsync(token.ToString(), ct);
    }

    private async ValueTask<(Kind, Guid)> ResolveKeyAsync(string token, CancellationToken ct)
    {
        var hash = Hash(token);
        if (CryptographicOperations.FixedTimeEquals(hash, _adminHash))
        {
            return (Kind.Admin, Guid.Empty);
        }

        var stored = await _store.FindApiKeyAsync(hash, ct).ConfigureAwait(false);
        if (stored is null || !CryptographicOperations.FixedTimeEquals(stored.KeyHash, hash))
        {
            return (Kind.None, Guid.Empty);
        }

        // Only keys the store knows are remembered, so the cache is bounded by the keys issued
        // (none is ever revoked), and a stream of made-up keys cannot grow it.
        _keys[token] = stored.TenantId;
        return (Kind.Tenant, stored.TenantId);
    }

    private async ValueTask<(Kind, Guid)> ValidateJwtAsync(string token)
    {
        if (_jwtParameters is null)
        {
            return (Kind.None, Guid.Empty);
        }

        var result = await _jwt.ValidateTokenAsync(token, _jwtParameters).ConfigureAwait(false);
        if (!result.IsValid
            || !result.Claims.TryGetValue("tenant_id", out var claim)
            || claim is not string text
            || !Guid.TryParse(text, out var tenantId))
        {
            return (Kind.None, Guid.Empty);
        }

        if (!_knownTenants.ContainsKey(tenantId))
        {
            if (!await _store.TenantExistsAsync(tenantId, CancellationToken.None).ConfigureAwait(false))
            {
                return (Kind.None, Guid.Empty);
            }

            _knownTenants[tenantId] = true;
        }

        return (Kind.Tenant, tenantId);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>
/// Runs after routing, so it knows the matched route's <see cref="Access"/>. Unauthenticated is 401;
/// the wrong kind of credential (an admin key on a tenant route, or the reverse) is 403.
/// </summary>
internal sealed class AuthMiddleware(RequestDelegate next, Authenticator authenticator, ILogger<AuthMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var access = context.GetEndpoint()?.Metadata.GetMetadata<AccessMetadata>()?.Access ?? Access.Anonymous;
        if (access == Access.Anonymous)
        {
            await next(context);
            return;
        }

        var (kind, tenantId) = await authenticator.AuthenticateAsync(context.Request.Headers.Authorization, context.RequestAborted);
        if (kind == Authenticator.Kind.None)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ApiErrors.Unauthorized("Send Authorization: Bearer <api key or JWT>.").ExecuteAsync(context);
            return;
        }

        if (access == Access.Tenant && kind != Authenticator.Kind.Tenant)
        {
            await ApiErrors.Forbidden("The admin key cannot use tenant routes; use a tenant API key.").ExecuteAsync(context);
            return;
        }

        if (access == Access.Admin && kind != Authenticator.Kind.Admin)
        {
            await ApiErrors.Forbidden("Tenant credentials cannot use admin routes.").ExecuteAsync(context);
            return;
        }

        if (kind != Authenticator.Kind.Tenant)
        {
            await next(context);
            return;
        }

        context.Items[TenantCaller.ItemKey] = new TenantCaller(tenantId);

        // Every log line of the request carries the tenant (the request id comes from the host's scope).
        using (logger.BeginScope(new TenantScope(tenantId)))
        {
            await next(context);
        }
    }
}

internal sealed record AccessMetadata(Access Access);

internal static class AccessExtensions
{
    public static TBuilder RequireAccess<TBuilder>(this TBuilder builder, Access access)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AccessMetadata(access));
}

/// <summary>A logging scope that renders as <c>TenantId=…</c> and exposes it as a structured field.</summary>
internal sealed class TenantScope(Guid tenantId) : IReadOnlyList<KeyValuePair<string, object>>
{
    public KeyValuePair<string, object> this[int index] => index == 0 ? new("TenantId", tenantId) : throw new ArgumentOutOfRangeException(nameof(index));

    public int Count => 1;

    public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
    {
        yield return this[0];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"TenantId={tenantId}";
}

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

    /// <summary>Who the caller is, or, when <see cref="Kind"/> is <see cref="Kind.None"/>, why not.</summary>
    public readonly record struct Credential(Kind Kind, Guid TenantId, Refusal Refusal = Refusal.None)
    {
        public static Credential Refused(Refusal refusal) => new(Kind.None, Guid.Empty, refusal);
    }

    /// <summary>The kind and the tenant alone, as <see cref="IdentifyAsync"/> finds them.</summary>
    public async ValueTask<(Kind Kind, Guid TenantId)> AuthenticateAsync(string? authorization, CancellationToken ct)
    {
        var credential = await IdentifyAsync(authorization, ct).ConfigureAwait(false);
        return (credential.Kind, credential.TenantId);
    }

    public ValueTask<Credential> IdentifyAsync(string? authorization, CancellationToken ct)
    {
        var header = authorization.AsSpan();
        if (header.IsWhiteSpace())
        {
            return ValueTask.FromResult(Credential.Refused(Refusal.NoCredential));
        }

        // "Bearer" alone is a bearer credential without its token: malformed, not another scheme.
        if (!header.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase) || (header.Length > 6 && header[6] != ' '))
        {
            return ValueTask.FromResult(Credential.Refused(Refusal.NotBearer));
        }

        var token = header[6..].Trim();
        if (token.Length is 0 or > MaxTokenLength)
        {
            return ValueTask.FromResult(Credential.Refused(Refusal.Malformed));
        }

        // The common case: a tenant key this process has resolved before. It is found by its text,
        // without copying it, encoding it or hashing it.
        if (_resolved.TryGetValue(token, out var known))
        {
            return ValueTask.FromResult(new Credential(Kind.Tenant, known));
        }

        return token.Count('.') == 2 ? ValidateJwtAsync(token.ToString()) : ResolveKeyAsync(token.ToString(), ct);
    }

    private async ValueTask<Credential> ResolveKeyAsync(string token, CancellationToken ct)
    {
        var hash = Hash(token);
        if (CryptographicOperations.FixedTimeEquals(hash, _adminHash))
        {
            return new Credential(Kind.Admin, Guid.Empty);
        }

        // One refusal for every key the store does not know, whatever it looks like: the answer must
        // not tell a guessed key of one tenant from any other made-up string.
        var stored = await _store.FindApiKeyAsync(hash, ct).ConfigureAwait(false);
        if (stored is null || !CryptographicOperations.FixedTimeEquals(stored.KeyHash, hash))
        {
            return Credential.Refused(Refusal.UnknownKey);
        }

        // Only keys the store knows are remembered, so the cache is bounded by the keys issued
        // (none is ever revoked), and a stream of made-up keys cannot grow it.
        _keys[token] = stored.TenantId;
        return new Credential(Kind.Tenant, stored.TenantId);
    }

    private async ValueTask<Credential> ValidateJwtAsync(string token)
    {
        if (_jwtParameters is null)
        {
            return Credential.Refused(Refusal.JwtNotAccepted);
        }

        var result = await _jwt.ValidateTokenAsync(token, _jwtParameters).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return Credential.Refused(result.Exception switch
            {
                SecurityTokenExpiredException => Refusal.Expired,
                SecurityTokenNotYetValidException => Refusal.NotYetValid,
                SecurityTokenNoExpirationException => Refusal.NoExpiry,
                SecurityTokenInvalidAlgorithmException => Refusal.WrongAlgorithm,
                // IdentityModel reports another algorithm (HS384, none) as a bad signature too.
                SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException =>
                    Algorithm(token) == SecurityAlgorithms.HmacSha256 ? Refusal.WrongSignature : Refusal.WrongAlgorithm,
                _ => Refusal.Malformed,
            });
        }

        if (!result.Claims.TryGetValue("tenant_id", out var claim) || claim is not string text || !Guid.TryParse(text, out var tenantId))
        {
            return Credential.Refused(Refusal.NoTenant);
        }

        if (!_knownTenants.ContainsKey(tenantId))
        {
            // Only a holder of the signing key gets this far, so saying the tenant is unknown tells
            // nobody else anything.
            if (!await _store.TenantExistsAsync(tenantId, CancellationToken.None).ConfigureAwait(false))
            {
                return Credential.Refused(Refusal.UnknownTenant);
            }

            _knownTenants[tenantId] = true;
        }

        return new Credential(Kind.Tenant, tenantId);
    }

    /// <summary>The algorithm a token's header names, or null when the header cannot be read.</summary>
    private string? Algorithm(string token)
    {
        try
        {
            return _jwt.ReadJsonWebToken(token).Alg;
        }
        catch (ArgumentException)
        {
            return null;
        }
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

        var (kind, tenantId, refusal) = await authenticator.IdentifyAsync(context.Request.Headers.Authorization, context.RequestAborted);
        if (kind == Authenticator.Kind.None)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ApiErrors.Unauthorized(refusal).ExecuteAsync(context);
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

/// <summary>
/// Why a request is not authenticated: the 401's detail says which (<see cref="ApiErrors.Unauthorized(Refusal)"/>),
/// so a client knows whether to send a credential, fix one, or get a fresh token.
/// </summary>
internal enum Refusal
{
    None,

    /// <summary>No Authorization header at all.</summary>
    NoCredential,

    /// <summary>An Authorization header of another scheme (Basic, …).</summary>
    NotBearer,

    /// <summary>An empty or oversized token, or one shaped like a JWT that does not parse.</summary>
    Malformed,

    /// <summary>An API key the store does not know: the same answer whatever it resembles.</summary>
    UnknownKey,

    /// <summary>A JWT, where no signing key is configured.</summary>
    JwtNotAccepted,

    Expired,
    NotYetValid,
    NoExpiry,
    WrongAlgorithm,
    WrongSignature,

    /// <summary>A valid JWT without a tenant_id that is a UUID.</summary>
    NoTenant,

    /// <summary>A valid JWT whose tenant does not exist.</summary>
    UnknownTenant,
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

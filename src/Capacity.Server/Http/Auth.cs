using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Capacity.Core;
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

/// <summary>The authenticated tenant and what its credential may do, bound as a handler parameter on tenant routes.</summary>
internal sealed record TenantCaller(Guid TenantId, KeyScope Scope = KeyScope.Write)
{
    internal const string ItemKey = "capacity.tenant";

    public static ValueTask<TenantCaller?> BindAsync(HttpContext context, ParameterInfo parameter) =>
        ValueTask.FromResult(context.Items[ItemKey] as TenantCaller);

    /// <summary>
    /// The refusal of an operation reserved to a box office (<see cref="KeyScope.Elevated"/>), or null when
    /// this credential may do it. The one check a handler makes itself: whether a request asks for such an
    /// operation is in its body, which the middleware does not read (<see cref="AuthMiddleware"/> checks
    /// the read scope for every route by its method).
    /// </summary>
    public Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? RequireElevated(string what) =>
        Scope >= KeyScope.Elevated ? null : ApiErrors.ScopeTooNarrow($"{what} needs a credential with the elevated scope; this one has the {Scope.ApiName()} scope.");
}

/// <summary>Credentials, bound from the <c>Auth</c> configuration section.</summary>
internal sealed class AuthOptions
{
    /// <summary>The admin key. When unset, one is generated on first start and kept in the data directory.</summary>
    public string? AdminKey { get; set; }

    /// <summary>HS256 key for tenant JWTs, at least 32 bytes. When unset, JWTs are refused.</summary>
    public string? JwtSigningKey { get; set; }

    /// <summary>A JWT whose <c>exp</c> is further than this from now is refused: a token must not outlive a revocation by long.</summary>
    public int MaxJwtLifetimeMinutes { get; set; } = 60;

    /// <summary>Refused credentials per client address per minute before further ones get 429; 0 turns the throttle off.</summary>
    public int FailedAttemptsPerMinute { get; set; } = 60;
}

/// <summary>
/// Resolves a bearer token to a tenant (with its scope) or the admin. API keys are looked up by their
/// SHA-256 hash, the only form the store keeps, and compared in constant time. A tenant key that
/// resolved is remembered by its text with what the store said of it (scope, expiry, revocation,
/// whether its tenant is disabled), so the hash is computed once per key and the store is asked once
/// per key every <see cref="RecheckAfter"/>, not once per request (the hash's share of a request's CPU
/// was measured under load with LoadGen; see docs/performance.md).
/// <para>
/// A revocation, an expiry or a disabled tenant takes effect at once on the node that made the change
/// (<see cref="CredentialsChanged"/> makes every remembered answer stale) and within
/// <see cref="RecheckAfter"/> on every other node: a remembered answer older than that is read again by
/// the first request that finds it so, one request at a time per key, while the others go on with the
/// answer being replaced. A key is used thousands of times a second and read once in two seconds.
/// </para>
/// Tokens are never logged.
/// </summary>
internal sealed class Authenticator
{
    public const string TenantKeyPrefix = "cap_";
    public const string AdminKeyPrefix = "capadmin_";

    /// <summary>How many characters of a key's text are kept and listed: its <c>cap_</c> and 8 of its 43 random ones (48 of 256 bits).</summary>
    public const int ShownPrefixLength = 12;

    /// <summary>Longer bearer tokens are refused unread: no key or JWT of ours comes near it.</summary>
    public const int MaxTokenLength = 4096;

    /// <summary>How long a remembered key or tenant is trusted before the store is asked again.</summary>
    public static readonly TimeSpan RecheckAfter = TimeSpan.FromSeconds(2);

    // A JWT may be this late or early against our clock; IdentityModel allows the same for exp and nbf.
    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    private readonly IReadStore _store;
    private readonly TimeProvider _time;
    private readonly AuthFailures _failures;
    private readonly byte[] _adminHash;
    private readonly TimeSpan _maxJwtLifetime;
    private readonly long _recheckTicks;
    private readonly long _ticksPerSecond;
    private readonly JsonWebTokenHandler _jwt = new();
    private readonly TokenValidationParameters? _jwtParameters;
    private readonly ConcurrentDictionary<string, RememberedKey> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RememberedKey>.AlternateLookup<ReadOnlySpan<char>> _resolved;
    private readonly ConcurrentDictionary<Guid, RememberedTenant> _tenants = new();

    // Bumped when this node revokes a key or disables or enables a tenant: every answer read before
    // is stale from then on, and is read again by the next request that uses it.
    private long _generation;
    private long _storeReads;

    public Authenticator(IReadStore store, TimeProvider time, AuthFailures failures, string adminKey, AuthOptions options)
    {
        _store = store;
        _time = time;
        _failures = failures;
        _adminHash = Hash(adminKey);
        _maxJwtLifetime = TimeSpan.FromMinutes(options.MaxJwtLifetimeMinutes);
        _recheckTicks = (long)(RecheckAfter.TotalSeconds * time.TimestampFrequency);
        _ticksPerSecond = time.TimestampFrequency;
        _resolved = _keys.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!string.IsNullOrEmpty(options.JwtSigningKey))
        {
            _jwtParameters = new TokenValidationParameters
            {
                ValidateIssuer = false,
                ValidateAudience = false,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.JwtSigningKey)),
                ClockSkew = ClockSkew,
            };
        }
    }

    /// <summary>How many tenant keys this process has resolved and remembers.</summary>
    internal int RememberedKeys => _keys.Count;

    /// <summary>How many times this process has asked the store about a key or a tenant: what the hot path must not pay per request.</summary>
    internal long StoreReads => Interlocked.Read(ref _storeReads);

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static string NewKey(string prefix) => prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>What a list shows of a key: enough for a person to recognise it, far too little to use it.</summary>
    public static string ShownPrefix(string key) => key[..ShownPrefixLength];

    /// <summary>
    /// Call after this node revoked a key or disabled or enabled a tenant, once the change is committed:
    /// from then on every remembered answer is read again before it is used.
    /// </summary>
    public void CredentialsChanged() => Interlocked.Increment(ref _generation);

    public enum Kind
    {
        None,
        Tenant,
        Admin,
    }

    /// <summary>Who the caller is, or, when <see cref="Kind"/> is <see cref="Kind.None"/>, why not.</summary>
    public readonly record struct Credential(Kind Kind, TenantCaller? Caller, Refusal Refusal = Refusal.None)
    {
        public Guid TenantId => Caller?.TenantId ?? Guid.Empty;

        public static Credential Refused(Refusal refusal) => new(Kind.None, null, refusal);
    }

    /// <summary>The kind and the tenant alone, as <see cref="IdentifyAsync"/> finds them.</summary>
    public async ValueTask<(Kind Kind, Guid TenantId)> AuthenticateAsync(string? authorization, CancellationToken ct)
    {
        var credential = await IdentifyAsync(authorization, null, ct).ConfigureAwait(false);
        return (credential.Kind, credential.TenantId);
    }

    /// <param name="authorization">The Authorization header.</param>
    /// <param name="address">
    /// The client's address: when it is over its budget of refused credentials
    /// (<see cref="AuthFailures"/>), a key this node does not remember is refused without asking the
    /// store (<see cref="Refusal.Throttled"/>).
    /// </param>
    /// <param name="ct">Cancels a store read.</param>
    public ValueTask<Credential> IdentifyAsync(string? authorization, IPAddress? address, CancellationToken ct)
    {
        var token = BearerToken(authorization, out var malformed);
        if (malformed != Refusal.None)
        {
            return ValueTask.FromResult(Credential.Refused(malformed));
        }

        // The common case: a tenant key this process has resolved before. It is found by its text,
        // without copying it, encoding it or hashing it, and used as last read unless that is stale.
        if (_resolved.TryGetValue(token, out var known))
        {
            var state = known.State;
            var now = _time.GetTimestamp();
            if (IsFresh(state.CheckedAt, state.Generation, now) || Interlocked.CompareExchange(ref known.Rechecking, 1, 0) != 0)
            {
                return ValueTask.FromResult(Use(known, state, now));
            }

            return RecheckKeyAsync(known, ct);
        }

        return token.Count('.') == 2 ? ValidateJwtAsync(token.ToString(), ct) : ResolveKeyAsync(token.ToString(), address, ct);
    }

    /// <summary>
    /// The token of an <c>Authorization: Bearer</c> header, the scheme in any case (as HTTP has it), or,
    /// with nothing returned, why the header holds none.
    /// </summary>
    internal static ReadOnlySpan<char> BearerToken(ReadOnlySpan<char> header, out Refusal refusal)
    {
        if (header.IsWhiteSpace())
        {
            refusal = Refusal.NoCredential;
            return default;
        }

        // "Bearer" alone is a bearer credential without its token: malformed, not another scheme.
        if (!header.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase) || (header.Length > 6 && header[6] != ' '))
        {
            refusal = Refusal.NotBearer;
            return default;
        }

        var token = header[6..].Trim();
        refusal = token.Length is 0 or > MaxTokenLength ? Refusal.Malformed : Refusal.None;
        return refusal == Refusal.None ? token : default;
    }

    private bool IsFresh(long checkedAt, long generation, long now) =>
        generation == Volatile.Read(ref _generation) && now - checkedAt < _recheckTicks;

    /// <summary>
    /// The answer a remembered key gives at <paramref name="now"/> (a monotonic timestamp), noting its
    /// use for <c>last_used_at</c>. The wall clock is read only for a key that expires.
    /// </summary>
    private Credential Use(RememberedKey key, KeyState state, long now)
    {
        // The key's own refusals (revoked, expired) before its tenant's: they are for good, and enabling
        // the tenant would not let the key in, so a disabled tenant's 403 would tell its holder to wait for
        // something that will not help.
        if (state.Refusal is not (Refusal.None or Refusal.TenantDisabled))
        {
            return Credential.Refused(state.Refusal);
        }

        if (state.ExpiresAt is { } expires && _time.GetUtcNow() >= expires)
        {
            return Credential.Refused(Refusal.KeyExpired);
        }

        if (state.Refusal == Refusal.TenantDisabled)
        {
            return Credential.Refused(Refusal.TenantDisabled);
        }

        // The timestamp already read, turned into a time only when flushed, and written at most once a
        // second: a write per request would bounce the entry's cache line between the cores serving the
        // same key. Two requests racing may leave the earlier of their two times, which a last-used time
        // a minute coarse does not notice.
        if (now - Volatile.Read(ref key.LastUsedAt) > _ticksPerSecond)
        {
            Volatile.Write(ref key.LastUsedAt, now);
        }

        return new Credential(Kind.Tenant, state.Caller);
    }

    private async ValueTask<Credential> ResolveKeyAsync(string token, IPAddress? address, CancellationToken ct)
    {
        var hash = Hash(token);
        if (CryptographicOperations.FixedTimeEquals(hash, _adminHash))
        {
            return new Credential(Kind.Admin, null);
        }

        // An address that has sent too many bad credentials gets no store read for a key this node has
        // never seen: that is what a guesser sends, and each would cost a read.
        if (_failures.IsOverBudget(address))
        {
            return Credential.Refused(Refusal.Throttled);
        }

        // One refusal for every key the store does not know, whatever it looks like: the answer must
        // not tell a guessed key of one tenant from any other made-up string.
        var generation = Volatile.Read(ref _generation);
        var checkedAt = _time.GetTimestamp();
        Interlocked.Increment(ref _storeReads);
        var stored = await _store.FindApiKeyAsync(hash, ct).ConfigureAwait(false);
        if (stored is null || !CryptographicOperations.FixedTimeEquals(stored.Key.KeyHash, hash))
        {
            return Credential.Refused(Refusal.UnknownKey);
        }

        // Only keys the store knows are remembered, revoked ones too (they never come back), so the
        // memory is bounded by the keys issued and a stream of made-up keys cannot grow it.
        var remembered = _keys.GetOrAdd(
            token,
            static (_, s) => new RememberedKey(s.Stored.Key.Id, s.Stored.Key.KeyHash, StateOf(s.Stored, s.Generation, s.CheckedAt)),
            (Stored: stored, Generation: generation, CheckedAt: checkedAt));
        return Use(remembered, remembered.State, _time.GetTimestamp());
    }

    private async ValueTask<Credential> RecheckKeyAsync(RememberedKey key, CancellationToken ct)
    {
        try
        {
            // The generation is read before the store: a change committed while the read is under way
            // leaves this answer stale, to be read again by the next request.
            var generation = Volatile.Read(ref _generation);
            var checkedAt = _time.GetTimestamp();
            Interlocked.Increment(ref _storeReads);
            var stored = await _store.FindApiKeyAsync(key.Hash, ct).ConfigureAwait(false);
            // Keys are never deleted; one gone is one of a database restored from before it was issued.
            var state = stored is null ? new KeyState(null, null, Refusal.UnknownKey, checkedAt, generation) : StateOf(stored, generation, checkedAt);
            key.State = state;
            return Use(key, state, _time.GetTimestamp());
        }
        finally
        {
            Volatile.Write(ref key.Rechecking, 0);
        }
    }

    private static KeyState StateOf(StoredKey stored, long generation, long checkedAt)
    {
        var key = stored.Key;
        var refusal = key.RevokedAt is not null ? Refusal.Revoked : stored.TenantDisabled ? Refusal.TenantDisabled : Refusal.None;
        return new KeyState(new TenantCaller(key.TenantId, key.Scope), key.ExpiresAt, refusal, checkedAt, generation);
    }

    /// <summary>
    /// The keys used on this node since they were last handed out here, with when (as a time, from the
    /// timestamp of the use): for <see cref="KeyUseFlush"/>, which calls <c>Flushed</c> once it is written.
    /// </summary>
    internal List<(Guid KeyId, DateTimeOffset UsedAt, Action Flushed)> UnflushedUses()
    {
        var (wall, now) = (_time.GetUtcNow(), _time.GetTimestamp());
        var uses = new List<(Guid, DateTimeOffset, Action)>();
        foreach (var key in _keys.Values)
        {
            var used = Volatile.Read(ref key.LastUsedAt);
            if (used != 0 && used != Volatile.Read(ref key.FlushedAt))
            {
                var at = wall - _time.GetElapsedTime(used, now);
                uses.Add((key.KeyId, DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds()), () => Volatile.Write(ref key.FlushedAt, used)));
            }
        }

        return uses;
    }

    private async ValueTask<Credential> ValidateJwtAsync(string token, CancellationToken ct)
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

                // IdentityModel refuses times it cannot read (exp null, true or 1e20) or that never hold (nbf
                // after exp) with errors of its own; the claims read by our rules say which, rather than "malformed".
                _ => StrictClaims.Check(token) ?? Refusal.Malformed,
            });
        }

        // RFC 7515 §4.1.11: a token whose crit names an extension the recipient does not understand must be
        // refused, and this server understands none, so any crit is refused (IdentityModel lets it pass).
        if (StrictClaims.HasCrit(token))
        {
            return Credential.Refused(Refusal.CriticalHeader);
        }

        // IdentityModel reads a repeated claim as a list and a numeric string as a number; the payload
        // as signed is held to one reading instead (StrictClaims).
        if (StrictClaims.Check(token) is { } refusal)
        {
            return Credential.Refused(refusal);
        }

        if (!result.Claims.TryGetValue("tenant_id", out var claim) || claim is not string text || !Guid.TryParse(text, out var tenantId))
        {
            return Credential.Refused(Refusal.NoTenant);
        }

        // A token that lives longer than the limit would outlive a disabled tenant's or a changed
        // signing key's effect by as long: its issuer must make shorter ones.
        if (result.SecurityToken.ValidTo - _time.GetUtcNow().UtcDateTime > _maxJwtLifetime + ClockSkew)
        {
            return Credential.Refused(Refusal.LifetimeTooLong);
        }

        var scope = KeyScope.Write;
        if (result.Claims.TryGetValue("scope", out var scopeClaim) && (scopeClaim is not string scopeText || !TryParseScope(scopeText, out scope)))
        {
            return Credential.Refused(Refusal.BadScope);
        }

        // Only a holder of the signing key gets this far, so saying the tenant is unknown or disabled
        // tells nobody else anything.
        var tenant = await TenantAsync(tenantId, ct).ConfigureAwait(false);
        return tenant switch
        {
            null => Credential.Refused(Refusal.UnknownTenant),
            { DisabledAt: not null } => Credential.Refused(Refusal.TenantDisabled),
            _ => new Credential(Kind.Tenant, new TenantCaller(tenantId, scope)),
        };
    }

    /// <summary>
    /// A JWT's tenant as last read, read again when stale like a key. Only tenants that exist are
    /// remembered, so the memory is bounded by the tenants created.
    /// </summary>
    private async ValueTask<Tenant?> TenantAsync(Guid tenantId, CancellationToken ct)
    {
        if (_tenants.TryGetValue(tenantId, out var known))
        {
            var state = known.State;
            if (IsFresh(state.CheckedAt, state.Generation, _time.GetTimestamp()) || Interlocked.CompareExchange(ref known.Rechecking, 1, 0) != 0)
            {
                return state.Tenant;
            }

            try
            {
                return (known.State = await ReadTenantAsync(tenantId, ct).ConfigureAwait(false)).Tenant;
            }
            finally
            {
                Volatile.Write(ref known.Rechecking, 0);
            }
        }

        var read = await ReadTenantAsync(tenantId, ct).ConfigureAwait(false);
        if (read.Tenant is not null)
        {
            _tenants[tenantId] = new RememberedTenant { State = read };
        }

        return read.Tenant;
    }

    private async Task<TenantState> ReadTenantAsync(Guid tenantId, CancellationToken ct)
    {
        var generation = Volatile.Read(ref _generation);
        var checkedAt = _time.GetTimestamp();
        Interlocked.Increment(ref _storeReads);
        return new TenantState(await _store.GetTenantAsync(tenantId, ct).ConfigureAwait(false), checkedAt, generation);
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

    /// <summary>A scope as the API and JWTs spell it: <c>read</c>, <c>write</c> or <c>elevated</c>, in lower case.</summary>
    public static bool TryParseScope(string text, out KeyScope scope)
    {
        (var ok, scope) = text switch
        {
            "read" => (true, KeyScope.Read),
            "write" => (true, KeyScope.Write),
            "elevated" => (true, KeyScope.Elevated),
            _ => (false, KeyScope.Write),
        };
        return ok;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>What the store last said of a key, and when; replaced whole, so a reader never sees half of one answer.</summary>
    private sealed record KeyState(TenantCaller? Caller, DateTimeOffset? ExpiresAt, Refusal Refusal, long CheckedAt, long Generation);

    private sealed class RememberedKey(Guid keyId, byte[] hash, KeyState state)
    {
        public Guid KeyId { get; } = keyId;

        /// <summary>The key's hash, for reading it again without the text.</summary>
        public byte[] Hash { get; } = hash;

        public volatile KeyState State = state;

        /// <summary>1 while one request reads the key again; the others use <see cref="State"/> meanwhile.</summary>
        public int Rechecking;

        /// <summary>When a request last used the key here (a monotonic timestamp; 0: not since start), and the last such time written.</summary>
        public long LastUsedAt;
        public long FlushedAt;
    }

    private sealed record TenantState(Tenant? Tenant, long CheckedAt, long Generation);

    private sealed class RememberedTenant
    {
        public required volatile TenantState State;
        public int Rechecking;
    }

    /// <summary>
    /// The claims of a JWT as signed, held to one reading: <c>tenant_id</c> once, a string; <c>exp</c>
    /// once, a number (as are <c>nbf</c> and <c>iat</c> when present), each a time of the years 1 to 9999
    /// in Unix seconds, with <c>nbf</c> not after <c>exp</c>; <c>scope</c> at most once, a string.
    /// </summary>
    private static class StrictClaims
    {
        // The Unix seconds of DateTimeOffset.MinValue and MaxValue: the years 1 to 9999, the times there are.
        private const double MinSeconds = -62_135_596_800;
        private const double MaxSeconds = 253_402_300_799;

        /// <summary>Whether the token's header has a <c>crit</c> parameter (a header that does not read has none: IdentityModel refused it already).</summary>
        public static bool HasCrit(string token)
        {
            try
            {
                var reader = new Utf8JsonReader(System.Buffers.Text.Base64Url.DecodeFromChars(token.AsSpan(0, token.IndexOf('.', StringComparison.Ordinal))));
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                {
                    return false;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("crit"u8))
                    {
                        return true;
                    }

                    reader.Read();
                    reader.Skip();
                }
            }
            catch (Exception e) when (e is FormatException or JsonException)
            {
                return false;
            }

            return false;
        }

        public static Refusal? Check(string token)
        {
            var payload = token.AsSpan(token.IndexOf('.', StringComparison.Ordinal) + 1);
            payload = payload[..payload.IndexOf('.')];
            byte[] json;
            try
            {
                json = System.Buffers.Text.Base64Url.DecodeFromChars(payload);
            }
            catch (FormatException)
            {
                return Refusal.Malformed;
            }

            int tenants = 0, expiries = 0, scopes = 0;
            double? exp = null, nbf = null;
            try
            {
                var reader = new Utf8JsonReader(json);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                {
                    return Refusal.BadClaims;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString();
                    reader.Read();
                    var ok = name switch
                    {
                        "tenant_id" => ++tenants == 1 && reader.TokenType == JsonTokenType.String,
                        "exp" => ++expiries == 1 && reader.TokenType == JsonTokenType.Number,
                        "nbf" or "iat" => reader.TokenType == JsonTokenType.Number,
                        "scope" => ++scopes == 1 && reader.TokenType == JsonTokenType.String,
                        _ => true,
                    };
                    if (!ok)
                    {
                        return Refusal.BadClaims;
                    }

                    if (name is "exp" or "nbf" or "iat")
                    {
                        if (!reader.TryGetDouble(out var seconds) || seconds is < MinSeconds or > MaxSeconds)
                        {
                            return Refusal.TimeOutOfRange;
                        }

                        exp = name == "exp" ? seconds : exp;
                        nbf = name == "nbf" ? seconds : nbf;
                    }

                    reader.Skip();
                }
            }
            catch (JsonException)
            {
                return Refusal.Malformed;
            }

            if (nbf > exp)
            {
                return Refusal.NeverValid;
            }

            // A missing claim has a refusal of its own (NoTenant; NoExpiry, which IdentityModel found first).
            return null;
        }
    }
}

/// <summary>
/// Runs after routing, so it knows the matched route's <see cref="Access"/>. Unauthenticated is 401
/// (429 once the client's address is over its budget of refused credentials, <see cref="AuthFailures"/>);
/// the wrong kind of credential (an admin key on a tenant route, or the reverse), a credential of a
/// disabled tenant, and a read-scope credential on a route that changes something are 403.
/// </summary>
internal sealed class AuthMiddleware(RequestDelegate next, Authenticator authenticator, AuthFailures failures, RateLimits rateLimits)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        var access = endpoint?.Metadata.GetMetadata<AccessMetadata>()?.Access ?? Access.Anonymous;
        if (access == Access.Anonymous)
        {
            await next(context);
            return;
        }

        var address = context.Connection.RemoteIpAddress;
        // Two headers would reach the authenticator joined by a comma, and be refused as an unknown key.
        var authorization = context.Request.Headers.Authorization;
        var (kind, caller, refusal) = authorization.Count > 1
            ? Authenticator.Credential.Refused(Refusal.SeveralCredentials)
            : await authenticator.IdentifyAsync(authorization, address, context.RequestAborted);
        if (kind == Authenticator.Kind.None)
        {
            await RefuseAsync(context, address, refusal);
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
            // The admin key's budget: the empty id, which no tenant has.
            if (!await WithinBudgetAsync(context, Guid.Empty))
            {
                return;
            }

            await next(context);
            return;
        }

        // The read scope, for every route at once: a route reads if its method does, or if it says so
        // (a POST that only checks, such as /capacity/{id}/check).
        if (caller!.Scope == KeyScope.Read && !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
            && endpoint!.Metadata.GetMetadata<ReadsOnlyMetadata>() is null)
        {
            await ApiErrors.ScopeTooNarrow(
                $"This credential has the read scope: it may read and follow streams, not {context.Request.Method} {context.Request.Path}. Use a key with the write scope.")
                .ExecuteAsync(context);
            return;
        }

        if (!await WithinBudgetAsync(context, caller.TenantId))
        {
            return;
        }

        context.Items[TenantCaller.ItemKey] = caller;

        // Every log line of the request from here on carries the tenant, in the scope the request log opened.
        RequestScope.Of(context)?.SetTenant(caller.TenantId);
        await next(context);
    }

    /// <summary>Takes the request from its tenant's <see cref="RateLimits"/>; over budget, answers 429 with Retry-After and says false.</summary>
    private ValueTask<bool> WithinBudgetAsync(HttpContext context, Guid tenantId)
    {
        return rateLimits.TryTake(tenantId) is { } retryAfter ? RefuseAsync(context, retryAfter) : ValueTask.FromResult(true);

        static async ValueTask<bool> RefuseAsync(HttpContext context, int retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ApiErrors.RateLimited(retryAfter).ExecuteAsync(context);
            return false;
        }
    }

    private async Task RefuseAsync(HttpContext context, IPAddress? address, Refusal refusal)
    {
        var throttle = failures.Record(address, refusal);
        if (throttle.RetryAfterSeconds is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ApiErrors.TooManyAuthFailures(retryAfter).ExecuteAsync(context);
            return;
        }

        if (refusal == Refusal.TenantDisabled)
        {
            await ApiErrors.TenantDisabled().ExecuteAsync(context);
            return;
        }

        context.Response.Headers.WWWAuthenticate = "Bearer";
        await ApiErrors.Unauthorized(refusal).ExecuteAsync(context);
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

    /// <summary>More than one Authorization header.</summary>
    SeveralCredentials,

    /// <summary>An empty or oversized token, or one shaped like a JWT that does not parse.</summary>
    Malformed,

    /// <summary>An API key the store does not know: the same answer whatever it resembles.</summary>
    UnknownKey,

    /// <summary>An API key that was revoked.</summary>
    Revoked,

    /// <summary>An API key past its <c>expires_at</c>.</summary>
    KeyExpired,

    /// <summary>A JWT, where no signing key is configured.</summary>
    JwtNotAccepted,

    Expired,
    NotYetValid,
    NoExpiry,
    WrongAlgorithm,
    WrongSignature,

    /// <summary>A valid JWT whose <c>exp</c> is further away than <c>Auth:MaxJwtLifetimeMinutes</c>.</summary>
    LifetimeTooLong,

    /// <summary>A valid JWT with a repeated claim, or a claim of the wrong JSON type (a string <c>exp</c>, an array <c>tenant_id</c>).</summary>
    BadClaims,

    /// <summary>A valid JWT whose <c>scope</c> is not <c>read</c>, <c>write</c> or <c>elevated</c>.</summary>
    BadScope,

    /// <summary>A valid JWT without a tenant_id that is a UUID.</summary>
    NoTenant,

    /// <summary>A valid JWT whose tenant does not exist.</summary>
    UnknownTenant,

    /// <summary>A valid key or JWT of a disabled tenant: 403 TENANT_DISABLED, not 401.</summary>
    TenantDisabled,

    /// <summary>A key this node does not know, from an address over its budget of refused credentials: 429, not looked up.</summary>
    Throttled,

    /// <summary>A JWT whose header has <c>crit</c>: it names extensions to understand, and this server understands none.</summary>
    CriticalHeader,

    /// <summary>A JWT whose <c>nbf</c> is after its <c>exp</c>: valid at no time.</summary>
    NeverValid,

    /// <summary>A JWT whose <c>exp</c>, <c>nbf</c> or <c>iat</c> is no time of the years 1 to 9999 (1e20, say).</summary>
    TimeOutOfRange,

    /// <summary>A bearer token on <c>/metrics</c> that is not <c>Metrics:Key</c>: counted and throttled like any other guess.</summary>
    WrongMetricsKey,
}

internal sealed record AccessMetadata(Access Access);

/// <summary>Marks a route that changes nothing although its method is not GET: a read-scope credential may call it.</summary>
internal sealed record ReadsOnlyMetadata;

internal static class AccessExtensions
{
    public static TBuilder RequireAccess<TBuilder>(this TBuilder builder, Access access)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AccessMetadata(access));

    /// <summary>A route that changes nothing although its method is not GET, open to the read scope.</summary>
    public static TBuilder ReadsOnly<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ReadsOnlyMetadata());
}

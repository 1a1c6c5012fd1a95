using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Capacity.Server.Tests;

/// <summary>
/// A 401 says which case it is, so a client knows whether to send a credential, fix one or fetch a
/// fresh token, while every key the server does not know gets one and the same answer.
/// </summary>
public sealed class UnauthorizedTests : IAsyncLifetime
{
    private readonly CapacityApp _app = new();
    private Tenant _tenant = null!;

    public async ValueTask InitializeAsync() => _tenant = await _app.NewTenantAsync();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static string Jwt(object? tenantId, DateTime? expires = null, DateTime? notBefore = null, string key = CapacityApp.JwtKey, bool defaultTimes = true)
    {
        var claims = new Dictionary<string, object>();
        if (tenantId is not null)
        {
            claims["tenant_id"] = tenantId;
        }

        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = defaultTimes }.CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            Expires = expires ?? (defaultTimes ? DateTime.UtcNow.AddMinutes(10) : null),
            NotBefore = notBefore,
            IssuedAt = notBefore,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Signed with the server's own key, but with HS384, which the server does not take.</summary>
    private static string Hs384(Guid tenantId)
    {
        var exp = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds();
        var signed = Base64Url(Encoding.UTF8.GetBytes("""{"alg":"HS384","typ":"JWT"}""")) + "." + Base64Url(Encoding.UTF8.GetBytes($$"""{"tenant_id":"{{tenantId}}","exp":{{exp}}}"""));
        return signed + "." + Base64Url(HMACSHA384.HashData(Encoding.UTF8.GetBytes(CapacityApp.JwtKey), Encoding.ASCII.GetBytes(signed)));
    }

    private async Task<string> DetailAsync(string? authorization, CapacityApp? app = null)
    {
        using var client = (app ?? _app).CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/events");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        var response = await client.SendAsync(request);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        var problem = await Api.ProblemAsync(response, 401, "UNAUTHORIZED");
        return problem["detail"]!.GetValue<string>();
    }

    [Fact]
    public async Task No_authorization_header_says_no_credential_was_sent()
    {
        Assert.StartsWith("No credential", await DetailAsync(null), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_scheme_says_it_is_not_a_bearer_credential()
    {
        Assert.StartsWith("The Authorization header is not a Bearer credential", await DetailAsync("Basic dXNlcjpwYXNz"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_authorization_headers_say_there_are_two_not_that_the_key_is_unknown()
    {
        using var client = _app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/events");
        request.Headers.TryAddWithoutValidation("Authorization", ["Bearer " + _tenant.Key, "Bearer " + _tenant.Key]);
        var problem = await Api.ProblemAsync(await client.SendAsync(request), 401, "UNAUTHORIZED");
        Assert.StartsWith("The request has more than one Authorization header", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Bearer a.b.c")]
    [InlineData("Bearer not.a.jwt")]
    public async Task A_bearer_token_that_is_missing_or_shaped_like_a_jwt_but_not_one_is_malformed(string authorization)
    {
        Assert.StartsWith("The bearer token is malformed", await DetailAsync(authorization), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_longer_than_any_credential_is_malformed()
    {
        Assert.StartsWith("The bearer token is malformed", await DetailAsync("Bearer " + new string('k', 5000)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_unknown_key_gets_the_same_answer_whether_or_not_it_resembles_a_real_one()
    {
        var nearMiss = _tenant.Key[..^1] + (_tenant.Key[^1] == 'A' ? 'B' : 'A');
        var answers = new List<string>();
        foreach (var key in new[] { nearMiss, "cap_made-up-key", "capadmin_made-up-key", CapacityApp.AdminKey + "x", "anything" })
        {
            using var client = _app.WithToken(key);
            var response = await client.GetAsync("/events");
            await Api.ProblemAsync(response, 401, "UNAUTHORIZED");
            answers.Add(await response.Content.ReadAsStringAsync());
        }

        Assert.Single(answers.Distinct());
        Assert.Contains("Unknown API key", answers[0], StringComparison.Ordinal);

        // The real key still works, and another tenant's key on this tenant's capacity is a 404, not a 401.
        var pool = await _tenant.Client.CreateCapacityAsync("ev", "Pool", 5);
        var other = await _app.NewTenantAsync("Other");
        await Api.ProblemAsync(await other.Client.GetAsync($"/capacity/{pool}"), 404, "NOT_FOUND");
    }

    [Fact]
    public async Task An_expired_jwt_says_it_has_expired()
    {
        var now = DateTime.UtcNow;
        Assert.StartsWith("The JWT has expired", await DetailAsync("Bearer " + Jwt(_tenant.Id.ToString(), expires: now.AddMinutes(-5), notBefore: now.AddMinutes(-20))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_jwt_signed_with_another_key_or_changed_after_signing_says_the_signature_is_wrong()
    {
        Assert.StartsWith("The JWT's signature is wrong", await DetailAsync("Bearer " + Jwt(_tenant.Id.ToString(), key: "another-signing-key-of-at-least-32-bytes!!")), StringComparison.Ordinal);

        var other = await _app.NewTenantAsync("Other");
        var parts = Jwt(other.Id.ToString()).Split('.');
        var tampered = parts[0] + "." + Base64Url(Encoding.UTF8.GetBytes($$"""{"tenant_id":"{{_tenant.Id}}","exp":{{DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()}}}""")) + "." + parts[2];
        Assert.StartsWith("The JWT's signature is wrong", await DetailAsync("Bearer " + tampered), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_jwt_of_another_algorithm_without_an_expiry_or_not_yet_valid_says_which()
    {
        Assert.StartsWith("The JWT is not signed with HS256", await DetailAsync("Bearer " + Hs384(_tenant.Id)), StringComparison.Ordinal);
        Assert.StartsWith("The JWT has no exp claim", await DetailAsync("Bearer " + Jwt(_tenant.Id.ToString(), defaultTimes: false)), StringComparison.Ordinal);
        var now = DateTime.UtcNow;
        Assert.StartsWith("The JWT is not valid yet", await DetailAsync("Bearer " + Jwt(_tenant.Id.ToString(), expires: now.AddMinutes(30), notBefore: now.AddMinutes(10))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_jwt_without_a_tenant_or_of_no_tenant_says_so()
    {
        Assert.StartsWith("The JWT has no tenant_id claim", await DetailAsync("Bearer " + Jwt(null)), StringComparison.Ordinal);
        Assert.StartsWith("The JWT has no tenant_id claim", await DetailAsync("Bearer " + Jwt("tenant-1")), StringComparison.Ordinal);
        Assert.StartsWith("The JWT's tenant_id names no tenant", await DetailAsync("Bearer " + Jwt(Guid.NewGuid().ToString())), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_jwt_sent_to_a_server_without_a_signing_key_says_jwts_are_not_accepted()
    {
        await using var app = new CapacityApp(new() { ["Auth:JwtSigningKey"] = "" });
        Assert.StartsWith("This server accepts no JWTs", await DetailAsync("Bearer " + Jwt(Guid.NewGuid().ToString()), app), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_right_credential_of_the_wrong_kind_is_still_403_not_401()
    {
        using var admin = _app.Admin();
        await Api.ProblemAsync(await admin.GetAsync("/events"), 403, "FORBIDDEN");
        _tenant.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _tenant.Key);
        await Api.ProblemAsync(await _tenant.Client.GetAsync("/admin/verify"), 403, "FORBIDDEN");
    }
}

using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Capacity.Server.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Capacity.Server.Tests;

/// <summary>Tenant JWTs, API keys, and how keys are kept.</summary>
public sealed class AuthTests : IAsyncLifetime
{
    private readonly CapacityApp _app = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static SigningCredentials Signing(string key, string algorithm = SecurityAlgorithms.HmacSha256) =>
        new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), algorithm);

    /// <summary>A JWT as the server expects it: HS256 with the configured key, a tenant_id claim and an expiry.</summary>
    private static string Jwt(
        object? tenantId,
        DateTime? expires = null,
        DateTime? notBefore = null,
        SigningCredentials? signing = null,
        bool defaultTimes = true)
    {
        var claims = new Dictionary<string, object>();
        if (tenantId is not null)
        {
            claims["tenant_id"] = tenantId;
        }

        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = defaultTimes };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            Expires = expires ?? (defaultTimes ? DateTime.UtcNow.AddMinutes(10) : null),
            NotBefore = notBefore,
            IssuedAt = notBefore,
            SigningCredentials = signing ?? Signing(CapacityApp.JwtKey),
        });
    }

    private static string Base64Url(string json) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Fact]
    public async Task A_valid_jwt_for_a_tenant_works_like_its_api_key()
    {
        var tenant = await _app.NewTenantAsync();
        using var jwt = _app.WithToken(Jwt(tenant.Id.ToString()));

        // What the JWT makes, the key sees, and the other way round: one tenant, two credentials.
        var byJwt = await jwt.CreateCapacityAsync("jwt-ev", "By JWT", 10);
        var byKey = await tenant.Client.CreateCapacityAsync("jwt-ev", "By key", 20);
        Assert.Equal(
            (await tenant.Client.GetCapacityAsync(byJwt)).ToJsonString(),
            (await jwt.GetCapacityAsync(byJwt)).ToJsonString());
        Assert.Equal(
            (await tenant.Client.GetCapacityAsync(byKey)).ToJsonString(),
            (await jwt.GetCapacityAsync(byKey)).ToJsonString());

        var hold = await jwt.HoldAsync(byKey, 2);
        var confirmed = await Api.ReadAsync(await tenant.Client.TransitAsync(hold, "confirm"), 200);
        Assert.Equal("confirmed", confirmed["status"]!.GetValue<string>());
        Assert.Equal(
            (await Api.ReadAsync(await tenant.Client.GetAsync("/events/jwt-ev/ledger"), 200)).ToJsonString(),
            (await Api.ReadAsync(await jwt.GetAsync("/events/jwt-ev/ledger"), 200)).ToJsonString());

        // A token signed by hand the same way is just as good (the control for the HS384/HS512 refusals).
        using var handSigned = _app.WithToken(HandSigned("HS256", tenant.Id.ToString(), (key, data) => HMACSHA256.HashData(key, data)));
        await handSigned.GetCapacityAsync(byJwt);

        // A tenant's JWT is still a tenant credential.
        await Api.ProblemAsync(await jwt.GetAsync("/admin/verify"), 403, "FORBIDDEN");
        await Api.ProblemAsync(await jwt.PostAsync("/admin/tenants", Api.Json(new { name = "By JWT" })), 403, "FORBIDDEN");
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_jwt_for_one_tenant_sees_nothing_of_another()
    {
        var a = await _app.NewTenantAsync("A");
        var b = await _app.NewTenantAsync("B");
        var pool = await a.Client.CreateCapacityAsync("ev", "Pool", 10);
        using var bJwt = _app.WithToken(Jwt(b.Id.ToString()));
        await Api.ProblemAsync(await bJwt.GetAsync($"/capacity/{pool}"), 404, "NOT_FOUND");
        Assert.Empty((await Api.ReadAsync(await bJwt.GetAsync("/events/ev/capacity"), 200))["capacity"]!.AsArray());
    }

    public static TheoryData<string> RejectedTokens() =>
    [
        "expired",
        "alg none",
        "alg none with a signature",
        "another key",
        "HS512 with the right key",
        "HS384 with the right key",
        "no tenant_id",
        "tenant_id of no tenant",
        "tenant_id not a GUID",
        "tenant_id a number",
        "no exp",
        "not yet valid",
        "tampered payload",
    ];

    [Theory]
    [MemberData(nameof(RejectedTokens))]
    public async Task A_jwt_that_is_not_valid_is_unauthorized_and_changes_nothing(string kind)
    {
        var tenant = await _app.NewTenantAsync();
        var other = await _app.NewTenantAsync("Other");
        var id = tenant.Id.ToString();
        var now = DateTime.UtcNow;
        var token = kind switch
        {
            "expired" => Jwt(id, expires: now.AddMinutes(-5), notBefore: now.AddMinutes(-20)),
            "alg none" => Base64Url("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "."
                + Base64Url($"{{\"tenant_id\":\"{id}\",\"exp\":{DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()}}}") + ".",
            "alg none with a signature" => Base64Url("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "."
                + Base64Url($"{{\"tenant_id\":\"{id}\",\"exp\":{DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()}}}") + "."
                + Jwt(id).Split('.')[2],
            "another key" => Jwt(id, signing: Signing("another-signing-key-of-at-least-32-bytes!!")),
            "HS512 with the right key" => HandSigned("HS512", id, (key, data) => HMACSHA512.HashData(key, data)),
            "HS384 with the right key" => HandSigned("HS384", id, (key, data) => HMACSHA384.HashData(key, data)),
            "no tenant_id" => Jwt(null),
            "tenant_id of no tenant" => Jwt(Guid.NewGuid().ToString()),
            "tenant_id not a GUID" => Jwt("tenant-1"),
            "tenant_id a number" => Jwt(42),
            "no exp" => Jwt(id, defaultTimes: false),
            "not yet valid" => Jwt(id, expires: now.AddMinutes(30), notBefore: now.AddMinutes(10)),
            "tampered payload" => Tamper(Jwt(other.Id.ToString()), id),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        using var client = _app.WithToken(token);
        var created = await client.PostAsync("/events/jwt-ev/capacity", Api.Json(new { section_name = "Sneaky", total_capacity = 5 }));
        await Api.ProblemAsync(created, 401, "UNAUTHORIZED");
        Assert.Equal("Bearer", created.Headers.WwwAuthenticate.ToString());
        await Api.ProblemAsync(await client.GetAsync("/events/jwt-ev/capacity"), 401, "UNAUTHORIZED");
        await Api.ProblemAsync(await client.GetAsync("/admin/verify"), 401, "UNAUTHORIZED");

        Assert.Empty((await Api.ReadAsync(await tenant.Client.GetAsync("/events/jwt-ev/capacity"), 200))["capacity"]!.AsArray());
        Assert.Empty((await Api.ReadAsync(await other.Client.GetAsync("/events/jwt-ev/capacity"), 200))["capacity"]!.AsArray());
        await _app.AssertInvariantsAsync();
    }

    /// <summary>
    /// A token signed by hand with the server's own key but another HMAC: IdentityModel will not
    /// make one (HS512 wants a longer key), and the server must only take HS256.
    /// </summary>
    private static string HandSigned(string alg, string tenantId, Func<byte[], byte[], byte[]> mac)
    {
        var exp = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds();
        var signed = Base64Url($"{{\"alg\":\"{alg}\",\"typ\":\"JWT\"}}") + "." + Base64Url($"{{\"tenant_id\":\"{tenantId}\",\"exp\":{exp}}}");
        var signature = mac(Encoding.UTF8.GetBytes(CapacityApp.JwtKey), Encoding.ASCII.GetBytes(signed));
        return signed + "." + Convert.ToBase64String(signature).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>A payload (and header) exactly as written, signed HS256 with the server's key: for claims IdentityModel would not write.</summary>
    private static string SignedPayload(string payload, string header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}")
    {
        var signed = Base64Url(header) + "." + Base64Url(payload);
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(CapacityApp.JwtKey), Encoding.ASCII.GetBytes(signed));
        return signed + "." + Convert.ToBase64String(signature).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    [Fact]
    public async Task A_jwt_whose_exp_is_further_away_than_the_maximum_lifetime_is_refused_and_one_within_it_is_taken()
    {
        var tenant = await _app.NewTenantAsync();
        using var within = _app.WithToken(Jwt(tenant.Id.ToString(), expires: DateTime.UtcNow.AddMinutes(59)));
        await Api.ReadAsync(await within.GetAsync("/events"), 200);
        foreach (var expires in new[] { DateTime.UtcNow.AddMinutes(62), DateTime.UtcNow.AddDays(365) })
        {
            using var tooLong = _app.WithToken(Jwt(tenant.Id.ToString(), expires: expires));
            var problem = await Api.ProblemAsync(await tooLong.GetAsync("/events"), 401, "UNAUTHORIZED");
            Assert.StartsWith("The JWT lives too long", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        // The limit is a setting.
        await using var strict = new CapacityApp(new() { ["Auth:MaxJwtLifetimeMinutes"] = "5" });
        var own = await strict.NewTenantAsync();
        using var ten = strict.WithToken(Jwt(own.Id.ToString(), expires: DateTime.UtcNow.AddMinutes(10)));
        await Api.ProblemAsync(await ten.GetAsync("/events"), 401, "UNAUTHORIZED");
        using var four = strict.WithToken(Jwt(own.Id.ToString(), expires: DateTime.UtcNow.AddMinutes(4)));
        await Api.ReadAsync(await four.GetAsync("/events"), 200);
    }

    public static TheoryData<string> MisshapenClaims() =>
    [
        "tenant_id twice",
        "tenant_id twice, the second another tenant's",
        "tenant_id an array",
        "tenant_id an object",
        "exp a string",
        "exp twice",
        "nbf a string",
        "scope an array",
        "scope twice",
    ];

    [Theory]
    [MemberData(nameof(MisshapenClaims))]
    public async Task A_jwt_with_a_repeated_or_mistyped_claim_is_unauthorized_although_its_signature_is_good(string kind)
    {
        var tenant = await _app.NewTenantAsync();
        var other = await _app.NewTenantAsync("Other");
        var (id, exp) = ($"\"{tenant.Id}\"", DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds());
        var payload = kind switch
        {
            "tenant_id twice" => $$"""{"tenant_id":{{id}},"tenant_id":{{id}},"exp":{{exp}}}""",
            "tenant_id twice, the second another tenant's" => $$"""{"tenant_id":{{id}},"tenant_id":"{{other.Id}}","exp":{{exp}}}""",
            "tenant_id an array" => $$"""{"tenant_id":[{{id}}],"exp":{{exp}}}""",
            "tenant_id an object" => $$"""{"tenant_id":{"id":{{id}}},"exp":{{exp}}}""",
            "exp a string" => $$"""{"tenant_id":{{id}},"exp":"{{exp}}"}""",
            "exp twice" => $$"""{"tenant_id":{{id}},"exp":{{exp}},"exp":{{exp}}}""",
            "nbf a string" => $$"""{"tenant_id":{{id}},"exp":{{exp}},"nbf":"0"}""",
            "scope an array" => $$"""{"tenant_id":{{id}},"exp":{{exp}},"scope":["read"]}""",
            "scope twice" => $$"""{"tenant_id":{{id}},"exp":{{exp}},"scope":"read","scope":"elevated"}""",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        // The same payload, well formed, is taken: only the defect is refused.
        using var control = _app.WithToken(SignedPayload($$"""{"tenant_id":{{id}},"exp":{{exp}}}"""));
        await Api.ReadAsync(await control.GetAsync("/events"), 200);

        using var client = _app.WithToken(SignedPayload(payload));
        var problem = await Api.ProblemAsync(await client.GetAsync("/events"), 401, "UNAUTHORIZED");
        Assert.Equal("Bearer", (await client.GetAsync("/events")).Headers.WwwAuthenticate.ToString());
        await Api.ProblemAsync(await client.PostAsync("/events/claims/capacity", Api.Json(new { section_name = "Sneaky", total_capacity = 1 })), 401, "UNAUTHORIZED");
        Assert.Empty((await Api.ReadAsync(await tenant.Client.GetAsync("/events/claims/capacity"), 200))["capacity"]!.AsArray());
        Assert.DoesNotContain(tenant.Id.ToString(), problem.ToJsonString(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> ImpossibleTimes() => new()
    {
        { "nbf after exp", "nbf is after its exp" },
        { "exp null", "exp once, a number" },
        { "exp true", "exp once, a number" },
        { "exp 1e20", "exp, nbf and iat must be" },
        { "nbf 1e20", "exp, nbf and iat must be" },
        { "iat 1e20", "exp, nbf and iat must be" },
    };

    [Theory]
    [MemberData(nameof(ImpossibleTimes))]
    public async Task A_jwt_whose_times_cannot_be_is_refused_with_a_detail_that_says_what_is_wrong_with_them(string kind, string detail)
    {
        var tenant = await _app.NewTenantAsync();
        var (id, exp) = ($"\"{tenant.Id}\"", DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds());
        var payload = kind switch
        {
            "nbf after exp" => $$"""{"tenant_id":{{id}},"exp":{{exp}},"nbf":{{exp + 60}}}""",
            "exp null" => $$"""{"tenant_id":{{id}},"exp":null}""",
            "exp true" => $$"""{"tenant_id":{{id}},"exp":true}""",
            "exp 1e20" => $$"""{"tenant_id":{{id}},"exp":1e20}""",
            "nbf 1e20" => $$"""{"tenant_id":{{id}},"exp":{{exp}},"nbf":1e20}""",
            "iat 1e20" => $$"""{"tenant_id":{{id}},"exp":{{exp}},"iat":1e20}""",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        using var client = _app.WithToken(SignedPayload(payload));
        var problem = await Api.ProblemAsync(await client.GetAsync("/events"), 401, "UNAUTHORIZED");
        Assert.Contains(detail, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_jwt_whose_header_names_critical_extensions_is_refused_since_this_server_understands_none()
    {
        var tenant = await _app.NewTenantAsync();
        var payload = $$"""{"tenant_id":"{{tenant.Id}}","exp":{{DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()}}}""";
        using var control = _app.WithToken(SignedPayload(payload));
        await Api.ReadAsync(await control.GetAsync("/events"), 200);

        foreach (var header in new[] { """{"alg":"HS256","typ":"JWT","crit":["exp"]}""", """{"alg":"HS256","crit":["b64"],"b64":true}""", """{"alg":"HS256","crit":[]}""" })
        {
            using var client = _app.WithToken(SignedPayload(payload, header));
            var problem = await Api.ProblemAsync(await client.GetAsync("/events"), 401, "UNAUTHORIZED");
            Assert.Contains("crit", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    /// <summary>Swaps the tenant_id in a signed token's payload, keeping the original signature.</summary>
    private static string Tamper(string token, string tenantId)
    {
        var parts = token.Split('.');
        var padded = parts[1].Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - (padded.Length % 4)) % 4);
        var payload = JsonNode.Parse(Convert.FromBase64String(padded))!.AsObject();
        payload["tenant_id"] = tenantId;
        return parts[0] + "." + Base64Url(payload.ToJsonString()) + "." + parts[2];
    }

    [Fact]
    public async Task A_jwt_for_a_tenant_that_never_existed_is_refused_even_after_a_good_jwt_was_accepted()
    {
        var tenant = await _app.NewTenantAsync();
        using var good = _app.WithToken(Jwt(tenant.Id.ToString()));
        await Api.ReadAsync(await good.GetAsync("/events/ev/capacity"), 200);
        using var ghost = _app.WithToken(Jwt(Guid.NewGuid().ToString()));
        await Api.ProblemAsync(await ghost.GetAsync("/events/ev/capacity"), 401, "UNAUTHORIZED");
        await Api.ReadAsync(await good.GetAsync("/events/ev/capacity"), 200);
    }

    [Fact]
    public async Task An_api_key_keeps_working_after_a_second_key_is_issued_and_both_name_the_same_tenant()
    {
        var tenant = await _app.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("keys-ev", "Pool", 10);

        using var admin = _app.Admin();
        var issued = await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", null), 201);
        Assert.Equal(tenant.Id.ToString(), issued["tenant_id"]!.GetValue<string>());
        var second = issued["api_key"]!.GetValue<string>();
        Assert.StartsWith("cap_", second, StringComparison.Ordinal);
        Assert.NotEqual(tenant.Key, second);

        var third = (await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", Api.Json("{}")), 201))["api_key"]!.GetValue<string>();

        using var secondClient = _app.WithToken(second);
        using var thirdClient = _app.WithToken(third);
        Assert.Equal(10, await tenant.Client.AvailableAsync(pool));
        Assert.Equal(10, await secondClient.AvailableAsync(pool));
        Assert.Equal(10, await thirdClient.AvailableAsync(pool));

        var hold = await secondClient.HoldAsync(pool, 3);
        await Api.ReadAsync(await tenant.Client.TransitAsync(hold, "confirm"), 200);
        Assert.Equal("confirmed", (await Api.ReadAsync(await thirdClient.GetAsync($"/reservations/{hold}"), 200))["status"]!.GetValue<string>());
        Assert.Equal(7, await tenant.Client.AvailableAsync(pool));

        // Another tenant's keys are untouched and see none of it.
        var other = await _app.NewTenantAsync("Other");
        await Api.ProblemAsync(await other.Client.GetAsync($"/capacity/{pool}"), 404, "NOT_FOUND");
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_resolved_key_is_remembered_and_keys_that_only_resemble_it_are_still_refused()
    {
        var tenant = await _app.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("remembered-ev", "Pool", 10);
        using var admin = _app.Admin();
        var fresh = (await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", null), 201))["api_key"]!.GetValue<string>();
        var auth = _app.Services.GetRequiredService<Authenticator>();
        var before = auth.RememberedKeys;

        // Many first uses at once all resolve to the tenant, and the key is remembered once.
        var first = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => auth.AuthenticateAsync("Bearer " + fresh, CancellationToken.None).AsTask())));
        Assert.All(first, answer => Assert.Equal((Authenticator.Kind.Tenant, tenant.Id), answer));
        Assert.Equal(before + 1, auth.RememberedKeys);
        Assert.Equal((Authenticator.Kind.Tenant, tenant.Id), await auth.AuthenticateAsync("bearer   " + fresh + " ", CancellationToken.None));

        string[] resembling =
        [
            fresh + "x", fresh[..^1], "x" + fresh, fresh.ToUpperInvariant(), fresh[..^1] + (fresh[^1] == 'A' ? 'B' : 'A'),
            fresh + ".", fresh + ".x.y", fresh + "\0",
        ];
        foreach (var token in resembling)
        {
            Assert.Equal(Authenticator.Kind.None, (await auth.AuthenticateAsync("Bearer " + token, CancellationToken.None)).Kind);
        }

        // Made-up keys are never remembered, however many arrive.
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(Authenticator.Kind.None, (await auth.AuthenticateAsync($"Bearer cap_made-up-{i}", CancellationToken.None)).Kind);
        }

        // Nor are JWTs (they expire) or the admin key: they are checked every time.
        var jwt = Jwt(tenant.Id.ToString());
        Assert.Equal((Authenticator.Kind.Tenant, tenant.Id), await auth.AuthenticateAsync("Bearer " + jwt, CancellationToken.None));
        Assert.Equal((Authenticator.Kind.Tenant, tenant.Id), await auth.AuthenticateAsync("Bearer " + jwt, CancellationToken.None));
        Assert.Equal((Authenticator.Kind.Admin, Guid.Empty), await auth.AuthenticateAsync("Bearer " + CapacityApp.AdminKey, CancellationToken.None));
        Assert.Equal(before + 1, auth.RememberedKeys);

        using var remembered = _app.WithToken(fresh);
        using var near = _app.WithToken(resembling[4]);
        Assert.Equal(10, await remembered.AvailableAsync(pool));
        await Api.ProblemAsync(await near.GetAsync($"/capacity/{pool}"), 401, "UNAUTHORIZED");
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Api_keys_are_kept_only_as_hashes_and_a_replayed_creation_does_not_show_the_key_again()
    {
        using var admin = _app.Admin();

        // Create a tenant, and issue it a second key, each under an Idempotency-Key.
        var created = await SendWithKeyAsync(admin, "/admin/tenants", "{\"name\":\"Keyed tenant\"}", "tenant-1");
        var body = await Api.ReadAsync(created, 201);
        var key = body["api_key"]!.GetValue<string>();
        var tenantId = body["tenant_id"]!.GetValue<string>();
        Assert.False(created.Headers.Contains("Idempotent-Replayed"));

        var issued = await Api.ReadAsync(await SendWithKeyAsync(admin, $"/admin/tenants/{tenantId}/keys", null, "key-2"), 201);
        var secondKey = issued["api_key"]!.GetValue<string>();

        // Replays answer the same tenant, but the key is gone: only its hash was kept.
        foreach (var (path, json, idem) in new[] { ("/admin/tenants", "{\"name\":\"Keyed tenant\"}", "tenant-1"), ($"/admin/tenants/{tenantId}/keys", (string?)null, "key-2") })
        {
            var replay = await SendWithKeyAsync(admin, path, json, idem);
            var replayed = await Api.ReadAsync(replay, 201);
            Assert.Equal("true", Assert.Single(replay.Headers.GetValues("Idempotent-Replayed")));
            Assert.Equal(tenantId, replayed["tenant_id"]!.GetValue<string>());
            Assert.Equal("Keyed tenant", replayed["name"]!.GetValue<string>());
            Assert.True(replayed.ContainsKey("api_key"));
            Assert.Null(replayed["api_key"]);
        }

        // Both keys work.
        using var first = _app.WithToken(key);
        using var second = _app.WithToken(secondKey);
        await Api.ReadAsync(await first.GetAsync("/events/e/capacity"), 200);
        await Api.ReadAsync(await second.GetAsync("/events/e/capacity"), 200);

        // In the database: the key table holds SHA-256 hashes, and neither the key table nor the
        // idempotency records hold the key text in any column.
        using (var db = StateSnapshot.Open(_app))
        {
            var hashes = new List<byte[]>();
            using (var command = db.CreateCommand())
            {
                command.CommandText = "SELECT key_hash, tenant_id FROM api_keys WHERE tenant_id = $t";
                command.Parameters.AddWithValue("$t", tenantId);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    hashes.Add((byte[])reader.GetValue(0));
                }
            }

            Assert.Equal(2, hashes.Count);
            Assert.Contains(hashes, h => h.AsSpan().SequenceEqual(SHA256.HashData(Encoding.UTF8.GetBytes(key))));
            Assert.Contains(hashes, h => h.AsSpan().SequenceEqual(SHA256.HashData(Encoding.UTF8.GetBytes(secondKey))));

            var idempotencyRows = 0;
            foreach (var table in new[] { "api_keys", "idempotency", "tenants" })
            {
                using var command = db.CreateCommand();
                command.CommandText = "SELECT * FROM " + table;
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    idempotencyRows += table == "idempotency" ? 1 : 0;
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        var text = reader.GetValue(i) switch
                        {
                            byte[] bytes => Encoding.UTF8.GetString(bytes),
                            var v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "",
                        };
                        foreach (var secret in new[] { key, secondKey })
                        {
                            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
                            Assert.DoesNotContain(secret[4..], text, StringComparison.Ordinal);
                        }
                    }
                }
            }

            Assert.True(idempotencyRows >= 2, "Both keyed admin requests should have stored their answers.");

            using var stored = db.CreateCommand();
            stored.CommandText = "SELECT body FROM idempotency WHERE key = 'tenant-1'";
            var storedBody = JsonNode.Parse((byte[])stored.ExecuteScalar()!)!.AsObject();
            Assert.Equal(tenantId, storedBody["tenant_id"]!.GetValue<string>());
            Assert.Null(storedBody["api_key"]);
        }

        // Nor is the key anywhere in the files of the data directory (database, WAL, anything else).
        foreach (var file in Directory.EnumerateFiles(_app.Directory, "*", SearchOption.AllDirectories))
        {
            // The store's lock file is held exclusively while it runs, and is always empty.
            if (file.EndsWith(".db.lock", StringComparison.Ordinal))
            {
                Assert.Equal(0, new FileInfo(file).Length);
                continue;
            }

            byte[] content;
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var copy = new MemoryStream())
            {
                await stream.CopyToAsync(copy);
                content = copy.ToArray();
            }

            foreach (var secret in new[] { key, secondKey })
            {
                Assert.True(content.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret[4..])) < 0, $"{Path.GetFileName(file)} holds an API key in plain text.");
            }
        }
    }

    private static async Task<HttpResponseMessage> SendWithKeyAsync(HttpClient client, string path, string? json, string idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (json is not null)
        {
            request.Content = Api.Json(json);
        }

        request.Headers.Add("Idempotency-Key", idempotencyKey);
        var response = await client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    [Fact]
    public async Task Issuing_a_key_for_a_tenant_that_does_not_exist_is_not_found()
    {
        using var admin = _app.Admin();
        await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{Guid.NewGuid()}/keys", null), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.PostAsync("/admin/tenants/not-a-guid/keys", null), 404, "NOT_FOUND");
        var made = await admin.PostAsJsonAsync("/admin/tenants", new { name = "Real" });
        Assert.NotNull((await Api.ReadAsync(made, 201))["api_key"]!.GetValue<string>());
    }
}

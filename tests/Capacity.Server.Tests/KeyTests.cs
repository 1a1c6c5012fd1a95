using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Capacity.Server.Http;
using Capacity.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Capacity.Server.Tests;

public sealed class KeyTests_on_sqlite() : KeyTests(StoreKind.Sqlite);

public sealed class KeyTests_on_postgres() : KeyTests(StoreKind.Postgres);

/// <summary>
/// A tenant's keys through the admin routes: listed without their secrets, issued with a name, a scope
/// and an expiry, revoked at once, refused with their tenant when it is disabled; the read and elevated
/// scopes; and what a remembered key costs the store.
/// </summary>
public abstract class KeyTests(StoreKind store)
{
    private static readonly string[] KeyFields = ["id", "tenant_id", "prefix", "name", "scope", "status", "created_at", "last_used_at", "expires_at", "revoked_at"];

    /// <summary>A tenant JWT signed with the test server's key; <paramref name="scope"/> as its <c>scope</c> claim when given.</summary>
    internal static string Jwt(Guid tenantId, string? scope = null)
    {
        var claims = new Dictionary<string, object> { ["tenant_id"] = tenantId.ToString() };
        if (scope is not null)
        {
            claims["scope"] = scope;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(CapacityApp.JwtKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    private static async Task<JsonObject> IssueAsync(HttpClient admin, Guid tenantId, object? body = null) =>
        await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenantId}/keys", body is null ? null : Api.Json(body)), 201);

    private static async Task<JsonArray> ListAsync(HttpClient admin, Guid tenantId) =>
        (await Api.ReadAsync(await admin.GetAsync($"/admin/tenants/{tenantId}/keys"), 200))["keys"]!.AsArray();

    private static string Text(JsonNode? node) => node!.GetValue<string>();

    [Fact]
    public async Task Tenants_created_at_once_are_all_listed_oldest_first_a_page_at_a_time_disabled_ones_marked_and_only_for_the_admin_key()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenants = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => app.NewTenantAsync($"Venue {i}")));
        using var admin = app.Admin();
        Assert.Equal(200, (int)(await admin.PostAsync($"/admin/tenants/{tenants[3].Id}/disable", null)).StatusCode);

        var listed = new List<JsonObject>();
        string? after = null;
        do
        {
            var page = await Api.ReadAsync(await admin.GetAsync($"/admin/tenants?limit=5{(after is null ? "" : $"&after={after}")}"), 200);
            Assert.True(page["tenants"]!.AsArray().Count <= 5);
            listed.AddRange(page["tenants"]!.AsArray().Select(t => t!.AsObject()));
            after = page["next_after"]?.GetValue<string>();
        }
        while (after is not null && listed.Count < 20);

        Assert.Equal(tenants.Select(t => t.Id.ToString()).Order(), listed.Select(t => Text(t["tenant_id"])).Order());
        Assert.Equal(listed.OrderBy(t => t["created_at"]!.GetValue<DateTimeOffset>()).ThenBy(t => Text(t["tenant_id"]), StringComparer.Ordinal), listed);
        Assert.Equal([tenants[3].Id.ToString()], listed.Where(t => t["disabled_at"] is not null).Select(t => Text(t["tenant_id"])));
        Assert.Equal($"Venue 3", Text(listed.Single(t => Text(t["tenant_id"]) == tenants[3].Id.ToString())["name"]));

        await Api.ProblemAsync(await admin.GetAsync($"/admin/tenants?after={Guid.NewGuid()}"), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await admin.GetAsync("/admin/tenants?limit=0"), 400, "VALIDATION_ERROR");
        Assert.Equal(HttpStatusCode.Forbidden, (await tenants[0].Client.GetAsync("/admin/tenants")).StatusCode);
    }

    [Fact]
    public async Task A_tenants_keys_page_oldest_first_with_next_after_revoked_ones_included()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        for (var i = 0; i < 4; i++)
        {
            await IssueAsync(admin, tenant.Id, new { name = $"Key {i}" });
        }

        var all = (await ListAsync(admin, tenant.Id)).Select(k => Text(k!["id"])).ToList();
        Assert.Equal(5, all.Count);
        Assert.Equal(200, (int)(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{all[1]}")).StatusCode);

        var paged = new List<string>();
        string? after = null;
        do
        {
            var page = await Api.ReadAsync(await admin.GetAsync($"/admin/tenants/{tenant.Id}/keys?limit=2{(after is null ? "" : $"&after={after}")}"), 200);
            paged.AddRange(page["keys"]!.AsArray().Select(k => Text(k!["id"])));
            after = page["next_after"]?.GetValue<string>();
        }
        while (after is not null && paged.Count < 10);

        Assert.Equal(all, paged);
        await Api.ProblemAsync(await admin.GetAsync($"/admin/tenants/{tenant.Id}/keys?after={Guid.NewGuid()}"), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await admin.GetAsync($"/admin/tenants/{tenant.Id}/keys?limit=0"), 400, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task A_tenants_keys_are_listed_by_prefix_name_scope_and_times_and_never_by_their_text_or_hash()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var expires = DateTimeOffset.UtcNow.AddDays(7);
        var issued = await IssueAsync(admin, tenant.Id, new { name = "Box office", scope = "elevated", expires_at = expires });
        var text = Text(issued["api_key"]);
        var key = issued["key"]!.AsObject();
        Assert.Equal((tenant.Id.ToString(), "Tenant"), (Text(issued["tenant_id"]), Text(issued["name"])));
        Assert.Equal((text[..12], "Box office", "elevated", "active"), (Text(key["prefix"]), Text(key["name"]), Text(key["scope"]), Text(key["status"])));
        Assert.Equal(expires.ToUnixTimeMilliseconds(), key["expires_at"]!.GetValue<DateTimeOffset>().ToUnixTimeMilliseconds());

        var keys = await ListAsync(admin, tenant.Id);
        Assert.Equal(2, keys.Count);
        Assert.All(keys, k => Assert.Equal(KeyFields, k!.AsObject().Select(p => p.Key)));
        var first = keys[0]!;
        Assert.Equal((tenant.Key[..12], null, "write", "active"), (Text(first["prefix"]), first["name"]?.GetValue<string>(), Text(first["scope"]), Text(first["status"])));
        Assert.Null(first["expires_at"]);
        Assert.Null(first["revoked_at"]);
        Assert.Equal(key.ToJsonString(), keys[1]!.ToJsonString());

        // Neither key's text, past its shown prefix, nor its hash in any spelling is anywhere in the list.
        var listed = keys.ToJsonString();
        foreach (var secret in new[] { tenant.Key, text })
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
            foreach (var form in new[] { secret[12..], Convert.ToHexString(hash), Convert.ToHexStringLower(hash), Convert.ToBase64String(hash), Convert.ToBase64String(hash).TrimEnd('=').Replace('+', '-').Replace('/', '_') })
            {
                Assert.DoesNotContain(form, listed, StringComparison.Ordinal);
            }
        }

        // Each of the two keys works.
        using var second = app.WithToken(text);
        await Api.ReadAsync(await second.GetAsync("/events"), 200);
        await Api.ReadAsync(await tenant.Client.GetAsync("/events"), 200);

        await Api.ProblemAsync(await admin.GetAsync($"/admin/tenants/{Guid.NewGuid()}/keys"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.GetAsync("/admin/tenants/not-a-tenant/keys"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await tenant.Client.GetAsync($"/admin/tenants/{tenant.Id}/keys"), 403, "FORBIDDEN");
    }

    [Fact]
    public async Task A_key_with_a_bad_scope_name_expiry_or_field_is_refused_and_nothing_is_issued()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var bodies = new (string Body, string Field)[]
        {
            ("""{"scope":"owner"}""", "scope"),
            ("""{"scope":"READ"}""", "scope"),
            ("""{"scope":1}""", "scope"),
            ("""{"expires_at":"2001-01-01T00:00:00Z"}""", "expires_at"),
            ("""{"expires_at":"tomorrow"}""", "expires_at"),
            ("""{"name":""}""", "name"),
            ("""{"name":"box\u200Boffice"}""", "name"),
            ("""{"colour":"red"}""", "colour"),
            ("""{"name":"a","name":"b"}""", "name"),
        };
        foreach (var (body, field) in bodies)
        {
            var problem = await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", Api.Json(body)), 400, "VALIDATION_ERROR");
            Assert.True(problem["errors"]!.AsObject().ContainsKey(field), $"{body}: {problem}");
        }

        var firstKey = await Api.ProblemAsync(await admin.PostAsync("/admin/tenants", Api.Json("""{"name":"Second","key":{"scope":"owner"}}""")), 400, "VALIDATION_ERROR");
        Assert.True(firstKey["errors"]!.AsObject().ContainsKey("key.scope"), firstKey.ToJsonString());
        Assert.Single(await ListAsync(admin, tenant.Id));
        await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{Guid.NewGuid()}/keys", null), 404, "NOT_FOUND");
    }

    [Fact]
    public async Task Open_streams_end_once_their_key_is_revoked_or_their_tenant_disabled_and_others_go_on()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        var other = await app.NewTenantAsync("Other");
        using var admin = app.Admin();
        using var kept = app.WithToken(Text((await IssueAsync(admin, tenant.Id))["api_key"]));
        await tenant.Client.CreateCapacityAsync("live", "Pool", 10);
        await other.Client.CreateCapacityAsync("live", "Pool", 10);
        using var jwt = app.WithToken(Jwt(other.Id));

        // Each stream read to its end in the background: a stream that ends returns, one that goes on is cut after 15 s.
        static async Task<bool> EndsAsync(HttpClient client)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                using var response = await client.GetAsync("/events/live/capacity/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
                while (await reader.ReadLineAsync(timeout.Token) is not null)
                {
                }

                return true;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                return false;
            }
        }

        var revokedStream = EndsAsync(tenant.Client);
        var keptStream = EndsAsync(kept);
        var disabledStream = EndsAsync(jwt);
        await Task.Delay(500);
        var started = Stopwatch.StartNew();
        var firstId = Text((await ListAsync(admin, tenant.Id))[0]!["id"]);
        await Api.ReadAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{firstId}"), 200);
        await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{other.Id}/disable", null), 200);

        Assert.True(await revokedStream, "the stream of a revoked key went on");
        Assert.True(await disabledStream, "the stream of a disabled tenant's JWT went on");
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(6), $"the streams ended after {started.Elapsed}");
        Assert.False(await keptStream, "the stream of a key still accepted ended");
    }

    [Fact]
    public async Task A_revoked_key_is_refused_on_its_next_request_and_the_tenants_other_keys_keep_working()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        var other = await app.NewTenantAsync("Other");
        using var admin = app.Admin();
        using var second = app.WithToken(Text((await IssueAsync(admin, tenant.Id))["api_key"]));
        var pool = await tenant.Client.CreateCapacityAsync("revoke", "Pool", 10);
        await second.GetCapacityAsync(pool);
        var firstId = Text((await ListAsync(admin, tenant.Id))[0]!["id"]);

        var revoked = await Api.ReadAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{firstId}"), 200);
        Assert.Equal(("revoked", firstId), (Text(revoked["status"]), Text(revoked["id"])));
        var refused = await Api.ProblemAsync(await tenant.Client.GetAsync($"/capacity/{pool}"), 401, "UNAUTHORIZED");
        Assert.Contains("revoked", Text(refused["detail"]), StringComparison.Ordinal);
        await Api.ProblemAsync(await tenant.Client.PostAsync("/events/revoke/capacity", Api.Json(new { section_name = "Late", total_capacity = 1 })), 401, "UNAUTHORIZED");
        Assert.Equal(10, await second.AvailableAsync(pool));
        Assert.Single((await Api.ReadAsync(await second.GetAsync("/events/revoke/capacity"), 200))["capacity"]!.AsArray());

        // Revoking it again changes nothing; another tenant's route to it, or a key that does not exist, is not found.
        var again = await Api.ReadAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{firstId}"), 200);
        Assert.Equal(revoked["revoked_at"]!.GetValue<DateTimeOffset>(), again["revoked_at"]!.GetValue<DateTimeOffset>());
        var secondId = Text((await ListAsync(admin, tenant.Id))[1]!["id"]);
        await Api.ProblemAsync(await admin.DeleteAsync($"/admin/tenants/{other.Id}/keys/{secondId}"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{Guid.NewGuid()}"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/not-a-key"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.DeleteAsync($"/admin/tenants/{Guid.NewGuid()}/keys/{secondId}"), 404, "NOT_FOUND");
        Assert.Equal(10, await second.AvailableAsync(pool));
        await Api.ReadAsync(await other.Client.GetAsync("/events"), 200);

        var listed = await ListAsync(admin, tenant.Id);
        Assert.Equal(["revoked", "active"], listed.Select(k => Text(k!["status"])));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_key_past_its_expiry_is_refused_and_listed_as_expired()
    {
        await using var app = await CapacityApp.CreateAsync(store, manualClock: true);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var issued = await IssueAsync(admin, tenant.Id, new { name = "Day pass", expires_at = app.Clock!.GetUtcNow().AddMinutes(10) });
        using var dayPass = app.WithToken(Text(issued["api_key"]));
        await Api.ReadAsync(await dayPass.GetAsync("/events"), 200);

        app.Clock.Advance(TimeSpan.FromMinutes(11));
        var refused = await Api.ProblemAsync(await dayPass.GetAsync("/events"), 401, "UNAUTHORIZED");
        Assert.Contains("expired", Text(refused["detail"]), StringComparison.Ordinal);
        await Api.ReadAsync(await tenant.Client.GetAsync("/events"), 200);
        Assert.Equal(["active", "expired"], (await ListAsync(admin, tenant.Id)).Select(k => Text(k!["status"])));
    }

    [Fact]
    public async Task An_expired_or_revoked_key_of_a_disabled_tenant_is_refused_as_expired_or_revoked_and_only_its_good_keys_as_disabled()
    {
        await using var app = await CapacityApp.CreateAsync(store, manualClock: true);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var expiring = new { name = "Day pass", expires_at = app.Clock!.GetUtcNow().AddMinutes(10) };
        using var used = app.WithToken(Text((await IssueAsync(admin, tenant.Id, expiring))["api_key"]));
        using var unused = app.WithToken(Text((await IssueAsync(admin, tenant.Id, expiring))["api_key"]));
        var revokedKey = await IssueAsync(admin, tenant.Id);
        using var revoked = app.WithToken(Text(revokedKey["api_key"]));
        await Api.ReadAsync(await used.GetAsync("/events"), 200);
        await Api.ReadAsync(await revoked.GetAsync("/events"), 200);

        await Api.ReadAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{Text(revokedKey["key"]!["id"])}"), 200);
        await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/disable", null), 200);
        app.Clock.Advance(TimeSpan.FromMinutes(11));

        // Enabling the tenant would not let these in again, so being disabled is not why they are refused.
        foreach (var client in new[] { used, unused })
        {
            var refused = await Api.ProblemAsync(await client.GetAsync("/events"), 401, "UNAUTHORIZED");
            Assert.Contains("expired", Text(refused["detail"]), StringComparison.Ordinal);
        }

        Assert.Contains("revoked", Text((await Api.ProblemAsync(await revoked.GetAsync("/events"), 401, "UNAUTHORIZED"))["detail"]), StringComparison.Ordinal);
        await Api.ProblemAsync(await tenant.Client.GetAsync("/events"), 403, "TENANT_DISABLED");
    }

    /// <summary>
    /// The issue that reached the bound, retried with its Idempotency-Key because its answer was lost,
    /// hears that the key exists (without its secret, as every replay of an issue: it is shown once), so
    /// the operator revokes it rather than believe it was never made.
    /// </summary>
    [Fact]
    public async Task A_retried_key_issue_that_reached_the_bound_replays_its_answer_without_the_secret_and_a_new_one_is_still_refused()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:Quotas:MaxKeysPerTenant"] = "2" });
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var first = await Api.ReadAsync(await Keyed(new { name = "Box office" }, "box-office"), 201);
        Assert.NotNull(first["api_key"]);

        var retries = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Keyed(new { name = "Box office" }, "box-office")));
        foreach (var retry in retries)
        {
            Assert.Equal("true", Assert.Single(retry.Headers.GetValues("Idempotent-Replayed")));
            var again = await Api.ReadAsync(retry, 201);
            Assert.Equal(Text(first["key"]!["id"]), Text(again["key"]!["id"]));
            Assert.Null(again["api_key"]);
        }

        // A new issue is refused by the bound; the used key sent with another body is refused as any reused
        // key is, before the bound is looked at.
        await Api.ProblemAsync(await Keyed(new { name = "Door" }, "door"), 409, "TOO_MANY_KEYS");
        await Api.ProblemAsync(await Keyed(new { name = "Other" }, "box-office"), 422, "IDEMPOTENCY_KEY_REUSED");
        Assert.Equal(2, (await ListAsync(admin, tenant.Id)).Count);
        await app.AssertInvariantsAsync();

        Task<HttpResponseMessage> Keyed(object json, string key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/admin/tenants/{tenant.Id}/keys") { Content = Api.Json(json) };
            request.Headers.Add("Idempotency-Key", key);
            return admin.SendAsync(request);
        }
    }

    [Fact]
    public async Task Twenty_keys_issued_at_once_to_a_tenant_bounded_at_six_with_one_issue_exactly_five()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:Quotas:MaxKeysPerTenant"] = "6" });
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        Assert.Single(await ListAsync(admin, tenant.Id));

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", Api.Json(new { name = $"Till {i}" }))));

        Assert.Equal(5, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            Assert.Equal(6, (await Api.ProblemAsync(refused, 409, "TOO_MANY_KEYS"))["limit"]!.GetValue<int>());
        }

        Assert.Equal(6, (await ListAsync(admin, tenant.Id)).Count);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_tenant_at_its_bound_of_usable_keys_is_refused_another_until_one_is_revoked_or_expires()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:Quotas:MaxKeysPerTenant"] = "3" }, manualClock: true);
        var tenant = await app.NewTenantAsync();
        var other = await app.NewTenantAsync("Other");
        using var admin = app.Admin();
        await IssueAsync(admin, tenant.Id);
        await IssueAsync(admin, tenant.Id, new { name = "Brief", expires_at = app.Clock!.GetUtcNow().AddMinutes(5) });

        var refused = await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", null), 409, "TOO_MANY_KEYS");
        Assert.Equal(3, refused["limit"]!.GetValue<int>());
        Assert.Equal(3, (await ListAsync(admin, tenant.Id)).Count);
        await IssueAsync(admin, other.Id); // another tenant's bound is its own

        // An expired key does not count, nor does a revoked one.
        app.Clock.Advance(TimeSpan.FromMinutes(6));
        await IssueAsync(admin, tenant.Id);
        await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", null), 409, "TOO_MANY_KEYS");
        var firstId = Text((await ListAsync(admin, tenant.Id))[0]!["id"]);
        await Api.ReadAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{firstId}"), 200);
        using var fresh = app.WithToken(Text((await IssueAsync(admin, tenant.Id))["api_key"]));
        await Api.ReadAsync(await fresh.GetAsync("/events"), 200);
        Assert.Equal(["revoked", "active", "expired", "active", "active"], (await ListAsync(admin, tenant.Id)).Select(k => Text(k!["status"])));
        Assert.Equal("Brief", Text((await ListAsync(admin, tenant.Id))[2]!["name"]));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_disabled_tenant_is_refused_for_every_key_and_jwt_and_served_again_once_enabled()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        var other = await app.NewTenantAsync("Other");
        using var admin = app.Admin();
        using var jwt = app.WithToken(Jwt(tenant.Id));
        var pool = await tenant.Client.CreateCapacityAsync("paused", "Pool", 10);
        Assert.Equal(10, await jwt.AvailableAsync(pool));

        var disabled = await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/disable", null), 200);
        Assert.Equal((tenant.Id.ToString(), "Tenant"), (Text(disabled["tenant_id"]), Text(disabled["name"])));
        Assert.NotNull(disabled["disabled_at"]);

        // Keys issued while it is disabled are refused too; the operator may still manage its keys.
        using var fresh = app.WithToken(Text((await IssueAsync(admin, tenant.Id))["api_key"]));
        var before = StateSnapshot.OfDatabase(app);
        foreach (var client in new[] { tenant.Client, jwt, fresh })
        {
            var refused = await Api.ProblemAsync(await client.GetAsync($"/capacity/{pool}"), 403, "TENANT_DISABLED");
            Assert.Equal("/problems/tenant-disabled", Text(refused["type"]));
            await Api.ProblemAsync(await client.PostAsync($"/capacity/{pool}/reserve", Api.Json(new { quantity = 1 })), 403, "TENANT_DISABLED");
        }

        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        Assert.Equal(2, (await ListAsync(admin, tenant.Id)).Count);
        await Api.ReadAsync(await other.Client.GetAsync("/events"), 200);
        var again = await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/disable", null), 200);
        Assert.Equal(disabled["disabled_at"]!.GetValue<DateTimeOffset>(), again["disabled_at"]!.GetValue<DateTimeOffset>());

        var enabled = await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/enable", null), 200);
        Assert.Null(enabled["disabled_at"]);
        foreach (var client in new[] { tenant.Client, jwt, fresh })
        {
            Assert.Equal(10, await client.AvailableAsync(pool));
        }

        await tenant.Client.HoldAsync(pool, 1);
        await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{Guid.NewGuid()}/disable", null), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.PostAsync("/admin/tenants/nobody/enable", null), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/disable", Api.Json("""{"why":"unpaid"}""")), 400, "VALIDATION_ERROR");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_read_key_reads_checks_and_streams_but_every_change_is_forbidden_and_changes_nothing()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var t = tenant.Client;
        var pool = await t.CreateCapacityAsync("read-ev", "Pool", 10);
        var hold = await t.HoldAsync(pool, 2);
        var limit = await t.CreateLimitAsync("read-ev", "Four each", 4, pool);
        using var reader = app.WithToken(Text((await IssueAsync(admin, tenant.Id, new { name = "Dashboard", scope = "read" }))["api_key"]));
        using var readJwt = app.WithToken(Jwt(tenant.Id, "read"));

        foreach (var client in new[] { reader, readJwt })
        {
            Assert.Equal(8, await client.AvailableAsync(pool));
            await Api.ReadAsync(await client.GetAsync($"/reservations/{hold}"), 200);
            await Api.ReadAsync(await client.GetAsync("/events/read-ev/ledger"), 200);
            Assert.True((await Api.ReadAsync(await client.PostAsync($"/capacity/{pool}/check", Api.Json(new { quantity = 2 })), 200))["available"]!.GetValue<bool>());
            Assert.Single((await Api.FirstSnapshotAsync(client, "read-ev"))["capacity"]!.AsArray());
        }

        var before = StateSnapshot.OfDatabase(app);
        var writes = new (HttpMethod Method, string Path, object? Body)[]
        {
            (HttpMethod.Post, "/events/read-ev/capacity", new { section_name = "More", total_capacity = 1 }),
            (HttpMethod.Put, $"/capacity/{pool}", new { total_capacity = 20 }),
            (HttpMethod.Post, $"/capacity/{pool}/reserve", new { quantity = 1 }),
            (HttpMethod.Post, $"/reservations/{hold}/confirm", null),
            (HttpMethod.Post, $"/reservations/{hold}/release", null),
            (HttpMethod.Patch, $"/reservations/{hold}", new { items = new[] { new { capacity_id = pool, quantity = 1 } } }),
            (HttpMethod.Delete, $"/limits/{limit}", null),
            (HttpMethod.Post, $"/capacity/{pool}/allocations", new { name = "Box", quantity = 1 }),
        };
        foreach (var client in new[] { reader, readJwt })
        {
            foreach (var (method, path, body) in writes)
            {
                using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Api.Json(body) };
                var problem = await Api.ProblemAsync(await client.SendAsync(request), 403, "FORBIDDEN");
                Assert.Contains("read scope", Text(problem["detail"]), StringComparison.Ordinal);
            }
        }

        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        // A JWT without a scope can write; one with a scope we do not have is refused.
        using var writer = app.WithToken(Jwt(tenant.Id));
        await writer.HoldAsync(pool, 1);
        using var owner = app.WithToken(Jwt(tenant.Id, "owner"));
        var unknown = await Api.ProblemAsync(await owner.GetAsync("/events"), 401, "UNAUTHORIZED");
        Assert.Contains("scope", Text(unknown["detail"]), StringComparison.Ordinal);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_credential_reads_its_own_tenant_and_scope_whatever_that_scope_is()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        foreach (var scope in new[] { "read", "write", "elevated" })
        {
            using var key = app.WithToken(Text((await IssueAsync(admin, tenant.Id, new { scope }))["api_key"]));
            using var jwt = app.WithToken(Jwt(tenant.Id, scope));
            foreach (var client in new[] { key, jwt })
            {
                var credential = await Api.ReadAsync(await client.GetAsync("/credential"), 200);
                Assert.Equal(tenant.Id.ToString(), Text(credential["tenant_id"]));
                Assert.Equal(scope, Text(credential["scope"]));
                Assert.Equal(2, credential.Count);
            }
        }

        // A JWT without a scope writes, and says so; the admin key is no tenant's credential.
        using var unscoped = app.WithToken(Jwt(tenant.Id));
        Assert.Equal("write", Text((await Api.ReadAsync(await unscoped.GetAsync("/credential"), 200))["scope"]));
        await Api.ProblemAsync(await admin.GetAsync("/credential"), 403, "FORBIDDEN");
        using var anonymous = app.CreateClient();
        await Api.ProblemAsync(await anonymous.GetAsync("/credential"), 401, "UNAUTHORIZED");
    }

    [Fact]
    public async Task Reclaiming_an_expired_hold_needs_the_elevated_scope_and_a_write_key_asking_for_it_changes_nothing()
    {
        await using var app = await CapacityApp.CreateAsync(store, manualClock: true);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        using var boxOffice = app.WithToken(Text((await IssueAsync(admin, tenant.Id, new { name = "Box office", scope = "elevated" }))["api_key"]));
        var t = tenant.Client;
        var pool = await t.CreateCapacityAsync("late", "Pool", 10);
        var lapsed = await t.HoldAsync(pool, 2, minutes: 1);
        var live = await t.HoldAsync(pool, 1);
        app.Clock!.Advance(TimeSpan.FromMinutes(2));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        var before = StateSnapshot.OfDatabase(app);

        // Refused for asking, whatever the hold's state: the answer does not depend on the clock.
        foreach (var id in new[] { lapsed, live, Guid.NewGuid().ToString() })
        {
            var refused = await Api.ProblemAsync(await t.ReclaimAsync(id), 403, "FORBIDDEN");
            Assert.Contains("elevated", Text(refused["detail"]), StringComparison.Ordinal);
        }

        using var writeJwt = app.WithToken(Jwt(tenant.Id, "write"));
        await Api.ProblemAsync(await writeJwt.ReclaimAsync(lapsed), 403, "FORBIDDEN");
        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        // A plain confirm of the expired hold is the ordinary refusal, for every scope.
        await Api.ProblemAsync(await t.TransitAsync(lapsed, "confirm"), 409, "RESERVATION_EXPIRED");
        var reclaimed = await Api.ReadAsync(await boxOffice.ReclaimAsync(lapsed), 200);
        Assert.Equal(("confirmed", true), (Text(reclaimed["status"]), reclaimed["reclaimed"]!.GetValue<bool>()));

        using var elevatedJwt = app.WithToken(Jwt(tenant.Id, "elevated"));
        Assert.Equal("confirmed", Text((await Api.ReadAsync(await elevatedJwt.ReclaimAsync(live), 200))["status"]));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_keys_last_use_is_written_by_the_minutely_flush_not_by_each_request()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var idle = await IssueAsync(admin, tenant.Id, new { name = "Idle" });
        var flush = app.Services.GetRequiredService<KeyUseFlush>();
        var used = DateTimeOffset.UtcNow;
        for (var i = 0; i < 20; i++)
        {
            await Api.ReadAsync(await tenant.Client.GetAsync("/events"), 200);
        }

        Assert.All(await ListAsync(admin, tenant.Id), k => Assert.Null(k!["last_used_at"]));
        Assert.Equal(1, await flush.FlushAsync());
        var keys = await ListAsync(admin, tenant.Id);
        Assert.InRange(keys[0]!["last_used_at"]!.GetValue<DateTimeOffset>(), used.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Null(keys[1]!["last_used_at"]);
        Assert.Equal(Text(idle["key"]!["id"]), Text(keys[1]!["id"]));

        // Nothing new, nothing written; a later use moves it on (a use is noted at most once a second).
        Assert.Equal(0, await flush.FlushAsync());
        await Task.Delay(1100);
        await Api.ReadAsync(await tenant.Client.GetAsync("/events"), 200);
        Assert.Equal(1, await flush.FlushAsync());
        Assert.True((await ListAsync(admin, tenant.Id))[0]!["last_used_at"]!.GetValue<DateTimeOffset>() > keys[0]!["last_used_at"]!.GetValue<DateTimeOffset>());
    }

    [Fact]
    public async Task A_remembered_key_costs_the_store_one_read_every_two_seconds_at_most_not_one_per_request()
    {
        // As fast as the machine allows for 3 s: a fast one passes the tenant's default rate limit
        // (50,000 a second), which is not what this measures.
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:RateLimit:PermitsPerSecond"] = "0" });
        var tenant = await app.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("hot", "Pool", 1000);
        var auth = app.Services.GetRequiredService<Authenticator>();
        await tenant.Client.GetCapacityAsync(pool);

        var reads = auth.StoreReads;
        var clock = Stopwatch.StartNew();
        var requests = 0;
        while (requests < 400 || clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => tenant.Client.GetCapacityAsync(pool)));
            requests += 8;
        }

        // One read per key per elapsed two seconds, and one more for the period under way.
        var allowed = 1 + (long)(clock.Elapsed.TotalSeconds / Authenticator.RecheckAfter.TotalSeconds);
        Assert.InRange(auth.StoreReads - reads, 1, allowed);
        Assert.True(requests >= 400);
    }

    [Fact]
    public async Task Concurrent_issues_and_revocations_of_one_tenants_keys_end_with_each_key_issued_once_and_exactly_the_revoked_ones_refused()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var tenant = await app.NewTenantAsync();
        using var admin = app.Admin();
        var firstWave = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => IssueAsync(admin, tenant.Id, new { name = $"wave 1 #{i}" })));

        // Half of them revoked, each twice at once, while as many new keys are issued.
        var revoked = firstWave.Take(15).Select(k => Text(k["key"]!["id"])).ToHashSet();
        var revocations = revoked.SelectMany(id => new[] { id, id }).Select(async id => (await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{id}")).StatusCode);
        var issues = Enumerable.Range(0, 15).Select(i => IssueAsync(admin, tenant.Id, new { name = $"wave 2 #{i}", scope = i % 2 == 0 ? "read" : "write" }));
        var revokedAnswers = Task.WhenAll(revocations);
        var secondWave = await Task.WhenAll(issues);
        Assert.All(await revokedAnswers, status => Assert.Equal(HttpStatusCode.OK, status));

        var listed = await ListAsync(admin, tenant.Id);
        Assert.Equal(1 + 30 + 15, listed.Count);
        Assert.Equal(listed.Count, listed.Select(k => Text(k!["id"])).Distinct().Count());
        Assert.Equal(listed.Count, listed.Select(k => Text(k!["prefix"])).Distinct().Count());
        Assert.Equal(revoked.Order(), listed.Where(k => Text(k!["status"]) == "revoked").Select(k => Text(k!["id"])).Order());
        Assert.All(listed.Where(k => Text(k!["status"]) == "revoked"), k => Assert.NotNull(k!["revoked_at"]));
        Assert.Equal(8, listed.Count(k => Text(k!["scope"]) == "read"));

        foreach (var key in firstWave.Concat(secondWave))
        {
            using var client = app.WithToken(Text(key["api_key"]));
            var response = await client.GetAsync("/events");
            Assert.Equal(revoked.Contains(Text(key["key"]!["id"])) ? HttpStatusCode.Unauthorized : HttpStatusCode.OK, response.StatusCode);
        }

        await app.AssertInvariantsAsync();
    }
}

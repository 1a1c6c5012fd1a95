using System.Text.Json;
using Capacity.Cli;

namespace Capacity.Client.Tests;

/// <summary>
/// A tenant's keys and its disabling through the SDK (<see cref="CapacityClient.ListKeysAsync(Guid, CancellationToken)"/>,
/// <see cref="CapacityClient.IssueKeyAsync(Guid, IssueKeyRequest, string?, CancellationToken)"/>,
/// <see cref="CapacityClient.RevokeKeyAsync"/>, <see cref="CapacityClient.DisableTenantAsync"/>) and through
/// <c>capacity admin keys …</c> and <c>capacity admin tenants …</c>.
/// </summary>
public sealed class KeyTests(ClockedHost host) : IClassFixture<ClockedHost>
{
    [Fact]
    public async Task Keys_are_issued_with_a_name_scope_and_expiry_listed_without_their_text_and_revoked()
    {
        var admin = host.Admin();
        var created = await admin.CreateTenantAsync(new CreateTenantRequest { Name = "Arena", Key = new IssueKeyRequest { Name = "Back office", Scope = ApiKeyScope.Elevated } });
        Assert.Equal(("Back office", ApiKeyScope.Elevated, ApiKeyStatus.Active), (created.Key!.Name, created.Key.Scope, created.Key.Status));
        var expires = host.Clock!.GetUtcNow().AddDays(1);
        var reader = await admin.IssueKeyAsync(created.TenantId, new IssueKeyRequest { Name = "Dashboard", Scope = ApiKeyScope.Read, ExpiresAt = expires });
        var plain = await admin.IssueKeyAsync(created.TenantId);
        Assert.Equal((ApiKeyScope.Write, null, null), (plain.Key!.Scope, plain.Key.Name, plain.Key.ExpiresAt));

        var keys = await admin.ListKeysAsync(created.TenantId);
        Assert.Equal([created.Key.Id, reader.Key!.Id, plain.Key.Id], keys.Select(k => k.Id));
        Assert.Equal(reader.ApiKey![..12], keys[1].Prefix);
        Assert.Equal(expires.ToUnixTimeMilliseconds(), keys[1].ExpiresAt!.Value.ToUnixTimeMilliseconds());
        Assert.Equal(ApiKeyScope.Read, keys[1].Scope);

        // A read key reads; a change is refused as forbidden.
        var readClient = host.Client(reader.ApiKey);
        Assert.Empty(await readClient.ListEventsAsync());
        var forbidden = await Assert.ThrowsAsync<CapacityApiException>(() =>
            readClient.CreateCapacityAsync("ev", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 5 }));
        Assert.Equal((403, "FORBIDDEN"), (forbidden.Status, forbidden.Code));

        var revoked = await admin.RevokeKeyAsync(created.TenantId, plain.Key.Id);
        Assert.Equal(ApiKeyStatus.Revoked, revoked.Status);
        Assert.NotNull(revoked.RevokedAt);
        var refused = await Assert.ThrowsAsync<CapacityApiException>(() => host.Client(plain.ApiKey).ListEventsAsync());
        Assert.Equal((401, "UNAUTHORIZED"), (refused.Status, refused.Code));
        Assert.Equal(ApiKeyStatus.Revoked, (await admin.ListKeysAsync(created.TenantId))[2].Status);

        var missing = await Assert.ThrowsAsync<CapacityApiException>(() => admin.RevokeKeyAsync(created.TenantId, Guid.NewGuid()));
        Assert.Equal((404, "NOT_FOUND"), (missing.Status, missing.Code));
    }

    [Fact]
    public async Task A_disabled_tenant_is_refused_as_disabled_and_served_again_once_enabled()
    {
        var admin = host.Admin();
        var tenant = await host.NewTenantAsync("Paused");
        Assert.Empty(await tenant.Client.ListEventsAsync());

        var disabled = await admin.DisableTenantAsync(tenant.Id);
        Assert.Equal(("Paused", true), (disabled.Name, disabled.DisabledAt is not null));
        var refused = await Assert.ThrowsAsync<CapacityApiException>(() => tenant.Client.ListEventsAsync());
        Assert.Equal((403, "TENANT_DISABLED"), (refused.Status, refused.Code));

        var enabled = await admin.EnableTenantAsync(tenant.Id);
        Assert.Null(enabled.DisabledAt);
        Assert.Empty(await tenant.Client.ListEventsAsync());
    }

    [Fact]
    public async Task Admin_keys_issue_list_and_revoke_and_admin_tenants_disable_and_enable_print_what_the_service_answers()
    {
        var tenant = await host.NewTenantAsync("Cli arena");
        var id = tenant.Id.ToString();

        var issued = await host.RunCliAsync("admin", "keys", "issue", id, "--name", "Box office", "--scope", "elevated", "--expires", "2099-01-01T00:00:00Z", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Ok, issued.ExitCode);
        Assert.Contains("shown once", issued.Output, StringComparison.Ordinal);
        Assert.Contains("elevated", issued.Output, StringComparison.Ordinal);

        var json = await host.RunCliAsync("admin", "keys", "issue", id, "--scope", "read", "--json", "--key", CapacityHost.AdminKey);
        using var readKey = JsonDocument.Parse(json.Output);
        var text = readKey.RootElement.GetProperty("api_key").GetString()!;
        var keyId = readKey.RootElement.GetProperty("key").GetProperty("id").GetString()!;
        Assert.Equal("read", readKey.RootElement.GetProperty("key").GetProperty("scope").GetString());

        var list = await host.RunCliAsync("admin", "keys", "list", id, "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Ok, list.ExitCode);
        Assert.Contains("Box office", list.Output, StringComparison.Ordinal);
        Assert.Contains(text[..12], list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(text, list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(tenant.Key, list.Output, StringComparison.Ordinal);
        var listed = await host.RunCliAsync("admin", "keys", "list", id, "--json", "--key", CapacityHost.AdminKey);
        using (var document = JsonDocument.Parse(listed.Output))
        {
            Assert.Equal(3, document.RootElement.GetProperty("keys").GetArrayLength());
        }

        var revoked = await host.RunCliAsync("admin", "keys", "revoke", id, keyId, "--json", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Ok, revoked.ExitCode);
        using (var document = JsonDocument.Parse(revoked.Output))
        {
            Assert.Equal("revoked", document.RootElement.GetProperty("status").GetString());
        }

        Assert.Equal(ExitCodes.Auth, (await host.RunCliAsync("events", "list", "--key", text)).ExitCode);

        var disabled = await host.RunCliAsync("admin", "tenants", "disable", id, "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Ok, disabled.ExitCode);
        Assert.Contains("disabled", disabled.Output, StringComparison.Ordinal);
        var refused = await host.RunCliAsync("events", "list", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Auth, refused.ExitCode);
        Assert.Contains("TENANT_DISABLED", refused.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, (await host.RunCliAsync("admin", "tenants", "enable", id, "--key", CapacityHost.AdminKey)).ExitCode);
        Assert.Equal(ExitCodes.Ok, (await host.RunCliAsync("events", "list", "--key", tenant.Key)).ExitCode);

        // Slips on the command line are refused before anything is sent.
        var badScope = await host.RunCliAsync("admin", "keys", "issue", id, "--scope", "owner", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Usage, badScope.ExitCode);
        Assert.Contains("--scope must be read, write or elevated", badScope.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("admin", "keys", "revoke", id, "--key", CapacityHost.AdminKey)).ExitCode);
        Assert.Equal(ExitCodes.NotFound, (await host.RunCliAsync("admin", "keys", "list", Guid.NewGuid().ToString(), "--key", CapacityHost.AdminKey)).ExitCode);
    }

    [Fact]
    public async Task Tenants_create_gives_the_first_key_a_name_scope_and_expiry_and_prints_it_with_the_tenant()
    {
        var expires = host.Clock!.GetUtcNow().AddDays(30);
        var at = expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        var json = await host.RunCliAsync("tenants", "create", "Concert hall", "--key-name", "Box office", "--scope", "read", "--expires", at, "--json", "--key", CapacityHost.AdminKey);

        Assert.True(json.ExitCode == ExitCodes.Ok, json.Error);
        using var created = JsonDocument.Parse(json.Output);
        var root = created.RootElement;
        Assert.Equal(["tenant_id", "name", "api_key", "key"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Concert hall", root.GetProperty("name").GetString());
        var key = root.GetProperty("key");
        Assert.Equal(("Box office", "read", "active"), (key.GetProperty("name").GetString(), key.GetProperty("scope").GetString(), key.GetProperty("status").GetString()));
        Assert.Equal(expires.ToUnixTimeSeconds(), key.GetProperty("expires_at").GetDateTimeOffset().ToUnixTimeSeconds());

        // The key is what it says: a read key reads, and is refused a change.
        var apiKey = root.GetProperty("api_key").GetString()!;
        Assert.Equal(ExitCodes.Ok, (await host.RunCliAsync("events", "list", "--key", apiKey)).ExitCode);
        Assert.Equal(ExitCodes.Auth, (await host.RunCliAsync("capacities", "create", "ev", "Hall", "--key", apiKey)).ExitCode);

        // Without the options, the first key is a write key that never expires, as before; the view shows it.
        var plain = await host.RunCliAsync("tenants", "create", "Jazz club", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Ok, plain.ExitCode);
        Assert.Equal(("write", "never", "none"), (Pair(plain.Output, "Scope"), Pair(plain.Output, "Expires"), Pair(plain.Output, "Key name")));

        var badScope = await host.RunCliAsync("tenants", "create", "Opera", "--scope", "owner", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Usage, badScope.ExitCode);
        Assert.Contains("--scope must be read, write or elevated", badScope.Error, StringComparison.Ordinal);
    }

    /// <summary>The value printed beside <paramref name="name"/> in a view of name and value pairs.</summary>
    private static string Pair(string output, string name) =>
        Assert.Single(output.Split('\n'), l => l.StartsWith(name + "  ", StringComparison.Ordinal))[name.Length..].Trim();
}

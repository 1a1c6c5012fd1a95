using System.Text.Json;
using Capacity.Cli;

namespace Capacity.Client.Tests;

/// <summary>What a credential is, as <c>GET /credential</c> tells it: <see cref="CapacityClient.GetCredentialAsync"/> and <c>capacity whoami</c>.</summary>
public sealed class CredentialTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task A_key_learns_its_tenant_and_scope_and_the_admin_key_is_no_tenants()
    {
        var writer = await host.NewTenantAsync("Writer");
        var reader = await host.NewTenantAsync("Reader", ApiKeyScope.Read);
        var elevated = await host.NewTenantAsync("Box office", ApiKeyScope.Elevated);

        Assert.Equal(new CredentialInfo(writer.Id, ApiKeyScope.Write), await writer.Client.GetCredentialAsync());
        Assert.Equal(new CredentialInfo(reader.Id, ApiKeyScope.Read), await reader.Client.GetCredentialAsync());
        Assert.Equal(new CredentialInfo(elevated.Id, ApiKeyScope.Elevated), await elevated.Client.GetCredentialAsync());

        var admin = await Assert.ThrowsAsync<CapacityApiException>(() => host.Admin().GetCredentialAsync());
        Assert.Equal((403, "FORBIDDEN"), (admin.Status, admin.Code));
        var unknown = await Assert.ThrowsAsync<CapacityApiException>(() => host.Client("cap_not-a-key").GetCredentialAsync());
        Assert.Equal((401, "UNAUTHORIZED"), (unknown.Status, unknown.Code));
    }

    [Fact]
    public async Task Whoami_prints_the_tenant_and_scope_of_the_key_in_use()
    {
        var reader = await host.NewTenantAsync("Reader", ApiKeyScope.Read);

        var view = await host.RunCliAsync("whoami", "--key", reader.Key);
        Assert.Equal(ExitCodes.Ok, view.ExitCode);
        Assert.Contains(reader.Id.ToString(), view.Output, StringComparison.Ordinal);
        Assert.Contains("read (reads and live streams; every change is refused)", view.Output, StringComparison.Ordinal);

        var json = await host.RunCliAsync("whoami", "--json", "--key", reader.Key);
        Assert.Equal(ExitCodes.Ok, json.ExitCode);
        using (var doc = JsonDocument.Parse(json.Output))
        {
            Assert.Equal(["tenant_id", "scope"], doc.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal((reader.Id, "read"), (doc.RootElement.GetProperty("tenant_id").GetGuid(), doc.RootElement.GetProperty("scope").GetString()));
        }

        // The admin key belongs to no tenant: refused as any tenant route refuses it.
        var admin = await host.RunCliAsync("whoami", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Auth, admin.ExitCode);
        Assert.Contains("FORBIDDEN", admin.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Auth, (await host.RunCliAsync("whoami", "--key", "cap_not-a-key")).ExitCode);
    }
}

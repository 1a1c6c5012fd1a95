using System.Diagnostics;
using System.Net;
using Capacity.Server.Http;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Two servers on one PostgreSQL database: a key revoked, or a tenant disabled, through one is refused
/// by the other within a few seconds (<see cref="Authenticator.RecheckAfter"/>), although the other had
/// already resolved and remembered the credentials.
/// </summary>
public sealed class KeyRevocationAcrossNodesTests
{
    /// <summary>How long the other node may take: its recheck period, and room for a slow machine.</summary>
    private static readonly TimeSpan Bound = Authenticator.RecheckAfter + TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_key_revoked_or_a_tenant_disabled_through_one_node_is_refused_by_the_other_within_a_few_seconds()
    {
        var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        var settings = new Dictionary<string, string?> { ["Storage:Provider"] = "postgres", ["Storage:Postgres:ConnectionString"] = schema };
        await using var one = new CapacityApp(settings);
        await using var two = new CapacityApp(settings);
        var tenant = await one.NewTenantAsync();
        using var admin = one.Admin();
        var second = (await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", null), 201))["api_key"]!.GetValue<string>();
        var firstId = (await Api.ReadAsync(await admin.GetAsync($"/admin/tenants/{tenant.Id}/keys"), 200))["keys"]![0]!["id"]!.GetValue<string>();

        // The second node resolves and remembers both keys and the tenant of a JWT.
        using var firstOnTwo = two.WithToken(tenant.Key);
        using var secondOnTwo = two.WithToken(second);
        using var jwtOnTwo = two.WithToken(KeyTests.Jwt(tenant.Id));
        foreach (var client in new[] { firstOnTwo, secondOnTwo, jwtOnTwo })
        {
            await Api.ReadAsync(await client.GetAsync("/events"), 200);
        }

        await Api.ReadAsync(await admin.DeleteAsync($"/admin/tenants/{tenant.Id}/keys/{firstId}"), 200);
        await Api.ProblemAsync(await tenant.Client.GetAsync("/events"), 401, "UNAUTHORIZED");
        Assert.True(await AnswersWithinAsync(firstOnTwo, HttpStatusCode.Unauthorized), $"node two still took the revoked key after {Bound.TotalSeconds} s");
        await Api.ReadAsync(await secondOnTwo.GetAsync("/events"), 200);

        await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/disable", null), 200);
        Assert.True(await AnswersWithinAsync(secondOnTwo, HttpStatusCode.Forbidden), $"node two still took the disabled tenant's key after {Bound.TotalSeconds} s");
        Assert.True(await AnswersWithinAsync(jwtOnTwo, HttpStatusCode.Forbidden), $"node two still took the disabled tenant's JWT after {Bound.TotalSeconds} s");
        await Api.ProblemAsync(await secondOnTwo.GetAsync("/events"), 403, "TENANT_DISABLED");

        await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/enable", null), 200);
        Assert.True(await AnswersWithinAsync(secondOnTwo, HttpStatusCode.OK), "node two still refused the enabled tenant's key");
        Assert.True(await AnswersWithinAsync(jwtOnTwo, HttpStatusCode.OK), "node two still refused the enabled tenant's JWT");
        await Api.ProblemAsync(await firstOnTwo.GetAsync("/events"), 401, "UNAUTHORIZED");
    }

    /// <summary>Asks every 50 ms until the answer has <paramref name="status"/>, for at most <see cref="Bound"/>.</summary>
    private static async Task<bool> AnswersWithinAsync(HttpClient client, HttpStatusCode status)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Bound)
        {
            if ((await client.GetAsync("/events")).StatusCode == status)
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }
}

using System.Net;
using System.Net.Http.Json;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>Two real server processes behind no load balancer, on one PostgreSQL database.</summary>
public sealed class MultiNodeTests
{
    [Fact]
    public async Task Two_nodes_with_300_clients_each_sell_a_pool_of_100_exactly_once()
    {
        var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        var directory = Path.Combine(Path.GetTempPath(), "capacity-nodes", Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string>
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:Postgres:ConnectionString"] = schema,
            ["Storage:DataDirectory"] = directory,
            ["Auth:AdminKey"] = CapacityApp.AdminKey,
        };
        await using var one = await ServerProcess.StartAsync(settings);
        await using var two = await ServerProcess.StartAsync(settings);

        using var admin = one.Client(CapacityApp.AdminKey);
        var tenant = await Api.ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Arena" }), 201);
        var key = tenant["api_key"]!.GetValue<string>();
        using var a = one.Client(key);
        using var b = two.Client(key);
        var pool = await a.CreateCapacityAsync("final", "Pool", 100);
        var capped = await a.CreateCapacityAsync("final", "Capped", 80, pool);
        var shared = await b.CreateCapacityAsync("final", "Shared", null, pool);

        var requests = Enumerable.Range(0, 600).Select(i => (i % 2 == 0 ? a : b).ReserveAsync(i % 3 == 0 ? shared : capped, 1));
        var responses = await Task.WhenAll(requests);

        Assert.Equal(100, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(500, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(0, await b.AvailableAsync(pool));

        // One idempotency key sent to both nodes at once: one effect.
        var keyed = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, $"/capacity/{pool}") { Content = Api.Json(new { total_capacity = 150 }) };
            request.Headers.Add("Idempotency-Key", "grow-the-pool");
            return (i % 2 == 0 ? a : b).SendAsync(request);
        }));
        Assert.All(keyed, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(19, keyed.Count(r => r.Headers.Contains("Idempotent-Replayed")));
        Assert.Equal(50, await a.AvailableAsync(pool));

        using var admin2 = two.Client(CapacityApp.AdminKey);
        var verify = await Api.ReadAsync(await admin2.GetAsync("/admin/verify"), 200);
        Assert.True(verify["ok"]!.GetValue<bool>(), verify.ToJsonString());
    }

    [Fact]
    public async Task Fifty_concurrent_holds_of_one_buyer_across_two_nodes_place_exactly_the_limit()
    {
        var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        var settings = new Dictionary<string, string>
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:Postgres:ConnectionString"] = schema,
            ["Storage:DataDirectory"] = Path.Combine(Path.GetTempPath(), "capacity-nodes", Guid.NewGuid().ToString("N")),
            ["Auth:AdminKey"] = CapacityApp.AdminKey,
        };
        await using var one = await ServerProcess.StartAsync(settings);
        await using var two = await ServerProcess.StartAsync(settings);

        using var admin = one.Client(CapacityApp.AdminKey);
        var tenant = await Api.ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Arena" }), 201);
        var key = tenant["api_key"]!.GetValue<string>();
        using var a = one.Client(key);
        using var b = two.Client(key);
        var venue = await a.CreateCapacityAsync("final", "Venue", 1000);
        var stalls = await a.CreateCapacityAsync("final", "Stalls", 500, venue);
        var circle = await b.CreateCapacityAsync("final", "Circle", 500, venue);
        var limit = await b.CreateLimitAsync("final", "Four per person", 4, stalls, circle);

        // Single holds over both sections, half through each node, one buyer.
        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            (i % 2 == 0 ? a : b).ReserveAsBuyerAsync(i % 3 == 0 ? circle : stalls, 1, "one-buyer")));

        Assert.Equal(4, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(46, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(4, await a.UsageAsync(limit, "one-buyer"));
        Assert.Equal(4, await b.UsageAsync(limit, "one-buyer"));
        Assert.Equal(996, await b.AvailableAsync(venue));

        using var admin2 = two.Client(CapacityApp.AdminKey);
        var verify = await Api.ReadAsync(await admin2.GetAsync("/admin/verify"), 200);
        Assert.True(verify["ok"]!.GetValue<bool>(), verify.ToJsonString());
    }
}

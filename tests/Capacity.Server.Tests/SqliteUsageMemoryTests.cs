using System.Net;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// The buyers' usage a SQLite node keeps in memory for per-buyer limits: shown in <c>/metrics</c>,
/// forgotten after <c>Storage:Sqlite:UsageIdleMinutes</c> without a checked hold, and loaded again
/// exactly by the next.
/// </summary>
public sealed class SqliteUsageMemoryTests
{
    [Fact]
    public async Task A_node_forgets_a_capacity_s_buyers_after_the_idle_minutes_shows_it_in_metrics_and_still_holds_every_buyer_to_the_limit()
    {
        await using var app = new CapacityApp(new() { ["Storage:Sqlite:UsageIdleMinutes"] = "5" }, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1000);
        var other = await t.CreateCapacityAsync("gig", "Balcony", 1000);
        var limit = await t.CreateLimitAsync("gig", "Four per person", 4, pool);
        var fans = Enumerable.Range(0, 12).Select(i => $"fan-{i}").ToArray();

        Assert.All(await Task.WhenAll(fans.SelectMany(f => Enumerable.Repeat(f, 3)).Select(f => t.ReserveAsBuyerAsync(pool, 1, f, 60))), r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.Equal((1, 12), await InMemoryAsync(app));

        // Six minutes without a checked hold on the pool; the next batch, on another capacity, forgets it.
        app.Clock!.Advance(TimeSpan.FromMinutes(6));
        await Api.ReadAsync(await t.ReserveAsync(other, 1), 201);
        Assert.Equal((0, 0), await InMemoryAsync(app));
        Assert.Equal(3, await t.UsageAsync(limit, "fan-0"));

        // Two more holds of every fan at once: loaded again from the file, each fan gets exactly one.
        var more = await Task.WhenAll(fans.SelectMany(f => Enumerable.Repeat(f, 2)).Select(f => t.ReserveAsBuyerAsync(pool, 1, f, 60)));
        Assert.Equal(12, more.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in more.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await Api.ProblemAsync(refused, 409, "BUYER_LIMIT_EXCEEDED");
        }

        Assert.All(await Task.WhenAll(fans.Select(f => t.UsageAsync(limit, f))), used => Assert.Equal(4, used));
        Assert.Equal((1, 12), await InMemoryAsync(app));
        await app.AssertInvariantsAsync();
    }

    private static async Task<(double Capacities, double Buyers)> InMemoryAsync(CapacityApp app)
    {
        using var anonymous = app.CreateClient();
        var samples = OperationsTests.ParsePrometheus(await anonymous.GetStringAsync("/metrics"));
        return (samples.Single(s => s.Name == "capacity_sqlite_usage_capacities").Value, samples.Single(s => s.Name == "capacity_sqlite_usage_buyers").Value);
    }
}

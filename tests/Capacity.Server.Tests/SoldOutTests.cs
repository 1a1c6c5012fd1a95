using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// A sell-out's refusals over HTTP: on SQLite the same refusal is recalled rather than decided again
/// (and its problem sent again), so these check that each refusal still says what was left when it
/// was given, on both stores.
/// </summary>
public sealed class SoldOutTests_on_sqlite() : SoldOutTests(StoreKind.Sqlite);

public sealed class SoldOutTests_on_postgres() : SoldOutTests(StoreKind.Postgres);

public abstract class SoldOutTests(StoreKind store)
{
    [Fact]
    public async Task Refusals_during_a_sell_out_each_say_what_was_left_when_they_were_given()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Pool", 10);
        var holds = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => t.HoldAsync(pool, 1)));

        async Task Refused(int quantity, long left)
        {
            var problems = await Task.WhenAll(Enumerable.Range(0, 24).Select(async _ => await Api.ProblemAsync(await t.ReserveAsync(pool, quantity), 409, "INSUFFICIENT_CAPACITY")));
            Assert.All(problems, p =>
            {
                Assert.Equal($"Not enough capacity in Pool: {quantity} requested, {left} left.", p["detail"]!.GetValue<string>());
                Assert.Equal(left, p["available_capacity"]!.GetValue<long>());
            });
        }

        await Refused(1, 0);
        await Refused(2, 0);

        Assert.Equal(200, (int)(await t.TransitAsync(holds[0], "release")).StatusCode);
        await Refused(2, 1);
        await t.HoldAsync(pool, 1);
        await Refused(1, 0);
        await Refused(2, 0);

        Assert.Equal(10, (await t.GetCapacityAsync(pool))["reserved_capacity"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }
}

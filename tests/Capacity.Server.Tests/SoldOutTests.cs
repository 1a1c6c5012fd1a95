using System.Text.Json.Nodes;
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
                Assert.Equal(pool, p["capacity_id"]!.GetValue<string>());
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

    [Fact]
    public async Task A_refused_cart_names_the_capacity_or_pool_that_is_short_and_an_early_tier_closed_by_its_sell_out_says_so()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var plenty = await t.CreateCapacityAsync("cart", "Plenty", 100);
        var venue = await t.CreateCapacityAsync("cart", "Venue", 4);
        var stalls = await t.CreateCapacityAsync("cart", "Stalls", 3, venue);
        await t.HoldAsync(stalls, 1);

        async Task<JsonObject> CartAsync(params (string Capacity, int Quantity)[] items) =>
            await Api.ProblemAsync(await t.PostAsync("/reservations", Api.Json(new { items = items.Select(i => new { capacity_id = i.Capacity, quantity = i.Quantity }) })), 409, "INSUFFICIENT_CAPACITY");

        var section = await CartAsync((plenty, 2), (stalls, 3));
        Assert.Equal((stalls, 2L), (section["capacity_id"]!.GetValue<string>(), section["available_capacity"]!.GetValue<long>()));
        var stage = await t.CreateCapacityAsync("cart", "Stage", null, venue);
        await t.HoldAsync(stage, 2);
        var pool = await CartAsync((plenty, 2), (stalls, 2));
        Assert.Equal((venue, 1L), (pool["capacity_id"]!.GetValue<string>(), pool["available_capacity"]!.GetValue<long>()));

        // An early bird closed by its sell-out is not one the organiser switched off: the refusal says which.
        var early = (await Api.ReadAsync(await t.PostAsync("/events/cart/capacity", Api.Json(new { section_name = "Early", total_capacity = 1 })), 201))["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.PostAsync("/events/cart/capacity", Api.Json(new { section_name = "Regular", total_capacity = 5, opens_after_sold_out_of = early })), 201);
        var last = await t.HoldAsync(early, 1);
        await Api.ReadAsync(await t.TransitAsync(last, "release"), 200);
        var closed = await Api.ProblemAsync(await t.ReserveAsync(early, 1), 409, "CAPACITY_INACTIVE");
        Assert.Equal((early, "sold_out"), (closed["capacity_id"]!.GetValue<string>(), closed["closed_reason"]!.GetValue<string>()));
        Assert.Contains("closed when it sold out", closed["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var check = await Api.ReadAsync(await t.PostAsync($"/capacity/{early}/check", Api.Json(new { quantity = 1 })), 200);
        Assert.Equal((false, false, early, "sold_out"), (check["available"]!.GetValue<bool>(), check["is_active"]!.GetValue<bool>(), check["inactive_capacity_id"]!.GetValue<string>(), check["closed_reason"]!.GetValue<string>()));

        await Api.ReadAsync(await t.PutAsync($"/capacity/{plenty}", Api.Json(new { is_active = false })), 200);
        var off = await Api.ProblemAsync(await t.ReserveAsync(plenty, 1), 409, "CAPACITY_INACTIVE");
        Assert.Equal(plenty, off["capacity_id"]!.GetValue<string>());
        Assert.Null(off["closed_reason"]);

        // Under a pool switched off by hand, a check names the pool, with no reason of a rule.
        await Api.ReadAsync(await t.PutAsync($"/capacity/{venue}", Api.Json(new { is_active = false })), 200);
        var under = await Api.ReadAsync(await t.PostAsync($"/capacity/{stalls}/check", Api.Json(new { quantity = 1 })), 200);
        Assert.Equal((false, venue), (under["available"]!.GetValue<bool>(), under["inactive_capacity_id"]!.GetValue<string>()));
        Assert.Null(under["closed_reason"]);
        await app.AssertInvariantsAsync();
    }
}

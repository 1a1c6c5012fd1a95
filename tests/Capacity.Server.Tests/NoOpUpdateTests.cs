using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class NoOpUpdateTests_on_sqlite() : NoOpUpdateTests(StoreKind.Sqlite);

public sealed class NoOpUpdateTests_on_postgres() : NoOpUpdateTests(StoreKind.Postgres);

/// <summary>A PUT that changes nothing writes nothing: <c>updated_at</c> keeps saying when the row last changed.</summary>
public abstract class NoOpUpdateTests(StoreKind store)
{
    [Fact]
    public async Task A_put_of_a_capacitys_or_a_prices_own_values_leaves_updated_at_alone_and_a_real_change_moves_it()
    {
        await using var app = await CapacityApp.CreateAsync(store, null, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("same", "Floor", 10);
        var price = await t.PriceAsync(pool, 40m);
        var created = await t.GetCapacityAsync(pool);
        var priced = await Api.ReadAsync(await t.GetAsync($"/pricing/{price}"), 200);
        app.Clock!.Advance(TimeSpan.FromMinutes(5));

        var same = await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { section_name = "Floor", total_capacity = 10, is_active = true })), 200);
        Assert.Equal(created["updated_at"]!.GetValue<DateTimeOffset>(), same["updated_at"]!.GetValue<DateTimeOffset>());
        var samePrice = await Api.ReadAsync(await t.PutAsync($"/pricing/{price}", Api.Json(new { base_price = 40.00m, currency = "EUR" })), 200);
        Assert.Equal(priced["updated_at"]!.GetValue<DateTimeOffset>(), samePrice["updated_at"]!.GetValue<DateTimeOffset>());

        var changed = await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { total_capacity = 12 })), 200);
        Assert.True(changed["updated_at"]!.GetValue<DateTimeOffset>() > created["updated_at"]!.GetValue<DateTimeOffset>());
        await app.AssertInvariantsAsync();
    }
}

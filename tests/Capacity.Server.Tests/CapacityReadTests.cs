using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// <c>GET /capacity/{id}</c> read over and over while the capacity changes: on SQLite each request
/// thread remembers its last answers with the committed rows they came from, so these check that a
/// remembered answer is only ever given for rows that have not changed since, on both stores.
/// </summary>
public sealed class CapacityReadTests_on_sqlite() : CapacityReadTests(StoreKind.Sqlite);

public sealed class CapacityReadTests_on_postgres() : CapacityReadTests(StoreKind.Postgres);

public abstract class CapacityReadTests(StoreKind store)
{
    private static long Reserved(JsonObject capacity) => capacity["reserved_capacity"]!.GetValue<long>();

    private static long? Available(JsonObject capacity) => capacity["available_capacity"]?.GetValue<long>();

    private static (string, DateTimeOffset?) State(JsonObject capacity) =>
        (capacity["state"]!.GetValue<string>(), capacity["next_change_at"]?.GetValue<DateTimeOffset>());

    [Fact]
    public async Task A_capacity_read_again_and_again_shows_each_acknowledged_change_on_it_or_a_pool_above_it_at_once()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Pool", 30);
        var child = await t.CreateCapacityAsync("gig", "Child", 29, pool);

        for (var i = 1; i <= 8; i++)
        {
            // The same read twice sends the same bytes, the second time from memory on SQLite.
            var first = await t.GetAsync($"/capacity/{child}");
            var second = await t.GetAsync($"/capacity/{child}");
            Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await second.Content.ReadAsByteArrayAsync());
            Assert.Equal(first.Content.Headers.ContentLength, second.Content.Headers.ContentLength);
            Assert.Equal("application/json", second.Content.Headers.ContentType?.MediaType);

            await t.HoldAsync(child, 1);
            var afterHold = await t.GetCapacityAsync(child);
            Assert.Equal((long)i, Reserved(afterHold));

            // A hold on the pool changes only the pool's row: the child's availability still follows it.
            await t.HoldAsync(pool, 2);
            Assert.Equal(30 - 3 * i, Available(await t.GetCapacityAsync(child)));
        }

        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Readers_polling_while_holds_land_never_see_a_count_go_back_and_end_on_the_last()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Pool", 100);
        using var done = new CancellationTokenSource();
        var backwards = new ConcurrentQueue<string>();

        var readers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            var seen = 0L;
            while (!done.IsCancellationRequested)
            {
                var reserved = Reserved(await t.GetCapacityAsync(pool));
                if (reserved < seen)
                {
                    backwards.Enqueue($"{seen} then {reserved}");
                }

                seen = reserved;
            }
        })).ToList();

        await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => Task.Run(() => t.HoldAsync(pool, 1))));
        await done.CancelAsync();
        await Task.WhenAll(readers);

        Assert.Empty(backwards);
        Assert.Equal(60, Reserved(await t.GetCapacityAsync(pool)));
        Assert.Equal(40, Available(await t.GetCapacityAsync(pool)));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_capacity_under_a_sale_window_read_again_and_again_shows_the_state_the_clock_gives_at_each_edge()
    {
        // No sweep: it would pass the window's edge and commit, which replaces the row; here only the clock moves.
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:SweepIntervalMs"] = "3600000" }, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var starts = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds());
        var ends = starts.AddMinutes(20);
        var created = await Api.ReadAsync(await t.PostAsync("/events/gig/capacity", Api.Json(new { section_name = "Floor", total_capacity = 10, sale_starts_at = starts, sale_ends_at = ends })), 201);
        var floor = created["id"]!.GetValue<string>();
        var pool = await t.CreateCapacityAsync("gig", "Pool", 50);
        var child = await t.CreateCapacityAsync("gig", "Under the floor's pool", 5, pool);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(("scheduled", starts), State(await t.GetCapacityAsync(floor)));
            Assert.Equal("on_sale", (await t.GetCapacityAsync(child))["state"]!.GetValue<string>());
            app.Clock.Advance(TimeSpan.FromMinutes(3));
        }

        // The window opens at its very start, and closes at its very end.
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(("on_sale", ends), State(await t.GetCapacityAsync(floor)));
            app.Clock.Advance(TimeSpan.FromMinutes(5));
        }

        app.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal("closed", (await t.GetCapacityAsync(floor))["state"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_capacity_read_by_its_tenant_is_still_not_found_for_another()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var pool = await a.CreateCapacityAsync("gig", "Pool", 10);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(10, Available(await a.GetCapacityAsync(pool)));
            await Api.ProblemAsync(await b.GetAsync($"/capacity/{pool}"), 404, "NOT_FOUND");
        }

        await app.AssertInvariantsAsync();
    }
}

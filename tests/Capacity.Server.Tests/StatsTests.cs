using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// The organiser's figures over HTTP: what concurrent holds, confirms, releases, expiries, refunds and
/// late confirms add up to per minute, conversion and time to confirm, the sell-out forecast, pools
/// counted once, tenants kept apart, and bad ranges refused.
/// </summary>
public sealed class StatsTests_on_sqlite() : StatsTests(StoreKind.Sqlite);

public sealed class StatsTests_on_postgres() : StatsTests(StoreKind.Postgres);

public abstract class StatsTests(StoreKind store)
{
    [Fact]
    public async Task Forty_concurrent_holds_on_thirty_tickets_then_confirms_releases_and_expiries_add_up_minute_by_minute()
    {
        await using var app = await CapacityApp.CreateAsync(store, null, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 30);
        var started = app.Clock!.GetUtcNow();

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => t.ReserveAsync(pool, 1, minutes: 15)));
        Assert.Equal(30, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        var holds = new List<string>();
        foreach (var r in responses.Where(r => r.StatusCode == HttpStatusCode.Created))
        {
            holds.Add((await Api.ReadAsync(r, 201))["reservation"]!["id"]!.GetValue<string>());
        }

        // Two minutes later ten are confirmed at once and five released, all concurrently.
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        var moves = holds.Take(10).Select(h => t.TransitAsync(h, "confirm")).Concat(holds.Skip(10).Take(5).Select(h => t.TransitAsync(h, "release")));
        Assert.All(await Task.WhenAll(moves), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var during = await StatsAsync(t, "gig");
        var last = during["buckets"]!.AsArray()[^1]!;
        Assert.Equal((15L, 10L), (last["holding"]!.GetValue<long>(), last["sold"]!.GetValue<long>()));
        Assert.Equal(25.0 / 10, during["forecast"]!["taken_per_minute"]!.GetValue<double>());
        Assert.Equal(5, during["forecast"]!["available"]!.GetValue<long>());
        Assert.Equal(app.Clock.GetUtcNow().AddMinutes(2), during["forecast"]!["sell_out_at"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));

        // The other fifteen expire; one of the sales is refunded in part, by the API's partial cancel.
        app.Clock.Advance(TimeSpan.FromMinutes(14));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        await Api.ReadAsync(await t.PostAsync($"/reservations/{holds[0]}/cancel", Api.Json(new { items = new[] { new { capacity_id = pool, quantity = 1 } } })), 200);

        var stats = await StatsAsync(t, "gig", $"from={Uri.EscapeDataString(started.AddMinutes(-1).ToString("O"))}");
        Assert.Equal("1m", stats["bucket"]!.GetValue<string>());
        var totals = stats["totals"]!;
        Assert.Equal(
            (30L, 10L, 5L, 15L, 1L, 0L, 9L),
            (totals["held"]!.GetValue<long>(), totals["confirmed"]!.GetValue<long>(), totals["released"]!.GetValue<long>(), totals["expired"]!.GetValue<long>(),
                totals["cancelled"]!.GetValue<long>(), totals["reclaimed"]!.GetValue<long>(), totals["net_sold"]!.GetValue<long>()));
        Assert.Equal(Math.Round(10.0 / 30, 4), stats["conversion"]!.GetValue<double>());
        Assert.Equal(10, stats["peak_sold_per_minute"]!.GetValue<long>());
        var confirmTime = stats["time_to_confirm"]!;
        Assert.Equal(10, confirmTime["confirms"]!.GetValue<long>());
        Assert.InRange(confirmTime["median_seconds"]!.GetValue<double>(), 120 * 0.9, 120 * 1.1);
        Assert.InRange(confirmTime["p95_seconds"]!.GetValue<double>(), 120 * 0.9, 120 * 1.1);

        // Each minute holds what happened in it, and the levels at its end follow.
        var buckets = stats["buckets"]!.AsArray();
        Assert.Equal(30L, buckets.Sum(b => b!["held"]!.GetValue<long>()));
        var placed = buckets.Single(b => b!["held"]!.GetValue<long>() > 0)!;
        Assert.Equal((30L, 0L), (placed["holding"]!.GetValue<long>(), placed["sold"]!.GetValue<long>()));
        var end = buckets[^1]!;
        Assert.Equal((0L, 9L), (end["holding"]!.GetValue<long>(), end["sold"]!.GetValue<long>()));
        Assert.Null(stats["forecast"]!["sell_out_at"]);
        Assert.Equal(app.Clock.GetUtcNow().AddMinutes(1).ToUnixTimeSeconds() / 60 * 60, stats["to"]!.GetValue<DateTimeOffset>().ToUnixTimeSeconds());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_pool_counts_its_sections_tickets_once_and_a_section_counts_only_its_own()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("final", "Venue", 100);
        var stalls = await t.CreateCapacityAsync("final", "Stalls", 60, venue);
        var circle = await t.CreateCapacityAsync("final", "Circle", 60, venue);
        var parking = await t.CreateCapacityAsync("final", "Parking", null);

        var sale = await t.HoldAsync(stalls, 4);
        await Api.ReadAsync(await t.TransitAsync(sale, "confirm"), 200);
        await t.HoldAsync(circle, 3);
        await t.HoldAsync(parking, 2);
        var cart = await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new { items = new object[] { new { capacity_id = stalls, quantity = 1 }, new { capacity_id = circle, quantity = 1 } } })), 201);
        await Api.ReadAsync(await t.TransitAsync(cart["id"]!.GetValue<string>(), "release"), 200);

        Assert.Equal((11L, 4L, 2L), Held(await StatsAsync(t, "final")));
        Assert.Equal((9L, 4L, 2L), Held(await StatsAsync(t, "final", $"capacity_id={venue}")));
        Assert.Equal((5L, 4L, 1L), Held(await StatsAsync(t, "final", $"capacity_id={stalls}")));
        Assert.Equal((2L, 0L, 0L), Held(await StatsAsync(t, "final", $"capacity_id={parking}")));

        // An unlimited capacity cannot sell out; the venue can, and says what it has left.
        Assert.Null((await StatsAsync(t, "final"))["forecast"]!["available"]);
        var venueForecast = (await StatsAsync(t, "final", $"capacity_id={venue}"))["forecast"]!;
        Assert.Equal(100 - 4 - 3, venueForecast["available"]!.GetValue<long>());
        Assert.NotNull(venueForecast["sell_out_at"]);

        // A closed capacity sells nothing until it opens: closing parking leaves the venue's tickets to sell.
        await Api.ReadAsync(await t.PutAsync($"/capacity/{parking}", Api.Json(new { is_active = false })), 200);
        Assert.Equal(93, (await StatsAsync(t, "final"))["forecast"]!["available"]!.GetValue<long>());
        await Api.ReadAsync(await t.PutAsync($"/capacity/{venue}", Api.Json(new { is_active = false })), 200);
        Assert.Equal(0, (await StatsAsync(t, "final", $"capacity_id={venue}"))["forecast"]!["available"]!.GetValue<long>());
        Assert.Null((await StatsAsync(t, "final", $"capacity_id={venue}"))["forecast"]!["sell_out_at"]);
        await app.AssertInvariantsAsync();

        static (long Held, long Confirmed, long Released) Held(JsonObject stats)
        {
            var totals = stats["totals"]!;
            return (totals["held"]!.GetValue<long>(), totals["confirmed"]!.GetValue<long>(), totals["released"]!.GetValue<long>());
        }
    }

    /// <summary>A venue's cap over two nights, kept as an event of its own: each night's forecast counts the cap once.</summary>
    [Fact]
    public async Task An_events_sections_sharing_another_events_pool_have_left_what_the_pool_has_left_not_twice_that()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("season", "Venue cap", 100);
        var stalls = await t.CreateCapacityAsync("friday", "Stalls", 80, venue);
        var circle = await t.CreateCapacityAsync("friday", "Circle", 80, venue);
        await t.HoldAsync(stalls, 50);
        await t.HoldAsync(circle, 20);

        Assert.Equal(30, (await StatsAsync(t, "friday"))["forecast"]!["available"]!.GetValue<long>());
        Assert.Equal(30, (await StatsAsync(t, "friday", $"capacity_id={circle}"))["forecast"]!["available"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_section_under_a_closed_pool_sells_nothing_so_its_forecast_has_nothing_left_until_the_pool_reopens()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("arena", "Venue", 100);
        var floor = await t.CreateCapacityAsync("arena", "Floor", 60, venue);
        var seats = await t.CreateCapacityAsync("arena", "Seats", null, venue);
        await t.HoldAsync(floor, 5);
        await t.HoldAsync(seats, 3);
        Assert.Equal((55L, true), Forecast(await StatsAsync(t, "arena", $"capacity_id={floor}")));
        Assert.Equal((92L, true), Forecast(await StatsAsync(t, "arena", $"capacity_id={seats}")));

        // The sections stay active themselves, but a hold on them is refused while the venue is closed.
        await Api.ReadAsync(await t.PutAsync($"/capacity/{venue}", Api.Json(new { is_active = false })), 200);
        await Api.ProblemAsync(await t.ReserveAsync(floor, 1), 409, "CAPACITY_INACTIVE");
        Assert.True((await t.GetCapacityAsync(floor))["is_active"]!.GetValue<bool>());
        Assert.Equal((0L, false), Forecast(await StatsAsync(t, "arena", $"capacity_id={floor}")));
        Assert.Equal((0L, false), Forecast(await StatsAsync(t, "arena", $"capacity_id={seats}")));
        Assert.Equal((0L, false), Forecast(await StatsAsync(t, "arena")));

        await Api.ReadAsync(await t.PutAsync($"/capacity/{venue}", Api.Json(new { is_active = true })), 200);
        Assert.Equal((55L, true), Forecast(await StatsAsync(t, "arena", $"capacity_id={floor}")));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Tickets_outside_their_sale_window_are_not_left_to_sell_while_a_tier_that_the_sale_under_way_will_open_is()
    {
        await using var app = await CapacityApp.CreateAsync(store, null, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        // Windows are kept to the millisecond.
        var start = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().ToUnixTimeMilliseconds());
        var presale = await CreateAsync(t, "fest", new { section_name = "Presale", total_capacity = 20, sale_ends_at = start.AddMinutes(5) });
        var day = await CreateAsync(t, "fest", new { section_name = "Day ticket", total_capacity = 50 });
        var weekend = await CreateAsync(t, "fest", new { section_name = "Weekend", total_capacity = 40, sale_starts_at = start.AddMinutes(30) });
        var late = await CreateAsync(t, "fest", new { section_name = "Late day ticket", total_capacity = 30, opens_after_sold_out_of = day });
        await t.HoldAsync(presale, 4);
        await t.HoldAsync(day, 6);

        // The presale has ended and the weekend has not started: neither sells at any rate. The late
        // tier opens when the day tickets sell out, by the very sales the rate counts.
        app.Clock.Advance(TimeSpan.FromMinutes(6));
        var stats = await StatsAsync(t, "fest");
        Assert.Equal(1.0, stats["forecast"]!["taken_per_minute"]!.GetValue<double>());
        Assert.Equal(44 + 30, stats["forecast"]!["available"]!.GetValue<long>());
        Assert.Equal(app.Clock.GetUtcNow().AddMinutes(74), stats["forecast"]!["sell_out_at"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));
        Assert.Equal((0L, false), Forecast(await StatsAsync(t, "fest", $"capacity_id={presale}")));
        Assert.Equal((0L, false), Forecast(await StatsAsync(t, "fest", $"capacity_id={weekend}")));
        Assert.Equal(30, (await StatsAsync(t, "fest", $"capacity_id={late}"))["forecast"]!["available"]!.GetValue<long>());

        // From its start the weekend is on sale; a tier after a capacity closed by hand never opens.
        app.Clock.Advance(TimeSpan.FromMinutes(24));
        Assert.Equal(44 + 40 + 30, (await StatsAsync(t, "fest"))["forecast"]!["available"]!.GetValue<long>());
        await Api.ReadAsync(await t.PutAsync($"/capacity/{day}", Api.Json(new { is_active = false })), 200);
        Assert.Equal(40, (await StatsAsync(t, "fest"))["forecast"]!["available"]!.GetValue<long>());
        Assert.Equal((0L, false), Forecast(await StatsAsync(t, "fest", $"capacity_id={late}")));
        await app.AssertInvariantsAsync();

        static async Task<string> CreateAsync(HttpClient client, string eventId, object body) =>
            (await Api.ReadAsync(await client.PostAsync($"/events/{eventId}/capacity", Api.Json(body)), 201))["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task A_sale_whose_window_closes_before_the_current_rate_would_sell_it_out_has_no_sell_out_forecast()
    {
        await using var app = await CapacityApp.CreateAsync(store, null, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var start = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().ToUnixTimeMilliseconds());
        var gala = (await Api.ReadAsync(await t.PostAsync("/events/gala/capacity", Api.Json(
            new { section_name = "Gala", total_capacity = 100, sale_ends_at = start.AddMinutes(30) })), 201))["id"]!.GetValue<string>();
        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => t.HoldAsync(gala, 1)));

        // Ten tickets in the last ten minutes, one a minute: 90 left take 90 minutes, and the window closes in 25.
        app.Clock.Advance(TimeSpan.FromMinutes(5));
        foreach (var query in new[] { "", $"capacity_id={gala}" })
        {
            var stats = await StatsAsync(t, "gala", query);
            Assert.Equal((1.0, 90L), (stats["forecast"]!["taken_per_minute"]!.GetValue<double>(), stats["forecast"]!["available"]!.GetValue<long>()));
            Assert.Null(stats["forecast"]!["sell_out_at"]);
        }

        // Without the end, the same rate sells it out.
        await Api.ReadAsync(await t.PutAsync($"/capacity/{gala}", Api.Json(new { sale_ends_at = (DateTimeOffset?)null })), 200);
        Assert.Equal(app.Clock.GetUtcNow().AddMinutes(90), (await StatsAsync(t, "gala"))["forecast"]!["sell_out_at"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Another_tenant_sees_none_of_the_figures_and_cannot_name_the_capacity()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var pool = await a.CreateCapacityAsync("shared-name", "Pool", 10);
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => a.HoldAsync(pool, 1)));

        Assert.Equal(5, (await StatsAsync(a, "shared-name"))["totals"]!["held"]!.GetValue<long>());
        var other = await StatsAsync(b, "shared-name");
        Assert.Equal(0, other["totals"]!["held"]!.GetValue<long>());
        Assert.All(other["buckets"]!.AsArray(), bucket => Assert.Equal(0, bucket!["holding"]!.GetValue<long>()));
        await Api.ProblemAsync(await b.GetAsync($"/events/shared-name/stats?capacity_id={pool}"), 404, "NOT_FOUND");
        await app.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("bucket=2m", "bucket")]
    [InlineData("bucket=", "bucket")]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2026-01-01T00:00:00", "to")]
    [InlineData("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:01:00Z&bucket=1m", "from")]
    [InlineData("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=1d", "from")]
    [InlineData("capacity_id=not-a-uuid", "capacity_id")]
    [InlineData("to=9999-12-31T23:59:59Z&bucket=1d", "to")]
    [InlineData("to=9999-12-31T23:59:30Z", "to")]
    [InlineData("from=9999-12-31T23:00:00Z&to=9999-12-31T23:59:01Z&bucket=5m", "to")]
    public async Task A_bad_range_is_refused_with_the_field_at_fault(string query, string field)
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        await t.CreateCapacityAsync("e", "Pool", 10);
        var problem = await Api.ProblemAsync(await t.GetAsync($"/events/e/stats?{query}"), 400, "VALIDATION_ERROR");
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }

    [Fact]
    public async Task A_day_of_1440_minutes_is_the_largest_range_and_an_hour_bucket_sums_its_minutes()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        await t.HoldAsync(pool, 2);
        var day = await StatsAsync(t, "e", "from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z");
        Assert.Equal(1440, day["buckets"]!.AsArray().Count);

        var hours = await StatsAsync(t, "e", "bucket=1h");
        Assert.Equal(60, hours["buckets"]!.AsArray().Count);
        Assert.Equal(2, hours["buckets"]!.AsArray()[^1]!["held"]!.GetValue<long>());
        Assert.Equal(TimeSpan.FromHours(1), hours["buckets"]!.AsArray()[1]!["start"]!.GetValue<DateTimeOffset>() - hours["buckets"]!.AsArray()[0]!["start"]!.GetValue<DateTimeOffset>());
    }

    /// <summary>What the forecast has left to sell, and whether it says when that sells out.</summary>
    private static (long? Available, bool SellsOut) Forecast(JsonObject stats) =>
        (stats["forecast"]!["available"]?.GetValue<long>(), stats["forecast"]!["sell_out_at"] is not null);

    private static async Task<JsonObject> StatsAsync(HttpClient client, string eventId, string query = "") =>
        await Api.ReadAsync(await client.GetAsync($"/events/{eventId}/stats?{query}"), 200);
}

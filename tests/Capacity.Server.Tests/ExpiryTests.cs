using System.Net;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>Holds lapse on time, return their tickets, and can never be confirmed afterwards.</summary>
public sealed class ExpiryTests_on_sqlite() : ExpiryTests(StoreKind.Sqlite);

public sealed class ExpiryTests_on_postgres() : ExpiryTests(StoreKind.Postgres);

public abstract class ExpiryTests(StoreKind store) : IAsyncLifetime
{
    private CapacityApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await CapacityApp.CreateAsync(store, manualClock: true);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task A_lapsed_hold_is_expired_by_the_sweeper_and_its_tickets_return()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        var child = await t.CreateCapacityAsync("e", "Child", null, pool);
        var hold = await t.HoldAsync(child, 4, minutes: 1);
        Assert.Equal(6, await t.AvailableAsync(pool));

        _app.Clock!.Advance(TimeSpan.FromSeconds(61));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (await t.AvailableAsync(pool) != 10 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(10, await t.AvailableAsync(pool));
        var r = await Api.ReadAsync(await t.GetAsync($"/reservations/{hold}"), 200);
        Assert.Equal("expired", r["status"]!.GetValue<string>());
        Assert.NotNull(r["ended_at"]);
        await Api.ProblemAsync(await t.TransitAsync(hold, "confirm"), 409, "RESERVATION_EXPIRED");
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_hold_past_its_expiry_cannot_be_confirmed_even_before_the_sweeper_runs()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:SweepIntervalMs"] = "3600000" }, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        var hold = await t.HoldAsync(pool, 2, minutes: 1);

        app.Clock!.Advance(TimeSpan.FromMinutes(1));
        var read = await Api.ReadAsync(await t.GetAsync($"/reservations/{hold}"), 200);
        Assert.Equal("expired", read["status"]!.GetValue<string>());
        await Api.ProblemAsync(await t.TransitAsync(hold, "confirm"), 409, "RESERVATION_EXPIRED");

        // Touching it expired it for real: the tickets are back without the sweeper.
        Assert.Equal(10, await t.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_confirm_racing_the_expiry_has_exactly_one_winner()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:SweepIntervalMs"] = "3600000" }, manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 200);
        var holds = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            holds.Add(await t.HoldAsync(pool, 1, minutes: 1));
        }

        // Confirms and the sweep go in together while the clock crosses the expiry.
        var confirms = holds.Select(h => t.TransitAsync(h, "confirm")).ToList();
        app.Clock!.Advance(TimeSpan.FromSeconds(60));
        var sweep = app.Sweeper.SweepOnceAsync(CancellationToken.None);
        var responses = await Task.WhenAll(confirms);
        await sweep;
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);

        var confirmed = 0;
        var expired = 0;
        for (var i = 0; i < holds.Count; i++)
        {
            var status = (await Api.ReadAsync(await t.GetAsync($"/reservations/{holds[i]}"), 200))["status"]!.GetValue<string>();
            if (status == "confirmed")
            {
                confirmed++;
                Assert.Equal(HttpStatusCode.OK, responses[i].StatusCode);
            }
            else
            {
                Assert.Equal("expired", status);
                expired++;
                await Api.ProblemAsync(responses[i], 409, "RESERVATION_EXPIRED");
            }
        }

        Assert.Equal(100, confirmed + expired);
        var p = await t.GetCapacityAsync(pool);
        Assert.Equal(confirmed, p["sold_count"]!.GetValue<long>());
        Assert.Equal(0, p["reserved_capacity"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Extending_resets_the_expiry_but_never_beyond_the_lifetime_limit()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        var hold = await t.HoldAsync(pool, 1, minutes: 15);

        _app.Clock!.Advance(TimeSpan.FromMinutes(10));
        var extended = await Api.ReadAsync(await t.PostAsync($"/reservations/{hold}/extend", Api.Json(new { minutes = 30 })), 200);
        var expires = DateTimeOffset.Parse(extended["expires_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires, _app.Clock.GetUtcNow().AddMinutes(30).AddSeconds(-1), _app.Clock.GetUtcNow().AddMinutes(30).AddSeconds(1));

        _app.Clock.Advance(TimeSpan.FromMinutes(29));
        await Api.ProblemAsync(await t.PostAsync($"/reservations/{hold}/extend", Api.Json(new { minutes = 120 })), 409, "RESERVATION_EXTENSION_LIMIT");
        await Api.ReadAsync(await t.PostAsync($"/reservations/{hold}/extend", Api.Json(new { minutes = 60 })), 200);
        await Api.ProblemAsync(await t.PostAsync($"/reservations/{hold}/extend", Api.Json(new { minutes = 0 })), 400, "VALIDATION_ERROR");
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Each_transition_happens_once_and_repeats_answer_as_specified()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        var a = await t.HoldAsync(pool, 2);
        var b = await t.HoldAsync(pool, 3);

        Assert.Equal("confirmed", (await Api.ReadAsync(await t.TransitAsync(a, "confirm"), 200))["status"]!.GetValue<string>());
        Assert.Equal("confirmed", (await Api.ReadAsync(await t.TransitAsync(a, "confirm"), 200))["status"]!.GetValue<string>());
        await Api.ProblemAsync(await t.TransitAsync(a, "release"), 409, "RESERVATION_NOT_ACTIVE");
        Assert.Equal("released", (await Api.ReadAsync(await t.TransitAsync(b, "release"), 200))["status"]!.GetValue<string>());
        Assert.Equal("released", (await Api.ReadAsync(await t.TransitAsync(b, "release"), 200))["status"]!.GetValue<string>());
        await Api.ProblemAsync(await t.TransitAsync(b, "confirm"), 409, "RESERVATION_NOT_ACTIVE");
        await Api.ProblemAsync(await t.TransitAsync(b, "cancel"), 409, "RESERVATION_NOT_ACTIVE");

        Assert.Equal(8, await t.AvailableAsync(pool));
        Assert.Equal("cancelled", (await Api.ReadAsync(await t.TransitAsync(a, "cancel"), 200))["status"]!.GetValue<string>());
        await Api.ProblemAsync(await t.TransitAsync(a, "cancel"), 409, "RESERVATION_NOT_ACTIVE");
        Assert.Equal(10, await t.AvailableAsync(pool));
        await _app.AssertInvariantsAsync();
    }
}

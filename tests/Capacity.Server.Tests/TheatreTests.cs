using System.Net.Http.Json;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>Seed 004's theatre, end to end through the HTTP API.</summary>
public sealed class TheatreTests_on_sqlite() : TheatreTests(StoreKind.Sqlite);

public sealed class TheatreTests_on_postgres() : TheatreTests(StoreKind.Postgres);

public abstract class TheatreTests(StoreKind store) : IAsyncLifetime
{
    private CapacityApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await CapacityApp.CreateAsync(store);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task The_seed_theatre_draws_shared_capped_own_and_unlimited_capacity_correctly()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("play-789", "Theatre", 100);
        var adult = await t.CreateCapacityAsync("play-789", "Adult", 50, pool);
        var child = await t.CreateCapacityAsync("play-789", "Child", null, pool);
        var vip = await t.CreateCapacityAsync("play-789", "VIP", 20);
        var stream = await t.CreateCapacityAsync("play-789", "Live-stream", null);

        Assert.Equal("own", (await t.GetCapacityAsync(pool))["mode"]!.GetValue<string>());
        Assert.Equal("capped", (await t.GetCapacityAsync(adult))["mode"]!.GetValue<string>());
        Assert.Equal("shared", (await t.GetCapacityAsync(child))["mode"]!.GetValue<string>());
        Assert.Equal("own", (await t.GetCapacityAsync(vip))["mode"]!.GetValue<string>());
        Assert.Equal("unlimited", (await t.GetCapacityAsync(stream))["mode"]!.GetValue<string>());

        var cart = await t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[] { new { capacity_id = adult, quantity = 2 }, new { capacity_id = child, quantity = 1 } },
        }));
        await Api.ReadAsync(cart, 201);
        Assert.Equal(97, await t.AvailableAsync(pool));
        Assert.Equal(48, await t.AvailableAsync(adult));
        Assert.Equal(97, await t.AvailableAsync(child));

        await t.HoldAsync(vip, 3);
        Assert.Equal(17, await t.AvailableAsync(vip));

        await t.HoldAsync(stream, 1);
        Assert.Null(await t.AvailableAsync(stream));
        Assert.Equal(97, await t.AvailableAsync(pool));

        var totals = await Api.ReadAsync(await t.GetAsync("/events/play-789/capacity/total"), 200);
        Assert.Equal(120, totals["total_capacity"]!.GetValue<long>());
        Assert.Equal(97 + 17, totals["available_capacity"]!.GetValue<long>());
        Assert.Equal(3 + 3 + 1, totals["reserved_capacity"]!.GetValue<long>());
        Assert.True(totals["has_unlimited"]!.GetValue<bool>());

        var list = await Api.ReadAsync(await t.GetAsync("/events/play-789/capacity"), 200);
        Assert.Equal(5, list["capacity"]!.AsArray().Count);
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_weekend_pass_drawing_from_two_days_charges_a_shared_venue_pool_once()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("fest", "Venue", 1000);
        var saturday = await t.CreateCapacityAsync("fest-sat", "Saturday", 300, venue);
        var sunday = await t.CreateCapacityAsync("fest-sun", "Sunday", 300, venue);
        var pass = await t.CreateCapacityAsync("fest", "Weekend pass", 100, saturday, sunday);

        await t.HoldAsync(pass, 4);

        Assert.Equal(996, await t.AvailableAsync(venue));
        Assert.Equal(296, await t.AvailableAsync(saturday));
        Assert.Equal(296, await t.AvailableAsync(sunday));
        Assert.Equal(96, await t.AvailableAsync(pass));
        Assert.Equal(4, (await t.GetCapacityAsync(venue))["reserved_capacity"]!.GetValue<long>());

        // Saturday's ledger shows the pass's charge on Saturday's pool.
        var ledger = await Api.ReadAsync(await t.GetAsync("/events/fest-sat/ledger"), 200);
        Assert.Single(ledger["entries"]!.AsArray());
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_mode_that_disagrees_with_the_fields_is_rejected()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e1", "Pool", 10);
        var response = await t.PostAsync("/events/e1/capacity", Api.Json(new { section_name = "X", total_capacity = 5, mode = "shared", parent_ids = new[] { pool } }));
        await Api.ProblemAsync(response, 400, "VALIDATION_ERROR");
        var ok = await t.PostAsync("/events/e1/capacity", Api.Json(new { section_name = "X", total_capacity = 5, mode = "capped", parent_ids = new[] { pool } }));
        await Api.ReadAsync(ok, 201);
    }

    [Fact]
    public async Task Nesting_deeper_than_eight_levels_is_rejected()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var parent = await t.CreateCapacityAsync("deep", "L1", 100);
        for (var level = 2; level <= 8; level++)
        {
            parent = await t.CreateCapacityAsync("deep", $"L{level}", 100, parent);
        }

        var response = await t.PostAsync("/events/deep/capacity", Api.Json(new { section_name = "L9", total_capacity = 1, parent_ids = new[] { parent } }));
        await Api.ProblemAsync(response, 400, "VALIDATION_ERROR");

        await t.HoldAsync(parent, 5);
        Assert.Equal(95, await t.AvailableAsync(parent));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Resizing_below_what_is_held_and_sold_is_refused_and_counters_are_not_writable()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e1", "Pool", 10);
        var hold = await t.HoldAsync(pool, 4);
        await Api.ReadAsync(await t.TransitAsync(hold, "confirm"), 200);
        await t.HoldAsync(pool, 3);

        await Api.ProblemAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { total_capacity = 6 })), 409, "CAPACITY_BELOW_COMMITTED");
        await Api.ProblemAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { available_capacity = 100 })), 400, "VALIDATION_ERROR");
        var resized = await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { total_capacity = 7, section_name = "Stalls" })), 200);
        Assert.Equal(0, resized["available_capacity"]!.GetValue<long>());
        Assert.Equal("Stalls", resized["section_name"]!.GetValue<string>());
        var unlimited = await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { total_capacity = (int?)null })), 200);
        Assert.Equal("unlimited", unlimited["mode"]!.GetValue<string>());
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_deactivated_capacity_refuses_new_holds_but_confirms_existing_ones()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e1", "Pool", 10);
        var child = await t.CreateCapacityAsync("e1", "Child", null, pool);
        var hold = await t.HoldAsync(child, 2);
        await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { is_active = false })), 200);

        await Api.ProblemAsync(await t.ReserveAsync(child, 1), 409, "CAPACITY_INACTIVE");
        var check = await Api.ReadAsync(await t.PostAsync($"/capacity/{child}/check", Api.Json(new { quantity = 1 })), 200);
        Assert.False(check["available"]!.GetValue<bool>());
        var confirmed = await Api.ReadAsync(await t.TransitAsync(hold, "confirm"), 200);
        Assert.Equal("confirmed", confirmed["status"]!.GetValue<string>());
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Check_answers_from_the_effective_availability()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e1", "Pool", 5);
        var child = await t.CreateCapacityAsync("e1", "Child", 50, pool);
        var yes = await Api.ReadAsync(await t.PostAsync($"/capacity/{child}/check", Api.Json(new { quantity = 5 })), 200);
        Assert.True(yes["available"]!.GetValue<bool>());
        Assert.Equal(5, yes["available_capacity"]!.GetValue<long>());
        var no = await Api.ReadAsync(await t.PostAsync($"/capacity/{child}/check", Api.Json(new { quantity = 6 })), 200);
        Assert.False(no["available"]!.GetValue<bool>());
        Assert.Equal(6, no["quantity"]!.GetValue<int>());
        await Api.ProblemAsync(await t.PostAsync($"/capacity/{child}/check", Api.Json(new { quantity = 0 })), 400, "INVALID_QUANTITY");
    }

    [Fact]
    public async Task A_cart_is_all_or_nothing()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var a = await t.CreateCapacityAsync("e1", "A", 10);
        var b = await t.CreateCapacityAsync("e1", "B", 1);
        var response = await t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[] { new { capacity_id = a, quantity = 5 }, new { capacity_id = b, quantity = 2 } },
        }));
        var problem = await Api.ProblemAsync(response, 409, "INSUFFICIENT_CAPACITY");
        Assert.Equal(1, problem["available_capacity"]!.GetValue<long>());
        Assert.Equal(10, await t.AvailableAsync(a));
        Assert.Equal(1, await t.AvailableAsync(b));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_ledger_pages_in_sequence_order()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e1", "Pool", 100);
        for (var i = 0; i < 5; i++)
        {
            await t.HoldAsync(pool, 1);
        }

        var first = await Api.ReadAsync(await t.GetAsync("/events/e1/ledger?limit=3"), 200);
        Assert.Equal(3, first["entries"]!.AsArray().Count);
        var next = first["next_after"]!.GetValue<long>();
        var second = await Api.ReadAsync(await t.GetAsync($"/events/e1/ledger?after={next}&limit=3"), 200);
        Assert.Equal(2, second["entries"]!.AsArray().Count);
        Assert.True(second["entries"]![0]!["sequence"]!.GetValue<long>() > next);
        Assert.Null(second["next_after"]);
        await Api.ProblemAsync(await t.GetAsync("/events/e1/ledger?limit=0"), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.GetAsync("/events/e1/ledger?after=x"), 400, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task Admin_can_issue_another_key_that_works_like_the_first()
    {
        var tenant = await _app.NewTenantAsync();
        using var admin = _app.Admin();
        var issued = await Api.ReadAsync(await admin.PostAsync($"/admin/tenants/{tenant.Id}/keys", null), 201);
        var second = _app.WithToken(issued["api_key"]!.GetValue<string>());
        var id = await tenant.Client.CreateCapacityAsync("e1", "Pool", 10);
        Assert.Equal(10, await second.AvailableAsync(id));
        await Api.ProblemAsync(await admin.PostAsync($"/admin/tenants/{Guid.NewGuid()}/keys", null), 404, "NOT_FOUND");
        await Api.ProblemAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "" }), 400, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task A_body_sent_as_anything_but_json_is_refused_with_415_and_changes_nothing()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e1", "Pool", 10);
        var form = new StringContent("{\"quantity\":1}", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
        await Api.ProblemAsync(await t.PostAsync($"/capacity/{pool}/reserve", form), 415, "UNSUPPORTED_MEDIA_TYPE");
        var text = new StringContent("{\"section_name\":\"X\"}", System.Text.Encoding.UTF8, "text/plain");
        await Api.ProblemAsync(await t.PostAsync("/events/e1/capacity", text), 415, "UNSUPPORTED_MEDIA_TYPE");
        Assert.Equal(10, await t.AvailableAsync(pool));
        Assert.Single((await Api.ReadAsync(await t.GetAsync("/events/e1/capacity"), 200))["capacity"]!.AsArray());
        await _app.AssertInvariantsAsync();
    }
}

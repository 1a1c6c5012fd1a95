using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Holds that change in part, over HTTP: PATCH to new target quantities, a partial confirm, a partial
/// refund, a confirm after expiry (reclaim) with its exact shortfall, retries that apply once, a race
/// of changes and confirms on one hold, bad input, and tenants kept apart.
/// </summary>
public sealed class HoldChangeTests_on_sqlite() : HoldChangeTests(StoreKind.Sqlite);

public sealed class HoldChangeTests_on_postgres() : HoldChangeTests(StoreKind.Postgres);

public abstract class HoldChangeTests(StoreKind store)
{
    private Task<CapacityApp> NewAppAsync(bool manualClock = false) => CapacityApp.CreateAsync(store, null, manualClock);

    /// <summary>
    /// A change that moves a hold's tickets to another event moves its listing too: it is listed, and
    /// counted in the live stream's holds, under the events of its items, not under one it has left.
    /// </summary>
    [Fact]
    public async Task A_hold_changed_to_another_events_capacity_is_listed_under_that_event_and_no_longer_under_the_one_it_left()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var x = await t.CreateCapacityAsync("ev-x", "X", 10);
        var y = await t.CreateCapacityAsync("ev-y", "Y", 10);
        var z = await t.CreateCapacityAsync("ev-z", "Z", 10);
        var moved = await t.HoldAsync(x, 2);
        var cart = (await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new { items = new[] { new { capacity_id = x, quantity = 1 }, new { capacity_id = y, quantity = 1 } } })), 201))["id"]!.GetValue<string>();

        await Api.ReadAsync(await t.ChangeAsync(moved, (x, 0), (z, 2)), 200);
        await Api.ReadAsync(await t.ChangeAsync(cart, (x, 0), (y, 1), (z, 1)), 200);

        async Task<string[]> ListedAsync(string eventId) =>
            [.. (await Api.ReadAsync(await t.GetAsync($"/reservations?event_id={eventId}&status=active"), 200))["reservations"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).Order()];
        Assert.Empty(await ListedAsync("ev-x"));
        Assert.Equal(new[] { cart }, await ListedAsync("ev-y"));
        Assert.Equal(new[] { cart, moved }.Order(), await ListedAsync("ev-z"));

        // Confirmed, the moved hold stays where it went.
        await Api.ReadAsync(await t.TransitAsync(moved, "confirm"), 200);
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/reservations?event_id=ev-x"), 200))["reservations"]!.AsArray());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Lowering_a_hold_from_4_to_2_gives_2_back_and_keeps_its_expiry_and_raising_it_past_what_is_free_changes_nothing()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var hold = await t.HoldAsync(pool, 4);
        await t.HoldAsync(pool, 5);
        var expiresAt = (await t.ReservationAsync(hold))["expires_at"]!.GetValue<DateTimeOffset>();
        app.Clock!.Advance(TimeSpan.FromMinutes(3));

        var lowered = await Api.ReadAsync(await t.ChangeAsync(hold, (pool, 2)), 200);
        Assert.Equal(("active", 2, expiresAt), (lowered["status"]!.GetValue<string>(), Quantity(lowered, pool), lowered["expires_at"]!.GetValue<DateTimeOffset>()));
        Assert.Equal(3, await t.AvailableAsync(pool));
        var entry = (await t.LedgerAsync("gig"))[^1]!;
        Assert.Equal(("release", -2L, hold), (entry["kind"]!.GetValue<string>(), entry["reserved_delta"]!.GetValue<long>(), entry["reservation_id"]!.GetValue<string>()));

        // 1 free after another hold of 2: 6 would need 4 more. Nothing moves.
        await t.HoldAsync(pool, 2);
        var before = StateSnapshot.OfDatabase(app);
        var refused = await Api.ProblemAsync(await t.ChangeAsync(hold, (pool, 6)), 409, "INSUFFICIENT_CAPACITY");
        Assert.Equal(1, refused["available_capacity"]!.GetValue<long>());
        Assert.Equal(2, Quantity(await t.ReservationAsync(hold), pool));
        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        // reservation_minutes moves the expiry, from now.
        var raised = await Api.ReadAsync(await t.ChangeAsync(hold, 30, (pool, 3)), 200);
        Assert.Equal(3, Quantity(raised, pool));
        Assert.Equal(app.Clock.GetUtcNow().AddMinutes(30), raised["expires_at"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, await t.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_sale_refunded_at_once_in_parts_or_both_reads_the_same_every_ticket_cancelled_and_nothing_to_pay()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("show", "Stalls", 20);
        var price = await t.PriceAsync(pool, 10m);
        async Task<string> SaleAsync()
        {
            var id = (await Api.ReadAsync(await t.PostAsync($"/capacity/{pool}/reserve", Api.Json(new { quantity = 3, pricing_id = price })), 201))["reservation"]!["id"]!.GetValue<string>();
            await Api.ReadAsync(await t.TransitAsync(id, "confirm"), 200);
            return id;
        }

        var atOnce = await SaleAsync();
        var inParts = await SaleAsync();
        var both = await SaleAsync();
        var answers = new List<JsonObject>
        {
            await Api.ReadAsync(await t.TransitAsync(atOnce, "cancel"), 200),
            await Api.ReadAsync(await t.CancelPartAsync(inParts, (pool, 3)), 200),
        };
        await Api.ReadAsync(await t.CancelPartAsync(both, (pool, 1)), 200);
        answers.Add(await Api.ReadAsync(await t.TransitAsync(both, "cancel"), 200));

        foreach (var (answer, id) in answers.Zip([atOnce, inParts, both]))
        {
            var item = answer["items"]!.AsArray().Single()!;
            Assert.Equal(("cancelled", 0, 3, 0m), (answer["status"]!.GetValue<string>(), item["quantity"]!.GetValue<int>(), item["cancelled_quantity"]!.GetValue<int>(), answer["totals"]![0]!["total"]!.GetValue<decimal>()));
            Assert.Equal(answer["items"]!.ToJsonString(), (await t.ReservationAsync(id))["items"]!.ToJsonString());
        }

        Assert.Equal(20, await t.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_change_adds_a_capacity_at_the_current_price_keeps_locked_prices_removes_at_0_and_releases_when_all_are_0()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var stalls = await t.CreateCapacityAsync("show", "Stalls", 10);
        var circle = await t.CreateCapacityAsync("show", "Circle", 10);
        var price = await t.PriceAsync(stalls, 40m);
        var circlePrice = await t.PriceAsync(circle, 25m);
        var hold = (await Api.ReadAsync(await t.PostAsync($"/capacity/{stalls}/reserve", Api.Json(new { quantity = 2, pricing_id = price })), 201))["reservation"]!["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.PutAsync($"/pricing/{price}", Api.Json(new { current_price = 55m })), 200);

        // Two more stalls lock today's price; the two held keep theirs; circle seats come at their entry's price.
        var changed = await Api.ReadAsync(await t.PatchAsync($"/reservations/{hold}", Api.Json(new
        {
            items = new object[] { new { capacity_id = stalls, quantity = 4 }, new { capacity_id = circle, quantity = 3, pricing_id = circlePrice } },
        })), 200);
        var items = changed["items"]!.AsArray();
        Assert.Equal(
            [(stalls, 2, 40m), (stalls, 2, 55m), (circle, 3, 25m)],
            items.Select(i => (i!["capacity_id"]!.GetValue<string>(), i["quantity"]!.GetValue<int>(), i["locked_price"]!["unit_price"]!.GetValue<decimal>())));
        Assert.All(items, i => Assert.Null(i!["cancelled_quantity"]));
        Assert.Equal(2 * 40m + 2 * 55m + 3 * 25m, changed["totals"]![0]!["subtotal"]!.GetValue<decimal>());
        Assert.Equal((6L, 7L), (await t.AvailableAsync(stalls), await t.AvailableAsync(circle)));

        var removed = await Api.ReadAsync(await t.ChangeAsync(hold, (stalls, 0)), 200);
        Assert.Equal([(circle, 3)], removed["items"]!.AsArray().Select(i => (i!["capacity_id"]!.GetValue<string>(), i["quantity"]!.GetValue<int>())));
        Assert.Equal(10, await t.AvailableAsync(stalls));

        var released = await Api.ReadAsync(await t.ChangeAsync(hold, (circle, 0)), 200);
        Assert.Equal("released", released["status"]!.GetValue<string>());
        Assert.Equal(10, await t.AvailableAsync(circle));
        await Api.ProblemAsync(await t.ChangeAsync(hold, (circle, 1)), 409, "RESERVATION_NOT_ACTIVE");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Confirming_3_of_5_sells_3_and_gives_2_back_and_refunding_1_of_3_lowers_sold_on_every_pool_above()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("final", "Venue", 100);
        var level = await t.CreateCapacityAsync("final", "Level 1", 60, venue);
        var stalls = await t.CreateCapacityAsync("final", "Stalls", 50, level);
        var hold = await t.HoldAsync(stalls, 5);

        var sale = await Api.ReadAsync(await t.ConfirmPartAsync(hold, (stalls, 3)), 200);
        Assert.Equal(("confirmed", 3), (sale["status"]!.GetValue<string>(), Quantity(sale, stalls)));
        Assert.Null(sale["reclaimed"]);
        foreach (var node in new[] { venue, level, stalls })
        {
            Assert.Equal((0L, 3L), await CountersAsync(t, node));
        }

        Assert.Equal(47, await t.AvailableAsync(stalls));

        var refunded = await Api.ReadAsync(await t.CancelPartAsync(hold, (stalls, 1)), 200);
        var item = refunded["items"]![0]!;
        Assert.Equal(("confirmed", 2, 1), (refunded["status"]!.GetValue<string>(), item["quantity"]!.GetValue<int>(), item["cancelled_quantity"]!.GetValue<int>()));
        Assert.Equal(item.ToJsonString(), (await t.ReservationAsync(hold))["items"]![0]!.ToJsonString());
        foreach (var node in new[] { venue, level, stalls })
        {
            Assert.Equal((0L, 2L), await CountersAsync(t, node));
        }

        var cancels = (await t.LedgerAsync("final")).Where(e => e!["kind"]!.GetValue<string>() == "cancel").ToList();
        Assert.Equal(3, cancels.Count);
        Assert.All(cancels, e => Assert.Equal((0L, -1L), (e!["reserved_delta"]!.GetValue<long>(), e["sold_delta"]!.GetValue<long>())));

        // A whole cancel refunds what is left: the item has nothing left and every ticket cancelled.
        var cancelled = await Api.ReadAsync(await t.TransitAsync(hold, "cancel"), 200);
        Assert.Equal(("cancelled", 0, 3), (cancelled["status"]!.GetValue<string>(), cancelled["items"]![0]!["quantity"]!.GetValue<int>(), cancelled["items"]![0]!["cancelled_quantity"]!.GetValue<int>()));
        Assert.Equal((0L, 0L), await CountersAsync(t, venue));

        // Refunding every ticket in part cancels the sale too.
        var other = await t.HoldAsync(stalls, 2);
        await Api.ReadAsync(await t.TransitAsync(other, "confirm"), 200);
        var last = await Api.ReadAsync(await t.CancelPartAsync(other, (stalls, 2)), 200);
        Assert.Equal(("cancelled", 0, 2), (last["status"]!.GetValue<string>(), last["items"]![0]!["quantity"]!.GetValue<int>(), last["items"]![0]!["cancelled_quantity"]!.GetValue<int>()));
        Assert.Equal(50, await t.AvailableAsync(stalls));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_cart_of_150_of_one_capacity_over_two_lines_can_be_confirmed_120_and_refunded_110_at_once()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("big", "Hall", 500);
        var cart = (await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new[] { new { capacity_id = hall, quantity = 100 }, new { capacity_id = hall, quantity = 50 } },
        })), 201))["id"]!.GetValue<string>();

        // More than one line may hold, but no more than the hold has.
        await Api.ProblemAsync(await t.ConfirmPartAsync(cart, (hall, 151)), 400, "INVALID_QUANTITY");
        var sale = await Api.ReadAsync(await t.ConfirmPartAsync(cart, (hall, 120)), 200);
        Assert.Equal(("confirmed", 120), (sale["status"]!.GetValue<string>(), sale["items"]!.AsArray().Sum(i => i!["quantity"]!.GetValue<int>())));
        Assert.Equal((0L, 120L), await CountersAsync(t, hall));

        await Api.ProblemAsync(await t.CancelPartAsync(cart, (hall, 121)), 400, "INVALID_QUANTITY");
        var refunded = await Api.ReadAsync(await t.CancelPartAsync(cart, (hall, 110)), 200);
        Assert.Equal(10, refunded["items"]!.AsArray().Sum(i => i!["quantity"]!.GetValue<int>()));
        Assert.Equal((0L, 10L), await CountersAsync(t, hall));

        // A quantity no hold could ever have (more than a cart's lines could add up to) is refused before the core.
        await Api.ProblemAsync(await t.CancelPartAsync(cart, (hall, 5001)), 400, "INVALID_QUANTITY");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_partial_confirm_of_a_cart_releases_the_capacities_it_does_not_name()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var stalls = await t.CreateCapacityAsync("cart", "Stalls", 10);
        var parking = await t.CreateCapacityAsync("cart", "Parking", 5);
        var cart = (await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[] { new { capacity_id = stalls, quantity = 4 }, new { capacity_id = parking, quantity = 1 } },
        })), 201))["id"]!.GetValue<string>();

        var sale = await Api.ReadAsync(await t.ConfirmPartAsync(cart, (stalls, 2)), 200);
        Assert.Equal([(stalls, 2)], sale["items"]!.AsArray().Select(i => (i!["capacity_id"]!.GetValue<string>(), i["quantity"]!.GetValue<int>())));
        Assert.Equal((0L, 2L), await CountersAsync(t, stalls));
        Assert.Equal((0L, 0L), await CountersAsync(t, parking));

        // Confirming again in part what the sale has (a retry) changes nothing, as confirming again
        // whole does; asking for other quantities is refused.
        Assert.Equal(sale.ToJsonString(), (await Api.ReadAsync(await t.ConfirmPartAsync(cart, (stalls, 2)), 200)).ToJsonString());
        await Api.ProblemAsync(await t.ConfirmPartAsync(cart, (stalls, 1)), 409, "RESERVATION_NOT_ACTIVE");
        Assert.Equal(sale.ToJsonString(), (await Api.ReadAsync(await t.TransitAsync(cart, "confirm"), 200)).ToJsonString());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_expired_hold_with_room_is_reclaimed_at_its_locked_price_although_the_price_changed()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync(scope: "elevated")).Client;
        var pool = await t.CreateCapacityAsync("late", "Pool", 10);
        var price = await t.PriceAsync(pool, 40m);
        var swept = await t.HoldPricedAsync(pool, 4, price, minutes: 1);
        await Api.ReadAsync(await t.PutAsync($"/pricing/{price}", Api.Json(new { current_price = 90m })), 200);
        app.Clock!.Advance(TimeSpan.FromMinutes(2));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        Assert.Equal("expired", (await t.ReservationAsync(swept))["status"]!.GetValue<string>());

        // Without on_expired the answer is as it always was.
        var plain = await Api.ProblemAsync(await t.TransitAsync(swept, "confirm"), 409, "RESERVATION_EXPIRED");
        Assert.Null(plain["shortfall"]);

        var reclaimed = await Api.ReadAsync(await t.ReclaimAsync(swept), 200);
        Assert.True(reclaimed["reclaimed"]!.GetValue<bool>());
        Assert.Equal(("confirmed", 4, 40m), (reclaimed["status"]!.GetValue<string>(), Quantity(reclaimed, pool), reclaimed["items"]![0]!["locked_price"]!["unit_price"]!.GetValue<decimal>()));
        Assert.Equal(160m, reclaimed["totals"]![0]!["subtotal"]!.GetValue<decimal>());
        Assert.Null((await t.ReservationAsync(swept))["reclaimed"]);
        Assert.Equal((0L, 4L), await CountersAsync(t, pool));
        var entry = (await t.LedgerAsync("late"))[^1]!;
        Assert.Equal(("reclaim", 0L, 4L, swept), (entry["kind"]!.GetValue<string>(), entry["reserved_delta"]!.GetValue<long>(), entry["sold_delta"]!.GetValue<long>(), entry["reservation_id"]!.GetValue<string>()));

        // A hold that is due (swept or not by now) expires first, then is reclaimed.
        var due = await t.HoldPricedAsync(pool, 2, price, minutes: 1);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        var late = await Api.ReadAsync(await t.ReclaimAsync(due), 200);
        Assert.Equal(("confirmed", 90m), (late["status"]!.GetValue<string>(), late["items"]![0]!["locked_price"]!["unit_price"]!.GetValue<decimal>()));
        Assert.Equal(
            ["hold", "expire", "reclaim"],
            (await t.LedgerAsync("late")).Where(e => e!["reservation_id"]?.GetValue<string>() == due).Select(e => e!["kind"]!.GetValue<string>()));
        Assert.Equal((0L, 6L), await CountersAsync(t, pool));

        // Reclaiming a confirmed reservation changes nothing, and says nothing of a reclaim.
        var again = await Api.ReadAsync(await t.ReclaimAsync(swept), 200);
        Assert.Null(again["reclaimed"]);
        Assert.Equal((0L, 6L), await CountersAsync(t, pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_expired_hold_without_room_is_refused_with_the_exact_shortfall_and_nothing_moves_and_a_released_hold_is_never_reclaimed()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync(scope: "elevated")).Client;
        var stalls = await t.CreateCapacityAsync("late", "Stalls", 10);
        var parking = await t.CreateCapacityAsync("late", "Parking", 10);
        var cart = (await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[] { new { capacity_id = stalls, quantity = 4 }, new { capacity_id = parking, quantity = 2 } },
            reservation_minutes = 1,
        })), 201))["id"]!.GetValue<string>();
        app.Clock!.Advance(TimeSpan.FromMinutes(2));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        await t.HoldAsync(stalls, 9);

        var before = StateSnapshot.OfDatabase(app);
        var ledger = (await t.LedgerAsync("late")).Count;
        var refused = await Api.ProblemAsync(await t.ReclaimAsync(cart), 409, "RESERVATION_EXPIRED");
        var shortfall = Assert.Single(refused["shortfall"]!.AsArray())!;
        Assert.Equal((stalls, 4L, 1L), (shortfall["capacity_id"]!.GetValue<string>(), shortfall["requested"]!.GetValue<long>(), shortfall["available"]!.GetValue<long>()));
        Assert.Equal("expired", (await t.ReservationAsync(cart))["status"]!.GetValue<string>());
        Assert.Equal(ledger, (await t.LedgerAsync("late")).Count);
        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        // Confirming only what is still free reclaims that part.
        var part = await Api.ReadAsync(await t.PostAsync($"/reservations/{cart}/confirm", Api.Json(new
        {
            items = new object[] { new { capacity_id = stalls, quantity = 1 }, new { capacity_id = parking, quantity = 2 } },
            on_expired = "reclaim",
        })), 200);
        Assert.True(part["reclaimed"]!.GetValue<bool>());
        Assert.Equal([(stalls, 1), (parking, 2)], part["items"]!.AsArray().Select(i => (i!["capacity_id"]!.GetValue<string>(), i["quantity"]!.GetValue<int>())));
        Assert.Equal((0L, 2L), await CountersAsync(t, parking));

        var released = await t.HoldAsync(parking, 1);
        await Api.ReadAsync(await t.TransitAsync(released, "release"), 200);
        before = StateSnapshot.OfDatabase(app);
        await Api.ProblemAsync(await t.ReclaimAsync(released), 409, "RESERVATION_NOT_ACTIVE");
        Assert.Equal(before, StateSnapshot.OfDatabase(app));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_retried_patch_with_the_same_idempotency_key_applies_once_and_the_key_on_another_change_is_a_reuse()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("retry", "Pool", 10);
        var hold = await t.HoldAsync(pool, 4);

        HttpRequestMessage Patch(int quantity, string key)
        {
            var request = new HttpRequestMessage(HttpMethod.Patch, $"/reservations/{hold}") { Content = Api.Json(new { items = new[] { new { capacity_id = pool, quantity } } }) };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }

        var first = await t.SendAsync(Patch(6, "patch-1"));
        var text = await first.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var replays = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => t.SendAsync(Patch(6, "patch-1"))));
        foreach (var replay in replays)
        {
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            Assert.Equal(text, await replay.Content.ReadAsStringAsync());
            Assert.Equal("true", Assert.Single(replay.Headers.GetValues("Idempotent-Replayed")));
        }

        Assert.Equal(4, await t.AvailableAsync(pool));
        Assert.Single(await t.LedgerAsync("retry"), e => e!["kind"]!.GetValue<string>() == "hold" && e["reserved_delta"]!.GetValue<long>() == 2);

        // A lower target after it, and the first request once more: still its first answer, nothing moves.
        await Api.ReadAsync(await t.ChangeAsync(hold, (pool, 1)), 200);
        var late = await t.SendAsync(Patch(6, "patch-1"));
        Assert.Equal(text, await late.Content.ReadAsStringAsync());
        Assert.Equal(1, Quantity(await t.ReservationAsync(hold), pool));
        await Api.ProblemAsync(await t.SendAsync(Patch(5, "patch-1")), 422, "IDEMPOTENCY_KEY_REUSED");

        // A partial confirm and a partial refund retried apply once too.
        var confirm = await Twice(t, $"/reservations/{hold}/confirm", new { items = new[] { new { capacity_id = pool, quantity = 1 } } }, "confirm-1");
        Assert.Equal("confirmed", confirm["status"]!.GetValue<string>());
        var seven = await t.HoldAsync(pool, 7);
        await Api.ReadAsync(await t.TransitAsync(seven, "confirm"), 200);
        var refund = await Twice(t, $"/reservations/{seven}/cancel", new { items = new[] { new { capacity_id = pool, quantity = 3 } } }, "cancel-1");
        Assert.Equal(3, refund["items"]![0]!["cancelled_quantity"]!.GetValue<int>());
        Assert.Equal((0L, 5L), await CountersAsync(t, pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_hundred_concurrent_changes_and_confirms_of_one_hold_take_effect_in_one_order_that_their_answers_explain()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("race", "Pool", 200);
        var other = await t.CreateCapacityAsync("race", "Other", 50);
        await t.HoldAsync(other, 3);
        var hold = await t.HoldAsync(pool, 10);
        var expiresAt = (await t.ReservationAsync(hold))["expires_at"]!.GetValue<DateTimeOffset>();

        // Every target differs from every other and from 10, so each change that applies moves units and
        // leaves one ledger entry: the ledger's order is the order the changes took effect.
        var random = new Random(18);
        var targets = Enumerable.Range(1, 100).Where(q => q != 10).OrderBy(_ => random.Next()).Take(88).ToArray();
        var calls = new List<(string Kind, int Quantity, Func<Task<HttpResponseMessage>> Send)>();
        calls.AddRange(targets.Select(q => ("patch", q, (Func<Task<HttpResponseMessage>>)(() => t.ChangeAsync(hold, (pool, q))))));
        for (var k = 1; k <= 6; k++)
        {
            var quantity = k;
            calls.Insert(30 + (k * 9), ("confirm", 0, () => t.TransitAsync(hold, "confirm")));
            calls.Insert(25 + (k * 10), ("part", quantity, () => t.ConfirmPartAsync(hold, (pool, quantity))));
        }

        Assert.Equal(100, calls.Count);
        var responses = await Task.WhenAll(calls.Select(c => Task.Run(c.Send)));
        var answers = new List<(string Kind, int Quantity, int Status, JsonObject Body)>();
        for (var i = 0; i < calls.Count; i++)
        {
            var text = await responses[i].Content.ReadAsStringAsync();
            answers.Add((calls[i].Kind, calls[i].Quantity, (int)responses[i].StatusCode, JsonNode.Parse(text)!.AsObject()));
        }

        // The final state: one sale, of the quantity the winning confirm saw.
        var sale = await t.ReservationAsync(hold);
        Assert.Equal("confirmed", sale["status"]!.GetValue<string>());
        var sold = Quantity(sale, pool);
        Assert.Equal((0L, (long)sold), await CountersAsync(t, pool));
        Assert.Equal((3L, 0L), await CountersAsync(t, other));

        foreach (var (kind, quantity, status, body) in answers)
        {
            var code = body["code"]?.GetValue<string>();
            switch (kind)
            {
                case "patch" when status == 200:
                    // A state that existed: the hold, active, at this target, with its expiry untouched.
                    Assert.Equal(("active", quantity, expiresAt), (body["status"]!.GetValue<string>(), Quantity(body, pool), body["expires_at"]!.GetValue<DateTimeOffset>()));
                    break;
                case "patch":
                    Assert.Equal((409, "RESERVATION_NOT_ACTIVE"), (status, code));
                    break;
                case "confirm":
                    Assert.Equal(200, status);
                    Assert.Equal(("confirmed", sold), (body["status"]!.GetValue<string>(), Quantity(body, pool)));
                    break;
                case "part" when status == 200:
                    Assert.Equal(("confirmed", quantity, sold), (body["status"]!.GetValue<string>(), Quantity(body, pool), quantity));
                    break;
                default:
                    Assert.True((status, code) is (409, "RESERVATION_NOT_ACTIVE") or (400, "INVALID_QUANTITY"), $"A partial confirm answered {status} {code}");
                    break;
            }
        }

        // Replay the hold's ledger: each change's entry leaves the hold at that change's target, every
        // change answered 200 appears exactly once, and the sale is the last thing that happened to it.
        var entries = (await t.LedgerAsync("race")).Where(e => e!["reservation_id"]?.GetValue<string>() == hold).ToList();
        Assert.Equal(("hold", 10L), (entries[0]!["kind"]!.GetValue<string>(), entries[0]!["reserved_delta"]!.GetValue<long>()));
        var held = 10L;
        var applied = new List<long>();
        var last = entries[^1]!;
        Assert.Equal(("confirm", (long)-sold, (long)sold), (last["kind"]!.GetValue<string>(), last["reserved_delta"]!.GetValue<long>(), last["sold_delta"]!.GetValue<long>()));
        var changes = entries.Skip(1).SkipLast(1).ToList();
        var patched = answers.Where(a => a.Kind == "patch" && a.Status == 200).Select(a => (long)a.Quantity).Order().ToList();

        // One entry per change answered 200, and one more when the winner confirmed part and released the rest.
        var partial = changes.Count == patched.Count + 1;
        Assert.True(partial || changes.Count == patched.Count, $"{changes.Count} entries for {patched.Count} changes");
        foreach (var e in partial ? changes.SkipLast(1) : changes)
        {
            Assert.Contains(e!["kind"]!.GetValue<string>(), new[] { "hold", "release" });
            held += e["reserved_delta"]!.GetValue<long>();
            applied.Add(held);
        }

        Assert.Equal(patched, applied.Order().ToList());
        Assert.Equal(applied.Count, applied.Distinct().Count());
        if (partial)
        {
            // The winner confirmed part: the rest went back just before the sale, from the last change's quantity.
            var rest = changes[^1]!;
            Assert.Equal(("release", held - sold), (rest["kind"]!.GetValue<string>(), -rest["reserved_delta"]!.GetValue<long>()));
            Assert.Contains(answers, a => a is { Kind: "part", Status: 200 } && a.Quantity == sold);
        }
        else
        {
            // The final quantity is the last change applied (or the hold as placed).
            Assert.Equal(held, sold);
        }

        Assert.True(answers.Count(a => a.Kind == "part" && a.Status == 200) <= 1);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Bad_changes_confirms_and_refunds_are_refused_with_400_and_change_nothing()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("bad", "Pool", 10);
        var other = await t.CreateCapacityAsync("bad", "Other", 10);
        var price = await t.PriceAsync(other, 10m);
        var hold = await t.HoldAsync(pool, 4);
        var sale = await t.HoldAsync(pool, 3);
        await Api.ReadAsync(await t.TransitAsync(sale, "confirm"), 200);
        var before = StateSnapshot.OfDatabase(app);

        string Item(string capacity, object quantity) => $"{{\"capacity_id\":\"{capacity}\",\"quantity\":{quantity}}}";
        var patches = new (string Body, string Code, string? Field)[]
        {
            ($"{{\"items\":[{Item(pool, -1)}]}}", "INVALID_QUANTITY", null),
            ($"{{\"items\":[{Item(pool, 101)}]}}", "INVALID_QUANTITY", null),
            ($"{{\"items\":[{Item(pool, 2147483648)}]}}", "VALIDATION_ERROR", "items[0].quantity"),
            ($"{{\"items\":[{Item(pool, "\"2\"")}]}}", "VALIDATION_ERROR", "items[0].quantity"),
            ($"{{\"items\":[{Item(pool, 1.5)}]}}", "VALIDATION_ERROR", "items[0].quantity"),
            ($"{{\"items\":[{Item(pool, 2)},{Item(pool, 3)}]}}", "VALIDATION_ERROR", "items[1].capacity_id"),
            ($"{{\"items\":[{Item(pool, 2)}],\"reservation_minutes\":0}}", "VALIDATION_ERROR", "reservation_minutes"),
            ($"{{\"items\":[{Item(pool, 2)}],\"reservation_minutes\":\"5\"}}", "VALIDATION_ERROR", "reservation_minutes"),
            ($"{{\"items\":[{{\"capacity_id\":\"{pool}\",\"quantity\":2,\"pricing_id\":\"{price}\"}}]}}", "VALIDATION_ERROR", "items[0].pricing_id"),
            ($"{{\"items\":[{{\"capacity_id\":\"{pool}\",\"quantity\":2,\"allocation_id\":\"{price}\"}}]}}", "VALIDATION_ERROR", "items[0].allocation_id"),
            ($"{{\"items\":[{{\"capacity_id\":\"nope\",\"quantity\":2}}]}}", "VALIDATION_ERROR", "items[0].capacity_id"),
            ($"{{\"items\":[{{\"quantity\":2}}]}}", "VALIDATION_ERROR", "items[0].capacity_id"),
            ("{\"items\":[]}", "VALIDATION_ERROR", "items"),
            ("{\"items\":[null]}", "VALIDATION_ERROR", "items[0]"),
            ("{\"items\":null}", "VALIDATION_ERROR", "items"),
            ("{\"items\":{}}", "VALIDATION_ERROR", "items"),
            ("{}", "VALIDATION_ERROR", "items"),
            ("[]", "VALIDATION_ERROR", "body"),
            ("{", "VALIDATION_ERROR", null),
            ($"{{\"items\":[{Item(pool, 2)}],\"colour\":\"red\"}}", "VALIDATION_ERROR", "colour"),
        };
        foreach (var (body, code, field) in patches)
        {
            await AssertRefusedAsync(t, HttpMethod.Patch, $"/reservations/{hold}", body, 400, code, field);
        }

        await AssertRefusedAsync(t, HttpMethod.Patch, $"/reservations/{hold}", null, 400, "VALIDATION_ERROR", "body");
        await AssertRefusedAsync(t, HttpMethod.Patch, $"/reservations/{hold}", $"{{\"items\":[{Item(Guid.NewGuid().ToString(), 2)}]}}", 404, "NOT_FOUND", null);
        await AssertRefusedAsync(t, HttpMethod.Patch, $"/reservations/{Guid.NewGuid()}", $"{{\"items\":[{Item(pool, 2)}]}}", 404, "NOT_FOUND", null);
        await AssertRefusedAsync(t, HttpMethod.Patch, "/reservations/not-a-guid", $"{{\"items\":[{Item(pool, 2)}]}}", 404, "NOT_FOUND", null);
        await AssertRefusedAsync(t, HttpMethod.Patch, $"/reservations/{sale}", $"{{\"items\":[{Item(pool, 2)}]}}", 409, "RESERVATION_NOT_ACTIVE", null);
        await AssertRefusedAsync(t, HttpMethod.Patch, $"/reservations/{hold}", $"{{\"items\":[{Item(pool, 2)}],\"reservation_minutes\":120}}", 409, "RESERVATION_EXTENSION_LIMIT", null);
        using (var text = new HttpRequestMessage(HttpMethod.Post, $"/reservations/{hold}/confirm") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "text/plain") })
        {
            await Api.ProblemAsync(await t.SendAsync(text), 415, "UNSUPPORTED_MEDIA_TYPE");
        }

        var confirms = new (string Body, string Code, string? Field)[]
        {
            ("{\"on_expired\":\"refund\"}", "VALIDATION_ERROR", "on_expired"),
            ("{\"on_expired\":\"\"}", "VALIDATION_ERROR", "on_expired"),
            ("{\"on_expired\":\"RECLAIM\"}", "VALIDATION_ERROR", "on_expired"),
            ("{\"on_expired\":true}", "VALIDATION_ERROR", "on_expired"),
            ($"{{\"items\":[{Item(pool, 5)}]}}", "INVALID_QUANTITY", null),
            ($"{{\"items\":[{Item(pool, -1)}]}}", "INVALID_QUANTITY", null),
            ($"{{\"items\":[{Item(pool, 0)}]}}", "VALIDATION_ERROR", "items"),
            ($"{{\"items\":[{Item(pool, 1)},{Item(pool, 1)}]}}", "VALIDATION_ERROR", "items[1].capacity_id"),
            ($"{{\"items\":[{Item(other, 1)}]}}", "VALIDATION_ERROR", "items[0].capacity_id"),
            ($"{{\"items\":[{Item(pool, 1)}],\"on_expired\":\"later\"}}", "VALIDATION_ERROR", "on_expired"),
            ($"{{\"items\":[{{\"capacity_id\":\"{pool}\",\"quantity\":1,\"pricing_id\":\"{price}\"}}]}}", "VALIDATION_ERROR", "items[0].pricing_id"),
            ("{\"items\":[]}", "VALIDATION_ERROR", "items"),
            ("{\"items\":\"all\"}", "VALIDATION_ERROR", "items"),
            ("{\"items\":[null]}", "VALIDATION_ERROR", "items[0]"),
            ("{\"minutes\":10}", "VALIDATION_ERROR", "minutes"),
            ("null", "VALIDATION_ERROR", "body"),
            ("[]", "VALIDATION_ERROR", "body"),
        };
        foreach (var (body, code, field) in confirms)
        {
            await AssertRefusedAsync(t, HttpMethod.Post, $"/reservations/{hold}/confirm", body, 400, code, field);
        }

        var cancels = new (string Body, string Code, string? Field)[]
        {
            ($"{{\"items\":[{Item(pool, 0)}]}}", "INVALID_QUANTITY", null),
            ($"{{\"items\":[{Item(pool, 4)}]}}", "INVALID_QUANTITY", null),
            ($"{{\"items\":[{Item(pool, -2)}]}}", "INVALID_QUANTITY", null),
            ($"{{\"items\":[{Item(pool, 1)},{Item(pool, 1)}]}}", "VALIDATION_ERROR", "items[1].capacity_id"),
            ($"{{\"items\":[{Item(other, 1)}]}}", "VALIDATION_ERROR", "items[0].capacity_id"),
            ($"{{\"items\":[{{\"capacity_id\":\"{pool}\"}}]}}", "VALIDATION_ERROR", "items[0].quantity"),
            ($"{{\"items\":[{Item(pool, 1)}],\"on_expired\":\"reclaim\"}}", "VALIDATION_ERROR", "on_expired"),
            ("{\"refund\":true}", "VALIDATION_ERROR", "refund"),
            ("{\"items\":[]}", "VALIDATION_ERROR", "items"),
            ("false", "VALIDATION_ERROR", "body"),
        };
        foreach (var (body, code, field) in cancels)
        {
            await AssertRefusedAsync(t, HttpMethod.Post, $"/reservations/{sale}/cancel", body, 400, code, field);
        }

        // A partial refund of a hold, or a partial confirm of a sale, is not a state that allows it.
        await AssertRefusedAsync(t, HttpMethod.Post, $"/reservations/{hold}/cancel", $"{{\"items\":[{Item(pool, 1)}]}}", 409, "RESERVATION_NOT_ACTIVE", null);
        await AssertRefusedAsync(t, HttpMethod.Post, $"/reservations/{sale}/confirm", $"{{\"items\":[{Item(pool, 1)}]}}", 409, "RESERVATION_NOT_ACTIVE", null);
        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        // A body that names nothing is the plain step, as before.
        Assert.Equal("confirmed", (await Api.ReadAsync(await t.PostAsync($"/reservations/{hold}/confirm", Api.Json("{\"items\":null}")), 200))["status"]!.GetValue<string>());
        Assert.Equal("cancelled", (await Api.ReadAsync(await t.PostAsync($"/reservations/{sale}/cancel", Api.Json(" { } ")), 200))["status"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Another_tenants_reservation_is_not_found_and_untouched()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B", scope: "elevated")).Client;
        var pool = await a.CreateCapacityAsync("own", "Pool", 10);
        var theirs = await b.CreateCapacityAsync("own", "Pool", 10);
        var hold = await a.HoldAsync(pool, 4);
        var sale = await a.HoldAsync(pool, 2);
        await Api.ReadAsync(await a.TransitAsync(sale, "confirm"), 200);
        var lapsed = await a.HoldAsync(pool, 1, minutes: 1);
        app.Clock!.Advance(TimeSpan.FromMinutes(2));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        var before = StateSnapshot.OfDatabase(app);

        await Api.ProblemAsync(await b.ChangeAsync(hold, (pool, 2)), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.ChangeAsync(hold, (theirs, 2)), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.ConfirmPartAsync(hold, (pool, 2)), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.ReclaimAsync(lapsed), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.CancelPartAsync(sale, (pool, 1)), 404, "NOT_FOUND");
        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        // Nor can a tenant add another tenant's capacity to its own hold.
        var mine = await b.HoldAsync(theirs, 1);
        var own = StateSnapshot.OfDatabase(app);
        await Api.ProblemAsync(await b.ChangeAsync(mine, (pool, 2)), 404, "NOT_FOUND");
        Assert.Equal(own, StateSnapshot.OfDatabase(app));
        Assert.Equal(4L, await a.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_hold_drawn_from_an_allocation_moves_only_whole_and_a_waiting_list_offer_can_be_confirmed_in_part_but_not_changed()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("box", "Pool", 10);
        var box = await t.AllocateAsync(pool, "Box office", 4);
        var fromBox = (await Api.ReadAsync(await t.ReserveFromAsync(pool, 3, box), 201))["reservation"]!["id"]!.GetValue<string>();
        var before = StateSnapshot.OfDatabase(app);
        var refused = await Api.ProblemAsync(await t.ChangeAsync(fromBox, (pool, 1)), 409, "RESERVATION_NOT_CHANGEABLE");
        Assert.Equal("/problems/reservation-not-changeable", refused["type"]!.GetValue<string>());
        await Api.ProblemAsync(await t.ConfirmPartAsync(fromBox, (pool, 1)), 409, "RESERVATION_NOT_CHANGEABLE");
        Assert.Equal(before, StateSnapshot.OfDatabase(app));
        await Api.ReadAsync(await t.ConfirmPartAsync(fromBox, (pool, 3)), 200);
        await Api.ProblemAsync(await t.CancelPartAsync(fromBox, (pool, 1)), 409, "RESERVATION_NOT_CHANGEABLE");

        // An offer of 3: confirmed 2, the third goes to the next in line.
        var queue = await t.CreateCapacityAsync("queue", "Floor", 4);
        var all = await t.HoldAsync(queue, 4);
        await t.EnableWaitlistAsync(queue, "fifo");
        var first = (await t.JoinOkAsync(null, (queue, 3)))["id"]!.GetValue<string>();
        var second = (await t.JoinOkAsync(null, (queue, 1)))["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.TransitAsync(all, "release"), 200);
        var offer = (await t.EntryAsync(first))["offer_reservation_id"]!.GetValue<string>();
        await Api.ProblemAsync(await t.ChangeAsync(offer, (queue, 2)), 409, "RESERVATION_NOT_CHANGEABLE");
        var third = (await t.JoinOkAsync(null, (queue, 1)))["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.ConfirmPartAsync(offer, (queue, 2)), 200);
        Assert.Equal("accepted", (await t.EntryAsync(first))["status"]!.GetValue<string>());
        Assert.Equal("offered", (await t.EntryAsync(third))["status"]!.GetValue<string>());
        Assert.Equal("offered", (await t.EntryAsync(second))["status"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_change_that_adds_a_capacity_under_a_buyer_limit_counts_the_buyers_other_holds_there()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var stalls = await t.CreateCapacityAsync("lim", "Stalls", 100);
        var vip = await t.CreateCapacityAsync("lim", "VIP", 100);
        var limit = await t.CreateLimitAsync("lim", "Two VIP each", 2, vip);
        var cart = (await Api.ReadAsync(await t.CartAsync("fan", (stalls, 2)), 201))["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(vip, 2, "fan"), 201);
        Assert.Equal(2, await t.UsageAsync(limit, "fan"));

        var refused = await Api.ProblemAsync(await t.ChangeAsync(cart, (stalls, 2), (vip, 1)), 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal((2L, 1L), (refused["used"]!.GetValue<long>(), refused["requested"]!.GetValue<long>()));
        Assert.Equal(2, await t.UsageAsync(limit, "fan"));

        // Another buyer's cart may add it, and its usage counts the added units.
        var other = (await Api.ReadAsync(await t.CartAsync("friend", (stalls, 1)), 201))["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.ChangeAsync(other, (stalls, 1), (vip, 2)), 200);
        Assert.Equal(2, await t.UsageAsync(limit, "friend"));
        await Api.ReadAsync(await t.ChangeAsync(other, (vip, 1)), 200);
        Assert.Equal(1, await t.UsageAsync(limit, "friend"));
        await app.AssertInvariantsAsync();
    }

    /// <summary>Sends the same keyed request twice and returns the first answer; the second is its replay.</summary>
    private static async Task<JsonObject> Twice(HttpClient client, string path, object body, string key)
    {
        HttpRequestMessage Request()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Api.Json(body) };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }

        var first = await client.SendAsync(Request());
        var text = await first.Content.ReadAsStringAsync();
        Assert.True(first.StatusCode == HttpStatusCode.OK, text);
        var second = await client.SendAsync(Request());
        Assert.Equal(text, await second.Content.ReadAsStringAsync());
        Assert.Equal("true", Assert.Single(second.Headers.GetValues("Idempotent-Replayed")));
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task AssertRefusedAsync(HttpClient client, HttpMethod method, string path, string? body, int status, string code, string? field)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Api.Json(body) };
        var problem = await Api.ProblemAsync(await client.SendAsync(request), status, code);
        if (field is not null)
        {
            var errors = problem["errors"]?.AsObject();
            Assert.True(errors?.ContainsKey(field) == true, $"{method} {path} {body}: expected an error for '{field}', got {problem.ToJsonString()}");
        }
    }

    private static int Quantity(JsonNode reservation, string capacityId) =>
        reservation["items"]!.AsArray().Where(i => i!["capacity_id"]!.GetValue<string>() == capacityId).Sum(i => i!["quantity"]!.GetValue<int>());

    private static async Task<(long Reserved, long Sold)> CountersAsync(HttpClient client, string capacityId)
    {
        var c = await client.GetCapacityAsync(capacityId);
        return (c["reserved_capacity"]!.GetValue<long>(), c["sold_count"]!.GetValue<long>());
    }
}

/// <summary>Calls that change holds in part, for tests.</summary>
public static class HoldChangeCalls
{
    public static Task<HttpResponseMessage> ChangeAsync(this HttpClient client, string reservationId, params (string Capacity, int Quantity)[] items) =>
        client.ChangeAsync(reservationId, null, items);

    public static Task<HttpResponseMessage> ChangeAsync(this HttpClient client, string reservationId, int? minutes, params (string Capacity, int Quantity)[] items)
    {
        var body = new Dictionary<string, object> { ["items"] = items.Select(i => new { capacity_id = i.Capacity, quantity = i.Quantity }).ToArray() };
        if (minutes is { } m)
        {
            body["reservation_minutes"] = m;
        }

        return client.PatchAsync($"/reservations/{reservationId}", Api.Json(body));
    }

    public static Task<HttpResponseMessage> ConfirmPartAsync(this HttpClient client, string reservationId, params (string Capacity, int Quantity)[] items) =>
        client.PostAsync($"/reservations/{reservationId}/confirm", Api.Json(new { items = items.Select(i => new { capacity_id = i.Capacity, quantity = i.Quantity }).ToArray() }));

    /// <summary>A confirm with <c>on_expired: reclaim</c>: the client's key must have the elevated scope.</summary>
    public static Task<HttpResponseMessage> ReclaimAsync(this HttpClient client, string reservationId) =>
        client.PostAsync($"/reservations/{reservationId}/confirm", Api.Json(new { on_expired = "reclaim" }));

    public static Task<HttpResponseMessage> CancelPartAsync(this HttpClient client, string reservationId, params (string Capacity, int Quantity)[] items) =>
        client.PostAsync($"/reservations/{reservationId}/cancel", Api.Json(new { items = items.Select(i => new { capacity_id = i.Capacity, quantity = i.Quantity }).ToArray() }));

    public static async Task<JsonObject> ReservationAsync(this HttpClient client, string reservationId) =>
        await Api.ReadAsync(await client.GetAsync($"/reservations/{reservationId}"), 200);

    public static async Task<JsonArray> LedgerAsync(this HttpClient client, string eventId) =>
        (await Api.ReadAsync(await client.GetAsync($"/events/{eventId}/ledger?limit=1000"), 200))["entries"]!.AsArray();

    /// <summary>A price on the capacity (its base price), returning its id.</summary>
    public static async Task<string> PriceAsync(this HttpClient client, string capacityId, decimal basePrice) =>
        (await Api.ReadAsync(await client.PostAsync($"/capacity/{capacityId}/pricing", Api.Json(new { name = "Standard", base_price = basePrice, currency = "EUR" })), 201))["id"]!.GetValue<string>();

    public static async Task<string> HoldPricedAsync(this HttpClient client, string capacityId, int quantity, string pricingId, int minutes) =>
        (await Api.ReadAsync(await client.PostAsync($"/capacity/{capacityId}/reserve", Api.Json(new { quantity, pricing_id = pricingId, reservation_minutes = minutes })), 201))["reservation"]!["id"]!.GetValue<string>();
}

using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Waiting lists over HTTP: freed units offered in the batch that frees them, fifo and first_fit,
/// offers as ordinary reservations, leaving, the capacity's view of its queue, the ledger, errors,
/// tenants kept apart, and a race of public holds against releases with a queue waiting.
/// </summary>
public sealed class WaitlistTests_on_sqlite() : WaitlistTests(StoreKind.Sqlite);

public sealed class WaitlistTests_on_postgres() : WaitlistTests(StoreKind.Postgres);

public abstract class WaitlistTests(StoreKind store)
{
    private Task<CapacityApp> NewAppAsync(bool manualClock = false) => CapacityApp.CreateAsync(store, null, manualClock);

    [Fact]
    public async Task A_fifo_queue_of_4_1_2_gets_nothing_from_3_freed_tickets_and_the_4_is_offered_when_the_fourth_comes_back()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var three = await t.HoldAsync(pool, 3);
        var one = await t.HoldAsync(pool, 1);
        await t.HoldAsync(pool, 6);
        var settings = await t.EnableWaitlistAsync(pool, "fifo", offerMinutes: 20);
        Assert.Equal(("fifo", 20, true), (settings["policy"]!.GetValue<string>(), settings["offer_minutes"]!.GetValue<int>(), settings["enabled"]!.GetValue<bool>()));

        var four = await t.JoinOkAsync("fan-4", (pool, 4));
        var single = await t.JoinOkAsync(null, (pool, 1));
        var pair = await t.JoinOkAsync(null, (pool, 2));
        Assert.Equal(("waiting", 1L, 2L, 3L), (four["status"]!.GetValue<string>(), Position(four), Position(single), Position(pair)));
        Assert.Equal("fan-4", four["buyer_key"]!.GetValue<string>());

        await Api.ReadAsync(await t.TransitAsync(three, "release"), 200);
        foreach (var entry in new[] { four, single, pair })
        {
            Assert.Equal("waiting", (await t.EntryAsync(Id(entry)))["status"]!.GetValue<string>());
        }

        var view = await t.GetCapacityAsync(pool);
        // Seven units wait; the three free ones are owed to them (all the pool could give them now).
        Assert.Equal((0L, 3L, 7L), (view["available_capacity"]!.GetValue<long>(), view["waitlist_demand"]!.GetValue<long>(), view["waitlist"]!["waiting"]!.GetValue<long>()));
        var refused = await Api.ProblemAsync(await t.ReserveAsync(pool, 1), 409, "INSUFFICIENT_CAPACITY");
        Assert.Equal(3, refused["waitlist_demand"]!.GetValue<long>());
        Assert.Contains("waiting list", refused["detail"]!.GetValue<string>());

        await Api.ReadAsync(await t.TransitAsync(one, "release"), 200);
        var offered = await t.EntryAsync(Id(four));
        Assert.Equal("offered", offered["status"]!.GetValue<string>());
        Assert.Null(offered["position"]);
        var offerId = offered["offer_reservation_id"]!.GetValue<string>();
        Assert.Equal(Id(four), offerId);
        Assert.Equal(1L, Position(await t.EntryAsync(Id(single))));

        var offer = await Api.ReadAsync(await t.GetAsync($"/reservations/{offerId}"), 200);
        Assert.Equal(("active", Id(four), "fan-4", 4), (offer["status"]!.GetValue<string>(), offer["waitlist_id"]!.GetValue<string>(),
            offer["buyer_key"]!.GetValue<string>(), offer["items"]![0]!["quantity"]!.GetValue<int>()));
        var minutes = (offer["expires_at"]!.GetValue<DateTimeOffset>() - offer["created_at"]!.GetValue<DateTimeOffset>()).TotalMinutes;
        Assert.Equal(20, minutes, precision: 3);

        // Three units still wait, owed nothing while the pool has nothing free to give them.
        view = await t.GetCapacityAsync(pool);
        Assert.Equal((0L, 0L, 3L, 4L), (view["available_capacity"]!.GetValue<long>(), view["waitlist_demand"]!.GetValue<long>(),
            view["waitlist"]!["waiting"]!.GetValue<long>(), view["waitlist"]!["offered"]!.GetValue<long>()));

        // The offer is a reservation like any other: confirming it accepts the entry.
        await Api.ReadAsync(await t.TransitAsync(offerId, "confirm"), 200);
        Assert.Equal("accepted", (await t.EntryAsync(Id(four)))["status"]!.GetValue<string>());

        var ledger = (await Api.ReadAsync(await t.GetAsync("/events/gig/ledger"), 200))["entries"]!.AsArray();
        var offerEntries = ledger.Where(e => e!["waitlist_id"] is not null).Select(e => e!["kind"]!.GetValue<string>()).ToArray();
        Assert.Equal(["hold", "confirm"], offerEntries);
        Assert.All(ledger.Where(e => e!["waitlist_id"] is not null), e => Assert.Equal(offerId, e!["reservation_id"]!.GetValue<string>()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_first_fit_queue_of_4_1_2_gets_the_1_and_the_2_offered_from_3_freed_tickets()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var three = await t.HoldAsync(pool, 3);
        await t.HoldAsync(pool, 7);
        await t.EnableWaitlistAsync(pool, "first_fit");
        var four = await t.JoinOkAsync(null, (pool, 4));
        var single = await t.JoinOkAsync(null, (pool, 1));
        var pair = await t.JoinOkAsync(null, (pool, 2));

        await Api.ReadAsync(await t.TransitAsync(three, "release"), 200);
        Assert.Equal(
            ["waiting", "offered", "offered"],
            await Task.WhenAll(new[] { four, single, pair }.Select(async e => (await t.EntryAsync(Id(e)))["status"]!.GetValue<string>())));
        Assert.Equal(1L, Position(await t.EntryAsync(Id(four))));
        Assert.Equal(0, await t.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_offer_that_expires_passes_its_tickets_to_the_next_entry_in_the_same_sweep_and_does_not_rejoin()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 2);
        var hold = await t.HoldAsync(pool, 2, minutes: 60);
        await t.EnableWaitlistAsync(pool, "fifo", offerMinutes: 5);
        var first = Id(await t.JoinOkAsync(null, (pool, 2)));
        var second = Id(await t.JoinOkAsync(null, (pool, 2)));

        await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
        Assert.Equal("offered", (await t.EntryAsync(first))["status"]!.GetValue<string>());

        app.Clock!.Advance(TimeSpan.FromMinutes(6));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        var expired = await t.EntryAsync(first);
        Assert.Equal(("lapsed", "offer_expired"), (expired["status"]!.GetValue<string>(), expired["lapsed_reason"]!.GetValue<string>()));
        Assert.Equal("expired", (await Api.ReadAsync(await t.GetAsync($"/reservations/{first}"), 200))["status"]!.GetValue<string>());
        var next = await t.EntryAsync(second);
        Assert.Equal(("offered", second), (next["status"]!.GetValue<string>(), next["offer_reservation_id"]!.GetValue<string>()));
        Assert.Null(next["lapsed_reason"]);

        // The second lets its offer go: nobody waits, so the tickets are public again.
        await Api.ReadAsync(await t.TransitAsync(second, "release"), 200);
        var released = await t.EntryAsync(second);
        Assert.Equal(("lapsed", "offer_released"), (released["status"]!.GetValue<string>(), released["lapsed_reason"]!.GetValue<string>()));
        var view = await t.GetCapacityAsync(pool);
        Assert.Equal((2L, 0L), (view["available_capacity"]!.GetValue<long>(), view["waitlist_demand"]!.GetValue<long>()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Leaving_with_an_offer_releases_it_to_the_next_in_line_and_leaving_again_changes_nothing()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 3);
        var hold = await t.HoldAsync(pool, 3);
        await t.EnableWaitlistAsync(pool, "fifo");
        var first = Id(await t.JoinOkAsync(null, (pool, 3)));
        var waiting = Id(await t.JoinOkAsync(null, (pool, 1)));
        var second = Id(await t.JoinOkAsync(null, (pool, 2)));

        // A waiting entry leaves: the one behind it moves up.
        var left = await Api.ReadAsync(await t.DeleteAsync($"/waitlist/{waiting}"), 200);
        Assert.Equal("left", left["status"]!.GetValue<string>());
        Assert.Equal(2L, Position(await t.EntryAsync(second)));

        await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
        Assert.Equal("offered", (await t.EntryAsync(first))["status"]!.GetValue<string>());
        Assert.Equal("left", (await Api.ReadAsync(await t.DeleteAsync($"/waitlist/{first}"), 200))["status"]!.GetValue<string>());
        Assert.Equal("released", (await Api.ReadAsync(await t.GetAsync($"/reservations/{first}"), 200))["status"]!.GetValue<string>());
        Assert.Equal("offered", (await t.EntryAsync(second))["status"]!.GetValue<string>());
        Assert.Equal(1, await t.AvailableAsync(pool));

        var before = (await t.GetCapacityAsync(pool)).ToJsonString();
        Assert.Equal("left", (await Api.ReadAsync(await t.DeleteAsync($"/waitlist/{first}"), 200))["status"]!.GetValue<string>());
        Assert.Equal(before, (await t.GetCapacityAsync(pool)).ToJsonString());
        await Api.ProblemAsync(await t.DeleteAsync($"/waitlist/{Guid.CreateVersion7()}"), 404, "NOT_FOUND");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_entry_over_two_capacities_is_offered_only_when_both_fit_and_a_queued_child_keeps_its_units_from_a_sibling()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("final", "Venue", 10);
        var stalls = await t.CreateCapacityAsync("final", "Stalls", 10, venue);
        var circle = await t.CreateCapacityAsync("final", "Circle", 10, venue);
        var parking = await t.CreateCapacityAsync("final", "Parking", 1);
        var stallsHold = await t.HoldAsync(stalls, 10);
        var parkingHold = await t.HoldAsync(parking, 1);
        await t.EnableWaitlistAsync(stalls, "fifo");
        await t.EnableWaitlistAsync(parking, "fifo");
        var both = Id(await t.JoinOkAsync("family", (stalls, 2), (parking, 1)));

        await Api.ReadAsync(await t.TransitAsync(stallsHold, "release"), 200);
        Assert.Equal("waiting", (await t.EntryAsync(both))["status"]!.GetValue<string>());

        // The venue is owed 2 through the stalls' queue: the circle cannot take them.
        Assert.Equal(8, await t.AvailableAsync(circle));
        Assert.Equal(2, (await t.GetCapacityAsync(venue))["waitlist_demand"]!.GetValue<long>());
        Assert.Null((await t.GetCapacityAsync(venue))["waitlist"]);
        await Api.ProblemAsync(await t.ReserveAsync(circle, 9), 409, "INSUFFICIENT_CAPACITY");
        await t.HoldAsync(circle, 8);

        await Api.ReadAsync(await t.TransitAsync(parkingHold, "release"), 200);
        var offer = await Api.ReadAsync(await t.GetAsync($"/reservations/{both}"), 200);
        Assert.Equal(2, offer["items"]!.AsArray().Count);
        Assert.Equal("offered", (await t.EntryAsync(both))["status"]!.GetValue<string>());

        var page = await Api.ReadAsync(await t.GetAsync($"/capacity/{parking}/waitlist"), 200);
        Assert.Equal(both, page["entries"]![0]!["id"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_hundred_joins_for_a_small_sold_out_section_leave_the_rest_of_the_venue_on_sale_and_a_returned_ticket_goes_to_the_first()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("arena", "Venue", 100);
        var box = await t.CreateCapacityAsync("arena", "Box", 2, venue);
        var stands = await t.CreateCapacityAsync("arena", "Stands", 98, venue);
        await t.EnableWaitlistAsync(box, "fifo");
        var boxHold = await t.HoldAsync(box, 2);

        // A hundred fans queue for the box while the public buys the stands, all at once.
        var joins = Task.WhenAll(Enumerable.Range(0, 100).Select(_ => t.JoinAsync(null, (box, 1))));
        var holds = await Task.WhenAll(Enumerable.Range(0, 110).Select(_ => t.ReserveAsync(stands, 1)));
        Assert.All(await joins, a => Assert.Equal(HttpStatusCode.Created, a.StatusCode));

        // The box can give its queue nothing until its own tickets come back, which free the venue's
        // seats with them: the queue keeps nothing from the stands, which sell all 98.
        Assert.Equal(98, holds.Count(a => a.StatusCode == HttpStatusCode.Created));
        foreach (var refused in holds.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            await Api.ProblemAsync(refused, 409, "INSUFFICIENT_CAPACITY");
        }

        var boxView = await t.GetCapacityAsync(box);
        Assert.Equal((100L, 0L), (boxView["waitlist"]!["waiting"]!.GetValue<long>(), boxView["waitlist_demand"]!.GetValue<long>()));

        // The box's two tickets come back: they go to the first two in line, not to the public.
        await Api.ReadAsync(await t.TransitAsync(boxHold, "release"), 200);
        var first = (await Api.ReadAsync(await t.GetAsync($"/capacity/{box}/waitlist?limit=3"), 200))["entries"]!.AsArray();
        Assert.Equal(["offered", "offered", "waiting"], first.Select(e => e!["status"]!.GetValue<string>()));
        await Api.ProblemAsync(await t.ReserveAsync(box, 1), 409, "INSUFFICIENT_CAPACITY");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_hundred_joins_for_a_ticket_type_under_a_sold_out_section_leave_the_other_sections_on_sale_and_a_returned_ticket_goes_to_the_first()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("arena", "Venue", 100);
        var stalls = await t.CreateCapacityAsync("arena", "Stalls", 4, venue);
        var adult = await t.CreateCapacityAsync("arena", "Adult", null, stalls);
        var circle = await t.CreateCapacityAsync("arena", "Circle", 96, venue);
        await t.EnableWaitlistAsync(adult, "fifo");
        var adultHolds = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => t.HoldAsync(adult, 1)));

        // A hundred fans queue for the adult tickets, which have no total of their own, while the public
        // buys the circle, all at once: the stalls above the ticket type are full, so the queue keeps
        // nothing of the venue and the circle sells all 96.
        var joins = Task.WhenAll(Enumerable.Range(0, 100).Select(_ => t.JoinAsync(null, (adult, 1))));
        var holds = await Task.WhenAll(Enumerable.Range(0, 110).Select(_ => t.ReserveAsync(circle, 1)));
        Assert.All(await joins, a => Assert.Equal(HttpStatusCode.Created, a.StatusCode));
        Assert.Equal(96, holds.Count(a => a.StatusCode == HttpStatusCode.Created));
        foreach (var refused in holds.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            await Api.ProblemAsync(refused, 409, "INSUFFICIENT_CAPACITY");
        }

        var adultView = await t.GetCapacityAsync(adult);
        Assert.Equal(100L, adultView["waitlist"]!["waiting"]!.GetValue<long>());
        Assert.Equal(0L, (await t.GetCapacityAsync(venue))["waitlist_demand"]?.GetValue<long>() ?? 0);

        // Two adult tickets come back: they go to the first two in line, not to the public.
        foreach (var hold in adultHolds.Take(2))
        {
            await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
        }

        var first = (await Api.ReadAsync(await t.GetAsync($"/capacity/{adult}/waitlist?limit=3"), 200))["entries"]!.AsArray();
        Assert.Equal(["offered", "offered", "waiting"], first.Select(e => e!["status"]!.GetValue<string>()));
        await Api.ProblemAsync(await t.ReserveAsync(adult, 1), 409, "INSUFFICIENT_CAPACITY");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_buyer_waiting_under_a_limit_cannot_hold_past_it_elsewhere_and_usage_shows_the_units_waited_for()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var stalls = await t.CreateCapacityAsync("gig", "Stalls", 1);
        var circle = await t.CreateCapacityAsync("gig", "Circle", 10);
        await t.EnableWaitlistAsync(stalls, "fifo");
        var limit = await t.CreateLimitAsync("gig", "Two per person", 2, stalls, circle);
        await t.HoldAsync(stalls, 1);
        var entry = Id(await t.JoinOkAsync("fan", (stalls, 1)));

        // The entry is a claim on a ticket: were the hold placed, the entry could never be offered, and
        // its seat would stay owed to it, out of the public's reach.
        var refused = await Api.ProblemAsync(await t.ReserveAsBuyerAsync(circle, 2, "fan"), 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal((1L, 2L), (refused["used"]!.GetValue<long>(), refused["requested"]!.GetValue<long>()));
        Assert.Contains("waiting-list entries", refused["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0L, (await t.GetCapacityAsync(circle))["reserved_capacity"]!.GetValue<long>());
        var usage = await Api.ReadAsync(await t.GetAsync($"/limits/{limit}/usage?buyer_key=fan"), 200);
        Assert.Equal((1L, 1L, 2), (usage["used"]!.GetValue<long>(), usage["waiting"]!.GetValue<long>(), usage["per_buyer_max"]!.GetValue<int>()));

        await Api.ReadAsync(await t.ReserveAsBuyerAsync(circle, 1, "fan"), 201);
        await Api.ReadAsync(await t.DeleteAsync($"/waitlist/{entry}"), 200);
        usage = await Api.ReadAsync(await t.GetAsync($"/limits/{limit}/usage?buyer_key=fan"), 200);
        Assert.Equal((1L, 0L), (usage["used"]!.GetValue<long>(), usage["waiting"]!.GetValue<long>()));
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(circle, 1, "fan"), 201);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_entry_a_lowered_limit_holds_back_is_offered_when_the_buyer_releases_tickets_on_another_section_of_the_limit()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var stalls = await t.CreateCapacityAsync("gig", "Stalls", 1);
        var circle = await t.CreateCapacityAsync("gig", "Circle", 10);
        await t.EnableWaitlistAsync(stalls, "fifo");
        var limit = await t.CreateLimitAsync("gig", "Three per person", 3, stalls, circle);
        var other = await t.HoldAsync(stalls, 1);
        var entry = Id(await t.JoinOkAsync("fan", (stalls, 1)));
        var fans = (await Api.ReadAsync(await t.ReserveAsBuyerAsync(circle, 2, "fan"), 201))["reservation"]!["id"]!.GetValue<string>();
        Assert.Null((await t.EntryAsync(entry))["held_back_by_limit_id"]);
        await Api.ReadAsync(await t.PutAsync($"/limits/{limit}", Api.Json(new { per_buyer_max = 2 })), 200);

        // The entry says which limit holds it back, so that the platform can tell the buyer.
        await Api.ReadAsync(await t.TransitAsync(other, "release"), 200);
        var held = await t.EntryAsync(entry);
        Assert.Equal(("waiting", limit), (held["status"]!.GetValue<string>(), held["held_back_by_limit_id"]!.GetValue<string>()));
        await Api.ProblemAsync(await t.ReserveAsync(stalls, 1), 409, "INSUFFICIENT_CAPACITY");

        // The release touches only the circle; the batch still settles the event's queue.
        await Api.ReadAsync(await t.TransitAsync(fans, "release"), 200);
        Assert.Equal("offered", (await t.EntryAsync(entry))["status"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_entry_without_a_buyer_key_lapses_when_a_limit_now_requires_one_and_its_seats_go_to_the_public()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", "Floor", 5);
        await t.EnableWaitlistAsync(floor, "fifo");
        var hold = await t.HoldAsync(floor, 5);
        var keyless = Id(await t.JoinOkAsync(null, (floor, 2)));
        await t.CreateLimitAsync("gig", "Keys only", 4, requireKey: true, floor);

        await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
        var entry = await t.EntryAsync(keyless);
        Assert.Equal(("lapsed", "buyer_key_required"), (entry["status"]!.GetValue<string>(), entry["lapsed_reason"]!.GetValue<string>()));
        Assert.Equal(5, await t.AvailableAsync(floor));
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(floor, 4, "fan"), 201);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Thirty_joins_and_holds_of_one_buyer_at_once_under_a_limit_of_four_take_exactly_four_between_them()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", "Floor", 10);
        var balcony = await t.CreateCapacityAsync("gig", "Balcony", 100);
        await t.EnableWaitlistAsync(floor, "fifo");
        var limit = await t.CreateLimitAsync("gig", "Four per person", 4, floor, balcony);
        await t.HoldAsync(floor, 10);

        // Joins for the sold-out floor and holds on the balcony, one buyer, all at once: whichever land
        // first, together they stay within 4, and the 4 are taken (room enough on both).
        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => i % 2 == 0 ? t.JoinAsync("bot", (floor, 1)) : t.ReserveAsBuyerAsync(balcony, 1, "bot")));
        Assert.Equal(4, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            await Api.ProblemAsync(refused, 409, "BUYER_LIMIT_EXCEEDED");
        }

        var joined = answers.Where((a, i) => i % 2 == 0 && a.StatusCode == HttpStatusCode.Created).Count();
        var floorView = await t.GetCapacityAsync(floor);
        Assert.Equal(((long)joined, 0L), (floorView["waitlist"]!["waiting"]!.GetValue<long>(), floorView["waitlist_demand"]!.GetValue<long>()));
        Assert.Equal(4L - joined, (await t.GetCapacityAsync(balcony))["reserved_capacity"]!.GetValue<long>());
        var usage = await Api.ReadAsync(await t.GetAsync($"/limits/{limit}/usage?buyer_key=bot"), 200);
        Assert.Equal((4L, (long)joined), (usage["used"]!.GetValue<long>(), usage["waiting"]!.GetValue<long>()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_bot_cannot_queue_five_times_four_under_a_limit_of_four_so_the_freed_seats_are_not_owed_past_its_limit()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", "Floor", 10);
        await t.EnableWaitlistAsync(floor, "fifo");
        var limit = await t.CreateLimitAsync("gig", "Four per person", 4, floor);
        var full = await t.HoldAsync(floor, 10);
        var first = Id(await t.JoinOkAsync("bot", (floor, 4)));

        for (var i = 0; i < 4; i++)
        {
            var refused = await Api.ProblemAsync(await t.JoinAsync("bot", (floor, 4)), 409, "BUYER_LIMIT_EXCEEDED");
            Assert.Equal((limit, 4L, 4L), (refused["limit_id"]!.GetValue<string>(), refused["used"]!.GetValue<long>(), refused["requested"]!.GetValue<long>()));
        }

        var fan = Id(await t.JoinOkAsync("fan", (floor, 1)));
        await Api.ReadAsync(await t.TransitAsync(full, "release"), 200);
        Assert.Equal(("offered", "offered"), ((await t.EntryAsync(first))["status"]!.GetValue<string>(), (await t.EntryAsync(fan))["status"]!.GetValue<string>()));

        // Nothing is owed to entries the limit would pass over: the 5 seats left go to the public.
        Assert.Equal(5, await t.AvailableAsync(floor));
        await t.HoldAsync(floor, 5);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Twenty_joins_of_two_by_one_buyer_at_once_under_a_limit_of_four_queue_exactly_two()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", "Floor", 10);
        await t.EnableWaitlistAsync(floor, "fifo");
        await t.CreateLimitAsync("gig", "Four per person", 4, floor);
        await t.HoldAsync(floor, 10);

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => t.JoinAsync("bot", (floor, 2))));
        Assert.Equal(2, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.Equal(18, answers.Count(a => a.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(4L, (await t.GetCapacityAsync(floor))["waitlist"]!["waiting"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_capacity_lists_its_entries_in_order_a_page_at_a_time()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        await t.HoldAsync(pool, 1);
        await t.EnableWaitlistAsync(pool, "fifo");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(Id(await t.JoinOkAsync(null, (pool, 1))));
        }

        var seen = new List<string>();
        string? after = null;
        do
        {
            var page = await Api.ReadAsync(await t.GetAsync($"/capacity/{pool}/waitlist?limit=2" + (after is null ? "" : $"&after={after}")), 200);
            seen.AddRange(page["entries"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()));
            after = page["next_after"]?.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        while (after is not null);

        Assert.Equal(ids, seen);
        await Api.ProblemAsync(await t.GetAsync($"/capacity/{pool}/waitlist?limit=0"), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.GetAsync($"/capacity/{pool}/waitlist?after=x"), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.GetAsync($"/capacity/{Guid.CreateVersion7()}/waitlist"), 404, "NOT_FOUND");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Entries_offered_at_once_still_take_the_next_sequence_so_paging_lists_every_entry_once_even_within_one_millisecond()
    {
        // A manual clock: every join happens in the same millisecond.
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 150);
        await t.EnableWaitlistAsync(pool, "fifo");
        var sequences = new List<long>();
        for (var i = 0; i < 100; i++)
        {
            sequences.Add((await t.JoinOkAsync(null, (pool, 1)))["sequence"]!.GetValue<long>());
        }

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ => (await t.JoinOkAsync(null, (pool, 1)))["sequence"]!.GetValue<long>()));
        sequences.AddRange(concurrent);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), sequences.Take(100));
        Assert.Equal(200, sequences.Distinct().Count());

        var listed = new List<string>();
        string? after = null;
        do
        {
            var page = await Api.ReadAsync(await t.GetAsync($"/capacity/{pool}/waitlist?limit=7" + (after is null ? "" : $"&after={after}")), 200);
            listed.AddRange(page["entries"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()));
            after = page["next_after"]?.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        while (after is not null);

        Assert.Equal(200, listed.Distinct().Count());
        Assert.Equal(200, listed.Count);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Joining_a_closed_list_is_409_WAITLIST_DISABLED_bad_settings_are_400_and_nothing_changes()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 5);
        var other = await t.CreateCapacityAsync("other", "Floor", 5);
        var problem = await Api.ProblemAsync(await t.JoinAsync(null, (pool, 1)), 409, "WAITLIST_DISABLED");
        Assert.Contains("waiting list", problem["detail"]!.GetValue<string>());

        var before = (await t.GetCapacityAsync(pool)).ToJsonString();
        Assert.Null((await t.GetCapacityAsync(pool))["waitlist"]);
        foreach (var (body, field) in new[]
        {
            ("""{"waitlist":{"offer_minutes":0}}""", "waitlist.offer_minutes"),
            ("""{"waitlist":{"offer_minutes":121}}""", "waitlist.offer_minutes"),
            ("""{"waitlist":{"offer_minutes":"30"}}""", "waitlist.offer_minutes"),
            ("""{"waitlist":{"policy":"lifo"}}""", "waitlist.policy"),
            ("""{"waitlist":{"enabled":"yes"}}""", "waitlist.enabled"),
            ("""{"waitlist":{"size":3}}""", "waitlist.size"),
            ("""{"waitlist":null}""", "waitlist"),
            ("""{"waitlist":true}""", "waitlist"),
            ("""{"waitlist":{"enabled":true,"enabled":false}}""", "waitlist.enabled"),
            ("""{"section_name":"Pit","waitlist":{"policy":"lifo"}}""", "waitlist.policy"),
        })
        {
            var bad = await Api.ProblemAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(body)), 400, "VALIDATION_ERROR");
            Assert.True(bad["errors"]!.AsObject().ContainsKey(field), $"{body}: {bad.ToJsonString()}");
        }

        Assert.Equal(before, (await t.GetCapacityAsync(pool)).ToJsonString());

        await t.EnableWaitlistAsync(pool, "fifo");
        await Api.ProblemAsync(await t.JoinAsync(null, (pool, 1), (other, 1)), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.JoinAsync(null, (pool, 0)), 400, "INVALID_QUANTITY");
        await Api.ProblemAsync(await t.JoinAsync(null, (Guid.CreateVersion7().ToString(), 1)), 404, "NOT_FOUND");
        await Api.ProblemAsync(await t.JoinAsync(" ", (pool, 1)), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.JoinAsync("nul\0key", (pool, 1)), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.PostAsync("/waitlist", Api.Json("""{"items":[]}""")), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.PostAsync("/waitlist", Api.Json($$"""{"items":[{"capacity_id":"{{pool}}","quantity":1}],"external_ref":""}""")), 400, "VALIDATION_ERROR");

        // Closing the list refuses new entries and keeps the settings.
        var closed = (await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json("""{"waitlist":{"enabled":false}}""")), 200))["waitlist"]!;
        Assert.Equal((false, 30, "fifo"), (closed["enabled"]!.GetValue<bool>(), closed["offer_minutes"]!.GetValue<int>(), closed["policy"]!.GetValue<string>()));
        await Api.ProblemAsync(await t.JoinAsync(null, (pool, 1)), 409, "WAITLIST_DISABLED");
        Assert.Empty((await Api.ReadAsync(await t.GetAsync($"/capacity/{pool}/waitlist"), 200))["entries"]!.AsArray());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Joining_an_early_bird_closed_by_its_sell_out_or_a_presale_whose_window_ended_is_refused_and_the_venue_owes_nothing()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("gig", "Venue", 10);
        var early = await t.CreateCapacityAsync("gig", "Early bird", 2, venue);
        var regular = (await Api.ReadAsync(await t.PostAsync("/events/gig/capacity", Api.Json(new
        {
            section_name = "Regular", total_capacity = 10, parent_ids = new[] { venue }, opens_after_sold_out_of = early,
        })), 201))["id"]!.GetValue<string>();
        var presale = (await Api.ReadAsync(await t.PostAsync("/events/gig/capacity", Api.Json(new
        {
            section_name = "Presale", total_capacity = 10, parent_ids = new[] { venue }, sale_ends_at = app.Clock!.GetUtcNow().AddMinutes(10),
        })), 201))["id"]!.GetValue<string>();
        await t.EnableWaitlistAsync(early, "fifo");
        await t.EnableWaitlistAsync(presale, "fifo");

        await t.HoldAsync(early, 2);
        Assert.Equal("closed", (await t.GetCapacityAsync(early))["state"]!.GetValue<string>());
        var inactive = await Api.ProblemAsync(await t.JoinAsync(null, (early, 1)), 409, "CAPACITY_INACTIVE");
        Assert.Equal((early, "sold_out"), (inactive["capacity_id"]!.GetValue<string>(), inactive["closed_reason"]!.GetValue<string>()));

        app.Clock.Advance(TimeSpan.FromMinutes(10));
        var ended = await Api.ProblemAsync(await t.JoinAsync(null, (presale, 4)), 409, "SALE_CLOSED");
        Assert.Equal(presale, ended["capacity_id"]!.GetValue<string>());

        // Nothing is owed on the venue: the regular tier sells the 8 seats left.
        Assert.Equal(0L, (await t.GetCapacityAsync(venue))["waitlist_demand"]?.GetValue<long>() ?? 0);
        await t.HoldAsync(regular, 8);
        Assert.Equal(0, await t.AvailableAsync(venue));
        Assert.Empty((await Api.ReadAsync(await t.GetAsync($"/capacity/{early}/waitlist"), 200))["entries"]!.AsArray());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Public_holds_racing_for_the_last_seats_of_a_pool_that_closes_when_sold_out_leave_it_open_for_the_seat_owed_below_it_and_the_offer_closes_it()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var hall = (await Api.ReadAsync(await t.PostAsync("/events/gig/capacity", Api.Json(new
        {
            section_name = "Hall", total_capacity = 10, close_when_sold_out = true,
        })), 201))["id"]!.GetValue<string>();
        var boxes = await t.CreateCapacityAsync("gig", "Boxes", 3, hall);
        var stalls = await t.CreateCapacityAsync("gig", "Stalls", 10, hall);
        await t.EnableWaitlistAsync(boxes, "fifo");
        var boxHold = await t.HoldAsync(boxes, 2);
        var waiting = Id(await t.JoinOkAsync(null, (boxes, 2)));
        Assert.Equal(7, await t.AvailableAsync(stalls));

        // The public takes the seven seats it may have; the eighth is owed to the pair waiting for two
        // boxes (the box free now is theirs), and a seat only owed is no sale: the hall stays open (it
        // may come back to the public).
        var answers = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => t.ReserveAsync(stalls, 1)));
        Assert.Equal(7, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.Created), a => Assert.Equal(HttpStatusCode.Conflict, a.StatusCode));
        var hallNow = await t.GetCapacityAsync(hall);
        Assert.Equal((true, 1L, (long?)0), (hallNow["is_active"]!.GetValue<bool>(), hallNow["waitlist_demand"]!.GetValue<long>(), await t.AvailableAsync(hall)));
        Assert.Equal("waiting", (await t.EntryAsync(waiting))["status"]!.GetValue<string>());

        // The two boxes come back: the pair is offered two, and the public may have the third. Once the
        // public holds it, every seat is held and the hall closes.
        await Api.ReadAsync(await t.TransitAsync(boxHold, "release"), 200);
        Assert.Equal("offered", (await t.EntryAsync(waiting))["status"]!.GetValue<string>());
        Assert.Equal((true, (long?)1), ((await t.GetCapacityAsync(hall))["is_active"]!.GetValue<bool>(), await t.AvailableAsync(hall)));
        await t.HoldAsync(boxes, 1);
        hallNow = await t.GetCapacityAsync(hall);
        Assert.Equal(("closed", "sold_out"), (hallNow["state"]!.GetValue<string>(), hallNow["closed_reason"]!.GetValue<string>()));
        await Api.ProblemAsync(await t.ReserveAsync(boxes, 1), 409, "CAPACITY_INACTIVE");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Shrinking_a_floor_below_a_waiting_group_lapses_the_group_and_the_seats_go_to_the_single_behind_it_and_the_public()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", "Floor", 10);
        await t.EnableWaitlistAsync(floor, "fifo");
        var hold = await t.HoldAsync(floor, 6);
        var group = Id(await t.JoinOkAsync(null, (floor, 7)));
        var single = Id(await t.JoinOkAsync(null, (floor, 1)));

        var resized = await Api.ReadAsync(await t.PutAsync($"/capacity/{floor}", Api.Json(new { total_capacity = 6 })), 200);
        Assert.Equal((1L, 0L), (resized["waitlist"]!["waiting"]!.GetValue<long>(), resized["waitlist_demand"]!.GetValue<long>()));
        var lapsed = await t.EntryAsync(group);
        Assert.Equal(("lapsed", "too_large"), (lapsed["status"]!.GetValue<string>(), lapsed["lapsed_reason"]!.GetValue<string>()));
        Assert.Null(lapsed["offer_reservation_id"]);
        Assert.Equal(1L, Position(await t.EntryAsync(single)));

        await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
        Assert.Equal("offered", (await t.EntryAsync(single))["status"]!.GetValue<string>());
        await t.HoldAsync(floor, 5);
        Assert.Equal(0, await t.AvailableAsync(floor));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_retried_join_with_the_same_Idempotency_Key_queues_once_and_answers_the_same()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        await t.HoldAsync(pool, 1);
        await t.EnableWaitlistAsync(pool, "fifo");

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/waitlist") { Content = Api.Json(new { items = new[] { new { capacity_id = pool, quantity = 1 } } }) };
            request.Headers.Add("Idempotency-Key", "join-1");
            var response = await t.SendAsync(request);
            return response.StatusCode == HttpStatusCode.Created ? (await Api.ReadAsync(response, 201))["id"]!.GetValue<string>() : (int)response.StatusCode + "";
        }));
        Assert.All(answers, a => Assert.True(Guid.TryParse(a, out _) || a == "409", a));
        Assert.Single(answers.Where(a => a != "409").Distinct());
        Assert.Single((await Api.ReadAsync(await t.GetAsync($"/capacity/{pool}/waitlist"), 200))["entries"]!.AsArray());
        Assert.Equal(1, (await t.GetCapacityAsync(pool))["waitlist"]!["waiting"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Another_tenant_cannot_see_leave_list_or_join_a_tenants_waiting_list()
    {
        await using var app = await NewAppAsync();
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var pool = await a.CreateCapacityAsync("gig", "Floor", 1);
        await a.HoldAsync(pool, 1);
        await a.EnableWaitlistAsync(pool, "fifo");
        var entry = Id(await a.JoinOkAsync("fan", (pool, 1)));

        await Api.ProblemAsync(await b.GetAsync($"/waitlist/{entry}"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.DeleteAsync($"/waitlist/{entry}"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.GetAsync($"/capacity/{pool}/waitlist"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.JoinAsync(null, (pool, 1)), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.PutAsync($"/capacity/{pool}", Api.Json("""{"waitlist":{"enabled":false}}""")), 404, "NOT_FOUND");

        Assert.Equal("waiting", (await a.EntryAsync(entry))["status"]!.GetValue<string>());
        Assert.True((await a.GetCapacityAsync(pool))["waitlist"]!["enabled"]!.GetValue<bool>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Five_hundred_public_holds_racing_five_hundred_releases_take_nothing_until_every_waiting_entry_is_offered()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 500);
        var holds = await Task.WhenAll(Enumerable.Range(0, 500).Select(_ => t.HoldAsync(pool, 1)));
        await t.EnableWaitlistAsync(pool, "fifo");
        var entries = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            entries.Add(Id(await t.JoinOkAsync($"buyer-{i}", (pool, 2))));
        }

        var releases = holds.Select(async h => (int)(await t.TransitAsync(h, "release")).StatusCode);
        var publicHolds = Enumerable.Range(0, 500).Select(async _ => (int)(await t.ReserveAsync(pool, 1)).StatusCode);
        var statuses = await Task.WhenAll(releases.Concat(publicHolds));
        Assert.All(statuses.Take(500), s => Assert.Equal(200, s));
        var publicPlaced = statuses.Skip(500).Count(s => s == 201);
        Assert.All(statuses.Skip(500), s => Assert.True(s is 201 or 409, $"status {s}"));

        // Every entry got its offer; the public got at most what was left after the queue.
        foreach (var entry in entries)
        {
            Assert.Equal("offered", (await t.EntryAsync(entry))["status"]!.GetValue<string>());
        }

        var view = await t.GetCapacityAsync(pool);
        Assert.Equal((0L, 100L), (view["waitlist_demand"]!.GetValue<long>(), view["waitlist"]!["offered"]!.GetValue<long>()));
        Assert.InRange(publicPlaced, 0, 400);
        Assert.Equal(400 - publicPlaced, view["available_capacity"]!.GetValue<long>());

        // In the ledger, no public hold comes before the last offer: while an entry waited, freed tickets were its.
        var ledger = new List<JsonNode>();
        string? after = null;
        do
        {
            var page = await Api.ReadAsync(await t.GetAsync("/events/gig/ledger?limit=1000" + (after is null ? "" : $"&after={after}")), 200);
            ledger.AddRange(page["entries"]!.AsArray()!.Select(e => e!));
            after = page["next_after"]?.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        while (after is not null);

        var holdsBefore = ledger.Take(500).Select(e => e["kind"]!.GetValue<string>()).Distinct().Single();
        Assert.Equal("hold", holdsBefore);
        var lastOffer = ledger.FindLastIndex(e => e["waitlist_id"] is not null && e["kind"]!.GetValue<string>() == "hold");
        var firstPublic = ledger.Skip(500).Select((e, i) => (e, i: i + 500)).FirstOrDefault(x => x.e["kind"]!.GetValue<string>() == "hold" && x.e["waitlist_id"] is null);
        Assert.Equal(50, ledger.Count(e => e["waitlist_id"] is not null));
        if (publicPlaced > 0)
        {
            Assert.True(firstPublic.i > lastOffer, $"A public hold at {firstPublic.i} came before the last offer at {lastOffer}.");
        }

        await app.AssertInvariantsAsync();
    }

    private static string Id(JsonObject entry) => entry["id"]!.GetValue<string>();

    private static long? Position(JsonObject entry) => entry["position"]?.GetValue<long>();
}

/// <summary>Waiting-list calls for tests.</summary>
public static class WaitlistCalls
{
    /// <summary>Opens (or changes) a capacity's waiting list and returns its settings as the capacity shows them.</summary>
    public static async Task<JsonNode> EnableWaitlistAsync(this HttpClient client, string capacityId, string policy, int offerMinutes = 30)
    {
        var body = new { waitlist = new { enabled = true, offer_minutes = offerMinutes, policy } };
        return (await Api.ReadAsync(await client.PutAsync($"/capacity/{capacityId}", Api.Json(body)), 200))["waitlist"]!;
    }

    public static Task<HttpResponseMessage> JoinAsync(this HttpClient client, string? buyerKey, params (string Capacity, int Quantity)[] items)
    {
        var body = new Dictionary<string, object> { ["items"] = items.Select(i => new { capacity_id = i.Capacity, quantity = i.Quantity }).ToArray() };
        if (buyerKey is not null)
        {
            body["buyer_key"] = buyerKey;
        }

        return client.PostAsync("/waitlist", Api.Json(body));
    }

    public static async Task<JsonObject> JoinOkAsync(this HttpClient client, string? buyerKey, params (string Capacity, int Quantity)[] items) =>
        await Api.ReadAsync(await client.JoinAsync(buyerKey, items), 201);

    public static async Task<JsonObject> EntryAsync(this HttpClient client, string id) =>
        await Api.ReadAsync(await client.GetAsync($"/waitlist/{id}"), 200);
}

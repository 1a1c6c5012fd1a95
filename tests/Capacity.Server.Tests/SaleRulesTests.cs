using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Capacity on a clock, over HTTP on both stores: a sale window, an early bird that opens the regular
/// tier in the batch that sells its last ticket (500 concurrent holds on both tiers), closing when
/// sold out, overbooking on purpose (130 concurrent holds on 100 + 20), and the bad input around them.
/// </summary>
public sealed class SaleRulesTests_on_sqlite() : SaleRulesTests(StoreKind.Sqlite);

public sealed class SaleRulesTests_on_postgres() : SaleRulesTests(StoreKind.Postgres);

public abstract class SaleRulesTests(StoreKind store)
{
    private Task<CapacityApp> NewAppAsync(bool manualClock = false) => CapacityApp.CreateAsync(store, null, manualClock);

    private static async Task<JsonObject> CreateAsync(HttpClient client, string eventId, object body) =>
        await Api.ReadAsync(await client.PostAsync($"/events/{eventId}/capacity", Api.Json(body)), 201);

    [Fact]
    public async Task A_window_refuses_holds_and_checks_before_and_after_it_and_a_hold_placed_inside_is_confirmed_after_the_end()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var now = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().ToUnixTimeMilliseconds());
        var starts = now.AddMinutes(10);
        var created = await CreateAsync(t, "gig", new { section_name = "Presale", total_capacity = 10, sale_starts_at = starts, sale_ends_at = now.AddMinutes(60) });
        var pool = created["id"]!.GetValue<string>();
        Assert.Equal(("scheduled", starts), (created["state"]!.GetValue<string>(), created["next_change_at"]!.GetValue<DateTimeOffset>()));

        var before = StateSnapshot.OfDatabase(app);
        var early = await Api.ProblemAsync(await t.ReserveAsync(pool, 1), 409, "SALE_NOT_OPEN");
        Assert.Equal((pool, starts), (early["capacity_id"]!.GetValue<string>(), early["sale_starts_at"]!.GetValue<DateTimeOffset>()));
        var checkRefused = await Api.ProblemAsync(await t.PostAsync($"/capacity/{pool}/check", Api.Json(new { quantity = 1 })), 409, "SALE_NOT_OPEN");
        Assert.Equal(early["detail"]!.GetValue<string>(), checkRefused["detail"]!.GetValue<string>());
        Assert.Equal(starts, checkRefused["sale_starts_at"]!.GetValue<DateTimeOffset>());
        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        app.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal("on_sale", (await t.GetCapacityAsync(pool))["state"]!.GetValue<string>());
        var inside = await t.HoldAsync(pool, 2, minutes: 90);

        app.Clock.Advance(TimeSpan.FromMinutes(50));
        var late = await Api.ProblemAsync(await t.ReserveAsync(pool, 1), 409, "SALE_CLOSED");
        Assert.Equal(now.AddMinutes(60), late["sale_ends_at"]!.GetValue<DateTimeOffset>());
        Assert.Equal("closed", (await t.GetCapacityAsync(pool))["state"]!.GetValue<string>());
        Assert.Equal("confirmed", (await Api.ReadAsync(await t.TransitAsync(inside, "confirm"), 200))["status"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Five_hundred_concurrent_holds_on_two_tiers_take_no_regular_ticket_before_the_200th_early_bird_and_tickets_coming_back_do_not_reopen_it()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("tiers", "Venue", 1000);
        var early = await t.CreateCapacityAsync("tiers", "Early bird", 200, venue);
        var regular = (await CreateAsync(t, "tiers", new { section_name = "Regular", total_capacity = 800, parent_ids = new[] { venue }, opens_after_sold_out_of = early }))["id"]!.GetValue<string>();

        var answers = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => t.ReserveAsync(i % 2 == 0 ? early : regular, 1)));
        Assert.All(answers, a => Assert.True(a.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{a.StatusCode}"));
        Assert.Equal(200, (await t.GetCapacityAsync(early))["reserved_capacity"]!.GetValue<long>());

        // In the ledger, the regular tier opens right after the early bird's 200th ticket, and takes nothing before.
        var ledger = await t.LedgerAsync("tiers");
        var kinds = ledger.Select(e => (Kind: e!["kind"]!.GetValue<string>(), Capacity: e["capacity_id"]!.GetValue<string>())).ToList();
        var opened = kinds.IndexOf(("open", regular));
        Assert.True(opened > 0, "the regular tier never opened");
        Assert.Equal(200, kinds.Take(opened).Count(k => k == ("hold", early)));
        Assert.DoesNotContain(("hold", regular), kinds.Take(opened));
        Assert.Single(kinds, k => k.Kind == "open");

        var earlyView = await t.GetCapacityAsync(early);
        Assert.Equal(("closed", "sold_out"), (earlyView["state"]!.GetValue<string>(), earlyView["closed_reason"]!.GetValue<string>()));
        var earlyHold = (await Api.ReadAsync(await t.GetAsync("/reservations?event_id=tiers&limit=1000"), 200))["reservations"]!.AsArray()
            .First(r => r!["items"]![0]!["capacity_id"]!.GetValue<string>() == early)!["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.TransitAsync(earlyHold, "release"), 200);
        await Api.ProblemAsync(await t.ReserveAsync(early, 1), 409, "CAPACITY_INACTIVE");
        await t.HoldAsync(regular, 1);
        Assert.Equal("on_sale", (await t.GetCapacityAsync(regular))["state"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_block_that_takes_an_early_birds_last_tickets_opens_the_next_tier_and_one_grown_to_take_them_closes_a_flash_sale()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var early = (await CreateAsync(t, "tiers", new { section_name = "Early bird", total_capacity = 10 }))["id"]!.GetValue<string>();
        var regular = (await CreateAsync(t, "tiers", new { section_name = "Regular", total_capacity = 20, opens_after_sold_out_of = early }))["id"]!.GetValue<string>();
        await t.HoldAsync(early, 4);
        await Api.ProblemAsync(await t.ReserveAsync(regular, 1), 409, "SALE_NOT_OPEN");

        // The box office's block takes the last six: the public has none left, so the next tier opens.
        var office = (await Api.ReadAsync(await t.PostAsync($"/capacity/{early}/allocations", Api.Json(new { name = "Box office", quantity = 6 })), 201))["id"]!.GetValue<string>();
        Assert.Equal(("closed", "sold_out"), ((await t.GetCapacityAsync(early))["state"]!.GetValue<string>(), (await t.GetCapacityAsync(early))["closed_reason"]!.GetValue<string>()));
        Assert.Equal("on_sale", (await t.GetCapacityAsync(regular))["state"]!.GetValue<string>());
        await t.HoldAsync(regular, 1);

        // Closed to the public, not to the box office: the block still issues what it set aside.
        await Api.ReadAsync(await t.PostAsync($"/capacity/{early}/reserve", Api.Json(new { quantity = 6, allocation_id = office })), 201);
        await Api.ProblemAsync(await t.ReserveAsync(early, 1), 409, "CAPACITY_INACTIVE");

        var flash = (await CreateAsync(t, "tiers", new { section_name = "Flash", total_capacity = 5, close_when_sold_out = true }))["id"]!.GetValue<string>();

        // A later tier with a waiting entry: the block that sells its tier out offers the entry in the same batch.
        var late = (await CreateAsync(t, "tiers", new { section_name = "Late", total_capacity = 4, opens_after_sold_out_of = regular }))["id"]!.GetValue<string>();
        await t.EnableWaitlistAsync(late, "fifo");
        var entry = (await Api.ReadAsync(await t.JoinAsync(null, (late, 2)), 201))["id"]!.GetValue<string>();
        Assert.Equal("waiting", (await t.EntryAsync(entry))["status"]!.GetValue<string>());
        await Api.ReadAsync(await t.PostAsync($"/capacity/{regular}/allocations", Api.Json(new { name = "Press", quantity = 19 })), 201);
        Assert.Equal("on_sale", (await t.GetCapacityAsync(late))["state"]!.GetValue<string>());
        Assert.Equal("offered", (await t.EntryAsync(entry))["status"]!.GetValue<string>());
        var block = (await Api.ReadAsync(await t.PostAsync($"/capacity/{flash}/allocations", Api.Json(new { name = "Sponsors", quantity = 2 })), 201))["id"]!.GetValue<string>();
        await t.HoldAsync(flash, 1);
        await Api.ReadAsync(await t.PutAsync($"/allocations/{block}", Api.Json(new { quantity = 4 })), 200);
        Assert.Equal("sold_out", (await t.GetCapacityAsync(flash))["closed_reason"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Close_when_sold_out_stays_closed_when_a_ticket_comes_back_until_a_put_reopens_it()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = (await CreateAsync(t, "flash", new { section_name = "Flash sale", total_capacity = 3, close_when_sold_out = true }))["id"]!.GetValue<string>();
        var holds = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            holds.Add(await t.HoldAsync(pool, 1));
        }

        // The hold that takes the last ticket answers with the capacity its sell-out closed.
        var last = await Api.ReadAsync(await t.ReserveAsync(pool, 1), 201);
        Assert.Equal((false, "closed", "sold_out"), (last["capacity"]!["is_active"]!.GetValue<bool>(), last["capacity"]!["state"]!.GetValue<string>(), last["capacity"]!["closed_reason"]!.GetValue<string>()));

        await Api.ReadAsync(await t.TransitAsync(holds[0], "release"), 200);
        var view = await t.GetCapacityAsync(pool);
        Assert.Equal((false, "closed", "sold_out", 1L), (view["is_active"]!.GetValue<bool>(), view["state"]!.GetValue<string>(), view["closed_reason"]!.GetValue<string>(), view["available_capacity"]!.GetValue<long>()));
        await Api.ProblemAsync(await t.ReserveAsync(pool, 1), 409, "CAPACITY_INACTIVE");

        var reopened = await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { is_active = true })), 200);
        Assert.Null(reopened["closed_reason"]);
        await t.HoldAsync(pool, 1);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_pool_of_100_overbooked_by_20_takes_exactly_120_of_130_concurrent_holds()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = (await CreateAsync(t, "free", new { section_name = "Free gig", total_capacity = 100, overbook_limit = 20 }))["id"]!.GetValue<string>();
        Assert.Equal(120, (await t.GetCapacityAsync(pool))["available_capacity"]!.GetValue<long>());

        var answers = await Task.WhenAll(Enumerable.Range(0, 130).Select(_ => t.ReserveAsync(pool, 1)));
        Assert.All(answers, a => Assert.True(a.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{a.StatusCode}: {a.Content.ReadAsStringAsync().Result}"));
        Assert.Equal(120, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.Equal(10, answers.Count(a => a.StatusCode == HttpStatusCode.Conflict));
        var view = await t.GetCapacityAsync(pool);
        Assert.Equal((0L, 20L, "sold_out"), (view["available_capacity"]!.GetValue<long>(), view["overbooked_by"]!.GetValue<long>(), view["state"]!.GetValue<string>()));

        // A resize is judged against total + allowance.
        await Api.ProblemAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { overbook_limit = 10 })), 409, "CAPACITY_BELOW_COMMITTED");
        await app.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("""{"section_name":"A","overbook_limit":5}""", "overbook_limit")]
    [InlineData("""{"section_name":"A","total_capacity":5,"overbook_limit":-1}""", "overbook_limit")]
    [InlineData("""{"section_name":"A","total_capacity":5,"overbook_limit":1000001}""", "overbook_limit")]
    [InlineData("""{"section_name":"A","total_capacity":5,"sale_starts_at":"2030-01-02T00:00:00Z","sale_ends_at":"2030-01-01T00:00:00Z"}""", "sale_ends_at")]
    [InlineData("""{"section_name":"A","total_capacity":5,"sale_starts_at":"tomorrow"}""", "sale_starts_at")]
    [InlineData("""{"section_name":"A","total_capacity":5,"sale_starts_at":"2030-01-01T00:00:00"}""", "sale_starts_at")]
    [InlineData("""{"section_name":"A","total_capacity":5,"opens_after_sold_out_of":"00000000-0000-0000-0000-000000000001"}""", "opens_after_sold_out_of")]
    [InlineData("""{"section_name":"A","total_capacity":5,"opens_after_sold_out_of":"x"}""", "opens_after_sold_out_of")]
    [InlineData("""{"section_name":"A","total_capacity":5,"close_when_sold_out":"yes"}""", "close_when_sold_out")]
    public async Task Malformed_sale_rules_are_refused_with_the_field_named_and_nothing_is_created(string body, string field)
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var response = await t.PostAsync("/events/bad/capacity", Api.Json(body));
        var problem = await Api.ReadAsync(response, 400);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(field, problem.ToJsonString(), StringComparison.Ordinal);
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/events/bad/capacity"), 200))["capacity"]!.AsArray());
    }

    [Theory]
    [InlineData("2030-01-01t10:00:00z", "2030-01-01T10:00:00Z")]
    [InlineData("2030-01-01T10:00:00.123456789Z", "2030-01-01T10:00:00.123Z")]
    [InlineData("2030-01-01T12:00:00.5+02:00", "2030-01-01T10:00:00.5Z")]
    public async Task A_window_in_any_form_RFC_3339_allows_is_read_to_the_millisecond(string sent, string kept)
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var created = await CreateAsync(t, "forms", new { section_name = "A", total_capacity = 5, sale_starts_at = sent });
        Assert.Equal(DateTimeOffset.Parse(kept, System.Globalization.CultureInfo.InvariantCulture), created["sale_starts_at"]!.GetValue<DateTimeOffset>());
        Assert.Equal("scheduled", (await t.GetCapacityAsync(created["id"]!.GetValue<string>()))["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_tier_chain_cannot_close_into_a_cycle_or_cross_events_and_a_put_can_clear_a_window()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var a = await t.CreateCapacityAsync("chain", "A", 5);
        var b = (await CreateAsync(t, "chain", new { section_name = "B", total_capacity = 5, opens_after_sold_out_of = a }))["id"]!.GetValue<string>();
        await Api.ProblemAsync(await t.PutAsync($"/capacity/{a}", Api.Json(new { opens_after_sold_out_of = b })), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.PostAsync("/events/other/capacity", Api.Json(new { section_name = "X", total_capacity = 5, opens_after_sold_out_of = a })), 400, "VALIDATION_ERROR");

        var windowed = (await CreateAsync(t, "chain", new { section_name = "W", total_capacity = 5, sale_starts_at = DateTimeOffset.UtcNow.AddDays(1) }))["id"]!.GetValue<string>();
        await Api.ProblemAsync(await t.ReserveAsync(windowed, 1), 409, "SALE_NOT_OPEN");
        var cleared = await Api.ReadAsync(await t.PutAsync($"/capacity/{windowed}", Api.Json(new { sale_starts_at = (string?)null })), 200);
        Assert.Equal("on_sale", cleared["state"]!.GetValue<string>());
        await t.HoldAsync(windowed, 1);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_section_reads_closed_under_a_closed_pool_and_scheduled_under_one_not_yet_open_as_its_holds_are_refused()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var now = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().ToUnixTimeMilliseconds());
        var pool = await t.CreateCapacityAsync("gig", "Pool", 5);
        var section = (await CreateAsync(t, "gig", new { section_name = "Section", parent_ids = new[] { pool } }))["id"]!.GetValue<string>();
        async Task<(string, bool, DateTimeOffset?)> ReadAsync()
        {
            var c = await t.GetCapacityAsync(section);
            return (c["state"]!.GetValue<string>(), c["is_active"]!.GetValue<bool>(), c["next_change_at"]?.GetValue<DateTimeOffset>());
        }

        // The pool deactivated: the section is closed (its own switch stays on) and refuses holds.
        await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { is_active = false })), 200);
        Assert.Equal(("closed", true, null), await ReadAsync());
        await Api.ProblemAsync(await t.ReserveAsync(section, 1), 409, "CAPACITY_INACTIVE");

        // The pool's window not yet open: scheduled until it opens, then on sale until it ends.
        var starts = now.AddMinutes(30);
        await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { is_active = true, sale_starts_at = starts, sale_ends_at = now.AddMinutes(90) })), 200);
        Assert.Equal(("scheduled", true, starts), await ReadAsync());
        await Api.ProblemAsync(await t.ReserveAsync(section, 1), 409, "SALE_NOT_OPEN");
        app.Clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(("on_sale", true, now.AddMinutes(90)), await ReadAsync());
        var hold = await Api.ReadAsync(await t.ReserveAsync(section, 1), 201);
        Assert.Equal("on_sale", hold["capacity"]!["state"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_early_bird_whose_window_ends_unsold_opens_the_next_tier_as_the_sweep_passes_the_end()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var ends = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds());
        var early = (await CreateAsync(t, "wave", new { section_name = "Early bird", total_capacity = 100, sale_ends_at = ends }))["id"]!.GetValue<string>();
        var regular = (await CreateAsync(t, "wave", new { section_name = "Regular", total_capacity = 400, opens_after_sold_out_of = early }))["id"]!.GetValue<string>();
        await t.HoldAsync(early, 3);
        await Api.ProblemAsync(await t.ReserveAsync(regular, 1), 409, "SALE_NOT_OPEN");

        // The early bird's sale ends with 97 unsold: the sweep that passes the end opens the regular tier.
        app.Clock.Advance(TimeSpan.FromMinutes(10));
        await app.Sweeper.PassSaleEdgesAsync(CancellationToken.None); // or the background sweep passed it first
        Assert.Equal("on_sale", (await t.GetCapacityAsync(regular))["state"]!.GetValue<string>());
        var hold = await Api.ReadAsync(await t.ReserveAsync(regular, 2), 201);
        Assert.Equal("on_sale", hold["capacity"]!["state"]!.GetValue<string>());
        var kinds = (await t.LedgerAsync("wave")).Select(e => (e!["kind"]!.GetValue<string>(), e["capacity_id"]!.GetValue<string>())).ToList();
        Assert.Single(kinds, k => k == ("open", regular));

        // The early bird is closed by its window, not by a sell-out.
        var earlyView = await t.GetCapacityAsync(early);
        Assert.Equal(("closed", true), (earlyView["state"]!.GetValue<string>(), earlyView["is_active"]!.GetValue<bool>()));
        Assert.Null(earlyView["closed_reason"]);
        await Api.ProblemAsync(await t.ReserveAsync(early, 1), 409, "SALE_CLOSED");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_live_stream_sends_a_snapshot_when_a_window_opens_by_the_clock()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var starts = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().AddMinutes(5).ToUnixTimeMilliseconds());
        await CreateAsync(t, "doors", new { section_name = "Floor", total_capacity = 10, sale_starts_at = starts });

        using var response = await t.GetAsync("/events/doors/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var first = await OperationsTests.NextSnapshotAsync(reader);
        Assert.Equal(("scheduled", starts), (first["capacity"]![0]!["state"]!.GetValue<string>(), first["capacity"]![0]!["next_change_at"]!.GetValue<DateTimeOffset>()));

        // Nothing is written when the window opens: the snapshot changes because the clock did.
        app.Clock.Advance(TimeSpan.FromMinutes(5));
        var opened = await OperationsTests.NextSnapshotAsync(reader).WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Equal("on_sale", opened["capacity"]![0]!["state"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }
}

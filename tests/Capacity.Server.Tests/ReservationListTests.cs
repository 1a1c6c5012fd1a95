using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// The platform's own names for holds (<c>external_ref</c>, <c>metadata</c>) and <c>GET /reservations</c>:
/// kept and shown on every read, refused with a clear error when malformed, found by event, reference,
/// status and buyer, newest first, paged without gaps or repeats, and never across tenants.
/// </summary>
public sealed class ReservationListTests_on_sqlite() : ReservationListTests(StoreKind.Sqlite);

public sealed class ReservationListTests_on_postgres() : ReservationListTests(StoreKind.Postgres);

public abstract class ReservationListTests(StoreKind store)
{
    private Task<CapacityApp> NewAppAsync(bool manualClock = false) => CapacityApp.CreateAsync(store, null, manualClock);

    private static async Task<JsonObject> ListAsync(HttpClient client, string query) =>
        await Api.ReadAsync(await client.GetAsync("/reservations?" + query), 200);

    private static string[] Ids(JsonObject page) => [.. page["reservations"]!.AsArray().Select(r => r!["id"]!.GetValue<string>())];

    [Fact]
    public async Task A_hold_and_a_cart_keep_their_external_ref_and_metadata_on_every_read()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);

        var held = await Api.ReadAsync(await t.PostAsync($"/capacity/{pool}/reserve", Api.Json(new
        {
            quantity = 2, external_ref = "order-1001", metadata = new Dictionary<string, string> { ["channel"] = "web", ["campaign"] = "spring" },
        })), 201);
        var hold = held["reservation"]!;
        Assert.Equal("order-1001", hold["external_ref"]!.GetValue<string>());
        Assert.Equal("""{"channel":"web","campaign":"spring"}""", hold["metadata"]!.ToJsonString());

        var cart = await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new[] { new { capacity_id = pool, quantity = 1 } }, external_ref = "cart-7", metadata = new { seat_note = "aisle" },
        })), 201);
        var read = await Api.ReadAsync(await t.GetAsync($"/reservations/{cart["id"]}"), 200);
        Assert.Equal(("cart-7", "aisle"), (read["external_ref"]!.GetValue<string>(), read["metadata"]!["seat_note"]!.GetValue<string>()));

        // Confirmed, the labels stay; a hold without them shows neither field.
        var confirmed = await Api.ReadAsync(await t.TransitAsync(hold["id"]!.GetValue<string>(), "confirm"), 200);
        Assert.Equal("spring", confirmed["metadata"]!["campaign"]!.GetValue<string>());
        var plain = await Api.ReadAsync(await t.GetAsync($"/reservations/{await t.HoldAsync(pool, 1)}"), 200);
        Assert.False(plain.ContainsKey("external_ref") || plain.ContainsKey("metadata"));
        await app.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("""{"quantity":1,"metadata":{"a":{"nested":"no"}}}""", "metadata")]
    [InlineData("""{"quantity":1,"metadata":{"a":1}}""", "metadata")]
    [InlineData("""{"quantity":1,"metadata":["a"]}""", "metadata")]
    [InlineData("""{"quantity":1,"metadata":{"a":null}}""", "metadata.a")]
    [InlineData("""{"quantity":1,"metadata":{"":"empty key"}}""", "metadata")]
    [InlineData("""{"quantity":1,"metadata":{"a":"\u0000"}}""", "metadata.a")]
    [InlineData("""{"quantity":1,"external_ref":""}""", "external_ref")]
    [InlineData("""{"quantity":1,"external_ref":"   "}""", "external_ref")]
    [InlineData("""{"quantity":1,"external_ref":"a\u0000b"}""", "external_ref")]
    [InlineData("""{"quantity":1,"external_ref":7}""", "external_ref")]
    public async Task Malformed_labels_are_refused_with_the_field_named_and_nothing_changes(string body, string field)
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var before = StateSnapshot.OfDatabase(app);

        var response = await t.PostAsync($"/capacity/{pool}/reserve", Api.Json(body));
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await Api.ReadAsync(response, 400);
        Assert.Contains(field, problem.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(before, StateSnapshot.OfDatabase(app));
        Assert.Equal(10, await t.AvailableAsync(pool));
    }

    [Fact]
    public async Task Metadata_is_refused_past_16_keys_256_characters_a_value_or_4_KB_in_all_and_accepted_at_each_bound()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 100);

        async Task<int> Status(object metadata) =>
            (int)(await t.PostAsync($"/capacity/{pool}/reserve", Api.Json(new { quantity = 1, metadata }))).StatusCode;

        Assert.Equal(201, await Status(Enumerable.Range(0, 16).ToDictionary(i => $"k{i}", _ => "v")));
        Assert.Equal(400, await Status(Enumerable.Range(0, 17).ToDictionary(i => $"k{i}", _ => "v")));
        Assert.Equal(201, await Status(new Dictionary<string, string> { ["note"] = new string('x', 256) }));
        Assert.Equal(400, await Status(new Dictionary<string, string> { ["note"] = new string('x', 257) }));
        Assert.Equal(400, await Status(new Dictionary<string, string> { [new string('k', 41)] = "v" }));

        // 16 keys of 4 characters and values of 252: 4,096 bytes exactly; one byte more is refused.
        var atBound = Enumerable.Range(0, 16).ToDictionary(i => $"k{i:00}_", _ => new string('v', 252));
        Assert.Equal(201, await Status(atBound));
        atBound["k00_"] += "v";
        Assert.Equal(400, await Status(atBound));
        Assert.Equal(100 - 3, await t.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_events_reservations_are_listed_newest_first_with_a_cart_across_events_under_each_event_and_paged_without_gaps()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var day1 = await t.CreateCapacityAsync("fest-day-1", "Day 1", 100);
        var day2 = await t.CreateCapacityAsync("fest-day-2", "Day 2", 100);

        var made = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            made.Add(await t.HoldAsync(day1, 1));
        }

        var both = (await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new[] { new { capacity_id = day1, quantity = 1 }, new { capacity_id = day2, quantity = 1 } },
        })), 201))["id"]!.GetValue<string>();
        made.Add(both);
        var onlyDay2 = await t.HoldAsync(day2, 1);

        // Pages of 3 over day 1: every hold once, newest first (ids are time-ordered, so the reverse of creation).
        var seen = new List<string>();
        string? after = null;
        do
        {
            var page = await ListAsync(t, "event_id=fest-day-1&limit=3" + (after is null ? "" : "&after=" + after));
            seen.AddRange(Ids(page));
            after = page["next_after"]?.GetValue<string>();
        }
        while (after is not null);

        Assert.Equal(Enumerable.Reverse(made), seen);
        Assert.Equal([onlyDay2, both], Ids(await ListAsync(t, "event_id=fest-day-2")));
        Assert.Empty(Ids(await ListAsync(t, "event_id=fest-day-3")));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Filters_by_external_ref_status_and_buyer_narrow_the_list_and_a_due_hold_lists_as_expired()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 100);

        async Task<string> Hold(object body) =>
            (await Api.ReadAsync(await t.PostAsync($"/capacity/{pool}/reserve", Api.Json(body)), 201))["reservation"]!["id"]!.GetValue<string>();

        var shortHold = await Hold(new { quantity = 1, reservation_minutes = 1, external_ref = "order-1" });
        var sold = await Hold(new { quantity = 2, external_ref = "order-1", buyer_key = "fan-a" });
        await Api.ReadAsync(await t.TransitAsync(sold, "confirm"), 200);
        var keyed = await Hold(new { quantity = 1, buyer_key = "fan-a" });
        var other = await Hold(new { quantity = 1, external_ref = "order-2" });
        app.Clock!.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal([sold, shortHold], Ids(await ListAsync(t, "external_ref=order-1")));
        Assert.Equal([sold], Ids(await ListAsync(t, "event_id=gig&external_ref=order-1&status=confirmed")));
        Assert.Equal([shortHold], Ids(await ListAsync(t, "event_id=gig&status=expired")));
        Assert.Equal([other, keyed], Ids(await ListAsync(t, "event_id=gig&status=active")));
        Assert.Equal([keyed, sold], Ids(await ListAsync(t, "event_id=gig&buyer_key=fan-a")));
        var listed = (await ListAsync(t, "external_ref=order-2"))["reservations"]![0]!;
        Assert.Equal(("active", "order-2"), (listed["status"]!.GetValue<string>(), listed["external_ref"]!.GetValue<string>()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_tenant_never_lists_another_tenants_reservations_even_under_the_same_event_id_and_reference()
    {
        await using var app = await NewAppAsync();
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var poolA = await a.CreateCapacityAsync("shared-name", "Floor", 10);
        var poolB = await b.CreateCapacityAsync("shared-name", "Floor", 10);
        var holdA = (await Api.ReadAsync(await a.PostAsync($"/capacity/{poolA}/reserve", Api.Json(new { quantity = 1, external_ref = "x", buyer_key = "k" })), 201))["reservation"]!["id"]!.GetValue<string>();
        var holdB = (await Api.ReadAsync(await b.PostAsync($"/capacity/{poolB}/reserve", Api.Json(new { quantity = 1, external_ref = "x", buyer_key = "k" })), 201))["reservation"]!["id"]!.GetValue<string>();

        Assert.Equal([holdA], Ids(await ListAsync(a, "event_id=shared-name")));
        Assert.Equal([holdA], Ids(await ListAsync(a, "external_ref=x&buyer_key=k")));
        Assert.Equal([holdB], Ids(await ListAsync(b, "external_ref=x")));
        await app.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("", "event_id")]
    [InlineData("status=active", "event_id")]
    [InlineData("event_id=has%20space", "event_id")]
    [InlineData("event_id=gig&status=done", "status")]
    [InlineData("event_id=gig&status=Active", "status")]
    [InlineData("event_id=gig&status=5", "status")]
    [InlineData("event_id=gig&status=-1", "status")]
    [InlineData("event_id=gig&buyer_key=a&buyer_key=b", "buyer_key")]
    [InlineData("external_ref=a&external_ref=b", "external_ref")]
    [InlineData("event_id=gig&limit=5&limit=5", "limit")]
    [InlineData("event_id=gig&limit=0", "limit")]
    [InlineData("event_id=gig&limit=1001", "limit")]
    [InlineData("event_id=gig&after=7", "after")]
    [InlineData("event_id=gig&after=1_nothex", "after")]
    [InlineData("event_id=gig&after=-1_0123456789abcdef0123456789abcdef", "after")]
    [InlineData("event_id=gig&buyer_key=a%00b", "buyer_key")]
    [InlineData("external_ref=a%00b", "external_ref")]
    public async Task A_malformed_list_query_is_refused_with_the_parameter_named(string query, string field)
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var response = await t.GetAsync("/reservations?" + query);
        var problem = await Api.ReadAsync(response, 400);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(field, problem.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_waiting_list_offer_carries_its_entrys_external_ref_and_is_found_by_it()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        var hold = await t.HoldAsync(pool, 1);
        await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { waitlist = new { enabled = true } })), 200);
        var entry = await Api.ReadAsync(await t.PostAsync("/waitlist", Api.Json(new
        {
            items = new[] { new { capacity_id = pool, quantity = 1 } }, external_ref = "queue-42",
        })), 201);
        await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);

        var offers = await ListAsync(t, "external_ref=queue-42");
        Assert.Equal([entry["id"]!.GetValue<string>()], Ids(offers));
        Assert.Equal(entry["id"]!.GetValue<string>(), offers["reservations"]![0]!["waitlist_id"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Tenant A's event, seeded once: a pool, a capped child, a price on the child, an active hold on the
/// child, a confirmed sale on the pool and an allocation on the child with a hold drawn from it; a
/// buyer limit of 4 over the child that requires a buyer key, and a hold of 2 by <see cref="Buyer"/>;
/// a sold-out capacity whose waiting list is open, with an entry of <see cref="Buyer"/> waiting.
/// Tenant B has one capacity of its own in another event, with its waiting list open.
/// </summary>
public sealed class TwoTenantsOnSqlite() : TwoTenants(StoreKind.Sqlite);

public sealed class TwoTenantsOnPostgres() : TwoTenants(StoreKind.Postgres);

public abstract class TwoTenants(StoreKind kind) : IAsyncLifetime
{
    public StoreKind Kind => kind;

    public const string AEvent = "iso-ev";
    public const string BEvent = "b-ev";

    /// <summary>The buyer of A's keyed hold; the same key means another buyer in B.</summary>
    public const string Buyer = "same-hash";

    public CapacityApp App { get; private set; } = null!;

    public Tenant A { get; private set; } = null!;

    public Tenant B { get; private set; } = null!;

    public string Pool { get; private set; } = "";

    public string Child { get; private set; } = "";

    public string Price { get; private set; } = "";

    public string Hold { get; private set; } = "";

    public string Sold { get; private set; } = "";

    public string BCapacity { get; private set; } = "";

    public string Allocation { get; private set; } = "";

    public string AllocationHold { get; private set; } = "";

    public string Limit { get; private set; } = "";

    public string KeyedHold { get; private set; } = "";

    /// <summary>A's capacity of 1, held by <see cref="QueueHold"/>, with its waiting list open.</summary>
    public string Queue { get; private set; } = "";

    public string QueueHold { get; private set; } = "";

    /// <summary>A's entry for the queue's one ticket, waiting.</summary>
    public string Entry { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        App = await CapacityApp.CreateAsync(kind);
        A = await App.NewTenantAsync("A");
        B = await App.NewTenantAsync("B");
        Pool = await A.Client.CreateCapacityAsync(AEvent, "Pool", 100);
        Child = await A.Client.CreateCapacityAsync(AEvent, "Child", 50, Pool);
        var price = await A.Client.PostAsync($"/capacity/{Child}/pricing", Api.Json(new { name = "Adult", base_price = 30m, currency = "EUR" }));
        Price = (await Api.ReadAsync(price, 201))["id"]!.GetValue<string>();
        Hold = await A.Client.HoldAsync(Child, 2, 60);
        Sold = await A.Client.HoldAsync(Pool, 3, 60);
        await Api.ReadAsync(await A.Client.TransitAsync(Sold, "confirm"), 200);
        BCapacity = await B.Client.CreateCapacityAsync(BEvent, "B's own", 10);
        Allocation = await A.Client.AllocateAsync(Child, "A's box office", 5);
        AllocationHold = (await Api.ReadAsync(await A.Client.ReserveFromAsync(Child, 1, Allocation, 60), 201))["reservation"]!["id"]!.GetValue<string>();
        Limit = await A.Client.CreateLimitAsync(AEvent, "Four per person", 4, requireKey: true, Child);
        KeyedHold = (await Api.ReadAsync(await A.Client.ReserveAsBuyerAsync(Child, 2, Buyer, 60), 201))["reservation"]!["id"]!.GetValue<string>();

        // Sold out before its list opens, so the entry waits. B's list is open too, so that a join
        // naming B's capacity first gets as far as A's.
        Queue = await A.Client.CreateCapacityAsync(AEvent, "Queue", 1);
        QueueHold = await A.Client.HoldAsync(Queue, 1, 60);
        await A.Client.EnableWaitlistAsync(Queue, "fifo", offerMinutes: 10);
        var entry = await A.Client.JoinOkAsync(Buyer, (Queue, 1));
        Assert.Equal("waiting", entry["status"]!.GetValue<string>());
        Entry = entry["id"]!.GetValue<string>();
        await B.Client.EnableWaitlistAsync(BCapacity, "fifo");
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }
    }

    /// <summary>A's event as A sees it, plus every row of the database.</summary>
    public async Task<string> SnapshotAsync() =>
        await StateSnapshot.OfEventAsync(A.Client, AEvent, [Pool, Child, Queue], [Hold, Sold, AllocationHold, KeyedHold, QueueHold], [Price], [Allocation], [Limit], [Buyer], [Entry])
        + await StateSnapshot.OfEventAsync(B.Client, BEvent, [BCapacity], [], [])
        + StateSnapshot.OfDatabase(App);

    /// <summary>Fills A's ids into a template, or, for the control request, a fresh random GUID for each.</summary>
    public string Fill(string template, bool asIds)
    {
        string Id(string a) => asIds ? a : Guid.NewGuid().ToString();
        return template.Replace('\'', '"')
            .Replace("{pool}", Id(Pool), StringComparison.Ordinal)
            .Replace("{child}", Id(Child), StringComparison.Ordinal)
            .Replace("{price}", Id(Price), StringComparison.Ordinal)
            .Replace("{hold}", Id(Hold), StringComparison.Ordinal)
            .Replace("{sold}", Id(Sold), StringComparison.Ordinal)
            .Replace("{alloc}", Id(Allocation), StringComparison.Ordinal)
            .Replace("{limit}", Id(Limit), StringComparison.Ordinal)
            .Replace("{keyed_hold}", Id(KeyedHold), StringComparison.Ordinal)
            .Replace("{queue}", Id(Queue), StringComparison.Ordinal)
            .Replace("{entry}", Id(Entry), StringComparison.Ordinal)
            .Replace("{b_capacity}", BCapacity, StringComparison.Ordinal);
    }
}

/// <summary>
/// Tenants cannot see or touch each other's data: another tenant's id answers exactly like an id that
/// does not exist, another tenant's event reads as empty, and idempotency keys are per tenant.
/// </summary>
public sealed class IsolationTests_on_sqlite(TwoTenantsOnSqlite world) : IsolationTests<TwoTenantsOnSqlite>(world);

public sealed class IsolationTests_on_postgres(TwoTenantsOnPostgres world) : IsolationTests<TwoTenantsOnPostgres>(world);

public abstract class IsolationTests<TWorld>(TWorld world) : IClassFixture<TWorld>
    where TWorld : TwoTenants
{
    [Theory]
    [InlineData("GET", "/capacity/{pool}", null, 404)]
    [InlineData("GET", "/capacity/{child}", null, 404)]
    [InlineData("PUT", "/capacity/{pool}", "{'section_name':'Taken over'}", 404)]
    [InlineData("PUT", "/capacity/{child}", "{'is_active':false}", 404)]
    [InlineData("PUT", "/capacity/{pool}", "{'total_capacity':1000000}", 404)]
    [InlineData("POST", "/capacity/{pool}/check", "{'quantity':1}", 404)]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1}", 404)]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'pricing_id':'{price}'}", 404)]
    [InlineData("POST", "/capacity/{child}/pricing", "{'name':'Free','base_price':0,'currency':'EUR'}", 404)]
    [InlineData("GET", "/capacity/{child}/pricing", null, 404)]
    [InlineData("GET", "/pricing/{price}", null, 404)]
    [InlineData("PUT", "/pricing/{price}", "{'base_price':0}", 404)]
    [InlineData("GET", "/reservations/{hold}", null, 404)]
    [InlineData("GET", "/reservations/{sold}", null, 404)]
    [InlineData("POST", "/reservations/{hold}/confirm", null, 404)]
    [InlineData("POST", "/reservations/{hold}/release", "{}", 404)]
    [InlineData("POST", "/reservations/{sold}/cancel", null, 404)]
    [InlineData("POST", "/reservations/{hold}/cancel", null, 404)]
    [InlineData("POST", "/reservations/{hold}/extend", "{'minutes':30}", 404)]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1}]}", 404)]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{b_capacity}','quantity':1},{'capacity_id':'{pool}','quantity':1}]}", 404)]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{b_capacity}','quantity':1,'pricing_id':'{price}'}]}", 400)]
    [InlineData("POST", "/capacity/{b_capacity}/reserve", "{'quantity':1,'pricing_id':'{price}'}", 400)]
    [InlineData("POST", "/events/b-ev/capacity", "{'section_name':'Under A','total_capacity':5,'parent_ids':['{pool}']}", 400)]
    [InlineData("POST", "/events/iso-ev/capacity", "{'section_name':'Under A','parent_ids':['{child}']}", 400)]
    [InlineData("GET", "/allocations/{alloc}", null, 404)]
    [InlineData("PUT", "/allocations/{alloc}", "{'quantity':50}", 404)]
    [InlineData("PUT", "/allocations/{alloc}", "{'name':'Taken over','expires_at':null}", 404)]
    [InlineData("POST", "/allocations/{alloc}/release", "{'quantity':1}", 404)]
    [InlineData("POST", "/allocations/{alloc}/close", null, 404)]
    [InlineData("GET", "/capacity/{child}/allocations", null, 404)]
    [InlineData("POST", "/capacity/{child}/allocations", "{'name':'Mine now','quantity':1}", 404)]
    [InlineData("POST", "/capacity/{b_capacity}/reserve", "{'quantity':1,'allocation_id':'{alloc}'}", 404)]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{b_capacity}','quantity':1,'allocation_id':'{alloc}'}]}", 404)]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':'{alloc}'}]}", 404)]
    [InlineData("POST", "/events/b-ev/capacity", "{'section_name':'Under A','parent_ids':['{b_capacity}','{pool}']}", 400)]
    [InlineData("GET", "/limits/{limit}", null, 404)]
    [InlineData("GET", "/limits/{limit}/usage?buyer_key=same-hash", null, 404)]
    [InlineData("GET", "/limits/{limit}/usage", null, 404)]
    [InlineData("PUT", "/limits/{limit}", "{'per_buyer_max':1000}", 404)]
    [InlineData("PUT", "/limits/{limit}", "{'name':'Taken over','require_buyer_key':false}", 404)]
    [InlineData("PUT", "/limits/{limit}", "{}", 404)]
    [InlineData("DELETE", "/limits/{limit}", null, 404)]
    [InlineData("DELETE", "/limits/{limit}", "{}", 404)]
    [InlineData("POST", "/events/b-ev/limits", "{'name':'Theirs','capacity_ids':['{child}'],'per_buyer_max':1}", 400)]
    [InlineData("POST", "/events/iso-ev/limits", "{'name':'Theirs','capacity_ids':['{pool}'],'per_buyer_max':1,'require_buyer_key':true}", 400)]
    [InlineData("POST", "/events/b-ev/limits", "{'name':'Mixed','capacity_ids':['{b_capacity}','{child}'],'per_buyer_max':1}", 400)]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'buyer_key':'same-hash'}", 404)]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{b_capacity}','quantity':1},{'capacity_id':'{child}','quantity':1}],'buyer_key':'same-hash'}", 404)]
    [InlineData("GET", "/reservations/{keyed_hold}", null, 404)]
    [InlineData("POST", "/reservations/{keyed_hold}/release", null, 404)]
    // A's entry, its capacity's list, joining it and changing its settings. A bad page or bad settings
    // on A's capacity are 404 too: the id is looked up first, so the order of checks tells B nothing.
    [InlineData("GET", "/waitlist/{entry}", null, 404)]
    [InlineData("DELETE", "/waitlist/{entry}", null, 404)]
    [InlineData("DELETE", "/waitlist/{entry}", "{}", 404)]
    [InlineData("GET", "/capacity/{queue}/waitlist", null, 404)]
    [InlineData("GET", "/capacity/{queue}/waitlist?after=0&limit=1000", null, 404)]
    [InlineData("GET", "/capacity/{queue}/waitlist?limit=0", null, 404)]
    [InlineData("GET", "/capacity/{child}/waitlist", null, 404)]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}]}", 404)]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'buyer_key':'same-hash','external_ref':'theirs'}", 404)]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{b_capacity}','quantity':1},{'capacity_id':'{queue}','quantity':1}]}", 404)]
    // A's pool has no list: 404, not 409 WAITLIST_DISABLED, which would say the capacity exists.
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{pool}','quantity':1}]}", 404)]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':'same-hash'}", 404)]
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'enabled':false}}", 404)]
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'offer_minutes':120,'policy':'first_fit'}}", 404)]
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'offer_minutes':0}}", 404)]
    [InlineData("PUT", "/capacity/{queue}", "{'total_capacity':5}", 404)]
    [InlineData("PUT", "/capacity/{pool}", "{'waitlist':{'enabled':true}}", 404)]
    [InlineData("PUT", "/capacity/{child}", "{'waitlist':{}}", 404)]
    public async Task Another_tenants_id_answers_exactly_like_an_id_that_does_not_exist(string method, string path, string? body, int status)
    {
        var before = await world.SnapshotAsync();

        var foreign = await ProblemOfAsync(method, world.Fill(path, asIds: true), body is null ? null : world.Fill(body, asIds: true));
        var missing = await ProblemOfAsync(method, world.Fill(path, asIds: false), body is null ? null : world.Fill(body, asIds: false));

        Assert.Equal(status, foreign.Status);
        Assert.Equal(missing.Status, foreign.Status);
        Assert.Equal(missing.Problem["code"]!.GetValue<string>(), foreign.Problem["code"]!.GetValue<string>());
        Assert.Equal(missing.Problem["type"]!.GetValue<string>(), foreign.Problem["type"]!.GetValue<string>());
        Assert.Equal(missing.Problem["title"]!.GetValue<string>(), foreign.Problem["title"]!.GetValue<string>());
        Assert.Equal(ErrorFields(missing.Problem), ErrorFields(foreign.Problem));
        Assert.Equal(status == 404 ? "NOT_FOUND" : "VALIDATION_ERROR", foreign.Problem["code"]!.GetValue<string>());

        Assert.Equal(before, await world.SnapshotAsync());
        await world.App.AssertInvariantsAsync();
    }

    private async Task<(int Status, JsonObject Problem)> ProblemOfAsync(string method, string path, string? body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = Api.Json(body);
        }

        using var response = await world.B.Client.SendAsync(request);
        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"{method} {path} answered {status}: {await response.Content.ReadAsStringAsync()}");
        var code = JsonNode.Parse(await response.Content.ReadAsStringAsync())?["code"]?.GetValue<string>() ?? "(none)";
        return (status, await Api.ProblemAsync(response, status, code));
    }

    private static string ErrorFields(JsonObject problem) =>
        problem["errors"] is JsonObject errors ? string.Join(",", errors.Select(e => e.Key).Order(StringComparer.Ordinal)) : "";

    [Fact]
    public async Task Another_tenants_event_reads_as_empty_exactly_like_an_event_nobody_made()
    {
        var before = await world.SnapshotAsync();
        var b = world.B.Client;
        var unused = "never-used-" + Guid.NewGuid().ToString("N")[..8];

        var list = await Api.ReadAsync(await b.GetAsync($"/events/{TwoTenants.AEvent}/capacity"), 200);
        Assert.Empty(list["capacity"]!.AsArray());
        Assert.Equal(
            (await Api.ReadAsync(await b.GetAsync($"/events/{unused}/capacity"), 200)).ToJsonString(),
            list.ToJsonString());

        var total = await Api.ReadAsync(await b.GetAsync($"/events/{TwoTenants.AEvent}/capacity/total"), 200);
        Assert.Equal(0, total["total_capacity"]!.GetValue<long>());
        Assert.Equal(0, total["available_capacity"]!.GetValue<long>());
        Assert.Equal(0, total["reserved_capacity"]!.GetValue<long>());
        Assert.Equal(0, total["sold_count"]!.GetValue<long>());
        Assert.False(total["has_unlimited"]!.GetValue<bool>());
        var unusedTotal = await Api.ReadAsync(await b.GetAsync($"/events/{unused}/capacity/total"), 200);
        unusedTotal["event_id"] = TwoTenants.AEvent;
        Assert.Equal(unusedTotal.ToJsonString(), total.ToJsonString());

        foreach (var query in new[] { "", "?after=0&limit=1000", "?limit=1" })
        {
            var ledger = await Api.ReadAsync(await b.GetAsync($"/events/{TwoTenants.AEvent}/ledger{query}"), 200);
            Assert.Empty(ledger["entries"]!.AsArray());
            Assert.Null(ledger["next_after"]);
        }

        var limits = await Api.ReadAsync(await b.GetAsync($"/events/{TwoTenants.AEvent}/limits"), 200);
        Assert.Empty(limits["limits"]!.AsArray());
        Assert.Equal((await Api.ReadAsync(await b.GetAsync($"/events/{unused}/limits"), 200)).ToJsonString(), limits.ToJsonString());

        var events = (await Api.ReadAsync(await b.GetAsync("/events"), 200))["events"]!.AsArray();
        Assert.Equal([TwoTenants.BEvent], events.Select(e => e!["event_id"]!.GetValue<string>()));

        // The live stream's first snapshot of A's event, as B sees it, is the empty one.
        var stream = await Api.FirstSnapshotAsync(b, TwoTenants.AEvent);
        Assert.Empty(stream["capacity"]!.AsArray());
        Assert.Equal(0, stream["totals"]!["total_capacity"]!.GetValue<long>());
        Assert.Equal(0, stream["holds"]!["active"]!.GetValue<long>());
        Assert.Empty(stream["holds"]!["expiring"]!.AsArray());

        // A sees its own event in full.
        Assert.Contains(
            TwoTenants.AEvent,
            (await Api.ReadAsync(await world.A.Client.GetAsync("/events"), 200))["events"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()));
        Assert.Equal(3, (await Api.FirstSnapshotAsync(world.A.Client, TwoTenants.AEvent))["capacity"]!.AsArray().Count);
        var own = await Api.ReadAsync(await world.A.Client.GetAsync($"/events/{TwoTenants.AEvent}/capacity"), 200);
        Assert.Equal(3, own["capacity"]!.AsArray().Count);
        var ownLedger = await Api.ReadAsync(await world.A.Client.GetAsync($"/events/{TwoTenants.AEvent}/ledger"), 200);
        Assert.NotEmpty(ownLedger["entries"]!.AsArray());
        var ownLimits = await Api.ReadAsync(await world.A.Client.GetAsync($"/events/{TwoTenants.AEvent}/limits"), 200);
        Assert.Equal(world.Limit, Assert.Single(ownLimits["limits"]!.AsArray())!["id"]!.GetValue<string>());
        var ownQueue = await Api.ReadAsync(await world.A.Client.GetAsync($"/capacity/{world.Queue}/waitlist"), 200);
        Assert.Equal(world.Entry, Assert.Single(ownQueue["entries"]!.AsArray())!["id"]!.GetValue<string>());

        Assert.Equal(before, await world.SnapshotAsync());
    }

    [Fact]
    public async Task Two_tenants_using_one_event_id_each_see_only_their_own_capacities_and_ledger()
    {
        await using var app = await CapacityApp.CreateAsync(world.Kind);
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var aPool = await a.CreateCapacityAsync("same-ev", "A pool", 10);
        var bPool = await b.CreateCapacityAsync("same-ev", "B pool", 20);
        await a.HoldAsync(aPool, 4);
        await b.HoldAsync(bPool, 1);

        var aList = await Api.ReadAsync(await a.GetAsync("/events/same-ev/capacity"), 200);
        Assert.Equal(aPool, Assert.Single(aList["capacity"]!.AsArray())!["id"]!.GetValue<string>());
        var bList = await Api.ReadAsync(await b.GetAsync("/events/same-ev/capacity"), 200);
        Assert.Equal(bPool, Assert.Single(bList["capacity"]!.AsArray())!["id"]!.GetValue<string>());

        Assert.Equal(10, (await Api.ReadAsync(await a.GetAsync("/events/same-ev/capacity/total"), 200))["total_capacity"]!.GetValue<long>());
        Assert.Equal(20, (await Api.ReadAsync(await b.GetAsync("/events/same-ev/capacity/total"), 200))["total_capacity"]!.GetValue<long>());

        var aLedger = (await Api.ReadAsync(await a.GetAsync("/events/same-ev/ledger"), 200))["entries"]!.AsArray();
        Assert.Equal(aPool, Assert.Single(aLedger)!["capacity_id"]!.GetValue<string>());
        var bLedger = (await Api.ReadAsync(await b.GetAsync("/events/same-ev/ledger"), 200))["entries"]!.AsArray();
        Assert.Equal(bPool, Assert.Single(bLedger)!["capacity_id"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task One_idempotency_key_used_by_two_tenants_on_one_path_is_two_independent_keys()
    {
        await using var app = await CapacityApp.CreateAsync(world.Kind);
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        const string key = "order-1";

        // Same key, same path, same body: both take effect, neither replays the other's answer.
        var body = "{\"section_name\":\"Stalls\",\"total_capacity\":10}";
        using var aFirst = await PostWithKeyAsync(a, "/events/shared-ev/capacity", body, key);
        using var bFirst = await PostWithKeyAsync(b, "/events/shared-ev/capacity", body, key);
        var aId = (await Api.ReadAsync(aFirst, 201))["id"]!.GetValue<string>();
        var bId = (await Api.ReadAsync(bFirst, 201))["id"]!.GetValue<string>();
        Assert.NotEqual(aId, bId);
        Assert.False(aFirst.Headers.Contains("Idempotent-Replayed"));
        Assert.False(bFirst.Headers.Contains("Idempotent-Replayed"));

        // Each tenant's retry replays its own answer.
        using var aAgain = await PostWithKeyAsync(a, "/events/shared-ev/capacity", body, key);
        using var bAgain = await PostWithKeyAsync(b, "/events/shared-ev/capacity", body, key);
        Assert.Equal(aId, (await Api.ReadAsync(aAgain, 201))["id"]!.GetValue<string>());
        Assert.Equal(bId, (await Api.ReadAsync(bAgain, 201))["id"]!.GetValue<string>());
        Assert.Equal("true", Assert.Single(bAgain.Headers.GetValues("Idempotent-Replayed")));

        // Same key, same path, different body: B's request is new to B, not a reuse of A's key.
        using var bOther = await PostWithKeyAsync(b, "/events/shared-ev/capacity", "{\"section_name\":\"Circle\",\"total_capacity\":5}", "order-2");
        using var aOther = await PostWithKeyAsync(a, "/events/shared-ev/capacity", "{\"section_name\":\"Balcony\",\"total_capacity\":7}", "order-2");
        await Api.ReadAsync(bOther, 201);
        await Api.ReadAsync(aOther, 201);

        // Holds with one key at the same moment, so they land in one batch: both take effect.
        var aHold = PostWithKeyAsync(a, $"/capacity/{aId}/reserve", "{\"quantity\":2}", "hold-1");
        var bHold = PostWithKeyAsync(b, $"/capacity/{bId}/reserve", "{\"quantity\":3}", "hold-1");
        var holds = await Task.WhenAll(aHold, bHold);
        foreach (var h in holds)
        {
            await Api.ReadAsync(h, 201);
            h.Dispose();
        }

        Assert.Equal(8, await a.AvailableAsync(aId));
        Assert.Equal(7, await b.AvailableAsync(bId));
        var aList = (await Api.ReadAsync(await a.GetAsync("/events/shared-ev/capacity"), 200))["capacity"]!.AsArray();
        var bList = (await Api.ReadAsync(await b.GetAsync("/events/shared-ev/capacity"), 200))["capacity"]!.AsArray();
        Assert.Equal(["Stalls", "Balcony"], aList.Select(c => c!["section_name"]!.GetValue<string>()));
        Assert.Equal(["Stalls", "Circle"], bList.Select(c => c!["section_name"]!.GetValue<string>()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task One_buyer_key_in_two_tenants_is_two_buyers_whose_tickets_count_only_in_their_own_tenant()
    {
        await using var app = await CapacityApp.CreateAsync(world.Kind);
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var aFloor = await a.CreateCapacityAsync("same-ev", "Floor", 20);
        var bFloor = await b.CreateCapacityAsync("same-ev", "Floor", 20);

        // B's buyer buys before any limit exists: usage is kept for every keyed hold, but in B only.
        var sale = (await Api.ReadAsync(await b.ReserveAsBuyerAsync(bFloor, 3, TwoTenants.Buyer), 201))["reservation"]!["id"]!.GetValue<string>();
        await Api.ReadAsync(await b.TransitAsync(sale, "confirm"), 200);
        var aLimit = await a.CreateLimitAsync("same-ev", "Four", 4, aFloor);
        var bLimit = await b.CreateLimitAsync("same-ev", "Four", 4, bFloor);
        Assert.Equal(0, await a.UsageAsync(aLimit, TwoTenants.Buyer));
        Assert.Equal(3, await b.UsageAsync(bLimit, TwoTenants.Buyer));

        // A's buyer takes all of A's allowance; B's buyer still has exactly one left in B.
        await Api.ReadAsync(await a.CartAsync(TwoTenants.Buyer, (aFloor, 4)), 201);
        var aRefused = await Api.ProblemAsync(await a.ReserveAsBuyerAsync(aFloor, 1, TwoTenants.Buyer), 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal((aLimit, 4L), (aRefused["limit_id"]!.GetValue<string>(), aRefused["used"]!.GetValue<long>()));
        await Api.ReadAsync(await b.ReserveAsBuyerAsync(bFloor, 1, TwoTenants.Buyer), 201);
        var bRefused = await Api.ProblemAsync(await b.CartAsync(TwoTenants.Buyer, (bFloor, 1)), 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal((bLimit, 4L), (bRefused["limit_id"]!.GetValue<string>(), bRefused["used"]!.GetValue<long>()));
        Assert.Equal(4, await a.UsageAsync(aLimit, TwoTenants.Buyer));
        Assert.Equal(4, await b.UsageAsync(bLimit, TwoTenants.Buyer));

        // Under the one event id each tenant lists only its own limit, and cannot read the other's.
        Assert.Equal(aLimit, Assert.Single((await Api.ReadAsync(await a.GetAsync("/events/same-ev/limits"), 200))["limits"]!.AsArray())!["id"]!.GetValue<string>());
        Assert.Equal(bLimit, Assert.Single((await Api.ReadAsync(await b.GetAsync("/events/same-ev/limits"), 200))["limits"]!.AsArray())!["id"]!.GetValue<string>());
        await Api.ProblemAsync(await a.GetAsync($"/limits/{bLimit}/usage?buyer_key={TwoTenants.Buyer}"), 404, "NOT_FOUND");
        await app.AssertInvariantsAsync();
    }

    private static async Task<HttpResponseMessage> PostWithKeyAsync(HttpClient client, string path, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Api.Json(body) };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request);
    }

    public static TheoryData<string, string> TenantRoutes() => new()
    {
        { "POST", "/events/iso-ev/capacity" },
        { "GET", "/events/iso-ev/capacity" },
        { "GET", "/events/iso-ev/capacity/total" },
        { "GET", "/capacity/{pool}" },
        { "PUT", "/capacity/{pool}" },
        { "POST", "/capacity/{pool}/check" },
        { "POST", "/capacity/{pool}/reserve" },
        { "POST", "/reservations" },
        { "GET", "/reservations/{hold}" },
        { "POST", "/reservations/{hold}/confirm" },
        { "POST", "/reservations/{hold}/release" },
        { "POST", "/reservations/{sold}/cancel" },
        { "POST", "/reservations/{hold}/extend" },
        { "POST", "/capacity/{child}/pricing" },
        { "GET", "/capacity/{child}/pricing" },
        { "GET", "/pricing/{price}" },
        { "PUT", "/pricing/{price}" },
        { "POST", "/capacity/{child}/allocations" },
        { "GET", "/capacity/{child}/allocations" },
        { "GET", "/allocations/{alloc}" },
        { "PUT", "/allocations/{alloc}" },
        { "POST", "/allocations/{alloc}/release" },
        { "POST", "/allocations/{alloc}/close" },
        { "GET", "/events/iso-ev/ledger" },
        { "GET", "/events" },
        { "GET", "/events/iso-ev/capacity/stream" },
        { "POST", "/events/iso-ev/limits" },
        { "GET", "/events/iso-ev/limits" },
        { "GET", "/limits/{limit}" },
        { "PUT", "/limits/{limit}" },
        { "DELETE", "/limits/{limit}" },
        { "GET", "/limits/{limit}/usage?buyer_key=same-hash" },
        { "POST", "/waitlist" },
        { "GET", "/waitlist/{entry}" },
        { "DELETE", "/waitlist/{entry}" },
        { "GET", "/capacity/{queue}/waitlist" },
        { "PUT", "/capacity/{queue}" },
    };

    public static TheoryData<string, string> AdminRoutes() => new()
    {
        { "POST", "/admin/tenants" },
        { "POST", "/admin/tenants/{tenant}/keys" },
        { "GET", "/admin/tenants/{tenant}/keys" },
        { "DELETE", "/admin/tenants/{tenant}/keys/00000000-0000-0000-0000-000000000001" },
        { "POST", "/admin/tenants/{tenant}/disable" },
        { "POST", "/admin/tenants/{tenant}/enable" },
        { "GET", "/admin/verify" },
    };

    /// <summary>A body each write would accept, so that only the credential is wrong.</summary>
    private static string? GoodBody(string method, string path) => (method, path) switch
    {
        ("GET" or "DELETE", _) => null,
        (_, "/events/iso-ev/capacity") => "{'section_name':'Sneaky','total_capacity':5}",
        (_, "/capacity/{pool}") => "{'section_name':'Sneaky'}",
        (_, "/capacity/{pool}/check" or "/capacity/{pool}/reserve") => "{'quantity':1}",
        (_, "/reservations") => "{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':'same-hash'}",
        (_, "/reservations/{hold}/extend") => "{'minutes':30}",
        (_, "/capacity/{child}/pricing") => "{'name':'Sneaky','base_price':0,'currency':'EUR'}",
        (_, "/pricing/{price}") => "{'base_price':0}",
        (_, "/capacity/{child}/allocations") => "{'name':'Sneaky','quantity':1}",
        (_, "/allocations/{alloc}") => "{'quantity':50}",
        (_, "/allocations/{alloc}/release") => "{'quantity':1}",
        (_, "/events/iso-ev/limits") => "{'name':'Sneaky','capacity_ids':['{pool}'],'per_buyer_max':1}",
        (_, "/limits/{limit}") => "{'per_buyer_max':1}",
        (_, "/waitlist") => "{'items':[{'capacity_id':'{queue}','quantity':1}],'buyer_key':'same-hash'}",
        (_, "/capacity/{queue}") => "{'waitlist':{'enabled':false}}",
        (_, "/admin/tenants") => "{'name':'Sneaky'}",
        _ => null,
    };

    private async Task<HttpResponseMessage> SendAsync(string method, string path, Action<HttpRequestMessage> authorize)
    {
        var filled = world.Fill(path, asIds: true).Replace("{tenant}", world.A.Id.ToString(), StringComparison.Ordinal);
        using var request = new HttpRequestMessage(new HttpMethod(method), filled);
        if (GoodBody(method, path) is { } body)
        {
            request.Content = Api.Json(world.Fill(body, asIds: true));
        }

        authorize(request);
        using var client = world.App.CreateClient();
        return await client.SendAsync(request);
    }

    private static readonly string[] GarbageCredentials =
    [
        "Bearer garbage",
        "Bearer cap_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer capadmin_wrong",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Token " + CapacityApp.AdminKey,
        "garbage",
    ];

    [Theory]
    [MemberData(nameof(TenantRoutes))]
    [MemberData(nameof(AdminRoutes))]
    public async Task Without_a_valid_credential_every_route_is_unauthorized_with_a_bearer_challenge_and_changes_nothing(string method, string path)
    {
        var before = await world.SnapshotAsync();

        using (var none = await SendAsync(method, path, _ => { }))
        {
            await Api.ProblemAsync(none, 401, "UNAUTHORIZED");
            Assert.Equal("Bearer", none.Headers.WwwAuthenticate.ToString());
        }

        foreach (var credential in GarbageCredentials.Append("Bearer " + new string('x', 5000)))
        {
            using var bad = await SendAsync(method, path, r => r.Headers.TryAddWithoutValidation("Authorization", credential));
            var problem = await Api.ProblemAsync(bad, 401, "UNAUTHORIZED");
            Assert.Equal("Bearer", bad.Headers.WwwAuthenticate.ToString());
            if (credential.Length > 14)
            {
                Assert.DoesNotContain(credential[7..], problem.ToJsonString(), StringComparison.Ordinal);
            }
        }

        Assert.Equal(before, await world.SnapshotAsync());
    }

    [Theory]
    [MemberData(nameof(TenantRoutes))]
    public async Task The_admin_key_on_a_tenant_route_is_forbidden_and_changes_nothing(string method, string path)
    {
        var before = await world.SnapshotAsync();
        using var response = await SendAsync(method, path, r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", CapacityApp.AdminKey));
        await Api.ProblemAsync(response, 403, "FORBIDDEN");
        Assert.Equal(before, await world.SnapshotAsync());
    }

    [Theory]
    [MemberData(nameof(AdminRoutes))]
    public async Task A_tenant_key_on_an_admin_route_is_forbidden_and_changes_nothing(string method, string path)
    {
        var before = await world.SnapshotAsync();
        foreach (var key in new[] { world.A.Key, world.B.Key })
        {
            using var response = await SendAsync(method, path, r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key));
            await Api.ProblemAsync(response, 403, "FORBIDDEN");
        }

        Assert.Equal(before, await world.SnapshotAsync());
    }

    [Fact]
    public async Task Health_routes_need_no_credential()
    {
        using var client = world.App.CreateClient();
        Assert.Equal("ok", (await Api.ReadAsync(await client.GetAsync("/healthz"), 200))["status"]!.GetValue<string>());
        Assert.Equal("ready", (await Api.ReadAsync(await client.GetAsync("/readyz"), 200))["status"]!.GetValue<string>());
        using var garbage = world.App.WithToken("garbage");
        Assert.Equal(HttpStatusCode.OK, (await garbage.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task The_bearer_scheme_is_case_insensitive_and_the_key_is_not()
    {
        using var client = world.App.CreateClient();
        using var lower = new HttpRequestMessage(HttpMethod.Get, $"/capacity/{world.Pool}");
        lower.Headers.TryAddWithoutValidation("Authorization", "bearer " + world.A.Key);
        await Api.ReadAsync(await client.SendAsync(lower), 200);

        using var shouting = new HttpRequestMessage(HttpMethod.Get, $"/capacity/{world.Pool}");
        shouting.Headers.TryAddWithoutValidation("Authorization", "Bearer " + world.A.Key.ToUpperInvariant());
        await Api.ProblemAsync(await client.SendAsync(shouting), 401, "UNAUTHORIZED");
    }
}

using System.Net;
using System.Net.Http.Json;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>Two real server processes behind no load balancer, on one PostgreSQL database.</summary>
public sealed class MultiNodeTests
{
    [Fact]
    public async Task Two_nodes_with_300_clients_each_sell_a_pool_of_100_exactly_once()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var pool = await a.CreateCapacityAsync("final", "Pool", 100);
        var capped = await a.CreateCapacityAsync("final", "Capped", 80, pool);
        var shared = await b.CreateCapacityAsync("final", "Shared", null, pool);

        var requests = Enumerable.Range(0, 600).Select(i => (i % 2 == 0 ? a : b).ReserveAsync(i % 3 == 0 ? shared : capped, 1));
        var responses = await Task.WhenAll(requests);

        Assert.Equal(100, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(500, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(0, await b.AvailableAsync(pool));

        // One idempotency key sent to both nodes at once: one effect.
        var keyed = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, $"/capacity/{pool}") { Content = Api.Json(new { total_capacity = 150 }) };
            request.Headers.Add("Idempotency-Key", "grow-the-pool");
            return (i % 2 == 0 ? a : b).SendAsync(request);
        }));
        Assert.All(keyed, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(19, keyed.Count(r => r.Headers.Contains("Idempotent-Replayed")));
        Assert.Equal(50, await a.AvailableAsync(pool));

        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Sales_figures_written_by_two_nodes_at_once_add_up_the_same_through_either()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var pool = await a.CreateCapacityAsync("tour", "Pool", 200);
        var capped = await a.CreateCapacityAsync("tour", "Capped", 150, pool);
        var shared = await b.CreateCapacityAsync("tour", "Shared", null, pool);

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => (i % 2 == 0 ? a : b).ReserveAsync(i % 3 == 0 ? shared : capped, 1)));
        var holds = new List<string>();
        foreach (var r in responses.Where(r => r.StatusCode == HttpStatusCode.Created))
        {
            holds.Add((await Api.ReadAsync(r, 201))["reservation"]!["id"]!.GetValue<string>());
        }

        Assert.Equal(200, holds.Count);
        var moves = holds.Select((h, i) => (i % 2 == 0 ? a : b).TransitAsync(h, i % 4 == 3 ? "release" : "confirm"));
        Assert.All(await Task.WhenAll(moves), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var throughA = (await Api.ReadAsync(await a.GetAsync("/events/tour/stats"), 200))["totals"]!;
        var throughB = (await Api.ReadAsync(await b.GetAsync("/events/tour/stats"), 200))["totals"]!;
        Assert.Equal(throughA.ToJsonString(), throughB.ToJsonString());
        Assert.Equal((200L, 150L, 50L), (throughA["held"]!.GetValue<long>(), throughA["confirmed"]!.GetValue<long>(), throughA["released"]!.GetValue<long>()));
        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Fifty_concurrent_holds_of_one_buyer_across_two_nodes_place_exactly_the_limit()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var venue = await a.CreateCapacityAsync("final", "Venue", 1000);
        var stalls = await a.CreateCapacityAsync("final", "Stalls", 500, venue);
        var circle = await b.CreateCapacityAsync("final", "Circle", 500, venue);
        var limit = await b.CreateLimitAsync("final", "Four per person", 4, stalls, circle);

        // Single holds over both sections, half through each node, one buyer.
        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            (i % 2 == 0 ? a : b).ReserveAsBuyerAsync(i % 3 == 0 ? circle : stalls, 1, "one-buyer")));

        Assert.Equal(4, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(46, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(4, await a.UsageAsync(limit, "one-buyer"));
        Assert.Equal(4, await b.UsageAsync(limit, "one-buyer"));
        Assert.Equal(996, await b.AvailableAsync(venue));

        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task First_joins_of_one_buyer_on_two_sections_through_two_nodes_at_once_never_queue_past_the_limit()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);

        // Sections that share no pool, with nobody waiting yet: the two joins lock no capacity in common,
        // so only the limit's lock, which guards the buyer's usage (waiting units included), keeps them in turn.
        for (var round = 0; round < 12; round++)
        {
            var eventId = $"night-{round}";
            var stalls = await a.CreateCapacityAsync(eventId, "Stalls", 10);
            var circle = await b.CreateCapacityAsync(eventId, "Circle", 10);
            await a.EnableWaitlistAsync(stalls, "fifo");
            await b.EnableWaitlistAsync(circle, "fifo");
            await b.CreateLimitAsync(eventId, "Four per person", 4, stalls, circle);
            await a.HoldAsync(stalls, 10);
            await b.HoldAsync(circle, 10);

            var responses = await Task.WhenAll(a.JoinAsync("one-buyer", (stalls, 3)), b.JoinAsync("one-buyer", (circle, 3)));
            Assert.Equal(
                [HttpStatusCode.Created, HttpStatusCode.Conflict],
                responses.Select(r => r.StatusCode).Order().ToArray());
        }

        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Joins_and_holds_of_one_buyer_racing_through_two_nodes_take_exactly_the_limit_between_them()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var floor = await a.CreateCapacityAsync("final", "Floor", 10);
        var balcony = await b.CreateCapacityAsync("final", "Balcony", 100);
        await a.EnableWaitlistAsync(floor, "fifo");
        var limit = await b.CreateLimitAsync("final", "Four per person", 4, floor, balcony);
        await a.HoldAsync(floor, 10);

        // A join waits for units the buyer may not also hold elsewhere: joins for the sold-out floor and
        // holds on the balcony, both through both nodes, together take 4 and no more.
        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            (i % 2 == 0 ? a : b) is var node && i % 4 < 2 ? node.JoinAsync("one-buyer", (floor, 1)) : node.ReserveAsBuyerAsync(balcony, 1, "one-buyer")));
        Assert.Equal(4, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(36, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(4, await a.UsageAsync(limit, "one-buyer"));
        var waiting = (await Api.ReadAsync(await b.GetAsync($"/limits/{limit}/usage?buyer_key=one-buyer"), 200))["waiting"]!.GetValue<long>();
        Assert.Equal(waiting, (await a.GetCapacityAsync(floor))["waitlist"]!["waiting"]!.GetValue<long>());
        Assert.Equal(4 - waiting, (await b.GetCapacityAsync(balcony))["reserved_capacity"]!.GetValue<long>());
        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Changes_partial_confirms_and_new_holds_racing_through_two_nodes_never_oversell_and_every_ticket_is_accounted_for()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var pool = await a.CreateCapacityAsync("final", "Pool", 20);
        var holds = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            holds.Add(await (i % 2 == 0 ? a : b).HoldAsync(pool, 2));
        }

        // Sold out. Each hold is lowered to 1 through one node while the other node tries to raise it
        // to 3 and confirm 1 of it; new holds race for whatever comes free, half through each node.
        HttpRequestMessage Patch(string hold, int quantity) =>
            new(HttpMethod.Patch, $"/reservations/{hold}") { Content = Api.Json(new { items = new[] { new { capacity_id = pool, quantity } } }) };
        var racing = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < holds.Count; i++)
        {
            var (mine, other) = i % 2 == 0 ? (a, b) : (b, a);
            racing.Add(mine.SendAsync(Patch(holds[i], 1)));
            racing.Add(other.SendAsync(Patch(holds[i], 3)));
            racing.Add(other.PostAsync($"/reservations/{holds[i]}/confirm", Api.Json(new { items = new[] { new { capacity_id = pool, quantity = 1 } } })));
        }

        racing.AddRange(Enumerable.Range(0, 30).Select(i => (i % 2 == 0 ? a : b).ReserveAsync(pool, 1)));
        var answers = await Task.WhenAll(racing);
        Assert.All(answers, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created or HttpStatusCode.Conflict, $"{r.StatusCode}"));

        // Every ticket taken is in a listed reservation, and the pool never went past 20.
        var listed = await Api.ReadAsync(await b.GetAsync("/reservations?event_id=final&limit=1000"), 200);
        var kept = listed["reservations"]!.AsArray()
            .Where(r => r!["status"]!.GetValue<string>() is "active" or "confirmed")
            .Sum(r => r!["items"]!.AsArray().Sum(item => item!["quantity"]!.GetValue<int>()));
        Assert.InRange(kept, 10, 20);
        Assert.Equal(20 - kept, await a.AvailableAsync(pool));
        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task An_early_bird_sold_out_through_two_nodes_opens_the_regular_tier_once_and_no_regular_ticket_goes_before_it()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var venue = await a.CreateCapacityAsync("final", "Venue", 500);
        var early = await a.CreateCapacityAsync("final", "Early bird", 50, venue);
        var regular = (await Api.ReadAsync(await b.PostAsync("/events/final/capacity", Api.Json(new
        {
            section_name = "Regular", total_capacity = 400, parent_ids = new[] { venue }, opens_after_sold_out_of = early,
        })), 201))["id"]!.GetValue<string>();

        var answers = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => (i % 2 == 0 ? a : b).ReserveAsync(i % 3 == 0 ? regular : early, 1)));
        Assert.All(answers, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict or HttpStatusCode.ServiceUnavailable, $"{r.StatusCode}"));
        Assert.Equal(50, (await a.GetCapacityAsync(early))["reserved_capacity"]!.GetValue<long>());

        var kinds = (await b.LedgerAsync("final")).Select(e => (e!["kind"]!.GetValue<string>(), e["capacity_id"]!.GetValue<string>())).ToList();
        Assert.Single(kinds, k => k.Item1 == "open");
        var opened = kinds.IndexOf(("open", regular));
        Assert.Equal(50, kinds.Take(opened).Count(k => k == ("hold", early)));
        Assert.DoesNotContain(("hold", regular), kinds.Take(opened));
        Assert.Equal("on_sale", (await b.GetCapacityAsync(regular))["state"]!.GetValue<string>());
        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Two_nodes_writing_to_one_event_at_once_number_its_ledger_from_1_without_a_gap_or_a_number_twice()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);

        // Two sections with no pool in common: the nodes lock no row in common, only the event's ledger.
        var east = await a.CreateCapacityAsync("arena", "East", 200);
        var west = await b.CreateCapacityAsync("arena", "West", 200);
        var holds = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => (i % 2 == 0 ? a : b).HoldAsync(i % 2 == 0 ? east : west, 1)));
        var ends = await Task.WhenAll(holds.Select((h, i) => (i % 2 == 0 ? b : a).TransitAsync(h, i % 3 == 0 ? "release" : "confirm")));
        Assert.All(ends, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        // Read through both nodes, a page at a time: the same 400 entries, numbered 1 to 400.
        foreach (var node in new[] { a, b })
        {
            var sequences = new List<long>();
            long? after = 0;
            while (after is not null)
            {
                var page = await Api.ReadAsync(await node.GetAsync($"/events/arena/ledger?after={after}&limit=150"), 200);
                sequences.AddRange(page["entries"]!.AsArray().Select(e => e!["sequence"]!.GetValue<long>()));
                after = page["next_after"]?.GetValue<long>();
            }

            Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), sequences);
        }

        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Tickets_freed_through_two_nodes_are_each_offered_once_to_a_queue_and_the_public_gets_none_while_it_waits()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var pool = await a.CreateCapacityAsync("final", "Pool", 60);
        var holds = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => (i % 2 == 0 ? a : b).HoldAsync(pool, 1)));
        await b.EnableWaitlistAsync(pool, "fifo");
        var entries = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            entries.Add((await (i % 2 == 0 ? a : b).JoinOkAsync($"fan-{i}", (pool, 1)))["id"]!.GetValue<string>());
        }

        // Releases and public holds through both nodes at once.
        var releases = holds.Select((h, i) => (i % 2 == 0 ? b : a).TransitAsync(h, "release"));
        var publicHolds = Enumerable.Range(0, 60).Select(i => (i % 2 == 0 ? a : b).ReserveAsync(pool, 1));
        var responses = await Task.WhenAll(releases.Concat(publicHolds));
        Assert.All(responses.Take(60), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var publicPlaced = responses.Skip(60).Count(r => r.StatusCode == HttpStatusCode.Created);

        var offers = new HashSet<string>();
        for (var i = 0; i < entries.Count; i++)
        {
            var read = await (i % 2 == 0 ? b : a).EntryAsync(entries[i]);
            Assert.Equal("offered", read["status"]!.GetValue<string>());
            Assert.True(offers.Add(read["offer_reservation_id"]!.GetValue<string>()));
        }

        var view = await a.GetCapacityAsync(pool);
        Assert.Equal((40L, 0L), (view["waitlist"]!["offered"]!.GetValue<long>(), view["waitlist_demand"]!.GetValue<long>()));
        Assert.InRange(publicPlaced, 0, 20);
        Assert.Equal(20 - publicPlaced, view["available_capacity"]!.GetValue<long>());
        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Entries_leaving_through_one_node_while_the_other_offers_them_the_tickets_it_frees_fail_no_request()
    {
        await using var nodes = await Nodes.StartAsync();
        var (a, b) = (nodes.A, nodes.B);
        var pool = await a.CreateCapacityAsync("leave", "Pool", 30);
        var holds = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => (i % 2 == 0 ? a : b).HoldAsync(pool, 1)));
        await a.EnableWaitlistAsync(pool, "fifo");
        var entries = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            entries.Add((await (i % 2 == 0 ? a : b).JoinOkAsync(null, (pool, 1)))["id"]!.GetValue<string>());
        }

        // Each release offers the next entry on one node while the other node's leave may have read the
        // entry's offer as absent a moment before: a batch that reads them so is decided again, never 503.
        var releases = holds.Select((h, i) => (i % 2 == 0 ? a : b).TransitAsync(h, "release"));
        var leaves = entries.Select((e, i) => (i % 2 == 0 ? b : a).DeleteAsync($"/waitlist/{e}"));
        var responses = await Task.WhenAll(releases.Concat(leaves));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        foreach (var e in entries)
        {
            Assert.Equal("left", (await a.EntryAsync(e))["status"]!.GetValue<string>());
        }

        Assert.Equal(30, await a.AvailableAsync(pool));
        await nodes.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Two_nodes_share_the_sending_so_that_each_notice_reaches_each_endpoint_once_and_in_order()
    {
        await using var one = await WebhookReceiver.StartAsync();
        await using var two = await WebhookReceiver.StartAsync();
        await using var three = await WebhookReceiver.StartAsync();
        await using var nodes = await Nodes.StartAsync(new Dictionary<string, string>
        {
            ["Capacity:Webhooks:AllowPrivateNetworks"] = "true",
            ["Capacity:Webhooks:PollIntervalMs"] = "50",
        });
        var (a, b) = (nodes.A, nodes.B);
        var pool = await a.CreateCapacityAsync("hooks", "Floor", 1000);
        foreach (var (receiver, node) in new[] { (one, a), (two, b) })
        {
            await Api.ReadAsync(await node.PostAsync("/webhooks", Api.Json(new { url = receiver.Url, events = new[] { "reservation.confirmed" } })), 201);
        }

        var holds = await Task.WhenAll(Enumerable.Range(0, 150).Select(i => (i % 2 == 0 ? a : b).HoldAsync(pool, 1)));
        await Task.WhenAll(holds.Select((h, i) => (i % 2 == 0 ? b : a).TransitAsync(h, "confirm")));

        // Subscribed through one node, told of a change made through the other at once: each batch reads the endpoints it writes for.
        await Api.ReadAsync(await b.PostAsync("/webhooks", Api.Json(new { url = three.Url, events = new[] { "reservation.confirmed" } })), 201);
        var last = await a.HoldAsync(pool, 1);
        Assert.Equal(HttpStatusCode.OK, (await a.TransitAsync(last, "confirm")).StatusCode);

        foreach (var (receiver, expected) in new[] { (one, holds.Append(last).ToArray()), (two, holds.Append(last).ToArray()), (three, [last]) })
        {
            await receiver.WaitForCountAsync(expected.Length);
            await Task.Delay(200);
            var got = receiver.Messages;
            var twice = got.GroupBy(m => m.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key} (sequence {g.First().Sequence}) ×{g.Count()}");
            Assert.True(expected.Length == got.Count, $"{got.Count} deliveries, not {expected.Length}; more than once: {string.Join(", ", twice)}\n{nodes.Warnings}");
            Assert.Equal(expected.Order(), got.Select(m => m.Data["id"]!.GetValue<string>()).Order());
            Assert.Equal([.. Enumerable.Range(1, expected.Length).Select(i => (long)i)], got.Select(m => m.Sequence));
        }

        await nodes.AssertVerifiedAsync();
    }

    /// <summary>Two server processes on one fresh PostgreSQL schema, with a tenant's client on each.</summary>
    private sealed class Nodes : IAsyncDisposable
    {
        private readonly ServerProcess _one;
        private readonly ServerProcess _two;

        private Nodes(ServerProcess one, ServerProcess two, HttpClient a, HttpClient b) => (_one, _two, A, B) = (one, two, a, b);

        public HttpClient A { get; }

        public HttpClient B { get; }

        public static async Task<Nodes> StartAsync(IReadOnlyDictionary<string, string>? extra = null)
        {
            var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
            var settings = new Dictionary<string, string>
            {
                ["Storage:Provider"] = "postgres",
                ["Storage:Postgres:ConnectionString"] = schema,
                ["Storage:DataDirectory"] = Path.Combine(Path.GetTempPath(), "capacity-nodes", Guid.NewGuid().ToString("N")),
                ["Auth:AdminKey"] = CapacityApp.AdminKey,
            };
            foreach (var (k, v) in extra ?? new Dictionary<string, string>())
            {
                settings[k] = v;
            }

            var one = await ServerProcess.StartAsync(settings);
            var two = await ServerProcess.StartAsync(settings);
            using var admin = one.Client(CapacityApp.AdminKey);
            var tenant = await Api.ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Arena" }), 201);
            var key = tenant["api_key"]!.GetValue<string>();
            return new Nodes(one, two, one.Client(key), two.Client(key));
        }

        /// <summary>What the nodes logged as warnings or worse, to say why a test failed.</summary>
        public string Warnings => string.Join('\n', (_one.Output + "\n" + _two.Output).Split('\n')
            .Where(line => line.Contains("warn", StringComparison.OrdinalIgnoreCase) || line.Contains("fail", StringComparison.OrdinalIgnoreCase)));

        /// <summary>The invariants, read through the second node.</summary>
        public async Task AssertVerifiedAsync()
        {
            using var admin = _two.Client(CapacityApp.AdminKey);
            var verify = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
            Assert.True(verify["ok"]!.GetValue<bool>(), verify.ToJsonString());
        }

        public async ValueTask DisposeAsync()
        {
            A.Dispose();
            B.Dispose();
            await _two.DisposeAsync();
            await _one.DisposeAsync();
        }
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Webhooks over HTTP on both stores, delivered to a real receiver (Kestrel in the test): a sell-out is
/// told once and a release after it as "available", every delivery is signed as Standard Webhooks say
/// and arrives in the endpoint's order; a receiver that fails three times gets the same id on the fourth
/// attempt; private addresses and other tenants' endpoints are refused; bad input changes nothing.
/// </summary>
public sealed class WebhookTests_on_sqlite() : WebhookTests(StoreKind.Sqlite);

public sealed class WebhookTests_on_postgres() : WebhookTests(StoreKind.Postgres);

public abstract class WebhookTests(StoreKind store)
{
    private static readonly Dictionary<string, string?> Local = new()
    {
        ["Capacity:Webhooks:AllowPrivateNetworks"] = "true",
        ["Capacity:Webhooks:PollIntervalMs"] = "50",
    };

    private Task<CapacityApp> NewAppAsync(bool manualClock = false, Dictionary<string, string?>? settings = null) =>
        CapacityApp.CreateAsync(store, settings ?? Local, manualClock);

    private static async Task<JsonObject> SubscribeAsync(HttpClient client, string url, params string[] events) =>
        await Api.ReadAsync(await client.PostAsync("/webhooks", Api.Json(new { url, events })), 201);

    [Fact]
    public async Task A_pool_that_sells_out_under_concurrent_holds_is_told_once_signed_and_in_order_and_a_release_tells_it_is_back()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 100);
        var hook = await SubscribeAsync(t, receiver.Url, "capacity.sold_out", "capacity.available", "reservation.released");
        var secret = hook["secret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Null((await Api.ReadAsync(await t.GetAsync($"/webhooks/{hook["id"]}"), 200))["secret"]);

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => t.ReserveAsync(pool, 1)));
        Assert.Equal(100, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        var soldOut = await receiver.WaitForAsync(m => m.Type == "capacity.sold_out");
        Assert.Equal(pool, soldOut.Data["id"]!.GetValue<string>());
        Assert.Equal(0, soldOut.Data["available_capacity"]!.GetValue<long>());

        var hold = (await Api.ReadAsync(answers.First(a => a.StatusCode == HttpStatusCode.Created), 201))["reservation"]!["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
        var available = await receiver.WaitForAsync(m => m.Type == "capacity.available");
        Assert.Equal(1, available.Data["available_capacity"]!.GetValue<long>());
        var released = await receiver.WaitForAsync(m => m.Type == "reservation.released");
        Assert.Equal(hold, released.Data["id"]!.GetValue<string>());

        Assert.Single(receiver.Messages, m => m.Type == "capacity.sold_out");
        Assert.All(receiver.Messages, m => Assert.True(m.SignatureValid(secret), "a signature does not verify"));
        Assert.Equal([.. Enumerable.Range(1, receiver.Messages.Count).Select(i => (long)i)], receiver.Messages.Select(m => m.Sequence));
        Assert.All(receiver.Messages, m => Assert.Equal(m.Id, m.Body["id"]!.GetValue<string>()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_slow_receiver_of_one_tenant_does_not_hold_back_another_tenants_notices()
    {
        await using var slow = await WebhookReceiver.StartAsync(delay: TimeSpan.FromSeconds(4));
        await using var fast = await WebhookReceiver.StartAsync();
        await using var app = await NewAppAsync();
        var b = (await app.NewTenantAsync()).Client;
        var a = (await app.NewTenantAsync()).Client;
        await SubscribeAsync(b, slow.Url, "reservation.released");
        await SubscribeAsync(a, fast.Url, "reservation.released");
        var bPool = await b.CreateCapacityAsync("b-gig", "Floor", 10);
        var aPool = await a.CreateCapacityAsync("a-gig", "Floor", 10);

        // B's notice is being sent (its receiver takes 4 s to answer) when A's commits.
        await Api.ReadAsync(await b.TransitAsync(await b.HoldAsync(bPool, 1), "release"), 200);
        await slow.WaitForCountAsync(1);
        var aHold = await a.HoldAsync(aPool, 1);
        await Api.ReadAsync(await a.TransitAsync(aHold, "release"), 200);
        var committed = DateTimeOffset.UtcNow;
        var told = await fast.WaitForAsync(m => m.Type == "reservation.released");
        Assert.Equal(aHold, told.Data["id"]!.GetValue<string>());

        // Well before B's receiver answers: A did not wait for B's send.
        var waited = fast.Arrivals.Single() - committed;
        Assert.True(waited < TimeSpan.FromSeconds(2.5), $"A's notice arrived {waited.TotalMilliseconds:F0} ms after its commit, behind B's slow send.");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_receiver_that_fails_three_times_gets_the_same_event_id_on_the_fourth_attempt_and_the_log_shows_four()
    {
        await using var receiver = await WebhookReceiver.StartAsync(failFirst: 3);
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        var hook = await SubscribeAsync(t, receiver.Url, "capacity.sold_out");
        await t.HoldAsync(pool, 1);

        // Each failure is recorded at the clock of its batch, so the clock moves on until the retry comes
        // due, whenever the record lands.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (receiver.Attempts.Count < 4 && DateTime.UtcNow < deadline)
        {
            app.Clock!.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(100);
        }

        await receiver.WaitForCountAsync(4);

        // The fourth answer is recorded through the engine just after the receiver has it.
        deadline = DateTime.UtcNow.AddSeconds(10);
        var delivery = await OnlyDeliveryAsync(t, hook);
        while (delivery["status"]!.GetValue<string>() != "delivered" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
            delivery = await OnlyDeliveryAsync(t, hook);
        }

        Assert.Equal(("delivered", 4), (delivery["status"]!.GetValue<string>(), delivery["attempts"]!.GetValue<int>()));
        var log = delivery["attempt_log"]!.AsArray();
        Assert.Equal([500, 500, 500, 200], log.Select(a => a!["status_code"]!.GetValue<int>()));
        Assert.Single(receiver.Attempts.Select(a => a.Id).Distinct());
        Assert.Equal(delivery["message_id"]!.GetValue<string>(), receiver.Attempts[0].Id);
        await app.AssertInvariantsAsync();
    }

    /// <summary>
    /// A receiver that closes a kept-alive connection as the next delivery arrives on it has not seen
    /// that delivery: it is sent again at once on a new connection rather than logged as a failure and
    /// held back for the retry delay with every delivery behind it.
    /// </summary>
    [Fact]
    public async Task A_delivery_on_a_connection_the_receiver_closed_unanswered_is_sent_again_at_once_and_logs_no_failure()
    {
        await using var receiver = new ClosingReceiver();
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var hook = await SubscribeAsync(t, receiver.Url, "reservation.released");
        var holds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var hold = await t.HoldAsync(pool, 1);
            await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
            holds.Add(hold);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (receiver.Answered.Count <= i && DateTime.UtcNow < deadline)
            {
                await Task.Delay(25);
            }
        }

        Assert.Equal(3, receiver.Answered.Count);
        Assert.Equal(1, receiver.Dropped);

        // Each answer is recorded through the engine just after the receiver has it.
        var settled = DateTime.UtcNow.AddSeconds(10);
        JsonArray deliveries;
        while (true)
        {
            deliveries = (await Api.ReadAsync(await t.GetAsync($"/webhooks/{hook["id"]}/deliveries"), 200))["deliveries"]!.AsArray();
            if (deliveries.All(d => d!["status"]!.GetValue<string>() == "delivered") || DateTime.UtcNow > settled)
            {
                break;
            }

            await Task.Delay(25);
        }

        Assert.Equal(3, deliveries.Count);
        foreach (var delivery in deliveries)
        {
            Assert.Equal(("delivered", 1), (delivery!["status"]!.GetValue<string>(), delivery["attempts"]!.GetValue<int>()));
            Assert.Equal(200, Assert.Single(delivery["attempt_log"]!.AsArray())!["status_code"]!.GetValue<int>());
        }

        Assert.Equal(deliveries.Select(d => d!["message_id"]!.GetValue<string>()).Order(), receiver.Answered.Order());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_sale_window_opening_by_the_clock_offers_the_entries_that_waited_and_tells_subscribers_at_the_next_sweep()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = new Dictionary<string, string?>(Local) { ["Capacity:SweepIntervalMs"] = "50" };
        await using var app = await NewAppAsync(manualClock: true, settings);
        var t = (await app.NewTenantAsync()).Client;
        var opens = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().ToUnixTimeMilliseconds()).AddMinutes(10);
        var pool = (await Api.ReadAsync(await t.PostAsync("/events/presale/capacity", Api.Json(new { section_name = "Presale", total_capacity = 5, sale_starts_at = opens })), 201))["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.PutAsync($"/capacity/{pool}", Api.Json(new { waitlist = new { enabled = true } })), 200);
        await SubscribeAsync(t, receiver.Url, "capacity.state_changed", "waitlist.offered");
        var entry = (await Api.ReadAsync(await t.PostAsync("/waitlist", Api.Json(new { items = new[] { new { capacity_id = pool, quantity = 2 } } })), 201))["id"]!.GetValue<string>();
        await Task.Delay(300);
        Assert.Equal("waiting", (await Api.ReadAsync(await t.GetAsync($"/waitlist/{entry}"), 200))["status"]!.GetValue<string>());
        Assert.Empty(receiver.Messages);

        app.Clock.Advance(TimeSpan.FromMinutes(10));
        var started = await receiver.WaitForAsync(m => m.Type == "capacity.state_changed");
        Assert.Equal(("sale_started", "on_sale"), (started.Data["change_reason"]!.GetValue<string>(), started.Data["state"]!.GetValue<string>()));
        var offered = await receiver.WaitForAsync(m => m.Type == "waitlist.offered");
        Assert.Equal(entry, offered.Data["id"]!.GetValue<string>());
        Assert.Equal("offered", (await Api.ReadAsync(await t.GetAsync($"/waitlist/{entry}"), 200))["status"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Entries_on_a_presale_lapse_when_the_sweep_passes_its_end_and_a_queue_that_sells_an_early_bird_out_keeps_its_place_while_the_regular_tier_sells_the_rest()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = new Dictionary<string, string?>(Local) { ["Capacity:SweepIntervalMs"] = "50" };
        await using var app = await NewAppAsync(manualClock: true, settings);
        var t = (await app.NewTenantAsync()).Client;
        var ends = DateTimeOffset.FromUnixTimeMilliseconds(app.Clock!.GetUtcNow().ToUnixTimeMilliseconds()).AddMinutes(10);
        var venue = await t.CreateCapacityAsync("gig", "Venue", 10);
        var presale = (await Api.ReadAsync(await t.PostAsync("/events/gig/capacity", Api.Json(new
        {
            section_name = "Presale", total_capacity = 3, parent_ids = new[] { venue }, sale_ends_at = ends,
        })), 201))["id"]!.GetValue<string>();
        var early = await t.CreateCapacityAsync("gig", "Early bird", 3, venue);
        var regular = (await Api.ReadAsync(await t.PostAsync("/events/gig/capacity", Api.Json(new
        {
            section_name = "Regular", total_capacity = 10, parent_ids = new[] { venue }, opens_after_sold_out_of = early,
        })), 201))["id"]!.GetValue<string>();
        await t.EnableWaitlistAsync(presale, "fifo");
        await t.EnableWaitlistAsync(early, "fifo");
        await SubscribeAsync(t, receiver.Url, "waitlist.lapsed", "waitlist.offered");

        await t.HoldAsync(presale, 2);
        var late = (await t.JoinOkAsync(null, (presale, 2)))["id"]!.GetValue<string>();
        var earlyHold = await t.HoldAsync(early, 2);

        // The pair is owed the early bird's last ticket and one to come: the public has nothing left of
        // it, so the join sells it out, the regular tier opens, and the pair keeps its place.
        var pair = await t.JoinOkAsync(null, (early, 2));
        Assert.Equal(("waiting", 1L), (pair["status"]!.GetValue<string>(), pair["position"]!.GetValue<long>()));
        var earlyNow = await t.GetCapacityAsync(early);
        Assert.Equal(("closed", "sold_out"), (earlyNow["state"]!.GetValue<string>(), earlyNow["closed_reason"]!.GetValue<string>()));
        Assert.Equal("on_sale", (await t.GetCapacityAsync(regular))["state"]!.GetValue<string>());
        await Api.ProblemAsync(await t.JoinAsync(null, (early, 1)), 409, "CAPACITY_INACTIVE");

        // The presale's window ends; the sweep passes the edge, and its waiting entry lapses in that batch.
        app.Clock.Advance(TimeSpan.FromMinutes(10));
        var lapsed = await receiver.WaitForAsync(m => m.Type == "waitlist.lapsed");
        Assert.Equal((late, "lapsed", "sale_ended"), (lapsed.Data["id"]!.GetValue<string>(), lapsed.Data["status"]!.GetValue<string>(), lapsed.Data["lapsed_reason"]!.GetValue<string>()));
        Assert.Null(lapsed.Data["offer_reservation_id"]);
        Assert.Equal("lapsed", (await t.EntryAsync(late))["status"]!.GetValue<string>());

        // Sixteen buyers race for the regular tier: exactly the five seats the venue does not hold or owe
        // the pair are sold (two held on the presale, two on the early bird, one owed: the early bird's
        // last ticket; the pair's second can only come with an early ticket back, which frees a seat too).
        Assert.Equal((1L, 5L), ((await t.GetCapacityAsync(venue))["waitlist_demand"]!.GetValue<long>(), await t.AvailableAsync(venue)));
        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => t.ReserveAsync(regular, 1)));
        Assert.Equal(5, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.Created), a => Assert.Equal(HttpStatusCode.Conflict, a.StatusCode));

        // Early tickets that come back go to the pair that waited for them, though the early bird is closed.
        await Api.ReadAsync(await t.TransitAsync(earlyHold, "release"), 200);
        Assert.Equal("offered", (await t.EntryAsync(pair["id"]!.GetValue<string>()))["status"]!.GetValue<string>());
        Assert.Equal(pair["id"]!.GetValue<string>(), (await receiver.WaitForAsync(m => m.Type == "waitlist.offered")).Data["id"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_batch_that_fails_to_commit_writes_no_notice_and_the_retry_that_commits_writes_one()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        var hook = await SubscribeAsync(t, receiver.Url, "capacity.sold_out");
        app.Faults.FailNextBatchAt(FaultPoint.Commit);
        await Api.ProblemAsync(await t.ReserveAsync(pool, 1), 503, "SERVICE_UNAVAILABLE");
        await Task.Delay(300);
        Assert.Empty((await Api.ReadAsync(await t.GetAsync($"/webhooks/{hook["id"]}/deliveries"), 200))["deliveries"]!.AsArray());
        Assert.Empty(receiver.Attempts);

        await t.HoldAsync(pool, 1);
        Assert.Equal(1, (await receiver.WaitForAsync(m => m.Type == "capacity.sold_out")).Sequence);
        await app.AssertInvariantsAsync();
    }

    /// <summary>
    /// The receiver has the delivery; the batch recording that fails. The sender records the same
    /// answer again rather than leave the delivery pending, which would send it a second time.
    /// </summary>
    [Fact]
    public async Task A_delivery_whose_recording_fails_once_is_recorded_on_a_retry_and_not_sent_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        var hook = await SubscribeAsync(t, receiver.Url, "capacity.sold_out");
        app.Faults.FailNextDeliveryRecord();

        await t.HoldAsync(pool, 1);
        await receiver.WaitForAsync(m => m.Type == "capacity.sold_out");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await OnlyDeliveryAsync(t, hook))["status"]!.GetValue<string>() != "delivered" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        Assert.False(app.Faults.DeliveryRecordFaultPending);
        var delivery = await OnlyDeliveryAsync(t, hook);
        Assert.Equal(("delivered", 1), (delivery["status"]!.GetValue<string>(), delivery["attempts"]!.GetValue<int>()));
        await Task.Delay(300);
        Assert.Single(receiver.Attempts);
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Verify_reports_a_delivery_lost_from_the_outbox()
    {
        await using var app = await NewAppAsync(settings: new() { ["Capacity:Webhooks:Dispatch"] = "false", ["Capacity:Webhooks:AllowPrivateNetworks"] = "true" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 5);
        var hook = (await SubscribeAsync(t, "http://127.0.0.1:9/hook", "reservation.confirmed"))["id"]!.GetValue<string>();
        await t.TransitAsync(await t.HoldAsync(pool, 1), "confirm");
        await t.TransitAsync(await t.HoldAsync(pool, 1), "confirm");
        await app.AssertInvariantsAsync();

        using (var connection = Database.OpenWritable(app))
        {
            using var command = connection.CreateCommand();
            command.CommandText = app.Kind == StoreKind.Sqlite
                ? $"DELETE FROM webhook_deliveries WHERE endpoint_id = '{hook}' AND sequence = 1"
                : $"DELETE FROM webhook_deliveries WHERE endpoint_id = '{hook}'::uuid AND sequence = 1";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        using var admin = app.Admin();
        var verify = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
        Assert.False(verify["ok"]!.GetValue<bool>());
        Assert.Contains(verify["violations"]!.AsArray(), v => v!.GetValue<string>().Contains(hook, StringComparison.OrdinalIgnoreCase));
    }

    private static async Task<JsonNode> OnlyDeliveryAsync(HttpClient client, JsonObject hook) =>
        Assert.Single((await Api.ReadAsync(await client.GetAsync($"/webhooks/{hook["id"]}/deliveries"), 200))["deliveries"]!.AsArray())!;

    [Theory]
    [InlineData("http://127.0.0.1:9/hook")]
    [InlineData("http://localhost/hook")]
    [InlineData("http://10.1.2.3/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://[::1]/hook")]
    [InlineData("https://192.168.0.10/hook")]
    [InlineData("http://LOCALHOST./h")]                                  // a fully-qualified name, its trailing dot written
    [InlineData("http://localhost.:5191/h")]
    [InlineData("http://sub.localhost./h")]
    [InlineData("http://127.0.0.1./h")]                                  // to Uri a host name, not an address
    [InlineData("http://[64:ff9b::7f00:1]/h")]                           // NAT64's well-known prefix, 127.0.0.1 in the last 32 bits
    [InlineData("http://[64:ff9b:1::a00:1]/h")]                          // NAT64's local-use prefix, 10.0.0.1
    [InlineData("http://[2002:7f00:1::]/h")]                             // 6to4, 127.0.0.1 in bits 16-47
    [InlineData("http://[2002:a9fe:a9fe::1]/h")]                         // 6to4, 169.254.169.254
    [InlineData("http://[::127.0.0.1]/h")]                               // IPv4-compatible
    [InlineData("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/h")]      // Teredo, client 127.0.0.1 (the last 32 bits inverted)
    public async Task Private_addresses_are_refused_by_default_when_subscribed_or_moved_to_and_change_nothing(string url)
    {
        await using var app = await NewAppAsync(settings: []);
        var t = (await app.NewTenantAsync()).Client;
        await Api.ProblemAsync(await t.PostAsync("/webhooks", Api.Json(new { url, events = new[] { "capacity.sold_out" } })), 400, "WEBHOOK_URL_NOT_ALLOWED");
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/webhooks"), 200))["webhooks"]!.AsArray());

        var hook = await SubscribeAsync(t, "https://example.com/hook", "capacity.sold_out");
        await Api.ProblemAsync(await t.PutAsync($"/webhooks/{hook["id"]}", Api.Json(new { url })), 400, "WEBHOOK_URL_NOT_ALLOWED");
        Assert.Equal("https://example.com/hook", (await Api.ReadAsync(await t.GetAsync($"/webhooks/{hook["id"]}"), 200))["url"]!.GetValue<string>());
    }

    /// <summary>
    /// Subscribing judges only what the URL itself says: a name is not resolved until a delivery
    /// connects, so an ordinary name (trailing dot or not) is taken, and so is a public address carried
    /// in an IPv6 one.
    /// </summary>
    [Theory]
    [InlineData("https://example.com./hook")]
    [InlineData("https://notlocalhost./hook")]
    [InlineData("https://localhost.example.com/hook")]
    [InlineData("http://8.8.8.8/hook")]
    [InlineData("http://[2001:4860:4860::8888]/hook")]
    [InlineData("http://[64:ff9b::808:808]/hook")]
    [InlineData("http://[2002:808:808::]/hook")]
    [InlineData("http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/hook")]
    public async Task Public_addresses_and_names_are_subscribed_by_default(string url)
    {
        await using var app = await NewAppAsync(settings: []);
        var t = (await app.NewTenantAsync()).Client;
        Assert.Equal(url, (await SubscribeAsync(t, url, "capacity.sold_out"))["url"]!.GetValue<string>());
    }

    /// <summary>
    /// An endpoint stored before the check at subscription knew these forms is refused by the check that
    /// runs as a delivery connects, before anything is sent, and the attempt says why.
    /// </summary>
    [Theory]
    [InlineData("http://LOCALHOST.:9/h")]
    [InlineData("http://sub.localhost.:9/h")]
    [InlineData("http://[64:ff9b::7f00:1]:9/h")]
    [InlineData("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:9/h")]
    public async Task A_stored_url_that_names_this_machine_is_refused_when_a_delivery_connects(string url)
    {
        await using var app = await NewAppAsync(settings: new() { ["Capacity:Webhooks:PollIntervalMs"] = "50" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        var hook = await SubscribeAsync(t, "https://example.com/hook", "capacity.sold_out");
        using (var connection = Database.OpenWritable(app))
        {
            using var command = connection.CreateCommand();
            command.CommandText = app.Kind == StoreKind.Sqlite
                ? $"UPDATE webhooks SET url = '{url}' WHERE id = '{hook["id"]}'"
                : $"UPDATE webhooks SET url = '{url}' WHERE id = '{hook["id"]}'::uuid";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        await t.HoldAsync(pool, 1);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var delivery = await OnlyDeliveryAsync(t, hook);
        while (delivery["attempts"]!.GetValue<int>() == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
            delivery = await OnlyDeliveryAsync(t, hook);
        }

        Assert.Equal("pending", delivery["status"]!.GetValue<string>());
        Assert.Contains("webhooks are sent only to public addresses", delivery["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A name that does not resolve is told as one that resolves only inward is: the delivery log must
    /// not let a tenant ask the server's resolver which names its network knows.
    /// </summary>
    [Fact]
    public async Task A_name_that_does_not_resolve_leaves_the_same_error_as_one_that_points_inward()
    {
        await using var app = await NewAppAsync(settings: new() { ["Capacity:Webhooks:PollIntervalMs"] = "50" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1);
        var hook = await SubscribeAsync(t, "https://no-such-host.invalid/hook", "capacity.sold_out");
        await t.HoldAsync(pool, 1);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var delivery = await OnlyDeliveryAsync(t, hook);
        while (delivery["attempts"]!.GetValue<int>() == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
            delivery = await OnlyDeliveryAsync(t, hook);
        }

        Assert.Equal(
            "no-such-host.invalid has no public address (it does not resolve, or only to private ones); webhooks are sent only to public addresses. (no-such-host.invalid:443)",
            delivery["last_error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Another_tenants_endpoint_answers_404_on_every_route_and_stays_as_it_was()
    {
        await using var app = await NewAppAsync();
        var owner = (await app.NewTenantAsync()).Client;
        var other = (await app.NewTenantAsync("Other")).Client;
        var id = (await SubscribeAsync(owner, "http://127.0.0.1:9/hook", "reservation.confirmed"))["id"]!.GetValue<string>();

        await Api.ProblemAsync(await other.GetAsync($"/webhooks/{id}"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await other.PutAsync($"/webhooks/{id}", Api.Json(new { enabled = false })), 404, "NOT_FOUND");
        await Api.ProblemAsync(await other.PostAsync($"/webhooks/{id}/rotate-secret", null), 404, "NOT_FOUND");
        await Api.ProblemAsync(await other.GetAsync($"/webhooks/{id}/deliveries"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await other.PostAsync($"/webhooks/{id}/deliveries/1/retry", null), 404, "NOT_FOUND");
        await Api.ProblemAsync(await other.DeleteAsync($"/webhooks/{id}"), 404, "NOT_FOUND");
        Assert.Empty((await Api.ReadAsync(await other.GetAsync("/webhooks"), 200))["webhooks"]!.AsArray());
        Assert.True((await Api.ReadAsync(await owner.GetAsync($"/webhooks/{id}"), 200))["enabled"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("""{"url":"ftp://example.com/x","events":["capacity.sold_out"]}""", "VALIDATION_ERROR")]
    [InlineData("""{"url":"/relative","events":["capacity.sold_out"]}""", "VALIDATION_ERROR")]
    [InlineData("""{"url":"https://user:pw@example.com/x","events":["capacity.sold_out"]}""", "VALIDATION_ERROR")]
    [InlineData("""{"url":"https://example.com/x","events":[]}""", "VALIDATION_ERROR")]
    [InlineData("""{"url":"https://example.com/x","events":["capacity.exploded"]}""", "VALIDATION_ERROR")]
    [InlineData("""{"url":"https://example.com/x","events":["capacity.low","capacity.low"]}""", "VALIDATION_ERROR")]
    [InlineData("""{"url":"https://example.com/x"}""", "VALIDATION_ERROR")]
    [InlineData("""{"url":"https://example.com/x","events":["capacity.low"],"secret":"mine"}""", "VALIDATION_ERROR")]
    public async Task Bad_subscriptions_are_refused_with_a_code_and_create_nothing(string body, string code)
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        await Api.ProblemAsync(await t.PostAsync("/webhooks", Api.Json(body)), 400, code);
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/webhooks"), 200))["webhooks"]!.AsArray());
    }

    [Fact]
    public async Task Thirty_concurrent_subscriptions_make_exactly_twenty_endpoints_and_the_rest_are_refused_at_the_bound_until_one_is_deleted()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            t.PostAsync("/webhooks", Api.Json(new { url = $"https://example.com/hook/{i}", events = new[] { "capacity.sold_out" } }))));
        Assert.Equal(20, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            Assert.Equal(20, (await Api.ProblemAsync(refused, 409, "TOO_MANY_WEBHOOKS"))["limit"]!.GetValue<int>());
        }

        var hooks = (await Api.ReadAsync(await t.GetAsync("/webhooks"), 200))["webhooks"]!.AsArray();
        Assert.Equal(20, hooks.Count);
        Assert.Equal(HttpStatusCode.NoContent, (await t.DeleteAsync($"/webhooks/{hooks[0]!["id"]!.GetValue<string>()}")).StatusCode);
        await SubscribeAsync(t, "https://example.com/hook/again", "capacity.sold_out");
        await Api.ProblemAsync(await t.PostAsync("/webhooks", Api.Json(new { url = "https://example.com/hook/over", events = new[] { "capacity.sold_out" } })), 409, "TOO_MANY_WEBHOOKS");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Concurrent_confirms_releases_and_holds_are_each_told_once_with_consecutive_sequence_numbers_and_a_low_watermark_crossed_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = (await Api.ReadAsync(await t.PostAsync("/events/rush/capacity", Api.Json(new { section_name = "Floor", total_capacity = 60, low_watermark = 10 })), 201))["id"]!.GetValue<string>();
        await SubscribeAsync(t, receiver.Url, "reservation.confirmed", "reservation.released", "capacity.low", "capacity.sold_out");
        var holds = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => t.HoldAsync(pool, 1)));
        var ends = await Task.WhenAll(holds.Select((h, i) => t.TransitAsync(h, i % 2 == 0 ? "confirm" : "release")));
        Assert.All(ends, e => Assert.Equal(HttpStatusCode.OK, e.StatusCode));

        await receiver.WaitForCountAsync(51);
        await Task.Delay(300);
        Assert.Equal(25, receiver.Messages.Count(m => m.Type == "reservation.confirmed"));
        Assert.Equal(25, receiver.Messages.Count(m => m.Type == "reservation.released"));
        Assert.Single(receiver.Messages, m => m.Type == "capacity.low");
        Assert.DoesNotContain(receiver.Messages, m => m.Type == "capacity.sold_out");
        Assert.Equal(holds.Order(), receiver.Messages.Where(m => m.Type.StartsWith("reservation.", StringComparison.Ordinal)).Select(m => m.Data["id"]!.GetValue<string>()).Order());
        Assert.Equal([.. Enumerable.Range(1, 51).Select(i => (long)i)], receiver.Messages.Select(m => m.Sequence));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_deleted_endpoint_is_sent_nothing_more_and_a_disabled_one_gets_nothing_written()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var hook = (await SubscribeAsync(t, receiver.Url, "reservation.confirmed"))["id"]!.GetValue<string>();
        Assert.False((await Api.ReadAsync(await t.PutAsync($"/webhooks/{hook}", Api.Json(new { enabled = false })), 200))["enabled"]!.GetValue<bool>());
        await t.TransitAsync(await t.HoldAsync(pool, 1), "confirm");
        Assert.Empty((await Api.ReadAsync(await t.GetAsync($"/webhooks/{hook}/deliveries"), 200))["deliveries"]!.AsArray());

        Assert.True((await Api.ReadAsync(await t.PutAsync($"/webhooks/{hook}", Api.Json(new { enabled = true })), 200))["enabled"]!.GetValue<bool>());
        await t.TransitAsync(await t.HoldAsync(pool, 1), "confirm");
        await receiver.WaitForCountAsync(1);
        Assert.Equal(HttpStatusCode.NoContent, (await t.DeleteAsync($"/webhooks/{hook}")).StatusCode);
        await t.TransitAsync(await t.HoldAsync(pool, 1), "confirm");
        await Task.Delay(500);
        Assert.Single(receiver.Messages);
        await Api.ProblemAsync(await t.GetAsync($"/webhooks/{hook}"), 404, "NOT_FOUND");
        await app.AssertInvariantsAsync();
    }
}

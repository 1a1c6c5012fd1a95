using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Capacity.Dashboard.Tests;

/// <summary>
/// The dashboard in real Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser is
/// downloaded) against the real server process: holds placed and confirmed through the API show on
/// the page within a second, and so do changes to allocations and waiting lists, and a tier opening when
/// the one before it sells out; each capacity shows its state and sale rules; buyer limits show on
/// the page's next read of them; the reservations panel lists, filters and pages an event's
/// reservations, releases, confirms and cancels them, and shows the platform's data as text; a key
/// refused while the page is open signs it out, and a stream that fails is tried again later and later.
/// </summary>
public sealed class DashboardTests(DashboardHost host) : DashboardTest(host)
{
    [Fact]
    public async Task The_page_follows_holds_and_confirmations_within_a_second()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var pool = await CreateAsync(api, "Hall", 100, []);
        var stalls = await CreateAsync(api, "Stalls", 40, [pool]);
        await CreateAsync(api, "Standing", null, [pool]);
        await CreateAsync(api, "Stream", null, []);

        var page = await NewPageAsync();
        await OpenGalaAsync(page, key);
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("100");
        await Expect(page.Locator(".capacity")).ToHaveCountAsync(4);

        // The tree: Stalls and Standing sit under Hall.
        await Expect(page.Locator($".tree > li > .capacity[data-capacity-id='{pool}'] + ul .capacity[data-capacity-id='{stalls}']")).ToHaveCountAsync(1);

        var hold = await ReserveAsync(api, stalls, 3, null);
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("97", Within);
        await Expect(page.Locator("#total-reserved")).ToHaveTextAsync("3", Within);
        await Expect(page.Locator($".capacity[data-capacity-id='{stalls}'] [data-field='available']")).ToHaveTextAsync("37", Within);
        await Expect(page.Locator("#active-holds")).ToHaveTextAsync("1", Within);
        await Expect(page.Locator("#expiring tbody td").First).ToHaveTextAsync(hold, Within);

        await ReadAsync(await api.PostAsync($"/reservations/{hold}/confirm", null));
        await Expect(page.Locator("#total-sold")).ToHaveTextAsync("3", Within);
        await Expect(page.Locator("#total-reserved")).ToHaveTextAsync("0", Within);
        await Expect(page.Locator($".capacity[data-capacity-id='{stalls}'] [data-field='sold']")).ToHaveTextAsync("3", Within);

        await SaveScreenshotAsync(page, "live.png");
    }

    [Fact]
    public async Task A_wrong_key_is_refused_on_the_sign_in_page()
    {
        var page = await NewPageAsync();
        await page.GotoAsync(Server.Url + "/dashboard");
        await page.FillAsync("#api-key", "cap_not-a-real-key");
        await page.ClickAsync("#sign-in-form button");
        await Expect(page.Locator("#sign-in-error")).ToHaveTextAsync("That key was not accepted.");
        await Expect(page.Locator("#main")).ToBeHiddenAsync();
    }

    /// <summary>
    /// A key refused for itself is refused on every request after, and each refusal counts against the
    /// server's budget of refused credentials per address (Auth:FailedAttemptsPerMinute), past which new
    /// keys from that address are refused too. Here the page's stream drops after the key was revoked or
    /// its tenant disabled: its next try is refused, and the page signs out with the reason instead of
    /// trying again, and asks nothing more.
    /// </summary>
    [Theory]
    [InlineData("revoked")]
    [InlineData("tenant_disabled")]
    public async Task A_page_whose_key_is_refused_signs_out_with_the_reason_and_stops_asking(string reason)
    {
        using var admin = Server.Client(DashboardHost.AdminKey);
        var tenant = await ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Gala" }));
        var key = tenant["api_key"]!.GetValue<string>();
        var tenantId = tenant["tenant_id"]!.GetValue<string>();
        using var api = Server.Client(key);
        await CreateAsync(api, "Stalls", 40, []);

        // The server keeps a stream open once it let it in, so the test cuts the page's streams as a
        // network or a proxy would: the page sees them fail, not end at its own wish.
        var page = await NewPageAsync();
        await page.AddInitScriptAsync("""
            (() => {
              const fetch = window.fetch;
              window.cutStreams = [];
              window.fetch = (url, init = {}) => {
                if (!String(url).endsWith("/capacity/stream")) return fetch(url, init);
                const cut = new AbortController();
                init.signal?.addEventListener("abort", () => cut.abort());
                window.cutStreams.push(cut);
                return fetch(url, { ...init, signal: cut.signal });
              };
            })();
            """);
        await OpenGalaAsync(page, key);
        var before = await AuthFailuresAsync(reason);
        await ReadAsync(reason == "revoked"
            ? await admin.DeleteAsync($"/admin/tenants/{tenantId}/keys/{tenant["key"]!["id"]!.GetValue<string>()}")
            : await admin.PostAsync($"/admin/tenants/{tenantId}/disable", null));

        await page.EvaluateAsync("() => cutStreams.forEach((cut) => cut.abort())");
        await Expect(page.Locator("#sign-in")).ToBeVisibleAsync();
        await Expect(page.Locator("#sign-in-error")).ToContainTextAsync("Signed out: the key is no longer accepted.");
        await Expect(page.Locator("#main")).ToBeHiddenAsync();
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('capacity.key')"));

        // The stream's next try was refused, perhaps a timer's read too; after the sign-out, nothing.
        var signedOut = await AuthFailuresAsync(reason);
        Assert.InRange(signedOut - before, 1, 3);
        await page.WaitForTimeoutAsync(3000);
        Assert.Equal(signedOut, await AuthFailuresAsync(reason));

        // The reason is the problem's detail.
        var refused = await api.GetAsync("/events");
        var detail = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>();
        await Expect(page.Locator("#sign-in-error")).ToHaveTextAsync($"Signed out: the key is no longer accepted. {detail}");
    }

    /// <summary>
    /// A stream that cannot be opened is tried again after 1 s, then 2, 4 … up to 30 s, and after what a
    /// 429's Retry-After asks; a stream that brought a snapshot is tried again after 1 s. The page's clock
    /// is Playwright's, stopped, so the waits are skipped instead of waited for.
    /// </summary>
    [Fact]
    public async Task A_stream_that_fails_is_tried_again_later_and_later_and_after_what_a_429_asks()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        await CreateAsync(api, "Stalls", 40, []);

        var page = await NewPageAsync();
        var answer = "503";
        var tries = 0;
        // Each try waits here until the test has seen the page say it is connecting.
        using var gate = new SemaphoreSlim(0);
        await page.RouteAsync(new Regex("/capacity/stream$"), async route =>
        {
            Interlocked.Increment(ref tries);
            await gate.WaitAsync();
            await (answer switch
            {
                "503" => route.FulfillAsync(new() { Status = 503, ContentType = "application/problem+json", Body = """{"title":"Unavailable","status":503}""" }),
                "429" => route.FulfillAsync(new()
                {
                    Status = 429, ContentType = "application/problem+json", Headers = new Dictionary<string, string> { ["Retry-After"] = "45" },
                    Body = """{"title":"Too many streams","status":429,"code":"TOO_MANY_STREAMS"}""",
                }),
                // One snapshot, and the stream ends.
                _ => route.FulfillAsync(new()
                {
                    Status = 200, ContentType = "text/event-stream",
                    Body = "event: snapshot\ndata: {\"totals\":{\"total_capacity\":40,\"sold_count\":0,\"reserved_capacity\":0,\"available_capacity\":40,\"has_unlimited\":false},"
                        + "\"capacity\":[],\"holds\":{\"active\":0,\"expiring\":[]}}\n\n",
                }),
            });
        });
        await page.Clock.InstallAsync();
        await page.GotoAsync(Server.Url + "/dashboard/");
        await page.Clock.PauseAtAsync(DateTime.Now.AddMinutes(1));
        await page.FillAsync("#api-key", key);
        await page.ClickAsync("#sign-in-form button");
        var status = page.Locator("#status");
        async Task TryIsUnderWayAsync()
        {
            // A countdown left up during a try would make two waits of 30 s in a row read as one.
            await Expect(status).ToHaveTextAsync("connecting…");
            gate.Release();
        }

        await TryIsUnderWayAsync();

        // Each wait is as long as the status says, not a millisecond less; after seven failures, a 429 asks for 45 s.
        var waits = new[] { 1, 2, 4, 8, 16, 30, 30 };
        for (var i = 0; i < waits.Length; i++)
        {
            await Expect(status).ToHaveTextAsync($"reconnecting in {waits[i]} s…");
            Assert.Equal(i + 1, Volatile.Read(ref tries));
            await page.Clock.FastForwardAsync((waits[i] * 1000) - 1);
            await page.WaitForTimeoutAsync(50);
            Assert.Equal(i + 1, Volatile.Read(ref tries));
            answer = i == waits.Length - 1 ? "429" : "503";
            await page.Clock.FastForwardAsync(1);
            await TryIsUnderWayAsync();
        }

        await Expect(status).ToHaveTextAsync("reconnecting in 45 s…");
        Assert.Equal(8, Volatile.Read(ref tries));
        answer = "snapshot";
        await page.Clock.FastForwardAsync(45_000 - 1);
        await page.WaitForTimeoutAsync(50);
        Assert.Equal(8, Volatile.Read(ref tries));
        await page.Clock.FastForwardAsync(1);
        await TryIsUnderWayAsync();

        // A stream that worked is tried again after the shortest wait.
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("40");
        await Expect(status).ToHaveTextAsync("reconnecting in 1 s…");
        Assert.Equal(9, Volatile.Read(ref tries));
    }

    [Fact]
    public async Task Allocations_show_under_their_capacity_and_follow_holds_sales_and_closing_live()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var hall = await CreateAsync(api, "Hall", 200, []);
        var stalls = await CreateAsync(api, "Stalls", 100, [hall]);
        var expiresAt = DateTimeOffset.UtcNow.AddHours(2).ToString("O");
        var box = await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/allocations", new { name = "Box office", quantity = 10, expires_at = expiresAt }));
        var sponsor = (await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/allocations", new { name = "Sponsor", quantity = 6 })))["id"]!.GetValue<string>();
        var boxId = box["id"]!.GetValue<string>();

        var page = await NewPageAsync();
        await OpenGalaAsync(page, key);
        var boxRow = page.Locator($".capacity[data-capacity-id='{stalls}'] tr.allocation[data-allocation-id='{boxId}']");
        var sponsorRow = page.Locator($".capacity[data-capacity-id='{stalls}'] tr.allocation[data-allocation-id='{sponsor}']");
        await ExpectFieldsAsync(boxRow, new() { ["sold"] = "0", ["held"] = "0", ["idle"] = "10", ["size"] = "10", ["status"] = "open" });
        await Expect(boxRow.Locator(".name")).ToHaveTextAsync("Box office");
        await Expect(boxRow.Locator("time")).ToHaveAttributeAsync("datetime", box["expires_at"]!.GetValue<string>());
        await Expect(boxRow.Locator("time")).Not.ToBeEmptyAsync();
        await ExpectFieldsAsync(sponsorRow, new() { ["idle"] = "6", ["size"] = "6", ["status"] = "open" });
        await Expect(sponsorRow.Locator("time")).ToBeEmptyAsync();

        // Every idle ticket is set aside, on Stalls and on the pool above it.
        await ExpectFieldsAsync(Head(page, stalls), new() { ["reserved"] = "16", ["set-aside"] = "16", ["available"] = "84" });
        await ExpectFieldsAsync(Head(page, hall), new() { ["reserved"] = "16", ["set-aside"] = "16", ["available"] = "184" });

        var sold = await ReserveAsync(api, stalls, 3, boxId);
        await ReserveAsync(api, stalls, 2, boxId);
        await ReserveAsync(api, stalls, 1, sponsor);
        await ReserveAsync(api, stalls, 4, null);
        await ReadAsync(await api.PostAsync($"/reservations/{sold}/confirm", null));
        await ReadAsync(await api.PostAsync($"/allocations/{sponsor}/close", null));

        // Closing gave the Sponsor's idle tickets back; its live hold keeps one ticket in it.
        await ExpectFieldsAsync(boxRow, new() { ["sold"] = "3", ["held"] = "2", ["idle"] = "5", ["size"] = "10", ["status"] = "open" }, Within);
        await ExpectFieldsAsync(sponsorRow, new() { ["sold"] = "0", ["held"] = "1", ["idle"] = "0", ["size"] = "1", ["status"] = "closed" }, Within);
        await Expect(sponsorRow).ToHaveAttributeAsync("data-status", "closed");

        // Reserved is 4 public + 2 + 1 held from allocations + 5 idle; only the idle part is set aside.
        await ExpectFieldsAsync(Head(page, stalls), new() { ["sold"] = "3", ["reserved"] = "12", ["set-aside"] = "5", ["available"] = "85" }, Within);
        await ExpectFieldsAsync(Head(page, hall), new() { ["sold"] = "3", ["reserved"] = "12", ["set-aside"] = "5", ["available"] = "185" }, Within);

        await SaveScreenshotAsync(page, "allocations.png");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_waiting_list_shows_its_queue_and_the_tickets_owed_to_it_and_follows_offers_live()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var hall = await CreateAsync(api, "Hall", 10, []);
        var stalls = await CreateAsync(api, "Stalls", 10, [hall]);
        var first = await ReserveAsync(api, stalls, 6, null);
        var second = await ReserveAsync(api, stalls, 4, null);
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{stalls}", new { waitlist = new { enabled = true, offer_minutes = 20, policy = "fifo" } }));
        await ReadAsync(await api.PostAsJsonAsync("/waitlist", new { items = new[] { new { capacity_id = stalls, quantity = 3 } } }));
        await ReadAsync(await api.PostAsJsonAsync("/waitlist", new { items = new[] { new { capacity_id = stalls, quantity = 5 } } }));

        var page = await NewPageAsync();
        await OpenGalaAsync(page, key);
        var line = page.Locator($".capacity[data-capacity-id='{stalls}'] > .waitlist");
        await ExpectFieldsAsync(line, new() { ["waiting"] = "8", ["offered"] = "0" });
        await Expect(line).ToContainTextAsync("fifo, offers last 20 min");
        await Expect(line.Locator(".badge")).ToHaveTextAsync("open");

        // Four come back: the 3 is offered, the 5 waits and is owed what is left (the one ticket Stalls
        // could still give it), on Stalls and the Hall above.
        await ReadAsync(await api.PostAsync($"/reservations/{second}/release", null));
        await ExpectFieldsAsync(line, new() { ["waiting"] = "5", ["offered"] = "3" }, Within);
        await ExpectFieldsAsync(Head(page, stalls), new() { ["reserved"] = "9", ["owed"] = "1", ["available"] = "0" }, Within);
        await ExpectFieldsAsync(Head(page, hall), new() { ["owed"] = "1", ["available"] = "0" }, Within);
        await Expect(page.Locator($".capacity[data-capacity-id='{hall}'] > .waitlist")).ToHaveCountAsync(0);

        // Six more come back: the 5 is offered, nothing is owed, one ticket is public again.
        await ReadAsync(await api.PostAsync($"/reservations/{first}/release", null));
        await ExpectFieldsAsync(line, new() { ["waiting"] = "0", ["offered"] = "8" }, Within);
        await ExpectFieldsAsync(Head(page, stalls), new() { ["reserved"] = "8", ["available"] = "2" }, Within);
        await Expect(Head(page, stalls).Locator("[data-field='owed']")).ToHaveCountAsync(0);

        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{stalls}", new { waitlist = new { enabled = false } }));
        await Expect(line.Locator(".badge")).ToHaveTextAsync("closed", Within);
        await SaveScreenshotAsync(page, "waitlist.png");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_scheduled_capacity_shows_when_it_opens_and_a_tier_opens_live_when_the_one_before_sells_out()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var hall = await CreateAsync(api, "Hall", 100, []);
        var early = await CreateAsync(api, "Early <em>bird</em>", 2, [hall]);
        var regular = await CreateWithAsync(api, new()
        {
            ["section_name"] = "Regular", ["total_capacity"] = 10, ["parent_ids"] = new[] { hall }, ["opens_after_sold_out_of"] = early, ["overbook_limit"] = 2,
        });
        var presale = await CreateWithAsync(api, new()
        {
            ["section_name"] = "Presale", ["total_capacity"] = 20,
            ["sale_starts_at"] = DateTimeOffset.UtcNow.AddHours(2).ToString("O"), ["sale_ends_at"] = DateTimeOffset.UtcNow.AddHours(4).ToString("O"),
        });
        var presaleId = presale["id"]!.GetValue<string>();
        var regularId = regular["id"]!.GetValue<string>();
        var starts = presale["sale_starts_at"]!.GetValue<string>();

        // A section whose own window would start after its pool's ends: what comes next closes it.
        var late = await CreateWithAsync(api, new()
        {
            ["section_name"] = "Late", ["total_capacity"] = 5, ["parent_ids"] = new[] { presaleId },
            ["sale_starts_at"] = DateTimeOffset.UtcNow.AddHours(5).ToString("O"),
        });
        var lateId = late["id"]!.GetValue<string>();

        var page = await NewPageAsync();
        await OpenGalaAsync(page, key);

        // The presale: scheduled, opening at its start, inside its window.
        await ExpectFieldsAsync(Head(page, presaleId), new() { ["state"] = "scheduled" });
        await Expect(Head(page, presaleId).Locator("[data-field='state']")).ToHaveAttributeAsync("data-state", "scheduled");
        var presaleSale = page.Locator($".capacity[data-capacity-id='{presaleId}'] > .sale");
        await Expect(presaleSale.Locator("[data-field='next-change']")).ToContainTextAsync("opens ");
        await Expect(presaleSale.Locator("[data-field='next-change'] time")).ToHaveAttributeAsync("datetime", starts);
        await Expect(presaleSale.Locator("[data-field='next-change'] time")).Not.ToBeEmptyAsync();
        await Expect(presaleSale.Locator("[data-field='sale-starts']")).ToHaveAttributeAsync("datetime", starts);
        await Expect(presaleSale.Locator("[data-field='sale-ends']")).ToHaveAttributeAsync("datetime", presale["sale_ends_at"]!.GetValue<string>());
        var lateSale = page.Locator($".capacity[data-capacity-id='{lateId}'] > .sale");
        await Expect(lateSale.Locator("[data-field='next-change']")).ToContainTextAsync("closes ");
        await Expect(lateSale.Locator("[data-field='next-change'] time")).ToHaveAttributeAsync("datetime", presale["sale_ends_at"]!.GetValue<string>());

        // The regular tier waits for the early bird, named as text, and shows its overbooking allowance in what is available.
        var regularSale = page.Locator($".capacity[data-capacity-id='{regularId}'] > .sale");
        await ExpectFieldsAsync(Head(page, regularId), new() { ["state"] = "scheduled", ["available"] = "12" });
        await ExpectFieldsAsync(regularSale, new() { ["opens-after"] = "opens after Early <em>bird</em> sells out", ["overbooked"] = "0" });
        await Expect(regularSale.Locator("[data-field='overbook']")).ToContainTextAsync("overbooking up to 2");
        await Expect(regularSale.Locator("[data-field='next-change']")).ToHaveCountAsync(0);
        await Expect(page.Locator("#tree em")).ToHaveCountAsync(0);
        await ExpectFieldsAsync(Head(page, early), new() { ["state"] = "on sale" });
        await Expect(page.Locator($".capacity[data-capacity-id='{early}'] > .sale")).ToHaveCountAsync(0);

        // The hold that takes the last early-bird ticket opens the regular tier and closes the early bird, live.
        await ReserveAsync(api, early, 2, null);
        await ExpectFieldsAsync(Head(page, regularId), new() { ["state"] = "on sale" }, Live);
        await Expect(Head(page, regularId).Locator("[data-field='state']")).ToHaveAttributeAsync("data-state", "on_sale");
        await ExpectFieldsAsync(regularSale, new() { ["opens-after"] = "opened after Early <em>bird</em> sold out" }, Live);
        await ExpectFieldsAsync(Head(page, early), new() { ["state"] = "closed (sold out)", ["available"] = "0" }, Live);
        await Expect(Head(page, early).Locator("[data-field='state']")).ToHaveAttributeAsync("data-state", "closed");

        await SaveScreenshotAsync(page, "sale-rules.png");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_limits_panel_lists_each_limit_and_picks_up_a_new_one_at_its_next_refresh()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var stalls = await CreateAsync(api, "Stalls", 100, []);
        var circle = await CreateAsync(api, "Circle", 50, []);
        var standing = await CreateAsync(api, "Standing", null, []);
        var seated = await CreateLimitAsync(api, "Four <em>per</em> person", [stalls, circle], 4, requireBuyerKey: true);

        // The page's clock is Playwright's, so the test can skip to the 10 s refresh instead of waiting for it.
        var page = await NewPageAsync();
        await page.Clock.InstallAsync();
        await OpenGalaAsync(page, key);
        var first = page.Locator($"#limits-list .limit[data-limit-id='{seated}']");
        await Expect(first.Locator(".name")).ToHaveTextAsync("Four <em>per</em> person");
        await Expect(first.Locator("em")).ToHaveCountAsync(0);
        await ExpectFieldsAsync(first, new() { ["max"] = "4 per buyer", ["sections"] = "Stalls, Circle", ["key-required"] = "key required" });

        var open = await CreateLimitAsync(api, "Two standing", [standing], 2, requireBuyerKey: false);
        await Expect(page.Locator("#limits-list .limit")).ToHaveCountAsync(1);
        await page.Clock.FastForwardAsync("00:10");
        var second = page.Locator($"#limits-list .limit[data-limit-id='{open}']");
        await ExpectFieldsAsync(second, new() { ["max"] = "2 per buyer", ["sections"] = "Standing" });
        await Expect(second.Locator("[data-field='key-required']")).ToHaveCountAsync(0);
        await Expect(page.Locator("#limits-error")).ToBeEmptyAsync();

        await SaveScreenshotAsync(page, "limits.png");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_reservations_panel_lists_an_events_holds_newest_first_filters_them_and_loads_more()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var stalls = await CreateAsync(api, "Stalls", 100, []);
        var circle = await CreateAsync(api, "Circle", 50, []);
        var lawn = await CreateAsync(api, "Lawn", 30, [], eventId: "picnic");
        var first = await HoldAsync(api, stalls, 2, "order-1", new() { ["channel"] = "web", ["seat"] = "A1" }, "buyer-a");
        var second = await HoldAsync(api, circle, 1, "order-2", new() { ["channel"] = "box" });
        var cart = (await ReadAsync(await api.PostAsJsonAsync("/reservations", new
        {
            items = new[] { new { capacity_id = stalls, quantity = 1 }, new { capacity_id = circle, quantity = 3 } },
            external_ref = "shared-ref",
        })))["id"]!.GetValue<string>();
        var sale = await HoldAsync(api, stalls, 3, "order-4");
        await ReadAsync(await api.PostAsync($"/reservations/{sale}/confirm", null));
        await ReadAsync(await api.PostAsJsonAsync($"/reservations/{sale}/cancel", new { items = new[] { new { capacity_id = stalls, quantity = 1 } } }));
        var released = await HoldAsync(api, circle, 1);
        await ReadAsync(await api.PostAsync($"/reservations/{released}/release", null));
        var picnic = await HoldAsync(api, lawn, 1, "shared-ref");

        // Two to a page, so five holds take three pages; the last one is short and ends the list.
        var page = await NewPageAsync();
        await OpenGalaAsync(page, key, "?page_size=2");
        await ExpectRowsAsync(page, released, sale);
        await page.ClickAsync("#reservations-more");
        await ExpectRowsAsync(page, released, sale, cart, second);
        await page.ClickAsync("#reservations-more");
        await ExpectRowsAsync(page, released, sale, cart, second, first);
        await Expect(page.Locator("#reservations-more")).ToBeHiddenAsync();

        var firstRow = Row(page, first);
        await ExpectFieldsAsync(firstRow, new() { ["status"] = "active", ["items"] = "Stalls ×2", ["ref"] = "order-1", ["buyer"] = "buyer-a" });
        await Expect(firstRow.Locator("[data-field='metadata'] .pair")).ToHaveTextAsync(["channel=web", "seat=A1"]);
        await Expect(firstRow.Locator("[data-field='expires']")).Not.ToBeEmptyAsync();
        await Expect(firstRow.Locator("button")).ToHaveTextAsync(["Release", "Confirm"]);
        await ExpectFieldsAsync(Row(page, second), new() { ["items"] = "Circle ×1", ["ref"] = "order-2", ["buyer"] = "" });
        await ExpectFieldsAsync(Row(page, cart), new() { ["items"] = "Stalls ×1, Circle ×3", ["ref"] = "shared-ref" });
        await ExpectFieldsAsync(Row(page, sale), new() { ["status"] = "confirmed", ["items"] = "Stalls ×2 (1 cancelled)", ["expires"] = "" });
        await Expect(Row(page, sale).Locator("button")).ToHaveTextAsync(["Cancel"]);
        await ExpectFieldsAsync(Row(page, released), new() { ["status"] = "released", ["ref"] = "", ["metadata"] = "" });
        await Expect(Row(page, released).Locator("button")).ToHaveCountAsync(0);

        await page.SelectOptionAsync("#reservations-status", "confirmed");
        await ExpectRowsAsync(page, sale);
        await page.SelectOptionAsync("#reservations-status", "released");
        await ExpectRowsAsync(page, released);
        await page.SelectOptionAsync("#reservations-status", "");
        await page.FillAsync("#reservations-buyer", "buyer-a");
        await page.PressAsync("#reservations-buyer", "Enter");
        await ExpectRowsAsync(page, first);

        // A bad filter is the API's 400, its detail shown in the panel.
        await page.FillAsync("#reservations-buyer", new string('b', 129));
        await page.PressAsync("#reservations-buyer", "Enter");
        await Expect(page.Locator("#reservations-error")).ToHaveTextAsync("Could not list reservations: buyer_key must be 1 to 128 printable characters.");
        await page.FillAsync("#reservations-buyer", "");

        // A reference is searched in every event: the picnic's capacity is not in this event's snapshot, so it shows by id.
        await page.FillAsync("#reservations-ref", "shared-ref");
        await page.PressAsync("#reservations-ref", "Enter");
        await ExpectRowsAsync(page, picnic, cart);
        await Expect(page.Locator("#reservations-error")).ToBeEmptyAsync();
        await Expect(page.Locator("#reservations-scope")).ToHaveTextAsync("Reference “shared-ref” in every event");
        await ExpectFieldsAsync(Row(page, picnic), new() { ["items"] = $"{lawn} ×1" });

        // The list is read again on Refresh, not as holds come in.
        await page.FillAsync("#reservations-ref", "");
        await page.PressAsync("#reservations-ref", "Enter");
        await ExpectRowsAsync(page, released, sale);
        var late = await HoldAsync(api, stalls, 1, "order-late");
        await page.ClickAsync("#reservations-refresh");
        await ExpectRowsAsync(page, late, released);

        // Following another event lists its own reservations, named from its snapshot.
        await page.ClickAsync("#events button[data-event-id='picnic']");
        await ExpectRowsAsync(page, picnic);
        await Expect(page.Locator("#reservations-scope")).ToHaveTextAsync("Event picnic");
        await ExpectFieldsAsync(Row(page, picnic), new() { ["items"] = "Lawn ×1" });

        await SaveScreenshotAsync(page, "reservations.png");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Releasing_a_hold_from_the_panel_after_confirming_frees_its_tickets_and_a_refused_action_shows_the_problem_detail()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var stalls = await CreateAsync(api, "Stalls", 10, []);
        var released = await HoldAsync(api, stalls, 4, "order-a");
        var stale = await HoldAsync(api, stalls, 2, "order-b");
        var sold = await HoldAsync(api, stalls, 1, "order-c");

        var page = await NewPageAsync();
        var questions = new List<string>();
        var accept = false;
        page.Dialog += async (_, dialog) =>
        {
            questions.Add(dialog.Message);
            await (accept ? dialog.AcceptAsync() : dialog.DismissAsync());
        };
        var keys = new List<string?>();
        page.Request += (_, request) =>
        {
            if (request.Method == "POST")
            {
                keys.Add(request.Headers.GetValueOrDefault("idempotency-key"));
            }
        };
        await OpenGalaAsync(page, key);
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("3");

        // Saying no to the question sends nothing.
        await Row(page, released).Locator("button[data-action='release']").ClickAsync();
        await Expect(Row(page, released)).ToHaveAttributeAsync("data-status", "active");
        Assert.Equal("Release this hold? Its tickets go back on sale.\n\nStalls ×4 · order-a", Assert.Single(questions));
        Assert.Empty(keys);
        Assert.Equal("active", await StatusAsync(api, released));

        accept = true;
        await Row(page, released).Locator("button[data-action='release']").ClickAsync();
        await ExpectFieldsAsync(Row(page, released), new() { ["status"] = "released", ["expires"] = "" });
        await Expect(Row(page, released).Locator("button")).ToHaveCountAsync(0);
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("7", Within);
        await ExpectFieldsAsync(Head(page, stalls), new() { ["reserved"] = "3", ["available"] = "7" }, Within);
        Assert.Equal("released", await StatusAsync(api, released));
        Assert.Equal(7, (await ReadAsync(await api.GetAsync($"/capacity/{stalls}")))["available_capacity"]!.GetValue<int>());

        // Another client releases a hold the panel still shows as active: confirming it is refused with the API's reason.
        await ReadAsync(await api.PostAsync($"/reservations/{stale}/release", null));
        await Row(page, stale).Locator("button[data-action='confirm']").ClickAsync();
        var refusal = await api.PostAsync($"/reservations/{stale}/confirm", null);
        Assert.Equal(System.Net.HttpStatusCode.Conflict, refusal.StatusCode);
        var detail = JsonNode.Parse(await refusal.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>();
        await Expect(page.Locator("#reservations-error")).ToHaveTextAsync($"Could not confirm the reservation: {detail}");
        await ExpectFieldsAsync(Row(page, stale), new() { ["status"] = "released" });
        Assert.Equal("released", await StatusAsync(api, stale));

        // Confirmed, then refunded: a cancel puts the ticket back.
        await Row(page, sold).Locator("button[data-action='confirm']").ClickAsync();
        await ExpectFieldsAsync(Row(page, sold), new() { ["status"] = "confirmed" });
        await Expect(page.Locator("#total-sold")).ToHaveTextAsync("1", Within);
        await Expect(page.Locator("#reservations-error")).ToBeEmptyAsync();
        await Row(page, sold).Locator("button[data-action='cancel']").ClickAsync();
        await ExpectFieldsAsync(Row(page, sold), new() { ["status"] = "cancelled" });
        await Expect(page.Locator("#total-sold")).ToHaveTextAsync("0", Within);
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("10", Within);
        Assert.Equal("cancelled", await StatusAsync(api, sold));

        // One key per write (release, the refused confirm, confirm, cancel), each fresh.
        Assert.Equal(4, keys.Count);
        Assert.All(keys, k => Assert.True(Guid.TryParse(k, out _), $"not a UUID: {k}"));
        Assert.Equal(4, keys.Distinct().Count());

        await SaveScreenshotAsync(page, "reservation-actions.png");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Markup_in_a_reference_metadata_or_buyer_key_is_shown_as_text_and_never_run()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var stalls = await CreateAsync(api, "Stalls", 10, []);
        const string Img = "<img src=x onerror=alert(1)>";
        var hold = await HoldAsync(api, stalls, 1, "<b>order</b>", new() { ["note"] = Img, ["<i>k</i>"] = "v" }, "<script>alert(2)</script>");

        var page = await NewPageAsync();
        var dialogs = new List<string>();
        page.Dialog += async (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            await dialog.DismissAsync();
        };
        await OpenGalaAsync(page, key);
        var row = Row(page, hold);
        await ExpectFieldsAsync(row, new() { ["ref"] = "<b>order</b>", ["buyer"] = "<script>alert(2)</script>" });
        var pairs = row.Locator("[data-field='metadata'] .pair");
        await Expect(pairs).ToHaveCountAsync(2);
        Assert.Equal(new[] { "<i>k</i>=v", $"note={Img}" }, (await pairs.AllTextContentsAsync()).Order(StringComparer.Ordinal));

        // Searching by that reference shows it as text too.
        await page.FillAsync("#reservations-ref", "<b>order</b>");
        await page.PressAsync("#reservations-ref", "Enter");
        await Expect(page.Locator("#reservations-scope")).ToHaveTextAsync("Reference “<b>order</b>” in every event");
        await ExpectRowsAsync(page, hold);
        await Expect(page.Locator("#reservations").Locator("img, b, i, script")).ToHaveCountAsync(0);

        // Give a broken image's onerror the time to fire, had it been markup.
        await page.WaitForTimeoutAsync(300);
        Assert.Empty(dialogs);
        await AssertInvariantsAsync();
    }

    /// <summary>Requests the server has refused for their credential with this reason, from its metrics (the tests run one after another).</summary>
    private async Task<long> AuthFailuresAsync(string reason)
    {
        using var scraper = Server.Client();
        var metrics = await scraper.GetStringAsync("/metrics");
        return metrics.Split('\n')
            .Where(line => line.StartsWith("capacity_auth_failures_total{", StringComparison.Ordinal) && line.Contains($"reason=\"{reason}\"", StringComparison.Ordinal))
            .Sum(line => (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}

using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Capacity.Dashboard.Tests;

/// <summary>
/// The organiser's view (issue 22): the newest event followed at sign-in; each section shown as it
/// stands for sale (an unlimited one, one under a closed pool, named by the pool whose own settings
/// close it) with its limits, and each expiring hold with its sections and a countdown; the sales charts, conversion and forecast from the statistics, following sales
/// live, or a note when the server has none; the organiser's actions, each confirmed in a dialog,
/// sent with an Idempotency-Key, and refused with the API's problem; a read key that sees everything
/// and can change nothing; a phone's width; the keyboard.
/// </summary>
public sealed class OrganiserTests(DashboardHost host) : DashboardTest(host)
{
    private static readonly LocatorAssertionsToHaveTextOptions Throttled = new() { Timeout = 8000 };

    /// <summary>GET, PUT /capacity/{id}, and nothing else.</summary>
    private static readonly Regex CapacityPath = new("/capacity/[0-9a-f-]{36}$");

    [Fact]
    public async Task Signing_in_follows_the_newest_event_whose_sections_and_holds_read_as_they_stand_for_sale()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        await CreateInOlderEventAsync(api, "Lawn", 30, "picnic");
        var hall = await CreateAsync(api, "Hall", 100, []);
        var stalls = await CreateAsync(api, "Stalls", 40, [hall]);
        var stream = await CreateAsync(api, "Live-stream", null, []);
        var balcony = await CreateAsync(api, "Balcony", 20, []);
        var front = await CreateAsync(api, "Balcony front", 10, [balcony]);
        var cart = (await ReadAsync(await api.PostAsJsonAsync("/reservations", new
        {
            items = new[] { new { capacity_id = stalls, quantity = 2 }, new { capacity_id = front, quantity = 1 } },
        })))["id"]!.GetValue<string>();
        var watcher = await ReserveAsync(api, stream, 1, null);
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{balcony}", new { is_active = false }));
        await CreateLimitAsync(api, "Four each", [stalls], 4, requireBuyerKey: false);

        // The page meets a server without statistics: GET /events/{id}/stats answers 404.
        var page = await NewPageAsync();
        await page.RouteAsync(new Regex("/events/[^/]+/stats\\?"), route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 404,
            ContentType = "application/problem+json",
            Body = """{"type":"/problems/not-found","title":"Not found","status":404,"code":"NOT_FOUND","detail":"No such route."}""",
        }));
        await SignInAsync(page, key);

        // No click: the newest event is followed.
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await Expect(page.Locator("#event-title")).ToHaveTextAsync("gala");
        await Expect(page.Locator("#events button[data-event-id='gala']")).ToHaveAttributeAsync("aria-current", "true");
        await Expect(page.Locator("#events button[data-event-id='picnic']")).ToHaveAttributeAsync("aria-current", "false");
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("117");

        // Each expiring hold names its sections.
        var expiring = page.Locator("#expiring tbody tr");
        await Expect(expiring.Filter(new() { HasText = cart }).Locator("[data-field='sections']")).ToHaveTextAsync("Stalls ×2, Balcony front ×1");
        await Expect(expiring.Filter(new() { HasText = watcher }).Locator("[data-field='sections']")).ToHaveTextAsync("Live-stream ×1");

        // One ticket held on an unlimited section leaves its bar open, not all reserved.
        var streamBar = page.Locator($".capacity[data-capacity-id='{stream}'] > .bar");
        await ExpectFieldsAsync(Head(page, stream), new() { ["reserved"] = "1", ["available"] = "∞", ["state"] = "on sale" });
        await Expect(streamBar.Locator(".unlimited")).ToHaveCountAsync(1);
        await Expect(streamBar.Locator(".reserved")).ToHaveCountAsync(0);

        // A section under a deactivated pool is not on sale, whatever its own state, and says why.
        await ExpectFieldsAsync(Head(page, front), new() { ["state"] = "not on sale", ["available"] = "9" });
        await Expect(Head(page, front).Locator("[data-field='state']")).ToHaveAttributeAsync("data-state", "blocked");
        await Expect(Capacity(page, front).Locator("[data-field='blocked']")).ToHaveTextAsync("Not on sale: Balcony is deactivated.");
        await Expect(page.Locator($".capacity[data-capacity-id='{front}'] > .bar .available")).ToHaveCountAsync(0);
        await Expect(page.Locator($".capacity[data-capacity-id='{front}'] > .bar .unsellable")).ToHaveCountAsync(1);
        await ExpectFieldsAsync(Head(page, balcony), new() { ["state"] = "closed (deactivated)" });
        await Expect(page.Locator($".capacity[data-capacity-id='{stalls}'] > .bar .available")).ToHaveCountAsync(1);
        await Expect(Capacity(page, stalls).Locator("[data-field='blocked']")).ToHaveCountAsync(0);

        // Each section lists the buyer limits over it.
        await Expect(Capacity(page, stalls).Locator("[data-field='limits']")).ToHaveTextAsync("buyer limits: Four each: 4 per buyer");
        await Expect(Capacity(page, hall).Locator("[data-field='limits']")).ToHaveCountAsync(0);

        // Without statistics the charts are left out with a note, and the rest works.
        await Expect(page.Locator("#stats-note")).ToHaveTextAsync("Sales charts are not available: this server does not answer GET /events/{id}/stats.");
        await Expect(page.Locator("#stats-body")).ToBeHiddenAsync();

        // The pool reopened: its section is on sale again, live.
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{balcony}", new { is_active = true }));
        await ExpectFieldsAsync(Head(page, front), new() { ["state"] = "on sale" }, Live);
        await Expect(Capacity(page, front).Locator("[data-field='blocked']")).ToHaveCountAsync(0);
        await Expect(page.Locator($".capacity[data-capacity-id='{front}'] > .bar .available")).ToHaveCountAsync(1);
        await AssertInvariantsAsync();
    }

    /// <summary>
    /// Needs GET /events/{id}/stats. Writes the README's screenshot (docs/images/dashboard.png) when
    /// CAPACITY_SCREENSHOT_DIR names a directory, so that a run on a clean clone changes no tracked file.
    /// </summary>
    [Fact]
    public async Task A_busy_event_shows_its_sales_charts_conversion_and_forecast_and_they_follow_a_sale_live()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var ids = await BusyGalaAsync(api);

        var page = await NewPageAsync(width: 1200, height: 1000);
        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await Expect(page.Locator("#stats-body")).ToBeVisibleAsync();
        await Expect(page.Locator("#stats-note")).ToBeHiddenAsync();

        var stats = await ReadAsync(await api.GetAsync("/events/gala/stats"));
        var totals = stats["totals"]!;
        var conversion = stats["conversion"]?.GetValue<double>();
        await Expect(page.Locator("#conversion")).ToHaveTextAsync(conversion is { } c ? $"{Math.Round(c * 100)}%" : "—");
        await Expect(page.Locator("#peak")).ToHaveTextAsync(stats["peak_sold_per_minute"]!.ToJsonString());
        await Expect(page.Locator("#velocity-summary")).ToContainTextAsync($"{totals["held"]} tickets held and {totals["confirmed"]} sold");
        var forecast = stats["forecast"]!;
        if (forecast["sell_out_at"] is null)
        {
            await Expect(page.Locator("#forecast")).ToHaveTextAsync(forecast["available"] is null ? "—" : "not selling");
        }
        else
        {
            Assert.True(DateTimeOffset.TryParse(await page.Locator("#forecast time").GetAttributeAsync("datetime"), CultureInfo.InvariantCulture, out _));
        }

        // Both charts are pictures with a text alternative, and their figures are a table.
        foreach (var chart in new[] { "velocity", "levels" })
        {
            var picture = page.Locator($"#{chart} .plot svg");
            await Expect(picture).ToHaveAttributeAsync("role", "img");
            await Expect(picture).ToHaveAttributeAsync("aria-labelledby", $"{chart}-title {chart}-summary");
            await Expect(page.Locator($"#{chart}-summary")).Not.ToBeEmptyAsync();
        }

        await Expect(page.Locator("#velocity .plot svg polyline")).ToHaveCountAsync(2);
        var rows = page.Locator("#velocity-table tbody tr");
        Assert.InRange(await rows.CountAsync(), 59, 62);
        Assert.Equal(totals["held"]!.GetValue<long>(), await ColumnSumAsync(rows, 1));
        Assert.Equal(totals["confirmed"]!.GetValue<long>(), await ColumnSumAsync(rows, 2));

        // The levels now: the last bucket's sold and held, and the rest of the event's total available.
        var last = stats["buckets"]!.AsArray()[^1]!;
        var total = (await ReadAsync(await api.GetAsync("/events/gala/capacity/total")))["total_capacity"]!.GetValue<long>();
        var (sold, holding) = (last["sold"]!.GetValue<long>(), last["holding"]!.GetValue<long>());
        await Expect(page.Locator("#levels-table tbody tr").Last.Locator("td"))
            .ToHaveTextAsync([new Regex(".+"), new Regex($"^{sold}$"), new Regex($"^{holding}$"), new Regex($"^{Math.Max(0, total - holding - sold)}$")]);
        Assert.True(await page.Locator("#levels .plot svg rect").CountAsync() > 0);

        // A sale comes in: the figures follow within the throttle, without a reload.
        var hold = await ReserveAsync(api, ids.Stalls, 3, null);
        await ReadAsync(await api.PostAsync($"/reservations/{hold}/confirm", null));
        var after = await ReadAsync(await api.GetAsync("/events/gala/stats"));
        Assert.Equal(totals["held"]!.GetValue<long>() + 3, after["totals"]!["held"]!.GetValue<long>());
        await Expect(page.Locator("#velocity-summary")).ToContainTextAsync(
            $"{after["totals"]!["held"]} tickets held and {after["totals"]!["confirmed"]} sold", new() { Timeout = 8000 });

        // Another period reads the figures again by the hour.
        await page.SelectOptionAsync("#stats-range", "two-days");
        await Expect(page.Locator("#velocity-title")).ToHaveTextAsync("Tickets per hour, held and sold", Throttled);
        await page.SelectOptionAsync("#stats-range", "hour");
        await Expect(page.Locator("#velocity-title")).ToHaveTextAsync("Tickets per minute, held and sold", Throttled);

        // The README's picture: the figures and the capacities, down to the buyer limits.
        var screenshot = await SaveScreenshotAsync(page, "dashboard.png", until: page.Locator("#limits"));
        if (Environment.GetEnvironmentVariable(ScreenshotDirectoryVariable) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
            await File.WriteAllBytesAsync(Path.Combine(directory, "dashboard.png"), screenshot);
        }

        await AssertInvariantsAsync();
    }

    /// <summary>
    /// WCAG 2.2's minimums, measured on the colours the browser computes: 4.5:1 for text (1.4.3; a
    /// disabled control is exempt there) and 3:1 for the graphics that carry meaning (1.4.11): the
    /// bars' segments and outline, the legend's swatches, the charts' columns, lines and zero line.
    /// </summary>
    [Fact]
    public async Task Every_text_stands_4_5_to_1_and_every_bar_swatch_and_chart_mark_3_to_1_against_what_is_behind_it()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        await BusyGalaAsync(api);
        // What the busy event lacks: a section unlimited all the way up (its bar is drawn open, in a
        // pattern of its own), and one whose free tickets are owed to a party of three that waits for more.
        await CreateAsync(api, "Live-stream", null, []);
        var boxes = await CreateAsync(api, "Boxes", 10, []);
        await ReadAsync(await api.PostAsync($"/reservations/{await ReserveAsync(api, boxes, 8, null)}/confirm", null));
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{boxes}", new { waitlist = new { enabled = true } }));
        await ReadAsync(await api.PostAsJsonAsync("/waitlist", new { items = new[] { new { capacity_id = boxes, quantity = 3 } } }));

        var page = await NewPageAsync(width: 1200, height: 1000);
        await page.GotoAsync(Server.Url + "/dashboard/");
        await Expect(page.Locator("#api-key")).ToBeVisibleAsync();
        var signIn = await ContrastAsync(page);
        AssertContrast(signIn, "the sign-in page");
        Assert.True(signIn.GetProperty("measured").GetProperty("placeholder").GetInt32() >= 1, signIn.ToString());

        await page.FillAsync("#api-key", key);
        await page.ClickAsync("#sign-in-form button");
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await Expect(page.Locator("#stats-body")).ToBeVisibleAsync();
        await Expect(page.Locator("#velocity .plot svg polyline")).ToHaveCountAsync(2);
        Assert.True(await page.Locator("#levels .plot svg rect").CountAsync() > 0);
        var gala = await ContrastAsync(page);
        AssertContrast(gala, "the busy event");

        // Every kind of mark was there to be measured, so a colour that fails cannot go unseen.
        var measured = gala.GetProperty("measured");
        Assert.True(measured.GetProperty("text").GetInt32() >= 100, measured.ToString());
        foreach (var kind in new[]
        {
            "bar sold", "bar reserved", "bar set-aside", "bar owed", "bar available", "bar unsellable", "bar unlimited", "bar outline",
            "legend sold", "legend reserved", "legend available", "legend set-aside", "legend owed", "legend unsellable", "legend held",
            "chart sold", "chart reserved", "chart available", "chart held", "chart sold-line", "chart axis", "placeholder",
        })
        {
            Assert.True(measured.TryGetProperty(kind, out var count) && count.GetInt32() > 0, $"nothing measured as {kind}: {measured}");
        }

        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_organiser_creates_resizes_closes_reopens_and_schedules_a_capacity_and_releases_idle_tickets_each_after_confirming()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var hall = await CreateAsync(api, "Hall", 100, []);
        var stalls = await CreateAsync(api, "Stalls", 40, [hall]);
        var box = (await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/allocations", new { name = "Box office", quantity = 10 })))["id"]!.GetValue<string>();

        // Paris, so that the sale window is typed in a time zone other than the server's.
        var page = await NewPageAsync(timezone: "Europe/Paris");
        var writes = RecordWrites(page);
        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        var dialog = page.Locator("#action-dialog");
        var question = page.Locator("#action-question");
        var result = page.Locator("#action-result");

        // Creating: the dialog asks with the values typed; Cancel sends nothing.
        await page.ClickAsync("#new-capacity");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(page.Locator("#action-event")).ToHaveValueAsync("gala");
        await page.FillAsync("#action-section_name", "Circle");
        await page.FillAsync("#action-total", "30");
        await page.SelectOptionAsync("#action-parent", new SelectOptionValue { Label = "Hall" });
        await Expect(question).ToHaveTextAsync("Create “Circle” in gala with 30 tickets, drawing from Hall? It is on sale once created.");
        await page.ClickAsync("#action-cancel");
        await Expect(dialog).ToBeHiddenAsync();
        Assert.Empty(writes);

        await page.ClickAsync("#new-capacity");
        await page.FillAsync("#action-section_name", "Circle");
        await page.FillAsync("#action-total", "30");
        await page.SelectOptionAsync("#action-parent", new SelectOptionValue { Label = "Hall" });
        await page.ClickAsync("#action-submit");
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(result).ToHaveTextAsync("Created Circle in gala, with 30 tickets.");
        var circle = (await ReadAsync(await api.GetAsync("/events/gala/capacity")))["capacity"]!.AsArray()
            .Single(c => c!["section_name"]!.GetValue<string>() == "Circle")!;
        var circleId = circle["id"]!.GetValue<string>();
        Assert.Equal(30, circle["total_capacity"]!.GetValue<int>());
        Assert.Equal([hall], circle["parent_ids"]!.AsArray().Select(p => p!.GetValue<string>()));
        await Expect(page.Locator($".tree > li > .capacity[data-capacity-id='{hall}'] + ul .capacity[data-capacity-id='{circleId}']")).ToHaveCountAsync(1);
        await Expect(page.Locator("#events button[data-event-id='gala']")).ToHaveTextAsync("gala (3)");

        // Resizing, from the size it has.
        await Capacity(page, stalls).Locator("button[data-action='resize']").ClickAsync();
        await Expect(page.Locator("#action-total")).ToHaveValueAsync("40");
        await page.FillAsync("#action-total", "50");
        await Expect(question).ToHaveTextAsync("Stalls has 40 tickets, of which 10 are sold, held or set aside. Give it 50 tickets?");
        await page.ClickAsync("#action-submit");
        await Expect(result).ToHaveTextAsync("Stalls has 50 tickets now.");
        await Expect(Head(page, stalls)).ToContainTextAsync("/ 50");
        Assert.Equal(50, (await CapacityAsync(api, stalls))["total_capacity"]!.GetValue<int>());

        // Closing and opening again.
        await Capacity(page, stalls).Locator("button[data-action='deactivate']").ClickAsync();
        await Expect(question).ToHaveTextAsync("No new holds are taken from Stalls, or from the sections under it. Holds and sales already made stay.");
        await page.ClickAsync("#action-submit");
        await Expect(result).ToHaveTextAsync("Stalls is deactivated.");
        await ExpectFieldsAsync(Head(page, stalls), new() { ["state"] = "closed (deactivated)" }, Live);
        Assert.False((await CapacityAsync(api, stalls))["is_active"]!.GetValue<bool>());
        await Capacity(page, stalls).Locator("button[data-action='activate']").ClickAsync();
        await page.ClickAsync("#action-submit");
        await Expect(result).ToHaveTextAsync("Stalls is active.");
        await ExpectFieldsAsync(Head(page, stalls), new() { ["state"] = "on sale" }, Live);

        // A sale window typed in Paris time (UTC+2 in May) is sent as the instant it means.
        await Capacity(page, stalls).Locator("button[data-action='window']").ClickAsync();
        await page.FillAsync("#action-starts", "2030-05-01T18:00");
        await Expect(question).ToContainTextAsync("Sell Stalls from ");
        await Expect(question).ToContainTextAsync(" with no end?");
        await page.ClickAsync("#action-submit");
        await Expect(result).ToHaveTextAsync("Stalls has a new sale window.");
        var scheduled = await CapacityAsync(api, stalls);
        Assert.Equal(new DateTimeOffset(2030, 5, 1, 16, 0, 0, TimeSpan.Zero), DateTimeOffset.Parse(scheduled["sale_starts_at"]!.GetValue<string>(), CultureInfo.InvariantCulture));
        Assert.Null(scheduled["sale_ends_at"]);
        await ExpectFieldsAsync(Head(page, stalls), new() { ["state"] = "scheduled" }, Live);
        await Expect(Capacity(page, stalls).Locator("[data-field='sale-starts']")).ToHaveAttributeAsync("datetime", scheduled["sale_starts_at"]!.GetValue<string>());

        // The window as it is fills the dialog; emptied, it is cleared.
        await Capacity(page, stalls).Locator("button[data-action='window']").ClickAsync();
        await Expect(page.Locator("#action-starts")).ToHaveValueAsync("2030-05-01T18:00");
        await page.FillAsync("#action-starts", "");
        await Expect(question).ToHaveTextAsync("Sell Stalls from now with no end?");
        await page.ClickAsync("#action-submit");
        await Expect(result).ToHaveTextAsync("Stalls has no sale window now.");
        await ExpectFieldsAsync(Head(page, stalls), new() { ["state"] = "on sale" }, Live);
        Assert.Null((await CapacityAsync(api, stalls))["sale_starts_at"]);

        // Releasing part of an allocation's idle tickets to the public.
        var boxRow = Capacity(page, stalls).Locator($"tr.allocation[data-allocation-id='{box}']");
        await boxRow.Locator("button[data-action='release-idle']").ClickAsync();
        await Expect(page.Locator("#action-quantity")).ToHaveValueAsync("10");
        await page.FillAsync("#action-quantity", "4");
        await Expect(question).ToHaveTextAsync("Box office has 10 idle tickets set aside on Stalls. Release 4 of them to the public? The allocation shrinks by as many.");
        await page.ClickAsync("#action-submit");
        await Expect(result).ToHaveTextAsync("Released 4 tickets of Box office to the public; 6 stay set aside.");
        await ExpectFieldsAsync(boxRow, new() { ["idle"] = "6", ["size"] = "6" }, Live);

        // One write per confirmed action, each with a key of its own.
        Assert.Equal(
            ["POST /events/gala/capacity", .. Enumerable.Repeat($"PUT /capacity/{stalls}", 5), $"POST /allocations/{box}/release"],
            writes.Select(w => $"{w.Method} {w.Path}"));
        Assert.All(writes, w => Assert.True(Guid.TryParse(w.Key, out _), $"not a UUID: {w.Key}"));
        Assert.Equal(writes.Count, writes.Select(w => w.Key).Distinct().Count());
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_refused_action_shows_the_APIs_problem_in_its_dialog_and_a_retry_after_no_answer_reuses_its_key()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var stalls = await CreateAsync(api, "Stalls", 10, []);
        await ReserveAsync(api, stalls, 6, null);

        var page = await NewPageAsync();
        var writes = RecordWrites(page);
        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");

        // Below what is held: the server refuses, and the dialog stays open with its problem.
        await Capacity(page, stalls).Locator("button[data-action='resize']").ClickAsync();
        await page.FillAsync("#action-total", "4");
        await page.ClickAsync("#action-submit");
        var refusal = await api.PutAsJsonAsync($"/capacity/{stalls}", new { total_capacity = 4 });
        Assert.Equal(HttpStatusCode.Conflict, refusal.StatusCode);
        var problem = JsonNode.Parse(await refusal.Content.ReadAsStringAsync())!;
        var shown = page.Locator("#action-problem");
        await Expect(shown.Locator(".title")).ToHaveTextAsync(problem["title"]!.GetValue<string>());
        await Expect(shown.Locator(".detail")).ToHaveTextAsync(problem["detail"]!.GetValue<string>());
        await Expect(shown.Locator(".code")).ToHaveTextAsync("CAPACITY_BELOW_COMMITTED");
        await Expect(page.Locator("#action-dialog")).ToBeVisibleAsync();
        await Expect(page.Locator("#action-result")).ToBeEmptyAsync();

        // The next try gets no answer (the connection drops): the dialog says sending again is safe.
        await page.RouteAsync(CapacityPath, route => route.Request.Method == "PUT" ? route.AbortAsync("connectionreset") : route.ContinueAsync());
        await page.FillAsync("#action-total", "8");
        await page.ClickAsync("#action-submit");
        await Expect(shown.Locator(".title")).ToHaveTextAsync("No answer from the server");
        await Expect(shown).ToContainTextAsync("Sending it again is safe");
        await page.UnrouteAsync(CapacityPath);
        await page.ClickAsync("#action-submit");
        await Expect(page.Locator("#action-result")).ToHaveTextAsync("Stalls has 8 tickets now.");
        await Expect(page.Locator("#action-dialog")).ToBeHiddenAsync();
        Assert.Equal(8, (await CapacityAsync(api, stalls))["total_capacity"]!.GetValue<int>());

        // The refusal settled its key; the request that got no answer was sent again with the same one.
        Assert.Equal(3, writes.Count);
        Assert.NotEqual(writes[0].Key, writes[1].Key);
        Assert.Equal(writes[1].Key, writes[2].Key);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_read_key_sees_the_whole_event_and_every_action_is_disabled_with_the_reason()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var hall = await CreateAsync(api, "Hall", 100, []);
        var stalls = await CreateAsync(api, "Stalls", 40, [hall]);
        var box = (await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/allocations", new { name = "Box office", quantity = 4 })))["id"]!.GetValue<string>();
        var held = await HoldAsync(api, stalls, 2, "order-1");
        var sold = await HoldAsync(api, stalls, 3, "order-2");
        await ReadAsync(await api.PostAsync($"/reservations/{sold}/confirm", null));
        var reader = await IssueKeyAsync(key, "read");

        var page = await NewPageAsync();
        var writes = RecordWrites(page);
        await SignInAsync(page, reader);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");

        // Everything is there.
        await Expect(page.Locator("#total-sold")).ToHaveTextAsync("3");
        await ExpectFieldsAsync(Head(page, stalls), new() { ["sold"] = "3", ["reserved"] = "6", ["set-aside"] = "4" });
        await ExpectFieldsAsync(Capacity(page, stalls).Locator($"tr.allocation[data-allocation-id='{box}']"), new() { ["idle"] = "4" });
        await ExpectRowsAsync(page, sold, held);
        await Expect(page.Locator("#expiring tbody tr")).ToHaveCountAsync(1);

        // No action can be taken, and the page says why.
        await Expect(page.Locator("#scope")).ToHaveTextAsync("read-only key");
        await Expect(page.Locator("#read-only")).ToBeVisibleAsync();
        var actions = page.Locator("[data-write]");
        await Expect(actions).ToHaveCountAsync(1 + (2 * 3) + 1 + 3);
        await Expect(page.Locator("[data-write]:enabled")).ToHaveCountAsync(0);
        await Expect(Capacity(page, stalls).Locator("button[data-action='resize']")).ToHaveAttributeAsync("aria-describedby", "read-only");
        await Expect(Row(page, held).Locator("button[data-action='release']")).ToBeDisabledAsync();
        await Capacity(page, stalls).Locator("button[data-action='resize']").ClickAsync(new() { Force = true });
        await Expect(page.Locator("#action-dialog")).ToBeHiddenAsync();
        Assert.Empty(writes);
        Assert.Equal("active", await StatusAsync(api, held));
    }

    [Fact]
    public async Task At_a_phones_width_the_page_fits_without_scrolling_sideways()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        await CreateInOlderEventAsync(api, "Main stage", 500, "summer-festival-2026-main-stage-friday-evening");
        var hall = await CreateAsync(api, "Royal Festival Hall, main auditorium", 300, []);
        var stalls = await CreateAsync(api, "Stalls, rows A to T (restricted view at the sides)", 200, [hall]);
        var circle = await CreateWithAsync(api, new()
        {
            ["section_name"] = "Grand circle", ["total_capacity"] = 80, ["parent_ids"] = new[] { hall }, ["overbook_limit"] = 4,
            ["sale_ends_at"] = DateTimeOffset.UtcNow.AddHours(6).ToString("O"),
        });
        await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/allocations", new { name = "Sponsors and partners of the festival", quantity = 12, expires_at = DateTimeOffset.UtcNow.AddDays(2).ToString("O") }));
        await CreateLimitAsync(api, "Four per household", [stalls, circle["id"]!.GetValue<string>()], 4, requireBuyerKey: false);
        var hold = await HoldAsync(api, stalls, 2, "order-2026-000123456", new() { ["channel"] = "web", ["campaign"] = "early-summer-newsletter" }, "buyer-9f86d081884c7d659a2feaa0c55ad015");

        var page = await NewPageAsync(width: 375, height: 740);
        await page.GotoAsync(Server.Url + "/dashboard/");
        await AssertFitsAsync(page);

        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await ExpectRowsAsync(page, hold);
        await Expect(page.Locator(".capacity")).ToHaveCountAsync(3);
        await AssertFitsAsync(page);
        var box = await page.Locator("#event").BoundingBoxAsync();
        Assert.True(box!.X >= 0 && box.X + box.Width <= 375, $"the event spans {box.X} to {box.X + box.Width}");

        // The dialog fits too.
        await Capacity(page, stalls).Locator("button[data-action='window']").ClickAsync();
        var dialog = await page.Locator("#action-dialog").BoundingBoxAsync();
        Assert.True(dialog!.X >= 0 && dialog.X + dialog.Width <= 375, $"the dialog spans {dialog.X} to {dialog.X + dialog.Width}");
        await AssertFitsAsync(page);
        await page.ClickAsync("#action-cancel");
        await SaveScreenshotAsync(page, "phone.png");
    }

    [Fact]
    public async Task Every_action_is_reachable_by_keyboard_with_a_visible_focus_and_every_control_has_a_name()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var hall = await CreateAsync(api, "Hall", 100, []);
        var stalls = await CreateAsync(api, "Stalls", 40, [hall]);
        await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/allocations", new { name = "Box office", quantity = 5 }));
        await HoldAsync(api, stalls, 1, "order-1");

        var page = await NewPageAsync();
        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await ExpectFieldsAsync(Head(page, stalls), new() { ["reserved"] = "6" });
        Assert.Empty(await UnnamedControlsAsync(page));

        // Tab from the top to Resize Stalls; every stop on the way shows where the focus is.
        var resize = page.Locator($"button[data-focus-key='resize:{stalls}']");
        await page.Locator("body").FocusAsync();
        var stops = 0;
        while (!await resize.EvaluateAsync<bool>("b => b === document.activeElement"))
        {
            Assert.True(++stops < 40, "Resize Stalls is not reached by 40 presses of Tab");
            await page.Keyboard.PressAsync("Tab");
            var unmarked = await page.EvaluateAsync<string?>("() => getComputedStyle(document.activeElement).outlineStyle === 'none' ? document.activeElement.outerHTML.slice(0, 120) : null");
            Assert.True(unmarked is null, $"The focus shows no outline on {unmarked}");
        }

        // A hold redraws the capacities: the focus stays where it was.
        await HoldAsync(api, stalls, 2);
        await ExpectFieldsAsync(Head(page, stalls), new() { ["reserved"] = "8" }, Live);
        await Expect(resize).ToBeFocusedAsync();

        // Enter opens the dialog on its field; Escape closes it and gives the focus back.
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#action-total")).ToBeFocusedAsync();
        Assert.Empty(await UnnamedControlsAsync(page));
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.Locator("#action-dialog")).ToBeHiddenAsync();
        await Expect(resize).ToBeFocusedAsync();

        // Typed and sent from the keyboard alone.
        await page.Keyboard.PressAsync("Enter");
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("45");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#action-result")).ToHaveTextAsync("Stalls has 45 tickets now.");
        Assert.Equal(45, (await CapacityAsync(api, stalls))["total_capacity"]!.GetValue<int>());
        await Expect(resize).ToBeFocusedAsync();
    }

    /// <summary>
    /// The close event of a dialog comes a task after it closed; a dialog opened again before that
    /// (Escape, then Enter on the opener straight away) keeps its action: typing restates the question
    /// and Enter sends it. Done in one task here, which is the race's worst case.
    /// </summary>
    [Fact]
    public async Task A_dialog_opened_again_before_the_last_ones_close_event_arrives_still_sends_its_action()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var stalls = await CreateAsync(api, "Stalls", 40, []);

        var page = await NewPageAsync();
        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        var resize = page.Locator($"button[data-focus-key='resize:{stalls}']");
        await resize.ClickAsync();
        await Expect(page.Locator("#action-total")).ToBeFocusedAsync();
        await resize.EvaluateAsync("b => { document.getElementById('action-dialog').close(); b.click(); }");

        await Expect(page.Locator("#action-dialog")).ToBeVisibleAsync();
        await page.Locator("#action-total").FillAsync("45");
        await Expect(page.Locator("#action-question")).ToContainTextAsync("Give it 45 tickets?");
        await page.Locator("#action-total").PressAsync("Enter");
        await Expect(page.Locator("#action-result")).ToHaveTextAsync("Stalls has 45 tickets now.");
        Assert.Equal(45, (await CapacityAsync(api, stalls))["total_capacity"]!.GetValue<int>());
    }

    /// <summary>
    /// The server's state counts the pools a capacity draws from: under a deactivated venue, a level and
    /// its stalls read closed though nothing of theirs closes them, and under a festival whose sale has
    /// not started a day and its stage read scheduled. Each names the nearest capacity whose own settings
    /// keep it from sale; one whose own settings explain its state says so in its own words.
    /// </summary>
    [Fact]
    public async Task A_section_kept_from_sale_by_a_pool_above_names_the_pool_whose_own_settings_do_it()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var venue = await CreateAsync(api, "Venue", 100, []);
        var level = await CreateAsync(api, "Level", 60, [venue]);
        var stalls = await CreateAsync(api, "Stalls", 40, [level]);
        var boxes = await CreateAsync(api, "Boxes", 10, [level]);
        var terrace = (await CreateWithAsync(api, new()
        {
            ["section_name"] = "Terrace", ["total_capacity"] = 10, ["parent_ids"] = new[] { level },
            ["sale_starts_at"] = DateTimeOffset.UtcNow.AddHours(2).ToString("O"),
        }))["id"]!.GetValue<string>();
        var festival = (await CreateWithAsync(api, new()
        {
            ["section_name"] = "Festival", ["total_capacity"] = 500,
            ["sale_starts_at"] = DateTimeOffset.UtcNow.AddHours(2).ToString("O"),
        }))["id"]!.GetValue<string>();
        var day = await CreateAsync(api, "Day", 200, [festival]);
        var stage = await CreateAsync(api, "Stage", 100, [day]);
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{boxes}", new { is_active = false }));
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{venue}", new { is_active = false }));

        var page = await NewPageAsync();
        await OpenGalaAsync(page, key);

        // Level and Stalls read closed only because of Venue; Terrace's own window has not started, but it is Venue that closes it.
        foreach (var id in new[] { level, stalls, terrace })
        {
            await ExpectFieldsAsync(Head(page, id), new() { ["state"] = "not on sale" });
            await Expect(Capacity(page, id).Locator("[data-field='blocked']")).ToHaveTextAsync("Not on sale: Venue is deactivated.");
        }

        await ExpectFieldsAsync(Head(page, venue), new() { ["state"] = "closed (deactivated)" });
        await ExpectFieldsAsync(Head(page, boxes), new() { ["state"] = "closed (deactivated)" });
        await Expect(Capacity(page, boxes).Locator("[data-field='blocked']")).ToHaveCountAsync(0);

        // Day and Stage wait for Festival's sale, which opens them.
        await ExpectFieldsAsync(Head(page, festival), new() { ["state"] = "scheduled" });
        await Expect(Capacity(page, festival).Locator("[data-field='blocked']")).ToHaveCountAsync(0);
        foreach (var id in new[] { day, stage })
        {
            await ExpectFieldsAsync(Head(page, id), new() { ["state"] = "not on sale" });
            await Expect(Capacity(page, id).Locator("[data-field='blocked']")).ToHaveTextAsync("Not on sale: Festival is not on sale yet.");
        }

        // Venue on sale again: Terrace waits for its own window, and says so in its own words.
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{venue}", new { is_active = true }));
        await ExpectFieldsAsync(Head(page, stalls), new() { ["state"] = "on sale" }, Live);
        await ExpectFieldsAsync(Head(page, level), new() { ["state"] = "on sale" }, Live);
        await ExpectFieldsAsync(Head(page, terrace), new() { ["state"] = "scheduled" }, Live);
        await Expect(Capacity(page, terrace).Locator("[data-field='blocked']")).ToHaveCountAsync(0);
    }

    /// <summary>
    /// A quiet event sends no snapshot (heartbeats only), yet a hold's countdown moves with the page's
    /// clock (Playwright's here, so that a minute passes at once); only the countdown changes, so a
    /// reservation id selected for copying stays selected.
    /// </summary>
    [Fact]
    public async Task The_countdown_of_a_hold_expiring_next_moves_with_the_pages_clock_and_leaves_the_rest_of_its_row_alone()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var stalls = await CreateAsync(api, "Stalls", 40, []);
        var hold = await HoldAsync(api, stalls, 2);

        var page = await NewPageAsync();
        await page.Clock.InstallAsync();
        await OpenGalaAsync(page, key);
        var cells = page.Locator("#expiring tbody tr td");
        await Expect(cells.First).ToHaveTextAsync(hold);
        await cells.First.EvaluateAsync("td => getSelection().selectAllChildren(td)");
        var before = Seconds(await cells.Nth(3).TextContentAsync());

        await page.Clock.FastForwardAsync("01:00");
        Assert.InRange(before - Seconds(await cells.Nth(3).TextContentAsync()), 59, 61);
        Assert.Equal(hold, await page.EvaluateAsync<string>("() => getSelection().toString()"));

        // "9:58" as seconds.
        static int Seconds(string? countdown)
        {
            var parts = countdown!.Split(':');
            return (int.Parse(parts[0], CultureInfo.InvariantCulture) * 60) + int.Parse(parts[1], CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// The dialog shows each edge of a window to the minute. Changing one edge sends that edge alone, so
    /// the other keeps its seconds; emptying one sends it as null, which clears it.
    /// </summary>
    [Fact]
    public async Task Changing_one_edge_of_a_sale_window_sends_that_edge_alone_and_the_other_keeps_its_seconds()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var starts = new DateTimeOffset(2030, 5, 1, 16, 0, 30, 250, TimeSpan.Zero);
        var ends = new DateTimeOffset(2030, 5, 1, 22, 0, 45, 500, TimeSpan.Zero);
        var stalls = (await CreateWithAsync(api, new()
        {
            ["section_name"] = "Stalls", ["total_capacity"] = 40, ["sale_starts_at"] = starts.ToString("O"), ["sale_ends_at"] = ends.ToString("O"),
        }))["id"]!.GetValue<string>();

        // Paris: UTC+2 in May.
        var page = await NewPageAsync(timezone: "Europe/Paris");
        var bodies = new List<string?>();
        page.Request += (_, request) =>
        {
            if (request.Method == "PUT")
            {
                lock (bodies)
                {
                    bodies.Add(request.PostData);
                }
            }
        };
        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");

        await Capacity(page, stalls).Locator("button[data-action='window']").ClickAsync();
        await Expect(page.Locator("#action-starts")).ToHaveValueAsync("2030-05-01T18:00");
        await Expect(page.Locator("#action-ends")).ToHaveValueAsync("2030-05-02T00:00");
        await page.FillAsync("#action-ends", "2030-05-02T01:00");
        await page.ClickAsync("#action-submit");
        await Expect(page.Locator("#action-result")).ToHaveTextAsync("Stalls has a new sale window.");
        var changed = await CapacityAsync(api, stalls);
        Assert.Equal(starts, DateTimeOffset.Parse(changed["sale_starts_at"]!.GetValue<string>(), CultureInfo.InvariantCulture));
        Assert.Equal(new DateTimeOffset(2030, 5, 1, 23, 0, 0, TimeSpan.Zero), DateTimeOffset.Parse(changed["sale_ends_at"]!.GetValue<string>(), CultureInfo.InvariantCulture));

        // Emptied, the start is cleared; the end stays as it is.
        await Expect(Capacity(page, stalls).Locator("[data-field='sale-ends']")).ToHaveAttributeAsync("datetime", new Regex("^2030-05-01T23:00:00"), new() { Timeout = 2000 });
        await Capacity(page, stalls).Locator("button[data-action='window']").ClickAsync();
        await Expect(page.Locator("#action-ends")).ToHaveValueAsync("2030-05-02T01:00");
        await page.FillAsync("#action-starts", "");
        await page.ClickAsync("#action-submit");
        await Expect(page.Locator("#action-dialog")).ToBeHiddenAsync();
        var cleared = await CapacityAsync(api, stalls);
        Assert.Null(cleared["sale_starts_at"]);
        Assert.Equal(new DateTimeOffset(2030, 5, 1, 23, 0, 0, TimeSpan.Zero), DateTimeOffset.Parse(cleared["sale_ends_at"]!.GetValue<string>(), CultureInfo.InvariantCulture));

        Assert.Equal(["""{"sale_ends_at":"2030-05-01T23:00:00.000Z"}""", """{"sale_starts_at":null}"""], bodies);
    }

    /// <summary>A sale that is selling, but whose window closes before its rate would sell it out, says so.</summary>
    [Fact]
    public async Task A_sale_whose_window_closes_before_its_rate_sells_it_out_says_it_will_not_sell_out_before_the_sale_ends()
    {
        var key = await NewTenantAsync();
        using var api = Server.Client(key);
        var matinee = (await CreateWithAsync(api, new()
        {
            ["section_name"] = "Matinee", ["total_capacity"] = 1000,
            ["sale_ends_at"] = DateTimeOffset.UtcNow.AddMinutes(30).ToString("O"),
        }))["id"]!.GetValue<string>();
        await HoldAsync(api, matinee, 1, "order-1");

        var page = await NewPageAsync();
        await SignInAsync(page, key);
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await Expect(page.Locator("#forecast")).ToHaveTextAsync("not before the sale ends");
        await Expect(page.Locator("#forecast")).ToHaveAttributeAsync("data-state", "ends-first");
        await Expect(page.Locator("#forecast-detail")).ToHaveTextAsync("999 left at 0.1 a minute");
    }

    /// <summary>
    /// Event "gala" as a box office sees it on a busy night: a pool with sections under it, one
    /// unlimited, an inactive pool, an allocation, a waiting list, a buyer limit, holds and sales.
    /// </summary>
    private static async Task<(string Hall, string Stalls)> BusyGalaAsync(HttpClient api)
    {
        await CreateInOlderEventAsync(api, "Lawn", 300, "picnic");
        var hall = await CreateAsync(api, "Hall", 200, []);
        var stalls = await CreateAsync(api, "Stalls", 90, [hall]);
        var circle = (await CreateWithAsync(api, new()
        {
            ["section_name"] = "Circle", ["total_capacity"] = 60, ["parent_ids"] = new[] { hall }, ["overbook_limit"] = 2,
            ["sale_ends_at"] = DateTimeOffset.UtcNow.AddHours(6).ToString("O"),
        }))["id"]!.GetValue<string>();
        var standing = await CreateAsync(api, "Standing", null, [hall]);
        var balcony = await CreateAsync(api, "Balcony", 30, []);
        await CreateAsync(api, "Balcony front", 20, [balcony]);
        var vip = await CreateAsync(api, "VIP", 6, []);
        var box = (await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/allocations", new { name = "Box office", quantity = 12 })))["id"]!.GetValue<string>();
        await CreateLimitAsync(api, "Four each", [stalls, circle], 4, requireBuyerKey: false);

        async Task SellAsync(string capacityId, int quantity, string? allocationId = null) =>
            await ReadAsync(await api.PostAsync($"/reservations/{await ReserveAsync(api, capacityId, quantity, allocationId)}/confirm", null));

        await SellAsync(stalls, 4);
        await SellAsync(stalls, 3, box);
        await SellAsync(circle, 3);
        await SellAsync(standing, 5);
        await HoldAsync(api, stalls, 2, "order-17", buyerKey: "buyer-a");
        await HoldAsync(api, circle, 2, "order-18");
        await ReserveAsync(api, stalls, 2, box);
        var released = await HoldAsync(api, circle, 1, "order-19");
        await ReadAsync(await api.PostAsync($"/reservations/{released}/release", null));

        // VIP sells out; two parties queue, and a returned pair is offered to the first.
        var vipHold = await ReserveAsync(api, vip, 2, null);
        await SellAsync(vip, 4);
        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{vip}", new { waitlist = new { enabled = true, offer_minutes = 15 } }));
        await ReadAsync(await api.PostAsJsonAsync("/waitlist", new { items = new[] { new { capacity_id = vip, quantity = 2 } } }));
        await ReadAsync(await api.PostAsJsonAsync("/waitlist", new { items = new[] { new { capacity_id = vip, quantity = 3 } } }));
        await ReadAsync(await api.PostAsync($"/reservations/{vipHold}/release", null));

        await ReadAsync(await api.PutAsJsonAsync($"/capacity/{balcony}", new { is_active = false }));
        return (hall, stalls);
    }

    private static async Task<JsonObject> CapacityAsync(HttpClient api, string id) => await ReadAsync(await api.GetAsync($"/capacity/{id}"));

    /// <summary>Every request of the page that is not a GET: method, path and Idempotency-Key, in the order sent.</summary>
    private static List<(string Method, string Path, string? Key)> RecordWrites(IPage page)
    {
        var writes = new List<(string Method, string Path, string? Key)>();
        page.Request += (_, request) =>
        {
            if (request.Method != "GET")
            {
                lock (writes)
                {
                    writes.Add((request.Method, new Uri(request.Url).AbsolutePath, request.Headers.GetValueOrDefault("idempotency-key")));
                }
            }
        };
        return writes;
    }

    /// <summary>
    /// Nothing makes the page scroll sideways. A failure names the elements that reach past the
    /// window's right edge, those outside a box that scrolls by itself first.
    /// </summary>
    private static async Task AssertFitsAsync(IPage page)
    {
        var overflow = await page.EvaluateAsync<string[]>("""
            () => {
              const width = document.documentElement.clientWidth;
              if (document.documentElement.scrollWidth <= width) return [];
              const wide = [...document.querySelectorAll("body *")].filter((e) => e.getClientRects().length > 0 && e.getBoundingClientRect().right > width + 0.5);
              const inScroll = (e) => Boolean(e.parentElement.closest(".scroll"));
              return [`page ${document.documentElement.scrollWidth} wide`, ...wide.filter((e) => !inScroll(e)), ...wide.filter(inScroll)]
                .map((e) => typeof e === "string" ? e : `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className} right ${Math.round(e.getBoundingClientRect().right)}`)
                .slice(0, 20);
            }
            """);
        Assert.True(overflow.Length == 0, "Wider than the window: " + string.Join("; ", overflow));
    }

    private static void AssertContrast(System.Text.Json.JsonElement report, string where)
    {
        var failures = report.GetProperty("failures").EnumerateArray().Select(f => f.GetString()).ToList();
        Assert.True(failures.Count == 0, $"Too little contrast on {where}:\n" + string.Join("\n", failures.Take(30)));
    }

    /// <summary>
    /// Measures every shown text (its colour, or its placeholder's, over the backgrounds painted behind
    /// it from the white canvas up, with the opacity of its ancestors) and every meaningful mark; answers
    /// {failures: ["what: fg on bg is r:1, needs n:1"], measured: {kind: count}}. What it cannot measure
    /// (text over an image or a gradient, a mark under a filter) is a failure too.
    /// </summary>
    private static Task<System.Text.Json.JsonElement> ContrastAsync(IPage page) => page.EvaluateAsync<System.Text.Json.JsonElement>("""
        () => {
          const failures = [], measured = {};
          const parse = (text) => {
            const m = /rgba?\(([^)]*)\)/.exec(text ?? "");
            if (!m) return null;
            const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
            return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
          };
          const over = (top, base) => ({ r: top.r * top.a + base.r * (1 - top.a), g: top.g * top.a + base.g * (1 - top.a), b: top.b * top.a + base.b * (1 - top.a), a: 1 });
          const lum = (c) => [c.r, c.g, c.b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
            .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
          const ratio = (x, y) => { const [hi, lo] = [lum(x), lum(y)].sort((a, b) => b - a); return (hi + 0.05) / (lo + 0.05); };
          const hex = (c) => "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
          const name = (e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : ""}`;
          // What is painted behind: the backgrounds from the element (or its parent) up to the first opaque one, over the white canvas.
          const behind = (e, self) => {
            const layers = [];
            for (let n = self ? e : e.parentElement; n; n = n.parentElement) {
              const style = getComputedStyle(n);
              if (style.backgroundImage !== "none") return { unknown: `${name(n)} paints an image behind it` };
              const c = parse(style.backgroundColor);
              if (c && c.a > 0) { layers.push(c); if (c.a === 1) break; }
            }
            return layers.reduceRight((base, layer) => over(layer, base), { r: 255, g: 255, b: 255, a: 1 });
          };
          const opacity = (e) => { let o = 1; for (let n = e; n; n = n.parentElement) o *= Number(getComputedStyle(n).opacity); return o; };
          const filtered = (e) => { for (let n = e; n; n = n.parentElement) if (getComputedStyle(n).filter !== "none") return true; return false; };
          const shown = (e) => e.getClientRects().length > 0 && e.checkVisibility({ visibilityProperty: true }) && !e.closest(".visually-hidden");
          const check = (kind, what, e, colour, bg, need) => {
            measured[kind] = (measured[kind] ?? 0) + 1;
            if (!colour) return failures.push(`${kind} ${what}: no colour to measure`);
            if (bg.unknown) return failures.push(`${kind} ${what}: ${bg.unknown}`);
            if (filtered(e)) return failures.push(`${kind} ${what}: drawn under a filter`);
            const fg = over({ ...colour, a: colour.a * opacity(e) }, bg);
            const r = ratio(fg, bg);
            if (r < need) failures.push(`${kind} ${what}: ${hex(fg)} on ${hex(bg)} is ${r.toFixed(2)}:1, needs ${need}:1`);
          };
          // The colour a gradient paints that stands out most from what is behind it (a hatch's stripes).
          const boldest = (image, bg) => (image.match(/rgba?\([^)]*\)/g) ?? []).map(parse).filter((c) => c && c.a > 0)
            .sort((x, y) => ratio(over(y, bg), bg) - ratio(over(x, bg), bg))[0] ?? null;

          for (const e of document.querySelectorAll("body *")) {
            if (["SCRIPT", "STYLE", "TEMPLATE", "OPTION"].includes(e.tagName) || !shown(e)) continue;
            // WCAG 1.4.3 exempts the text of an inactive control.
            if (e.closest(":disabled")) continue;
            const field = e.matches("input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea");
            const own = [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
            const style = getComputedStyle(e);
            if (own || field) check("text", `${name(e)} "${(e.textContent || e.value || "").trim().slice(0, 30)}"`, e, parse(e instanceof SVGElement ? style.fill : style.color), behind(e, true), 4.5);
            if (field && e.placeholder) check("placeholder", `${name(e)} "${e.placeholder}"`, e, parse(getComputedStyle(e, "::placeholder").color), behind(e, true), 4.5);
          }

          for (const bar of document.querySelectorAll(".bar")) {
            if (!shown(bar)) continue;
            check("bar outline", name(bar.closest(".capacity") ?? bar), bar, parse(getComputedStyle(bar).borderTopColor), behind(bar, false), 3);
            for (const segment of bar.children) {
              const style = getComputedStyle(segment);
              if (!shown(segment) || segment.getBoundingClientRect().width === 0) continue;
              const bg = behind(segment, false);
              check(`bar ${segment.className}`, name(bar.closest(".capacity") ?? bar), segment, style.backgroundImage !== "none" ? boldest(style.backgroundImage, bg) : parse(style.backgroundColor), bg, 3);
            }
          }

          for (const swatch of document.querySelectorAll(".legend span")) {
            if (!shown(swatch)) continue;
            const style = getComputedStyle(swatch, "::before");
            const bg = behind(swatch, true);
            // A line's swatch is its top border; a patch's, its background.
            const colour = style.backgroundImage !== "none" ? boldest(style.backgroundImage, bg)
              : parseFloat(style.height) === 0 ? parse(style.borderTopColor) : parse(style.backgroundColor);
            check(`legend ${swatch.className}`, swatch.closest("figure, section")?.id ?? "", swatch, colour, bg, 3);
          }

          for (const mark of document.querySelectorAll(".chart svg rect, .chart svg polyline, .chart svg line.axis")) {
            if (!shown(mark)) continue;
            const style = getComputedStyle(mark);
            check(`chart ${mark.getAttribute("class")}`, mark.closest("figure")?.id ?? "", mark, parse(mark.tagName === "rect" ? style.fill : style.stroke), behind(mark, false), 3);
          }

          return { failures, measured };
        }
        """);

    /// <summary>Shown controls without an accessible name: a label, text, aria-label or aria-labelledby.</summary>
    private static Task<string[]> UnnamedControlsAsync(IPage page) => page.EvaluateAsync<string[]>("""
        () => [...document.querySelectorAll("button, input, select, textarea, [tabindex]")]
          .filter((e) => e.getClientRects().length > 0)
          .filter((e) => {
            if (e.getAttribute("aria-label") || e.getAttribute("aria-labelledby")) return false;
            if (e.labels && e.labels.length > 0) return false;
            return !(e.tagName === "BUTTON" && e.textContent.trim());
          })
          .map((e) => e.outerHTML.slice(0, 120))
        """);

    private static async Task<long> ColumnSumAsync(ILocator rows, int column)
    {
        var cells = await rows.Locator($"td:nth-child({column + 1})").AllTextContentsAsync();
        return cells.Sum(text => long.Parse(text, CultureInfo.InvariantCulture));
    }
}

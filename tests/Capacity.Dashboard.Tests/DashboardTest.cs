using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capacity.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Capacity.Dashboard.Tests;

/// <summary>
/// What every dashboard test starts from: the shared host, a browser context of the test's own (closed
/// at its end, with the live streams its pages hold open), and the API calls and page assertions the
/// tests have in common.
/// </summary>
[Collection(nameof(DashboardHost))]
public abstract class DashboardTest(DashboardHost host) : IAsyncLifetime
{
    /// <summary>Set to a directory to write the README's screenshot there (docs/images in the repository); unset, it goes to artifacts/ only.</summary>
    public const string ScreenshotDirectoryVariable = "CAPACITY_SCREENSHOT_DIR";

    protected static readonly LocatorAssertionsToHaveTextOptions Within = new() { Timeout = 1000 };

    /// <summary>A change decided in a batch that follows a hold: the stream shows it within a second or two.</summary>
    protected static readonly LocatorAssertionsToHaveTextOptions Live = new() { Timeout = 2000 };

    private readonly List<IBrowserContext> _contexts = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _pageErrors = new();

    protected ServerProcess Server => host.Server;

    public ValueTask InitializeAsync()
    {
        if (host.Missing is { } missing)
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(missing);
            }

            Assert.Skip(missing);
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }

        // An error the page did not handle, or a refusal by the Content-Security-Policy, fails the test
        // that caused it, whatever it asserted.
        Assert.True(_pageErrors.IsEmpty, "The page reported errors:\n" + string.Join("\n", _pageErrors));
    }

    /// <summary>A page in a fresh browser context (its own session storage), 1280 px wide unless told.</summary>
    protected async Task<IPage> NewPageAsync(int width = 1280, int height = 900, string? timezone = null)
    {
        var context = await host.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            TimezoneId = timezone,
        });
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        page.PageError += (_, error) => _pageErrors.Enqueue(error);

        // The browser logs every answer that is not a success as an error; those are the API's, expected
        // by the tests that cause them, and the page shows them itself.
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                _pageErrors.Enqueue(message.Text);
            }
        };
        return page;
    }

    protected async Task<string> NewTenantAsync()
    {
        using var admin = Server.Client(DashboardHost.AdminKey);
        return (await ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Gala" })))["api_key"]!.GetValue<string>();
    }

    /// <summary>Another key of the tenant whose key is given, with this scope.</summary>
    protected async Task<string> IssueKeyAsync(string tenantKey, string scope)
    {
        using var tenant = Server.Client(tenantKey);
        var tenantId = (await ReadAsync(await tenant.GetAsync("/credential")))["tenant_id"]!.GetValue<string>();
        using var admin = Server.Client(DashboardHost.AdminKey);
        return (await ReadAsync(await admin.PostAsJsonAsync($"/admin/tenants/{tenantId}/keys", new { name = "Dashboard", scope })))["api_key"]!.GetValue<string>();
    }

    /// <summary>Signs in with the key; the page follows the newest event by itself.</summary>
    protected async Task SignInAsync(IPage page, string key, string query = "")
    {
        await page.GotoAsync(Server.Url + "/dashboard/" + query);
        await page.FillAsync("#api-key", key);
        await page.ClickAsync("#sign-in-form button");
    }

    /// <summary>Signs in with the tenant key and follows event "gala" until the stream is live.</summary>
    protected async Task OpenGalaAsync(IPage page, string key, string query = "")
    {
        await SignInAsync(page, key, query);
        await page.ClickAsync("#events button[data-event-id='gala']");
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
    }

    /// <summary>
    /// The whole page, or its top down to the end of <paramref name="until"/>, under artifacts/ in the test
    /// output and attached to the test's result.
    /// </summary>
    protected static async Task<byte[]> SaveScreenshotAsync(IPage page, string name, ILocator? until = null)
    {
        var options = new PageScreenshotOptions { FullPage = true };
        if (until is not null && await until.BoundingBoxAsync() is { } end)
        {
            options.Clip = new Clip { X = 0, Y = 0, Width = page.ViewportSize!.Width, Height = end.Y + end.Height + 16 };
        }

        var screenshot = await page.ScreenshotAsync(options);
        var artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        await File.WriteAllBytesAsync(Path.Combine(artifacts, name), screenshot);
        TestContext.Current.AddAttachment(name, screenshot, "image/png");
        return screenshot;
    }

    /// <summary>Runs the ledger audit through the API and fails the test on any violation.</summary>
    protected async Task AssertInvariantsAsync()
    {
        using var admin = Server.Client(DashboardHost.AdminKey);
        var verify = await ReadAsync(await admin.GetAsync("/admin/verify"));
        Assert.True(verify["ok"]!.GetValue<bool>(), "Invariants violated:\n" + string.Join("\n", verify["violations"]!.AsArray()));
    }

    /// <summary>The capacity's own numbers, apart from those of its allocations' rows.</summary>
    protected static ILocator Head(IPage page, string capacityId) => page.Locator($".capacity[data-capacity-id='{capacityId}'] > .head");

    protected static ILocator Capacity(IPage page, string capacityId) => page.Locator($".capacity[data-capacity-id='{capacityId}']");

    protected static ILocator Row(IPage page, string reservationId) => page.Locator($"#reservations-table tr[data-reservation-id='{reservationId}']");

    /// <summary>The panel shows exactly these reservations, in this order.</summary>
    protected static async Task ExpectRowsAsync(IPage page, params string[] reservationIds)
    {
        var rows = page.Locator("#reservations-table tbody tr");
        await Expect(rows).ToHaveCountAsync(reservationIds.Length);
        for (var i = 0; i < reservationIds.Length; i++)
        {
            await Expect(rows.Nth(i)).ToHaveAttributeAsync("data-reservation-id", reservationIds[i]);
        }
    }

    protected static async Task ExpectFieldsAsync(ILocator scope, Dictionary<string, string> fields, LocatorAssertionsToHaveTextOptions? options = null)
    {
        foreach (var (field, text) in fields)
        {
            await Expect(scope.Locator($"[data-field='{field}']")).ToHaveTextAsync(text, options);
        }
    }

    protected static async Task<string> ReserveAsync(HttpClient api, string capacityId, int quantity, string? allocationId)
    {
        var body = new Dictionary<string, object?> { ["quantity"] = quantity, ["allocation_id"] = allocationId };
        return (await ReadAsync(await api.PostAsJsonAsync($"/capacity/{capacityId}/reserve", body)))["reservation"]!["id"]!.GetValue<string>();
    }

    /// <summary>A single-capacity hold with the platform's labels, as a checkout would place it.</summary>
    protected static async Task<string> HoldAsync(
        HttpClient api, string capacityId, int quantity, string? externalRef = null, Dictionary<string, string>? metadata = null, string? buyerKey = null)
    {
        var body = new Dictionary<string, object?> { ["quantity"] = quantity, ["external_ref"] = externalRef, ["metadata"] = metadata, ["buyer_key"] = buyerKey };
        return (await ReadAsync(await api.PostAsJsonAsync($"/capacity/{capacityId}/reserve", body)))["reservation"]!["id"]!.GetValue<string>();
    }

    protected static async Task<string> StatusAsync(HttpClient api, string reservationId) =>
        (await ReadAsync(await api.GetAsync($"/reservations/{reservationId}")))["status"]!.GetValue<string>();

    protected static async Task<string> CreateLimitAsync(HttpClient api, string name, string[] capacityIds, int max, bool requireBuyerKey)
    {
        var body = new { name, capacity_ids = capacityIds, per_buyer_max = max, require_buyer_key = requireBuyerKey };
        return (await ReadAsync(await api.PostAsJsonAsync("/events/gala/limits", body)))["id"]!.GetValue<string>();
    }

    protected static async Task<string> CreateAsync(HttpClient api, string name, int? total, string[] parents, string eventId = "gala")
    {
        var body = new Dictionary<string, object?> { ["section_name"] = name, ["total_capacity"] = total, ["parent_ids"] = parents };
        return (await ReadAsync(await api.PostAsJsonAsync($"/events/{eventId}/capacity", body)))["id"]!.GetValue<string>();
    }

    /// <summary>
    /// Creates a capacity in an event older than the "gala" created next, which the page then follows
    /// as the newest. Two creates can commit within the same millisecond, and of two events created at
    /// the same time the page follows the later in the list (ordered by time, then id): a test that
    /// created "picnic" or "summer-festival…" just before the gala followed that event instead, on
    /// fast machines (in full runs here, and once on CI).
    /// </summary>
    protected static async Task<string> CreateInOlderEventAsync(HttpClient api, string name, int? total, string eventId)
    {
        var id = await CreateAsync(api, name, total, [], eventId);
        await Task.Delay(5);
        return id;
    }

    /// <summary>Creates a capacity of event "gala" from the body given, sale rules and all; answers the capacity.</summary>
    protected static async Task<JsonObject> CreateWithAsync(HttpClient api, Dictionary<string, object?> body) =>
        await ReadAsync(await api.PostAsJsonAsync("/events/gala/capacity", body));

    protected static async Task<JsonObject> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }
}

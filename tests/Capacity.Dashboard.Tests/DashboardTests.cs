using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capacity.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Capacity.Dashboard.Tests;

/// <summary>
/// The dashboard in real Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser is
/// downloaded) against the real server process: holds placed and confirmed through the API show on
/// the page within a second.
/// </summary>
public sealed class DashboardTests : IAsyncLifetime
{
    private const string AdminKey = "capadmin_dashboard-test";
    private const string Chromium = "/usr/bin/chromium";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "capacity-dashboard", Guid.NewGuid().ToString("N"));
    private ServerProcess _server = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            var reason = $"{Chromium} is missing (apt-get install chromium)";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(reason);
            }

            Assert.Skip(reason);
        }

        _server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = _directory,
            ["Storage:Sqlite:Path"] = Path.Combine(_directory, "capacity.db"),
            ["Auth:AdminKey"] = AdminKey,
        });
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,

            // As root Chromium needs --no-sandbox; the rest keeps it off the (closed) network.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task The_page_follows_holds_and_confirmations_within_a_second()
    {
        using var admin = _server.Client(AdminKey);
        var key = (await ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Gala" })))["api_key"]!.GetValue<string>();
        using var api = _server.Client(key);
        var pool = await CreateAsync(api, "Hall", 100, []);
        var stalls = await CreateAsync(api, "Stalls", 40, [pool]);
        await CreateAsync(api, "Standing", null, [pool]);
        await CreateAsync(api, "Stream", null, []);

        var page = await _browser.NewPageAsync();
        await page.GotoAsync(_server.Url + "/dashboard/");
        await page.FillAsync("#api-key", key);
        await page.ClickAsync("#sign-in-form button");
        await page.ClickAsync("#events button[data-event-id='gala']");
        await Expect(page.Locator("#status")).ToHaveTextAsync("live");
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("100");
        await Expect(page.Locator(".capacity")).ToHaveCountAsync(4);

        // The tree: Stalls and Standing sit under Hall.
        await Expect(page.Locator($".tree > li > .capacity[data-capacity-id='{pool}'] + ul .capacity[data-capacity-id='{stalls}']")).ToHaveCountAsync(1);

        var hold = (await ReadAsync(await api.PostAsJsonAsync($"/capacity/{stalls}/reserve", new { quantity = 3 })))["reservation"]!["id"]!.GetValue<string>();
        var within = new LocatorAssertionsToHaveTextOptions { Timeout = 1000 };
        await Expect(page.Locator("#total-available")).ToHaveTextAsync("97", within);
        await Expect(page.Locator("#total-reserved")).ToHaveTextAsync("3", within);
        await Expect(page.Locator($".capacity[data-capacity-id='{stalls}'] [data-field='available']")).ToHaveTextAsync("37", within);
        await Expect(page.Locator("#active-holds")).ToHaveTextAsync("1", within);
        await Expect(page.Locator("#expiring tbody td").First).ToHaveTextAsync(hold, within);

        await ReadAsync(await api.PostAsync($"/reservations/{hold}/confirm", null));
        await Expect(page.Locator("#total-sold")).ToHaveTextAsync("3", within);
        await Expect(page.Locator("#total-reserved")).ToHaveTextAsync("0", within);
        await Expect(page.Locator($".capacity[data-capacity-id='{stalls}'] [data-field='sold']")).ToHaveTextAsync("3", within);

        var screenshot = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true });
        var artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        await File.WriteAllBytesAsync(Path.Combine(artifacts, "dashboard.png"), screenshot);
        TestContext.Current.AddAttachment("dashboard.png", screenshot, "image/png");
    }

    [Fact]
    public async Task A_wrong_key_is_refused_on_the_sign_in_page()
    {
        var page = await _browser.NewPageAsync();
        await page.GotoAsync(_server.Url + "/dashboard");
        await page.FillAsync("#api-key", "cap_not-a-real-key");
        await page.ClickAsync("#sign-in-form button");
        await Expect(page.Locator("#sign-in-error")).ToHaveTextAsync("That key was not accepted.");
        await Expect(page.Locator("#main")).ToBeHiddenAsync();
    }

    private static async Task<string> CreateAsync(HttpClient api, string name, int? total, string[] parents)
    {
        var body = new Dictionary<string, object?> { ["section_name"] = name, ["total_capacity"] = total, ["parent_ids"] = parents };
        return (await ReadAsync(await api.PostAsJsonAsync("/events/gala/capacity", body)))["id"]!.GetValue<string>();
    }

    private static async Task<JsonObject> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }
}

using Capacity.Testing;
using Microsoft.Playwright;

namespace Capacity.Dashboard.Tests;

/// <summary>
/// One real server process (on its own temporary SQLite file) and one headless Chromium (Debian's
/// /usr/bin/chromium, driven by Playwright; no browser is downloaded), shared by every dashboard test.
/// Starting them is about half of what a test costs, and a test's own state is a tenant of its own
/// and a browser context of its own, so no test sees another's data or pages.
/// </summary>
public sealed class DashboardHost : IAsyncLifetime
{
    public const string AdminKey = "capadmin_dashboard-test";
    private const string Chromium = "/usr/bin/chromium";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "capacity-dashboard", Guid.NewGuid().ToString("N"));
    private ServerProcess? _server;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    /// <summary>Why the dashboard cannot be tested here (no Chromium), or null.</summary>
    public string? Missing { get; private set; }

    public ServerProcess Server => _server ?? throw new InvalidOperationException(Missing);

    public IBrowser Browser => _browser ?? throw new InvalidOperationException(Missing);

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            // Each test skips (or fails in CI) with this reason: a fixture cannot skip a test itself.
            Missing = $"{Chromium} is missing (apt-get install chromium)";
            return;
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
            // Also a directory never made, when Chromium was missing.
        }
    }
}

/// <summary>The dashboard's test classes share one host and run one after another: their timings assume an idle machine.</summary>
[CollectionDefinition(nameof(DashboardHost))]
public sealed class DashboardCollection : ICollectionFixture<DashboardHost>;

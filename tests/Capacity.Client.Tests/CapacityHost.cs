using System.Net;
using System.Text;
using Capacity.Cli;
using Capacity.Engine;
using Capacity.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Capacity.Client.Tests;

/// <summary>
/// The real server, in process, on a SQLite file of its own. Used as a class fixture, so each test
/// class has its own database; tests in a class keep apart by each creating its own tenant.
/// </summary>
public class CapacityHost : WebApplicationFactory<Program>
{
    public const string AdminKey = "capadmin_client-tests";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "capacity-client-tests", Guid.NewGuid().ToString("N"));

    public CapacityHost()
    {
    }

    /// <summary>The server on <paramref name="clock"/> instead of the system's.</summary>
    protected CapacityHost(ManualTime clock) => Clock = clock;

    /// <summary>The server with <paramref name="settings"/> on top of the test defaults.</summary>
    protected CapacityHost(IReadOnlyDictionary<string, string> settings) => Settings = settings;

    /// <summary>The server's clock when a test moves it by hand; null on the system clock.</summary>
    public ManualTime? Clock { get; }

    /// <summary>Settings of the subclass's own, such as <c>Capacity:Webhooks:AllowPrivateNetworks</c>.</summary>
    private IReadOnlyDictionary<string, string> Settings { get; } = new Dictionary<string, string>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        Directory.CreateDirectory(_directory);
        builder.UseSetting("Storage:Provider", "sqlite");
        builder.UseSetting("Storage:DataDirectory", _directory);
        builder.UseSetting("Storage:Sqlite:Path", Path.Combine(_directory, "capacity.db"));
        builder.UseSetting("Auth:AdminKey", AdminKey);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.UseSetting("Capacity:WarmUpMs", "0");
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }

        if (Clock is not null)
        {
            builder.ConfigureServices(services => services.AddSingleton<TimeProvider>(Clock));
        }
    }

    /// <summary>An SDK client through the in-process server, with optional handlers in between.</summary>
    public CapacityClient Client(string? token, CapacityClientOptions? options = null, params DelegatingHandler[] handlers) =>
        new(CreateDefaultClient(new Uri("http://localhost/"), handlers), token, options);

    public CapacityClient Admin() => Client(AdminKey);

    /// <summary>A new tenant, so a test sees only its own data; its key has <paramref name="scope"/> (write when null).</summary>
    public async Task<TestTenant> NewTenantAsync(string name = "Tenant", ApiKeyScope? scope = null)
    {
        var key = await Admin().CreateTenantAsync(new CreateTenantRequest { Name = name, Key = scope is null ? null : new IssueKeyRequest { Scope = scope } });
        return new TestTenant(key.TenantId, key.ApiKey!, Client(key.ApiKey));
    }

    /// <summary>
    /// The server's own audit, as the server's tests end: every counter agrees with the ledger, the live
    /// holds and the allocations, and every buyer's usage with the reservations.
    /// </summary>
    public async Task AssertInvariantsAsync()
    {
        var report = await Admin().VerifyAsync();
        Assert.True(report.Ok, "Invariants violated:\n" + string.Join("\n", report.Violations));
    }

    /// <summary>Runs the capacity command against this server, capturing what it prints.</summary>
    public async Task<CliRun> RunCliAsync(params string[] args) => await RunCliAsync(args, null, CancellationToken.None);

    public async Task<CliRun> RunCliAsync(string[] args, Dictionary<string, string>? environment, CancellationToken ct, TextWriter? output = null)
    {
        var stdout = output ?? new StringWriter();
        var stderr = new StringWriter();
        var exit = await CapacityCli.RunAsync(
            ["--url", "http://localhost/", .. args], Server.CreateHandler(), stdout, stderr,
            name => environment?.GetValueOrDefault(name), ct);
        return new CliRun(exit, stdout.ToString()!, stderr.ToString());
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open is left for the OS to clean; it is under the temp directory.
        }
    }
}

/// <summary>
/// The same server on a clock the test moves by hand: a hold of one minute expires when the test says,
/// not a minute later. Its tests share the clock, so each moves it only past holds of its own.
/// </summary>
public sealed class ClockedHost() : CapacityHost(new ManualTime(DateTimeOffset.UtcNow))
{
    /// <summary>Moves the clock on, then expires the holds now due at once, as the background sweep would at its next pass.</summary>
    public async Task AdvanceAndSweepAsync(TimeSpan by)
    {
        Clock!.Advance(by);
        await Services.GetRequiredService<ExpirySweeper>().SweepOnceAsync(CancellationToken.None);
    }
}

/// <summary>
/// The same server letting webhooks be subscribed and sent to 127.0.0.1, where a test's receiver listens, and
/// looking for deliveries due by the clock every 50 ms instead of every second.
/// </summary>
public sealed class WebhookHost() : CapacityHost(new Dictionary<string, string>
{
    ["Capacity:Webhooks:AllowPrivateNetworks"] = "true",
    ["Capacity:Webhooks:PollIntervalMs"] = "50",
});

public sealed record TestTenant(Guid Id, string Key, CapacityClient Client);

public sealed record CliRun(int ExitCode, string Output, string Error);

/// <summary>
/// Passes every request on, but asks for a list read whole (no query) a page of one: a service whose lists come in pages,
/// for a test that a client still gets every item. What follows the first page (<c>after=…</c>) goes as it was sent.
/// </summary>
public sealed class ListsInPages : DelegatingHandler
{
    private static readonly string[] Lists = ["/events", "/capacity", "/pricing", "/allocations", "/limits", "/keys"];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!;
        if (request.Method == HttpMethod.Get && uri.Query.Length == 0 && Lists.Any(l => uri.AbsolutePath.EndsWith(l, StringComparison.Ordinal)))
        {
            request.RequestUri = new Uri(uri, uri.AbsolutePath + "?limit=1");
        }

        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>Answers every request itself without a server: for the answers a real server cannot be made to give.</summary>
public sealed class StubHandler(Func<HttpRequestMessage, int, HttpResponseMessage> answer) : HttpMessageHandler
{
    private int _calls;

    public int Calls => _calls;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(answer(request, Interlocked.Increment(ref _calls)));

    public static HttpResponseMessage Json(HttpStatusCode status, string json, TimeSpan? retryAfter = null)
    {
        var response = new HttpResponseMessage(status)
        {
            Content = new StringContent(json, Encoding.UTF8, (int)status >= 400 ? "application/problem+json" : "application/json"),
        };
        if (retryAfter is { } delay)
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(delay);
        }

        return response;
    }

    public static HttpResponseMessage Unavailable(TimeSpan? retryAfter = null) =>
        Json(HttpStatusCode.ServiceUnavailable, """{"type":"/problems/service-unavailable","title":"The service is temporarily unavailable.","status":503,"detail":"Test.","code":"SERVICE_UNAVAILABLE"}""", retryAfter);
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capacity.Engine;
using Capacity.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Capacity.Server.Tests;

/// <summary>
/// The real server pipeline on a fresh SQLite file of its own: every test builds one, so no test
/// sees another's data.
/// </summary>
public class CapacityApp : WebApplicationFactory<Program>
{
    public const string AdminKey = "capadmin_test-admin-key";
    public const string JwtKey = "test-jwt-signing-key-of-at-least-32-bytes!!";

    private readonly Dictionary<string, string?> _settings;

    public CapacityApp(Dictionary<string, string?>? settings = null, bool manualClock = false)
    {
        Directory = Path.Combine(Path.GetTempPath(), "capacity-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        _settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "sqlite",
            ["Storage:DataDirectory"] = Directory,
            ["Storage:Sqlite:Path"] = Path.Combine(Directory, "capacity.db"),
            ["Auth:AdminKey"] = AdminKey,
            ["Auth:JwtSigningKey"] = JwtKey,
            ["Capacity:SweepIntervalMs"] = "50",

            // No warm-up server before each test host: WarmUpTests runs one on purpose.
            ["Capacity:WarmUpMs"] = "0",

            // Suites that send many bad credentials on purpose (isolation, fuzzing) would be throttled
            // by the default of 60 a minute; AuthThrottleTests sets its own budget.
            ["Auth:FailedAttemptsPerMinute"] = "1000000",
        };
        foreach (var (k, v) in settings ?? [])
        {
            _settings[k] = v;
        }

        if (manualClock)
        {
            Clock = new ManualTime(DateTimeOffset.UtcNow);
        }
    }

    /// <summary>
    /// The same app on the chosen store: SQLite on a fresh file, or PostgreSQL on a fresh schema of
    /// the cluster the tests started.
    /// </summary>
    public static async Task<CapacityApp> CreateAsync(StoreKind store, Dictionary<string, string?>? settings = null, bool manualClock = false)
    {
        var all = new Dictionary<string, string?>(settings ?? []);
        if (store == StoreKind.Postgres)
        {
            all["Storage:Provider"] = "postgres";
            all["Storage:Postgres:ConnectionString"] = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        }

        return new CapacityApp(all, manualClock) { Kind = store, PostgresConnectionString = all.GetValueOrDefault("Storage:Postgres:ConnectionString") };
    }

    public StoreKind Kind { get; private init; } = StoreKind.Sqlite;

    public string? PostgresConnectionString { get; private init; }

    public string Directory { get; }

    public ManualTime? Clock { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (k, v) in _settings)
        {
            builder.UseSetting(k, v);
        }

        builder.ConfigureServices(services =>
        {
            if (Clock is not null)
            {
                services.AddSingleton<TimeProvider>(Clock);
            }

            // The real store, behind a switch a test can use to fail or slow the next batch.
            var real = services.Last(d => d.ServiceType == typeof(IReadStore));
            services.Remove(real);
            services.AddSingleton<IReadStore>(sp =>
            {
                var store = real.ImplementationFactory!(sp);
                return FaultyStore.Over((IWriteStore)store, (IReadStore)store, (IAsyncDisposable)store);
            });
        });
    }

    public FaultyStore Faults => (FaultyStore)Store;

    public HttpClient Admin()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return client;
    }

    public HttpClient WithToken(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// Creates a tenant through the admin API and returns a client holding its key: a write key, or one
    /// of <paramref name="scope"/> (<c>elevated</c> for what is reserved to a box office, such as a reclaim).
    /// </summary>
    public async Task<Tenant> NewTenantAsync(string name = "Tenant", string? scope = null)
    {
        using var admin = Admin();
        var response = scope is null
            ? await admin.PostAsJsonAsync("/admin/tenants", new { name })
            : await admin.PostAsJsonAsync("/admin/tenants", new { name, key = new { scope } });
        var body = await Api.ReadAsync(response, 201);
        var key = body["api_key"]!.GetValue<string>();
        return new Tenant(Guid.Parse(body["tenant_id"]!.GetValue<string>()), key, WithToken(key));
    }

    /// <summary>Runs the ledger audit through the API and fails the test on any violation.</summary>
    public async Task AssertInvariantsAsync()
    {
        using var admin = Admin();
        var body = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
        var violations = body["violations"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        Assert.True(body["ok"]!.GetValue<bool>(), "Invariants violated:\n" + string.Join("\n", violations));
    }

    public IReadStore Store => Services.GetRequiredService<IReadStore>();

    public ExpirySweeper Sweeper => Services.GetRequiredService<ExpirySweeper>();

    private Npgsql.NpgsqlConnection? _snapshots;

    /// <summary>
    /// One unpooled connection to the app's PostgreSQL schema, opened at the first snapshot and kept
    /// until the app is disposed, rather than a new one (a server process started) for each snapshot.
    /// </summary>
    internal Npgsql.NpgsqlConnection SnapshotConnection()
    {
        if (_snapshots is null)
        {
            _snapshots = new Npgsql.NpgsqlConnection(PostgresConnectionString + ";Pooling=false");
            _snapshots.Open();
        }

        return _snapshots;
    }

    public override async ValueTask DisposeAsync()
    {
        if (_snapshots is not null)
        {
            await _snapshots.DisposeAsync();
        }

        await base.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open is left for the OS to clean; it is under the temp directory.
        }
    }
}

public sealed record Tenant(Guid Id, string Key, HttpClient Client);

/// <summary>Small helpers for talking JSON to the API in tests.</summary>
public static class Api
{
    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == expectedStatus, $"Expected {expectedStatus}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Asserts an RFC 9457 problem with the given status and code, and returns it.</summary>
    public static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, int status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(code, problem["code"]?.GetValue<string>());
        Assert.Equal(status, problem["status"]?.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(problem["type"]?.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(problem["title"]?.GetValue<string>()));
        return problem;
    }

    public static StringContent Json(string raw) => new(raw, System.Text.Encoding.UTF8, "application/json");

    public static StringContent Json(object value) => Json(JsonSerializer.Serialize(value));

    public static async Task<string> CreateCapacityAsync(this HttpClient client, string eventId, string name, int? total, params string[] parents)
    {
        var response = await client.PostAsync($"/events/{eventId}/capacity", Json(new Dictionary<string, object?>
        {
            ["section_name"] = name,
            ["total_capacity"] = total,
            ["parent_ids"] = parents,
        }));
        return (await ReadAsync(response, 201))["id"]!.GetValue<string>();
    }

    public static async Task<JsonObject> GetCapacityAsync(this HttpClient client, string id) =>
        await ReadAsync(await client.GetAsync($"/capacity/{id}"), 200);

    public static async Task<long?> AvailableAsync(this HttpClient client, string id) =>
        (await client.GetCapacityAsync(id))["available_capacity"]?.GetValue<long>();

    public static Task<HttpResponseMessage> ReserveAsync(this HttpClient client, string capacityId, int quantity, int? minutes = null) =>
        client.PostAsync($"/capacity/{capacityId}/reserve", Json(minutes is null ? new { quantity } : new { quantity, reservation_minutes = minutes }));

    public static async Task<string> HoldAsync(this HttpClient client, string capacityId, int quantity, int? minutes = null)
    {
        var body = await ReadAsync(await client.ReserveAsync(capacityId, quantity, minutes), 201);
        return body["reservation"]!["id"]!.GetValue<string>();
    }

    public static Task<HttpResponseMessage> TransitAsync(this HttpClient client, string reservationId, string action) =>
        client.PostAsync($"/reservations/{reservationId}/{action}", null);

    /// <summary>Reads the first <c>snapshot</c> event of an event's live stream, then hangs up.</summary>
    public static async Task<JsonObject> FirstSnapshotAsync(HttpClient client, string eventId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = await client.GetAsync($"/events/{eventId}/capacity/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        string? kind = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                kind = line[6..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal) && kind == "snapshot")
            {
                return JsonNode.Parse(line[5..])!.AsObject();
            }
        }

        throw new InvalidOperationException("The stream ended before its first snapshot.");
    }
}

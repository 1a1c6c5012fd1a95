using System.Text.Json.Nodes;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>A request a kill -9 test sends, always with its own Idempotency-Key.</summary>
internal interface ICrashRequest
{
    string Key { get; }

    string Path { get; }

    object? Body { get; }

    /// <summary>POST unless the request says otherwise (leaving a waiting list is a DELETE).</summary>
    HttpMethod Method => HttpMethod.Post;
}

/// <summary>A real server process on a fresh store with one tenant, restarted in place after each kill.</summary>
internal sealed class CrashServer : IAsyncDisposable
{
    private readonly Dictionary<string, string> _settings;
    private readonly string _directory;

    private CrashServer(Dictionary<string, string> settings, string directory, ServerProcess process, string key)
    {
        (_settings, _directory, Process, Key) = (settings, directory, process, key);
    }

    public ServerProcess Process { get; private set; }

    /// <summary>The tenant's API key.</summary>
    public string Key { get; }

    public static async Task<CrashServer> StartAsync(StoreKind kind, string tenant, IReadOnlyDictionary<string, string>? extra = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "capacity-crash", Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = directory,
            ["Auth:AdminKey"] = CapacityApp.AdminKey,
            ["Capacity:SweepIntervalMs"] = "200",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            settings[k] = v;
        }

        if (kind == StoreKind.Postgres)
        {
            settings["Storage:Provider"] = "postgres";
            settings["Storage:Postgres:ConnectionString"] = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        }

        var process = await ServerProcess.StartAsync(settings);
        using var admin = process.Client(CapacityApp.AdminKey);
        // Elevated, so that the crash suites may reclaim expired holds (on_expired: reclaim) like a box office.
        var key = (await Api.ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = tenant, key = new { scope = "elevated" } }), 201))["api_key"]!.GetValue<string>();
        return new CrashServer(settings, directory, process, key);
    }

    public HttpClient Client() => Process.Client(Key);

    /// <summary>Starts the server again on the same store, with <paramref name="changes"/> made to its settings from now on.</summary>
    public async Task RestartAsync(IReadOnlyDictionary<string, string>? changes = null)
    {
        foreach (var (k, v) in changes ?? new Dictionary<string, string>())
        {
            _settings[k] = v;
        }

        await Process.DisposeAsync();
        Process = await ServerProcess.StartAsync(_settings);
    }

    /// <summary>Fails with <paramref name="where"/> unless <c>GET /admin/verify</c> is clean.</summary>
    public async Task AssertVerifiedAsync(string where)
    {
        using var admin = Process.Client(CapacityApp.AdminKey);
        var verify = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
        Assert.True(verify["ok"]!.GetValue<bool>(), $"{where}: {verify.ToJsonString()}");
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
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
/// What every kill -9 test shares: the cycles (traffic for a random while, kill, restart), the
/// requests left without an answer by a kill, and their retry after the restart, which must give a
/// definite answer and replay it. The test keeps its model in <c>record</c>, which sees every
/// definite answer exactly once, in the order it was acknowledged or resolved.
/// </summary>
internal sealed class CrashHarness<TSent>(Action<TSent, HttpStatusCode, string> record)
    where TSent : ICrashRequest
{
    private readonly ConcurrentDictionary<string, (long Order, TSent Sent)> _inDoubt = new();
    private long _order;
    private int _resolved;
    private int _acknowledged;

    /// <summary>Requests that were in flight at a kill and answered on retry.</summary>
    public int Resolved => _resolved;

    /// <summary>Requests that got a definite answer (a 503 is none: it stored and applied nothing).</summary>
    public int Acknowledged => _acknowledged;

    public static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable("CAPACITY_CRASH_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();

    /// <summary>Runs a crash test under its seed and cycles; a failure names the seed, so the run can be replayed.</summary>
    public static async Task RunSeededAsync(string test, StoreKind store, int defaultCycles, Func<int, int, Task> run)
    {
        var seed = Seed();
        try
        {
            await run(seed, Cycles(defaultCycles));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"{test} failed on {store} with seed {seed} (replay: CAPACITY_CRASH_SEED={seed}). {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Checks the answer to a confirm, release or cancel of a hold the test placed, and returns the
    /// hold's status after it. A step the hold already took (an earlier request left in doubt and
    /// retried moved it) answers 200 for a repeat of the same step or 409 for another, and changes
    /// nothing; otherwise the step must succeed.
    /// </summary>
    public static string HoldStep(string action, string known, HttpStatusCode status, JsonObject body, string where)
    {
        var wanted = action switch { "confirm" => "confirmed", "release" => "released", _ => "cancelled" };
        var from = action == "cancel" ? "confirmed" : "active";
        if (known != from)
        {
            Assert.True(
                status == HttpStatusCode.OK && body["status"]!.GetValue<string>() == known
                || status == HttpStatusCode.Conflict && body["code"]!.GetValue<string>() == "RESERVATION_NOT_ACTIVE",
                $"{where}; the hold is already {known}");
            return known;
        }

        Assert.True(status == HttpStatusCode.OK && body["status"]!.GetValue<string>() == wanted, where);
        return wanted;
    }

    public static int Cycles(int byDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("CAPACITY_CRASH_CYCLES"), CultureInfo.InvariantCulture, out var c) ? c : byDefault;

    /// <summary>
    /// Runs <paramref name="cycles"/> rounds of <paramref name="workers"/> workers (each given its
    /// index and the cycle) killed after 300 to 1,200 ms; after each restart resolves every request
    /// in doubt, then runs <paramref name="check"/>.
    /// </summary>
    public async Task RunAsync(
        CrashServer server, int cycles, Random random, int workers, Func<HttpClient, int, CancellationToken, Task> work, Func<HttpClient, string, Task> check)
    {
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            using (var client = server.Client())
            {
                using var stop = new CancellationTokenSource();
                var running = Enumerable.Range(0, workers).Select(w => work(client, w * 7919 + cycle, stop.Token)).ToList();
                await Task.Delay(random.Next(300, 1200));
                server.Process.Kill();
                await stop.CancelAsync();
                await Task.WhenAll(running);
            }

            await server.RestartAsync();
            using var after = server.Client();
            await ResolveInDoubtAsync(after);
            await check(after, $"cycle {cycle}");
        }

        Assert.True(_resolved > 0, "no request was in flight at any kill");
    }

    /// <summary>Sends one request; false when the connection died, leaving the request in doubt.</summary>
    public async Task<bool> SendAsync(HttpClient client, TSent sent)
    {
        _inDoubt[sent.Key] = (Interlocked.Increment(ref _order), sent);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(Request(sent));
        }
        catch (Exception e) when (ServerProcess.NoAnswer(e))
        {
            return false;
        }

        var text = await response.Content.ReadAsStringAsync();
        _inDoubt.TryRemove(sent.Key, out _);
        // A 503 stored and applied nothing: a definite "not done".
        if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
        {
            Interlocked.Increment(ref _acknowledged);
            record(sent, response.StatusCode, text);
        }

        return true;
    }

    /// <summary>Every request that never got an answer is retried with its key, in the order sent: the answer must now be definite, and a second retry must replay it.</summary>
    private async Task ResolveInDoubtAsync(HttpClient client)
    {
        foreach (var (_, sent) in _inDoubt.Values.OrderBy(v => v.Order).ToList())
        {
            // "In progress, ask again" is what a client may hear while the database has not yet noticed
            // that the killed process's session (which held the key) is gone: it asks again, as told.
            HttpResponseMessage first;
            string firstText;
            var asked = 0;
            do
            {
                if (asked++ > 0)
                {
                    await Task.Delay(200);
                }

                first = await client.SendAsync(Request(sent));
                firstText = await first.Content.ReadAsStringAsync();
            }
            while (asked < 50 && first.StatusCode == HttpStatusCode.Conflict && firstText.Contains("\"IDEMPOTENCY_IN_PROGRESS\"", StringComparison.Ordinal));

            Assert.True(first.StatusCode != HttpStatusCode.ServiceUnavailable, $"in-doubt {sent.Path} {sent.Key} still unavailable after restart");
            var again = await client.SendAsync(Request(sent));
            Assert.Equal(first.StatusCode, again.StatusCode);
            Assert.Equal(firstText, await again.Content.ReadAsStringAsync());
            Assert.True(again.Headers.Contains("Idempotent-Replayed"), $"retry of {sent.Key} was not replayed");
            _inDoubt.TryRemove(sent.Key, out _);
            Interlocked.Increment(ref _resolved);
            Interlocked.Increment(ref _acknowledged);
            record(sent, first.StatusCode, firstText);
        }
    }

    private static HttpRequestMessage Request(TSent sent)
    {
        var request = new HttpRequestMessage(sent.Method, sent.Path);
        request.Headers.Add("Idempotency-Key", sent.Key);
        if (sent.Body is not null)
        {
            request.Content = JsonContent.Create(sent.Body);
        }

        return request;
    }
}

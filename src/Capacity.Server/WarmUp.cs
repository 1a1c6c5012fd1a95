using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime;
using System.Text;
using System.Text.Json;
using Capacity.Server.Http;

namespace Capacity.Server;

/// <summary>
/// Before a node listens, its hot paths are driven through a second, throwaway server in the same
/// process until the runtime has compiled them optimised (at most <c>Capacity:WarmUpMs</c>): its own
/// SQLite file in a temporary folder, its own tenant and pools, on a loopback port of its own. Right after a start every method runs first as quickly
/// compiled code and is compiled again, optimised, once it has been called often enough; until then
/// a hold costs about twice its warm CPU, and a node restarted during an on-sale would answer its
/// first seconds of traffic at a fraction of its speed. The compiled code belongs to the process, so
/// the node that then starts listening runs it from its first request. Nothing of the warm-up reaches
/// the node's own store, logs or metrics: the throwaway server has a separate container and no log
/// providers, and the node's metrics start listening after it has stopped.
/// </summary>
internal static class WarmUp
{
    /// <summary>
    /// What a warm-up did: requests answered as expected, any that were not, and whether it ended
    /// because the runtime had settled (<c>false</c>: it ran to its longest).
    /// </summary>
    internal sealed record Report(long Holds, long Reads, long Refusals, long Confirms, long Releases, long Unexpected, bool Settled, TimeSpan Took);

    /// <summary>Runs the warm-up the settings ask for, if any, and says what it did.</summary>
    public static async Task WarmUpAsync(this WebApplication app)
    {
        var duration = app.Services.GetRequiredService<ServerOptions>().WarmUpMs;
        if (duration <= 0)
        {
            return;
        }

        var stopping = app.Lifetime.ApplicationStopping;
        try
        {
            var report = await RunAsync(TimeSpan.FromMilliseconds(duration), stopping);
            app.Logger.LogInformation(
                "Warmed up in {Ms} ms ({End}): {Holds} holds, {Reads} reads, {Refusals} refusals, {Confirms} confirms, {Releases} releases",
                (long)report.Took.TotalMilliseconds, report.Settled ? "compilation settled" : "at its longest", report.Holds, report.Reads, report.Refusals, report.Confirms, report.Releases);
            if (report.Unexpected > 0)
            {
                app.Logger.LogWarning("The warm-up had {Unexpected} answers it did not expect; the node starts all the same", report.Unexpected);
            }
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            // The warm-up only saves time: a node that could not warm up still starts, as it would without one.
            app.Logger.LogWarning(e, "The warm-up failed; the node starts without it");
        }
    }

    /// <summary>
    /// How long the runtime must have compiled next to nothing (<see cref="Trickle"/>), under the
    /// warm-up's load, for the hot paths to count as compiled optimised; and the least a warm-up runs.
    /// </summary>
    private static readonly TimeSpan Settled = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Compilations in <see cref="Settled"/> that still count as settled: once the hot paths are
    /// optimised, a few rarely called methods go on reaching their count for seconds (on 2 cores,
    /// 18 in the 2 s after the last burst), and waiting for them kept busy hosts at the longest.
    /// </summary>
    private const long Trickle = 10;

    /// <summary>
    /// Starts the throwaway server, drives it until the runtime has settled or <paramref name="duration"/>
    /// has passed, stops it and deletes its folder.
    /// </summary>
    internal static async Task<Report> RunAsync(TimeSpan duration, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        DeleteLeftBehind();
        var folder = Directory.CreateTempSubdirectory($"{FolderPrefix}{Environment.ProcessId}-");
        try
        {
            var admin = Authenticator.NewKey(Authenticator.AdminKeyPrefix);
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { WebRootPath = Setup.WebRoot });

            // Only these settings: none of the node's own (its database, its collector, its keys) may
            // reach the throwaway server through the environment or the command line.
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["Storage:Provider"] = "sqlite",
                ["Storage:DataDirectory"] = folder.FullName,
                ["Storage:Sqlite:Path"] = Path.Combine(folder.FullName, "warm-up.db"),
                ["Auth:AdminKey"] = admin,
                ["Capacity:WarmUpMs"] = "0",
                ["Capacity:RateLimit:PermitsPerSecond"] = "1000000000",
                ["Capacity:RateLimit:Burst"] = "1000000000",
                ["Capacity:Quotas:MaxLiveHoldsPerTenant"] = "0",
                ["Capacity:Webhooks:Dispatch"] = "false",
            });
            builder.Logging.ClearProviders();
            builder.AddCapacity();
            Report report;
            var server = builder.Build();
            try
            {
                await server.OpenStoreAsync();
                server.UseCapacity();
                await server.StartAsync(ct);
                try
                {
                    report = await DriveAsync(new Uri(server.Urls.First()), admin, duration, ct);
                }
                finally
                {
                    await server.StopAsync(CancellationToken.None);

                    // The throwaway server's hold count is the node's gauge until the node's own first count.
                    ServerMetrics.SetHoldStats(0, 0);
                }
            }
            finally
            {
                await server.DisposeAsync();
            }

            // What the throwaway server kept (its rows, its holds' answers) is garbage now: collected
            // here, before the node listens, rather than in a pause under its first traffic.
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            return report with { Took = Stopwatch.GetElapsedTime(started) };
        }
        finally
        {
            try
            {
                folder.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A temporary folder left behind is the system's to clear; it must not stop a start.
            }
        }
    }

    private const string FolderPrefix = "capacity-warmup-";

    /// <summary>
    /// Deletes the folders of warm-ups whose process is gone (killed mid warm-up, the machine lost
    /// power): a node restarted in a loop would otherwise leave one throwaway database behind per start.
    /// A folder is named by its process's id; one whose process still runs is another node's, warming up.
    /// </summary>
    internal static void DeleteLeftBehind()
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            var name = Path.GetFileName(folder).AsSpan(FolderPrefix.Length);
            var dash = name.IndexOf('-');
            if (dash > 0 && int.TryParse(name[..dash], out var pid) && !IsRunning(pid))
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Another user's, or being deleted by another node starting: not this start's business.
                }
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Not ours to ask about (another user's process): taken as running, so its folder stays.
            return true;
        }
    }

    /// <summary>
    /// Sixteen clients per core, each in turn placing a hold, reading its pool, being refused on a sold-out
    /// pool, and confirming or releasing every other hold: the paths a sale runs hot. They stop at
    /// <paramref name="duration"/>, or sooner once the runtime has compiled next to no method for
    /// <see cref="Settled"/>: a method is compiled again, optimised, after it has been called often
    /// enough, in the background, so the count of compiled methods stops growing once the paths the
    /// load runs are all optimised (on a 2-core machine after about 5.5 s, some 4,000 compilations).
    /// </summary>
    private static async Task<Report> DriveAsync(Uri root, string admin, TimeSpan duration, CancellationToken ct)
    {
        // No proxy: an HTTP_PROXY in the node's environment must not carry loopback traffic off the machine.
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseProxy = false };
        using var http = new HttpClient(handler) { BaseAddress = root, Timeout = duration + TimeSpan.FromSeconds(10) };
        var tenant = (await SendAsync(http, HttpMethod.Post, "admin/tenants", admin, """{"name":"Warm-up"}""", ct)).GetProperty("api_key").GetString()!;
        var open = await CreatePoolAsync(http, tenant, "Open", 1_000_000, ct);
        var soldOut = await CreatePoolAsync(http, tenant, "Sold out", 0, ct);

        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var counts = new long[(int)Answer.Unexpected + 1];
        using var settled = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watch = WatchCompilationsAsync(settled, ct);
        var workers = Enumerable.Range(0, Math.Max(8, Environment.ProcessorCount * 16)).Select(async worker =>
        {
            for (var n = 0; Stopwatch.GetTimestamp() < deadline && !settled.IsCancellationRequested; n++)
            {
                var (status, body) = await CallAsync(http, HttpMethod.Post, $"capacity/{open}/reserve", tenant, """{"quantity":1}""", ct);
                Count(counts, status == HttpStatusCode.Created, Answer.Hold);
                if (status == HttpStatusCode.Created && n % 2 == 0)
                {
                    string? hold;
                    using (var answer = JsonDocument.Parse(body))
                    {
                        hold = answer.RootElement.GetProperty("reservation").GetProperty("id").GetString();
                    }

                    var confirm = (n + worker) % 4 == 0;
                    var (ended, _) = await CallAsync(http, HttpMethod.Post, $"reservations/{hold}/{(confirm ? "confirm" : "release")}", tenant, null, ct);
                    Count(counts, ended == HttpStatusCode.OK, confirm ? Answer.Confirm : Answer.Release);
                }

                Count(counts, (await CallAsync(http, HttpMethod.Get, $"capacity/{open}", tenant, null, ct)).Status == HttpStatusCode.OK, Answer.Read);
                Count(counts, (await CallAsync(http, HttpMethod.Post, $"capacity/{soldOut}/reserve", tenant, """{"quantity":1}""", ct)).Status == HttpStatusCode.Conflict, Answer.Refusal);
            }
        });
        await Task.WhenAll(workers);
        var settledFirst = settled.IsCancellationRequested;
        await settled.CancelAsync();
        await watch;
        ct.ThrowIfCancellationRequested();
        return new Report(
            counts[(int)Answer.Hold], counts[(int)Answer.Read], counts[(int)Answer.Refusal], counts[(int)Answer.Confirm], counts[(int)Answer.Release],
            counts[(int)Answer.Unexpected], settledFirst, TimeSpan.Zero);
    }

    /// <summary>Cancels <paramref name="settled"/> once fewer than <see cref="Trickle"/> methods were compiled in <see cref="Settled"/>.</summary>
    private static async Task WatchCompilationsAsync(CancellationTokenSource settled, CancellationToken ct)
    {
        var step = Settled / 2;
        var seen = new Queue<long>([JitInfo.GetCompiledMethodCount()]);
        try
        {
            while (!settled.IsCancellationRequested)
            {
                await Task.Delay(step, settled.Token);
                seen.Enqueue(JitInfo.GetCompiledMethodCount());
                if (seen.Count > 2 && seen.Last() - seen.Dequeue() < Trickle)
                {
                    await settled.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The workers ended first (the warm-up's longest), or this ended them.
        }
    }

    /// <summary>What the warm-up counts: each kind of request answered as expected, and any answer that was not.</summary>
    private enum Answer
    {
        Hold,
        Read,
        Refusal,
        Confirm,
        Release,
        Unexpected,
    }

    /// <summary>Counts an answer as what was asked for when it was the one expected, else as unexpected.</summary>
    private static void Count(long[] counts, bool expected, Answer what) =>
        Interlocked.Increment(ref counts[(int)(expected ? what : Answer.Unexpected)]);

    private static async Task<string> CreatePoolAsync(HttpClient http, string tenant, string name, int total, CancellationToken ct) =>
        (await SendAsync(http, HttpMethod.Post, "events/warm-up/capacity", tenant, $$"""{"section_name":"{{name}}","total_capacity":{{total}}}""", ct))
        .GetProperty("id").GetString()!;

    private static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, string key, string body, CancellationToken ct)
    {
        var (status, answer) = await CallAsync(http, method, path, key, body, ct);
        if ((int)status is < 200 or > 299)
        {
            throw new InvalidOperationException($"The warm-up's {method} /{path} answered {(int)status}: {answer}");
        }

        using var document = JsonDocument.Parse(answer);
        return document.RootElement.Clone();
    }

    private static async Task<(HttpStatusCode Status, string Body)> CallAsync(HttpClient http, HttpMethod method, string path, string key, string? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request, ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Capacity.Bench;

namespace Capacity.LoadGen;

internal sealed record HostileSettings(
    string Url, string AdminKey, int ServerPid, double Duration, int Sections, int Holds, int HoldConcurrency, int Streams, int HeavyLoops, int[] SettleSeconds, bool Verify);

/// <summary>
/// Issue 21's hostile tenant against a real server process: tenant H fills one event to its bounds
/// (a pool, thousands of sections, a hundred thousand live holds), then opens its streams on it,
/// keeps changing it and reads the whole of it in a loop; meanwhile tenant O reads and holds on a
/// small event of its own and <c>/healthz</c> is asked every 50 ms. Measures what O and
/// <c>/healthz</c> see, and the server's resident memory before, during and after H's load.
/// </summary>
internal static class Hostile
{
    private static readonly byte[] SnapshotLine = Encoding.ASCII.GetBytes("\nevent: snapshot");

    public static async Task<int> RunAsync(HostileSettings s, CancellationToken ct)
    {
        // Separate pools, as separate clients would have: O's and /healthz's requests never wait for
        // a connection that H's streams or heavy reads hold.
        using var hostileHttp = Client(s.Url, TimeSpan.FromSeconds(120));
        using var streamHttp = Client(s.Url, Timeout.InfiniteTimeSpan);
        using var otherHttp = Client(s.Url, TimeSpan.FromSeconds(30));
        using var healthHttp = Client(s.Url, TimeSpan.FromSeconds(30));
        var api = new Api(hostileHttp, s.AdminKey);
        var memory = new MemorySampler(s.ServerPid);

        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var hostile = new AuthenticationHeaderValue("Bearer", await api.CreateTenantAsync($"hostile {stamp}", ct));
        var other = new AuthenticationHeaderValue("Bearer", await api.CreateTenantAsync($"other {stamp}", ct));
        var eventId = $"hostile-{stamp}";
        var mine = await api.CreateCapacityAsync(other, $"other-{stamp}", new JsonObject { ["section_name"] = "Floor", ["total_capacity"] = 1_000_000 }, ct);
        // O has read and held before, as any live tenant has: the window measures contention, not O's first JIT.
        for (var i = 0; i < 20; i++)
        {
            await OtherReadAsync(otherHttp, other, mine, ct);
            await OtherHoldAsync(otherHttp, other, mine, ct);
            await HealthAsync(healthHttp, ct);
        }

        var gcBefore = await GcHeapMibAsync(healthHttp, ct);
        var rssBefore = memory.Now();
        Console.WriteLine($"Capacity.LoadGen: hostile against {s.Url} (server pid {s.ServerPid}), event {eventId}");
        Console.WriteLine($"  server resident {rssBefore:0} MiB, managed heap {gcBefore:0} MiB before H's load");

        // ---- H's setup: the event at its bounds --------------------------------------------------
        using var sampling = new CancellationTokenSource();
        var sampler = memory.RunAsync(sampling.Token);
        var clock = Stopwatch.StartNew();
        var pool = await api.CreateCapacityAsync(hostile, eventId, new JsonObject { ["section_name"] = "Pool" }, ct);
        var sections = new List<string>(s.Sections);
        foreach (var chunk in Enumerable.Range(0, s.Sections).Chunk(100))
        {
            sections.AddRange(await Task.WhenAll(chunk.Select(i => api.CreateCapacityAsync(hostile, eventId, new JsonObject
            {
                ["section_name"] = $"Section {i}", ["total_capacity"] = 1000, ["parent_ids"] = new JsonArray(pool),
            }, ct))));
        }

        var capacitiesPerSecond = (s.Sections + 1) / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"  setup           {Report.N(s.Sections + 1)} capacities in {clock.Elapsed.TotalSeconds:0.0} s ({Report.N(capacitiesPerSecond)}/s)");

        clock.Restart();
        var holdStatuses = new Statuses();
        var holdBody = Encoding.UTF8.GetBytes("{\"quantity\":1,\"reservation_minutes\":60}");
        await Parallel.ForEachAsync(Enumerable.Range(0, s.Holds), new ParallelOptions { MaxDegreeOfParallelism = s.HoldConcurrency, CancellationToken = ct }, async (i, token) =>
        {
            using var request = Post($"/capacity/{sections[i % sections.Count]}/reserve", hostile, holdBody);
            holdStatuses.Add(await StatusAsync(hostileHttp, request, token));
        });
        var holdSeconds = clock.Elapsed.TotalSeconds;
        var placed = holdStatuses.Of(201);
        Console.WriteLine($"  setup           {Report.N(placed)} of {Report.N(s.Holds)} holds placed in {holdSeconds:0.0} s ({Report.N(placed / holdSeconds)}/s); answers {holdStatuses}");
        var setupPeak = memory.TakePeak();
        var rssLoaded = memory.Now();
        var gcLoaded = await GcHeapMibAsync(healthHttp, ct);
        Console.WriteLine($"  server resident {rssLoaded:0} MiB after the setup (peak {setupPeak:0}), managed heap {gcLoaded:0} MiB");

        // ---- H's load: streams, changes, whole-event reads ---------------------------------------
        using var stopH = new CancellationTokenSource();
        clock.Restart();
        var opened = await Task.WhenAll(Enumerable.Range(0, s.Streams).Select(_ => OpenStreamAsync(streamHttp, hostile, eventId, ct)));
        var openSeconds = clock.Elapsed.TotalSeconds;
        var streams = opened.Where(r => r is { IsSuccessStatusCode: true }).Select(r => r!).ToList();
        var streamRefusals = new Statuses();
        foreach (var r in opened)
        {
            streamRefusals.Add(r is null ? 0 : (int)r.StatusCode);
        }

        Console.WriteLine($"  streams         {streams.Count} of {s.Streams} open in {openSeconds:0.0} s; answers {streamRefusals}");
        var drains = streams.Select(r => Task.Run(() => DrainAsync(r, stopH.Token), CancellationToken.None)).ToList();
        var changes = Task.Run(() => ChangeLoopAsync(hostileHttp, hostile, sections, stopH.Token), CancellationToken.None);
        var heavy = Enumerable.Range(0, s.HeavyLoops).Select(_ => Task.Run(() => HeavyLoopAsync(hostileHttp, hostile, eventId, stopH.Token), CancellationToken.None)).ToList();

        // ---- O and /healthz during H's load ------------------------------------------------------
        var window = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(s.Duration);
        var health = Task.Run(() => HealthLoopAsync(healthHttp, until, ct), CancellationToken.None);
        var reads = new LatencySamples();
        var holds = new LatencySamples();
        var otherStatuses = new Statuses();
        while (window.Elapsed < until)
        {
            var (status, ticks) = await OtherReadAsync(otherHttp, other, mine, ct);
            otherStatuses.Add(status);
            reads.Add(ticks);
            (status, ticks) = await OtherHoldAsync(otherHttp, other, mine, ct);
            otherStatuses.Add(status);
            holds.Add(ticks);
        }

        var (healthSamples, healthStatuses) = await health;
        var loadPeak = memory.TakePeak();
        var gcLoad = await GcHeapMibAsync(healthHttp, ct);

        // ---- H closes everything, then the server is left alone ---------------------------------
        await stopH.CancelAsync();
        foreach (var r in streams)
        {
            r.Dispose();
        }

        var drained = await Task.WhenAll(drains);
        var changed = await changes;
        var heavyDone = await Task.WhenAll(heavy);
        var closed = Stopwatch.StartNew();
        var heavySummary = LatencySamples.Summarise(heavyDone.Select(h => h.Latency));
        var heavyStatuses = new Statuses();
        foreach (var h in heavyDone)
        {
            heavyStatuses.Merge(h.Statuses);
        }

        var settled = new List<(int Seconds, double Rss, double Gc)>();
        foreach (var after in s.SettleSeconds)
        {
            var wait = TimeSpan.FromSeconds(after) - closed.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, ct);
            }

            settled.Add((after, memory.Now(), await GcHeapMibAsync(healthHttp, ct)));
        }

        await sampling.CancelAsync();
        await sampler;

        var readSummary = LatencySamples.Summarise([reads]);
        var holdSummary = LatencySamples.Summarise([holds]);
        var otherSummary = LatencySamples.Summarise([reads, holds]);
        var healthSummary = LatencySamples.Summarise([healthSamples]);
        var snapshots = drained.Sum(d => d.Snapshots);
        var bytes = drained.Sum(d => d.Bytes);
        Console.WriteLine($"  H               {Report.N(changed)} changes, {Report.N(heavySummary.Count)} whole-event reads ({heavySummary}; answers {heavyStatuses}), "
            + $"{(streams.Count == 0 ? 0 : (double)snapshots / streams.Count):0.0} snapshots a stream, {bytes / 1048576.0:0} MiB streamed");
        Console.WriteLine($"  O reads         {readSummary}");
        Console.WriteLine($"  O holds         {holdSummary}");
        Console.WriteLine($"  O together      {otherSummary}; answers {otherStatuses}");
        Console.WriteLine($"  /healthz        {healthSummary}; answers {healthStatuses}");
        Console.WriteLine($"  server resident {loadPeak:0} MiB peak during the load (managed heap {gcLoad:0} MiB at its end); "
            + string.Join(", ", settled.Select(x => $"{x.Rss:0} MiB (heap {x.Gc:0}) {x.Seconds} s after")));

        var verified = "skipped";
        if (s.Verify)
        {
            clock.Restart();
            var (ok, _, live, violations) = await api.VerifyAsync(ct);
            verified = ok ? "ok" : "failed";
            Console.WriteLine($"  verify          {verified} in {clock.Elapsed.TotalSeconds:0.0} s, {Report.N(live)} live reservations{(ok ? "" : ": " + string.Join("; ", violations.Take(5)))}");
        }

        List<(string, object)> fields =
        [
            ("scenario", "hostile"), ("sections", s.Sections), ("capacities_per_s", capacitiesPerSecond),
            ("holds_asked", s.Holds), ("holds_placed", placed), ("holds_refused", s.Holds - placed), ("holds_per_s", placed / holdSeconds),
            ("streams_asked", s.Streams), ("streams_open", streams.Count), ("streams_open_s", openSeconds),
            ("snapshots_per_stream", streams.Count == 0 ? 0.0 : (double)snapshots / streams.Count), ("streamed_mib", bytes / 1048576.0),
            ("changes", changed), ("heavy_reads", heavySummary.Count), ("heavy_p50_ms", heavySummary.P50), ("heavy_p99_ms", heavySummary.P99),
            ("heavy_non2xx", heavyStatuses.Non2xx),
            ("o_reads", readSummary.Count), ("o_read_p50_ms", readSummary.P50), ("o_read_p99_ms", readSummary.P99), ("o_read_max_ms", readSummary.Max),
            ("o_holds", holdSummary.Count), ("o_hold_p50_ms", holdSummary.P50), ("o_hold_p99_ms", holdSummary.P99), ("o_hold_max_ms", holdSummary.Max),
            ("o_p50_ms", otherSummary.P50), ("o_p99_ms", otherSummary.P99), ("o_max_ms", otherSummary.Max), ("o_non2xx", otherStatuses.Non2xx),
            ("healthz", healthSummary.Count), ("healthz_p50_ms", healthSummary.P50), ("healthz_p99_ms", healthSummary.P99), ("healthz_max_ms", healthSummary.Max),
            ("healthz_non2xx", healthStatuses.Non2xx),
            ("rss_before_mib", rssBefore), ("rss_setup_peak_mib", setupPeak), ("rss_loaded_mib", rssLoaded), ("rss_peak_mib", loadPeak),
            ("gc_before_mib", gcBefore), ("gc_loaded_mib", gcLoaded), ("gc_load_end_mib", gcLoad),
            .. settled.SelectMany(x => new (string, object)[] { ($"rss_{x.Seconds}s_mib", x.Rss), ($"gc_{x.Seconds}s_mib", x.Gc) }),
            ("verify", verified),
        ];
        Report.Result([.. fields]);
        return verified == "failed" ? 1 : 0;
    }

    private static HttpClient Client(string url, TimeSpan timeout) => new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        UseCookies = false,
    })
    { BaseAddress = new Uri(url), Timeout = timeout };

    private static HttpRequestMessage Post(string path, AuthenticationHeaderValue auth, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = auth;
        return request;
    }

    /// <summary>The answer's status, the body read and dropped; 0 for a transport error or a timeout.</summary>
    private static async Task<int> StatusAsync(HttpClient http, HttpRequestMessage request, CancellationToken ct)
    {
        try
        {
            using var response = await http.SendAsync(request, ct);
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            return 0;
        }
    }

    private static readonly byte[] OneTicket = Encoding.UTF8.GetBytes("{\"quantity\":1}");

    private static async Task<(int Status, long Ticks)> OtherReadAsync(HttpClient http, AuthenticationHeaderValue auth, string capacity, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/capacity/{capacity}");
        request.Headers.Authorization = auth;
        var started = Stopwatch.GetTimestamp();
        var status = await StatusAsync(http, request, ct);
        return (status, Stopwatch.GetTimestamp() - started);
    }

    private static async Task<(int Status, long Ticks)> OtherHoldAsync(HttpClient http, AuthenticationHeaderValue auth, string capacity, CancellationToken ct)
    {
        using var request = Post($"/capacity/{capacity}/reserve", auth, OneTicket);
        var started = Stopwatch.GetTimestamp();
        var status = await StatusAsync(http, request, ct);
        return (status, Stopwatch.GetTimestamp() - started);
    }

    private static async Task<(int Status, long Ticks)> HealthAsync(HttpClient http, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        var started = Stopwatch.GetTimestamp();
        var status = await StatusAsync(http, request, ct);
        return (status, Stopwatch.GetTimestamp() - started);
    }

    /// <summary><c>/healthz</c> every 50 ms (a probe's cadence, not a closed loop: a slow answer delays only its successor).</summary>
    private static async Task<(LatencySamples, Statuses)> HealthLoopAsync(HttpClient http, TimeSpan until, CancellationToken ct)
    {
        var samples = new LatencySamples();
        var statuses = new Statuses();
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (clock.Elapsed < until && await timer.WaitForNextTickAsync(ct))
        {
            var (status, ticks) = await HealthAsync(http, ct);
            statuses.Add(status);
            samples.Add(ticks);
        }

        return (samples, statuses);
    }

    private static async Task<HttpResponseMessage?> OpenStreamAsync(HttpClient http, AuthenticationHeaderValue auth, string eventId, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/events/{eventId}/capacity/stream");
        request.Headers.Authorization = auth;
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        try
        {
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
            {
                response.Dispose();
                return new HttpResponseMessage(response.StatusCode);
            }

            return response;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads a stream as fast as it comes and counts its bytes and its <c>event: snapshot</c> lines,
    /// scanning the bytes (a snapshot of the whole event is one line of megabytes: no line reader).
    /// </summary>
    private static async Task<(long Snapshots, long Bytes)> DrainAsync(HttpResponseMessage response, CancellationToken stop)
    {
        long snapshots = 0, bytes = 0;
        var matched = 1; // the stream's start counts as the end of a line
        var buffer = new byte[64 * 1024];
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(stop);
            int n;
            while ((n = await body.ReadAsync(buffer, stop)) > 0)
            {
                bytes += n;
                for (var i = 0; i < n; i++)
                {
                    // The pattern starts with its only '\n', so on a mismatch the match restarts at 0, or at 1 on a '\n'.
                    var b = buffer[i];
                    matched = b == SnapshotLine[matched] ? matched + 1 : b == '\n' ? 1 : 0;
                    if (matched == SnapshotLine.Length)
                    {
                        snapshots++;
                        matched = 0;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or HttpRequestException)
        {
            // Closed by the end of the load.
        }

        return (snapshots, bytes);
    }

    /// <summary>Renames H's sections one after another, each change a new snapshot for its streams.</summary>
    private static async Task<long> ChangeLoopAsync(HttpClient http, AuthenticationHeaderValue auth, List<string> sections, CancellationToken stop)
    {
        long done = 0;
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, $"/capacity/{sections[i % sections.Count]}")
            {
                Content = new StringContent($"{{\"section_name\":\"Section {i} renamed\"}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = auth;
            try
            {
                if (await StatusAsync(http, request, stop) is >= 200 and < 300)
                {
                    done++;
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return done;
    }

    /// <summary>The whole unpaged list of H's event, again and again, the body read to its end.</summary>
    private static async Task<(LatencySamples Latency, Statuses Statuses)> HeavyLoopAsync(HttpClient http, AuthenticationHeaderValue auth, string eventId, CancellationToken stop)
    {
        var latency = new LatencySamples();
        var statuses = new Statuses();
        var buffer = new byte[64 * 1024];
        while (!stop.IsCancellationRequested)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/events/{eventId}/capacity");
            request.Headers.Authorization = auth;
            var started = Stopwatch.GetTimestamp();
            int status;
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
                await using var body = await response.Content.ReadAsStreamAsync(stop);
                while (await body.ReadAsync(buffer, stop) > 0)
                {
                }

                status = (int)response.StatusCode;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break; // a read cut short by the end of the load is not counted
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                status = 0;
            }

            latency.Add(Stopwatch.GetTimestamp() - started);
            statuses.Add(status);
        }

        return (latency, statuses);
    }

    /// <summary>The server's managed heap after its last collection, from <c>/metrics</c> (open unless <c>Metrics:Key</c> is set; NaN then).</summary>
    private static async Task<double> GcHeapMibAsync(HttpClient http, CancellationToken ct)
    {
        try
        {
            var text = await http.GetStringAsync("/metrics", ct);
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("dotnet_gc_heap_bytes ", StringComparison.Ordinal))
                {
                    return double.Parse(line["dotnet_gc_heap_bytes ".Length..], CultureInfo.InvariantCulture) / 1048576.0;
                }
            }
        }
        catch (HttpRequestException)
        {
        }

        return double.NaN;
    }

    /// <summary>Answers by status (0: transport error or timeout), printed as "201 ×100000".</summary>
    private sealed class Statuses
    {
        private readonly long[] _counts = new long[600];

        public long Non2xx => _counts.Select((c, i) => i is >= 200 and < 300 ? 0 : c).Sum();

        public void Add(int status) => Interlocked.Increment(ref _counts[Math.Clamp(status, 0, _counts.Length - 1)]);

        public long Of(int status) => Interlocked.Read(ref _counts[status]);

        public void Merge(Statuses other)
        {
            for (var i = 0; i < _counts.Length; i++)
            {
                _counts[i] += other._counts[i];
            }
        }

        public override string ToString() =>
            string.Join(" ", _counts.Select((c, i) => (c, i)).Where(x => x.c > 0).Select(x => $"{(x.i == 0 ? "errors" : x.i.ToString(CultureInfo.InvariantCulture))} ×{x.c}"));
    }

    /// <summary>The server's resident memory (VmRSS from /proc, Linux only), sampled every 500 ms for the peaks.</summary>
    private sealed class MemorySampler(int pid)
    {
        private double _peak;

        public double Now()
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
                }
            }

            return double.NaN;
        }

        /// <summary>The highest sample since the last call (this one's reading included), and a fresh start.</summary>
        public double TakePeak()
        {
            var peak = Math.Max(Interlocked.Exchange(ref _peak, 0), Now());
            return peak;
        }

        public async Task RunAsync(CancellationToken stop)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
            try
            {
                while (await timer.WaitForNextTickAsync(stop))
                {
                    var now = Now();
                    double seen;
                    do
                    {
                        seen = Volatile.Read(ref _peak);
                    }
                    while (now > seen && Interlocked.CompareExchange(ref _peak, now, seen) != seen);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}

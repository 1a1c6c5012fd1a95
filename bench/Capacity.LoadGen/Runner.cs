using System.Diagnostics;
using Capacity.Bench;

namespace Capacity.LoadGen;

internal sealed record Settings(
    string Url, string AdminKey, int Connections, double Duration, double Warmup, Plan Plan, int? ServerPid, bool SetupOnly,
    bool Webhook = false, string? WebhookUrl = null, bool Echo = false);

/// <summary>
/// Closed-loop HTTP load: one worker per keep-alive connection, each sending its next request as
/// soon as the previous one is answered. Afterwards the audit (<c>GET /admin/verify</c>) and a check
/// that the pool holds exactly the tickets of the holds that were acknowledged.
/// </summary>
internal static class Runner
{
    private static long _completed;

    public static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        var plan = s.Plan;
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = s.Connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseCookies = false,
        };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(s.Url), Timeout = TimeSpan.FromSeconds(30) };
        var api = new Api(http, s.AdminKey);
        var target = s.Echo ? Target.Echo() : await Target.CreateAsync(api, plan, ct);
        // The rules scenario has a subscriber unless --rules leaves it out: a listener here, or one named that outlives this process.
        var subscribe = !s.Echo && (s.Webhook || plan.RulesOn.HasFlag(Rules.Webhook));
        using var sink = subscribe && s.WebhookUrl is null ? WebhookSink.Start() : null;
        if (subscribe)
        {
            await api.SubscribeAsync(target.Auth, s.WebhookUrl ?? sink!.Url, ct);
        }

        if (s.SetupOnly)
        {
            // For another load tool (bench/run.sh points wrk at these as a reference).
            Console.WriteLine($"SETUP api_key={target.Auth.Parameter} event={target.EventId} pool={target.Pool} capped={target.Capped} shared={target.Shared}");
            return 0;
        }

        Console.WriteLine(s.Echo
            ? $"Capacity.LoadGen: {plan.Scenario} against the echo at {s.Url} (no setup, no audit)"
            : $"Capacity.LoadGen: {plan.Scenario} against {s.Url}, event {target.EventId} (pool {Report.N(plan.PoolTotal)}, capped child {Report.N(plan.CappedTotal)}, shared child{(plan.RulesOn != Rules.None ? $"; rules on: {plan.RulesOn.ToString().ToLowerInvariant()}" : "")})");
        Console.WriteLine($"  {s.Connections} keep-alive connections, {s.Warmup:0.#} s warm-up, {s.Duration:0.#} s measured; mix {string.Join(", ", plan.Weights.Select(w => $"{w.Op.ToString().ToLowerInvariant()} {w.Weight}"))}");

        var window = new Window(TimeSpan.FromSeconds(s.Warmup), TimeSpan.FromSeconds(s.Duration));
        var ownCpu = window.CoresUsedAsync(Process.GetCurrentProcess(), ct);
        var serverCpu = s.ServerPid is { } pid ? window.CoresUsedAsync(Process.GetProcessById(pid), ct) : null;
        var progress = ProgressAsync(window, ct);
        var tallies = await Task.WhenAll(Enumerable.Range(0, s.Connections).Select(i => Task.Run(() => WorkerAsync(http, target, plan, i, window, ct), ct)));
        await progress;

        var latency = LatencySamples.Summarise(tallies.Select(t => t.Latency));
        var statuses = new long[Tally.Statuses];
        foreach (var t in tallies)
        {
            for (var i = 0; i < statuses.Length; i++)
            {
                statuses[i] += t.Status[i];
            }
        }

        long Count(Func<int, bool> which) => Enumerable.Range(0, statuses.Length).Where(which).Sum(i => statuses[i]);
        var perSecond = latency.Count / window.Seconds;
        var cores = await ownCpu;
        Console.WriteLine($"  requests/s      {Report.N(perSecond)}");
        Console.WriteLine($"  latency         {latency}");
        Console.WriteLine($"  status          {string.Join("  ", Enumerable.Range(1, statuses.Length - 1).Where(i => statuses[i] > 0).Select(i => $"{i} {Report.N(statuses[i])}"))}"
            + $"  transport errors {Report.N(statuses[0])}");
        if (plan.Weights.Count > 1)
        {
            Console.WriteLine($"  by operation    {string.Join("  ", Enum.GetValues<Operation>().Select(op => $"{op.ToString().ToLowerInvariant()} {Report.N(tallies.Sum(t => t.ByOperation[(int)op]))}"))}");
        }

        var cpuLine = $"load generator {cores:0.00}";
        double? serverCores = serverCpu is null ? null : await serverCpu;
        if (serverCores is { } sc)
        {
            cpuLine = $"server {sc:0.00}, " + cpuLine;
        }

        Console.WriteLine($"  cpu             {cpuLine} of {Environment.ProcessorCount} cores");

        // The echo keeps nothing, so there is nothing to audit.
        var (passed, verifyFields) = s.Echo ? (true, []) : await CheckAsync(api, target, tallies, ct);
        List<(string, object)> fields =
        [
            ("scenario", s.Echo ? "echo-" + plan.Scenario : plan.Scenario), ("connections", s.Connections), ("rps", perSecond),
            ("p50_ms", latency.P50), ("p90_ms", latency.P90), ("p99_ms", latency.P99), ("p999_ms", latency.P999),
            ("s2xx", Count(i => i is >= 200 and < 300)), ("s409", statuses[409]),
            ("s4xx_other", Count(i => i is >= 400 and < 500 and not 409)), ("s5xx", Count(i => i >= 500)), ("errors", statuses[0]),
            ("loadgen_cores", cores),
        ];
        if (serverCores is { } server)
        {
            fields.Add(("server_cores", server));
        }

        if (sink is not null)
        {
            // Deliveries received by the end of the run (the dispatcher trails the commits a little).
            Console.WriteLine($"  webhooks        {Report.N(sink.Received)} deliveries received");
            fields.Add(("webhook_deliveries", sink.Received));
        }

        Report.Result([.. fields, .. verifyFields, ("passed", passed)]);
        return passed ? 0 : 1;
    }

    private static async Task<Tally> WorkerAsync(HttpClient http, Target target, Plan plan, int index, Window window, CancellationToken ct)
    {
        var tally = new Tally();
        var random = new Random(index);
        var keepHolds = plan.Weights.Any(w => w.Op is Operation.Confirm or Operation.Release);
        var held = new Queue<(string Id, int Tickets)>();
        long sent = 0;
        while (!window.Over && !ct.IsCancellationRequested)
        {
            var op = plan.Pick(random);
            if (op is Operation.Confirm or Operation.Release && held.Count == 0)
            {
                op = Operation.Hold;
            }

            var subject = op is Operation.Confirm or Operation.Release ? held.Dequeue() : default;
            using var request = target.Request(op, index, sent++, subject.Id);
            var started = Stopwatch.GetTimestamp();
            int status;
            string? location = null;
            try
            {
                // The default completion option reads the whole body, so the connection is free for the next request.
                using var response = await http.SendAsync(request, ct);
                status = (int)response.StatusCode;
                location = response.Headers.Location?.OriginalString;
            }
            catch (HttpRequestException)
            {
                status = 0;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // HttpClient's own timeout.
                status = 0;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }

            var completed = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _completed);
            tally.Account(op, status, subject.Tickets, location, keepHolds ? held : null);
            if (window.Contains(completed))
            {
                tally.Latency.Add(completed - started);
                tally.Status[Math.Min(status, Tally.Statuses - 1)]++;
                tally.ByOperation[(int)op]++;
            }
        }

        return tally;
    }

    /// <summary>A live line on a terminal; nothing when the output goes to a file.</summary>
    private static async Task ProgressAsync(Window window, CancellationToken ct)
    {
        if (Console.IsOutputRedirected)
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        long last = 0;
        while (!window.Over && !ct.IsCancellationRequested)
        {
            await Task.Delay(1000, CancellationToken.None);
            var now = Interlocked.Read(ref _completed);
            var phase = window.Contains(Stopwatch.GetTimestamp()) ? "measuring" : "warming up";
            Console.Write($"\r  {clock.Elapsed.TotalSeconds,5:0} s  {phase,-10}  {Report.N(now),12} requests  {Report.N(now - last),8}/s   ");
            last = now;
        }

        Console.WriteLine();
    }

    /// <summary>
    /// The audit of the whole store, and the tickets this run was told it holds against the pool's
    /// counters. A write that ended in a transport error or a 5xx other than 503 may or may not have
    /// taken effect, so after one of those the second check is not made (503 is documented to apply nothing).
    /// </summary>
    private static async Task<(bool, List<(string, object)>)> CheckAsync(Api api, Target target, Tally[] tallies, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var (ok, capacities, live, violations) = await api.VerifyAsync(ct);
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(ok
            ? $"  verify          ok in {seconds:0.00} s: {Report.N(capacities)} capacities, {Report.N(live)} live reservations in the whole store"
            : $"  verify          FAILED in {seconds:0.00} s:{Environment.NewLine}    {string.Join(Environment.NewLine + "    ", violations.Take(20))}");

        var (reserved, sold) = await api.CountersAsync(target.Auth, target.Pool, ct);
        var acknowledged = tallies.Sum(t => t.Tickets);
        var ambiguous = tallies.Sum(t => t.Ambiguous);
        bool kept;
        if (ambiguous > 0)
        {
            kept = true;
            Console.WriteLine($"  acknowledged    not compared: {Report.N(ambiguous)} writes ended without a definite answer");
        }
        else
        {
            kept = reserved + sold == acknowledged + target.SetAside;
            var setAside = target.SetAside > 0 ? $" + {Report.N(target.SetAside)} set aside" : "";
            Console.WriteLine($"  acknowledged    {Report.N(acknowledged)} tickets acknowledged{setAside}, pool reserved + sold {Report.N(reserved + sold)}: {(kept ? "equal" : "DIFFERENT")}");
        }

        return (ok && kept, [("verify", ok ? "ok" : "failed"), ("verify_s", seconds), ("acknowledged", ambiguous > 0 ? "unknown" : kept ? "equal" : "different")]);
    }

    private sealed class Tally
    {
        public const int Statuses = 600;

        public LatencySamples Latency { get; } = new();

        /// <summary>Index 0 counts transport errors and timeouts.</summary>
        public long[] Status { get; } = new long[Statuses];

        public long[] ByOperation { get; } = new long[Enum.GetValues<Operation>().Length];

        /// <summary>Tickets the pool must hold for this connection's acknowledged, unreleased holds (in or out of the window).</summary>
        public long Tickets { get; private set; }

        public long Ambiguous { get; private set; }

        public void Account(Operation op, int status, int subjectTickets, string? location, Queue<(string, int)>? held)
        {
            var tickets = op switch
            {
                Operation.Hold => 1,
                Operation.Cart => 2,
                _ => 0,
            };
            if (op is Operation.Check or Operation.Read)
            {
                return;
            }

            if (status == 0 || (status >= 500 && status != 503))
            {
                Ambiguous++;
            }
            else if (status == 201 && tickets > 0)
            {
                Tickets += tickets;
                if (held is not null && location is not null)
                {
                    held.Enqueue((location[(location.LastIndexOf('/') + 1)..], tickets));
                }
            }
            else if (status == 200 && op == Operation.Release)
            {
                Tickets -= subjectTickets;
            }
        }
    }
}

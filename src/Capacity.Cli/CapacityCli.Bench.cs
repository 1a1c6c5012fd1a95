using System.CommandLine;
using System.Diagnostics;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>
/// The <c>bench</c> command: a small closed-loop load test against one event, in the manner of bench/Capacity.LoadGen
/// (which makes its own tenant and event and needs the admin key). Each worker is a buyer that holds tickets, then
/// confirms or releases the hold, then starts again; at the end the event's counters must show exactly what the
/// service acknowledged, and with the admin key the service's own audit must pass.
/// </summary>
public static partial class CapacityCli
{
    private static Command BenchCommand(Host host)
    {
        var eventId = EventArgument();
        var capacities = new Option<Guid[]>("--capacity", "-c")
        {
            Description = "A capacity of the event to hold tickets of, in turn; repeat for each [default: each capacity of the event that no other of its capacities draws from]",
            HelpName = "capacity-id",
            CustomParser = IdsOf,
        };
        var workers = new Option<int>("--workers", "-w") { Description = "Buyers at once, each sending its next request when its last is answered, 1 to 256", DefaultValueFactory = _ => 8 };
        var duration = new Option<double>("--duration", "-d") { Description = "Seconds during which workers start new holds, above 0 and up to 3,600", DefaultValueFactory = _ => 10 };
        var quantity = new Option<int>("--quantity", "-q") { Description = "Tickets per hold, 1 to 100", DefaultValueFactory = _ => 1 };
        var confirm = new Option<int>("--confirm")
        {
            Description = "The percentage of holds confirmed (sold); the others are released. 0 leaves the event as it was",
            HelpName = "percent",
            DefaultValueFactory = _ => 0,
        };
        var adminKey = new Option<string?>("--admin-key") { Description = "The admin key: the run then ends with the service's audit (GET /admin/verify) [env: CAPACITY_ADMIN_KEY]" };
        var bench = new Command("bench", "Load-test one event: concurrent holds, each confirmed or released; report throughput and latency percentiles, then check the counters (and, with the admin key, the service's audit). It sells tickets with --confirm: run it on a test event")
        {
            eventId, capacities, workers, duration, quantity, confirm, adminKey,
        };
        bench.Validators.Add(result =>
        {
            Range(workers, 1, 256);
            Range(quantity, 1, 100);
            Range(confirm, 0, 100);
            if (IsGiven(result.GetResult(duration)) && result.GetValue(duration) is not (> 0 and <= 3600))
            {
                result.AddError("--duration must be above 0 and at most 3600 seconds.");
            }

            // Only what is on the command line: the defaults are within range, and a validator does not see them.
            void Range(Option<int> option, int min, int max)
            {
                if (IsGiven(result.GetResult(option)) && result.GetValue(option) is var value && (value < min || value > max))
                {
                    result.AddError($"{option.Name} must be {min} to {max}, not {value}.");
                }
            }
        });
        bench.SetAction((p, ct) => Run(host, p, admin: false, ct, (c, _) => BenchAsync(c, new BenchSettings(
            p.GetRequiredValue(eventId),
            p.GetValue(capacities) ?? [],
            p.GetValue(workers),
            TimeSpan.FromSeconds(p.GetValue(duration)),
            p.GetValue(quantity),
            p.GetValue(confirm),
            Value(p.GetValue(adminKey)) ?? Value(host.Environment("CAPACITY_ADMIN_KEY"))), ct)));
        return bench;
    }

    private sealed record BenchSettings(string EventId, Guid[] Capacities, int Workers, TimeSpan Duration, int Quantity, int ConfirmPercent, string? AdminKey);

    private static async Task<int> BenchAsync(Invocation c, BenchSettings s, CancellationToken ct)
    {
        var client = new CapacityClient(c.Http, c.Key);

        // Each request is sent and counted once: a retried 503 would read as a slow success.
        var load = new CapacityClient(c.Http, c.Key, new CapacityClientOptions { MaxAttempts = 1 });
        var capacity = await client.ListCapacityAsync(s.EventId, ct);
        if (capacity.Count == 0)
        {
            await c.Host.Error.WriteLineAsync($"error: event {s.EventId} has no capacities.");
            return ExitCodes.NotFound;
        }

        var ids = capacity.Select(x => x.Id).ToHashSet();
        var parents = capacity.SelectMany(x => x.ParentIds).ToHashSet();
        var targets = s.Capacities.Length > 0 ? s.Capacities.Distinct().ToArray() : [.. capacity.Where(x => !parents.Contains(x.Id)).Select(x => x.Id)];
        if (targets.Where(t => !ids.Contains(t)).Select(t => (Guid?)t).FirstOrDefault() is { } stranger)
        {
            await c.Host.Error.WriteLineAsync($"error: {stranger} is not a capacity of event {s.EventId}.");
            return ExitCodes.Usage;
        }

        // Ctrl+C stops new holds; the holds already placed are still confirmed or released, so none is left behind,
        // and the checks still run. The requests are not cut: the client's timeout bounds them, a second Ctrl+C the process.
        var clock = Stopwatch.StartNew();
        var deadline = Stopwatch.GetTimestamp() + (long)(s.Duration.TotalSeconds * Stopwatch.Frequency);
        var workers = await Task.WhenAll(Enumerable.Range(0, s.Workers).Select(i => Task.Run(() => BenchWorkerAsync(load, s, targets, i, deadline, ct), CancellationToken.None)));
        var seconds = clock.Elapsed.TotalSeconds;

        var after = await client.ListCapacityAsync(s.EventId, CancellationToken.None);
        var counters = CompareCounters(capacity, after, targets, workers);
        VerifyReport? audit = null;
        if (s.AdminKey is not null)
        {
            audit = await new CapacityClient(c.Http, s.AdminKey).VerifyAsync(CancellationToken.None);
        }

        var operations = Enum.GetValues<BenchOperation>().Select(op => Summarise(op, workers)).ToList();
        var requests = operations.Sum(o => o.Requests);
        var errors = workers.SelectMany(w => w.Errors).GroupBy(e => e.Key).OrderByDescending(g => g.Sum(e => e.Value))
            .ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
        var ok = counters.Ok && (audit?.Ok ?? true);
        var report = new BenchReport(
            s.EventId, targets, s.Workers, seconds, s.Quantity, s.ConfirmPercent, ct.IsCancellationRequested,
            workers.Sum(w => w.Cycles), requests, requests / seconds, operations, errors, counters, audit, ok);
        c.Write(report, CliJson.Default.BenchReport, () => Views.Bench(report));
        return ct.IsCancellationRequested ? ExitCodes.Interrupted : ok ? ExitCodes.Ok : ExitCodes.Violations;
    }

    /// <summary>
    /// One buyer: hold, then confirm or release, until the deadline. Exactly <see cref="BenchSettings.ConfirmPercent"/>
    /// of every hundred holds are confirmed, spread evenly, so two runs of the same settings sell the same.
    /// </summary>
    private static async Task<BenchWorker> BenchWorkerAsync(CapacityClient load, BenchSettings s, Guid[] targets, int index, long deadline, CancellationToken ct)
    {
        var worker = new BenchWorker();
        var taken = 0; // holds acknowledged so far: refused ones must not shift which of them are sold
        for (var n = 0; !ct.IsCancellationRequested && Stopwatch.GetTimestamp() < deadline; n++)
        {
            worker.Cycles++;
            var target = targets[(index + n) % targets.Length];
            var hold = await worker.MeasureAsync(BenchOperation.Hold,
                () => load.ReserveAsync(target, new ReserveRequest { Quantity = s.Quantity }, cancellationToken: CancellationToken.None));
            if (hold is null)
            {
                continue;
            }

            worker.Held[target] = worker.Held.GetValueOrDefault(target) + s.Quantity;
            var sell = (taken + 1) * s.ConfirmPercent / 100 > taken * s.ConfirmPercent / 100;
            taken++;
            var id = hold.Reservation.Id;
            var ended = sell
                ? await worker.MeasureAsync(BenchOperation.Confirm, () => load.ConfirmAsync(id, cancellationToken: CancellationToken.None))
                : await worker.MeasureAsync(BenchOperation.Release, () => load.ReleaseAsync(id, cancellationToken: CancellationToken.None));
            if (ended is not null)
            {
                worker.Held[target] -= s.Quantity;
                if (sell)
                {
                    worker.Sold[target] = worker.Sold.GetValueOrDefault(target) + s.Quantity;
                }
            }
        }

        return worker;
    }

    /// <summary>
    /// Each capacity held from must have moved by exactly the tickets the service acknowledged there, and on the
    /// capacities below it that were held from too (a hold on a section counts on its pool). Not compared when a
    /// request ended without a definite answer: it may or may not have taken effect.
    /// </summary>
    private static BenchCounters CompareCounters(IReadOnlyList<CapacityDetails> before, IReadOnlyList<CapacityDetails> after, Guid[] targets, BenchWorker[] workers)
    {
        var parentsOf = before.ToDictionary(x => x.Id, x => x.ParentIds);
        var was = before.ToDictionary(x => x.Id);
        var now = after.ToDictionary(x => x.Id);
        long expectedSold = 0, expectedReserved = 0, sold = 0, reserved = 0;
        var ok = true;
        foreach (var target in targets)
        {
            long wantSold = 0, wantReserved = 0;
            foreach (var other in targets.Where(t => t == target || AncestorsOf(t, parentsOf).Contains(target)))
            {
                wantSold += workers.Sum(w => w.Sold.GetValueOrDefault(other));
                wantReserved += workers.Sum(w => w.Held.GetValueOrDefault(other));
            }

            var soldDelta = now[target].SoldCount - was[target].SoldCount;
            var reservedDelta = now[target].ReservedCapacity - was[target].ReservedCapacity;
            ok &= soldDelta == wantSold && reservedDelta == wantReserved;
            (expectedSold, expectedReserved, sold, reserved) = (expectedSold + wantSold, expectedReserved + wantReserved, sold + soldDelta, reserved + reservedDelta);
        }

        var ambiguous = workers.Sum(w => w.Ambiguous);
        return new BenchCounters(ambiguous == 0, ambiguous > 0 || ok, ambiguous, expectedSold, sold, expectedReserved, reserved);
    }

    /// <summary>Every pool above a capacity within the event, through any number of levels.</summary>
    private static HashSet<Guid> AncestorsOf(Guid id, Dictionary<Guid, IReadOnlyList<Guid>> parentsOf)
    {
        var found = new HashSet<Guid>();
        var next = new Stack<Guid>(parentsOf.GetValueOrDefault(id) ?? []);
        while (next.TryPop(out var parent))
        {
            if (found.Add(parent))
            {
                foreach (var above in parentsOf.GetValueOrDefault(parent) ?? [])
                {
                    next.Push(above);
                }
            }
        }

        return found;
    }

    private static BenchOperationReport Summarise(BenchOperation op, BenchWorker[] workers)
    {
        var ticks = workers.SelectMany(w => w.Latency[(int)op]).Order().ToArray();
        var (ok, refused, failed) = (workers.Sum(w => w.Ok[(int)op]), workers.Sum(w => w.Refused[(int)op]), workers.Sum(w => w.Failed[(int)op]));
        return new BenchOperationReport(
            op.ToString().ToLowerInvariant(), ok + refused + failed, ok, refused, failed,
            Percentile(ticks, 0.50), Percentile(ticks, 0.90), Percentile(ticks, 0.99), ticks.Length == 0 ? 0 : Milliseconds(ticks[^1]));

        // Nearest rank: the smallest sample with at least p of the samples at or below it, as the load generator reports.
        static double Percentile(long[] sorted, double p) =>
            sorted.Length == 0 ? 0 : Milliseconds(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)]);

        static double Milliseconds(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);
    }

    private enum BenchOperation
    {
        Hold,
        Confirm,
        Release,
    }

    /// <summary>What one worker saw. Only its own task touches it, so recording never contends.</summary>
    private sealed class BenchWorker
    {
        public long Cycles { get; set; }

        public List<long>[] Latency { get; } = [[], [], []];

        public long[] Ok { get; } = new long[3];

        /// <summary>409 answers: the state refused it (sold out, not on sale, …), and nothing changed.</summary>
        public long[] Refused { get; } = new long[3];

        public long[] Failed { get; } = new long[3];

        /// <summary>Requests that ended without a definite answer (no answer, or a 5xx other than 503): they may have taken effect.</summary>
        public long Ambiguous { get; private set; }

        /// <summary>Answers other than success, by code (<c>transport</c> when none came).</summary>
        public Dictionary<string, long> Errors { get; } = [];

        /// <summary>Tickets the service said this worker holds, per capacity, and has sold.</summary>
        public Dictionary<Guid, long> Held { get; } = [];

        public Dictionary<Guid, long> Sold { get; } = [];

        /// <summary>Sends one request and records its latency and outcome; null unless it succeeded.</summary>
        public async Task<T?> MeasureAsync<T>(BenchOperation op, Func<Task<T>> call)
            where T : class
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var result = await call();
                Latency[(int)op].Add(Stopwatch.GetTimestamp() - started);
                Ok[(int)op]++;
                return result;
            }
            catch (CapacityApiException e)
            {
                Latency[(int)op].Add(Stopwatch.GetTimestamp() - started);
                Errors[$"{e.Status} {e.Code}"] = Errors.GetValueOrDefault($"{e.Status} {e.Code}") + 1;
                if (e.Status == 409)
                {
                    Refused[(int)op]++;
                }
                else
                {
                    Failed[(int)op]++;

                    // A 4xx, 429 or 503 applied nothing; any other 5xx may have.
                    Ambiguous += e.Status >= 500 && e.Status != 503 ? 1 : 0;
                }

                return null;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException { InnerException: TimeoutException })
            {
                Failed[(int)op]++;
                Ambiguous++;
                Errors["transport"] = Errors.GetValueOrDefault("transport") + 1;
                return null;
            }
        }
    }
}

/// <summary><c>bench --json</c>: the run's settings, its throughput and latency by operation, and its checks.</summary>
/// <param name="EventId">The event.</param>
/// <param name="CapacityIds">The capacities held from, in turn.</param>
/// <param name="Workers">Buyers at once.</param>
/// <param name="Seconds">How long the run took, its last holds' confirms and releases included.</param>
/// <param name="Quantity">Tickets per hold.</param>
/// <param name="ConfirmPercent">The share of holds confirmed; the others were released.</param>
/// <param name="Interrupted">Whether Ctrl+C stopped it early.</param>
/// <param name="Cycles">Holds attempted.</param>
/// <param name="Requests">Requests answered or failed, of every operation.</param>
/// <param name="RequestsPerSecond">Requests over seconds.</param>
/// <param name="Operations">Each operation's counts and latency percentiles.</param>
/// <param name="Errors">Answers other than success, by status and code, or <c>transport</c>.</param>
/// <param name="Counters">The event's counters against what the service acknowledged.</param>
/// <param name="Verify">The service's audit; null without the admin key.</param>
/// <param name="Ok">Whether every check passed.</param>
internal sealed record BenchReport(
    string EventId,
    IReadOnlyList<Guid> CapacityIds,
    int Workers,
    double Seconds,
    int Quantity,
    int ConfirmPercent,
    bool Interrupted,
    long Cycles,
    long Requests,
    double RequestsPerSecond,
    IReadOnlyList<BenchOperationReport> Operations,
    IReadOnlyDictionary<string, long> Errors,
    BenchCounters Counters,
    VerifyReport? Verify,
    bool Ok);

/// <summary>
/// One operation of a bench: how many, how they ended, and the latency of every answer (refusals included; a request
/// that got no answer has no latency), in milliseconds.
/// </summary>
internal sealed record BenchOperationReport(string Name, long Requests, long Ok, long Refused, long Failed, double P50Ms, double P90Ms, double P99Ms, double MaxMs);

/// <summary>
/// The capacities held from, summed: how far sold and reserved moved, and how far the acknowledged answers say they
/// should have. <paramref name="Compared"/> is false when some request had no definite answer.
/// </summary>
internal sealed record BenchCounters(bool Compared, bool Ok, long Ambiguous, long ExpectedSold, long Sold, long ExpectedReserved, long Reserved);

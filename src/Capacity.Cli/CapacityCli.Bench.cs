using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>
/// The <c>bench</c> command: a small closed-loop load test against one event, in the manner of bench/Capacity.LoadGen
/// (which makes its own tenant and event and needs the admin key). In the mix scenario each worker is a buyer that
/// holds tickets of the event's capacities, then confirms or releases the hold, then starts again. The load
/// generator's onsale, soldout, reads and rules scenarios are written again here over the SDK (the tool shares no
/// code with the bench projects): each creates its own pool and two sections in the event, as the load generator
/// does, and says what every answer must be. At the end the counters must show exactly what the service
/// acknowledged, no capacity may be past its limit, and with the admin key the service's own audit must pass.
/// </summary>
public static partial class CapacityCli
{
    /// <summary>The pool of onsale, reads and rules: the most a capacity may have, so that no run sells it out.</summary>
    internal const int BenchPool = 1_000_000;

    /// <summary>The pool soldout sells before its run, half on each section.</summary>
    internal const int SoldOutPool = 100;

    /// <summary>The rules scenario's allocation on the pool, set aside before the run.</summary>
    internal const int RulesAllocation = 1_000;

    /// <summary>The rules scenario's per-buyer limit: each buyer key places this many single-ticket holds, so every hold fits.</summary>
    internal const int PerBuyer = 4;

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
        var duration = new Option<double>("--duration", "-d") { Description = "Seconds during which workers start new requests (holds, or reads in the reads scenario), above 0 and up to 3,600", DefaultValueFactory = _ => 10 };
        var quantity = new Option<int>("--quantity", "-q") { Description = "Tickets per hold, 1 to 100", DefaultValueFactory = _ => 1 };
        var confirm = new Option<int>("--confirm")
        {
            Description = "The percentage of holds confirmed (sold); the others are released. 0 leaves the event as it was",
            HelpName = "percent",
            DefaultValueFactory = _ => 0,
        };
        var adminKey = new Option<string?>("--admin-key") { Description = "The admin key: the run then ends with the service's audit (GET /admin/verify) [env: CAPACITY_ADMIN_KEY]" };
        var scenario = new Option<string>("--scenario", "-s")
        {
            Description = "mix: holds of the event's capacities, each confirmed or released. The load generator's, on a pool and two sections each creates in the event, which must have none yet: "
                + $"onsale, single-ticket holds, all taken; soldout, holds on a pool of {SoldOutPool} sold first, all refused ({SoldOutCode}); "
                + "reads, GET /capacity/{id}, all answered; rules, onsale with an allocation, waiting lists and a per-buyer limit on the pool",
            HelpName = "name",
            DefaultValueFactory = _ => "mix",
        };
        scenario.AcceptOnlyFromAmong(Enum.GetNames<BenchScenario>().Select(n => n.ToLowerInvariant()).ToArray());
        var bench = new Command("bench", "Load-test one event: concurrent holds (or reads), as the scenario says; report throughput and latency percentiles, then check what every answer had to be, the counters and limits (and, with the admin key, the service's audit). It sells tickets with --confirm: run it on a test event")
        {
            eventId, scenario, capacities, workers, duration, quantity, confirm, adminKey,
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

            // The other scenarios hold single tickets on the sections they create, and leave their holds: these would be ignored.
            // The name is read from the line, as given: reading the value of one that is not a scenario throws.
            if (result.GetResult(scenario) is { Implicit: false, Tokens: [{ Value: var name }] } && name != "mix"
                && new Option[] { capacities, quantity, confirm }.Any(o => IsGiven(result.GetResult(o))))
            {
                result.AddError($"--capacity, --quantity and --confirm are the mix scenario's; {name} holds single tickets on capacities it creates.");
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
            Enum.Parse<BenchScenario>(p.GetRequiredValue(scenario), ignoreCase: true),
            p.GetValue(capacities) ?? [],
            p.GetValue(workers),
            TimeSpan.FromSeconds(p.GetValue(duration)),
            p.GetValue(quantity),
            p.GetValue(confirm),
            Value(p.GetValue(adminKey)) ?? Value(host.Environment("CAPACITY_ADMIN_KEY"))), ct)));
        return bench;
    }

    private sealed record BenchSettings(string EventId, BenchScenario Scenario, Guid[] Capacities, int Workers, TimeSpan Duration, int Quantity, int ConfirmPercent, string? AdminKey);

    /// <summary>
    /// What a run works on: the capacities as they were when it began, the ones it holds from (or reads) in turn, the
    /// ones whose counters it compares, and the pool it created (none for mix).
    /// </summary>
    private sealed record BenchStage(IReadOnlyList<CapacityDetails> Before, Guid[] Targets, Guid[] Compared, Guid? Pool);

    private static async Task<int> BenchAsync(Invocation c, BenchSettings s, CancellationToken ct)
    {
        var client = new CapacityClient(c.Http, c.Key);

        // Each request is sent and counted once: a retried 503 would read as a slow success.
        var load = new CapacityClient(c.Http, c.Key, new CapacityClientOptions { MaxAttempts = 1 });
        var capacity = await client.ListCapacityAsync(s.EventId, ct);
        BenchStage stage;
        if (s.Scenario == BenchScenario.Mix)
        {
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

            stage = new BenchStage(capacity, targets, targets, null);
        }
        else
        {
            // Its own capacities only: a run that sells out a pool, or leaves thousands of holds, must not do it to a real event.
            if (capacity.Count > 0)
            {
                await c.Host.Error.WriteLineAsync(
                    $"error: event {s.EventId} already has capacities; the {s.Scenario.ToString().ToLowerInvariant()} scenario creates its own: name a new event.");
                return ExitCodes.Usage;
            }

            stage = await SetUpAsync(client, s, ct);
        }

        // Ctrl+C stops new holds; in mix the holds already placed are still confirmed or released, so none is left
        // behind, and the checks still run. The requests are not cut: the client's timeout bounds them, a second Ctrl+C the process.
        var clock = Stopwatch.StartNew();
        var deadline = Stopwatch.GetTimestamp() + (long)(s.Duration.TotalSeconds * Stopwatch.Frequency);
        var workers = await Task.WhenAll(Enumerable.Range(0, s.Workers).Select(i => Task.Run(() => BenchWorkerAsync(load, s, stage.Targets, i, deadline, ct), CancellationToken.None)));
        var seconds = clock.Elapsed.TotalSeconds;

        var after = await client.ListCapacityAsync(s.EventId, CancellationToken.None);
        var counters = CompareCounters(stage.Before, after, stage.Compared, workers);
        var pastLimits = PastLimits(after);
        VerifyReport? audit = null;
        if (s.AdminKey is not null)
        {
            audit = await new CapacityClient(c.Http, s.AdminKey).VerifyAsync(CancellationToken.None);
        }

        var operations = OperationsOf(s.Scenario).Select(op => Summarise(op, workers)).ToList();
        var requests = operations.Sum(o => o.Requests);
        var errors = workers.SelectMany(w => w.Errors).GroupBy(e => e.Key).OrderByDescending(g => g.Sum(e => e.Value))
            .ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
        var expected = Expect(s.Scenario, operations[0], errors);
        var ok = (expected?.Ok ?? true) && counters.Ok && pastLimits.Count == 0 && (audit?.Ok ?? true);
        var report = new BenchReport(
            s.EventId, s.Scenario.ToString().ToLowerInvariant(), stage.Pool, stage.Targets, s.Workers, seconds, s.Quantity, s.ConfirmPercent, ct.IsCancellationRequested,
            workers.Sum(w => w.Cycles), requests, requests / seconds, operations, errors, expected, counters, pastLimits, audit, ok);
        c.Write(report, CliJson.Default.BenchReport, () => Views.Bench(report));
        return ct.IsCancellationRequested ? ExitCodes.Interrupted : ok ? ExitCodes.Ok : ExitCodes.Violations;
    }

    /// <summary>
    /// The load generator's event (bench/Capacity.LoadGen, Target.cs): a pool, a section capped inside it and a section
    /// sharing it, both held from in turn. soldout's pool is sold out here, half on each section; rules switches its
    /// rules on. The counters are read last, so the run is measured from what the setup left.
    /// </summary>
    private static async Task<BenchStage> SetUpAsync(CapacityClient client, BenchSettings s, CancellationToken ct)
    {
        var total = s.Scenario == BenchScenario.Soldout ? SoldOutPool : BenchPool;
        var pool = await client.CreateCapacityAsync(s.EventId, new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = total }, cancellationToken: ct);
        var capped = await client.CreateCapacityAsync(
            s.EventId, new CreateCapacityRequest { SectionName = "Capped", TotalCapacity = s.Scenario == BenchScenario.Soldout ? total / 2 : total, ParentIds = [pool.Id] }, cancellationToken: ct);
        var shared = await client.CreateCapacityAsync(s.EventId, new CreateCapacityRequest { SectionName = "Shared", ParentIds = [pool.Id] }, cancellationToken: ct);
        if (s.Scenario == BenchScenario.Soldout)
        {
            foreach (var (section, tickets) in new[] { (capped.Id, total / 2), (shared.Id, total - total / 2) })
            {
                var hold = await client.ReserveAsync(section, new ReserveRequest { Quantity = tickets }, cancellationToken: ct);
                await client.ConfirmAsync(hold.Reservation.Id, cancellationToken: ct);
            }
        }

        if (s.Scenario == BenchScenario.Rules)
        {
            // Each rule in the state that makes a public hold consult it: an open allocation on the pool (counted in its
            // reserved), a per-buyer limit over the pool and both sections, and waiting lists on the capped section and on
            // a section not on sale for a year, where an entry waits, so the pool is owed tickets while the holds go on
            // (an entry on a section on sale would be offered at once and leave no demand).
            await client.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Box office", Quantity = RulesAllocation }, cancellationToken: ct);
            await client.CreateLimitAsync(
                s.EventId, new CreateLimitRequest { Name = "Per buyer", CapacityIds = [pool.Id, capped.Id, shared.Id], PerBuyerMax = PerBuyer }, cancellationToken: ct);
            var later = await client.CreateCapacityAsync(s.EventId, new CreateCapacityRequest
            {
                SectionName = "Later", TotalCapacity = 10, ParentIds = [pool.Id], SaleStartsAt = DateTimeOffset.UtcNow.AddYears(1),
            }, cancellationToken: ct);
            var open = new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } };
            await client.UpdateCapacityAsync(later.Id, open, cancellationToken: ct);
            await client.UpdateCapacityAsync(capped.Id, open, cancellationToken: ct);
            await client.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new WaitlistItem(later.Id, 2)] }, cancellationToken: ct);
        }

        return new BenchStage(await client.ListCapacityAsync(s.EventId, ct), [capped.Id, shared.Id], [pool.Id], pool.Id);
    }

    /// <summary>The operations a scenario sends, in the order the report lists them.</summary>
    private static BenchOperation[] OperationsOf(BenchScenario scenario) => scenario switch
    {
        BenchScenario.Mix => [BenchOperation.Hold, BenchOperation.Confirm, BenchOperation.Release],
        BenchScenario.Reads => [BenchOperation.Read],
        _ => [BenchOperation.Hold],
    };

    /// <summary>
    /// What every answer of the scenario's one operation must have been; none for mix, whose holds may be refused once
    /// the event sells out. A run that sent nothing shows nothing, and does not pass.
    /// </summary>
    private static BenchExpected? Expect(BenchScenario scenario, BenchOperationReport operation, IReadOnlyDictionary<string, long> errors)
    {
        var (rule, met) = scenario switch
        {
            BenchScenario.Mix => (null, 0),
            BenchScenario.Reads => ("every read answered", operation.Ok),
            BenchScenario.Soldout => ($"every hold refused with 409 {SoldOutCode}", errors.GetValueOrDefault($"409 {SoldOutCode}")),
            _ => ("every hold taken", operation.Ok),
        };
        return rule is null ? null : new BenchExpected(rule, met, operation.Requests, operation.Requests > 0 && met == operation.Requests);
    }

    /// <summary>The problem code of a hold on a sold-out capacity.</summary>
    private const string SoldOutCode = "INSUFFICIENT_CAPACITY";

    /// <summary>
    /// One buyer until the deadline. In mix: hold, then confirm or release; exactly <see cref="BenchSettings.ConfirmPercent"/>
    /// of every hundred holds are confirmed, spread evenly, so two runs of the same settings sell the same. In reads: read.
    /// In the others: hold, and leave the hold to expire, as the load generator does.
    /// </summary>
    private static async Task<BenchWorker> BenchWorkerAsync(CapacityClient load, BenchSettings s, Guid[] targets, int index, long deadline, CancellationToken ct)
    {
        var worker = new BenchWorker();
        var taken = 0; // holds acknowledged so far: refused ones must not shift which of them are sold

        // A hold left to expire lives a minute past the run (in whole minutes, 2 to 61): none expires before the counters
        // are read, and the tenant's live holds, which its quota bounds, fall back soon after rather than in 15 minutes.
        int? minutes = s.Scenario == BenchScenario.Mix ? null : (int)Math.Ceiling(s.Duration.TotalMinutes) + 1;
        for (var n = 0; !ct.IsCancellationRequested && Stopwatch.GetTimestamp() < deadline; n++)
        {
            worker.Cycles++;
            var target = targets[(index + n) % targets.Length];
            if (s.Scenario == BenchScenario.Reads)
            {
                await worker.MeasureAsync(BenchOperation.Read, () => load.GetCapacityAsync(target, CancellationToken.None));
                continue;
            }

            // The rules scenario's limit wants a buyer on every hold: a key per PerBuyer holds of this worker keeps each within it.
            var buyer = s.Scenario == BenchScenario.Rules ? $"w{index}-{n / PerBuyer}" : null;
            var hold = await worker.MeasureAsync(BenchOperation.Hold,
                () => load.ReserveAsync(target, new ReserveRequest { Quantity = s.Quantity, ReservationMinutes = minutes, BuyerKey = buyer }, cancellationToken: CancellationToken.None));
            if (hold is null)
            {
                continue;
            }

            worker.Held[target] = worker.Held.GetValueOrDefault(target) + s.Quantity;
            if (s.Scenario != BenchScenario.Mix)
            {
                continue;
            }

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
    /// Each capacity compared (those held from in mix, the pool in the others) must have moved by exactly the tickets
    /// the service acknowledged there and on the capacities below it (a hold on a section counts on its pool). Not
    /// compared when a request ended without a definite answer: it may or may not have taken effect.
    /// </summary>
    private static BenchCounters CompareCounters(IReadOnlyList<CapacityDetails> before, IReadOnlyList<CapacityDetails> after, Guid[] compared, BenchWorker[] workers)
    {
        var parentsOf = before.ToDictionary(x => x.Id, x => x.ParentIds);
        var was = before.ToDictionary(x => x.Id);
        var now = after.ToDictionary(x => x.Id);
        long expectedSold = 0, expectedReserved = 0, sold = 0, reserved = 0;
        var ok = true;
        foreach (var target in compared)
        {
            long wantSold = 0, wantReserved = 0;
            foreach (var other in before.Select(x => x.Id).Where(t => t == target || AncestorsOf(t, parentsOf).Contains(target)))
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

    /// <summary>
    /// Each capacity of the event left negative, or with reserved and sold together past its total and overbooking
    /// allowance: whatever the answers were, the service must never let that happen.
    /// </summary>
    private static List<string> PastLimits(IReadOnlyList<CapacityDetails> after)
    {
        var past = new List<string>();
        foreach (var x in after)
        {
            var limit = x.TotalCapacity + (x.OverbookLimit ?? 0);
            if (x.ReservedCapacity < 0 || x.SoldCount < 0 || x.ReservedCapacity + x.SoldCount > limit)
            {
                past.Add($"{x.SectionName} ({x.Id}): reserved {x.ReservedCapacity}, sold {x.SoldCount}, limit {limit?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
            }
        }

        return past;
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

    /// <summary>What <c>bench --scenario</c> runs; the names are the load generator's.</summary>
    private enum BenchScenario
    {
        Mix,
        Onsale,
        Soldout,
        Reads,
        Rules,
    }

    private enum BenchOperation
    {
        Hold,
        Confirm,
        Release,
        Read,
    }

    /// <summary>What one worker saw. Only its own task touches it, so recording never contends.</summary>
    private sealed class BenchWorker
    {
        public long Cycles { get; set; }

        private static readonly int Operations = Enum.GetValues<BenchOperation>().Length;

        public List<long>[] Latency { get; } = [.. Enumerable.Range(0, Operations).Select(_ => new List<long>())];

        public long[] Ok { get; } = new long[Operations];

        /// <summary>409 answers: the state refused it (sold out, not on sale, …), and nothing changed.</summary>
        public long[] Refused { get; } = new long[Operations];

        public long[] Failed { get; } = new long[Operations];

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
/// <param name="Scenario">mix, onsale, soldout, reads or rules.</param>
/// <param name="PoolId">The pool the scenario created; null for mix, which creates nothing.</param>
/// <param name="CapacityIds">The capacities held from (or read), in turn.</param>
/// <param name="Workers">Buyers at once.</param>
/// <param name="Seconds">How long the run took, its last holds' confirms and releases included.</param>
/// <param name="Quantity">Tickets per hold.</param>
/// <param name="ConfirmPercent">The share of holds confirmed; the others were released.</param>
/// <param name="Interrupted">Whether Ctrl+C stopped it early.</param>
/// <param name="Cycles">Holds attempted (reads, in the reads scenario).</param>
/// <param name="Requests">Requests answered or failed, of every operation.</param>
/// <param name="RequestsPerSecond">Requests over seconds.</param>
/// <param name="Operations">Each operation's counts and latency percentiles.</param>
/// <param name="Errors">Answers other than success, by status and code, or <c>transport</c>.</param>
/// <param name="Expected">What every answer of the scenario had to be, and how many were; null for mix.</param>
/// <param name="Counters">The event's counters against what the service acknowledged.</param>
/// <param name="PastLimits">Each capacity of the event left negative or past its total and overbooking allowance; empty when none.</param>
/// <param name="Verify">The service's audit; null without the admin key.</param>
/// <param name="Ok">Whether every check passed.</param>
internal sealed record BenchReport(
    string EventId,
    string Scenario,
    Guid? PoolId,
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
    BenchExpected? Expected,
    BenchCounters Counters,
    IReadOnlyList<string> PastLimits,
    VerifyReport? Verify,
    bool Ok);

/// <summary>
/// One operation of a bench: how many, how they ended, and the latency of every answer (refusals included; a request
/// that got no answer has no latency), in milliseconds.
/// </summary>
internal sealed record BenchOperationReport(string Name, long Requests, long Ok, long Refused, long Failed, double P50Ms, double P90Ms, double P99Ms, double MaxMs);

/// <summary>
/// The capacities compared (those held from in mix, the pool in the others), summed: how far sold and reserved moved,
/// and how far the acknowledged answers say they should have. <paramref name="Compared"/> is false when some request
/// had no definite answer.
/// </summary>
internal sealed record BenchCounters(bool Compared, bool Ok, long Ambiguous, long ExpectedSold, long Sold, long ExpectedReserved, long Reserved);

/// <summary>
/// What every answer of a scenario had to be (<paramref name="Rule"/>), how many of the <paramref name="Of"/> requests
/// were so, and whether all were (and there was at least one).
/// </summary>
internal sealed record BenchExpected(string Rule, long Met, long Of, bool Ok);

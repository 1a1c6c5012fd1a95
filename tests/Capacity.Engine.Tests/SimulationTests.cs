using System.Globalization;
using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class SimulationTests_on_sqlite() : SimulationTests(StoreKind.Sqlite);

public sealed class SimulationTests_on_postgres() : SimulationTests(StoreKind.Postgres);

/// <summary>
/// Deterministic simulation of the engine over a real store: seeded random commands, a fake clock,
/// and a store that fails at chosen points (before commit, during commit, and after a commit whose
/// answer is then lost). Every command carries an Idempotency-Key and is retried with it until it
/// gets a definite answer. The reference is the pure core applied exactly once per command to an
/// in-memory working set: after every step, the engine's answer and the store's counters, holds and
/// ledger must equal the reference. Set CAPACITY_SIM_SEED to replay; the seed is in every failure.
/// </summary>
public abstract class SimulationTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Seeded_commands_with_injected_faults_agree_with_the_core_applied_once(int run)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CAPACITY_SIM_SEED"), CultureInfo.InvariantCulture, out var s) ? s + run : 4242 + run;
        await using var h = await EngineHarness.OpenAsync(kind);
        var sim = new Simulation(seed, h);
        try
        {
            await sim.RunAsync(steps: 250);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"Simulation failed on {kind}, seed {seed} (CAPACITY_SIM_SEED={seed - run}), at step {sim.Step}: {sim.Last}. {ex.Message}", ex);
        }

        Assert.True(sim.Faults > 10, $"only {sim.Faults} faults were injected");
        Assert.True(sim.Replays > 0, "no committed-but-unanswered batch was replayed");
        Assert.True(sim.Folded > 0, "no usage log entry was folded between the steps");
        Assert.True(h.Sqlite is not { UsageForgotten: 0 }, "the SQLite writer never forgot an idle capacity's usage (the clock moves 1 to 19 minutes one step in ten)");
    }

    private sealed class Simulation(int seed, EngineHarness h)
    {
        private readonly Random _random = new(seed);
        private readonly WorkingSet _reference = new();
        private readonly List<Guid> _capacities = [];
        private readonly List<Guid> _reservations = [];
        private int _keys;
        private int _limits;

        // Two holds in three name one of these buyers: their usage rows are written, unread where no
        // limit covers the capacity, and a few limits created on the way make some of them count.
        private static readonly string[] Buyers = ["s0", "s1", "s2", "s3"];

        public int Step { get; private set; }
        public string Last { get; private set; } = "";
        public int Faults { get; private set; }
        public int Replays { get; private set; }

        public int Folded { get; private set; }

        public async Task RunAsync(int steps)
        {
            for (Step = 0; Step < steps; Step++)
            {
                if (_random.Next(10) == 0)
                {
                    h.Clock.Advance(TimeSpan.FromMinutes(_random.Next(1, 20)));
                }

                var command = Next();
                Last = command.ToString();
                var now = DateTimeOffset.FromUnixTimeMilliseconds(h.Clock.GetUtcNow().ToUnixTimeMilliseconds());
                var expected = Decider.Decide(_reference, command, now, CoreLimits.Default);
                _reference.AcceptChanges();
                Track(command, expected);

                var actual = await SubmitUntilDefiniteAsync(command);
                Assert.Equal(Status(expected), actual);
                if (_random.Next(4) == 0)
                {
                    await FoldAsync();
                }

                await CompareStoreAsync();
            }
        }

        /// <summary>
        /// A slice of the usage log folded into the rows, as an idle node does between batches, failed at
        /// a chosen point one time in three (a failure before the commit leaves the log as it was, one
        /// after it has folded): either way every buyer's usage must still equal the reference's.
        /// </summary>
        private async Task FoldAsync()
        {
            // The points a fold passes (Load and Write are a batch's): each is taken by this fold.
            if (_random.Next(3) == 0)
            {
                Faults++;
                h.Store.FailNextBatchAt(new[] { FaultPoint.Begin, FaultPoint.Commit, FaultPoint.AfterCommit }[_random.Next(3)]);
            }

            try
            {
                Folded += await h.Engine.FoldUsageLogAsync(_random.Next(1, 5), CancellationToken.None);
            }
            catch (IOException)
            {
            }
        }

        /// <summary>What the answer's status would be; a replay carries the stored status.</summary>
        private static int Status(Outcome o) => o.Succeeded ? 200 : 400 + (int)o.Code;

        private async Task<int> SubmitUntilDefiniteAsync(Command command)
        {
            var idempotency = new IdempotencyRequest(Tenant, $"sim-{Interlocked.Increment(ref _keys)}", "POST", "/sim", [1]);
            for (var attempt = 0; attempt < 10; attempt++)
            {
                if (attempt == 0 && _random.Next(4) == 0)
                {
                    Faults++;
                    h.Store.FailNextBatchAt((FaultPoint)_random.Next(Enum.GetValues<FaultPoint>().Length));
                }

                var result = await h.Engine.SubmitAsync(command, idempotency, o => new StoredResponse(Status(o), [], null));
                switch (result.Status)
                {
                    case EngineStatus.Decided:
                        return Status(result.Outcome!.Value);
                    case EngineStatus.Replayed:
                        Replays++;
                        return result.Response!.Status;
                    case EngineStatus.Unavailable:
                        continue;
                    default:
                        throw new InvalidOperationException($"unexpected {result.Status}");
                }
            }

            throw new InvalidOperationException("no definite answer after 10 attempts");
        }

        private Command Next()
        {
            var roll = _random.Next(100);
            if (_capacities.Count < 3 || roll < 8)
            {
                var parents = _capacities.Count == 0 || _random.Next(3) == 0 ? [] : Pick(_capacities, _random.Next(1, 3)).Distinct().ToArray();
                int? total = _random.Next(4) == 0 ? null : _random.Next(0, 40);
                return new CreateCapacity(Tenant, Guid.CreateVersion7(), "sim", null, $"C{_capacities.Count}", null, total, parents, true, null);
            }

            if (roll < 45)
            {
                var items = Pick(_capacities, _random.Next(1, 3)).Select(c => new HoldItem(c, _random.Next(1, 6), null)).ToArray();
                return new PlaceHold(Tenant, Guid.CreateVersion7(), items, _random.Next(1, 30), _random.Next(3) == 0 ? null : Buyers[_random.Next(Buyers.Length)]);
            }

            if (roll < 80 && _reservations.Count > 0)
            {
                var id = _reservations[_random.Next(_reservations.Count)];
                return _random.Next(4) switch
                {
                    0 => new TransitionReservation(Tenant, id, Transition.Confirm),
                    1 => new TransitionReservation(Tenant, id, Transition.Release),
                    2 => new TransitionReservation(Tenant, id, Transition.Cancel),
                    _ => new ExtendReservation(Tenant, id, _random.Next(1, 60)),
                };
            }

            if (roll < 88)
            {
                var due = _reservations.Where(r => _reference.FindReservation(r) is { Status: ReservationStatus.Active } x && x.ExpiresAt <= h.Clock.GetUtcNow()).ToArray();
                return new ExpireDue(due);
            }

            if (roll >= 96 && _limits < 3)
            {
                var covered = Pick(_capacities, _random.Next(1, 3)).Distinct().ToArray();
                return new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "sim", $"L{_limits}", covered, _random.Next(4, 11), false);
            }

            var target = _capacities[_random.Next(_capacities.Count)];
            return _random.Next(3) == 0
                ? new UpdateCapacity(Tenant, target, default, default, default, Change<bool>.To(_random.Next(4) != 0))
                : new UpdateCapacity(Tenant, target, default, default, Change<int?>.To(_random.Next(0, 60)), default);
        }

        private void Track(Command command, Outcome outcome)
        {
            if (!outcome.Succeeded)
            {
                return;
            }

            switch (command)
            {
                case CreateCapacity c:
                    _capacities.Add(c.Id);
                    break;
                case PlaceHold p:
                    _reservations.Add(p.ReservationId);
                    break;
                case CreateBuyerLimit:
                    _limits++;
                    break;
            }
        }

        private IEnumerable<Guid> Pick(List<Guid> from, int count) => Enumerable.Range(0, count).Select(_ => from[_random.Next(from.Count)]);

        private async Task CompareStoreAsync()
        {
            var data = await h.Store.ReadAuditDataAsync(CancellationToken.None);
            foreach (var node in data.Capacities)
            {
                var expected = _reference.FindCapacity(node.Id) ?? throw new InvalidOperationException($"the store has capacity {node.Id}, which the reference never created");
                Assert.True(
                    (expected.Reserved, expected.Sold, expected.Total, expected.IsActive) == (node.Reserved, node.Sold, node.Total, node.IsActive),
                    $"capacity {node.SectionName}: store ({node.Reserved}, {node.Sold}, {node.Total}, {node.IsActive}) ≠ reference ({expected.Reserved}, {expected.Sold}, {expected.Total}, {expected.IsActive})");
            }

            Assert.Equal(_capacities.Count, data.Capacities.Count);
            foreach (var id in _reservations)
            {
                var expected = _reference.FindReservation(id)!.Value;
                var stored = await h.Store.GetReservationAsync(Tenant, id, CancellationToken.None)
                    ?? throw new InvalidOperationException($"reservation {id} is missing from the store");
                Assert.Equal(expected.Status, stored.Status);
                Assert.Equal(expected.ExpiresAt, stored.ExpiresAt);
            }

            foreach (var capacity in _capacities)
            {
                foreach (var buyer in Buyers)
                {
                    var (stored, expected) = (data.Usage.Find(capacity, buyer) ?? 0, _reference.UsageOf(capacity, buyer));
                    Assert.True(stored == expected, $"usage of {buyer} on capacity {capacity}: store {stored} ≠ reference {expected}");
                }
            }

            var live = _reservations.Count(r => _reference.FindReservation(r) is { Status: ReservationStatus.Active or ReservationStatus.Confirmed });
            Assert.Equal(live, data.LiveHolds.Count);

            var violations = Invariants.Check(data.Capacities, data.LiveHolds);
            violations.AddRange(Invariants.CheckLedger(data.Capacities, data.LedgerSums));
            Assert.True(violations.Count == 0, string.Join("\n", violations));
        }
    }
}

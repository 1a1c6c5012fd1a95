using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class HoldChangeCrashTests_on_sqlite() : HoldChangeCrashTests(StoreKind.Sqlite);

public sealed class HoldChangeCrashTests_on_postgres() : HoldChangeCrashTests(StoreKind.Postgres);

/// <summary>
/// Kill -9 the real server while carts over two tight pools are placed (with the platform's
/// reference and metadata), changed to new targets, confirmed in part, confirmed through
/// <c>on_expired: reclaim</c>, and refunded in part, all with Idempotency-Keys. Each hold's requests
/// go one at a time, so each hold's acknowledged history is a sequence: after each restart every
/// hold must read as acknowledged (status, quantities, refunds, reference), each pool's availability
/// must be its total less what the acknowledged holds and sales keep, and the audit must be clean.
/// CAPACITY_CRASH_CYCLES sets the cycles (4 by default here) and CAPACITY_CRASH_SEED replays a run.
/// </summary>
public abstract class HoldChangeCrashTests(StoreKind store)
{
    private const int Workers = 8;
    private const int Total = 40;

    [Fact]
    public async Task Killing_the_server_amid_hold_changes_partial_confirms_and_refunds_keeps_every_hold_and_pool_as_acknowledged()
    {
        await CrashHarness<Sent>.RunSeededAsync("Hold change crash test", store, 4, (seed, cycles) => new Run(seed).ExecuteAsync(store, cycles));
    }

    /// <summary>A hold as the acknowledged answers left it: what it keeps and what was refunded, per pool.</summary>
    private sealed record HoldState(string Ref, int[] Kept, int[] Refunded, string Status)
    {
        public bool Counts => Status is "active" or "confirmed";
    }

    /// <param name="Hold">The hold it changes, confirms or refunds; null for a new cart.</param>
    /// <param name="Targets">What the request asks of each pool: the cart's, the change's targets, the confirmed or refunded units.</param>
    private sealed record Sent(string Key, string Action, string Path, object? Body, string? Hold, int[] Targets, string Ref) : ICrashRequest
    {
        public HttpMethod Method => Action == "change" ? HttpMethod.Patch : HttpMethod.Post;
    }

    private sealed class Run
    {
        private readonly int _seed;
        private readonly Random _random;
        private readonly CrashHarness<Sent> _harness;
        private readonly ConcurrentDictionary<string, HoldState> _holds = new();
        private readonly ConcurrentDictionary<string, byte> _busy = new();
        private string[] _pools = [];
        private int _keys;
        private int _changed;
        private int _partlyConfirmed;
        private int _refunded;

        public Run(int seed)
        {
            (_seed, _random) = (seed, new Random(seed));
            _harness = new CrashHarness<Sent>(Record);
        }

        public async Task ExecuteAsync(StoreKind kind, int cycles)
        {
            await using var server = await CrashServer.StartAsync(kind, "Hold change crash");
            using (var setup = server.Client())
            {
                _pools = [await setup.CreateCapacityAsync("change-crash", "Stalls", Total), await setup.CreateCapacityAsync("change-crash", "Circle", Total)];
            }

            await _harness.RunAsync(server, cycles, _random, Workers, WorkAsync, async (client, where) =>
            {
                await server.AssertVerifiedAsync(where);
                await CheckAsync(client, where);
            });

            Assert.True(_changed > 10, $"only {_changed} changes were applied");
            Assert.True(_partlyConfirmed > 5, $"only {_partlyConfirmed} partial confirms were applied");
            Assert.True(_refunded > 3, $"only {_refunded} partial refunds were applied");
        }

        private async Task WorkAsync(HttpClient client, int workerSeed, CancellationToken stop)
        {
            var random = new Random(_seed ^ workerSeed);
            while (!stop.IsCancellationRequested)
            {
                var roll = random.Next(10);
                var wanted = roll < 8 ? "active" : "confirmed";
                var candidates = _holds.Where(h => h.Value.Status == wanted).Select(h => h.Key).ToArray();
                if (roll < 3 || candidates.Length == 0)
                {
                    if (!await _harness.SendAsync(client, NewCart(random, workerSeed)))
                    {
                        return; // the server is gone
                    }

                    continue;
                }

                // A hold's requests go one at a time, each built from what the hold is known to be now.
                var hold = candidates[random.Next(candidates.Length)];
                if (!_busy.TryAdd(hold, 0))
                {
                    continue;
                }

                var known = _holds[hold];
                if (known.Status != wanted)
                {
                    _busy.TryRemove(hold, out _);
                    continue;
                }

                var next = roll switch
                {
                    < 6 => Change(random, hold, known),
                    < 8 => ConfirmPart(random, hold, known),
                    _ => RefundPart(random, hold, known),
                };
                if (!await _harness.SendAsync(client, next))
                {
                    // Left busy: the request is in doubt until the restart resolves it (see CheckAsync).
                    return;
                }

                _busy.TryRemove(hold, out _);
            }
        }

        private Sent NewCart(Random random, int workerSeed)
        {
            int[] wanted = [random.Next(0, 4), random.Next(0, 4)];
            wanted[random.Next(2)] += 1;
            var reference = $"order-{Interlocked.Increment(ref _keys)}";
            var items = Enumerable.Range(0, 2).Where(p => wanted[p] > 0).Select(p => new { capacity_id = _pools[p], quantity = wanted[p] }).ToArray();
            return New("cart", "/reservations", new { items, reservation_minutes = 60, external_ref = reference, metadata = new { worker = $"{workerSeed}" } }, null, wanted, reference);
        }

        private Sent Change(Random random, string hold, HoldState known)
        {
            int[] targets = [random.Next(0, 5), random.Next(0, 5)];
            var items = Enumerable.Range(0, 2).Select(p => new { capacity_id = _pools[p], quantity = targets[p] }).ToArray();
            return New("change", $"/reservations/{hold}", new { items }, hold, targets, known.Ref);
        }

        /// <summary>Confirms part (at least one unit of what it keeps), through the plain or the reclaim path.</summary>
        private Sent ConfirmPart(Random random, string hold, HoldState known)
        {
            var part = Part(random, known.Kept);
            var items = Enumerable.Range(0, 2).Where(p => known.Kept[p] > 0).Select(p => new { capacity_id = _pools[p], quantity = part[p] }).ToArray();
            object body = random.Next(2) == 0 ? new { items } : new { items, on_expired = "reclaim" };
            return New("confirm", $"/reservations/{hold}/confirm", body, hold, part, known.Ref);
        }

        private Sent RefundPart(Random random, string hold, HoldState known)
        {
            var part = Part(random, known.Kept);
            var items = Enumerable.Range(0, 2).Where(p => part[p] > 0).Select(p => new { capacity_id = _pools[p], quantity = part[p] }).ToArray();
            return New("cancel", $"/reservations/{hold}/cancel", new { items }, hold, part, known.Ref);
        }

        /// <summary>Some units of what a hold keeps, at least one in all.</summary>
        private static int[] Part(Random random, int[] kept)
        {
            int[] part = [random.Next(0, kept[0] + 1), random.Next(0, kept[1] + 1)];
            if (part[0] + part[1] == 0)
            {
                part[kept[0] > 0 ? 0 : 1] = 1;
            }

            return part;
        }

        private Sent New(string action, string path, object? body, string? hold, int[] targets, string reference) =>
            new($"c{Interlocked.Increment(ref _keys)}", action, path, body, hold, targets, reference);

        /// <summary>Applies an answer to the model, checking it against what the hold was known to be.</summary>
        private void Record(Sent sent, HttpStatusCode status, string text)
        {
            var body = JsonNode.Parse(text)!.AsObject();
            var where = $"{sent.Action} {sent.Path} ({sent.Key}) answered {(int)status}: {text}";
            if (sent.Hold is null)
            {
                if (status == HttpStatusCode.Conflict)
                {
                    Assert.True(body["code"]!.GetValue<string>() == "INSUFFICIENT_CAPACITY", where);
                    return;
                }

                Assert.True(status == HttpStatusCode.Created, where);
                Assert.True(body["external_ref"]!.GetValue<string>() == sent.Ref, where);
                _holds[body["id"]!.GetValue<string>()] = new HoldState(sent.Ref, Kept(body), [0, 0], "active");
                return;
            }

            var known = _holds[sent.Hold];
            switch (sent.Action)
            {
                case "change":
                    if (status == HttpStatusCode.Conflict)
                    {
                        // Only growth can be refused, and only for room.
                        Assert.True(
                            body["code"]!.GetValue<string>() == "INSUFFICIENT_CAPACITY" && (sent.Targets[0] > known.Kept[0] || sent.Targets[1] > known.Kept[1]),
                            $"{where}; the hold kept {known.Kept[0]} + {known.Kept[1]}");
                        return;
                    }

                    Assert.True(status == HttpStatusCode.OK, where);
                    var released = sent.Targets.All(t => t == 0);
                    Assert.True(body["status"]!.GetValue<string>() == (released ? "released" : "active"), where);
                    _holds[sent.Hold] = known with { Kept = released ? known.Kept : sent.Targets, Status = released ? "released" : "active" };
                    if (!released)
                    {
                        Assert.True(Kept(body).SequenceEqual(sent.Targets), where);
                    }

                    Interlocked.Increment(ref _changed);
                    return;
                case "confirm":
                    Assert.True(status == HttpStatusCode.OK && body["status"]!.GetValue<string>() == "confirmed", where);
                    Assert.True(Kept(body).SequenceEqual(sent.Targets), where);
                    _holds[sent.Hold] = known with { Kept = sent.Targets, Status = "confirmed" };
                    Interlocked.Increment(ref _partlyConfirmed);
                    return;
                default:
                    Assert.True(status == HttpStatusCode.OK, where);
                    int[] kept = [known.Kept[0] - sent.Targets[0], known.Kept[1] - sent.Targets[1]];
                    int[] refunded = [known.Refunded[0] + sent.Targets[0], known.Refunded[1] + sent.Targets[1]];
                    var state = kept.Sum() == 0 ? "cancelled" : "confirmed";
                    Assert.True(body["status"]!.GetValue<string>() == state, where);
                    _holds[sent.Hold] = known with { Kept = kept, Refunded = refunded, Status = state };
                    Interlocked.Increment(ref _refunded);
                    return;
            }
        }

        private int[] Kept(JsonObject reservation) => Per(reservation, "quantity");

        private int[] Per(JsonObject reservation, string field)
        {
            var items = reservation["items"]!.AsArray();
            return [.. _pools.Select(p => items.Where(i => i!["capacity_id"]!.GetValue<string>() == p).Sum(i => i![field]?.GetValue<int>() ?? 0))];
        }

        private async Task CheckAsync(HttpClient client, string where)
        {
            // Every request in doubt has been resolved by now: its hold may take requests again.
            _busy.Clear();
            foreach (var (id, hold) in _holds)
            {
                var stored = await Api.ReadAsync(await client.GetAsync($"/reservations/{id}"), 200);
                var what = $"{where}: reservation {id} acknowledged {hold.Status} {hold.Kept[0]}+{hold.Kept[1]} refunded {hold.Refunded[0]}+{hold.Refunded[1]}, stored {stored.ToJsonString()}";
                Assert.True(stored["status"]!.GetValue<string>() == hold.Status && stored["external_ref"]!.GetValue<string>() == hold.Ref, what);
                if (hold.Status != "released")
                {
                    Assert.True(Kept(stored).SequenceEqual(hold.Kept) && Per(stored, "cancelled_quantity").SequenceEqual(hold.Refunded), what);
                }
            }

            for (var p = 0; p < _pools.Length; p++)
            {
                var kept = _holds.Values.Where(h => h.Counts).Sum(h => h.Kept[p]);
                Assert.True(await client.AvailableAsync(_pools[p]) == Total - kept, $"{where}: pool {p} should have {Total - kept} left");
            }

            // Every acknowledged reference finds its hold, and only it.
            var sample = _holds.Take(5).ToArray();
            foreach (var (id, hold) in sample)
            {
                var page = await Api.ReadAsync(await client.GetAsync($"/reservations?external_ref={hold.Ref}"), 200);
                Assert.True(page["reservations"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).SequenceEqual([id]), $"{where}: {hold.Ref} lists {page.ToJsonString()}");
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class AllocationCrashTests_on_sqlite() : AllocationCrashTests(StoreKind.Sqlite);

public sealed class AllocationCrashTests_on_postgres() : AllocationCrashTests(StoreKind.Postgres);

/// <summary>
/// Kill -9 the real server while clients create allocations, hold from them, confirm and release
/// those holds, give idle tickets back and close allocations, all with Idempotency-Keys, beside
/// public holds on the same pool. After each restart every request left without an answer is retried
/// and must get a definite one (and replay it), every allocation must read exactly as the
/// acknowledged answers left it, nothing may exist that no request asked for, and the audit must be
/// clean. Requests on one allocation go one at a time, so its acknowledged history is a sequence.
/// CAPACITY_CRASH_CYCLES sets the cycles (4 by default here) and CAPACITY_CRASH_SEED replays a run.
/// </summary>
public abstract class AllocationCrashTests(StoreKind store)
{
    private const int Workers = 8;

    [Fact]
    public async Task Killing_the_server_amid_allocation_traffic_loses_no_acknowledged_change_and_applies_none_twice()
    {
        await CrashHarness<Sent>.RunSeededAsync("Allocation crash test", store, 4, (seed, cycles) => new Run(seed).ExecuteAsync(store, cycles));
    }

    /// <summary>An allocation as the acknowledged answers left it.</summary>
    private sealed class Expected
    {
        public long Size;
        public long Held;
        public long Sold;
        public bool Closed;

        public long Idle => Size - Held - Sold;

        public override string ToString() => $"size {Size}, held {Held}, sold {Sold}, {(Closed ? "closed" : "open")}";
    }

    private sealed record HoldState(string Allocation, int Quantity, string Status);

    /// <param name="Allocation">The allocation the request touches (null for a create or a public hold).</param>
    /// <param name="Hold">The hold it confirms or releases.</param>
    private sealed record Sent(string Key, string Action, string Path, object? Body, string? Allocation, string? Hold, int Quantity) : ICrashRequest;

    private sealed class Run
    {
        private readonly int _seed;
        private readonly Random _random;
        private readonly CrashHarness<Sent> _harness;
        private readonly ConcurrentDictionary<string, Expected> _allocations = new();
        private readonly ConcurrentDictionary<string, HoldState> _holds = new();
        private readonly ConcurrentDictionary<string, byte> _busy = new();
        private int _keys;

        public Run(int seed)
        {
            (_seed, _random) = (seed, new Random(seed));
            _harness = new CrashHarness<Sent>(Record);
        }

        public async Task ExecuteAsync(StoreKind kind, int cycles)
        {
            await using var server = await CrashServer.StartAsync(kind, "Allocation crash");
            string pool, stalls;
            using (var setup = server.Client())
            {
                pool = await setup.CreateCapacityAsync("alloc-crash", "Pool", 20_000);
                stalls = await setup.CreateCapacityAsync("alloc-crash", "Stalls", 10_000, pool);
            }

            await _harness.RunAsync(
                server, cycles, _random, Workers, (client, workerSeed, stop) => WorkAsync(client, pool, stalls, workerSeed, stop),
                async (client, where) =>
                {
                    await server.AssertVerifiedAsync(where);
                    await CheckAsync(client, [pool, stalls], where);
                });

            Assert.True(_allocations.Count > 5, $"only {_allocations.Count} allocations were acknowledged");
            Assert.True(_harness.Acknowledged > 100, $"only {_harness.Acknowledged} requests were acknowledged");
        }

        private async Task WorkAsync(HttpClient client, string pool, string stalls, int workerSeed, CancellationToken stop)
        {
            var random = new Random(_seed ^ workerSeed);
            while (!stop.IsCancellationRequested)
            {
                var allocations = _allocations.Keys.ToArray();
                var holds = _holds.Where(h => h.Value.Status is "active").Select(h => h.Key).ToArray();
                var roll = random.Next(20);
                Sent next;
                if (allocations.Length == 0 || roll < 2)
                {
                    var on = random.Next(2) == 0 ? pool : stalls;
                    next = New("create", $"/capacity/{on}/allocations", new { name = $"Block {random.Next(1000)}", quantity = random.Next(5, 40) }, null, null, 0);
                }
                else if (roll < 4)
                {
                    next = New("public", $"/capacity/{stalls}/reserve", new { quantity = random.Next(1, 4), reservation_minutes = 60 }, null, null, 0);
                }
                else if (roll < 11 || holds.Length == 0)
                {
                    var allocation = allocations[random.Next(allocations.Length)];
                    var quantity = random.Next(1, 4);
                    next = New("hold", $"/capacity/{CapacityOf(allocation)}/reserve", new { quantity, reservation_minutes = 60, allocation_id = allocation }, allocation, null, quantity);
                }
                else if (roll < 16)
                {
                    var hold = holds[random.Next(holds.Length)];
                    var action = random.Next(2) == 0 ? "confirm" : "release";
                    next = New(action, $"/reservations/{hold}/{action}", null, _holds[hold].Allocation, hold, _holds[hold].Quantity);
                }
                else if (roll < 19)
                {
                    var allocation = allocations[random.Next(allocations.Length)];
                    var quantity = random.Next(1, 4);
                    next = New("give-back", $"/allocations/{allocation}/release", new { quantity }, allocation, null, quantity);
                }
                else
                {
                    var allocation = allocations[random.Next(allocations.Length)];
                    next = New("close", $"/allocations/{allocation}/close", null, allocation, null, 0);
                }

                if (!await SendAsync(client, next))
                {
                    return; // the server is gone
                }
            }
        }

        private readonly ConcurrentDictionary<string, string> _capacityOf = new();

        private string CapacityOf(string allocation) => _capacityOf[allocation];

        private Sent New(string action, string path, object? body, string? allocation, string? hold, int quantity) =>
            new($"a{Interlocked.Increment(ref _keys)}", action, path, body, allocation, hold, quantity);

        /// <summary>Sends one request unless its allocation is busy or its hold has moved on; false when the connection died.</summary>
        private async Task<bool> SendAsync(HttpClient client, Sent sent)
        {
            if (sent.Allocation is not null && !_busy.TryAdd(sent.Allocation, 0))
            {
                return true;
            }

            try
            {
                // The hold may have been confirmed or released since it was picked.
                return sent.Hold is not null && _holds[sent.Hold].Status != "active" || await _harness.SendAsync(client, sent);
            }
            finally
            {
                if (sent.Allocation is not null)
                {
                    _busy.TryRemove(sent.Allocation, out _);
                }
            }
        }

        /// <summary>Applies an answer to the model, checking every allocation answer against it.</summary>
        private void Record(Sent sent, HttpStatusCode status, string text)
        {
            var body = JsonNode.Parse(text)!.AsObject();
            var where = $"{sent.Action} {sent.Path} ({sent.Key}) answered {(int)status}: {text}";
            var expected = sent.Allocation is null ? null : _allocations[sent.Allocation];

            // A step on a hold that an earlier request (left in doubt, then retried) already ended:
            // a repeat of the same step answers 200, another step 409, and neither changes anything.
            if (sent.Hold is not null && _holds[sent.Hold].Status != "active")
            {
                var now = _holds[sent.Hold].Status;
                Assert.True(
                    status == HttpStatusCode.OK && body["status"]!.GetValue<string>() == now
                    || status == HttpStatusCode.Conflict && body["code"]!.GetValue<string>() == "RESERVATION_NOT_ACTIVE",
                    $"{where}; the hold is already {now}");
                return;
            }

            if (status is HttpStatusCode.Conflict)
            {
                var code = body["code"]!.GetValue<string>();
                switch (code)
                {
                    case "ALLOCATION_CLOSED":
                        Assert.True(expected!.Closed, $"{where}; expected {expected}");
                        break;
                    case "ALLOCATION_INSUFFICIENT":
                        Assert.True(body["idle"]!.GetValue<long>() == expected!.Idle, $"{where}; expected {expected}");
                        break;
                    case "INSUFFICIENT_CAPACITY":
                        Assert.True(sent.Action is "create" or "public", where);
                        break;
                    default:
                        Assert.Fail(where);
                        break;
                }

                return;
            }

            Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK, where);
            switch (sent.Action)
            {
                case "create":
                    var id = body["id"]!.GetValue<string>();
                    _capacityOf[id] = body["capacity_id"]!.GetValue<string>();
                    _allocations[id] = new Expected { Size = body["size"]!.GetValue<long>() };
                    AssertMatches(body, _allocations[id], where);
                    break;
                case "public":
                    break;
                case "hold":
                    var reservation = body["reservation"]!.AsObject();
                    Assert.Equal(sent.Allocation, reservation["items"]![0]!["allocation_id"]!.GetValue<string>());
                    expected!.Held += sent.Quantity;
                    _holds[reservation["id"]!.GetValue<string>()] = new HoldState(sent.Allocation!, sent.Quantity, "active");
                    break;
                case "confirm":
                    expected!.Held -= sent.Quantity;
                    expected.Sold += sent.Quantity;
                    _holds[sent.Hold!] = _holds[sent.Hold!] with { Status = "confirmed" };
                    Assert.Equal("confirmed", body["status"]!.GetValue<string>());
                    break;
                case "release":
                    expected!.Held -= sent.Quantity;
                    if (expected.Closed)
                    {
                        expected.Size -= sent.Quantity;
                    }

                    _holds[sent.Hold!] = _holds[sent.Hold!] with { Status = "released" };
                    Assert.Equal("released", body["status"]!.GetValue<string>());
                    break;
                case "give-back":
                    expected!.Size -= sent.Quantity;
                    AssertMatches(body, expected, where);
                    break;
                case "close":
                    expected!.Size -= expected.Idle;
                    expected.Closed = true;
                    AssertMatches(body, expected, where);
                    break;
            }
        }

        private static void AssertMatches(JsonObject allocation, Expected expected, string where)
        {
            var actual = $"size {allocation["size"]}, held {allocation["held"]}, sold {allocation["sold"]}, {allocation["status"]}";
            Assert.True(actual == expected.ToString(), $"{where}: reads {actual}, the acknowledged answers make it {expected}");
            Assert.Equal(expected.Idle, allocation["idle"]!.GetValue<long>());
        }

        private async Task CheckAsync(HttpClient client, string[] capacities, string where)
        {
            // Nothing exists that no request asked for, and each allocation reads as acknowledged.
            var stored = new HashSet<string>();
            foreach (var capacity in capacities)
            {
                var list = (await Api.ReadAsync(await client.GetAsync($"/capacity/{capacity}/allocations"), 200))["allocations"]!.AsArray();
                foreach (var allocation in list.Select(a => a!.AsObject()))
                {
                    var id = allocation["id"]!.GetValue<string>();
                    stored.Add(id);
                    Assert.True(_allocations.TryGetValue(id, out var expected), $"{where}: allocation {id} exists, but no acknowledged or retried request created it");
                    AssertMatches(allocation, expected!, $"{where}: allocation {id}");
                }
            }

            Assert.Equal(_allocations.Count, stored.Count);
            foreach (var (id, hold) in _holds)
            {
                var reservation = await Api.ReadAsync(await client.GetAsync($"/reservations/{id}"), 200);
                Assert.True(reservation["status"]!.GetValue<string>() == hold.Status, $"{where}: reservation {id} acknowledged {hold.Status}, stored {reservation["status"]}");
                Assert.Equal(hold.Allocation, reservation["items"]![0]!["allocation_id"]!.GetValue<string>());
            }
        }
    }
}

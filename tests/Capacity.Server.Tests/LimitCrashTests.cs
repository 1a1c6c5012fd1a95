using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class LimitCrashTests_on_sqlite() : LimitCrashTests(StoreKind.Sqlite);

public sealed class LimitCrashTests_on_postgres() : LimitCrashTests(StoreKind.Postgres);

/// <summary>
/// Kill -9 the real server while a few buyers, each under two per-buyer limits, place keyed holds
/// and carts, confirm, release and cancel them, join and leave the waiting list of a sold-out box
/// the larger limit covers too (units waited for count against it), beside unkeyed public holds, all
/// with Idempotency-Keys. Each buyer's requests go one at a time, so each buyer's acknowledged history
/// is a sequence: every placed hold and join must have fitted both limits, every BUYER_LIMIT_EXCEEDED
/// must name the usage the acknowledged answers left, and after each restart every buyer's usage,
/// every hold and every entry must read as acknowledged, with a clean audit. CAPACITY_CRASH_CYCLES sets the cycles
/// (4 by default here) and CAPACITY_CRASH_SEED replays a run.
/// </summary>
public abstract class LimitCrashTests(StoreKind store)
{
    private const int Workers = 8;
    private const int Buyers = 12;
    private const int SixEach = 6;
    private const int TwoInTheCircle = 2;

    [Fact]
    public async Task Killing_the_server_amid_keyed_holds_keeps_every_buyer_within_the_limits_and_usage_as_acknowledged()
    {
        await CrashHarness<Sent>.RunSeededAsync("Limit crash test", store, 4, (seed, cycles) => new Run(seed).ExecuteAsync(store, cycles));
    }

    /// <summary>A keyed hold as the acknowledged answers left it: its tickets in the stalls and in the circle (or an entry's units waited for in the box).</summary>
    private sealed record HoldState(string Buyer, int Stalls, int Circle, string Status)
    {
        public bool Counts => Status is "active" or "confirmed";
    }

    /// <param name="Buyer">The buyer whose request it is (null for a public hold).</param>
    /// <param name="Hold">The hold it confirms, releases or cancels.</param>
    /// <param name="Box">The units a join waits for in the sold-out box.</param>
    private sealed record Sent(string Key, string Action, string Path, object? Body, string? Buyer, string? Hold, int Stalls, int Circle, int Box = 0) : ICrashRequest
    {
        public HttpMethod Method => Action == "leave" ? HttpMethod.Delete : HttpMethod.Post;
    }

    private sealed class Run
    {
        private readonly int _seed;
        private readonly Random _random;
        private readonly CrashHarness<Sent> _harness;
        private readonly ConcurrentDictionary<string, HoldState> _holds = new();
        private readonly ConcurrentDictionary<string, (string Buyer, int Box, string Status)> _entries = new();
        private readonly ConcurrentDictionary<string, byte> _busy = new();
        private string _stalls = "", _circle = "", _box = "", _sixEach = "", _twoInTheCircle = "";
        private int _keys;
        private int _placed;
        private int _refusedByLimit;
        private int _joined;

        public Run(int seed)
        {
            (_seed, _random) = (seed, new Random(seed));
            _harness = new CrashHarness<Sent>(Record);
        }

        public async Task ExecuteAsync(StoreKind kind, int cycles)
        {
            await using var server = await CrashServer.StartAsync(kind, "Limit crash");
            using (var setup = server.Client())
            {
                var venue = await setup.CreateCapacityAsync("limit-crash", "Venue", 100_000);
                _stalls = await setup.CreateCapacityAsync("limit-crash", "Stalls", 50_000, venue);
                _circle = await setup.CreateCapacityAsync("limit-crash", "Circle", 50_000, venue);
                // Sold for good before the first join: its entries wait until they leave.
                _box = await setup.CreateCapacityAsync("limit-crash", "Box", 3);
                await Api.ReadAsync(await setup.TransitAsync(await setup.HoldAsync(_box, 3), "confirm"), 200);
                await setup.EnableWaitlistAsync(_box, "fifo");
                _sixEach = await setup.CreateLimitAsync("limit-crash", "Six each", SixEach, _stalls, _circle, _box);
                _twoInTheCircle = await setup.CreateLimitAsync("limit-crash", "Two in the circle", TwoInTheCircle, _circle);
            }

            await _harness.RunAsync(server, cycles, _random, Workers, WorkAsync, async (client, where) =>
            {
                await server.AssertVerifiedAsync(where);
                await CheckAsync(client, where);
            });

            Assert.True(_placed > 20, $"only {_placed} keyed holds were placed");
            Assert.True(_refusedByLimit > 20, $"only {_refusedByLimit} holds were refused by a limit");
            Assert.True(_joined > 5, $"only {_joined} entries joined the box's waiting list");
        }

        private async Task WorkAsync(HttpClient client, int workerSeed, CancellationToken stop)
        {
            var random = new Random(_seed ^ workerSeed);
            while (!stop.IsCancellationRequested)
            {
                var buyer = $"buyer-{random.Next(Buyers)}";
                var theirs = _holds.Where(h => h.Value.Buyer == buyer && h.Value.Counts).Select(h => h.Key).ToArray();
                var waiting = _entries.Where(e => e.Value.Buyer == buyer && e.Value.Status == "waiting").Select(e => e.Key).ToArray();
                var roll = random.Next(23);
                Sent next;
                if (roll >= 20)
                {
                    var quantity = random.Next(1, 3);
                    next = roll == 22 && waiting.Length > 0
                        ? New("leave", $"/waitlist/{waiting[random.Next(waiting.Length)]}", null, buyer, null, 0, 0)
                        : New("join", "/waitlist", new { items = new[] { new { capacity_id = _box, quantity } }, buyer_key = buyer }, buyer, null, 0, 0) with { Box = quantity };
                }
                else if (roll < 2)
                {
                    next = New("public", $"/capacity/{_circle}/reserve", new { quantity = random.Next(1, 4), reservation_minutes = 60 }, null, null, 0, 0);
                }
                else if (roll < 9 || theirs.Length == 0)
                {
                    var inCircle = random.Next(3) == 0;
                    var quantity = random.Next(1, 4);
                    next = New(
                        "hold", $"/capacity/{(inCircle ? _circle : _stalls)}/reserve", new { quantity, reservation_minutes = 60, buyer_key = buyer },
                        buyer, null, inCircle ? 0 : quantity, inCircle ? quantity : 0);
                }
                else if (roll < 13)
                {
                    var (stalls, circle) = (random.Next(1, 3), random.Next(1, 3));
                    var items = new[] { new { capacity_id = _stalls, quantity = stalls }, new { capacity_id = _circle, quantity = circle } };
                    next = New("cart", "/reservations", new { items, reservation_minutes = 60, buyer_key = buyer }, buyer, null, stalls, circle);
                }
                else
                {
                    var hold = theirs[random.Next(theirs.Length)];
                    var action = _holds[hold].Status == "confirmed" ? "cancel" : random.Next(2) == 0 ? "confirm" : "release";
                    next = New(action, $"/reservations/{hold}/{action}", null, buyer, hold, _holds[hold].Stalls, _holds[hold].Circle);
                }

                if (!await SendAsync(client, next))
                {
                    return; // the server is gone
                }
            }
        }

        private Sent New(string action, string path, object? body, string? buyer, string? hold, int stalls, int circle) =>
            new($"l{Interlocked.Increment(ref _keys)}", action, path, body, buyer, hold, stalls, circle);

        /// <summary>Sends one request unless its buyer is busy; false when the connection died.</summary>
        private async Task<bool> SendAsync(HttpClient client, Sent sent)
        {
            if (sent.Buyer is not null && !_busy.TryAdd(sent.Buyer, 0))
            {
                return true;
            }

            try
            {
                return await _harness.SendAsync(client, sent);
            }
            finally
            {
                if (sent.Buyer is not null)
                {
                    _busy.TryRemove(sent.Buyer, out _);
                }
            }
        }

        /// <summary>A buyer's tickets on the stalls and the circle in active holds and sales, and its units waited for in the box, as acknowledged.</summary>
        private (long Stalls, long Circle, long Box) Usage(string buyer)
        {
            long stalls = 0, circle = 0;
            foreach (var hold in _holds.Values.Where(h => h.Buyer == buyer && h.Counts))
            {
                (stalls, circle) = (stalls + hold.Stalls, circle + hold.Circle);
            }

            return (stalls, circle, _entries.Values.Where(e => e.Buyer == buyer && e.Status == "waiting").Sum(e => (long)e.Box));
        }

        /// <summary>Applies an answer to the model, checking each placement or limit refusal against it.</summary>
        private void Record(Sent sent, HttpStatusCode status, string text)
        {
            var body = JsonNode.Parse(text)!.AsObject();
            var where = $"{sent.Action} {sent.Path} ({sent.Key}) answered {(int)status}: {text}";
            if (sent.Action == "public")
            {
                Assert.True(status == HttpStatusCode.Created, where);
                return;
            }

            var (stalls, circle, box) = Usage(sent.Buyer!);
            if (sent.Action == "leave")
            {
                var entry = sent.Path["/waitlist/".Length..];
                Assert.True(status == HttpStatusCode.OK && body["status"]!.GetValue<string>() == "left", where);
                _entries[entry] = _entries[entry] with { Status = "left" };
                return;
            }

            if (sent.Hold is not null)
            {
                _holds[sent.Hold] = _holds[sent.Hold] with { Status = CrashHarness<Sent>.HoldStep(sent.Action, _holds[sent.Hold].Status, status, body, where) };
                return;
            }

            var fitsSix = stalls + circle + box + sent.Stalls + sent.Circle + sent.Box <= SixEach;
            var fitsTwo = circle + sent.Circle <= TwoInTheCircle;
            if (status == HttpStatusCode.Conflict)
            {
                Assert.True(body["code"]!.GetValue<string>() == "BUYER_LIMIT_EXCEEDED", where);
                var limit = body["limit_id"]!.GetValue<string>();
                var (used, requested) = limit == _sixEach ? (stalls + circle + box, sent.Stalls + sent.Circle + sent.Box) : (circle, sent.Circle);
                Assert.True(limit == _sixEach ? !fitsSix : limit == _twoInTheCircle && !fitsTwo, $"{where}; the buyer has {stalls} + {circle} + {box} waited for");
                Assert.True(body["used"]!.GetValue<long>() == used && body["requested"]!.GetValue<long>() == requested, $"{where}; the buyer has {stalls} + {circle} + {box} waited for");
                Interlocked.Increment(ref _refusedByLimit);
                return;
            }

            Assert.True(status == HttpStatusCode.Created && fitsSix && fitsTwo, $"{where}; the buyer had {stalls} + {circle} + {box} waited for");
            if (sent.Action == "join")
            {
                Assert.True(body["status"]!.GetValue<string>() == "waiting" && body["buyer_key"]!.GetValue<string>() == sent.Buyer, where);
                _entries[body["id"]!.GetValue<string>()] = (sent.Buyer!, sent.Box, "waiting");
                Interlocked.Increment(ref _joined);
                return;
            }

            var reservation = (sent.Action == "hold" ? body["reservation"]! : body).AsObject();
            Assert.Equal(sent.Buyer, reservation["buyer_key"]!.GetValue<string>());
            _holds[reservation["id"]!.GetValue<string>()] = new HoldState(sent.Buyer!, sent.Stalls, sent.Circle, "active");
            Interlocked.Increment(ref _placed);
        }

        private async Task CheckAsync(HttpClient client, string where)
        {
            for (var b = 0; b < Buyers; b++)
            {
                var buyer = $"buyer-{b}";
                var (stalls, circle, box) = Usage(buyer);
                Assert.True(await client.UsageAsync(_sixEach, buyer) == stalls + circle + box, $"{where}: {buyer} acknowledged {stalls} + {circle} + {box} waited for");
                Assert.True(await client.UsageAsync(_twoInTheCircle, buyer) == circle, $"{where}: {buyer} acknowledged {circle} in the circle");
            }

            foreach (var (id, hold) in _holds)
            {
                var reservation = await Api.ReadAsync(await client.GetAsync($"/reservations/{id}"), 200);
                Assert.True(reservation["status"]!.GetValue<string>() == hold.Status, $"{where}: reservation {id} acknowledged {hold.Status}, stored {reservation["status"]}");
            }

            foreach (var (id, entry) in _entries)
            {
                var stored = await Api.ReadAsync(await client.GetAsync($"/waitlist/{id}"), 200);
                Assert.True(stored["status"]!.GetValue<string>() == entry.Status, $"{where}: entry {id} acknowledged {entry.Status}, stored {stored["status"]}");
            }
        }
    }
}

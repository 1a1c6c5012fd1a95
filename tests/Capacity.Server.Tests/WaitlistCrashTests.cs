using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class WaitlistCrashTests_on_sqlite() : WaitlistCrashTests(StoreKind.Sqlite);

public sealed class WaitlistCrashTests_on_postgres() : WaitlistCrashTests(StoreKind.Postgres);

/// <summary>
/// Kill -9 the real server while buyers hold, confirm, release and cancel tickets of a small pool
/// with a fifo waiting list and of an early bird (the regular tier opens when it sells out, and it
/// closes), join them, leave them, and confirm or let go of the offers they make, all with
/// Idempotency-Keys. The early bird sells out before the traffic starts, by the join of a pair that waits
/// for more than it has left; closed to the public, it still offers the pair the tickets that come back.
/// Offers are made by the server in the batch that frees the tickets, so the test cannot predict them;
/// it checks what must hold whatever happened: every acknowledged join exists, no entry's status goes
/// back past what was acknowledged (waiting, offered, then accepted, lapsed or left for good), every
/// entry that is no longer waiting had its offer (its own reservation) or left, the early bird stays
/// closed by its sell-out and takes no hold or join, every public hold reads as acknowledged, and the
/// audit is clean after each restart (which includes: no entry waits while it fits). CAPACITY_CRASH_CYCLES sets the cycles (4 by default here), CAPACITY_CRASH_SEED
/// replays a run.
/// </summary>
public abstract class WaitlistCrashTests(StoreKind store)
{
    private const int Workers = 8;
    private const int PoolSize = 30;
    private const int EarlySize = 8;

    [Fact]
    public async Task Killing_the_server_amid_waiting_list_traffic_loses_no_acknowledged_entry_and_keeps_the_queue_settled()
    {
        await CrashHarness<Sent>.RunSeededAsync("Waitlist crash test", store, 4, (seed, cycles) => new Run(seed).ExecuteAsync(store, cycles));
    }

    /// <param name="Target">The hold or entry the request acts on; null for a new hold or a join.</param>
    /// <param name="Capacity">The capacity a new hold or a join takes from.</param>
    private sealed record Sent(string Key, string Action, string Path, object? Body, string? Target, string? Capacity = null) : ICrashRequest
    {
        public HttpMethod Method => Action == "leave" ? HttpMethod.Delete : HttpMethod.Post;
    }

    private sealed class Run
    {
        private readonly int _seed;
        private readonly Random _random;
        private readonly CrashHarness<Sent> _harness;

        // Public holds as acknowledged; entries with the furthest status acknowledged for them.
        private readonly ConcurrentDictionary<string, string> _holds = new();
        private readonly ConcurrentDictionary<string, string> _entries = new();
        private readonly ConcurrentDictionary<string, byte> _busy = new();
        private string _pool = "", _early = "", _pair = "";
        private int _keys;
        private int _offersSeen;
        private int _offersEnded;

        public Run(int seed)
        {
            (_seed, _random) = (seed, new Random(seed));
            _harness = new CrashHarness<Sent>(Record);
        }

        public async Task ExecuteAsync(StoreKind kind, int cycles)
        {
            await using var server = await CrashServer.StartAsync(kind, "Waitlist crash");
            using (var setup = server.Client())
            {
                _pool = await setup.CreateCapacityAsync("waitlist-crash", "Floor", PoolSize);
                await setup.EnableWaitlistAsync(_pool, "fifo", offerMinutes: 60);
                _early = await setup.CreateCapacityAsync("waitlist-crash", "Early bird", EarlySize);
                await Api.ReadAsync(await setup.PostAsync("/events/waitlist-crash/capacity", Api.Json(new
                {
                    section_name = "Regular", total_capacity = 100, opens_after_sold_out_of = _early,
                })), 201);
                await setup.EnableWaitlistAsync(_early, "fifo", offerMinutes: 60);

                // Every early ticket but one is held, one by one, as the workers' own holds; a pair then asks
                // for two: it waits, owed the last one, so the public has nothing left and the join sells the
                // early bird out. The workers' releases give the pair its tickets, the early bird closed.
                for (var i = 0; i < EarlySize - 1; i++)
                {
                    _holds[await setup.HoldAsync(_early, 1, 120)] = "active";
                }

                _pair = (await setup.JoinOkAsync(null, (_early, 2)))["id"]!.GetValue<string>();
                _entries[_pair] = "waiting";
                Assert.Equal("sold_out", (await setup.GetCapacityAsync(_early))["closed_reason"]?.GetValue<string>());
            }

            await _harness.RunAsync(server, cycles, _random, Workers, WorkAsync, async (client, where) =>
            {
                await server.AssertVerifiedAsync(where);
                await CheckAsync(client, where);
            });

            Assert.True(_entries.Count > 8, $"only {_entries.Count} entries joined");
            Assert.True(_offersSeen > 3, $"only {_offersSeen} offers were seen");
            Assert.True(_offersEnded > 0, $"only {_offersEnded} offers were confirmed or released");
            Assert.True(_entries[_pair] != "waiting", $"the pair waiting on the closed early bird was never offered the early tickets that came back ({_entries[_pair]})");
        }

        private async Task WorkAsync(HttpClient client, int workerSeed, CancellationToken stop)
        {
            var random = new Random(_seed ^ workerSeed);
            while (!stop.IsCancellationRequested)
            {
                var roll = random.Next(20);
                Sent next;
                var active = _holds.Where(h => h.Value is "active" or "confirmed").Select(h => h.Key).ToArray();
                var live = _entries.Where(e => e.Value is "waiting" or "offered").Select(e => e.Key).ToArray();
                var capacity = random.Next(4) == 0 ? _early : _pool;
                if (roll < 5 || active.Length == 0 && live.Length == 0)
                {
                    next = New("hold", $"/capacity/{capacity}/reserve", new { quantity = random.Next(1, 3), reservation_minutes = 60 }, null) with { Capacity = capacity };
                }
                else if (roll < 10 || live.Length == 0)
                {
                    var items = new[] { new { capacity_id = capacity, quantity = random.Next(1, 4) } };
                    next = New("join", "/waitlist", new { items, external_ref = $"w{workerSeed}" }, null) with { Capacity = capacity };
                }
                else if (roll < 15 && active.Length > 0)
                {
                    var hold = active[random.Next(active.Length)];
                    var action = _holds[hold] == "confirmed" ? "cancel" : random.Next(3) == 0 ? "confirm" : "release";
                    next = New(action, $"/reservations/{hold}/{action}", null, hold);
                }
                else
                {
                    // An entry's offer, if it has one, is the reservation with its id: confirm it, let it go, or leave.
                    var entry = live[random.Next(live.Length)];
                    next = random.Next(3) switch
                    {
                        0 => New("leave", $"/waitlist/{entry}", null, entry),
                        1 => New("accept", $"/reservations/{entry}/confirm", null, entry),
                        _ => New("decline", $"/reservations/{entry}/release", null, entry),
                    };
                }

                if (!await SendAsync(client, next))
                {
                    return; // the server is gone
                }
            }
        }

        private Sent New(string action, string path, object? body, string? target) => new($"w{Interlocked.Increment(ref _keys)}", action, path, body, target);

        /// <summary>Sends one request unless another acts on the same hold or entry; false when the connection died.</summary>
        private async Task<bool> SendAsync(HttpClient client, Sent sent)
        {
            if (sent.Target is not null && !_busy.TryAdd(sent.Target, 0))
            {
                return true;
            }

            try
            {
                // The target was picked from a snapshot: another worker may have ended the entry since
                // (a leave releases the offer, after which a decline answers 200, unchanged). Holding
                // the target now, the model is current for it.
                if (sent.Target is not null && _entries.TryGetValue(sent.Target, out var known) && known is not ("waiting" or "offered"))
                {
                    return true;
                }

                return await _harness.SendAsync(client, sent);
            }
            finally
            {
                if (sent.Target is not null)
                {
                    _busy.TryRemove(sent.Target, out _);
                }
            }
        }

        private static int Rank(string status) => status switch { "waiting" => 0, "offered" => 1, _ => 2 };

        /// <summary>Keeps the furthest status acknowledged for an entry, failing if an answer goes back.</summary>
        private void Advance(string entry, string status, string where) =>
            _entries.AddOrUpdate(entry, status, (_, known) =>
            {
                Assert.True(Rank(status) >= Rank(known) && (Rank(known) < 2 || status == known), $"{where}: entry {entry} was {known}, now {status}");
                return status;
            });

        /// <summary>Applies a definite answer to the model.</summary>
        private void Record(Sent sent, HttpStatusCode status, string text)
        {
            var body = JsonNode.Parse(text)!.AsObject();
            var where = $"{sent.Action} {sent.Path} ({sent.Key}) answered {(int)status}: {text}";

            // Once the early bird sold out it is closed: holds and joins there are refused so.
            var closedEarly = status == HttpStatusCode.Conflict && sent.Capacity == _early && body["code"]!.GetValue<string>() == "CAPACITY_INACTIVE";
            switch (sent.Action)
            {
                case "hold":
                    Assert.True(
                        status == HttpStatusCode.Created || closedEarly || status == HttpStatusCode.Conflict && body["code"]!.GetValue<string>() == "INSUFFICIENT_CAPACITY", where);
                    if (status == HttpStatusCode.Created)
                    {
                        _holds[body["reservation"]!["id"]!.GetValue<string>()] = "active";
                    }

                    return;
                case "join":
                    Assert.True(status == HttpStatusCode.Created || closedEarly, where);
                    if (status == HttpStatusCode.Created)
                    {
                        Advance(body["id"]!.GetValue<string>(), body["status"]!.GetValue<string>(), where);
                    }

                    return;
                case "leave":
                    Assert.True(status == HttpStatusCode.OK, where);
                    Advance(sent.Target!, body["status"]!.GetValue<string>(), where);
                    return;
                case "accept" or "decline":
                    // 404: no offer yet; 409: the offer ended already (expired, or accepted before). A decline
                    // of an offer already released answers 200, unchanged: SendAsync skips entries that ended.
                    Assert.True(status is HttpStatusCode.OK or HttpStatusCode.NotFound or HttpStatusCode.Conflict, where);
                    if (status == HttpStatusCode.OK)
                    {
                        Assert.Equal(sent.Target, body["waitlist_id"]!.GetValue<string>());
                        var reservationStatus = body["status"]!.GetValue<string>();
                        Advance(sent.Target!, reservationStatus == "confirmed" ? "accepted" : "lapsed", where);
                        Interlocked.Increment(ref _offersEnded);
                    }

                    return;
                default:
                    // A step on a public hold.
                    _holds[sent.Target!] = CrashHarness<Sent>.HoldStep(sent.Action, _holds[sent.Target!], status, body, where);
                    return;
            }
        }

        private async Task CheckAsync(HttpClient client, string where)
        {
            var early = await client.GetCapacityAsync(_early);
            Assert.True(early["closed_reason"]?.GetValue<string>() == "sold_out", $"{where}: the early bird reads {early}");
            foreach (var (id, known) in _entries)
            {
                var entry = await Api.ReadAsync(await client.GetAsync($"/waitlist/{id}"), 200);
                var stored = entry["status"]!.GetValue<string>();
                Assert.True(Rank(stored) >= Rank(known) && (Rank(known) < 2 || stored == known), $"{where}: entry {id} acknowledged {known}, stored {stored}");
                if (stored != "waiting")
                {
                    Assert.Equal(id, entry["offer_reservation_id"]?.GetValue<string>() ?? (stored == "left" ? id : null));
                }

                if (entry["offer_reservation_id"] is not null)
                {
                    var offer = await Api.ReadAsync(await client.GetAsync($"/reservations/{id}"), 200);
                    Assert.Equal(id, offer["waitlist_id"]!.GetValue<string>());
                    Interlocked.Increment(ref _offersSeen);
                }

                Advance(id, stored, where);
            }

            foreach (var (id, status) in _holds)
            {
                var reservation = await Api.ReadAsync(await client.GetAsync($"/reservations/{id}"), 200);
                Assert.True(reservation["status"]!.GetValue<string>() == status, $"{where}: reservation {id} acknowledged {status}, stored {reservation["status"]}");
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class SaleRulesCrashTests_on_sqlite() : SaleRulesCrashTests(StoreKind.Sqlite);

public sealed class SaleRulesCrashTests_on_postgres() : SaleRulesCrashTests(StoreKind.Postgres);

/// <summary>
/// Kill -9 the real server while buyers hold, confirm and release tickets of an early bird and the
/// regular tier that opens when it sells out, a flash sale that closes when sold out, and a pool
/// overbooked on purpose, all with Idempotency-Keys. After each restart: every hold reads as
/// acknowledged, each capacity's counters are what the acknowledged holds keep, the regular tier
/// opened at most once and took nothing before it opened, the early bird and the flash sale stay
/// closed once closed, and the audit (which checks total + allowance) is clean.
/// CAPACITY_CRASH_CYCLES sets the cycles (4 by default here), CAPACITY_CRASH_SEED replays a run.
/// </summary>
public abstract class SaleRulesCrashTests(StoreKind store)
{
    private const int Workers = 8;

    [Fact]
    public async Task Killing_the_server_amid_tiered_flash_and_overbooked_sales_keeps_every_rule_and_every_acknowledged_hold()
    {
        await CrashHarness<Sent>.RunSeededAsync("Sale rules crash test", store, 4, (seed, cycles) => new Run(seed).ExecuteAsync(store, cycles));
    }

    private sealed record HoldState(string Capacity, int Quantity, string Status)
    {
        public bool Counts => Status is "active" or "confirmed";
    }

    /// <param name="Hold">The hold it confirms or releases; null for a new hold.</param>
    private sealed record Sent(string Key, string Action, string Path, object? Body, string? Hold, string Capacity, int Quantity) : ICrashRequest;

    private sealed class Run
    {
        private readonly int _seed;
        private readonly Random _random;
        private readonly CrashHarness<Sent> _harness;
        private readonly ConcurrentDictionary<string, HoldState> _holds = new();
        private readonly ConcurrentDictionary<string, byte> _busy = new();
        private string _early = "", _regular = "", _flash = "", _overbooked = "";
        private string[] _capacities = [];
        private int _keys;
        private int _placed;
        private bool _earlyClosedSeen, _flashClosedSeen;

        public Run(int seed)
        {
            (_seed, _random) = (seed, new Random(seed));
            _harness = new CrashHarness<Sent>(Record);
        }

        public async Task ExecuteAsync(StoreKind kind, int cycles)
        {
            await using var server = await CrashServer.StartAsync(kind, "Sale rules crash");
            using (var setup = server.Client())
            {
                var venue = await setup.CreateCapacityAsync("rules-crash", "Venue", 100_000);
                _early = await setup.CreateCapacityAsync("rules-crash", "Early bird", 60, venue);
                _regular = await Create(setup, new { section_name = "Regular", total_capacity = 50_000, parent_ids = new[] { venue }, opens_after_sold_out_of = _early });
                _flash = await Create(setup, new { section_name = "Flash", total_capacity = 40, close_when_sold_out = true });
                _overbooked = await Create(setup, new { section_name = "Free gig", total_capacity = 30, overbook_limit = 10 });
                _capacities = [_early, _regular, _flash, _overbooked];
            }

            await _harness.RunAsync(server, cycles, _random, Workers, WorkAsync, async (client, where) =>
            {
                _busy.Clear();
                await server.AssertVerifiedAsync(where);
                await CheckAsync(client, where);
            });

            Assert.True(_placed > 15, $"only {_placed} holds were placed");
        }

        private static async Task<string> Create(HttpClient client, object body) =>
            (await Api.ReadAsync(await client.PostAsync("/events/rules-crash/capacity", Api.Json(body)), 201))["id"]!.GetValue<string>();

        private async Task WorkAsync(HttpClient client, int workerSeed, CancellationToken stop)
        {
            var random = new Random(_seed ^ workerSeed);
            while (!stop.IsCancellationRequested)
            {
                var active = _holds.Where(h => h.Value.Status == "active").Select(h => h.Key).ToArray();
                if (random.Next(3) > 0 || active.Length == 0)
                {
                    var capacity = _capacities[random.Next(_capacities.Length)];
                    var quantity = random.Next(1, 3);
                    var hold = new Sent($"s{Interlocked.Increment(ref _keys)}", "hold", $"/capacity/{capacity}/reserve", new { quantity, reservation_minutes = 60 }, null, capacity, quantity);
                    if (!await _harness.SendAsync(client, hold))
                    {
                        return;
                    }

                    continue;
                }

                var id = active[random.Next(active.Length)];
                if (!_busy.TryAdd(id, 0) || _holds[id].Status != "active")
                {
                    continue;
                }

                var action = random.Next(2) == 0 ? "confirm" : "release";
                var known = _holds[id];
                if (!await _harness.SendAsync(client, new Sent($"s{Interlocked.Increment(ref _keys)}", action, $"/reservations/{id}/{action}", null, id, known.Capacity, known.Quantity)))
                {
                    return; // left busy: resolved after the restart
                }

                _busy.TryRemove(id, out _);
            }
        }

        private void Record(Sent sent, HttpStatusCode status, string text)
        {
            var body = JsonNode.Parse(text)!.AsObject();
            var where = $"{sent.Action} {sent.Path} ({sent.Key}) answered {(int)status}: {text}";
            if (sent.Hold is not null)
            {
                _holds[sent.Hold] = _holds[sent.Hold] with { Status = CrashHarness<Sent>.HoldStep(sent.Action, _holds[sent.Hold].Status, status, body, where) };
                return;
            }

            if (status == HttpStatusCode.Conflict)
            {
                var code = body["code"]!.GetValue<string>();
                Assert.True(code switch
                {
                    "SALE_NOT_OPEN" => sent.Capacity == _regular,
                    "CAPACITY_INACTIVE" => sent.Capacity == _flash || sent.Capacity == _early,
                    "INSUFFICIENT_CAPACITY" => sent.Capacity != _regular,
                    _ => false,
                }, where);
                _earlyClosedSeen |= code == "CAPACITY_INACTIVE" && sent.Capacity == _early;
                _flashClosedSeen |= code == "CAPACITY_INACTIVE" && sent.Capacity == _flash;
                return;
            }

            Assert.True(status == HttpStatusCode.Created, where);
            _holds[body["reservation"]!["id"]!.GetValue<string>()] = new HoldState(sent.Capacity, sent.Quantity, "active");
            Interlocked.Increment(ref _placed);
        }

        private async Task CheckAsync(HttpClient client, string where)
        {
            foreach (var (id, hold) in _holds)
            {
                var stored = await Api.ReadAsync(await client.GetAsync($"/reservations/{id}"), 200);
                Assert.True(stored["status"]!.GetValue<string>() == hold.Status, $"{where}: reservation {id} acknowledged {hold.Status}, stored {stored["status"]}");
            }

            foreach (var capacity in _capacities)
            {
                var view = await client.GetCapacityAsync(capacity);
                var kept = _holds.Values.Where(h => h.Capacity == capacity && h.Counts).Sum(h => (long)h.Quantity);
                Assert.True(
                    view["reserved_capacity"]!.GetValue<long>() + view["sold_count"]!.GetValue<long>() == kept,
                    $"{where}: {view["section_name"]} keeps {kept} acknowledged tickets, its counters say {view.ToJsonString()}");
            }

            // The regular tier opened at most once, and nothing of it was held before it opened; an
            // early bird or a flash sale seen closed stays closed.
            var kinds = new List<(string Kind, string Capacity)>();
            for (long? after = 0; after is not null;)
            {
                var page = await Api.ReadAsync(await client.GetAsync($"/events/rules-crash/ledger?limit=1000&after={after}"), 200);
                kinds.AddRange(page["entries"]!.AsArray().Select(e => (e!["kind"]!.GetValue<string>(), e["capacity_id"]!.GetValue<string>())));
                after = page["next_after"]?.GetValue<long>();
            }

            Assert.True(kinds.Count(k => k.Kind == "open") <= 1, $"{where}: the regular tier opened more than once");
            var opened = kinds.IndexOf(("open", _regular));
            Assert.DoesNotContain(("hold", _regular), opened < 0 ? kinds : kinds.Take(opened));
            if (_earlyClosedSeen)
            {
                Assert.False((await client.GetCapacityAsync(_early))["is_active"]!.GetValue<bool>(), $"{where}: the early bird reopened");
            }

            if (_flashClosedSeen)
            {
                Assert.Equal("sold_out", (await client.GetCapacityAsync(_flash))["closed_reason"]!.GetValue<string>());
            }
        }
    }
}

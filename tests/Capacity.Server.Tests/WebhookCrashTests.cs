using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class WebhookCrashTests_on_sqlite() : WebhookCrashTests(StoreKind.Sqlite);

public sealed class WebhookCrashTests_on_postgres() : WebhookCrashTests(StoreKind.Postgres);

/// <summary>
/// Kill -9 the real server with notices committed and not yet sent, and while buyers hold and confirm
/// with Idempotency-Keys and the dispatcher sends. After the restarts: every confirm that was
/// acknowledged reaches the receiver (at least once; repeats carry the same webhook-id), nothing is
/// sent for a confirm that did not commit, and the endpoint's sequence numbers arrive without a gap.
/// CAPACITY_CRASH_CYCLES sets the cycles (3 by default here), CAPACITY_CRASH_SEED replays a run.
/// </summary>
public abstract class WebhookCrashTests(StoreKind store)
{
    private const int Workers = 6;

    private static Dictionary<string, string> Settings(bool dispatch) => new()
    {
        ["Capacity:Webhooks:AllowPrivateNetworks"] = "true",
        ["Capacity:Webhooks:PollIntervalMs"] = "50",
        // A killed node's lease on the endpoint (2 × timeout + 5 s) runs out within the wait below.
        ["Capacity:Webhooks:TimeoutMs"] = "2000",
        ["Capacity:Webhooks:Dispatch"] = dispatch ? "true" : "false",
    };

    [Fact]
    public async Task A_notice_committed_before_a_kill_and_never_sent_is_delivered_after_the_restart()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await CrashServer.StartAsync(store, "Webhook crash", Settings(dispatch: false));
        string hook;
        using (var client = server.Client())
        {
            var pool = await client.CreateCapacityAsync("hooked", "Floor", 2);
            hook = (await Api.ReadAsync(await client.PostAsync("/webhooks", Api.Json(new { url = receiver.Url, events = new[] { "capacity.sold_out" } })), 201))["id"]!.GetValue<string>();
            await client.HoldAsync(pool, 2);
            var pending = (await Api.ReadAsync(await client.GetAsync($"/webhooks/{hook}/deliveries"), 200))["deliveries"]!.AsArray();
            Assert.Equal("pending", Assert.Single(pending)!["status"]!.GetValue<string>());
        }

        server.Process.Kill();
        await server.RestartAsync(Settings(dispatch: true));
        var told = await receiver.WaitForAsync(m => m.Type == "capacity.sold_out");
        Assert.Equal(1, told.Sequence);
        using var after = server.Client();
        await WaitDeliveredAsync(after, hook, 1);
        await server.AssertVerifiedAsync("after the restart");
    }

    [Fact]
    public async Task Killing_the_server_amid_confirms_and_deliveries_loses_no_notice_and_invents_none()
    {
        await CrashHarness<Sent>.RunSeededAsync("Webhook crash test", store, 3, (seed, cycles) => new Run(seed).ExecuteAsync(store, cycles));
    }

    private static async Task WaitDeliveredAsync(HttpClient client, string hook, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var all = new List<JsonNode>();
            for (long? after = 0; after is not null;)
            {
                var page = await Api.ReadAsync(await client.GetAsync($"/webhooks/{hook}/deliveries?limit=1000&after={after}"), 200);
                all.AddRange(page["deliveries"]!.AsArray().Select(d => d!));
                after = page["next_after"]?.GetValue<long>();
            }

            if (all.Count >= count && all.All(d => d["status"]!.GetValue<string>() == "delivered"))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{all.Count(d => d["status"]!.GetValue<string>() == "delivered")} of {all.Count} deliveries delivered, {count} expected");
            await Task.Delay(100);
        }
    }

    private sealed record Sent(string Key, string Action, string Path, object? Body, string? Hold) : ICrashRequest;

    private sealed class Run
    {
        private readonly int _seed;
        private readonly Random _random;
        private readonly CrashHarness<Sent> _harness;
        private readonly ConcurrentDictionary<string, string> _holds = new();
        private readonly ConcurrentDictionary<string, byte> _busy = new();
        private string _pool = "";
        private int _keys;

        public Run(int seed)
        {
            (_seed, _random) = (seed, new Random(seed));
            _harness = new CrashHarness<Sent>(Record);
        }

        public async Task ExecuteAsync(StoreKind kind, int cycles)
        {
            await using var receiver = await WebhookReceiver.StartAsync();
            await using var server = await CrashServer.StartAsync(kind, "Webhook crash", Settings(dispatch: true));
            string hook;
            using (var setup = server.Client())
            {
                _pool = await setup.CreateCapacityAsync("hook-crash", "Floor", 100_000);
                hook = (await Api.ReadAsync(await setup.PostAsync("/webhooks", Api.Json(new { url = receiver.Url, events = new[] { "reservation.confirmed" } })), 201))["id"]!.GetValue<string>();
            }

            await _harness.RunAsync(server, cycles, _random, Workers, WorkAsync, async (_, where) =>
            {
                _busy.Clear();
                await server.AssertVerifiedAsync(where);
            });

            var confirmed = _holds.Where(h => h.Value == "confirmed").Select(h => h.Key).ToHashSet();
            Assert.True(confirmed.Count > 10, $"only {confirmed.Count} confirms were acknowledged");
            using var client = server.Client();
            await WaitDeliveredAsync(client, hook, confirmed.Count);

            // Repeats after a kill carry the id of the first send; counted once, they are exactly the confirms.
            var once = receiver.Messages.GroupBy(m => m.Id).Select(g => g.First()).ToList();
            Assert.All(once, m => Assert.Equal("reservation.confirmed", m.Type));
            Assert.Equal(confirmed.Order(), once.Select(m => m.Data["id"]!.GetValue<string>()).Order());
            Assert.Equal([.. Enumerable.Range(1, once.Count).Select(i => (long)i)], once.Select(m => m.Sequence).Order());
            await server.AssertVerifiedAsync("at the end");
        }

        private async Task WorkAsync(HttpClient client, int workerSeed, CancellationToken stop)
        {
            var random = new Random(_seed ^ workerSeed);
            while (!stop.IsCancellationRequested)
            {
                var active = _holds.Where(h => h.Value == "active").Select(h => h.Key).ToArray();
                if (random.Next(2) == 0 || active.Length == 0)
                {
                    var hold = new Sent($"w{Interlocked.Increment(ref _keys)}", "hold", $"/capacity/{_pool}/reserve", new { quantity = 1, reservation_minutes = 60 }, null);
                    if (!await _harness.SendAsync(client, hold))
                    {
                        return;
                    }

                    continue;
                }

                var id = active[random.Next(active.Length)];
                if (!_busy.TryAdd(id, 0) || _holds[id] != "active")
                {
                    continue;
                }

                if (!await _harness.SendAsync(client, new Sent($"w{Interlocked.Increment(ref _keys)}", "confirm", $"/reservations/{id}/confirm", null, id)))
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
                _holds[sent.Hold] = CrashHarness<Sent>.HoldStep(sent.Action, _holds[sent.Hold], status, body, where);
                return;
            }

            Assert.True(status == HttpStatusCode.Created, where);
            _holds[body["reservation"]!["id"]!.GetValue<string>()] = "active";
        }
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class CrashTests_on_sqlite() : CrashTests(StoreKind.Sqlite);

public sealed class CrashTests_on_postgres() : CrashTests(StoreKind.Postgres);

/// <summary>
/// Kill -9 the real server at random moments while many clients hold, confirm, release, extend and
/// cancel with Idempotency-Keys; restart it and check that everything acknowledged is there as
/// acknowledged, that nothing exists that no request asked for, that every in-doubt request gets a
/// definite answer on retry and applies at most once, and that the invariants and the ledger hold.
/// CAPACITY_CRASH_CYCLES sets the cycles (10 by default; tests/soak/crash.sh runs more) and
/// CAPACITY_CRASH_SEED replays a run; the seed is in every failure message.
/// </summary>
public abstract class CrashTests(StoreKind store)
{
    private const int Workers = 12;

    [Fact]
    public async Task Killing_the_server_mid_batch_loses_nothing_acknowledged_and_applies_nothing_twice()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CAPACITY_CRASH_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        var cycles = int.TryParse(Environment.GetEnvironmentVariable("CAPACITY_CRASH_CYCLES"), CultureInfo.InvariantCulture, out var c) ? c : 10;
        var run = new Run(seed);
        try
        {
            await run.ExecuteAsync(store, cycles);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"Crash test failed on {store} with seed {seed} (replay: CAPACITY_CRASH_SEED={seed}). {ex.Message}", ex);
        }
    }

    private sealed record Sent(string Key, HttpMethod Method, string Path, object? Body, string? Reservation, string Action);

    private sealed class Run(int seed)
    {
        private readonly Random _random = new(seed);
        private readonly ConcurrentDictionary<string, string> _acknowledged = new(); // reservation id → last acknowledged status
        private readonly ConcurrentDictionary<string, Sent> _inDoubt = new();
        private readonly ConcurrentDictionary<string, byte> _known = new();
        private readonly ConcurrentDictionary<string, byte> _busy = new();
        private int _keys;
        private int _resolved;

        public async Task ExecuteAsync(StoreKind kind, int cycles)
        {
            var directory = Path.Combine(Path.GetTempPath(), "capacity-crash", Guid.NewGuid().ToString("N"));
            var settings = new Dictionary<string, string>
            {
                ["Storage:DataDirectory"] = directory,
                ["Auth:AdminKey"] = CapacityApp.AdminKey,
                ["Capacity:SweepIntervalMs"] = "200",

                // Small slices of the usage log folded whenever the writer is idle, so that kills land
                // among folds as well as batches.
                ["Capacity:UsageFoldSlice"] = "3",
            };
            if (kind == StoreKind.Postgres)
            {
                settings["Storage:Provider"] = "postgres";
                settings["Storage:Postgres:ConnectionString"] = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
            }

            var server = await ServerProcess.StartAsync(settings);
            var limited = false;
            try
            {
                string key, pool, capped, shared;
                using (var admin = server.Client(CapacityApp.AdminKey))
                {
                    key = (await Api.ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Crash" }), 201))["api_key"]!.GetValue<string>();
                }

                using (var setup = server.Client(key))
                {
                    pool = await setup.CreateCapacityAsync("crash", "Pool", 5000);
                    capped = await setup.CreateCapacityAsync("crash", "Capped", 3000, pool);
                    shared = await setup.CreateCapacityAsync("crash", "Shared", null, pool);
                }

                for (var cycle = 0; cycle < cycles; cycle++)
                {
                    using (var client = server.Client(key))
                    {
                        using var stop = new CancellationTokenSource();
                        var workers = Enumerable.Range(0, Workers).Select(w => WorkAsync(client, [capped, shared], w * 7919 + cycle, stop.Token)).ToList();
                        if (cycle > 0 && !limited)
                        {
                            // From the second cycle on, a limit too large to refuse anyone covers the capped
                            // section: its creation folds the usage the keyed holds appended to the log, in the
                            // middle of the traffic, and the capped section's usage goes to the rows from then on.
                            limited = await TryCreateLimitAsync(client, capped);
                        }

                        await Task.Delay(_random.Next(150, 900));
                        server.Kill();
                        await stop.CancelAsync();
                        await Task.WhenAll(workers);
                    }

                    await server.DisposeAsync();
                    server = await ServerProcess.StartAsync(settings);
                    using var check = server.Client(key);
                    await ResolveInDoubtAsync(check);
                    await CheckAsync(server, check, pool, $"cycle {cycle}");
                }

                // The last node, idle now, folds what the keyed holds left in the usage log (the shared
                // section's, which no limit covers); each cycle's checks above ran beside such folds.
                using var metrics = server.Client(key);
                var waited = System.Diagnostics.Stopwatch.StartNew();
                while (OperationsTests.ParsePrometheus(await metrics.GetStringAsync("/metrics")).Where(s => s.Name == "capacity_engine_usage_log_folded_total").Sum(s => s.Value) == 0)
                {
                    Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "the idle node folded none of the usage log");
                    await Task.Delay(100);
                }

                await CheckAsync(server, metrics, pool, "after the last node's folds");
            }
            finally
            {
                // Also when a check fails: a server left running would hold its port and a share of the
                // cores for the rest of the suite (one did, after a failure in CI).
                await server.DisposeAsync();
            }

            // Guard against a run that proves nothing: the kills must have cut requests in flight.
            Assert.True(_resolved > 0, "no request was in flight at any kill");
            Assert.True(limited || cycles < 3, "no limit's creation was acknowledged");
            Assert.True(_acknowledged.Count > 50, $"only {_acknowledged.Count} holds were acknowledged");
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private async Task WorkAsync(HttpClient client, string[] capacities, int workerSeed, CancellationToken stop)
        {
            var random = new Random(seed ^ workerSeed);
            while (!stop.IsCancellationRequested)
            {
                var known = _acknowledged.ToArray();
                Sent next;
                var roll = random.Next(10);
                if (roll < 5 || known.Length == 0)
                {
                    // A quarter of the holds last a minute, so expiries happen across kills and restarts too.
                    // Two in three name one of a few buyers, whose usage rows each commit writes (unread:
                    // no limit covers these capacities); the verify after each cycle checks them.
                    var minutes = random.Next(4) == 0 ? 1 : 30;
                    var path = $"/capacity/{capacities[random.Next(capacities.Length)]}/reserve";
                    next = random.Next(3) == 0
                        ? New(HttpMethod.Post, path, new { quantity = random.Next(1, 4), reservation_minutes = minutes }, null, "hold")
                        : New(HttpMethod.Post, path, new { quantity = random.Next(1, 4), reservation_minutes = minutes, buyer_key = $"crash-{random.Next(6)}" }, null, "hold");
                }
                else
                {
                    var (id, status) = known[random.Next(known.Length)];
                    next = status switch
                    {
                        "active" => random.Next(3) switch
                        {
                            0 => New(HttpMethod.Post, $"/reservations/{id}/confirm", null, id, "confirm"),
                            1 => New(HttpMethod.Post, $"/reservations/{id}/release", null, id, "release"),
                            _ => New(HttpMethod.Post, $"/reservations/{id}/extend", new { minutes = 30 }, id, "extend"),
                        },
                        "confirmed" => New(HttpMethod.Post, $"/reservations/{id}/cancel", null, id, "cancel"),
                        _ => New(HttpMethod.Post, $"/reservations/{id}/confirm", null, id, "confirm"),
                    };
                }

                if (!await SendAsync(client, next))
                {
                    return; // the server is gone
                }
            }
        }

        private static async Task<bool> TryCreateLimitAsync(HttpClient client, string capacity)
        {
            try
            {
                using var response = await client.PostAsJsonAsync("/events/crash/limits", new { name = "Generous", capacity_ids = new[] { capacity }, per_buyer_max = 1_000_000 });
                return response.StatusCode == HttpStatusCode.Created;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false; // killed first: in doubt, tried again next cycle (a second limit changes nothing)
            }
        }

        private Sent New(HttpMethod method, string path, object? body, string? reservation, string action) =>
            new($"k{Interlocked.Increment(ref _keys)}", method, path, body, reservation, action);

        /// <summary>Sends one request; false when the connection died, leaving the request in doubt.</summary>
        private async Task<bool> SendAsync(HttpClient client, Sent sent)
        {
            // One request per reservation at a time, so "last acknowledged" has a meaning.
            if (sent.Reservation is not null && !_busy.TryAdd(sent.Reservation, 0))
            {
                return true;
            }

            try
            {
                _inDoubt[sent.Key] = sent;
                HttpResponseMessage response;
                try
                {
                    response = await client.SendAsync(Request(sent));
                }
                catch (Exception e) when (ServerProcess.NoAnswer(e))
                {
                    return false;
                }

                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    return true; // not applied, not recorded: stays in doubt, resolved by a retry later
                }

                _inDoubt.TryRemove(sent.Key, out _);
                Record(sent, response.StatusCode, text);
                return true;
            }
            finally
            {
                if (sent.Reservation is not null)
                {
                    _busy.TryRemove(sent.Reservation, out _);
                }
            }
        }

        private static HttpRequestMessage Request(Sent sent)
        {
            var request = new HttpRequestMessage(sent.Method, sent.Path);
            request.Headers.Add("Idempotency-Key", sent.Key);
            if (sent.Body is not null)
            {
                request.Content = JsonContent.Create(sent.Body);
            }

            return request;
        }

        private void Record(Sent sent, HttpStatusCode status, string text)
        {
            if (status is HttpStatusCode.Created or HttpStatusCode.OK)
            {
                var body = JsonNode.Parse(text)!.AsObject();
                var reservation = (body["reservation"] ?? body).AsObject();
                var id = reservation["id"]!.GetValue<string>();
                _known[id] = 0;
                _acknowledged[id] = reservation["status"]!.GetValue<string>();
                return;
            }

            Assert.True(status is HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity, $"{sent.Action} {sent.Path} answered {(int)status}: {text}");
            if (sent.Reservation is not null && JsonNode.Parse(text)?["code"]?.GetValue<string>() == "RESERVATION_NOT_ACTIVE")
            {
                return;
            }
        }

        /// <summary>Every request that never got an answer is retried with its key: the answer must now be definite, and a second retry must replay it.</summary>
        private async Task ResolveInDoubtAsync(HttpClient client)
        {
            foreach (var sent in _inDoubt.Values.OrderBy(s => int.Parse(s.Key[1..], CultureInfo.InvariantCulture)).ToList())
            {
                var first = await client.SendAsync(Request(sent));
                var firstText = await first.Content.ReadAsStringAsync();
                Assert.True(first.StatusCode != HttpStatusCode.ServiceUnavailable, $"in-doubt {sent.Action} {sent.Key} still unavailable after restart");
                var again = await client.SendAsync(Request(sent));
                Assert.Equal(first.StatusCode, again.StatusCode);
                Assert.Equal(firstText, await again.Content.ReadAsStringAsync());
                Assert.True(again.Headers.Contains("Idempotent-Replayed"), $"retry of {sent.Key} was not replayed");
                _inDoubt.TryRemove(sent.Key, out _);
                Interlocked.Increment(ref _resolved);
                Record(sent, first.StatusCode, firstText);
            }
        }

        private async Task CheckAsync(ServerProcess server, HttpClient client, string pool, string where)
        {
            using var admin = server.Client(CapacityApp.AdminKey);
            var verify = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
            Assert.True(verify["ok"]!.GetValue<bool>(), $"{where}: {verify.ToJsonString()}");

            // The sweeper may expire a hold while we read (a reservation at a time, over seconds), so compare
            // with the pool exactly when the pool did not move during the reads. When it moved in every
            // try, the holds counted as reserved whose time was up by the pool's second read may or may
            // not have been swept before it: the pool's reserved lies between the count without them and
            // the count with them. Sales do not move without a client, and the clients are stopped.
            for (var attempt = 0; ; attempt++)
            {
                var poolBefore = await client.GetCapacityAsync(pool);
                var (expectedReserved, expectedSold, reservedExpiries) = await ExpectedCountersAsync(client, where);
                var poolAfter = await client.GetCapacityAsync(pool);
                var readAfter = DateTimeOffset.UtcNow;
                var reserved = poolAfter["reserved_capacity"]!.GetValue<long>();
                Assert.Equal(expectedSold, poolAfter["sold_count"]!.GetValue<long>());
                if (poolBefore.ToJsonString() == poolAfter.ToJsonString())
                {
                    Assert.Equal(expectedReserved, reserved);
                    break;
                }

                if (attempt == 9)
                {
                    var maybeSwept = reservedExpiries.Where(h => h.Expires <= readAfter).Sum(h => h.Quantity);
                    Assert.InRange(reserved, expectedReserved - maybeSwept, expectedReserved);
                    break;
                }
            }

            // Nothing exists that no request asked for: every reservation in the ledger is one we heard of.
            long after = 0;
            while (true)
            {
                var page = await Api.ReadAsync(await client.GetAsync($"/events/crash/ledger?after={after}&limit=1000"), 200);
                foreach (var entry in page["entries"]!.AsArray())
                {
                    var reservation = entry!["reservation_id"]!.GetValue<string>();
                    Assert.True(_known.ContainsKey(reservation), $"{where}: the ledger names reservation {reservation}, which no acknowledged or retried request created");
                }

                if (page["next_after"] is null)
                {
                    break;
                }

                after = page["next_after"]!.GetValue<long>();
            }
        }

        /// <summary>Checks each acknowledged reservation and adds up what the pool should hold, with the expiry and size of each hold counted as reserved.</summary>
        private async Task<(long Reserved, long Sold, List<(DateTimeOffset Expires, long Quantity)> ReservedExpiries)> ExpectedCountersAsync(HttpClient client, string where)
        {
            long expectedReserved = 0, expectedSold = 0;
            var reservedExpiries = new List<(DateTimeOffset Expires, long Quantity)>();
            foreach (var (id, acknowledged) in _acknowledged)
            {
                var stored = await Api.ReadAsync(await client.GetAsync($"/reservations/{id}"), 200);
                var expires = DateTimeOffset.Parse(stored["expires_at"]!.GetValue<string>(), CultureInfo.InvariantCulture);
                var status = stored["status"]!.GetValue<string>();

                // An acknowledged hold may since have expired, but only once its time was up.
                if (acknowledged == "active" && status == "expired")
                {
                    Assert.True(DateTimeOffset.UtcNow >= expires, $"{where}: {id} expired before {expires:O}");
                    if (stored["ended_at"]?.GetValue<string>() is { } ended)
                    {
                        Assert.True(DateTimeOffset.Parse(ended, CultureInfo.InvariantCulture) >= expires, $"{where}: {id} ended at {ended}, before its expiry {expires:O}");
                    }

                    _acknowledged[id] = "expired";
                }
                else
                {
                    Assert.True(status == acknowledged, $"{where}: reservation {id} acknowledged {acknowledged}, stored {status}");
                }

                if (stored["confirmed_at"]?.GetValue<string>() is { } confirmed)
                {
                    Assert.True(DateTimeOffset.Parse(confirmed, CultureInfo.InvariantCulture) < expires, $"{where}: {id} confirmed after its expiry");
                }

                // An expired hold the sweeper has not reached yet still counts in reserved.
                var quantity = stored["items"]!.AsArray().Sum(i => i!["quantity"]!.GetValue<long>());
                var unswept = status == "expired" && stored["ended_at"] is null;
                if (status == "active" || unswept)
                {
                    expectedReserved += quantity;
                    reservedExpiries.Add((expires, quantity));
                }

                expectedSold += status == "confirmed" ? quantity : 0;
            }

            return (expectedReserved, expectedSold, reservedExpiries);
        }
    }
}

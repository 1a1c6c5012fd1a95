using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Allocations over HTTP: blocks of a capacity set aside, holds drawn from them, idle tickets given
/// back, closing, expiry, and what the capacity, the ledger and the stream show of them.
/// </summary>
public sealed class AllocationTests_on_sqlite() : AllocationTests(StoreKind.Sqlite);

public sealed class AllocationTests_on_postgres() : AllocationTests(StoreKind.Postgres);

public abstract class AllocationTests(StoreKind store)
{
    private Task<CapacityApp> NewAppAsync(bool manualClock = false, Dictionary<string, string?>? settings = null) =>
        CapacityApp.CreateAsync(store, settings, manualClock);

    [Fact]
    public async Task A_pool_of_100_with_40_set_aside_sells_exactly_60_to_500_concurrent_public_holds_and_holds_from_the_allocation_leave_the_public_alone()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("onsale", "Pool", 100);
        var box = await t.AllocateAsync(pool, "Box office", 40);
        Assert.Equal(60, await t.AvailableAsync(pool));

        for (var i = 0; i < 5; i++)
        {
            await Api.ReadAsync(await t.ReserveFromAsync(pool, 2, box), 201);
        }

        Assert.Equal(60, await t.AvailableAsync(pool));

        var responses = await Task.WhenAll(Enumerable.Range(0, 500).Select(_ => t.ReserveAsync(pool, 1)));
        Assert.Equal(60, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(440, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        await Api.ProblemAsync(responses.First(r => r.StatusCode == HttpStatusCode.Conflict), 409, "INSUFFICIENT_CAPACITY");
        Assert.Equal(0, await t.AvailableAsync(pool));

        // Sold out to the public, the allocation still sells its own idle tickets, and only those.
        var fromBox = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => t.ReserveFromAsync(pool, 1, box)));
        Assert.Equal(30, fromBox.Count(r => r.StatusCode == HttpStatusCode.Created));
        var refused = await Api.ProblemAsync(fromBox.First(r => r.StatusCode == HttpStatusCode.Conflict), 409, "ALLOCATION_INSUFFICIENT");
        Assert.Equal(0, refused["idle"]!.GetValue<long>());
        Assert.Equal(box, refused["allocation_id"]!.GetValue<string>());
        Assert.Equal((40L, 40L, 0L, 0L, "open"), Counters(await t.AllocationAsync(box)));

        var p = await t.GetCapacityAsync(pool);
        Assert.Equal(0, p["available_capacity"]!.GetValue<long>());
        Assert.Equal(100, p["reserved_capacity"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Releasing_10_idle_gives_them_to_the_public_and_releasing_11_with_10_idle_is_refused_and_changes_nothing()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var box = await t.AllocateAsync(pool, "Sponsor", 40);
        await Api.ReadAsync(await t.ReserveFromAsync(pool, 20, box), 201);
        var confirmed = (await Api.ReadAsync(await t.ReserveFromAsync(pool, 10, box), 201))["reservation"]!["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.TransitAsync(confirmed, "confirm"), 200);
        Assert.Equal((40L, 20L, 10L, 10L, "open"), Counters(await t.AllocationAsync(box)));

        var released = await Api.ReadAsync(await t.PostAsync($"/allocations/{box}/release", Api.Json(new { quantity = 10 })), 200);
        Assert.Equal((30L, 20L, 10L, 0L, "open"), Counters(released));
        Assert.Equal(70, await t.AvailableAsync(pool));

        await Api.ReadAsync(await t.PutAsync($"/allocations/{box}", Api.Json(new { quantity = 40 })), 200);
        Assert.Equal(60, await t.AvailableAsync(pool));
        var allocationBefore = (await t.AllocationAsync(box)).ToJsonString();
        var capacityBefore = (await t.GetCapacityAsync(pool)).ToJsonString();

        var problem = await Api.ProblemAsync(await t.PostAsync($"/allocations/{box}/release", Api.Json(new { quantity = 11 })), 409, "ALLOCATION_INSUFFICIENT");
        Assert.Equal(10, problem["idle"]!.GetValue<long>());
        Assert.Equal("/problems/allocation-insufficient", problem["type"]!.GetValue<string>());
        Assert.Equal(allocationBefore, (await t.AllocationAsync(box)).ToJsonString());
        Assert.Equal(capacityBefore, (await t.GetCapacityAsync(pool)).ToJsonString());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_expired_hold_from_an_allocation_returns_to_its_idle_not_to_the_public()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var box = await t.AllocateAsync(pool, "Box office", 40);
        var hold = (await Api.ReadAsync(await t.ReserveFromAsync(pool, 5, box, minutes: 1), 201))["reservation"]!["id"]!.GetValue<string>();
        Assert.Equal((40L, 5L, 0L, 35L, "open"), Counters(await t.AllocationAsync(box)));

        app.Clock!.Advance(TimeSpan.FromSeconds(61));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        await WaitForAsync(async () => (await Api.ReadAsync(await t.GetAsync($"/reservations/{hold}"), 200))["ended_at"] is not null);

        Assert.Equal("expired", (await Api.ReadAsync(await t.GetAsync($"/reservations/{hold}"), 200))["status"]!.GetValue<string>());
        Assert.Equal((40L, 0L, 0L, 40L, "open"), Counters(await t.AllocationAsync(box)));
        Assert.Equal(60, await t.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Closing_while_holds_are_live_frees_the_idle_tickets_at_once_and_the_held_ones_once_when_they_expire()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var child = await t.CreateCapacityAsync("e", "Stalls", 50, pool);
        var box = await t.AllocateAsync(child, "Box office", 30);
        var a = (await Api.ReadAsync(await t.ReserveFromAsync(child, 4, box, minutes: 1), 201))["reservation"]!["id"]!.GetValue<string>();
        var b = (await Api.ReadAsync(await t.ReserveFromAsync(child, 6, box, minutes: 1), 201))["reservation"]!["id"]!.GetValue<string>();
        Assert.Equal(70, await t.AvailableAsync(pool));

        var closed = await Api.ReadAsync(await t.PostAsync($"/allocations/{box}/close", null), 200);
        Assert.Equal((10L, 10L, 0L, 0L, "closed"), Counters(closed));
        Assert.Equal(90, await t.AvailableAsync(pool));
        Assert.Equal(40, await t.AvailableAsync(child));

        // A second close is an answer, not a change.
        var again = await Api.ReadAsync(await t.PostAsync($"/allocations/{box}/close", Api.Json("{}")), 200);
        Assert.Equal(closed.ToJsonString(), again.ToJsonString());
        await Api.ProblemAsync(await t.ReserveFromAsync(child, 1, box), 409, "ALLOCATION_CLOSED");
        await Api.ProblemAsync(await t.PostAsync($"/allocations/{box}/release", Api.Json(new { quantity = 1 })), 409, "ALLOCATION_CLOSED");
        await Api.ProblemAsync(await t.PutAsync($"/allocations/{box}", Api.Json(new { name = "Renamed" })), 409, "ALLOCATION_CLOSED");

        // One of the two is released by hand, the other lapses; each frees its tickets exactly once.
        await Api.ReadAsync(await t.TransitAsync(a, "release"), 200);
        Assert.Equal(94, await t.AvailableAsync(pool));
        app.Clock!.Advance(TimeSpan.FromSeconds(61));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        await WaitForAsync(async () => await t.AvailableAsync(pool) == 100);
        await Api.ReadAsync(await t.TransitAsync(a, "release"), 200);

        Assert.Equal(100, await t.AvailableAsync(pool));
        Assert.Equal(50, await t.AvailableAsync(child));
        Assert.Equal((0L, 0L, 0L, 0L, "closed"), Counters(await t.AllocationAsync(box)));
        Assert.Equal("expired", (await Api.ReadAsync(await t.GetAsync($"/reservations/{b}"), 200))["status"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_allocation_past_its_expiry_is_closed_by_the_sweep_exactly_once()
    {
        await using var app = await NewAppAsync(manualClock: true, settings: new() { ["Capacity:SweepIntervalMs"] = "3600000" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var expiresAt = app.Clock!.GetUtcNow().AddHours(1);
        var box = await t.AllocateAsync(pool, "Early bird", 30, expiresAt);
        var kept = await t.AllocateAsync(pool, "Press", 10);
        await Api.ReadAsync(await t.ReserveFromAsync(pool, 5, box, minutes: 120), 201);

        Assert.Equal(0, await app.Sweeper.CloseDueAllocationsAsync(CancellationToken.None));
        app.Clock.Advance(TimeSpan.FromMinutes(61));
        Assert.Equal(1, await app.Sweeper.CloseDueAllocationsAsync(CancellationToken.None));
        Assert.Equal(0, await app.Sweeper.CloseDueAllocationsAsync(CancellationToken.None));

        var closed = await t.AllocationAsync(box);
        Assert.Equal((5L, 5L, 0L, 0L, "closed"), Counters(closed));
        Assert.Equal(expiresAt.ToUnixTimeMilliseconds(), Instant(closed["expires_at"]).ToUnixTimeMilliseconds());
        Assert.Equal("open", (await t.AllocationAsync(kept))["status"]!.GetValue<string>());
        Assert.Equal(85, await t.AvailableAsync(pool));

        // One deallocate entry for the 25 idle tickets, from the one close.
        var ledger = (await Api.ReadAsync(await t.GetAsync("/events/e/ledger?limit=1000"), 200))["entries"]!.AsArray();
        var deallocations = ledger.Where(e => e!["kind"]!.GetValue<string>() == "deallocate").ToList();
        Assert.Equal(-25, Assert.Single(deallocations)!["reserved_delta"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Concurrent_holds_from_one_allocation_with_concurrent_releases_and_closes_keep_every_counter_exact()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 1000);
        var box = await t.AllocateAsync(pool, "Channel", 300);
        var other = await t.AllocateAsync(pool, "Other channel", 100);

        var holds = Enumerable.Range(0, 300).Select(i => t.ReserveFromAsync(pool, 1 + (i % 3), i % 5 == 0 ? other : box)).ToList();
        var releases = Enumerable.Range(0, 40).Select(_ => t.PostAsync($"/allocations/{box}/release", Api.Json(new { quantity = 3 }))).ToList();
        var publicHolds = Enumerable.Range(0, 100).Select(_ => t.ReserveAsync(pool, 2)).ToList();
        var closes = Enumerable.Range(0, 5).Select(_ => t.PostAsync($"/allocations/{other}/close", null)).ToList();
        var all = await Task.WhenAll(holds.Concat(releases).Concat(publicHolds).Concat(closes));
        Assert.All(all, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK or HttpStatusCode.Conflict, r.StatusCode.ToString()));
        var holdAnswers = all[..300];
        var releaseAnswers = all[300..340];
        var publicAnswers = all[340..440];
        var closeAnswers = all[440..];

        // Every closing answer shows the allocation closed: the five are one change.
        foreach (var close in closeAnswers)
        {
            Assert.Equal("closed", (await Api.ReadAsync(close, 200))["status"]!.GetValue<string>());
        }

        // The allocations' held is exactly the tickets of the holds accepted from them.
        var heldFromBox = 0L;
        var heldFromOther = 0L;
        for (var i = 0; i < holdAnswers.Length; i++)
        {
            if (holdAnswers[i].StatusCode == HttpStatusCode.Created)
            {
                var item = (await Api.ReadAsync(holdAnswers[i], 201))["reservation"]!["items"]![0]!;
                Assert.Equal(i % 5 == 0 ? other : box, item["allocation_id"]!.GetValue<string>());
                if (i % 5 == 0)
                {
                    heldFromOther += 1 + (i % 3);
                }
                else
                {
                    heldFromBox += 1 + (i % 3);
                }
            }
            else
            {
                var code = JsonNode.Parse(await holdAnswers[i].Content.ReadAsStringAsync())!["code"]!.GetValue<string>();
                string[] expected = i % 5 == 0 ? ["ALLOCATION_CLOSED", "ALLOCATION_INSUFFICIENT"] : ["ALLOCATION_INSUFFICIENT"];
                Assert.Contains(code, expected);
            }
        }

        var released = 3L * releaseAnswers.Count(r => r.StatusCode == HttpStatusCode.OK);
        var publicHeld = 2L * publicAnswers.Count(r => r.StatusCode == HttpStatusCode.Created);
        var b = await t.AllocationAsync(box);
        Assert.Equal(heldFromBox, b["held"]!.GetValue<long>());
        Assert.Equal(300 - released, b["size"]!.GetValue<long>());
        Assert.Equal(300 - released - heldFromBox, b["idle"]!.GetValue<long>());
        var o = await t.AllocationAsync(other);
        Assert.Equal((heldFromOther, heldFromOther, 0L, 0L, "closed"), Counters(o));

        var p = await t.GetCapacityAsync(pool);
        Assert.Equal(300 - released + heldFromOther + publicHeld, p["reserved_capacity"]!.GetValue<long>());
        Assert.Equal(1000 - (300 - released) - heldFromOther - publicHeld, p["available_capacity"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Creating_releasing_resizing_and_closing_with_an_idempotency_key_replay_the_same_bytes_and_apply_once()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);

        var (created, createdText) = await Twice(t, HttpMethod.Post, $"/capacity/{pool}/allocations", "{\"name\":\"Box\",\"quantity\":40}", "alloc-1", 201);
        Assert.Equal($"/allocations/{JsonNode.Parse(createdText)!["id"]}", created.Headers.Location?.ToString());
        var box = JsonNode.Parse(createdText)!["id"]!.GetValue<string>();
        Assert.Single((await Api.ReadAsync(await t.GetAsync($"/capacity/{pool}/allocations"), 200))["allocations"]!.AsArray());
        Assert.Equal(60, await t.AvailableAsync(pool));

        await Twice(t, HttpMethod.Post, $"/allocations/{box}/release", "{\"quantity\":5}", "release-1", 200);
        Assert.Equal(65, await t.AvailableAsync(pool));
        await Twice(t, HttpMethod.Put, $"/allocations/{box}", "{\"quantity\":45}", "grow-1", 200);
        Assert.Equal(55, await t.AvailableAsync(pool));
        await Twice(t, HttpMethod.Post, $"/capacity/{pool}/reserve", $"{{\"quantity\":2,\"allocation_id\":\"{box}\"}}", "hold-1", 201);
        await Twice(t, HttpMethod.Post, $"/allocations/{box}/release", "{\"quantity\":44}", "too-many", 409);
        await Twice(t, HttpMethod.Post, $"/allocations/{box}/close", "", "close-1", 200);
        Assert.Equal((2L, 2L, 0L, 0L, "closed"), Counters(await t.AllocationAsync(box)));
        Assert.Equal(98, await t.AvailableAsync(pool));

        // The same key on another request of the same shape is a reuse, not a replay.
        using var reused = new HttpRequestMessage(HttpMethod.Post, $"/allocations/{box}/release") { Content = Api.Json("{\"quantity\":6}") };
        reused.Headers.Add("Idempotency-Key", "release-1");
        await Api.ProblemAsync(await t.SendAsync(reused), 422, "IDEMPOTENCY_KEY_REUSED");
        await app.AssertInvariantsAsync();
    }

    /// <summary>Sends a keyed request twice: the second answer is the first, byte for byte, marked as replayed.</summary>
    private static async Task<(HttpResponseMessage First, string Text)> Twice(HttpClient client, HttpMethod method, string path, string body, string key, int status)
    {
        HttpRequestMessage Request()
        {
            var request = new HttpRequestMessage(method, path) { Content = body.Length == 0 ? null : Api.Json(body) };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }

        var first = await client.SendAsync(Request());
        var text = await first.Content.ReadAsStringAsync();
        Assert.True((int)first.StatusCode == status, $"{method} {path} answered {(int)first.StatusCode}: {text}");
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        var second = await client.SendAsync(Request());
        Assert.Equal(status, (int)second.StatusCode);
        Assert.Equal(text, await second.Content.ReadAsStringAsync());
        Assert.Equal("true", Assert.Single(second.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        return (first, text);
    }

    [Fact]
    public async Task A_capacity_lists_its_allocations_only_once_it_has_had_one_in_every_view()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("view", "Pool", 100);
        var child = await t.CreateCapacityAsync("view", "Stalls", 60, pool);

        Assert.False((await t.GetCapacityAsync(child)).ContainsKey("allocations"));
        Assert.Empty((await Api.ReadAsync(await t.GetAsync($"/capacity/{child}/allocations"), 200))["allocations"]!.AsArray());
        var plainHold = await Api.ReadAsync(await t.ReserveAsync(child, 1), 201);
        Assert.False(plainHold["reservation"]!["items"]![0]!.AsObject().ContainsKey("allocation_id"));
        Assert.False(plainHold["capacity"]!.AsObject().ContainsKey("allocations"));

        var expiresAt = DateTimeOffset.UtcNow.AddDays(2);
        var box = await t.AllocateAsync(child, "Box office", 20, expiresAt);
        var press = await t.AllocateAsync(child, "Press", 5);
        await Api.ReadAsync(await t.ReserveFromAsync(child, 3, box), 201);

        var shown = (await t.GetCapacityAsync(child))["allocations"]!.AsArray();
        Assert.Equal([box, press], shown.Select(a => a!["id"]!.GetValue<string>()));
        Assert.Equal(
            ["id", "name", "size", "held", "sold", "idle", "status", "expires_at"],
            shown[0]!.AsObject().Select(p => p.Key));
        Assert.Equal((20L, 3L, 0L, 17L, "open"), Counters(shown[0]!.AsObject()));
        Assert.Equal(expiresAt.ToUnixTimeMilliseconds(), Instant(shown[0]!["expires_at"]).ToUnixTimeMilliseconds());
        Assert.Null(shown[1]!["expires_at"]);
        Assert.False((await t.GetCapacityAsync(pool)).ContainsKey("allocations"));

        var list = (await Api.ReadAsync(await t.GetAsync("/events/view/capacity"), 200))["capacity"]!.AsArray();
        Assert.False(list.Single(c => c!["id"]!.GetValue<string>() == pool)!.AsObject().ContainsKey("allocations"));
        Assert.Equal(shown.ToJsonString(), list.Single(c => c!["id"]!.GetValue<string>() == child)!["allocations"]!.ToJsonString());

        var full = (await Api.ReadAsync(await t.GetAsync($"/capacity/{child}/allocations"), 200))["allocations"]!.AsArray();
        Assert.Equal(
            ["id", "capacity_id", "event_id", "name", "size", "held", "sold", "idle", "expires_at", "status", "created_at", "updated_at"],
            full[0]!.AsObject().Select(p => p.Key));
        Assert.Equal(child, full[0]!["capacity_id"]!.GetValue<string>());
        Assert.Equal("view", full[0]!["event_id"]!.GetValue<string>());
        Assert.Equal((await t.AllocationAsync(box)).ToJsonString(), full[0]!.ToJsonString());

        var snapshot = await Api.FirstSnapshotAsync(t, "view");
        var streamed = snapshot["capacity"]!.AsArray();
        Assert.False(streamed.Single(c => c!["id"]!.GetValue<string>() == pool)!.AsObject().ContainsKey("allocations"));
        Assert.Equal(shown.ToJsonString(), streamed.Single(c => c!["id"]!.GetValue<string>() == child)!["allocations"]!.ToJsonString());

        // A closed allocation is still listed, with what it kept.
        await Api.ReadAsync(await t.PostAsync($"/allocations/{press}/close", null), 200);
        Assert.Equal((0L, 0L, 0L, 0L, "closed"), Counters((await t.GetCapacityAsync(child))["allocations"]![1]!.AsObject()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Holds_show_the_allocation_of_each_item_and_the_ledger_shows_allocate_and_deallocate()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("led", "Pool", 100);
        var box = await t.AllocateAsync(pool, "Box", 10);

        var cart = await Api.ReadAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[] { new { capacity_id = pool, quantity = 2, allocation_id = box }, new { capacity_id = pool, quantity = 1 } },
        })), 201);
        var items = cart["items"]!.AsArray();
        Assert.Equal(box, items[0]!["allocation_id"]!.GetValue<string>());
        Assert.False(items[1]!.AsObject().ContainsKey("allocation_id"));
        var read = await Api.ReadAsync(await t.GetAsync($"/reservations/{cart["id"]}"), 200);
        Assert.Equal(cart.ToJsonString(), read.ToJsonString());
        await Api.ReadAsync(await t.TransitAsync(cart["id"]!.GetValue<string>(), "confirm"), 200);
        Assert.Equal((10L, 0L, 2L, 8L, "open"), Counters(await t.AllocationAsync(box)));
        await Api.ReadAsync(await t.PostAsync($"/allocations/{box}/release", Api.Json(new { quantity = 8 })), 200);

        var entries = (await Api.ReadAsync(await t.GetAsync("/events/led/ledger"), 200))["entries"]!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.Equal(
            ["allocate", "confirm", "confirm", "deallocate", "hold", "hold"],
            entries.Select(e => e["kind"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        var allocate = entries.Single(e => e["kind"]!.GetValue<string>() == "allocate");
        Assert.Equal(10, allocate["reserved_delta"]!.GetValue<long>());
        Assert.Equal(box, allocate["allocation_id"]!.GetValue<string>());
        Assert.Null(allocate["reservation_id"]);
        Assert.True(allocate.ContainsKey("reservation_id"));
        var deallocate = entries.Single(e => e["kind"]!.GetValue<string>() == "deallocate");
        Assert.Equal(-8, deallocate["reserved_delta"]!.GetValue<long>());
        Assert.Equal(box, deallocate["allocation_id"]!.GetValue<string>());

        // Entries of the public item carry no allocation_id; those of the allocated one do.
        var holds = entries.Where(e => e["kind"]!.GetValue<string>() == "hold").ToList();
        Assert.Single(holds, e => !e.ContainsKey("allocation_id") && e["reserved_delta"]!.GetValue<long>() == 1);
        Assert.Single(holds, e => e["allocation_id"]?.GetValue<string>() == box && e["reserved_delta"]!.GetValue<long>() == 0);
        Assert.All(holds, e => Assert.Equal(cart["id"]!.GetValue<string>(), e["reservation_id"]!.GetValue<string>()));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Resizing_grows_like_a_hold_shrinks_no_lower_than_held_and_sold_and_clears_the_expiry_with_null()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var box = await t.AllocateAsync(pool, "Box", 40, DateTimeOffset.UtcNow.AddDays(1));
        await Api.ReadAsync(await t.ReserveAsync(pool, 50), 201);
        await Api.ReadAsync(await t.ReserveFromAsync(pool, 6, box), 201);

        var tooBig = await Api.ProblemAsync(await t.PutAsync($"/allocations/{box}", Api.Json(new { quantity = 51 })), 409, "INSUFFICIENT_CAPACITY");
        Assert.Equal(10, tooBig["available_capacity"]!.GetValue<long>());
        var below = await Api.ProblemAsync(await t.PutAsync($"/allocations/{box}", Api.Json(new { quantity = 5 })), 409, "ALLOCATION_BELOW_COMMITTED");
        Assert.Equal("/problems/allocation-below-committed", below["type"]!.GetValue<string>());
        Assert.Equal(box, below["allocation_id"]!.GetValue<string>());

        var grown = await Api.ReadAsync(await t.PutAsync($"/allocations/{box}", Api.Json(new { quantity = 50, name = "Box office" })), 200);
        Assert.Equal((50L, 6L, 0L, 44L, "open"), Counters(grown));
        Assert.Equal("Box office", grown["name"]!.GetValue<string>());
        Assert.NotNull(grown["expires_at"]);
        Assert.Equal(0, await t.AvailableAsync(pool));

        var cleared = await Api.ReadAsync(await t.PutAsync($"/allocations/{box}", Api.Json("{\"expires_at\":null,\"quantity\":6}")), 200);
        Assert.Null(cleared["expires_at"]);
        Assert.True(cleared.ContainsKey("expires_at"));
        Assert.Equal((6L, 6L, 0L, 0L, "open"), Counters(cleared));
        Assert.Equal(44, await t.AvailableAsync(pool));

        var later = DateTimeOffset.UtcNow.AddDays(3);
        var dated = await Api.ReadAsync(await t.PutAsync($"/allocations/{box}", Api.Json($"{{\"expires_at\":\"{later.ToOffset(TimeSpan.FromHours(-5)):yyyy-MM-ddTHH:mm:ss.fffzzz}\"}}")), 200);
        Assert.Equal(later.ToUnixTimeMilliseconds(), Instant(dated["expires_at"]).ToUnixTimeMilliseconds());
        Assert.Equal(TimeSpan.Zero, Instant(dated["expires_at"]).Offset);
        Assert.Equal(dated.ToJsonString(), (await t.AllocationAsync(box)).ToJsonString());

        // Nothing to change is an answer, not a change.
        var unchanged = await Api.ReadAsync(await t.PutAsync($"/allocations/{box}", Api.Json("{}")), 200);
        Assert.Equal(dated.ToJsonString(), unchanged.ToJsonString());
        await Api.ProblemAsync(await t.PutAsync($"/allocations/{box}", Api.Json(new { expires_at = DateTimeOffset.UtcNow.AddMinutes(-1) })), 400, "VALIDATION_ERROR");
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Holds_naming_a_closed_a_short_an_unknown_or_another_capacitys_allocation_are_refused_and_hold_nothing()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var other = await t.CreateCapacityAsync("e", "Other", 100);
        var box = await t.AllocateAsync(pool, "Box", 4);
        var closed = await t.AllocateAsync(pool, "Closed", 4);
        await Api.ReadAsync(await t.PostAsync($"/allocations/{closed}/close", null), 200);
        var before = (await t.GetCapacityAsync(pool)).ToJsonString() + (await t.GetCapacityAsync(other)).ToJsonString();

        var shortOne = await Api.ProblemAsync(await t.ReserveFromAsync(pool, 5, box), 409, "ALLOCATION_INSUFFICIENT");
        Assert.Equal(4, shortOne["idle"]!.GetValue<long>());
        var cartShort = await Api.ProblemAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[] { new { capacity_id = pool, quantity = 3, allocation_id = box }, new { capacity_id = pool, quantity = 2, allocation_id = box } },
        })), 409, "ALLOCATION_INSUFFICIENT");
        Assert.Equal(4, cartShort["idle"]!.GetValue<long>());
        var closedOne = await Api.ProblemAsync(await t.ReserveFromAsync(pool, 1, closed), 409, "ALLOCATION_CLOSED");
        Assert.Equal(closed, closedOne["allocation_id"]!.GetValue<string>());
        await Api.ProblemAsync(await t.ReserveFromAsync(pool, 1, Guid.NewGuid().ToString()), 404, "NOT_FOUND");
        var wrong = await Api.ProblemAsync(await t.ReserveFromAsync(other, 1, box), 400, "VALIDATION_ERROR");
        Assert.True(wrong["errors"]!.AsObject().ContainsKey("allocation_id"), wrong.ToJsonString());
        var wrongInCart = await Api.ProblemAsync(await t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[] { new { capacity_id = pool, quantity = 1 }, new { capacity_id = other, quantity = 1, allocation_id = box } },
        })), 400, "VALIDATION_ERROR");
        Assert.True(wrongInCart["errors"]!.AsObject().ContainsKey("items[1].allocation_id"), wrongInCart.ToJsonString());

        Assert.Equal(before, (await t.GetCapacityAsync(pool)).ToJsonString() + (await t.GetCapacityAsync(other)).ToJsonString());
        Assert.Equal((4L, 0L, 0L, 4L, "open"), Counters(await t.AllocationAsync(box)));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Another_tenants_allocation_answers_exactly_like_one_that_does_not_exist_on_every_route()
    {
        await using var app = await NewAppAsync();
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var aPool = await a.CreateCapacityAsync("e", "A pool", 100);
        var bPool = await b.CreateCapacityAsync("e", "B pool", 100);
        var aBox = await a.AllocateAsync(aPool, "A box", 10);
        var before = (await a.AllocationAsync(aBox)).ToJsonString() + (await a.GetCapacityAsync(aPool)).ToJsonString();

        foreach (var id in new[] { aBox, Guid.NewGuid().ToString() })
        {
            await Api.ProblemAsync(await b.GetAsync($"/allocations/{id}"), 404, "NOT_FOUND");
            await Api.ProblemAsync(await b.PutAsync($"/allocations/{id}", Api.Json(new { quantity = 1 })), 404, "NOT_FOUND");
            await Api.ProblemAsync(await b.PostAsync($"/allocations/{id}/release", Api.Json(new { quantity = 1 })), 404, "NOT_FOUND");
            await Api.ProblemAsync(await b.PostAsync($"/allocations/{id}/close", null), 404, "NOT_FOUND");
            await Api.ProblemAsync(await b.ReserveFromAsync(bPool, 1, id), 404, "NOT_FOUND");
            await Api.ProblemAsync(await b.PostAsync("/reservations", Api.Json(new { items = new[] { new { capacity_id = bPool, quantity = 1, allocation_id = id } } })), 404, "NOT_FOUND");
        }

        await Api.ProblemAsync(await b.GetAsync($"/capacity/{aPool}/allocations"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.PostAsync($"/capacity/{aPool}/allocations", Api.Json(new { name = "Mine", quantity = 1 })), 404, "NOT_FOUND");
        Assert.Equal(before, (await a.AllocationAsync(aBox)).ToJsonString() + (await a.GetCapacityAsync(aPool)).ToJsonString());
        Assert.Equal(100, await b.AvailableAsync(bPool));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Verify_reports_an_allocation_whose_counters_were_tampered_with()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var box = await t.AllocateAsync(pool, "Box", 10);
        await Api.ReadAsync(await t.ReserveFromAsync(pool, 2, box), 201);
        await app.AssertInvariantsAsync();

        using (var connection = Database.OpenWritable(app))
        {
            using var command = connection.CreateCommand();
            command.CommandText = app.Kind == StoreKind.Sqlite
                ? $"UPDATE allocations SET held = 1 WHERE id = '{box}'"
                : $"UPDATE allocations SET held = 1 WHERE id = '{box}'::uuid";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        using var admin = app.Admin();
        var verify = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
        Assert.False(verify["ok"]!.GetValue<bool>());
        Assert.Contains(verify["violations"]!.AsArray(), v => v!.GetValue<string>().Contains(box, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task An_allocation_past_its_expiry_takes_no_holds_even_before_the_sweep()
    {
        await using var app = await NewAppAsync(manualClock: true, settings: new() { ["Capacity:SweepIntervalMs"] = "3600000" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var box = await t.AllocateAsync(pool, "Early bird", 30, app.Clock!.GetUtcNow().AddMinutes(10));

        app.Clock.Advance(TimeSpan.FromMinutes(11));
        await Api.ProblemAsync(await t.ReserveFromAsync(pool, 1, box), 409, "ALLOCATION_CLOSED");
        await app.AssertInvariantsAsync();
    }

    private static (long Size, long Held, long Sold, long Idle, string Status) Counters(JsonObject a)
    {
        var counters = (a["size"]!.GetValue<long>(), a["held"]!.GetValue<long>(), a["sold"]!.GetValue<long>(), a["idle"]!.GetValue<long>(), a["status"]!.GetValue<string>());
        Assert.Equal(counters.Item1, counters.Item2 + counters.Item3 + counters.Item4);
        return counters;
    }

    private static DateTimeOffset Instant(JsonNode? node) => DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not come true within 10 s.");
            await Task.Delay(20);
        }
    }
}

/// <summary>Allocation calls for tests.</summary>
public static class AllocationCalls
{
    public static async Task<string> AllocateAsync(this HttpClient client, string capacityId, string name, int quantity, DateTimeOffset? expiresAt = null)
    {
        var body = new Dictionary<string, object?> { ["name"] = name, ["quantity"] = quantity };
        if (expiresAt is { } at)
        {
            body["expires_at"] = at.ToString("yyyy-MM-ddTHH:mm:ss.fffK", CultureInfo.InvariantCulture);
        }

        var response = await client.PostAsync($"/capacity/{capacityId}/allocations", Api.Json(body));
        var created = await Api.ReadAsync(response, 201);
        Assert.Equal($"/allocations/{created["id"]}", response.Headers.Location?.ToString());
        return created["id"]!.GetValue<string>();
    }

    public static async Task<JsonObject> AllocationAsync(this HttpClient client, string id) =>
        await Api.ReadAsync(await client.GetAsync($"/allocations/{id}"), 200);

    public static Task<HttpResponseMessage> ReserveFromAsync(this HttpClient client, string capacityId, int quantity, string allocationId, int? minutes = null) =>
        client.PostAsync($"/capacity/{capacityId}/reserve", Api.Json(minutes is null
            ? new Dictionary<string, object> { ["quantity"] = quantity, ["allocation_id"] = allocationId }
            : new Dictionary<string, object> { ["quantity"] = quantity, ["allocation_id"] = allocationId, ["reservation_minutes"] = minutes }));
}

/// <summary>A writable connection to the app's database, for tests that tamper with rows behind the API's back.</summary>
public static class Database
{
    public static System.Data.Common.DbConnection OpenWritable(CapacityApp app)
    {
        System.Data.Common.DbConnection connection = app.Kind == StoreKind.Sqlite
            ? new Microsoft.Data.Sqlite.SqliteConnection(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(app.Directory, "capacity.db"),
                Pooling = false,
            }.ToString())
            : new Npgsql.NpgsqlConnection(app.PostgresConnectionString + ";Pooling=false");
        connection.Open();
        return connection;
    }
}

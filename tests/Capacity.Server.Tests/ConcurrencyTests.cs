using System.Net;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>Many callers at once through the real pipeline: nothing oversells, everything happens once.</summary>
public sealed class ConcurrencyTests_on_sqlite() : ConcurrencyTests(StoreKind.Sqlite);

public sealed class ConcurrencyTests_on_postgres() : ConcurrencyTests(StoreKind.Postgres);

public abstract class ConcurrencyTests(StoreKind store) : IAsyncLifetime
{
    private CapacityApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await CapacityApp.CreateAsync(store);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task Five_hundred_concurrent_single_ticket_holds_on_a_pool_of_100_give_exactly_100()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("onsale", "Pool", 100);
        var capped = await t.CreateCapacityAsync("onsale", "Capped", 60, pool);
        var shared = await t.CreateCapacityAsync("onsale", "Shared", null, pool);

        var responses = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => t.ReserveAsync(i % 2 == 0 ? capped : shared, 1)));

        Assert.Equal(100, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(400, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        foreach (var rejected in responses.Where(r => r.StatusCode == HttpStatusCode.Conflict).Take(5))
        {
            await Api.ProblemAsync(rejected, 409, "INSUFFICIENT_CAPACITY");
        }

        Assert.Equal(0, await t.AvailableAsync(pool));
        Assert.True((await t.GetCapacityAsync(capped))["reserved_capacity"]!.GetValue<long>() <= 60);
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Concurrent_carts_sharing_pools_never_oversell_any_pool()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 50);
        var adult = await t.CreateCapacityAsync("e", "Adult", 30, pool);
        var child = await t.CreateCapacityAsync("e", "Child", null, pool);
        var vip = await t.CreateCapacityAsync("e", "VIP", 10);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => t.PostAsync("/reservations", Api.Json(new
        {
            items = new object[]
            {
                new { capacity_id = adult, quantity = 1 + (i % 2) },
                new { capacity_id = child, quantity = 1 },
                new { capacity_id = vip, quantity = 1 },
            },
        }))));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, r.StatusCode.ToString()));
        Assert.Equal(10, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(0, await t.AvailableAsync(vip));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Confirms_and_releases_racing_on_the_same_holds_each_apply_exactly_once()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var holds = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            holds.Add(await t.HoldAsync(pool, 2));
        }

        var attempts = holds.SelectMany(h => new[] { ("confirm", h), ("release", h), ("confirm", h), ("release", h) }).ToList();
        var responses = await Task.WhenAll(attempts.Select(a => t.TransitAsync(a.h, a.Item1)));

        var pool2 = await t.GetCapacityAsync(pool);
        var sold = pool2["sold_count"]!.GetValue<long>();
        var reserved = pool2["reserved_capacity"]!.GetValue<long>();
        Assert.Equal(0, reserved);
        foreach (var h in holds)
        {
            var status = (await Api.ReadAsync(await t.GetAsync($"/reservations/{h}"), 200))["status"]!.GetValue<string>();
            Assert.Contains(status, new[] { "confirmed", "released" });
        }

        var confirmedCount = 0;
        foreach (var h in holds)
        {
            if ((await Api.ReadAsync(await t.GetAsync($"/reservations/{h}"), 200))["status"]!.GetValue<string>() == "confirmed")
            {
                confirmedCount++;
            }
        }

        Assert.Equal(confirmedCount * 2, sold);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, r.StatusCode.ToString()));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_same_idempotency_key_sent_fifty_times_at_once_takes_effect_once()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/capacity/{pool}/reserve") { Content = Api.Json(new { quantity = 3 }) };
            request.Headers.Add("Idempotency-Key", "checkout-42");
            return t.SendAsync(request);
        }));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct());
        Assert.Equal(49, responses.Count(r => r.Headers.TryGetValues("Idempotent-Replayed", out var v) && v.Single() == "true"));
        Assert.Equal(97, await t.AvailableAsync(pool));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Concurrent_resizes_and_holds_never_leave_a_pool_below_what_it_holds()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var work = Enumerable.Range(0, 300).Select(i => i % 3 == 0
            ? t.PutAsync($"/capacity/{pool}", Api.Json(new { total_capacity = 40 + (i % 60) }))
            : t.ReserveAsync(pool, 1));
        var responses = await Task.WhenAll(work);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created or HttpStatusCode.Conflict, r.StatusCode.ToString()));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Concurrent_extends_and_cancels_keep_every_counter_consistent()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var holds = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var h = await t.HoldAsync(pool, 1);
            if (i % 2 == 0)
            {
                await Api.ReadAsync(await t.TransitAsync(h, "confirm"), 200);
            }

            holds.Add(h);
        }

        var responses = await Task.WhenAll(holds.SelectMany(h => new[]
        {
            t.TransitAsync(h, "cancel"),
            t.PostAsync($"/reservations/{h}/extend", Api.Json(new { minutes = 30 })),
            t.TransitAsync(h, "cancel"),
        }));
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, r.StatusCode.ToString()));
        var p = await t.GetCapacityAsync(pool);
        Assert.Equal(0, p["sold_count"]!.GetValue<long>());
        Assert.Equal(15, p["reserved_capacity"]!.GetValue<long>());
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Concurrent_creates_price_changes_and_priced_holds_all_land_and_every_lock_keeps_its_price()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 1000);
        var created = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => t.CreateCapacityAsync("e", $"Child {i}", i % 2 == 0 ? 100 : null, pool)));
        Assert.Equal(40, created.Distinct().Count());

        var price = await Api.ReadAsync(await t.PostAsync($"/capacity/{created[0]}/pricing", Api.Json(new { name = "Std", base_price = 10m, currency = "EUR" })), 201);
        var priceId = price["id"]!.GetValue<string>();

        // Holds lock whatever price is current when each is decided; updates race them.
        var work = Enumerable.Range(0, 120).Select(i => i % 4 == 0
            ? t.PutAsync($"/pricing/{priceId}", Api.Json(new { current_price = 10m + i }))
            : t.PostAsync($"/capacity/{created[0]}/reserve", Api.Json(new { quantity = 1, pricing_id = priceId })));
        var responses = await Task.WhenAll(work);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, r.StatusCode.ToString()));

        var prices = (await Api.ReadAsync(await t.GetAsync($"/capacity/{created[0]}/pricing"), 200))["pricing"]!.AsArray();
        Assert.Single(prices);
        foreach (var response in responses.Where(r => r.StatusCode == HttpStatusCode.Created))
        {
            var body = await Api.ReadAsync(response, 201);
            var id = body["reservation"]!["id"]!.GetValue<string>();
            var locked = body["locked_price"]!["unit_price"]!.GetValue<decimal>();
            var stored = await Api.ReadAsync(await t.GetAsync($"/reservations/{id}"), 200);
            Assert.Equal(locked, stored["items"]![0]!["locked_price"]!["unit_price"]!.GetValue<decimal>());
        }

        Assert.Equal(100 - 90, await t.AvailableAsync(created[0]));
        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Concurrent_tenant_creation_gives_every_tenant_its_own_working_key()
    {
        var tenants = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => _app.NewTenantAsync($"T{i}")));
        Assert.Equal(30, tenants.Select(x => x.Id).Distinct().Count());
        var pools = await Task.WhenAll(tenants.Select(x => x.Client.CreateCapacityAsync("shared-event-id", "Pool", 10)));
        for (var i = 0; i < tenants.Length; i++)
        {
            var list = (await Api.ReadAsync(await tenants[i].Client.GetAsync("/events/shared-event-id/capacity"), 200))["capacity"]!.AsArray();
            Assert.Equal(pools[i], Assert.Single(list)!["id"]!.GetValue<string>());
        }

        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_repeat_of_a_request_still_in_flight_past_the_bound_answers_in_progress_then_replays()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:IdempotencyWaitMs"] = "200" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        HttpRequestMessage Keyed()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/capacity/{pool}/reserve") { Content = Api.Json(new { quantity = 2 }) };
            request.Headers.Add("Idempotency-Key", "slow-one");
            return request;
        }

        app.Faults.DelayNextCommit(TimeSpan.FromSeconds(1));
        var first = t.SendAsync(Keyed());
        await Task.Delay(50);
        var repeat = await t.SendAsync(Keyed());
        await Api.ProblemAsync(repeat, 409, "IDEMPOTENCY_IN_PROGRESS");

        // The first waits for its own answer; after it, the same key replays it: one effect in all.
        await Api.ReadAsync(await first, 201);
        var replay = await t.SendAsync(Keyed());
        await Api.ReadAsync(replay, 201);
        Assert.True(replay.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(8, await t.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }
}

using System.Net;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// Per-buyer limits over HTTP: "four per person" enforced exactly under concurrency, across carts,
/// expiry and refunds; the limit's routes, its usage, its errors, and tenants kept apart.
/// </summary>
public sealed class LimitTests_on_sqlite() : LimitTests(StoreKind.Sqlite);

public sealed class LimitTests_on_postgres() : LimitTests(StoreKind.Postgres);

public abstract class LimitTests(StoreKind store)
{
    private Task<CapacityApp> NewAppAsync(bool manualClock = false) => CapacityApp.CreateAsync(store, null, manualClock);

    [Fact]
    public async Task Twenty_concurrent_holds_of_one_buyer_under_a_limit_of_4_place_exactly_4_and_expiry_and_refund_give_the_allowance_back()
    {
        await using var app = await NewAppAsync(manualClock: true);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 100);
        var limit = await t.CreateLimitAsync("gig", "Four per person", 4, pool);

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => t.ReserveAsBuyerAsync(pool, 1, "buyer-a", minutes: i < 10 ? 1 : 15)));
        Assert.Equal(4, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        var refused = await Api.ProblemAsync(responses.First(r => r.StatusCode == HttpStatusCode.Conflict), 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal(limit, refused["limit_id"]!.GetValue<string>());
        Assert.Equal((4L, 1L, 4L), (refused["used"]!.GetValue<long>(), refused["requested"]!.GetValue<long>(), refused["per_buyer_max"]!.GetValue<long>()));
        Assert.Equal("/problems/buyer-limit-exceeded", refused["type"]!.GetValue<string>());
        Assert.Equal(4, await t.UsageAsync(limit, "buyer-a"));
        Assert.Equal(96, await t.AvailableAsync(pool));

        // Another buyer is not affected, and a hold with no key counts against no one.
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(pool, 4, "buyer-b"), 201);
        await Api.ReadAsync(await t.ReserveAsync(pool, 10), 201);

        var held = new List<string>();
        foreach (var r in responses.Where(r => r.StatusCode == HttpStatusCode.Created))
        {
            var reservation = (await Api.ReadAsync(r, 201))["reservation"]!;
            Assert.Equal("buyer-a", reservation["buyer_key"]!.GetValue<string>());
            held.Add(reservation["id"]!.GetValue<string>());
        }

        // Confirm one, let the short ones expire: the allowance comes back with the tickets.
        var sale = held[^1];
        await Api.ReadAsync(await t.TransitAsync(sale, "confirm"), 200);
        app.Clock!.Advance(TimeSpan.FromMinutes(2));
        await app.Sweeper.SweepOnceAsync(CancellationToken.None);
        var expectedAfterExpiry = 4 - await CountAsync(t, held, "expired");
        Assert.Equal(expectedAfterExpiry, await t.UsageAsync(limit, "buyer-a"));
        Assert.Equal(4 - expectedAfterExpiry, (await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => t.ReserveAsBuyerAsync(pool, 1, "buyer-a"))))
            .Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(4, await t.UsageAsync(limit, "buyer-a"));

        // A refund lowers usage by the sale's tickets.
        await Api.ReadAsync(await t.TransitAsync(sale, "cancel"), 200);
        Assert.Equal(3, await t.UsageAsync(limit, "buyer-a"));
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(pool, 1, "buyer-a"), 201);
        await Api.ProblemAsync(await t.ReserveAsBuyerAsync(pool, 1, "buyer-a"), 409, "BUYER_LIMIT_EXCEEDED");
        await app.AssertInvariantsAsync();
    }

    /// <summary>
    /// Keyed holds where no limit covers the capacity go to the usage log; once the node is idle it
    /// folds the log into the buyers' rows in slices (here of 7), and a limit created after counts
    /// every ticket without anything left to fold.
    /// </summary>
    [Fact]
    public async Task Keyed_holds_where_no_limit_covers_are_folded_into_the_buyers_rows_once_the_node_is_idle()
    {
        await using var app = await CapacityApp.CreateAsync(store, new() { ["Capacity:UsageFoldSlice"] = "7" });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 1000);
        var held = await Task.WhenAll(Enumerable.Range(0, 90).Select(i => t.ReserveAsBuyerAsync(pool, 1 + i % 2, $"fan-{i % 15}")));
        Assert.All(held, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Count(app, "buyer_usage_log") > 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), $"{Count(app, "buyer_usage_log")} entries still in the log");
            await Task.Delay(50);
        }

        Assert.Equal(15L, Count(app, "buyer_usage"));
        using var anonymous = app.CreateClient();
        var samples = OperationsTests.ParsePrometheus(await anonymous.GetStringAsync("/metrics"));
        Assert.True(samples.Where(s => s.Name == "capacity_engine_usage_log_folded_total").Sum(s => s.Value) >= 15, "the folded entries are counted");

        var limit = await t.CreateLimitAsync("gig", "Nine per person", 9, pool);
        Assert.Equal(9, await t.UsageAsync(limit, "fan-3"));
        Assert.Equal(9, await t.UsageAsync(limit, "fan-4"));
        await Api.ProblemAsync(await t.ReserveAsBuyerAsync(pool, 1, "fan-4"), 409, "BUYER_LIMIT_EXCEEDED");
        await app.AssertInvariantsAsync();
    }

    private static long Count(CapacityApp app, string table)
    {
        if (app.Kind == StoreKind.Sqlite)
        {
            using var file = StateSnapshot.Open(app);
            using var sqlite = file.CreateCommand();
            sqlite.CommandText = $"SELECT COUNT(*) FROM {table}";
            return (long)sqlite.ExecuteScalar()!;
        }

        var connection = app.SnapshotConnection();
        lock (connection)
        {
            using var postgres = connection.CreateCommand();
            postgres.CommandText = $"SELECT COUNT(*) FROM {table}";
            return (long)postgres.ExecuteScalar()!;
        }
    }

    [Fact]
    public async Task A_cart_over_two_capacities_of_one_limit_counts_both_and_a_cart_with_one_item_over_the_limit_is_refused_whole()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("final", "Venue", 1000);
        var stalls = await t.CreateCapacityAsync("final", "Stalls", 500, venue);
        var circle = await t.CreateCapacityAsync("final", "Circle", 500, venue);
        var parking = await t.CreateCapacityAsync("final", "Parking", 50);
        var limit = await t.CreateLimitAsync("final", "Six per person", 6, stalls, circle);

        var cart = await Api.ReadAsync(await t.CartAsync("fan", (stalls, 2), (circle, 3)), 201);
        Assert.Equal("fan", cart["buyer_key"]!.GetValue<string>());
        Assert.Equal(5, await t.UsageAsync(limit, "fan"));

        var before = await SnapshotAsync(t, venue, stalls, circle, parking);
        var problem = await Api.ProblemAsync(await t.CartAsync("fan", (parking, 4), (stalls, 1), (circle, 1)), 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal((5L, 2L, 6L), (problem["used"]!.GetValue<long>(), problem["requested"]!.GetValue<long>(), problem["per_buyer_max"]!.GetValue<long>()));
        Assert.Equal(before, await SnapshotAsync(t, venue, stalls, circle, parking));
        Assert.Equal(5, await t.UsageAsync(limit, "fan"));

        // Parking is not under the limit: four more there is fine, and one more seat still fits.
        await Api.ReadAsync(await t.CartAsync("fan", (parking, 4), (circle, 1)), 201);
        Assert.Equal(6, await t.UsageAsync(limit, "fan"));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_limit_that_requires_a_key_refuses_a_hold_without_one_and_a_limit_made_after_sales_counts_them()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100);
        var sale = (await Api.ReadAsync(await t.ReserveAsBuyerAsync(pool, 3, "early"), 201))["reservation"]!["id"]!.GetValue<string>();
        await Api.ReadAsync(await t.TransitAsync(sale, "confirm"), 200);
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(pool, 1, "early"), 201);

        var limit = await t.CreateLimitAsync("e", "Four", 4, requireKey: true, pool);
        Assert.Equal(4, await t.UsageAsync(limit, "early"));
        await Api.ProblemAsync(await t.ReserveAsBuyerAsync(pool, 1, "early"), 409, "BUYER_LIMIT_EXCEEDED");

        var before = (await t.GetCapacityAsync(pool)).ToJsonString();
        var required = await Api.ProblemAsync(await t.ReserveAsync(pool, 1), 400, "BUYER_KEY_REQUIRED");
        Assert.Equal(limit, required["limit_id"]!.GetValue<string>());
        Assert.Equal(before, (await t.GetCapacityAsync(pool)).ToJsonString());

        // Lowering the maximum below a buyer's usage cancels nothing and refuses only their next hold.
        var lowered = await Api.ReadAsync(await t.PutAsync($"/limits/{limit}", Api.Json(new { per_buyer_max = 2, require_buyer_key = false })), 200);
        Assert.Equal((2, false), (lowered["per_buyer_max"]!.GetValue<int>(), lowered["require_buyer_key"]!.GetValue<bool>()));
        Assert.Equal(4, await t.UsageAsync(limit, "early"));
        Assert.Equal("confirmed", (await Api.ReadAsync(await t.GetAsync($"/reservations/{sale}"), 200))["status"]!.GetValue<string>());
        await Api.ProblemAsync(await t.ReserveAsBuyerAsync(pool, 1, "early"), 409, "BUYER_LIMIT_EXCEEDED");
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(pool, 2, "late"), 201);
        await Api.ReadAsync(await t.ReserveAsync(pool, 5), 201);

        // Deleted, it counts no more.
        var deleted = await t.DeleteAsync($"/limits/{limit}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await Api.ProblemAsync(await t.GetAsync($"/limits/{limit}"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await t.DeleteAsync($"/limits/{limit}"), 404, "NOT_FOUND");
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(pool, 10, "early"), 201);
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/events/e/limits"), 200))["limits"]!.AsArray());
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_limit_reads_back_as_created_lists_by_event_and_changes_only_the_fields_sent()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var a = await t.CreateCapacityAsync("e", "A", 10);
        var b = await t.CreateCapacityAsync("e", "B", 10);
        var response = await t.PostAsync("/events/e/limits", Api.Json(new { name = "Two", capacity_ids = new[] { a, b }, per_buyer_max = 2 }));
        var created = await Api.ReadAsync(response, 201);
        var id = created["id"]!.GetValue<string>();
        Assert.Equal($"/limits/{id}", response.Headers.Location?.ToString());
        Assert.Equal("e", created["event_id"]!.GetValue<string>());
        Assert.Equal(new[] { a, b }, created["capacity_ids"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.False(created["require_buyer_key"]!.GetValue<bool>());
        Assert.Equal(created.ToJsonString(), (await Api.ReadAsync(await t.GetAsync($"/limits/{id}"), 200)).ToJsonString());

        var second = await t.CreateLimitAsync("e", "One on A", 1, a);
        var list = (await Api.ReadAsync(await t.GetAsync("/events/e/limits"), 200))["limits"]!.AsArray();
        Assert.Equal(new[] { id, second }, list.Select(l => l!["id"]!.GetValue<string>()));
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/events/other/limits"), 200))["limits"]!.AsArray());

        var renamed = await Api.ReadAsync(await t.PutAsync($"/limits/{id}", Api.Json(new { name = "Two each" })), 200);
        Assert.Equal(("Two each", 2), (renamed["name"]!.GetValue<string>(), renamed["per_buyer_max"]!.GetValue<int>()));

        // The tightest covering limit decides: one on A even though two are allowed over A and B.
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(a, 1, "k"), 201);
        var problem = await Api.ProblemAsync(await t.ReserveAsBuyerAsync(a, 1, "k"), 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal(second, problem["limit_id"]!.GetValue<string>());
        await Api.ReadAsync(await t.ReserveAsBuyerAsync(b, 1, "k"), 201);
        Assert.Equal(2, await t.UsageAsync(id, "k"));
        Assert.Equal(0, await t.UsageAsync(id, "someone else"));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_create_with_an_idempotency_key_makes_one_limit_however_often_it_is_sent()
    {
        await using var app = await NewAppAsync();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/events/e/limits")
            {
                Content = Api.Json(new { name = "Two", capacity_ids = new[] { pool }, per_buyer_max = 2 }),
            };
            request.Headers.Add("Idempotency-Key", "limit-once");
            return t.SendAsync(request);
        }));
        Assert.All(answers, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, r.StatusCode.ToString()));
        var ids = new HashSet<string>();
        foreach (var r in answers.Where(r => r.StatusCode == HttpStatusCode.Created))
        {
            ids.Add((await Api.ReadAsync(r, 201))["id"]!.GetValue<string>());
        }

        Assert.Single(ids);
        Assert.Single((await Api.ReadAsync(await t.GetAsync("/events/e/limits"), 200))["limits"]!.AsArray());

        var delete = new HttpRequestMessage(HttpMethod.Delete, $"/limits/{ids.Single()}");
        delete.Headers.Add("Idempotency-Key", "delete-once");
        Assert.Equal(HttpStatusCode.NoContent, (await t.SendAsync(delete)).StatusCode);
        var again = new HttpRequestMessage(HttpMethod.Delete, $"/limits/{ids.Single()}");
        again.Headers.Add("Idempotency-Key", "delete-once");
        var replay = await t.SendAsync(again);
        Assert.Equal(HttpStatusCode.NoContent, replay.StatusCode);
        Assert.True(replay.Headers.Contains("Idempotent-Replayed"));
        await app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_same_buyer_key_in_two_tenants_is_two_buyers_and_neither_tenant_sees_the_others_limits()
    {
        await using var app = await NewAppAsync();
        var a = (await app.NewTenantAsync("A")).Client;
        var b = (await app.NewTenantAsync("B")).Client;
        var aPool = await a.CreateCapacityAsync("e", "Pool", 10);
        var bPool = await b.CreateCapacityAsync("e", "Pool", 10);
        var aLimit = await a.CreateLimitAsync("e", "Two", 2, aPool);
        var bLimit = await b.CreateLimitAsync("e", "Two", 2, bPool);

        await Api.ReadAsync(await a.ReserveAsBuyerAsync(aPool, 2, "same-hash"), 201);
        await Api.ReadAsync(await b.ReserveAsBuyerAsync(bPool, 2, "same-hash"), 201);
        Assert.Equal(2, await a.UsageAsync(aLimit, "same-hash"));
        Assert.Equal(2, await b.UsageAsync(bLimit, "same-hash"));

        await Api.ProblemAsync(await b.GetAsync($"/limits/{aLimit}"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.GetAsync($"/limits/{aLimit}/usage?buyer_key=same-hash"), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.PutAsync($"/limits/{aLimit}", Api.Json(new { per_buyer_max = 50 })), 404, "NOT_FOUND");
        await Api.ProblemAsync(await b.DeleteAsync($"/limits/{aLimit}"), 404, "NOT_FOUND");
        var foreign = await Api.ProblemAsync(
            await b.PostAsync("/events/e/limits", Api.Json(new { name = "Theirs", capacity_ids = new[] { aPool }, per_buyer_max = 1 })), 400, "VALIDATION_ERROR");
        Assert.NotNull(foreign["errors"]!["capacity_ids[0]"]);
        Assert.Single((await Api.ReadAsync(await a.GetAsync("/events/e/limits"), 200))["limits"]!.AsArray());
        Assert.Equal(2, (await Api.ReadAsync(await a.GetAsync($"/limits/{aLimit}"), 200))["per_buyer_max"]!.GetValue<int>());
        await app.AssertInvariantsAsync();
    }

    private static async Task<int> CountAsync(HttpClient t, IEnumerable<string> reservations, string status)
    {
        var n = 0;
        foreach (var id in reservations)
        {
            if ((await Api.ReadAsync(await t.GetAsync($"/reservations/{id}"), 200))["status"]!.GetValue<string>() == status)
            {
                n++;
            }
        }

        return n;
    }

    private static async Task<string> SnapshotAsync(HttpClient t, params string[] capacities)
    {
        var parts = new List<string>();
        foreach (var c in capacities)
        {
            parts.Add((await t.GetCapacityAsync(c)).ToJsonString());
        }

        return string.Join("\n", parts);
    }
}

/// <summary>Buyer-limit calls for tests.</summary>
public static class LimitCalls
{
    public static Task<string> CreateLimitAsync(this HttpClient client, string eventId, string name, int perBuyerMax, params string[] capacityIds) =>
        client.CreateLimitAsync(eventId, name, perBuyerMax, false, capacityIds);

    public static async Task<string> CreateLimitAsync(this HttpClient client, string eventId, string name, int perBuyerMax, bool requireKey, params string[] capacityIds)
    {
        var response = await client.PostAsync($"/events/{eventId}/limits", Api.Json(new
        {
            name,
            capacity_ids = capacityIds,
            per_buyer_max = perBuyerMax,
            require_buyer_key = requireKey,
        }));
        return (await Api.ReadAsync(response, 201))["id"]!.GetValue<string>();
    }

    public static async Task<long> UsageAsync(this HttpClient client, string limitId, string buyerKey)
    {
        var usage = await Api.ReadAsync(await client.GetAsync($"/limits/{limitId}/usage?buyer_key={Uri.EscapeDataString(buyerKey)}"), 200);
        Assert.Equal((limitId, buyerKey), (usage["limit_id"]!.GetValue<string>(), usage["buyer_key"]!.GetValue<string>()));
        return usage["used"]!.GetValue<long>();
    }

    public static Task<HttpResponseMessage> ReserveAsBuyerAsync(this HttpClient client, string capacityId, int quantity, string buyerKey, int? minutes = null) =>
        client.PostAsync($"/capacity/{capacityId}/reserve", Api.Json(minutes is null
            ? new Dictionary<string, object> { ["quantity"] = quantity, ["buyer_key"] = buyerKey }
            : new Dictionary<string, object> { ["quantity"] = quantity, ["buyer_key"] = buyerKey, ["reservation_minutes"] = minutes }));

    public static Task<HttpResponseMessage> CartAsync(this HttpClient client, string buyerKey, params (string Capacity, int Quantity)[] items) =>
        client.PostAsync("/reservations", Api.Json(new
        {
            items = items.Select(i => new { capacity_id = i.Capacity, quantity = i.Quantity }).ToArray(),
            buyer_key = buyerKey,
        }));
}

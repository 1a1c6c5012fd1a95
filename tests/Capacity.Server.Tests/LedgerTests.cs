using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// <c>GET /events/{eventId}/ledger</c> through the real pipeline: each tenant's event numbers its own
/// entries 1, 2, 3… in commit order, so its numbers tell nothing of other events or tenants, and a reader
/// paging with <c>after</c> sees every entry once.
/// </summary>
public sealed class LedgerTests_on_sqlite() : LedgerTests(StoreKind.Sqlite);

public sealed class LedgerTests_on_postgres() : LedgerTests(StoreKind.Postgres);

public abstract class LedgerTests(StoreKind store) : IAsyncLifetime
{
    private CapacityApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await CapacityApp.CreateAsync(store);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task Two_tenants_taking_turns_on_their_events_each_read_their_events_ledger_numbered_from_1_without_a_gap()
    {
        var a = (await _app.NewTenantAsync("A")).Client;
        var b = (await _app.NewTenantAsync("B")).Client;

        // One event id in both tenants and a second event of A; B writes three times as much as A.
        var events = new (HttpClient Client, string Event, string Section, int Holds)[]
        {
            (a, "gala", await a.CreateCapacityAsync("gala", "Stalls", 100), 1),
            (b, "gala", await b.CreateCapacityAsync("gala", "Stalls", 100), 3),
            (a, "matinee", await a.CreateCapacityAsync("matinee", "Stalls", 100), 1),
        };
        var written = new int[events.Length];
        for (var round = 0; round < 6; round++)
        {
            for (var e = 0; e < events.Length; e++)
            {
                var (client, _, section, holds) = events[e];
                for (var i = 0; i < holds; i++)
                {
                    var hold = await client.HoldAsync(section, 1);
                    written[e]++;
                    if (round % 2 == 1)
                    {
                        Assert.Equal(HttpStatusCode.OK, (await client.TransitAsync(hold, i % 2 == 0 ? "confirm" : "release")).StatusCode);
                        written[e]++;
                    }
                }
            }
        }

        Assert.Equal([9, 27, 9], written);
        for (var e = 0; e < events.Length; e++)
        {
            Assert.Equal(Enumerable.Range(1, written[e]).Select(i => (long)i), Sequences(await events[e].Client.LedgerAsync(events[e].Event)));
        }

        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Fifty_concurrent_holds_confirms_and_releases_on_two_events_number_each_events_ledger_from_1_in_commit_order()
    {
        var t = (await _app.NewTenantAsync()).Client;
        string[] events = ["north", "south"];

        // Per event a pool and a section under it: a hold on the section writes two entries, one per node.
        var targets = new List<(string Event, string Capacity, int Entries)>();
        foreach (var ev in events)
        {
            var pool = await t.CreateCapacityAsync(ev, "Pool", 60);
            targets.Add((ev, pool, 1));
            targets.Add((ev, await t.CreateCapacityAsync(ev, "Section", 40, pool), 2));
        }

        var first = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => t.HoldAsync(targets[i % 4].Capacity, 1)));

        // Fifty callers at once: each of the first holds confirmed or released, and thirty new holds.
        var calls = first.Select((hold, i) => t.TransitAsync(hold, i % 2 == 0 ? "confirm" : "release"))
            .Concat(Enumerable.Range(0, 30).Select(i => t.ReserveAsync(targets[i % 4].Capacity, 1)));
        var answers = await Task.WhenAll(calls);
        Assert.All(answers.Take(20), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All(answers.Skip(20), r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        foreach (var ev in events)
        {
            var ledger = await t.LedgerAsync(ev);
            var expected = Enumerable.Range(0, 20).Concat(Enumerable.Range(0, 20)).Concat(Enumerable.Range(0, 30))
                .Where(i => targets[i % 4].Event == ev).Sum(i => targets[i % 4].Entries);
            Assert.Equal(Enumerable.Range(1, expected).Select(i => (long)i), Sequences(ledger));

            // Commit order: a hold's entries come before its confirm's or release's, and replayed in
            // sequence order no capacity ever went below nothing or past its size.
            foreach (var hold in ledger.GroupBy(e => e!["reservation_id"]!.GetValue<string>()))
            {
                var kinds = hold.Select(e => e!["kind"]!.GetValue<string>()).ToList();
                var ended = kinds.FindIndex(k => k != "hold");
                Assert.True(kinds[0] == "hold" && (ended < 0 || kinds.LastIndexOf("hold") < ended), $"reservation {hold.Key}: {string.Join(", ", kinds)}");
            }

            foreach (var (_, capacity, _) in targets.Where(x => x.Event == ev))
            {
                var size = (await t.GetCapacityAsync(capacity))["total_capacity"]!.GetValue<long>();
                var (reserved, sold) = (0L, 0L);
                foreach (var e in ledger.Where(e => e!["capacity_id"]!.GetValue<string>() == capacity))
                {
                    (reserved, sold) = (reserved + e!["reserved_delta"]!.GetValue<long>(), sold + e["sold_delta"]!.GetValue<long>());
                    Assert.InRange(reserved + sold, 0, size);
                }

                var node = await t.GetCapacityAsync(capacity);
                Assert.Equal((node["reserved_capacity"]!.GetValue<long>(), node["sold_count"]!.GetValue<long>()), (reserved, sold));
            }
        }

        await _app.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_reader_paging_with_after_while_holds_commit_sees_every_entry_exactly_once_and_in_order()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("tail", "Pool", 1000);
        var section = await t.CreateCapacityAsync("tail", "Section", 500, pool);
        var writers = Task.WhenAll(Enumerable.Range(0, 60).Select(i => t.HoldAsync(i % 2 == 0 ? pool : section, 1)));

        // As the API describes a consumer: each page starts after the last entry seen; a page that is
        // not full is the end for now, and the reader asks again from the same place.
        var seen = new List<long>();
        var after = 0L;
        while (true)
        {
            var finished = writers.IsCompleted;
            var page = (await Api.ReadAsync(await t.GetAsync($"/events/tail/ledger?after={after}&limit=7"), 200))["entries"]!.AsArray();
            seen.AddRange(Sequences(page));
            after = page.Count > 0 ? seen[^1] : after;
            if (finished && page.Count == 0)
            {
                break;
            }
        }

        await writers;
        Assert.Equal(Enumerable.Range(1, 90).Select(i => (long)i), seen);
        Assert.Equal(seen, Sequences(await t.LedgerAsync("tail")));
        await _app.AssertInvariantsAsync();
    }

    private static List<long> Sequences(JsonArray entries) => [.. entries.Select(e => e!["sequence"]!.GetValue<long>())];
}

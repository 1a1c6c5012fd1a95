using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;

using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class SnapshotConsistencyTests_on_sqlite() : SnapshotConsistencyTests(StoreKind.Sqlite);

public sealed class SnapshotConsistencyTests_on_postgres() : SnapshotConsistencyTests(StoreKind.Postgres);

/// <summary>
/// An event snapshot (<c>GET /events/{id}/capacity</c>, the live stream) is one committed state: its
/// capacities, its allocations and its live holds are read together, so a batch committing during
/// the read shows in all of them or in none.
/// </summary>
public abstract class SnapshotConsistencyTests(StoreKind store)
{
    private const string EventId = "torn";
    private const int PublicWorkers = 3;
    private const int AllocationWorkers = 3;
    private const int Rounds = 60;

    /// <summary>
    /// A pool with one section and a box-office allocation on it, while public holds come and go and
    /// holds from the box office are confirmed or released. Every sale comes from the box office and
    /// every hold is one ticket, so within one committed state: the section's sold equals the box
    /// office's sold; its reserved is the box office's size less sold plus the public holds, between
    /// 0 and the number of public callers; the pool's counters are the section's; and the live holds
    /// the stream counts are the public holds plus the box office's held. A snapshot whose capacities,
    /// allocations and holds were read at different moments breaks one of these as soon as a batch
    /// commits in between.
    /// </summary>
    [Fact]
    public async Task Event_snapshots_read_while_holds_come_and_go_and_the_box_office_sells_are_each_one_committed_state()
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync(EventId, "Pool", 1_000_000);
        var section = await t.CreateCapacityAsync(EventId, "Section", 500_000, pool);
        var box = await t.AllocateAsync(section, "Box office", 100_000);

        var violations = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var checkedLists = 0;
        var checkedStreams = 0;

        // One viewer stays on the stream for the whole run: its feed polls while the others connect,
        // and what it is sent is checked too.
        using var watching = new CancellationTokenSource();
        using var watcher = await t.GetAsync($"/events/{EventId}/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
        var watcherReader = new StreamReader(await watcher.Content.ReadAsStreamAsync());
        var polled = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var snapshot = await NextSnapshotAsync(watcherReader, watching.Token);
                    Check("polled stream", snapshot, box, pool, section, withHolds: true, violations);
                    Interlocked.Increment(ref checkedStreams);
                }
            }
            catch (Exception ex) when (watching.IsCancellationRequested && ex is OperationCanceledException or IOException)
            {
                // The run is over. The test server's response stream reports a read cancelled under it either way:
                // as the cancellation itself, or as an IOException around it, depending on which side saw it first.
            }
        });

        var clock = Stopwatch.StartNew();
        var writers = Enumerable.Range(0, PublicWorkers).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < Rounds; i++)
            {
                var hold = await t.HoldAsync(section, 1);
                await Api.ReadAsync(await t.TransitAsync(hold, "release"), 200);
            }
        })).Concat(Enumerable.Range(0, AllocationWorkers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < Rounds; i++)
            {
                var hold = (await Api.ReadAsync(await t.ReserveFromAsync(section, 1, box), 201))["reservation"]!["id"]!.GetValue<string>();
                await Api.ReadAsync(await t.TransitAsync(hold, (i + w) % 2 == 0 ? "confirm" : "release"), 200);
            }
        }))).ToArray();
        var writing = Task.WhenAll(writers);

        var readers = new[]
        {
            Task.Run(async () =>
            {
                while (!writing.IsCompleted)
                {
                    var list = await Api.ReadAsync(await t.GetAsync($"/events/{EventId}/capacity"), 200);
                    Check("capacity list", list, box, pool, section, withHolds: false, violations);
                    Interlocked.Increment(ref checkedLists);
                }
            }),
            Task.Run(async () =>
            {
                while (!writing.IsCompleted)
                {
                    // Each new viewer's first snapshot is its own read, not the shared poll's.
                    using var response = await t.GetAsync($"/events/{EventId}/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                    Check("stream", await NextSnapshotAsync(reader, CancellationToken.None), box, pool, section, withHolds: true, violations);
                    Interlocked.Increment(ref checkedStreams);
                }
            }),
        };

        await writing;
        await Task.WhenAll(readers);
        var elapsed = clock.Elapsed;
        await watching.CancelAsync();
        await polled;

        Assert.True(violations.IsEmpty, $"{violations.Count} torn snapshots of {checkedLists} lists and {checkedStreams} stream snapshots in {elapsed}:\n"
            + string.Join("\n", violations.Take(10)));
        Assert.True(checkedLists > 20 && checkedStreams > 20, $"too few snapshots checked: {checkedLists} lists, {checkedStreams} stream snapshots");

        // The run's end state, checked the same way, and the store's own audit.
        var sold = AllocationWorkers * Rounds / 2;
        var final = await Api.ReadAsync(await t.GetAsync($"/events/{EventId}/capacity"), 200);
        var finalSection = Capacity(final, section);
        Assert.Equal(sold, finalSection["sold_count"]!.GetValue<long>());
        Assert.Equal(100_000 - sold, finalSection["reserved_capacity"]!.GetValue<long>());
        await app.AssertInvariantsAsync();
    }

    /// <summary>Adds a line to <paramref name="violations"/> for each invariant the snapshot breaks.</summary>
    private static void Check(string source, JsonObject snapshot, string box, string pool, string section, bool withHolds, System.Collections.Concurrent.ConcurrentQueue<string> violations)
    {
        var p = Capacity(snapshot, pool);
        var s = Capacity(snapshot, section);
        var a = s["allocations"]!.AsArray().Single(x => x!["id"]!.GetValue<string>() == box)!;
        long Get(JsonNode n, string name) => n[name]!.GetValue<long>();

        var publicHeld = Get(s, "reserved_capacity") - (Get(a, "size") - Get(a, "sold"));
        var found = new List<string>();
        if (Get(s, "sold_count") != Get(a, "sold"))
        {
            found.Add($"section sold {Get(s, "sold_count")} != box office sold {Get(a, "sold")}");
        }

        if (publicHeld is < 0 or > PublicWorkers)
        {
            found.Add($"public holds {publicHeld} (section reserved {Get(s, "reserved_capacity")}, box office size {Get(a, "size")}, sold {Get(a, "sold")})");
        }

        if (Get(a, "held") is < 0 or > AllocationWorkers)
        {
            found.Add($"box office held {Get(a, "held")}");
        }

        if (Get(p, "reserved_capacity") != Get(s, "reserved_capacity") || Get(p, "sold_count") != Get(s, "sold_count"))
        {
            found.Add($"pool ({Get(p, "reserved_capacity")}, {Get(p, "sold_count")}) != section ({Get(s, "reserved_capacity")}, {Get(s, "sold_count")})");
        }

        if (withHolds)
        {
            var active = snapshot["holds"]!["active"]!.GetValue<long>();
            if (active != publicHeld + Get(a, "held"))
            {
                found.Add($"live holds {active} != public holds {publicHeld} + box office held {Get(a, "held")}");
            }
        }

        if (found.Count > 0)
        {
            violations.Enqueue($"{source}: {string.Join("; ", found)}");
        }
    }

    private static JsonNode Capacity(JsonObject snapshot, string id) =>
        snapshot["capacity"]!.AsArray().Single(c => c!["id"]!.GetValue<string>() == id)!;

    /// <summary>The next snapshot the stream sends, past any heartbeats.</summary>
    private static async Task<JsonObject> NextSnapshotAsync(StreamReader reader, CancellationToken ct)
    {
        string? kind = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                kind = line[6..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal) && kind == "snapshot")
            {
                return JsonNode.Parse(line[5..])!.AsObject();
            }
        }

        throw new EndOfStreamException("The stream ended.");
    }
}

using Capacity.Core;
using Capacity.Storage.Sqlite;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

/// <summary>What the SQLite store adds of its own: the committed rows it keeps in memory, and its lock on the file.</summary>
public sealed class SqliteStoreTests
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    /// <summary>
    /// The active holds the store keeps per tenant, which the live-hold bound and the
    /// <c>capacity_holds_active</c> gauge read instead of counting every hold again, equal a count of
    /// the file: after concurrent holds, confirms, releases and expiries on two tenants, and after a reopen.
    /// </summary>
    [Fact]
    public async Task The_live_holds_kept_per_tenant_equal_a_count_of_the_file_after_concurrent_holds_confirms_releases_and_expiries()
    {
        // Disposed by the reopen below, which closes its engine and store.
        var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var other = Guid.NewGuid();
        var pool = await h.CreateAsync("Pool", 1000);
        var otherPool = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateCapacity(other, otherPool, "e1", null, "Other", null, 1000, [], true, null))).Outcome?.Code);

        // 150 holds of the tenant's (every third for a minute only), 80 of the other's.
        var mine = await Task.WhenAll(Enumerable.Range(0, 150).Select(i => h.HoldAsync(pool, 1, i % 3 == 0 ? 1 : 15)));
        var theirs = await Task.WhenAll(Enumerable.Range(0, 80).Select(_ =>
            h.Engine.SubmitAsync(new PlaceHold(other, Guid.CreateVersion7(), [new HoldItem(otherPool, 1, null)], 15))));
        static Guid IdOf(EngineResult r) => r.Outcome!.Value.Reservation!.Value.Id;
        var lasting = mine.Where((_, i) => i % 3 != 0).Select(IdOf).ToArray();

        // At once: 30 confirmed and 20 released of the tenant's lasting holds, 10 of the other's released.
        var ends = lasting.Take(30).Select(id => new TransitionReservation(EngineHarness.TenantA, id, Transition.Confirm))
            .Concat(lasting.Skip(30).Take(20).Select(id => new TransitionReservation(EngineHarness.TenantA, id, Transition.Release)))
            .Concat(theirs.Take(10).Select(r => new TransitionReservation(other, IdOf(r), Transition.Release)));
        Assert.All(await Task.WhenAll(ends.Select(c => h.Engine.SubmitAsync(c))), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        // The 50 one-minute holds lapse.
        h.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(50, await h.Sweeper().SweepOnceAsync(CancellationToken.None));

        await AssertKeptAsync(h, new() { [EngineHarness.TenantA] = 50, [other] = 70 });
        await using var reopened = await h.ReopenAsync();
        await AssertKeptAsync(reopened, new() { [EngineHarness.TenantA] = 50, [other] = 70 });

        static async Task AssertKeptAsync(EngineHarness h, Dictionary<Guid, long> expected)
        {
            var counted = new Dictionary<Guid, long>();
            await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={h.Location};Pooling=False"))
            {
                await c.OpenAsync();
                using var cmd = new Microsoft.Data.Sqlite.SqliteCommand("SELECT tenant_id, COUNT(*) FROM reservations WHERE status = 0 GROUP BY tenant_id", c);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    counted[Guid.Parse(r.GetString(0))] = r.GetInt64(1);
                }
            }

            Assert.Equal(expected.OrderBy(t => t.Key), counted.OrderBy(t => t.Key));
            Assert.Equal(counted.OrderBy(t => t.Key), (await h.Store.GetLiveHoldsByTenantAsync(CancellationToken.None)).OrderBy(t => t.Key));
            Assert.Equal(counted.Values.Sum(), (await h.Store.GetHoldStatsAsync(CancellationToken.None)).Active);
            await h.AssertAuditCleanAsync();
        }
    }

    /// <summary>
    /// SQLite keeps no memory statistics in a process whose first connection is a store's (this test
    /// assembly makes sure of that order, as the server's start does): with them on, every allocation
    /// SQLite makes would take one process-wide mutex. Shown by SQLite's own count of the memory it
    /// uses, which it keeps only with the statistics on: it stays 0 while a store writes and reads.
    /// </summary>
    [Fact]
    public async Task A_process_whose_first_SQLite_connection_is_a_store_s_keeps_no_memory_statistics()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 100);
        Assert.All(await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => h.HoldAsync(pool, 1))), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        Assert.Equal(20, (await h.Store.GetCapacitiesAsync(Tenant, [pool], CancellationToken.None)).Single().Reserved);

        Assert.True(SqliteProcess.MemoryStatisticsOff);
        Assert.Equal(0, SQLitePCL.raw.sqlite3_memory_used());
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// A COMMIT that fails may or may not have reached the file, so the store stops trusting what it
    /// keeps in memory: the active holds it counted and the committed rows. The next commit counts the
    /// holds again, and the next batch reads the rows again. SQLite's own COMMIT is made to fail by a
    /// commit hook's veto (<see cref="SqliteStore.VetoNextCommit"/>).
    /// </summary>
    [Fact]
    public async Task A_commit_that_fails_drops_the_kept_hold_counts_and_rows_and_the_next_commit_counts_again()
    {
        var path = await EngineHarness.NewLocationAsync(StoreKind.Sqlite);
        await using var store = new SqliteStore(path);
        await store.MigrateAsync(CancellationToken.None);
        await using var engine = new CommandEngine(store, new ManualTime(DateTimeOffset.UtcNow), CoreLimits.Default, new EngineOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandEngine>.Instance);
        var pool = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await engine.SubmitAsync(new CreateCapacity(Tenant, pool, "e1", null, "Pool", null, 100, [], true, null))).Outcome?.Code);
        Task<EngineResult> Hold() => engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15));
        Assert.All(await Task.WhenAll(Hold(), Hold(), Hold()), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        Assert.Equal(3, store.KeptLiveHolds);
        Assert.True(store.TryGetCommittedCapacities([pool], []));

        store.VetoNextCommit();
        Assert.Equal(EngineStatus.Unavailable, (await Hold()).Status);

        Assert.Null(store.KeptLiveHolds);
        Assert.False(store.TryGetCommittedCapacities([pool], []));
        Assert.Equal(OutcomeCode.Ok, (await Hold()).Outcome?.Code);
        Assert.Equal(4, store.KeptLiveHolds);
        Assert.Equal(4, (await store.GetCapacitiesAsync(Tenant, [pool], CancellationToken.None)).Single().Reserved);
        var audit = await Audit.RunAsync(store, CancellationToken.None);
        Assert.True(audit.Ok, string.Join("\n", audit.Violations));
    }

    [Fact]
    public async Task Reads_racing_a_stream_of_holds_never_go_backwards_and_end_on_the_committed_counters()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 1500);
        var capped = await h.CreateAsync("Capped", 700, pool);
        var shared = await h.CreateAsync("Shared", null, pool);

        using var done = new CancellationTokenSource();
        var started = 0;
        var readers = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            var last = 0L;
            var reads = 0;
            while (!done.IsCancellationRequested)
            {
                var nodes = await h.Store.GetCapacitiesAsync(Tenant, [i % 2 == 0 ? capped : shared], CancellationToken.None);
                var seen = nodes.Single(n => n.Id == pool).Reserved;
                Assert.True(seen >= last, $"a read went back from {last} to {seen}");
                Assert.True(seen <= 1500, $"a read saw the pool over its limit: {seen}");
                last = seen;
                if (reads++ == 0)
                {
                    Interlocked.Increment(ref started);
                }

                // A read served from memory completes synchronously; yield so eight readers share two cores with the writer.
                await Task.Yield();
            }

            return reads;
        })).ToList();

        // Every reader is reading before the first hold, and the holds come in waves so reads interleave with commits.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Volatile.Read(ref started) < 8)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30) && readers.All(r => !r.IsFaulted), "the readers did not start");
            await Task.Delay(10);
        }

        var holds = new List<EngineResult>();
        for (var wave = 0; wave < 20; wave++)
        {
            holds.AddRange(await Task.WhenAll(Enumerable.Range(0, 100).Select(i => h.HoldAsync(i % 2 == 0 ? capped : shared, 1))));
        }

        await done.CancelAsync();
        Assert.All(await Task.WhenAll(readers), reads => Assert.True(reads > 0));

        var held = holds.Count(r => r.Outcome?.Code == OutcomeCode.Ok);
        Assert.Equal(1500, held);
        var after = await h.Store.GetCapacitiesAsync(Tenant, [capped, shared], CancellationToken.None);
        Assert.Equal(1500, after.Single(n => n.Id == pool).Reserved);
        Assert.Equal(holds.Where((r, i) => i % 2 == 0 && r.Outcome?.Code == OutcomeCode.Ok).Count(), after.Single(n => n.Id == capped).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_failed_commit_leaves_reads_on_the_last_committed_counters()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 10);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 3)).Outcome?.Code);
        Assert.Equal(3, (await h.NodeAsync(pool)).Reserved);

        h.Store.FailNextBatchAt(FaultPoint.Commit);
        Assert.Equal(EngineStatus.Unavailable, (await h.HoldAsync(pool, 4)).Status);

        Assert.Equal(3, (await h.NodeAsync(pool)).Reserved);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 2)).Outcome?.Code);
        Assert.Equal(5, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// The writer keeps a capacity's buyers' usage in memory while batches check limits on it, forgets it
    /// 30 minutes after the last such batch (so an event's buyers do not stay in memory for as long as the
    /// process runs), and loads it again from the file, exactly, when holds come back: here under twenty
    /// buyers' concurrent holds against a limit of four, each buyer already holding three.
    /// </summary>
    [Fact]
    public async Task A_capacity_s_buyers_usage_in_memory_is_forgotten_after_thirty_unread_minutes_and_loaded_again_exactly()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var (pool, other) = await LimitedPoolAndAnotherAsync(h);
        var buyers = Enumerable.Range(0, 20).Select(i => $"buyer-{i}").ToArray();
        Task<EngineResult> Hold(string buyer) => h.Engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 120, buyer));

        Assert.All(await Task.WhenAll(buyers.SelectMany(b => Enumerable.Repeat(b, 3)).Select(Hold)), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        Assert.True(h.Sqlite!.HasUsageInMemory(pool));

        // Read again after 20 minutes, then 20 more: kept, as the last read was 20 minutes ago.
        h.Clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(OutcomeCode.Ok, (await Hold(buyers[0])).Outcome?.Code);
        h.Clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(other, 1, 120)).Outcome?.Code);
        Assert.True(h.Sqlite.HasUsageInMemory(pool));

        // 31 minutes without a read: the next batch, on another capacity, forgets it.
        h.Clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(other, 1, 120)).Outcome?.Code);
        Assert.False(h.Sqlite.HasUsageInMemory(pool));
        Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], buyers[0], CancellationToken.None));
        Assert.Equal(3, await h.Store.GetBuyerUsageAsync(Tenant, [pool], buyers[1], CancellationToken.None));

        // Three more holds of each buyer's at once: the first buyer gets none, every other exactly one.
        var more = await Task.WhenAll(buyers.SelectMany(b => Enumerable.Repeat(b, 3)).Select(async b => (Buyer: b, Result: await Hold(b))));
        Assert.True(h.Sqlite.HasUsageInMemory(pool));
        Assert.All(more.Where(m => m.Result.Outcome?.Code != OutcomeCode.Ok), m => Assert.Equal(OutcomeCode.BuyerLimitExceeded, m.Result.Outcome?.Code));
        Assert.Equal(buyers.ToDictionary(b => b, b => b == buyers[0] ? 0 : 1), buyers.ToDictionary(b => b, b => more.Count(m => m.Buyer == b && m.Result.Outcome?.Code == OutcomeCode.Ok)));
        foreach (var buyer in buyers)
        {
            Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], buyer, CancellationToken.None));
        }

        Assert.Equal(80, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// A clock set back (by an operator or a time sync) does not stop the writer forgetting: it looks for
    /// idle capacities again at once, so one read after the change and then left for 31 minutes is
    /// forgotten, rather than kept until the clock has caught up with the last look.
    /// </summary>
    [Fact]
    public async Task A_clock_set_back_two_hours_does_not_keep_an_idle_capacity_s_buyers_in_memory()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var (pool, other) = await LimitedPoolAndAnotherAsync(h);

        h.Clock.Advance(TimeSpan.FromHours(-2));
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 2, null)], 120, "buyer"))).Outcome?.Code);
        Assert.True(h.Sqlite!.HasUsageInMemory(pool));

        h.Clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(other, 1, 120)).Outcome?.Code);
        Assert.False(h.Sqlite.HasUsageInMemory(pool));
        Assert.Equal(2, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "buyer", CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>A pool of 1,000 under a limit of four per buyer, and another pool of 1,000 no limit covers.</summary>
    private static async Task<(Guid Pool, Guid Other)> LimitedPoolAndAnotherAsync(EngineHarness h)
    {
        var pool = await h.CreateAsync("Pool", 1000);
        var other = await h.CreateAsync("Other", 1000);
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e1", "Per person", [pool], 4, false))).Outcome?.Code);
        return (pool, other);
    }

    /// <summary>With the idle time zero, a capacity's buyers' usage stays in memory for as long as the store is open.</summary>
    [Fact]
    public async Task With_no_idle_time_a_capacity_s_buyers_usage_stays_in_memory()
    {
        var path = await EngineHarness.NewLocationAsync(StoreKind.Sqlite);
        var clock = new ManualTime(DateTimeOffset.UtcNow);
        await using var store = new SqliteStore(path, clock) { UsageIdle = TimeSpan.Zero };
        await store.MigrateAsync(CancellationToken.None);
        await using var engine = new CommandEngine(store, clock, CoreLimits.Default, new EngineOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandEngine>.Instance);
        var pool = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await engine.SubmitAsync(new CreateCapacity(Tenant, pool, "e1", null, "Pool", null, 100, [], true, null))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await engine.SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e1", "Per person", [pool], 4, false))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 2, null)], 120, "buyer"))).Outcome?.Code);

        clock.Advance(TimeSpan.FromDays(2));
        Assert.Equal(OutcomeCode.Ok, (await engine.SubmitAsync(new CreateCapacity(Tenant, Guid.CreateVersion7(), "e1", null, "Other", null, 100, [], true, null))).Outcome?.Code);
        Assert.True(store.HasUsageInMemory(pool));
        Assert.Equal(2, await store.GetBuyerUsageAsync(Tenant, [pool], "buyer", CancellationToken.None));
    }

    [Fact]
    public async Task A_second_store_on_the_same_file_is_refused_until_the_first_is_closed()
    {
        var path = await EngineHarness.NewLocationAsync(StoreKind.Sqlite);
        var first = new SqliteStore(path);
        await first.MigrateAsync(CancellationToken.None);

        var refused = Assert.Throws<InvalidOperationException>(() => new SqliteStore(path));
        Assert.Contains("already open", refused.Message, StringComparison.Ordinal);

        await first.DisposeAsync();
        await using var second = new SqliteStore(path);
        Assert.True(await second.IsReadyAsync(CancellationToken.None));
    }
}

/// <summary>The in-memory rows on their own, with the races that matter played out by hand.</summary>
public sealed class CommittedCapacitiesTests
{
    private static readonly Guid Tenant = Guid.CreateVersion7();

    private static CapacityNode Node(long reserved, Guid? id = null, Guid? tenant = null, params Guid[] parents) => new()
    {
        Id = id ?? Guid.CreateVersion7(),
        TenantId = tenant ?? Tenant,
        EventId = "e1",
        SectionName = "S",
        Total = 100,
        ParentIds = parents,
        Reserved = reserved,
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    [Fact]
    public void A_row_read_before_a_publish_never_replaces_the_published_row()
    {
        var rows = new CommittedCapacities();
        var id = Guid.CreateVersion7();
        var generation = rows.Generation;
        var readBeforeCommit = Node(1, id);

        rows.Publish([Node(2, id)]);
        rows.Offer([readBeforeCommit], generation);

        Assert.True(rows.TryGetClosure(Tenant, [id], out var found));
        Assert.Equal(2, found.Single().Reserved);
    }

    [Fact]
    public void Rows_read_before_an_invalidation_are_not_kept()
    {
        var rows = new CommittedCapacities();
        var node = Node(1);
        var generation = rows.Generation;

        rows.Invalidate();
        rows.Offer([node], generation);

        Assert.False(rows.TryGetClosure(Tenant, [node.Id], out _));
        rows.Offer([node], rows.Generation);
        Assert.True(rows.TryGetClosure(Tenant, [node.Id], out _));
    }

    [Fact]
    public void A_closure_with_an_ancestor_missing_is_a_miss_and_another_tenants_row_is_left_out()
    {
        var rows = new CommittedCapacities();
        var pool = Node(0);
        var child = Node(0, parents: pool.Id);
        var foreign = Node(0, tenant: Guid.CreateVersion7());

        rows.Publish([child, foreign]);
        Assert.False(rows.TryGetClosure(Tenant, [child.Id], out _));

        rows.Publish([pool]);
        Assert.True(rows.TryGetClosure(Tenant, [child.Id, foreign.Id], out var found));
        Assert.Equal(new[] { child.Id, pool.Id }.Order(), found.Select(n => n.Id).Order());
        Assert.True(rows.TryGetClosure(null, [foreign.Id], out var any));
        Assert.Equal(foreign.Id, any.Single().Id);
    }

    [Fact]
    public void When_full_it_adds_no_new_row_but_keeps_the_rows_it_has_up_to_date()
    {
        var rows = new CommittedCapacities(maxRows: 2);
        var a = Node(1);
        var b = Node(1);
        var c = Node(1);
        rows.Publish([a, b]);

        rows.Publish([c]);
        rows.Offer([c], rows.Generation);
        a.Reserved = 7;
        rows.Publish([a]);

        Assert.False(rows.TryGetClosure(Tenant, [c.Id], out _));
        Assert.True(rows.TryGetClosure(Tenant, [a.Id], out var found));
        Assert.Equal(7, found.Single().Reserved);
    }

    [Fact]
    public void Callers_get_copies_that_cannot_change_the_rows_kept()
    {
        var rows = new CommittedCapacities();
        var node = Node(5);
        rows.Publish([node]);
        node.Reserved = 99;

        Assert.True(rows.TryGetClosure(Tenant, [node.Id], out var first));
        first.Single().Reserved = 42;
        Assert.True(rows.TryGetClosure(Tenant, [node.Id], out var second));
        Assert.Equal(5, second.Single().Reserved);
    }
}

/// <summary>Holds that cannot fit are refused from the committed rows, without a batch, where the store keeps them in memory.</summary>
public sealed class EarlyRefusalTests
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task A_hold_that_cannot_fit_is_refused_without_a_batch_with_the_answer_a_batch_gives()
    {
        await using var early = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        await using var queued = await EngineHarness.OpenAsync(StoreKind.Sqlite, new EngineOptions { EarlyRefusals = false });
        var answers = new List<Outcome>();
        foreach (var h in new[] { early, queued })
        {
            var pool = await h.CreateAsync("Pool", 10);
            var capped = await h.CreateAsync("Capped", 4, pool);
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 7)).Outcome?.Code);
            var batches = h.Store.Batches;

            var refused = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => h.HoldAsync(capped, 4)));

            Assert.All(refused, r => Assert.Equal(OutcomeCode.InsufficientCapacity, r.Outcome?.Code));
            if (h == early)
            {
                Assert.Equal(batches, h.Store.Batches);
            }
            else
            {
                Assert.True(h.Store.Batches > batches, "with early refusals off, the refusals go through batches");
            }

            answers.Add(refused[0].Outcome!.Value);
            Assert.Equal(7, (await h.NodeAsync(pool)).Reserved);
            await h.AssertAuditCleanAsync();
        }

        Assert.Equal(answers[1].Detail, answers[0].Detail);
        Assert.Equal(answers[1].Available, answers[0].Available);
    }

    [Fact]
    public async Task A_release_that_was_acknowledged_is_seen_by_the_next_hold_at_once()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 5);
        var first = await h.HoldAsync(pool, 5);
        Assert.Equal(OutcomeCode.InsufficientCapacity, (await h.HoldAsync(pool, 1)).Outcome?.Code);

        var release = await h.Engine.SubmitAsync(new TransitionReservation(Tenant, first.Outcome!.Value.Reservation!.Value.Id, Transition.Release));
        Assert.Equal(OutcomeCode.Ok, release.Outcome?.Code);

        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 5)).Outcome?.Code);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_refusal_given_again_from_memory_is_the_one_the_rows_as_they_are_now_give()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 5);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 5)).Outcome?.Code);
        var batches = h.Store.Batches;

        // The same request many times, and two others in between: each gets its own answer.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("Not enough capacity in Pool: 3 requested, 0 left.", (await h.HoldAsync(pool, 3)).Outcome?.Detail);
            Assert.Equal("Not enough capacity in Pool: 2 requested, 0 left.", (await h.HoldAsync(pool, 2)).Outcome?.Detail);
            Assert.Equal(0, (await h.HoldAsync(pool, 3, minutes: 20)).Outcome?.Available);
        }

        Assert.Equal(batches, h.Store.Batches);

        // A commit replaces the rows: the next refusal is decided on them, not recalled.
        var raised = await h.Engine.SubmitAsync(new UpdateCapacity(EngineHarness.TenantA, pool, default, default, Change<int?>.To(6), default));
        Assert.Equal(OutcomeCode.Ok, raised.Outcome?.Code);
        Assert.Equal("Not enough capacity in Pool: 3 requested, 1 left.", (await h.HoldAsync(pool, 3)).Outcome?.Detail);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 1)).Outcome?.Code);
        Assert.Equal("Not enough capacity in Pool: 3 requested, 0 left.", (await h.HoldAsync(pool, 3)).Outcome?.Detail);
        Assert.Equal(6, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_refusal_is_never_recalled_for_another_tenant_or_from_another_store()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        await using var other = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 1);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 1)).Outcome?.Code);
        Assert.Equal(OutcomeCode.InsufficientCapacity, (await h.HoldAsync(pool, 1)).Outcome?.Code);

        var stranger = await h.Engine.SubmitAsync(new PlaceHold(Guid.CreateVersion7(), Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15));
        Assert.Equal(OutcomeCode.NotFound, stranger.Outcome?.Code);

        // Another store in the same process has no such pool: its engine must not answer from this one's rows.
        Assert.Equal(OutcomeCode.NotFound, (await other.HoldAsync(pool, 1)).Outcome?.Code);
        Assert.Equal(1, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
        await other.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_refusal_on_a_pool_with_a_sale_window_follows_the_clock_not_the_last_answer()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = Guid.CreateVersion7();
        var window = new SaleRules(EndsAt: h.Clock.GetUtcNow().AddMinutes(10));
        var created = await h.Engine.SubmitAsync(new CreateCapacity(EngineHarness.TenantA, pool, "e1", null, "Pool", null, 2, [], true, null, Sale: window));
        Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 2)).Outcome?.Code);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(OutcomeCode.InsufficientCapacity, (await h.HoldAsync(pool, 1)).Outcome?.Code);
        }

        // Nothing was committed, only the clock moved: past the window's end the answer is that it has closed.
        h.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(OutcomeCode.SaleClosed, (await h.HoldAsync(pool, 1)).Outcome?.Code);
        Assert.Equal(2, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Holds_and_releases_racing_on_a_full_pool_never_oversell_and_every_refusal_was_true_when_given()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 20);
        var held = new System.Collections.Concurrent.ConcurrentQueue<Guid>();
        foreach (var r in await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => h.HoldAsync(pool, 1))))
        {
            held.Enqueue(r.Outcome!.Value.Reservation!.Value.Id);
        }

        // Releasers free tickets while holders keep asking; each freed ticket can go to one holder only.
        var releases = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var freed = 0;
            while (held.TryDequeue(out var id))
            {
                var r = await h.Engine.SubmitAsync(new TransitionReservation(Tenant, id, Transition.Release));
                Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code);
                freed++;
                await Task.Yield();
            }

            return freed;
        })).ToList();
        var holds = await Task.WhenAll(Enumerable.Range(0, 400).Select(_ => Task.Run(() => h.HoldAsync(pool, 1))));
        var freed = (await Task.WhenAll(releases)).Sum();

        var won = holds.Count(r => r.Outcome?.Code == OutcomeCode.Ok);
        Assert.Equal(20, freed);
        Assert.All(holds, r => Assert.True(r.Outcome?.Code is OutcomeCode.Ok or OutcomeCode.InsufficientCapacity));
        Assert.True(won <= 20, $"{won} holds won 20 freed tickets");
        Assert.Equal(won, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }
}

/// <summary>Answers reach callers off the writer thread, in a few work items per batch.</summary>
public sealed class CompletionTests
{
    [Fact]
    public async Task A_caller_that_blocks_in_its_continuation_does_not_hold_up_the_next_batch()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 100);
        using var release = new ManualResetEventSlim();

        // The continuation runs inline where the answer is delivered: if that were the writer, this would stall it.
        var blocked = h.HoldAsync(pool, 1).ContinueWith(
            t =>
            {
                release.Wait(TimeSpan.FromSeconds(10));
                return t.Result;
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        var next = await h.HoldAsync(pool, 1).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(OutcomeCode.Ok, next.Outcome?.Code);
        release.Set();
        Assert.Equal(OutcomeCode.Ok, (await blocked).Outcome?.Code);
        Assert.Equal(2, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Every_caller_of_a_large_batch_gets_its_own_answer()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 5000);

        // Each caller's command differs from its neighbours' in id and quantity, so an answer handed to
        // the wrong caller would show (totals alone would not: swapped answers keep the sum).
        var commands = Enumerable.Range(0, 2000)
            .Select(i => new PlaceHold(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 1 + (i % 4), null)], 15))
            .ToList();
        var results = await Task.WhenAll(commands.Select(c => h.Engine.SubmitAsync(c)));

        for (var i = 0; i < commands.Count; i++)
        {
            var reservation = results[i].Outcome?.Reservation;
            Assert.NotNull(reservation);
            Assert.Equal(commands[i].ReservationId, reservation.Value.Id);
            Assert.Equal(commands[i].Items[0].Quantity, reservation.Value.Items[0].Quantity);
        }

        Assert.Equal(500 * (1 + 2 + 3 + 4), (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }
}

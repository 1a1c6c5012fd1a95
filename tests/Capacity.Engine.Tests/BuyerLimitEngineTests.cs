using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class BuyerLimitEngineTests_on_sqlite() : BuyerLimitEngineTests(StoreKind.Sqlite);

public sealed class BuyerLimitEngineTests_on_postgres() : BuyerLimitEngineTests(StoreKind.Postgres);

/// <summary>Per-buyer limits through the real engine and store: exact under concurrency, durable, audited.</summary>
public abstract class BuyerLimitEngineTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task Twenty_concurrent_single_holds_with_one_key_take_exactly_four_and_an_expiry_lets_the_next_one_in()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 1000);
        var limit = await LimitAsync(h, 4, pool);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => HoldAsync(h, pool, 1, "buyer", minutes: i < 10 ? 5 : 30)));

        Assert.Equal(4, results.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.All(results.Where(r => r.Outcome?.Code != OutcomeCode.Ok), r => Assert.Equal(OutcomeCode.BuyerLimitExceeded, r.Outcome?.Code));
        Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "buyer", CancellationToken.None));
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(h, pool, 1, "buyer")).Outcome?.Code);

        // Expire whichever of the four were short holds; each lets exactly one more in.
        h.Clock.Advance(TimeSpan.FromMinutes(6));
        var expired = await h.Sweeper().SweepOnceAsync(CancellationToken.None);
        var again = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => HoldAsync(h, pool, 1, "buyer")));
        Assert.Equal(expired, again.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "buyer", CancellationToken.None));
        Assert.NotNull(await h.Store.GetBuyerLimitAsync(Tenant, limit, CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Cancelling_a_sale_lowers_usage_and_a_limit_created_after_the_sales_counts_them()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var stalls = await h.CreateAsync("Stalls", 100);
        var circle = await h.CreateAsync("Circle", 100);
        var sold = (await HoldAsync(h, stalls, 3, "buyer")).Outcome!.Value.Reservation!.Value.Id;
        await h.Engine.SubmitAsync(new TransitionReservation(Tenant, sold, Transition.Confirm));

        await LimitAsync(h, 4, stalls, circle);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(h, circle, 2, "buyer")).Outcome?.Code);

        await h.Engine.SubmitAsync(new TransitionReservation(Tenant, sold, Transition.Cancel));
        Assert.Equal(0, await h.Store.GetBuyerUsageAsync(Tenant, [stalls, circle], "buyer", CancellationToken.None));
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, circle, 4, "buyer")).Outcome?.Code);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Limits_usage_and_buyer_keys_survive_a_reopen_and_a_deleted_limit_frees_its_capacities()
    {
        var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var limit = await LimitAsync(h, 2, pool, requireKey: true);
        var held = (await HoldAsync(h, pool, 2, "buyer")).Outcome!.Value.Reservation!.Value.Id;

        await using var reopened = await h.ReopenAsync();
        Assert.Equal("buyer", (await reopened.Store.GetReservationAsync(Tenant, held, CancellationToken.None))!.Value.BuyerKey);
        Assert.Equal([limit], (await reopened.NodeAsync(pool)).LimitIds);
        Assert.Single(await reopened.Store.GetBuyerLimitsAsync(Tenant, "e1", CancellationToken.None));
        Assert.Equal(OutcomeCode.BuyerKeyRequired, (await HoldAsync(reopened, pool, 1, null)).Outcome?.Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(reopened, pool, 1, "buyer")).Outcome?.Code);

        Assert.Equal(OutcomeCode.Ok, (await reopened.Engine.SubmitAsync(new DeleteBuyerLimit(Tenant, limit))).Outcome?.Code);
        Assert.Null(await reopened.Store.GetBuyerLimitAsync(Tenant, limit, CancellationToken.None));
        Assert.Empty((await reopened.NodeAsync(pool)).LimitIds);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(reopened, pool, 1, null)).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(reopened, pool, 5, "buyer")).Outcome?.Code);
        await reopened.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_sold_out_pool_still_refuses_for_capacity_first_when_holds_are_keyed_and_limited()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10);
        await LimitAsync(h, 4, pool);
        var results = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => HoldAsync(h, pool, 1, $"buyer-{i % 6}")));

        Assert.Equal(10, results.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(50, results.Count(r => r.Outcome?.Code is OutcomeCode.InsufficientCapacity or OutcomeCode.BuyerLimitExceeded));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// Keyed holds and releases on a capacity no limit covers write each buyer's usage without reading
    /// it (the batch's change added to the row), many buyers at once, several holds each; and a limit
    /// created in the same batch as later holds of those buyers still sees their whole usage, because
    /// a batch that creates a limit reads every buyer's row: the holds decided after it are refused.
    /// </summary>
    [Fact]
    public async Task Usage_written_unread_where_no_limit_covers_stays_exact_and_a_limit_created_in_the_holds_batch_counts_it()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10_000);
        var placed = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => HoldAsync(h, pool, 1, $"b{i % 40}")));
        Assert.All(placed, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        var released = await Task.WhenAll(placed.Take(40).Select(r =>
            h.Engine.SubmitAsync(new TransitionReservation(Tenant, r.Outcome!.Value.Reservation!.Value.Id, Transition.Release))));
        Assert.All(released, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        foreach (var buyer in new[] { "b0", "b17", "b39" })
        {
            Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], buyer, CancellationToken.None));
        }

        await h.AssertAuditCleanAsync();

        // The writer holds one batch at its load while a limit of 4 and a hold by each of five of those
        // buyers queue behind it: they go into the next batch together, the limit first.
        var results = await InOneBatchAsync(h, pool, [
            () => h.Engine.SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e1", "Four", [pool], 4, false)),
            .. Enumerable.Range(0, 5).Select(i => (Func<Task<EngineResult>>)(() => HoldAsync(h, pool, 1, $"b{i}"))),
        ]);

        Assert.Equal(OutcomeCode.Ok, results[0].Outcome?.Code);
        Assert.All(results.Skip(1), r => Assert.Equal(OutcomeCode.BuyerLimitExceeded, r.Outcome?.Code));
        Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "b3", CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// The audit compares every buyer's usage with that buyer's live tickets, key by key and exactly: a
    /// usage change nobody made, and a buyer whose usage is gone, are reported; a key differing only in
    /// case is another buyer (here one with usage and no holds).
    /// </summary>
    [Fact]
    public async Task The_audit_reports_a_buyer_whose_usage_disagrees_with_its_holds_and_one_whose_usage_is_gone()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 1000);
        var placed = await Task.WhenAll(HoldAsync(h, pool, 2, "buyer-a"), HoldAsync(h, pool, 1, "buyer-b"), HoldAsync(h, pool, 1, "buyer-c"));
        Assert.All(placed, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        await h.AssertAuditCleanAsync();

        await h.SqlAsync($"INSERT INTO buyer_usage_log (capacity_id, buyer_key, tenant_id, delta) VALUES ('{pool}', 'buyer-a', '{Tenant}', 1)");
        await h.SqlAsync($"INSERT INTO buyer_usage_log (capacity_id, buyer_key, tenant_id, delta) VALUES ('{pool}', 'BUYER-C', '{Tenant}', 1)");
        await h.SqlAsync("DELETE FROM buyer_usage WHERE buyer_key = 'buyer-b'");
        await h.SqlAsync("DELETE FROM buyer_usage_log WHERE buyer_key = 'buyer-b'");
        var report = await Audit.RunAsync(h.Store, CancellationToken.None, h.Clock.GetUtcNow());
        Assert.Equal(
            [
                $"capacity {pool}: a buyer has 1 live tickets and no usage row",
                $"capacity {pool}: buyer usage 1 differs from the buyer's live tickets (0)",
                $"capacity {pool}: buyer usage 3 differs from the buyer's live tickets (2)",
            ],
            report.Violations.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Where no limit covers a capacity a keyed hold's change is appended to the usage log rather than
    /// written into its buyer's row, which sits where the key sorts (with hashed keys, a page per hold).
    /// A limit created after them counts the log: on PostgreSQL its creation adds the log into the rows
    /// and empties it, and the audit holds a capacity a limit covers to an empty log; on SQLite the
    /// writer counts rows plus log from memory.
    /// </summary>
    [Fact]
    public async Task Keyed_holds_where_no_limit_covers_go_to_the_usage_log_which_a_limit_created_after_them_counts()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 1000);
        string Buyer(int i) => $"{i % 20 * 2654435761L % 4294967296:x8}";
        var placed = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => HoldAsync(h, pool, 1 + i % 2, Buyer(i))));
        Assert.All(placed, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        var released = await Task.WhenAll(placed.Take(10).Select(r =>
            h.Engine.SubmitAsync(new TransitionReservation(Tenant, r.Outcome!.Value.Reservation!.Value.Id, Transition.Release))));
        Assert.All(released, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        // Each buyer j held three holds of 1 (j even) or 2 (j odd); buyers 0 to 9 gave one back.
        long Expected(int j) => (j % 2 == 0 ? 1 : 2) * (j < 10 ? 2 : 3);
        Assert.Equal(0L, await CountAsync(h, "buyer_usage", pool));
        Assert.True(await CountAsync(h, "buyer_usage_log", pool) > 0);
        foreach (var j in new[] { 0, 1, 10, 11, 19 })
        {
            Assert.Equal(Expected(j), await h.Store.GetBuyerUsageAsync(Tenant, [pool], Buyer(j), CancellationToken.None));
        }

        await h.AssertAuditCleanAsync();

        // PostgreSQL's limit folds the log into the rows, which its batches read from then on; SQLite's
        // writer counts rows plus log from memory and leaves the log to the idle fold.
        var logged = await CountAsync(h, "buyer_usage_log", pool);
        await LimitAsync(h, 4, pool);
        Assert.Equal(kind == StoreKind.Sqlite ? logged : 0L, await CountAsync(h, "buyer_usage_log", pool));
        Assert.Equal(kind == StoreKind.Sqlite ? 0L : 20L, await CountAsync(h, "buyer_usage", pool));
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(h, pool, 1, Buyer(11))).Outcome?.Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(h, pool, 1, Buyer(1))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, pool, 2, Buyer(0))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, pool, 1, Buyer(10))).Outcome?.Code);
        Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], Buyer(0), CancellationToken.None));
        await h.AssertAuditCleanAsync();
        if (kind == StoreKind.Sqlite)
        {
            // SQLite's writer reads a covered capacity's usage from memory and logs every change.
            Assert.Equal(logged + 2, await CountAsync(h, "buyer_usage_log", pool));
            return;
        }

        // PostgreSQL's batches write a covered capacity's rows, which alone its limits are checked against.
        Assert.Equal(0L, await CountAsync(h, "buyer_usage_log", pool));
        await h.SqlAsync($"INSERT INTO buyer_usage_log (capacity_id, buyer_key, tenant_id, delta) VALUES ('{pool}', 'left behind', '{Tenant}', 0)");
        var report = await Audit.RunAsync(h.Store, CancellationToken.None, h.Clock.GetUtcNow());
        Assert.Equal([$"capacity {pool}: a buyer limit covers it, and usage changes appended while none did were never added into its buyers' rows"], report.Violations);
    }

    /// <summary>
    /// A batch that creates a limit reads its buyers' rows on every capacity and writes back what it
    /// read plus its change; where no limit covers the capacity the log is added into the rows first,
    /// so that a release there, in the same batch, takes from the buyer's whole usage and not from an
    /// empty row.
    /// </summary>
    [Fact]
    public async Task A_release_where_no_limit_covers_in_the_batch_that_creates_a_limit_elsewhere_takes_from_the_whole_usage()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var first = await h.CreateAsync("First", 100);
        var second = await h.CreateAsync("Second", 100);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, second, 2, "fan")).Outcome?.Code);
        var given = (await HoldAsync(h, second, 3, "fan")).Outcome!.Value.Reservation!.Value.Id;
        Assert.Equal(0L, await CountAsync(h, "buyer_usage", second));

        var results = await InOneBatchAsync(h, first, [
            () => h.Engine.SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e1", "Four", [first], 4, false)),
            () => h.Engine.SubmitAsync(new TransitionReservation(Tenant, given, Transition.Release)),
        ]);

        Assert.All(results, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        Assert.Equal(2, await h.Store.GetBuyerUsageAsync(Tenant, [second], "fan", CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// A limit deleted leaves its buyers' rows as they were and sends the capacity's changes to the log
    /// again; a limit created later adds the log to the rows, releases included (a buyer's net change
    /// below 0 is taken from the row the earlier limit kept).
    /// </summary>
    [Fact]
    public async Task A_limit_deleted_and_created_again_counts_what_was_held_and_released_in_between()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var first = await LimitAsync(h, 4, pool);
        var fan = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => HoldAsync(h, pool, 1, "fan")));
        var other = await HoldAsync(h, pool, 2, "other");
        Assert.All(fan.Append(other), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        // PostgreSQL's batches write a covered capacity's rows; SQLite's writer reads its usage from
        // memory and logs every change, which only a fold adds into the rows.
        Assert.Equal(kind == StoreKind.Sqlite ? 0L : 2L, await CountAsync(h, "buyer_usage", pool));

        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new DeleteBuyerLimit(Tenant, first))).Outcome?.Code);
        foreach (var r in fan.Take(2).Append(other))
        {
            var released = await h.Engine.SubmitAsync(new TransitionReservation(Tenant, r.Outcome!.Value.Reservation!.Value.Id, Transition.Release));
            Assert.Equal(OutcomeCode.Ok, released.Outcome?.Code);
        }

        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, pool, 1, "fan")).Outcome?.Code);
        Assert.True(await CountAsync(h, "buyer_usage_log", pool) > 0);
        Assert.Equal(2, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "fan", CancellationToken.None));
        await h.AssertAuditCleanAsync();

        await LimitAsync(h, 4, pool);
        if (kind == StoreKind.Postgres)
        {
            Assert.Equal(0L, await CountAsync(h, "buyer_usage_log", pool));
        }

        Assert.Equal(2, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "fan", CancellationToken.None));
        Assert.Equal(0, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "other", CancellationToken.None));
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(h, pool, 3, "fan")).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, pool, 2, "fan")).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, pool, 4, "other")).Outcome?.Code);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// A batch whose commit fails changes no buyer's usage, not even the usage the writer keeps in
    /// memory (SQLite): the next hold is decided on what the committed holds add up to.
    /// </summary>
    [Fact]
    public async Task A_hold_whose_commit_failed_does_not_count_against_the_buyer_s_limit()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        await LimitAsync(h, 4, pool);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, pool, 3, "fan")).Outcome?.Code);

        h.Store.FailNextBatchAt(FaultPoint.Commit);
        Assert.Equal(EngineStatus.Unavailable, (await HoldAsync(h, pool, 1, "fan")).Status);

        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, pool, 1, "fan")).Outcome?.Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(h, pool, 1, "fan")).Outcome?.Code);
        Assert.Equal(4, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "fan", CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// While the writer is idle the usage log is added into the buyers' rows a slice at a time, oldest
    /// entries first: after every slice each buyer's usage (row plus log) is what it was, a release is
    /// never folded before the hold it gives back (the row would go below 0), and the sweep folds the
    /// rest until the log is empty, leaving a limit created after it nothing to fold.
    /// </summary>
    [Fact]
    public async Task The_usage_log_folded_a_slice_at_a_time_keeps_every_buyer_s_usage_and_ends_empty()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var stalls = await h.CreateAsync("Stalls", 1000);
        var circle = await h.CreateAsync("Circle", 1000);
        var given = (await HoldAsync(h, stalls, 2, "fan")).Outcome!.Value.Reservation!.Value.Id;
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new TransitionReservation(Tenant, given, Transition.Release))).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, stalls, 1, "fan")).Outcome?.Code);
        var placed = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => HoldAsync(h, i % 3 == 0 ? circle : stalls, 1 + i % 2, $"b{i % 12}")));
        Assert.All(placed, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        var released = await Task.WhenAll(placed.Where((_, i) => i % 4 == 0).Select(r =>
            h.Engine.SubmitAsync(new TransitionReservation(Tenant, r.Outcome!.Value.Reservation!.Value.Id, Transition.Release))));
        Assert.All(released, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        // Holds 0, 12, 24, 36, 48 (buyer b0) were given back; b0 holds 1 on circle, the others 2 or 3 on one capacity.
        long Expected(Guid capacity, int b) => Enumerable.Range(0, 60)
            .Where(i => i % 12 == b && i % 4 != 0 && (i % 3 == 0 ? circle : stalls) == capacity).Sum(i => 1L + i % 2);
        async Task AssertUsageAsync()
        {
            Assert.Equal(1, await h.Store.GetBuyerUsageAsync(Tenant, [stalls], "fan", CancellationToken.None));
            foreach (var b in new[] { 0, 1, 3, 6, 11 })
            {
                Assert.Equal(Expected(stalls, b), await h.Store.GetBuyerUsageAsync(Tenant, [stalls], $"b{b}", CancellationToken.None));
                Assert.Equal(Expected(circle, b), await h.Store.GetBuyerUsageAsync(Tenant, [circle], $"b{b}", CancellationToken.None));
            }
        }

        await AssertUsageAsync();
        var logged = await CountAsync(h, "buyer_usage_log", stalls) + await CountAsync(h, "buyer_usage_log", circle);
        Assert.True(logged > 10, $"{logged} entries");

        // One entry at a time, three times over: the log shrinks by one each time and nobody's usage moves.
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(1, await h.Engine.FoldUsageLogAsync(1, CancellationToken.None));
            Assert.Equal(logged - i, await CountAsync(h, "buyer_usage_log", stalls) + await CountAsync(h, "buyer_usage_log", circle));
            await AssertUsageAsync();
        }

        // A slice is one capacity's oldest entries: seven, or what is left of that capacity's log.
        var slice = await h.Engine.FoldUsageLogAsync(7, CancellationToken.None);
        Assert.InRange(slice, 1, 7);
        Assert.Equal(logged - 3 - slice, await CountAsync(h, "buyer_usage_log", stalls) + await CountAsync(h, "buyer_usage_log", circle));
        await AssertUsageAsync();
        await h.AssertAuditCleanAsync();

        // Slice after slice, capacity after capacity, until the log is empty.
        Assert.Equal(logged - 3 - slice, await FoldAllAsync(h, 5));
        Assert.Equal(0L, await CountAsync(h, "buyer_usage_log", stalls) + await CountAsync(h, "buyer_usage_log", circle));
        Assert.Equal(0, await h.Engine.FoldUsageLogAsync(5, CancellationToken.None));
        await AssertUsageAsync();
        await h.AssertAuditCleanAsync();

        await LimitAsync(h, 4, stalls, circle);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await HoldAsync(h, circle, 2, "b3")).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await HoldAsync(h, circle, 3, "fan")).Outcome?.Code);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// The fold runs only when the writer is idle: with a command still queued when the writer comes to
    /// it, it folds nothing (the command goes first); asked again with nothing queued, it folds.
    /// </summary>
    [Fact]
    public async Task A_fold_reached_while_a_command_waits_folds_nothing()
    {
        await using var h = await EngineHarness.OpenAsync(kind, new EngineOptions { MaxBatch = 1 });
        var pool = await h.CreateAsync("Pool", 1000);
        Assert.All(await Task.WhenAll(Enumerable.Range(0, 4).Select(i => HoldAsync(h, pool, 1, $"b{i}"))), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        // The writer holds a batch at its load; behind it queue the fold and two holds. One batch takes
        // the first hold (and the fold with it), so the second is still waiting when the fold's turn comes.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = h.Store.HoldNextLoad(release.Task);
        var held = HoldAsync(h, pool, 1, null);
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));
        var fold = h.Engine.FoldUsageLogAsync(100, CancellationToken.None);
        var holds = new[] { HoldAsync(h, pool, 1, "b0"), HoldAsync(h, pool, 1, "b1") };
        release.SetResult();

        Assert.Equal(0, await fold);
        Assert.All(await Task.WhenAll(holds.Append(held)), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        Assert.Equal(6L, await CountAsync(h, "buyer_usage_log", pool));
        Assert.Equal(6, await h.Engine.FoldUsageLogAsync(100, CancellationToken.None));
        Assert.Equal(0L, await CountAsync(h, "buyer_usage_log", pool));
        Assert.Equal(2, await h.Store.GetBuyerUsageAsync(Tenant, [pool], "b1", CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// Eight callers hold and give back, naming ten buyers on two capacities, with pauses that leave the
    /// writer idle now and then, while a loop folds the log in slices of five: every buyer's usage is
    /// exact afterwards, the log folds to empty, and the audit finds nothing.
    /// </summary>
    [Fact]
    public async Task Folds_between_concurrent_keyed_holds_and_releases_keep_every_buyer_s_usage_exact()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var capacities = new[] { await h.CreateAsync("Stalls", 10_000), await h.CreateAsync("Circle", 10_000) };
        var kept = new System.Collections.Concurrent.ConcurrentBag<(Guid Capacity, string Buyer, int Quantity)>();
        using var done = new CancellationTokenSource();
        var folded = 0;
        var folding = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                folded += await h.Engine.FoldUsageLogAsync(5, CancellationToken.None);
                await Task.Delay(1);
            }
        });

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 40; i++)
            {
                var (capacity, buyer, quantity) = (capacities[random.Next(2)], $"b{random.Next(10)}", 1 + random.Next(3));
                var hold = await HoldAsync(h, capacity, quantity, buyer);
                Assert.Equal(OutcomeCode.Ok, hold.Outcome?.Code);
                if (random.Next(3) == 0)
                {
                    var given = await h.Engine.SubmitAsync(new TransitionReservation(Tenant, hold.Outcome!.Value.Reservation!.Value.Id, Transition.Release));
                    Assert.Equal(OutcomeCode.Ok, given.Outcome?.Code);
                }
                else
                {
                    kept.Add((capacity, buyer, quantity));
                }

                await Task.Delay(random.Next(3));
            }
        })));
        await done.CancelAsync();
        await folding;

        Assert.True(folded > 0, "no fold ran between the holds");
        foreach (var capacity in capacities)
        {
            for (var b = 0; b < 10; b++)
            {
                var expected = kept.Where(k => k.Capacity == capacity && k.Buyer == $"b{b}").Sum(k => (long)k.Quantity);
                Assert.Equal(expected, await h.Store.GetBuyerUsageAsync(Tenant, [capacity], $"b{b}", CancellationToken.None));
            }
        }

        await h.AssertAuditCleanAsync();
        await FoldAllAsync(h, 50);
        Assert.Equal(0L, await CountAsync(h, "buyer_usage_log", capacities[0]) + await CountAsync(h, "buyer_usage_log", capacities[1]));
        Assert.Equal(kept.Where(k => k.Buyer == "b7").Sum(k => (long)k.Quantity), await h.Store.GetBuyerUsageAsync(Tenant, capacities, "b7", CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// Submits <paramref name="commands"/>, in order, while the writer holds another batch (a hold on
    /// <paramref name="busy"/>) at its load, so that they queue and go into the next batch together;
    /// asserts that they did, and returns their answers.
    /// </summary>
    private static async Task<EngineResult[]> InOneBatchAsync(EngineHarness h, Guid busy, Func<Task<EngineResult>>[] commands)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = h.Store.HoldNextLoad(release.Task);
        var held = HoldAsync(h, busy, 1, null);
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));
        var batches = h.Store.Batches;
        var submitted = commands.Select(submit => submit()).ToArray();
        release.SetResult();

        Assert.Equal(OutcomeCode.Ok, (await held).Outcome?.Code);
        var results = await Task.WhenAll(submitted);
        Assert.Equal(batches + 1, h.Store.Batches);
        return results;
    }

    /// <summary>Folds the usage log in slices of <paramref name="slice"/> until the writer folds nothing; returns how many entries it folded.</summary>
    private static async Task<int> FoldAllAsync(EngineHarness h, int slice)
    {
        var (total, folded) = (0, 0);
        while ((folded = await h.Engine.FoldUsageLogAsync(slice, CancellationToken.None)) > 0)
        {
            Assert.InRange(folded, 1, slice);
            total += folded;
        }

        return total;
    }

    private static async Task<long> CountAsync(EngineHarness h, string table, Guid capacity) =>
        Convert.ToInt64(await h.SqlAsync($"SELECT COUNT(*) FROM {table} WHERE capacity_id = '{capacity}'"), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<Guid> LimitAsync(EngineHarness h, int max, Guid capacity, bool requireKey = false) =>
        await LimitAsync(h, max, [capacity], requireKey);

    private static Task<Guid> LimitAsync(EngineHarness h, int max, Guid first, Guid second) => LimitAsync(h, max, [first, second], false);

    private static async Task<Guid> LimitAsync(EngineHarness h, int max, Guid[] capacities, bool requireKey)
    {
        var id = Guid.CreateVersion7();
        var result = await h.Engine.SubmitAsync(new CreateBuyerLimit(Tenant, id, "e1", "Per person", capacities, max, requireKey));
        Assert.Equal(OutcomeCode.Ok, result.Outcome?.Code);
        return id;
    }

    private static Task<EngineResult> HoldAsync(EngineHarness h, Guid capacity, int quantity, string? buyer, int minutes = 15) =>
        h.Engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capacity, quantity, null)], minutes, buyer));
}

using System.Diagnostics.Metrics;
using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class EngineTests_on_sqlite() : EngineTests(StoreKind.Sqlite);

public sealed class EngineTests_on_postgres() : EngineTests(StoreKind.Postgres);

/// <summary>The engine over a real store, written once and run against each store.</summary>
public abstract class EngineTests(StoreKind kind)
{
    [Fact]
    public async Task Twenty_keys_issued_at_once_under_a_bound_of_five_issue_exactly_four_beside_the_tenants_first()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var tenant = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateTenant(tenant, "Box office", NewKey()))).Outcome?.Code);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => h.Engine.SubmitAsync(new AddApiKey(tenant, NewKey(), MaxUsable: 5))));

        Assert.Equal(4, results.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(16, results.Count(r => r.Outcome?.Code == OutcomeCode.TooManyKeys && r.Outcome?.Count == 5));
        Assert.Equal(5, (await h.Store.GetApiKeysAsync(tenant, CancellationToken.None)).Count);
        await h.AssertAuditCleanAsync();
    }

    internal static NewApiKey NewKey() => new(Guid.CreateVersion7(), System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), "cap_AbCdEfGh");

    [Fact]
    public async Task Forty_creates_at_once_in_an_event_bounded_at_ten_with_four_made_create_exactly_six_and_count_the_batchs_own()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        for (var i = 0; i < 4; i++)
        {
            await h.CreateAsync($"Made {i}", 10);
        }

        // Batches of several creates: each counts the creates before it in its own batch.
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            h.Engine.SubmitAsync(new CreateCapacity(EngineHarness.TenantA, Guid.CreateVersion7(), "e1", null, $"Racing {i}", null, 10, [], true, null, MaxInEvent: 10))));

        Assert.Equal(6, results.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        var refused = results.Where(r => r.Outcome?.Code != OutcomeCode.Ok).ToList();
        Assert.Equal(34, refused.Count(r => r.Outcome?.Code == OutcomeCode.TooManyCapacities && r.Outcome?.Count == 10));
        Assert.Equal(10, (await h.Store.GetEventsAsync(EngineHarness.TenantA, CancellationToken.None)).Single(e => e.EventId == "e1").Capacities);

        // Unbounded, the event takes more: the bound is the command's.
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateCapacity(EngineHarness.TenantA, Guid.CreateVersion7(), "e1", null, "Unbounded", null, 10, [], true, null))).Outcome?.Code);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// The SQLite writer looks up only new ids that do not sort above every stored id; this checks both
    /// sides of that line, a batch that failed after inserting the highest id, and a reopened store.
    /// </summary>
    [Fact]
    public async Task A_hold_that_reuses_a_stored_id_is_refused_wherever_the_id_sorts_and_changes_nothing()
    {
        var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var low = Guid.Parse("00000000-0000-7000-8000-000000000001");
        var high = Guid.Parse("ffffffff-ffff-7fff-bfff-fffffffffffe");
        var highest = Guid.Parse("ffffffff-ffff-7fff-bfff-ffffffffffff");
        var newest = (await h.HoldAsync(pool, 1)).Outcome!.Value.Reservation!.Value.Id;
        Assert.Equal(OutcomeCode.Ok, (await Hold(h, low)).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await Hold(h, high)).Outcome?.Code);
        await AssertRefusedAsync(h, low, newest, high);

        // A batch that inserts the highest id of all and then fails leaves that id unused.
        h.Store.FailNextBatchAt(FaultPoint.Commit);
        Assert.Equal(EngineStatus.Unavailable, (await Hold(h, highest)).Status);

        await using var reopened = await h.ReopenAsync();
        await AssertRefusedAsync(reopened, low, newest, high);
        Assert.Equal(OutcomeCode.Ok, (await Hold(reopened, highest)).Outcome?.Code);
        await AssertRefusedAsync(reopened, highest);
        Assert.Equal(4, (await reopened.NodeAsync(pool)).Reserved);
        await reopened.AssertAuditCleanAsync();

        Task<EngineResult> Hold(EngineHarness harness, Guid id) =>
            harness.Engine.SubmitAsync(new PlaceHold(EngineHarness.TenantA, id, [new HoldItem(pool, 1, null)], 15));

        // Each in a crowd of the same, so that some share a batch with their twin.
        async Task AssertRefusedAsync(EngineHarness harness, params Guid[] ids)
        {
            var results = await Task.WhenAll(ids.SelectMany(id => Enumerable.Repeat(id, 10)).Select(id => Hold(harness, id)));
            Assert.All(results, r => Assert.Equal(("id", OutcomeCode.Invalid), (r.Outcome?.Field, r.Outcome?.Code)));
        }
    }

    /// <summary>
    /// A real statement failing among the batch's writes (the last one before the commit: an
    /// idempotency record whose key is stored already) leaves nothing of the batch behind, on the
    /// store that sends its COMMIT with the writes (PostgreSQL) as on the one that commits apart.
    /// </summary>
    [Fact]
    public async Task A_write_that_fails_at_its_last_statement_applies_nothing_of_its_batch()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var idem = new IdempotencyRequest(EngineHarness.TenantA, "taken", "POST", "/capacity/x/reserve", [1]);
        var first = await h.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, Guid.NewGuid(), [new HoldItem(pool, 1, null)], 15), idem, _ => new StoredResponse(201, [], null));
        Assert.Equal(EngineStatus.Decided, first.Status);

        var hold = new PlaceHold(EngineHarness.TenantA, Guid.NewGuid(), [new HoldItem(pool, 3, null)], 15);
        var keys = new LoadKeys();
        hold.CollectKeys(keys);
        var ws = new WorkingSet();
        var now = h.Clock.GetUtcNow();
        await using (var tx = await h.Store.BeginWriteAsync(CancellationToken.None))
        {
            await tx.LoadAsync(keys, ws, CancellationToken.None);
            Assert.Equal(OutcomeCode.Ok, Decider.Decide(ws, hold, now, new CoreLimits()).Code);
            var duplicate = new IdempotencyRecord(idem.TenantId, idem.Key, idem.Method, idem.Path, idem.RequestHash, 201, [], null, now);
            await Assert.ThrowsAnyAsync<Exception>(() => tx.WriteAsync(ws, [duplicate], CancellationToken.None));
        }

        Assert.Null(await h.Store.GetReservationAsync(EngineHarness.TenantA, hold.ReservationId, CancellationToken.None));
        Assert.Equal(1, (await h.NodeAsync(pool)).Reserved);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 2)).Outcome?.Code);
        Assert.Equal(3, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Theory]
    [InlineData(FaultPoint.Begin)]
    [InlineData(FaultPoint.Load)]
    [InlineData(FaultPoint.Write)]
    [InlineData(FaultPoint.Commit)]
    public async Task A_failed_batch_answers_unavailable_to_every_command_and_applies_nothing(FaultPoint point)
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var before = await h.NodeAsync(pool);

        h.Store.FailNextBatchAt(point);
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => h.HoldAsync(pool, 1)));

        // The failed batch is whatever was queued first; all of it failed, and the rest succeeded.
        var failed = results.Count(r => r.Status == EngineStatus.Unavailable);
        var held = results.Count(r => r.Outcome?.Code == OutcomeCode.Ok);
        Assert.True(failed >= 1, "the injected fault failed nothing");
        Assert.Equal(50, failed + held);
        var after = await h.NodeAsync(pool);
        Assert.Equal(before.Reserved + held, after.Reserved);
        await h.AssertAuditCleanAsync();

        // The engine carries on after a failure.
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 1)).Outcome?.Code);
    }

    /// <summary>
    /// A batch the database fails to break a lock cycle with another node's batch applied nothing; the
    /// engine decides it again in a new transaction, so its callers get their answers, each applied once.
    /// </summary>
    [Fact]
    public async Task A_batch_failed_to_break_a_lock_cycle_is_decided_again_and_each_command_applies_once()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10);
        static StoredResponse Render(Outcome o) => new(o.Succeeded ? 201 : 409, [42], null);

        // Two in a row: the batch's first two tries fail, or the first tries of two batches.
        h.Store.ConflictNextBatches(2);
        var keyed = Enumerable.Range(0, 20).Select(i => h.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15),
            new IdempotencyRequest(EngineHarness.TenantA, $"k-{i % 5}", "POST", "/x", [1]), Render));
        var plain = Enumerable.Range(0, 30).Select(_ => h.HoldAsync(pool, 1));
        var results = await Task.WhenAll(keyed.Concat(plain));

        Assert.Equal(0, h.Store.ConflictsPending);
        Assert.DoesNotContain(results, r => r.Status == EngineStatus.Unavailable);

        // Five keys, each applied once however many of its copies met the conflict; the rest of the ten from plain holds.
        var held = results.Count(r => r.Status == EngineStatus.Decided && r.Outcome?.Code == OutcomeCode.Ok);
        Assert.Equal(10, held);
        Assert.Equal(10, (await h.NodeAsync(pool)).Reserved);
        Assert.Equal(5, results.Take(20).Count(r => r.Status == EngineStatus.Decided));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// A batch that waits after its load (as one waits on PostgreSQL for another node's lock on a hot
    /// pool) takes in the commands queued meanwhile whose rows it has loaded, in queue order up to the
    /// first that names another row; their idempotency keys and new ids are looked up as the batch's
    /// own are, and they are decided at the time the wait ended.
    /// </summary>
    [Fact]
    public async Task Commands_queued_while_a_batch_waits_on_its_rows_join_it_up_to_the_first_that_names_other_rows()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var other = await h.CreateAsync("Other", 100);
        var stored = (await h.HoldAsync(pool, 1)).Outcome!.Value.Reservation!.Value.Id;
        static StoredResponse Render(Outcome o) => new(o.Succeeded ? 201 : 409, [7], null);
        Task<EngineResult> Keyed(string key) => h.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15),
            new IdempotencyRequest(EngineHarness.TenantA, key, "POST", "/x", [1]), Render);
        Task<EngineResult> WithId(Guid id) => h.Engine.SubmitAsync(new PlaceHold(EngineHarness.TenantA, id, [new HoldItem(pool, 1, null)], 15));

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = h.Store.HoldNextLoad(release.Task);
        var batches = h.Store.Batches;
        var first = h.HoldAsync(pool, 1);
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));

        var plain = Enumerable.Range(0, 5).Select(_ => h.HoldAsync(pool, 1)).ToArray();
        var keyed = new[] { Keyed("k1"), Keyed("k2"), Keyed("k1") };
        var twin = Guid.CreateVersion7();
        var reuses = new[] { WithId(stored), WithId(twin), WithId(twin) };
        var elsewhere = h.HoldAsync(other, 1);
        var after = h.HoldAsync(pool, 1);

        // The wait ends at one time, and the next batch (holding the rest) waits until another.
        h.Clock.Advance(TimeSpan.FromMinutes(3));
        var firstEnded = h.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var release2 = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded2 = h.Store.HoldNextLoad(release2.Task);
        release.SetResult();
        await loaded2.WaitAsync(TimeSpan.FromSeconds(30));
        h.Clock.Advance(TimeSpan.FromMinutes(3));
        var secondEnded = h.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        release2.SetResult();

        static long Created(EngineResult r) => r.Outcome!.Value.Reservation!.Value.CreatedAt.ToUnixTimeMilliseconds();
        Assert.Equal(firstEnded, Created(await first));
        Assert.All(await Task.WhenAll(plain), r => Assert.Equal((OutcomeCode.Ok, firstEnded), (r.Outcome!.Value.Code, Created(r))));
        var keyedResults = await Task.WhenAll(keyed);
        Assert.Equal([EngineStatus.Decided, EngineStatus.Decided, EngineStatus.Replayed], keyedResults.Select(r => r.Status));
        Assert.Equal([firstEnded, firstEnded], keyedResults.Take(2).Select(Created));
        Assert.Equal(keyedResults[0].Response!.Body, keyedResults[2].Response!.Body);
        var reuseResults = await Task.WhenAll(reuses);
        Assert.Equal([("id", OutcomeCode.Invalid), (null, OutcomeCode.Ok), ("id", OutcomeCode.Invalid)], reuseResults.Select(r => (r.Outcome?.Field, r.Outcome?.Code)));
        Assert.Equal(firstEnded, Created(reuseResults[1]));
        Assert.Equal(secondEnded, Created(await elsewhere));
        Assert.Equal(secondEnded, Created(await after));

        Assert.Equal(2, h.Store.Batches - batches);
        Assert.Equal(1 + 1 + 5 + 2 + 1 + 1, (await h.NodeAsync(pool)).Reserved);
        Assert.Equal(1, (await h.NodeAsync(other)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// Keyed holds that join a waiting batch bring their buyers' usage with them: a buyer at the limit
    /// already (a stored usage row the batch had not loaded) is refused, and a new buyer is counted.
    /// </summary>
    [Fact]
    public async Task Keyed_holds_that_join_a_waiting_batch_are_counted_against_usage_stored_before_it()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var limit = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateBuyerLimit(EngineHarness.TenantA, limit, "e1", "Per person", [pool], 2, false))).Outcome?.Code);
        Task<EngineResult> Hold(string buyer) => h.Engine.SubmitAsync(new PlaceHold(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15, buyer));
        Assert.Equal(OutcomeCode.Ok, (await Hold("b1")).Outcome?.Code);

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = h.Store.HoldNextLoad(release.Task);
        var batches = h.Store.Batches;
        var first = Hold("b0");
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));
        var joined = new[] { Hold("b1"), Hold("b1"), Hold("b2"), Hold("b2"), Hold("b2") };
        release.SetResult();

        Assert.Equal(OutcomeCode.Ok, (await first).Outcome?.Code);
        Assert.Equal(
            [OutcomeCode.Ok, OutcomeCode.BuyerLimitExceeded, OutcomeCode.Ok, OutcomeCode.Ok, OutcomeCode.BuyerLimitExceeded],
            (await Task.WhenAll(joined)).Select(r => r.Outcome?.Code));
        Assert.Equal(1, h.Store.Batches - batches);
        Assert.Equal(1 + 1 + 1 + 2, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// Two changes of one keyed hold in one batch each count against its buyer's usage on the
    /// capacities they add: the first's too, though the second names others (the batch's keys kept
    /// only the last change's capacities, so the buyer's stored usage on the first's was not loaded).
    /// </summary>
    [Fact]
    public async Task Two_changes_of_one_keyed_hold_in_a_batch_each_count_against_the_buyers_stored_usage()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var limited = await h.CreateAsync("Limited", 100);
        var open = await h.CreateAsync("Open", 100);
        var other = await h.CreateAsync("Other", 100);
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateBuyerLimit(EngineHarness.TenantA, Guid.CreateVersion7(), "e1", "Three each", [limited], 3, false))).Outcome?.Code);
        Task<EngineResult> Hold(Guid capacity, int quantity) =>
            h.Engine.SubmitAsync(new PlaceHold(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(capacity, quantity, null)], 15, "b"));
        Assert.Equal(OutcomeCode.Ok, (await Hold(limited, 2)).Outcome?.Code);
        var cart = (await Hold(other, 1)).Outcome!.Value.Reservation!.Value.Id;

        // Both changes queue behind a batch held after its load, so they share the next one.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = h.Store.HoldNextLoad(release.Task);
        var first = h.HoldAsync(other, 1);
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));
        var batches = h.Store.Batches;
        var toLimited = h.Engine.SubmitAsync(new ChangeHold(EngineHarness.TenantA, cart, [new HoldItem(limited, 2, null)], null));
        var toOpen = h.Engine.SubmitAsync(new ChangeHold(EngineHarness.TenantA, cart, [new HoldItem(open, 1, null)], null));
        release.SetResult();

        Assert.Equal(OutcomeCode.Ok, (await first).Outcome?.Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await toLimited).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await toOpen).Outcome?.Code);
        Assert.Equal(1, h.Store.Batches - batches);
        Assert.Equal(2, (await h.NodeAsync(limited)).Reserved);
        Assert.Equal(1, (await h.NodeAsync(open)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_batch_that_meets_a_lock_conflict_on_every_try_fails_whole_and_the_engine_carries_on()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10);

        h.Store.ConflictNextBatches(CommandEngine.MaxAttempts);
        var before = h.Store.Batches;
        Assert.Equal(EngineStatus.Unavailable, (await h.HoldAsync(pool, 3)).Status);
        Assert.Equal(CommandEngine.MaxAttempts, h.Store.Batches - before);
        Assert.Equal(0, (await h.NodeAsync(pool)).Reserved);

        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 3)).Outcome?.Code);
        Assert.Equal(3, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// The engine is built when first needed, which in the server can be inside a request. Its writer
    /// must not keep that request's execution context: with tracing on, every batch span would be a
    /// child of that first request's span for the life of the process.
    /// </summary>
    [Fact]
    public async Task A_batch_span_is_no_child_of_the_request_the_engine_happened_to_be_built_in()
    {
        var started = new System.Collections.Concurrent.ConcurrentQueue<System.Diagnostics.Activity>();
        using var requests = new System.Diagnostics.ActivitySource("Capacity.Engine.Tests.Requests");
        // Read before the listener is added: a source first created inside ShouldListenTo would miss it.
        var engineSource = CommandEngine.Tracing;
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source == engineSource || source == requests,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = started.Enqueue,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);

        EngineHarness h;
        using (requests.StartActivity("the request that built the engine"))
        {
            h = await EngineHarness.OpenAsync(kind);
        }

        await using (h)
        {
            var pool = await h.CreateAsync("Pool", 10);
            System.Diagnostics.ActivitySpanId later;
            using (var request = requests.StartActivity("a later request")!)
            {
                later = request.SpanId;
                Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 1)).Outcome?.Code);
            }

            // The later request's command span links to the batch that decided it; that batch has no parent.
            var command = Assert.Single(started, a => a.OperationName == "capacity.engine.command" && a.ParentSpanId == later);
            var batchId = Assert.Single(command.Links).Context.SpanId;
            var batch = Assert.Single(started, a => a.OperationName == "capacity.engine.batch" && a.SpanId == batchId);
            Assert.Equal(default, batch.ParentSpanId);
        }
    }

    [Fact]
    public async Task A_failed_batch_records_no_idempotency_key_so_the_retry_applies_once()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10);
        var idem = new IdempotencyRequest(EngineHarness.TenantA, "k-1", "POST", "/x", [1, 2, 3]);
        var command = new PlaceHold(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 4, null)], 15);
        static StoredResponse Render(Outcome o) => new(o.Succeeded ? 201 : 409, [42], null);

        h.Store.FailNextBatchAt(FaultPoint.Commit);
        Assert.Equal(EngineStatus.Unavailable, (await h.Engine.SubmitAsync(command, idem, Render)).Status);
        Assert.Equal(0, (await h.NodeAsync(pool)).Reserved);

        var retry = await h.Engine.SubmitAsync(command with { ReservationId = Guid.CreateVersion7() }, idem, Render);
        Assert.Equal(EngineStatus.Decided, retry.Status);
        var again = await h.Engine.SubmitAsync(command with { ReservationId = Guid.CreateVersion7() }, idem, Render);
        Assert.Equal(EngineStatus.Replayed, again.Status);
        Assert.Equal(201, again.Response!.Status);
        Assert.Equal(4, (await h.NodeAsync(pool)).Reserved);

        var reused = await h.Engine.SubmitAsync(command, idem with { RequestHash = [9] }, Render);
        Assert.Equal(EngineStatus.KeyReused, reused.Status);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Acknowledged_holds_survive_closing_and_reopening_the_database()
    {
        var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 1000);
        var child = await h.CreateAsync("Child", 500, pool);
        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => h.HoldAsync(i % 2 == 0 ? pool : child, 2)));
        Assert.All(results, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        await using var reopened = await h.ReopenAsync();
        foreach (var r in results)
        {
            var stored = await reopened.Store.GetReservationAsync(EngineHarness.TenantA, r.Outcome!.Value.Reservation!.Value.Id, CancellationToken.None);
            Assert.NotNull(stored);
            Assert.Equal(ReservationStatus.Active, stored.Value.Status);
        }

        Assert.Equal(600, (await reopened.NodeAsync(pool)).Reserved);
        Assert.Equal(300, (await reopened.NodeAsync(child)).Reserved);
        await reopened.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Concurrent_commands_are_committed_in_shared_batches()
    {
        var sizes = new List<int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == CommandEngine.Meter && instrument.Name == "capacity.engine.batch_size")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
        {
            lock (sizes)
            {
                sizes.Add(value);
            }
        });
        listener.Start();

        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10_000);
        lock (sizes)
        {
            sizes.Clear();
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => h.HoldAsync(pool, 1)));
        Assert.All(results, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        lock (sizes)
        {
            // Other engines in this process may report too; ours alone must account for 2000 holds
            // in fewer transactions than holds.
            Assert.Contains(sizes, s => s > 1);
        }

        Assert.Equal(2000, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Without_batching_every_command_gets_its_own_transaction_and_the_result_is_the_same()
    {
        await using var h = await EngineHarness.OpenAsync(kind, options: new EngineOptions { Batching = false });
        var pool = await h.CreateAsync("Pool", 100);
        var results = await Task.WhenAll(Enumerable.Range(0, 150).Select(_ => h.HoldAsync(pool, 1)));
        Assert.Equal(100, results.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(50, results.Count(r => r.Outcome?.Code == OutcomeCode.InsufficientCapacity));
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_full_queue_refuses_new_commands_at_once()
    {
        await using var h = await EngineHarness.OpenAsync(kind, options: new EngineOptions { QueueLimit = 10 });
        var pool = await h.CreateAsync("Pool", 100_000);
        var results = await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => h.HoldAsync(pool, 1)));
        var refused = results.Count(r => r.Status == EngineStatus.Overloaded);
        var held = results.Count(r => r.Outcome?.Code == OutcomeCode.Ok);
        Assert.True(refused > 0, "nothing was refused");
        Assert.Equal(2000, refused + held);
        Assert.Equal(held, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task The_sweeper_expires_every_due_hold_and_returns_the_tickets()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 20_000);
        var child = await h.CreateAsync("Child", null, pool);
        await Task.WhenAll(Enumerable.Range(0, 6000).Select(i => h.HoldAsync(i % 2 == 0 ? pool : child, 1, minutes: i % 3 == 0 ? 30 : 1)));

        h.Clock.Advance(TimeSpan.FromMinutes(1));
        var sweeper = h.Sweeper();
        var expired = await sweeper.SweepOnceAsync(CancellationToken.None);
        Assert.Equal(4000, expired);
        Assert.Equal(2000, (await h.NodeAsync(pool)).Reserved);
        Assert.Equal(0, await sweeper.SweepOnceAsync(CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Migrations_run_once_and_a_second_start_changes_nothing()
    {
        var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10);
        await h.Store.MigrateAsync(CancellationToken.None);
        await using var reopened = await h.ReopenAsync();
        Assert.True(await reopened.Store.IsReadyAsync(CancellationToken.None));
        Assert.Equal(10, (await reopened.NodeAsync(pool)).Total);
    }

    [Fact]
    public async Task Idempotency_records_older_than_the_retention_are_purged_and_newer_ones_kept()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        static StoredResponse Render(Outcome o) => new(201, [1], null);
        PlaceHold Hold() => new(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15);
        var old = new IdempotencyRequest(EngineHarness.TenantA, "old", "POST", "/x", [1]);
        var recent = new IdempotencyRequest(EngineHarness.TenantA, "recent", "POST", "/x", [1]);

        Assert.Equal(EngineStatus.Decided, (await h.Engine.SubmitAsync(Hold(), old, Render)).Status);
        h.Clock.Advance(TimeSpan.FromHours(23));
        Assert.Equal(EngineStatus.Decided, (await h.Engine.SubmitAsync(Hold(), recent, Render)).Status);
        h.Clock.Advance(TimeSpan.FromHours(2));

        Assert.Equal(1, await h.Sweeper().PurgeAsync(TimeSpan.FromHours(24), CancellationToken.None));

        // The purged key is forgotten (a new request with it applies); the kept one still replays.
        Assert.Equal(EngineStatus.Decided, (await h.Engine.SubmitAsync(Hold(), old, Render)).Status);
        Assert.Equal(EngineStatus.Replayed, (await h.Engine.SubmitAsync(Hold(), recent, Render)).Status);
        Assert.Equal(3, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task The_idempotency_purge_is_a_write_transaction_of_the_engine_and_leaves_concurrent_holds_alone()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 1000);
        static StoredResponse Render(Outcome o) => new(201, [1], null);
        PlaceHold Hold() => new(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15);
        for (var i = 0; i < 20; i++)
        {
            var key = new IdempotencyRequest(EngineHarness.TenantA, $"old-{i}", "POST", "/x", [1]);
            Assert.Equal(EngineStatus.Decided, (await h.Engine.SubmitAsync(Hold(), key, Render)).Status);
        }

        h.Clock.Advance(TimeSpan.FromHours(25));
        var batches = h.Store.Batches;

        // Holds, keyed and not, queued around the purge: each is decided once, and only the old records go.
        var before = Enumerable.Range(0, 50).Select(i => i % 2 == 0
            ? h.Engine.SubmitAsync(Hold())
            : h.Engine.SubmitAsync(Hold(), new IdempotencyRequest(EngineHarness.TenantA, $"new-{i}", "POST", "/x", [1]), Render)).ToList();
        var purge = h.Engine.PurgeIdempotencyAsync(h.Clock.GetUtcNow() - TimeSpan.FromHours(24), CancellationToken.None);
        var after = Enumerable.Range(0, 50).Select(_ => h.Engine.SubmitAsync(Hold())).ToList();

        Assert.Equal(20, await purge);
        foreach (var result in await Task.WhenAll(before.Concat(after)))
        {
            Assert.Equal(OutcomeCode.Ok, result.Outcome?.Code);
        }

        // The purge took a write transaction of its own, through the store's write side.
        Assert.True(h.Store.Batches > batches);
        Assert.Equal(120, (await h.NodeAsync(pool)).Reserved);
        Assert.Equal(EngineStatus.Decided, (await h.Engine.SubmitAsync(Hold(), new IdempotencyRequest(EngineHarness.TenantA, "old-0", "POST", "/x", [1]), Render)).Status);
        Assert.Equal(EngineStatus.Replayed, (await h.Engine.SubmitAsync(Hold(), new IdempotencyRequest(EngineHarness.TenantA, "new-1", "POST", "/x", [1]), Render)).Status);
        Assert.Equal(121, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_failed_idempotency_purge_reports_its_error_and_deletes_nothing()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10);
        static StoredResponse Render(Outcome o) => new(201, [1], null);
        var key = new IdempotencyRequest(EngineHarness.TenantA, "k", "POST", "/x", [1]);
        PlaceHold Hold() => new(EngineHarness.TenantA, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15);
        Assert.Equal(EngineStatus.Decided, (await h.Engine.SubmitAsync(Hold(), key, Render)).Status);
        h.Clock.Advance(TimeSpan.FromHours(25));

        h.Store.FailNextBatchAt(FaultPoint.Commit);
        await Assert.ThrowsAsync<IOException>(() => h.Sweeper().PurgeAsync(TimeSpan.FromHours(24), CancellationToken.None));

        Assert.Equal(EngineStatus.Replayed, (await h.Engine.SubmitAsync(Hold(), key, Render)).Status);
        Assert.Equal(1, await h.Sweeper().PurgeAsync(TimeSpan.FromHours(24), CancellationToken.None));
    }
}

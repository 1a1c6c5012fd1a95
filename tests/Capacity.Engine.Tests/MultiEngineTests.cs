using Capacity.Core;
using Capacity.Storage.Postgres;
using Capacity.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.Engine.Tests;

/// <summary>
/// Two engines, each with its own store and connection pool, on one PostgreSQL schema: what two
/// server nodes are, without the HTTP around them.
/// </summary>
public sealed class MultiEngineTests : IAsyncLifetime
{
    private static readonly Guid Tenant = EngineHarness.TenantA;
    private readonly ManualTime _clock = new(DateTimeOffset.UtcNow);
    private readonly List<(FaultyStore Store, CommandEngine Engine)> _nodes = [];
    private string _schema = "";

    public async ValueTask InitializeAsync()
    {
        var schema = _schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        for (var i = 0; i < 2; i++)
        {
            var store = FaultyStore.Over(new PostgresStore(schema));
            await store.MigrateAsync(CancellationToken.None);
            _nodes.Add((store, new CommandEngine(store, _clock, CoreLimits.Default, new EngineOptions(), NullLogger<CommandEngine>.Instance)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (store, engine) in _nodes)
        {
            await engine.DisposeAsync();
            await store.DisposeAsync();
        }
    }

    private CommandEngine Node(int i) => _nodes[i % 2].Engine;

    /// <summary>
    /// What PostgreSQL answers the victim of a deadlock it breaks is what the store calls a lock conflict
    /// (the engine then decides the batch again), and nothing else is: a lock wait that timed out, or a
    /// broken connection, stays a failure.
    /// </summary>
    [Fact]
    public async Task A_deadlock_PostgreSQL_breaks_is_a_lock_conflict_and_other_failures_are_not()
    {
        await using var a = new Npgsql.NpgsqlConnection(_schema);
        await using var b = new Npgsql.NpgsqlConnection(_schema);
        await a.OpenAsync();
        await b.OpenAsync();
        await using var ta = await a.BeginTransactionAsync();
        await using var tb = await b.BeginTransactionAsync();
        await LockAsync(a, 4201);
        await LockAsync(b, 4202);
        var first = LockAsync(a, 4202);
        var second = LockAsync(b, 4201);

        var failure = await Record.ExceptionAsync(() => Task.WhenAll(first, second));
        Assert.IsType<Npgsql.PostgresException>(failure);
        Assert.True(_nodes[0].Store.IsLockConflict(failure));

        Assert.False(_nodes[0].Store.IsLockConflict(new Npgsql.PostgresException("lock timeout", "ERROR", "ERROR", Npgsql.PostgresErrorCodes.LockNotAvailable)));
        Assert.False(_nodes[0].Store.IsLockConflict(new IOException("connection reset")));

        // A row another node committed between two of a batch's reads: decided again, the batch sees it.
        Assert.True(_nodes[0].Store.IsLockConflict(new MissingRowException("Offer 1 of waiting-list entry 1 was not loaded.")));

        static async Task LockAsync(Npgsql.NpgsqlConnection c, long key)
        {
            await using var cmd = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_xact_lock({key})", c);
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private async Task<Guid> CreateAsync(string name, int? total, params Guid[] parents)
    {
        var id = Guid.CreateVersion7();
        var r = await Node(0).SubmitAsync(new CreateCapacity(Tenant, id, "e", null, name, null, total, parents, true, null));
        Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code);
        return id;
    }

    private async Task AssertAuditCleanAsync()
    {
        var report = await Audit.RunAsync(_nodes[1].Store, CancellationToken.None);
        Assert.True(report.Ok, string.Join("\n", report.Violations));
    }

    [Fact]
    public async Task Two_nodes_racing_for_a_pool_of_100_sell_exactly_100()
    {
        var pool = await CreateAsync("Pool", 100);
        var capped = await CreateAsync("Capped", 70, pool);
        var shared = await CreateAsync("Shared", null, pool);

        var results = await Task.WhenAll(Enumerable.Range(0, 600).Select(i =>
            Node(i).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(i % 3 == 0 ? shared : capped, 1, null)], 15))));

        Assert.All(results, r => Assert.Equal(EngineStatus.Decided, r.Status));
        Assert.Equal(100, results.Count(r => r.Outcome!.Value.Code == OutcomeCode.Ok));
        Assert.Equal(500, results.Count(r => r.Outcome!.Value.Code == OutcomeCode.InsufficientCapacity));
        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// A database whose administrator made another isolation the default (<c>ALTER DATABASE … SET
    /// default_transaction_isolation</c>; set here for the sessions) changes nothing: the batches ask for
    /// READ COMMITTED themselves. Under REPEATABLE READ this fails: batches that waited for the other
    /// node's locks are failed as serialization conflicts, and counts read before the wait let a bound pass.
    /// </summary>
    [Fact]
    public async Task Under_a_serializable_database_default_two_nodes_sell_exactly_the_pool_and_keep_the_bound_and_the_ledger()
    {
        var options = new Npgsql.NpgsqlConnectionStringBuilder(_schema) { Options = "-c default_transaction_isolation=serializable" }.ConnectionString;
        await using (var probe = new Npgsql.NpgsqlConnection(options))
        {
            await probe.OpenAsync();
            await using var show = new Npgsql.NpgsqlCommand("SHOW default_transaction_isolation", probe);
            Assert.Equal("serializable", await show.ExecuteScalarAsync());
        }

        var nodes = new List<(FaultyStore Store, CommandEngine Engine)>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var store = FaultyStore.Over(new PostgresStore(options));
                nodes.Add((store, new CommandEngine(store, _clock, CoreLimits.Default, new EngineOptions(), NullLogger<CommandEngine>.Instance)));
            }

            var pool = await CreateAsync("Pool", 100);
            var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
                nodes[i % 2].Engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15))));
            Assert.All(results, r => Assert.Equal(EngineStatus.Decided, r.Status));
            Assert.Equal(100, results.Count(r => r.Outcome!.Value.Code == OutcomeCode.Ok));

            var created = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
                nodes[i % 2].Engine.SubmitAsync(new CreateCapacity(Tenant, Guid.CreateVersion7(), "bounded", null, $"Section {i}", null, 10, [], true, null, MaxInEvent: 12))));
            Assert.All(created, r => Assert.Equal(EngineStatus.Decided, r.Status));
            Assert.Equal(12, created.Count(r => r.Outcome!.Value.Code == OutcomeCode.Ok));
        }
        finally
        {
            foreach (var (store, engine) in nodes)
            {
                await engine.DisposeAsync();
                await store.DisposeAsync();
            }
        }

        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Two_nodes_racing_to_create_in_an_event_bounded_at_twelve_create_exactly_twelve_and_other_events_are_not_held_back()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 60).Select(i =>
            Node(i).SubmitAsync(new CreateCapacity(
                Tenant, Guid.CreateVersion7(), i % 4 == 0 ? $"other-{i}" : "gala", null, $"Section {i}", null, 10, [], true, null, MaxInEvent: 12))));

        Assert.All(results, r => Assert.Equal(EngineStatus.Decided, r.Status));
        Assert.Equal(12 + 15, results.Count(r => r.Outcome!.Value.Code == OutcomeCode.Ok));
        Assert.Equal(60 - 15 - 12, results.Count(r => r.Outcome!.Value.Code == OutcomeCode.TooManyCapacities));
        var events = await _nodes[0].Store.GetEventsAsync(Tenant, CancellationToken.None);
        Assert.Equal(12, events.Single(e => e.EventId == "gala").Capacities);
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Two_nodes_issuing_keys_at_once_under_a_bound_of_eight_issue_exactly_seven_beside_the_tenants_first()
    {
        var tenant = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await Node(0).SubmitAsync(new CreateTenant(tenant, "Box office", EngineTests.NewKey()))).Outcome?.Code);

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            await Task.Yield();
            return await Node(i).SubmitAsync(new AddApiKey(tenant, EngineTests.NewKey(), MaxUsable: 8));
        }));

        Assert.All(results, r => Assert.Equal(EngineStatus.Decided, r.Status));
        Assert.Equal(7, results.Count(r => r.Outcome!.Value.Code == OutcomeCode.Ok));
        Assert.Equal(33, results.Count(r => r.Outcome!.Value.Code == OutcomeCode.TooManyKeys));
        Assert.Equal(8, (await _nodes[1].Store.GetApiKeysAsync(tenant, CancellationToken.None)).Count);
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task The_same_idempotency_key_on_both_nodes_takes_effect_once()
    {
        var pool = await CreateAsync("Pool", 100);
        var idem = new IdempotencyRequest(Tenant, "same-key", "POST", "/capacity/x/reserve", [7]);
        static StoredResponse Render(Outcome o) => new(o.Succeeded ? 201 : 409, System.Text.Encoding.UTF8.GetBytes(o.Reservation?.Id.ToString() ?? ""), null);

        // Like the HTTP layer: a copy that finds the key busy on the other node asks again.
        async Task<EngineResult> SubmitUntilAnsweredAsync(int i)
        {
            while (true)
            {
                var result = await Node(i).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 2, null)], 15), idem, Render);
                if (result.Status != EngineStatus.InProgress)
                {
                    return result;
                }

                await Task.Delay(10);
            }
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(SubmitUntilAnsweredAsync));

        Assert.All(results, r => Assert.True(r.Status is EngineStatus.Decided or EngineStatus.Replayed, r.Status.ToString()));
        Assert.Single(results, r => r.Status == EngineStatus.Decided);
        Assert.Single(results.Select(r => System.Text.Encoding.UTF8.GetString(r.Response!.Body)).Distinct());
        var node = (await _nodes[0].Store.GetCapacitiesAsync(Tenant, [pool], CancellationToken.None)).Single(n => n.Id == pool);
        Assert.Equal(2, node.Reserved);
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Confirms_and_releases_on_two_nodes_apply_once_per_reservation()
    {
        var pool = await CreateAsync("Pool", 500);
        var holds = new List<Guid>();
        foreach (var batch in Enumerable.Range(0, 100).Chunk(25))
        {
            var placed = await Task.WhenAll(batch.Select(i => Node(i).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15))));
            holds.AddRange(placed.Select(p => p.Outcome!.Value.Reservation!.Value.Id));
        }

        var results = await Task.WhenAll(holds.SelectMany((h, i) => new[]
        {
            Node(i).SubmitAsync(new TransitionReservation(Tenant, h, Transition.Confirm)),
            Node(i + 1).SubmitAsync(new TransitionReservation(Tenant, h, Transition.Release)),
        }));

        // Per hold exactly one of the two won; the other saw a finished reservation.
        foreach (var pair in results.Chunk(2))
        {
            Assert.Single(pair, r => r.Outcome!.Value.Code == OutcomeCode.Ok);
        }

        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// What two nodes' senders and sales do to one tenant's endpoints at once: each node sells from its
    /// own section of one event (no capacity row in common, so nothing orders their batches) and
    /// records attempts at the endpoint it claimed (which locks that endpoint) in the same batches as
    /// releases whose notices go to both endpoints (which take both endpoints' next sequence numbers,
    /// and the event's ledger lock). No batch may fail for it: a failed recording is a delivery sent
    /// twice, a failed release a 503. Nor may any batch be tried again for a lock cycle: the engine
    /// would hide one by deciding the batch afresh, so the test counts them.
    /// </summary>
    [Fact]
    public async Task Both_nodes_recording_deliveries_while_both_write_notices_to_the_same_endpoints_fail_no_batch()
    {
        Guid[] sections = [await CreateAsync("Stalls", 10_000), await CreateAsync("Circle", 10_000)];
        Guid[] endpoints = [Guid.CreateVersion7(), Guid.CreateVersion7()];
        foreach (var endpoint in endpoints)
        {
            var created = await Node(0).SubmitAsync(new CreateWebhook(Tenant, endpoint, $"https://{endpoint:N}.example/hook", Topics.ReservationReleased, null, "whsec_c2VjcmV0"));
            Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
        }

        var holds = new List<Guid>();
        foreach (var batch in Enumerable.Range(0, 600).Chunk(50))
        {
            var placed = await Task.WhenAll(batch.Select(i => Node(i).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(sections[i % 2], 1, null)], 15))));
            holds.AddRange(placed.Select(p => p.Outcome!.Value.Reservation!.Value.Id));
        }

        // Hold i is node i % 2's, from its section; each round records the next deliveries of each node's endpoint.
        var recorded = 0L;
        foreach (var round in holds.Select((h, i) => (Hold: h, Node: i % 2)).Chunk(20))
        {
            var work = new List<Task<EngineResult>>();
            recorded++;
            foreach (var (hold, node) in round)
            {
                work.Add(Node(node).SubmitAsync(new RecordDeliveryAttempt(Tenant, endpoints[node], recorded, 200, null, 1, 0.5)));
                work.Add(Node(node).SubmitAsync(new TransitionReservation(Tenant, hold, Transition.Release)));
            }

            var results = await Task.WhenAll(work);
            Assert.All(results, r => Assert.Equal(EngineStatus.Decided, r.Status));
        }

        Assert.Equal(0, _nodes.Sum(n => n.Store.LockConflicts));
        await AssertAuditCleanAsync();
    }

    /// <remarks>
    /// A batch reads a tenant's endpoints once it holds its capacities' locks, and decides its notices
    /// on them. An endpoint created or deleted on the other node in between must not be acknowledged
    /// before that batch commits: the platform, told the endpoint exists, would never hear of a change
    /// committed after that answer, and a deleted endpoint would be written a delivery.
    /// </remarks>
    [Fact]
    public async Task An_endpoint_created_or_deleted_on_one_node_waits_for_a_change_the_other_node_decided_without_it()
    {
        var pool = await CreateAsync("Pool", 100);
        async Task<Guid> HoldAsync()
        {
            var placed = await Node(0).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15));
            return placed.Outcome!.Value.Reservation!.Value.Id;
        }

        Task<EngineResult> Release(Guid hold) => Node(0).SubmitAsync(new TransitionReservation(Tenant, hold, Transition.Release));
        async Task<long> DeliveriesAsync(Guid endpoint) =>
            (await _nodes[1].Store.GetDeliveriesAsync(Tenant, endpoint, 0, 100, CancellationToken.None)).Count;

        // Node A has read the endpoints (none yet) and holds the pool while node B creates one.
        var endpoint = Guid.CreateVersion7();
        var hold = await HoldAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = _nodes[0].Store.HoldNextLoad(release.Task);
        var unseen = Release(hold);
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));
        var created = Node(1).SubmitAsync(new CreateWebhook(Tenant, endpoint, "https://a.example/hook", Topics.ReservationReleased, null, "whsec_c2VjcmV0"));
        await Task.Delay(500);
        Assert.False(created.IsCompleted, "the endpoint was acknowledged while a change decided without it was still to commit");
        release.SetResult();
        Assert.Equal(OutcomeCode.Ok, (await unseen).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await created).Outcome?.Code);
        Assert.Equal(0, await DeliveriesAsync(endpoint));
        Assert.Equal(OutcomeCode.Ok, (await Release(await HoldAsync())).Outcome?.Code);
        Assert.Equal(1, await DeliveriesAsync(endpoint));

        // Node A has read the endpoint and holds the pool while node B deletes it.
        hold = await HoldAsync();
        release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loaded = _nodes[0].Store.HoldNextLoad(release.Task);
        var noticed = Release(hold);
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));
        var deleted = Node(1).SubmitAsync(new DeleteWebhook(Tenant, endpoint));
        await Task.Delay(500);
        Assert.False(deleted.IsCompleted, "the endpoint was deleted while a change that writes it a notice was still to commit");
        release.SetResult();
        Assert.Equal(OutcomeCode.Ok, (await noticed).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await deleted).Outcome?.Code);
        Assert.Null(await _nodes[1].Store.GetWebhookAsync(Tenant, endpoint, CancellationToken.None));
        Assert.Equal(0, await DeliveriesAsync(endpoint));
        await AssertAuditCleanAsync();
    }

    /// <remarks>
    /// An endpoint's creation locks the tenant's capacities, but a capacity another node is still
    /// creating is not among them yet: the creation and the endpoint take turns on a lock of the
    /// tenant, so the endpoint then locks the new capacity too, and a change on it is sent to it.
    /// </remarks>
    [Fact]
    public async Task An_endpoint_created_while_the_other_node_creates_a_capacity_of_the_tenant_waits_for_it_and_hears_of_changes_on_it()
    {
        var section = Guid.CreateVersion7();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = _nodes[0].Store.HoldNextLoad(release.Task);
        var creating = Node(0).SubmitAsync(new CreateCapacity(Tenant, section, "e", null, "New section", null, 10, [], true, null));
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));

        var endpoint = Guid.CreateVersion7();
        var created = Node(1).SubmitAsync(new CreateWebhook(Tenant, endpoint, "https://a.example/hook", Topics.ReservationReleased, null, "whsec_c2VjcmV0"));
        await Task.Delay(500);
        Assert.False(created.IsCompleted, "the endpoint was acknowledged while a capacity of its tenant was still being created");
        release.SetResult();
        Assert.Equal(OutcomeCode.Ok, (await creating).Outcome?.Code);
        Assert.Equal(OutcomeCode.Ok, (await created).Outcome?.Code);

        var hold = (await Node(0).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(section, 1, null)], 15))).Outcome!.Value.Reservation!.Value.Id;
        Assert.Equal(OutcomeCode.Ok, (await Node(0).SubmitAsync(new TransitionReservation(Tenant, hold, Transition.Release))).Outcome?.Code);
        Assert.Single(await _nodes[1].Store.GetDeliveriesAsync(Tenant, endpoint, 0, 100, CancellationToken.None));
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Both_nodes_sweeping_the_same_due_holds_expire_each_exactly_once()
    {
        var pool = await CreateAsync("Pool", 5000);
        await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => Node(i).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 1))));
        _clock.Advance(TimeSpan.FromMinutes(1));

        var sweepers = _nodes.Select(n => new ExpirySweeper(n.Store, n.Engine, _clock, NullLogger<ExpirySweeper>.Instance) { BatchSize = 500 }).ToList();
        var counts = await Task.WhenAll(sweepers.Select(s => s.SweepOnceAsync(CancellationToken.None)));

        Assert.Equal(2000, counts.Sum());
        var node = (await _nodes[0].Store.GetCapacitiesAsync(Tenant, [pool], CancellationToken.None)).Single(n => n.Id == pool);
        Assert.Equal(0, node.Reserved);
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Two_nodes_closing_the_same_expired_allocation_give_its_idle_units_back_once()
    {
        var pool = await CreateAsync("Pool", 100);
        var box = Guid.CreateVersion7();
        Assert.Equal(OutcomeCode.Ok, (await Node(0).SubmitAsync(new CreateAllocation(Tenant, box, pool, "Sponsor", 40, _clock.GetUtcNow().AddMinutes(5)))).Outcome?.Code);
        await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Node(i).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null, box)], 30))));
        _clock.Advance(TimeSpan.FromMinutes(6));

        var sweepers = _nodes.Select(n => new ExpirySweeper(n.Store, n.Engine, _clock, NullLogger<ExpirySweeper>.Instance)).ToList();
        var closed = await Task.WhenAll(sweepers.Concat(sweepers).Select(s => s.CloseDueAllocationsAsync(CancellationToken.None)));

        Assert.Equal(1, closed.Sum());
        var node = (await _nodes[0].Store.GetCapacitiesAsync(Tenant, [pool], CancellationToken.None)).Single(n => n.Id == pool);
        Assert.Equal(10, node.Reserved);
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Two_nodes_racing_holds_from_one_allocation_and_the_public_pool_never_overdraw_either()
    {
        var pool = await CreateAsync("Pool", 100);
        var box = Guid.CreateVersion7();
        await Node(1).SubmitAsync(new CreateAllocation(Tenant, box, pool, "Box office", 30, null));

        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Node(i).SubmitAsync(
            new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null, i % 2 == 0 ? box : null)], 15))));

        Assert.Equal(30, results.Where((_, i) => i % 2 == 0).Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(70, results.Where((_, i) => i % 2 == 1).Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// Where no limit covers a capacity, each node writes a buyer's usage without reading it (the
    /// batch's change added to the row, or subtracted for a release): two nodes adding to and taking
    /// from the same buyers' rows at once leave each row equal to the buyer's live tickets.
    /// </summary>
    [Fact]
    public async Task Two_nodes_adding_to_the_same_buyers_unread_usage_rows_leave_them_exact()
    {
        var stalls = await CreateAsync("Stalls", 1000);
        var circle = await CreateAsync("Circle", 1000, stalls);
        var held = await Task.WhenAll(Enumerable.Range(0, 160).Select(i => Node(i).SubmitAsync(
            new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(i % 3 == 0 ? circle : stalls, 1 + i % 2, null)], 15, $"b{i % 8}"))));
        Assert.All(held, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        // Every fourth hold released from the other node, while both nodes place more for the same buyers.
        var more = Enumerable.Range(0, 80).Select(i => Node(i).SubmitAsync(
            new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(stalls, 1, null)], 15, $"b{i % 8}")));
        var released = held.Where((_, i) => i % 4 == 0).Select((r, i) => Node(i + 1).SubmitAsync(
            new TransitionReservation(Tenant, r.Outcome!.Value.Reservation!.Value.Id, Transition.Release)));
        Assert.All(await Task.WhenAll(more.Concat(released)), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        var expected = held.Where((_, i) => i % 4 != 0 && i % 8 == 3).Sum(r => r.Outcome!.Value.Reservation!.Value.Items.Sum(x => (long)x.Quantity))
            + Enumerable.Range(0, 80).Count(i => i % 8 == 3);
        Assert.Equal(expected, await _nodes[0].Store.GetBuyerUsageAsync(Tenant, [stalls, circle], "b3", CancellationToken.None));
        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// Where no limit covers a capacity the nodes append buyers' changes to the usage log; a limit
    /// created on one node while both keep placing and releasing keyed holds folds the log under the
    /// capacities' locks, so whichever side of the creation each batch commits on, every buyer's usage
    /// stays exact and no buyer passes the limit once it exists.
    /// </summary>
    [Fact]
    public async Task A_limit_created_on_one_node_while_both_append_to_the_usage_log_counts_every_ticket()
    {
        var stalls = await CreateAsync("Stalls", 1000);
        var held = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Node(i).SubmitAsync(
            new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(stalls, 1, null)], 15, $"b{i % 6}"))));
        Assert.All(held, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        // Each buyer has 10. A limit of 12 arrives on node 0 among releases and more holds from both nodes.
        var limit = Node(0).SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e", "Twelve", [stalls], 12, false));
        var released = held.Where((_, i) => i % 5 == 0).Select((r, i) => Node(i + 1).SubmitAsync(
            new TransitionReservation(Tenant, r.Outcome!.Value.Reservation!.Value.Id, Transition.Release)));
        var more = Enumerable.Range(0, 60).Select(i => Node(i).SubmitAsync(
            new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(stalls, 1, null)], 15, $"b{i % 6}"))).ToArray();
        Assert.Equal(OutcomeCode.Ok, (await limit).Outcome?.Code);
        Assert.All(await Task.WhenAll(released), r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        var placed = await Task.WhenAll(more);
        Assert.All(placed, r => Assert.True(r.Outcome?.Code is OutcomeCode.Ok or OutcomeCode.BuyerLimitExceeded, r.Outcome?.Code.ToString()));

        // Holds that committed before the limit were not held to it; each buyer's usage is exact either way.
        var before = new long[6];
        for (var b = 0; b < 6; b++)
        {
            var buyer = $"b{b}";
            before[b] = held.Where((r, i) => i % 5 != 0 && r.Outcome!.Value.Reservation!.Value.BuyerKey == buyer).Count()
                + placed.Count(r => r.Outcome?.Code == OutcomeCode.Ok && r.Outcome!.Value.Reservation!.Value.BuyerKey == buyer);
            Assert.Equal(before[b], await _nodes[b % 2].Store.GetBuyerUsageAsync(Tenant, [stalls], buyer, CancellationToken.None));
        }

        // Once the limit exists, both nodes hold every buyer to it: up to 12, and nothing for a buyer already there.
        var after = await Task.WhenAll(Enumerable.Range(0, 42).Select(i => Node(i).SubmitAsync(
            new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(stalls, 1, null)], 15, $"b{i % 6}"))));
        Assert.All(after, r => Assert.True(r.Outcome?.Code is OutcomeCode.Ok or OutcomeCode.BuyerLimitExceeded, r.Outcome?.Code.ToString()));
        for (var b = 0; b < 6; b++)
        {
            Assert.Equal(Math.Max(before[b], Math.Min(12, before[b] + 7)), await _nodes[(b + 1) % 2].Store.GetBuyerUsageAsync(Tenant, [stalls], $"b{b}", CancellationToken.None));
        }

        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// Both nodes fold the usage log in small slices, again and again, while both append to it (holds
    /// and releases naming six buyers on two capacities) and one creates a limit over one capacity: a
    /// fold takes the capacity's lock as a batch does, or folds nothing, so no entry is added twice or
    /// lost, and each buyer's usage is exact.
    /// </summary>
    [Fact]
    public async Task Both_nodes_folding_the_usage_log_while_both_append_and_one_creates_a_limit_keep_every_buyer_s_usage_exact()
    {
        var capacities = new[] { await CreateAsync("Stalls", 10_000), await CreateAsync("Circle", 10_000) };
        using var done = new CancellationTokenSource();
        var folded = new int[2];
        var folding = Enumerable.Range(0, 2).Select(n => Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                folded[n] += await Node(n).FoldUsageLogAsync(3, CancellationToken.None);
                await Task.Delay(1);
            }
        })).ToArray();

        var kept = new System.Collections.Concurrent.ConcurrentBag<(Guid Capacity, string Buyer)>();
        var workers = Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 30; i++)
            {
                var (capacity, buyer) = (capacities[random.Next(2)], $"b{random.Next(6)}");
                var hold = await Node(worker).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capacity, 1, null)], 15, buyer));
                if (hold.Outcome?.Code == OutcomeCode.BuyerLimitExceeded)
                {
                    continue;
                }

                Assert.Equal(OutcomeCode.Ok, hold.Outcome?.Code);
                if (random.Next(3) == 0)
                {
                    var given = await Node(worker + 1).SubmitAsync(new TransitionReservation(Tenant, hold.Outcome!.Value.Reservation!.Value.Id, Transition.Release));
                    Assert.Equal(OutcomeCode.Ok, given.Outcome?.Code);
                }
                else
                {
                    kept.Add((capacity, buyer));
                }

                await Task.Delay(random.Next(3));
            }
        })).ToArray();

        await Task.Delay(100);
        Assert.Equal(OutcomeCode.Ok, (await Node(1).SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e", "Forty", [capacities[0]], 40, false))).Outcome?.Code);
        await Task.WhenAll(workers);
        await done.CancelAsync();
        await Task.WhenAll(folding);

        Assert.True(folded.Sum() > 0, "no fold ran between the holds");
        await AssertAuditCleanAsync();
        while (await Node(0).FoldUsageLogAsync(50, CancellationToken.None) > 0)
        {
        }

        await using var count = new Npgsql.NpgsqlDataSourceBuilder(_schema).Build();
        Assert.Equal(0L, (long)(await count.CreateCommand("SELECT COUNT(*) FROM buyer_usage_log").ExecuteScalarAsync())!);
        foreach (var capacity in capacities)
        {
            for (var b = 0; b < 6; b++)
            {
                Assert.Equal(kept.Count(k => k.Capacity == capacity && k.Buyer == $"b{b}"), await _nodes[b % 2].Store.GetBuyerUsageAsync(Tenant, [capacity], $"b{b}", CancellationToken.None));
            }
        }

        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// A fold holds the capacity's lock until it commits, as a batch does: a limit created over the
    /// capacity on the other node meanwhile waits for it, then folds the rest of the log on top of the
    /// rows the fold wrote. Without the lock the limit's batch would fold the rest on a snapshot taken
    /// before the fold's commit, insert a buyer's row a second time and fail.
    /// </summary>
    [Fact]
    public async Task A_limit_created_while_another_node_s_fold_is_uncommitted_waits_for_it_and_counts_every_ticket()
    {
        var stalls = await CreateAsync("Stalls", 1000);
        for (var i = 0; i < 6; i++)
        {
            var held = await Node(0).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(stalls, 1, null)], 15, $"b{i % 3}"));
            Assert.Equal(OutcomeCode.Ok, held.Outcome?.Code);
        }

        // Node 0 folds the first three entries (one of each buyer: their rows are inserted) and waits before its commit.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = _nodes[0].Store.HoldNextCommit(release.Task);
        var fold = Node(0).FoldUsageLogAsync(3, CancellationToken.None);
        await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        var limit = Node(1).SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e", "Three", [stalls], 3, false));
        await using var db = new Npgsql.NpgsqlDataSourceBuilder(_schema).Build();
        for (var tries = 0; tries < 100 && !limit.IsCompleted && (long)(await db.CreateCommand(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()").ExecuteScalarAsync())! == 0; tries++)
        {
            await Task.Delay(20);
        }

        Assert.False(limit.IsCompleted);
        release.SetResult();
        Assert.Equal(3, await fold);
        Assert.Equal(OutcomeCode.Ok, (await limit).Outcome?.Code);
        for (var b = 0; b < 3; b++)
        {
            Assert.Equal(2, await _nodes[1].Store.GetBuyerUsageAsync(Tenant, [stalls], $"b{b}", CancellationToken.None));
        }

        Assert.Equal(0L, (long)(await db.CreateCommand("SELECT COUNT(*) FROM buyer_usage_log").ExecuteScalarAsync())!);
        Assert.Equal(OutcomeCode.Ok, (await Node(1).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(stalls, 1, null)], 15, "b1"))).Outcome?.Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, (await Node(0).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(stalls, 1, null)], 15, "b1"))).Outcome?.Code);
        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// A capacity whose row lock a batch holds is passed over, not waited for: node 1 folds the log of
    /// the next capacity with entries while node 0's batch holds the first, and the first's log stays.
    /// </summary>
    [Fact]
    public async Task A_fold_passes_over_a_capacity_another_node_s_batch_holds_and_folds_the_next()
    {
        var busy = await CreateAsync("Busy", 1000);
        var quiet = await CreateAsync("Quiet", 1000);
        foreach (var capacity in new[] { busy, quiet, busy, quiet })
        {
            var held = await Node(0).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capacity, 1, null)], 15, "fan"));
            Assert.Equal(OutcomeCode.Ok, held.Outcome?.Code);
        }

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = _nodes[0].Store.HoldNextLoad(release.Task);
        var holding = Node(0).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(busy, 1, null)], 15, null));
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, await Node(1).FoldUsageLogAsync(10, CancellationToken.None));
        await using var db = new Npgsql.NpgsqlDataSourceBuilder(_schema).Build();
        Assert.Equal(2L, (long)(await db.CreateCommand($"SELECT COUNT(*) FROM buyer_usage_log WHERE capacity_id = '{busy}'").ExecuteScalarAsync())!);
        Assert.Equal(0L, (long)(await db.CreateCommand($"SELECT COUNT(*) FROM buyer_usage_log WHERE capacity_id = '{quiet}'").ExecuteScalarAsync())!);

        release.SetResult();
        Assert.Equal(OutcomeCode.Ok, (await holding).Outcome?.Code);
        Assert.Equal(2, await Node(1).FoldUsageLogAsync(10, CancellationToken.None));
        Assert.Equal(2, await _nodes[1].Store.GetBuyerUsageAsync(Tenant, [busy], "fan", CancellationToken.None));
        Assert.Equal(2, await _nodes[1].Store.GetBuyerUsageAsync(Tenant, [quiet], "fan", CancellationToken.None));
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Fifty_holds_with_one_key_across_two_nodes_and_two_capacities_take_exactly_the_limit()
    {
        var stalls = await CreateAsync("Stalls", 1000);
        var circle = await CreateAsync("Circle", 1000);
        Assert.Equal(OutcomeCode.Ok, (await Node(0).SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e", "Four each", [stalls, circle], 4, false))).Outcome?.Code);

        // Holds on different capacities lock different rows; the limit's lock is what keeps usage exact.
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Node(i).SubmitAsync(
            new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(i % 4 < 2 ? stalls : circle, 1, null)], 15, "buyer"))));

        Assert.Equal(4, results.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(4, await _nodes[1].Store.GetBuyerUsageAsync(Tenant, [stalls, circle], "buyer", CancellationToken.None));
        await AssertAuditCleanAsync();
    }

    /// <summary>
    /// Node 0's batch holds the pool's row lock and node 1's waits for it, while both nodes' callers
    /// queue plain holds, holds under a per-buyer limit and copies of keyed holds: each batch, once it
    /// has its rows, takes in what queued behind it. The pool sells out exactly, no buyer passes the
    /// limit, and each key takes effect once.
    /// </summary>
    [Fact]
    public async Task Commands_queued_on_both_nodes_behind_a_held_pool_lock_join_the_waiting_batches_and_sell_exactly_the_pool()
    {
        var pool = await CreateAsync("Pool", 40);
        var circle = await CreateAsync("Circle", 1000);
        Assert.Equal(OutcomeCode.Ok, (await Node(0).SubmitAsync(new CreateBuyerLimit(Tenant, Guid.CreateVersion7(), "e", "Three each", [pool, circle], 3, false))).Outcome?.Code);
        static StoredResponse Render(Outcome o) => new(o.Succeeded ? 201 : 409, System.Text.Encoding.UTF8.GetBytes(o.Reservation?.Id.ToString() ?? ""), null);

        async Task<EngineResult> SubmitAsync(int i, string? buyer, string? key)
        {
            while (true)
            {
                var hold = new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15, buyer);
                var result = key is null
                    ? await Node(i).SubmitAsync(hold)
                    : await Node(i).SubmitAsync(hold, new IdempotencyRequest(Tenant, key, "POST", "/x", [1]), Render);
                if (result.Status != EngineStatus.InProgress)
                {
                    return result;
                }

                await Task.Delay(10);
            }
        }

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = _nodes[0].Store.HoldNextLoad(release.Task);
        var first = SubmitAsync(0, null, null);
        await loaded.WaitAsync(TimeSpan.FromSeconds(30));
        var waiting = SubmitAsync(1, null, null);
        await Task.Delay(200);

        // 10 buyers × 5 holds (at most 30 by the limit), 20 plain, 5 keys × 4 copies: more than 40 asked for.
        var buyers = Enumerable.Range(0, 50).Select(i => SubmitAsync(i, $"b{i % 10}", null)).ToArray();
        var plain = Enumerable.Range(0, 20).Select(i => SubmitAsync(i, null, null)).ToArray();
        var keyed = Enumerable.Range(0, 20).Select(i => SubmitAsync(i, null, $"k{i % 5}")).ToArray();
        release.SetResult();

        var all = await Task.WhenAll([first, waiting, .. buyers, .. plain, .. keyed]);
        Assert.All(all, r => Assert.True(r.Status is EngineStatus.Decided or EngineStatus.Replayed, r.Status.ToString()));
        Assert.Equal(40, all.Count(r => r.Status == EngineStatus.Decided && r.Outcome?.Code == OutcomeCode.Ok));
        var perBuyer = buyers.Select((t, i) => (Buyer: i % 10, t.Result)).Where(x => x.Result.Outcome?.Code == OutcomeCode.Ok).GroupBy(x => x.Buyer);
        Assert.All(perBuyer, g => Assert.True(g.Count() <= 3, $"buyer b{g.Key} took {g.Count()}"));
        for (var b = 0; b < 10; b++)
        {
            var held = buyers.Where((_, i) => i % 10 == b).Count(t => t.Result.Outcome?.Code == OutcomeCode.Ok);
            Assert.Equal(held, await _nodes[1].Store.GetBuyerUsageAsync(Tenant, [pool, circle], $"b{b}", CancellationToken.None));
        }

        foreach (var copies in keyed.Select((t, i) => (Key: i % 5, t.Result)).GroupBy(x => x.Key))
        {
            Assert.Single(copies, c => c.Result.Status == EngineStatus.Decided);
            Assert.Single(copies.Select(c => System.Text.Encoding.UTF8.GetString(c.Result.Response!.Body)).Distinct());
        }

        var node = (await _nodes[0].Store.GetCapacitiesAsync(Tenant, [pool], CancellationToken.None)).Single(n => n.Id == pool);
        Assert.Equal(40, node.Reserved);
        await AssertAuditCleanAsync();
    }

    /// <remarks>
    /// A copy of a hold waits on the pool's row lock before it gets here; the key's lock matters for
    /// commands that lock no existing row, such as creating a capacity or a tenant, shown here.
    /// </remarks>
    [Fact]
    public async Task A_key_being_applied_on_one_node_is_in_progress_on_the_other_until_it_commits()
    {
        var pool = await CreateAsync("Pool", 10);
        var idem = new IdempotencyRequest(Tenant, "slow-key", "POST", "/events/e/capacity", [3]);
        static StoredResponse Render(Outcome o) => new(201, [], null);
        CreateCapacity Create() => new(Tenant, Guid.CreateVersion7(), "e", null, "Balcony", null, 30, [], true, null);

        // Node A holds the key's lock through a slow commit, slow enough that node B's work below ends
        // well inside it even on a loaded machine (at 1.5 s it did not once, in a full run of the suite).
        _nodes[0].Store.DelayNextCommit(TimeSpan.FromSeconds(3));
        var first = Node(0).SubmitAsync(Create(), idem, Render);
        await Task.Delay(500);
        Assert.False(first.IsCompleted);

        var meanwhile = await Node(1).SubmitAsync(Create(), idem, Render);
        Assert.Equal(EngineStatus.InProgress, meanwhile.Status);

        // Other work on node B is not held up by it.
        var hold = await Node(1).SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(pool, 1, null)], 15));
        Assert.Equal(OutcomeCode.Ok, hold.Outcome?.Code);
        Assert.False(first.IsCompleted);

        Assert.Equal(EngineStatus.Decided, (await first).Status);
        Assert.Equal(EngineStatus.Replayed, (await Node(1).SubmitAsync(Create(), idem, Render)).Status);
        await AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Readers_tailing_two_events_ledgers_while_two_nodes_sell_carts_across_both_miss_no_entry_and_each_event_is_numbered_1_to_n()
    {
        // Each node sells its own sections, one in each event, with no pool in common: the nodes lock
        // disjoint rows, so nothing but the ledger's own ordering stops one node's entries from
        // becoming visible behind sequence numbers a reader has already passed. Carts span both
        // events, so every batch orders two events' chunks, in whatever order its commands name them.
        string[] events = ["east", "west"];
        var sections = new Guid[2, 2];
        for (var node = 0; node < 2; node++)
        {
            for (var e = 0; e < 2; e++)
            {
                sections[node, e] = Guid.CreateVersion7();
                var created = await Node(0).SubmitAsync(new CreateCapacity(Tenant, sections[node, e], events[e], null, $"Section {node}", null, null, [], true, null));
                Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
            }
        }

        var writers = Task.WhenAll(Enumerable.Range(0, 2).SelectMany(node => Enumerable.Range(0, 20).Select(client => Task.Run(async () =>
        {
            for (var i = 0; i < 30; i++)
            {
                var (first, second) = (i + client) % 2 == 0 ? (0, 1) : (1, 0);
                var r = await Node(node).SubmitAsync(new PlaceHold(
                    Tenant, Guid.CreateVersion7(), [new HoldItem(sections[node, first], 1, null), new HoldItem(sections[node, second], 1, null)], 15));
                Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code);
            }
        }))));

        // Consumers as the API describes them: each page starts after the last entry seen.
        var seen = new[] { new List<long>(), new List<long>() };
        var after = new long[2];
        while (true)
        {
            var finished = writers.IsCompleted;
            var empty = true;
            for (var e = 0; e < 2; e++)
            {
                var page = await _nodes[e].Store.GetLedgerAsync(Tenant, events[e], after[e], 1000, CancellationToken.None);
                seen[e].AddRange(page.Select(x => x.Sequence));
                after[e] = page.Count > 0 ? page[^1].Sequence : after[e];
                empty &= page.Count == 0;
            }

            if (finished && empty)
            {
                break;
            }
        }

        await writers;
        for (var e = 0; e < 2; e++)
        {
            var all = await _nodes[0].Store.GetLedgerAsync(Tenant, events[e], 0, 10_000, CancellationToken.None);
            Assert.Equal(Enumerable.Range(1, 2 * 20 * 30).Select(i => (long)i), all.Select(x => x.Sequence));
            Assert.Equal(all.Select(x => x.Sequence), seen[e]);
        }

        await AssertAuditCleanAsync();
    }
}

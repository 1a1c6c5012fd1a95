using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class AllocationEngineTests_on_sqlite() : AllocationEngineTests(StoreKind.Sqlite);

public sealed class AllocationEngineTests_on_postgres() : AllocationEngineTests(StoreKind.Postgres);

/// <summary>Allocations through the real engine and store: decided in the batch, written, read back, audited.</summary>
public abstract class AllocationEngineTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task Five_hundred_concurrent_public_holds_take_exactly_what_an_allocation_leaves_and_allocated_holds_take_the_rest()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var box = await AllocateAsync(h, pool, 40);

        var publicHolds = Enumerable.Range(0, 500).Select(_ => h.HoldAsync(pool, 1));
        var allocatedHolds = Enumerable.Range(0, 60).Select(_ => HoldFromAsync(h, pool, 1, box));
        var results = await Task.WhenAll(publicHolds.Concat(allocatedHolds));

        Assert.Equal(60, results.Take(500).Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(40, results.Skip(500).Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.All(results.Skip(500).Where(r => r.Outcome?.Code != OutcomeCode.Ok), r => Assert.Equal(OutcomeCode.AllocationInsufficient, r.Outcome?.Code));
        var node = await h.NodeAsync(pool);
        Assert.Equal((100L, 0L), (node.Reserved, node.Sold));
        var allocation = await h.Store.GetAllocationAsync(Tenant, box, CancellationToken.None);
        Assert.Equal((40L, 40L, 0L), (allocation!.Size, allocation.Held, allocation.Idle));
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Concurrent_confirms_releases_and_idle_releases_on_one_allocation_keep_every_counter_exact()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 200);
        var box = await AllocateAsync(h, pool, 100);
        var holds = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => HoldFromAsync(h, pool, 1, box)));
        var ids = holds.Select(r => r.Outcome!.Value.Reservation!.Value.Id).ToArray();

        var work = ids.Select((id, i) => h.Engine.SubmitAsync(new TransitionReservation(Tenant, id, i % 2 == 0 ? Transition.Confirm : Transition.Release)))
            .Concat(Enumerable.Range(0, 30).Select(_ => h.Engine.SubmitAsync(new ReleaseAllocation(Tenant, box, 1))));
        var results = await Task.WhenAll(work);

        var givenBack = results.Skip(60).Count(r => r.Outcome?.Code == OutcomeCode.Ok);
        var allocation = await h.Store.GetAllocationAsync(Tenant, box, CancellationToken.None);
        Assert.Equal((100L - givenBack, 0L, 30L), (allocation!.Size, allocation.Held, allocation.Sold));
        var node = await h.NodeAsync(pool);
        Assert.Equal((100L - givenBack - 30, 30L), (node.Reserved, node.Sold));
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task An_allocated_hold_that_expires_returns_to_the_allocation_and_after_the_close_to_the_public()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var box = await AllocateAsync(h, pool, 30, expiresAt: h.Clock.GetUtcNow().AddMinutes(20));
        var early = (await HoldFromAsync(h, pool, 5, box, minutes: 10)).Outcome!.Value.Reservation!.Value.Id;
        var late = (await HoldFromAsync(h, pool, 3, box, minutes: 30)).Outcome!.Value.Reservation!.Value.Id;

        h.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(1, await h.Sweeper().SweepOnceAsync(CancellationToken.None));
        Assert.Equal((30L, 3L), await CountersAsync(h, box));
        Assert.Equal(70, (await h.NodeAsync(pool)).Headroom);

        h.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, await h.Sweeper().CloseDueAllocationsAsync(CancellationToken.None));
        Assert.Equal(0, await h.Sweeper().CloseDueAllocationsAsync(CancellationToken.None));
        Assert.Equal(97, (await h.NodeAsync(pool)).Headroom);

        h.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, await h.Sweeper().SweepOnceAsync(CancellationToken.None));
        Assert.Equal(100, (await h.NodeAsync(pool)).Headroom);
        Assert.Equal((0L, 0L), await CountersAsync(h, box));
        var reservation = await h.Store.GetReservationAsync(Tenant, late, CancellationToken.None);
        Assert.Equal(box, reservation!.Value.Items[0].AllocationId);
        Assert.Equal(ReservationStatus.Expired, (await h.Store.GetReservationAsync(Tenant, early, CancellationToken.None))!.Value.Status);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Allocations_and_their_ledger_survive_a_reopen_and_a_failed_batch_changes_none_of_them()
    {
        var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var box = await AllocateAsync(h, pool, 25);
        var hold = (await HoldFromAsync(h, pool, 4, box)).Outcome!.Value.Reservation!.Value.Id;
        await h.Engine.SubmitAsync(new TransitionReservation(Tenant, hold, Transition.Confirm));

        h.Store.FailNextBatchAt(FaultPoint.Commit);
        Assert.Equal(EngineStatus.Unavailable, (await h.Engine.SubmitAsync(new ReleaseAllocation(Tenant, box, 5))).Status);

        await using var reopened = await h.ReopenAsync();
        var allocation = await reopened.Store.GetAllocationAsync(Tenant, box, CancellationToken.None);
        Assert.Equal(("Box office", 25L, 0L, 4L, AllocationStatus.Open), (allocation!.Name, allocation.Size, allocation.Held, allocation.Sold, allocation.Status));
        Assert.Equal(1, (await reopened.NodeAsync(pool)).AllocationCount);
        var listed = await reopened.Store.GetAllocationsAsync(Tenant, pool, CancellationToken.None);
        Assert.Equal(box, Assert.Single(listed).Id);
        Assert.Single((await reopened.Store.ReadEventAsync(Tenant, "e1", null, CancellationToken.None)).Allocations!);
        Assert.Null(await reopened.Store.GetAllocationAsync(Guid.NewGuid(), box, CancellationToken.None));

        var ledger = await reopened.Store.GetLedgerAsync(Tenant, "e1", 0, 100, CancellationToken.None);
        Assert.Contains(ledger, row => row.Entry.Kind == LedgerKind.Allocate && row.Entry.AllocationId == box && row.Entry.ReservedDelta == 25);
        Assert.Contains(ledger, row => row.Entry.Kind == LedgerKind.Hold && row.Entry.AllocationId == box && row.Entry.ReservationId == hold);
        Assert.Contains(ledger, row => row.Entry.Kind == LedgerKind.Confirm && row.Entry.AllocationId == box && row.Entry.SoldDelta == 4);
        Assert.DoesNotContain(ledger, row => row.Entry.Kind == LedgerKind.Deallocate);
        await reopened.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task The_audit_finds_an_allocation_whose_counters_disagree_with_its_holds()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        var box = await AllocateAsync(h, pool, 10);
        await HoldFromAsync(h, pool, 2, box);
        await h.AssertAuditCleanAsync();

        // Behind the engine's back: the allocation forgets a held ticket.
        await TamperAsync(h, $"UPDATE allocations SET held = held - 1 WHERE id = '{box}'");

        var report = await Audit.RunAsync(h.Store, CancellationToken.None);
        Assert.False(report.Ok);
        Assert.Contains(report.Violations, v => v.Contains($"allocation {box}", StringComparison.Ordinal));
    }

    private static Task TamperAsync(EngineHarness h, string sql) => h.SqlAsync(sql);

    [Fact]
    public async Task An_event_read_brings_ancestors_of_other_events_and_reads_allocations_only_when_it_has_some_and_holds_only_when_asked()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var ct = CancellationToken.None;
        var venue = await h.CreateAsync("Venue", 100);
        var stalls = Guid.CreateVersion7();
        var created = await h.Engine.SubmitAsync(new CreateCapacity(Tenant, stalls, "e2", null, "Stalls", null, 60, [venue], true, null));
        Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
        await h.HoldAsync(stalls, 2);
        await h.HoldAsync(venue, 5);

        var plain = await h.Store.ReadEventAsync(Tenant, "e2", null, ct);
        Assert.Equal(new[] { venue, stalls }.Order(), plain.Capacities.Select(n => n.Id).Order());
        Assert.Equal((7L, 2L), (plain.Capacities.Single(n => n.Id == venue).Reserved, plain.Capacities.Single(n => n.Id == stalls).Reserved));
        Assert.Null(plain.Allocations);
        Assert.Null(plain.Holds);

        // The holds are those on the event's own capacities: the venue's is event e1's.
        var withHolds = await h.Store.ReadEventAsync(Tenant, "e2", 10, ct);
        Assert.Equal(1, withHolds.Holds!.Active);
        Assert.Equal(2, Assert.Single(Assert.Single(withHolds.Holds.Soonest).Items).Quantity);
        Assert.Null(withHolds.Allocations);

        var box = await AllocateAsync(h, stalls, 10);
        await HoldFromAsync(h, stalls, 1, box);
        var withAllocations = await h.Store.ReadEventAsync(Tenant, "e2", 1, ct);
        Assert.Equal(box, Assert.Single(withAllocations.Allocations!).Id);
        Assert.Equal(2, withAllocations.Holds!.Active);
        Assert.Single(withAllocations.Holds.Soonest);
        Assert.Null((await h.Store.ReadEventAsync(Tenant, "e1", null, ct)).Allocations);

        var empty = await h.Store.ReadEventAsync(Tenant, "nothing", 10, ct);
        Assert.Empty(empty.Capacities);
        Assert.Equal((0L, 0), (empty.Holds!.Active, empty.Holds.Soonest.Count));
        await h.AssertAuditCleanAsync();
    }

    private static async Task<Guid> AllocateAsync(EngineHarness h, Guid capacity, int size, DateTimeOffset? expiresAt = null)
    {
        var id = Guid.CreateVersion7();
        var result = await h.Engine.SubmitAsync(new CreateAllocation(Tenant, id, capacity, "Box office", size, expiresAt));
        Assert.Equal(OutcomeCode.Ok, result.Outcome?.Code);
        return id;
    }

    private static Task<EngineResult> HoldFromAsync(EngineHarness h, Guid capacity, int quantity, Guid allocation, int minutes = 15) =>
        h.Engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capacity, quantity, null, allocation)], minutes));

    private static async Task<(long Size, long Held)> CountersAsync(EngineHarness h, Guid allocation)
    {
        var a = await h.Store.GetAllocationAsync(Tenant, allocation, CancellationToken.None);
        return (a!.Size, a.Held);
    }
}

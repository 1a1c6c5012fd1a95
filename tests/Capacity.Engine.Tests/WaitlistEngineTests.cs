using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class WaitlistEngineTests_on_sqlite() : WaitlistEngineTests(StoreKind.Sqlite);

public sealed class WaitlistEngineTests_on_postgres() : WaitlistEngineTests(StoreKind.Postgres);

/// <summary>Waiting lists through the real engine and store: offers made in the batch that frees the units, durable, audited.</summary>
public abstract class WaitlistEngineTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task A_released_unit_goes_to_the_queue_in_the_same_batch_and_no_public_hold_racing_it_gets_it()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 100);
        await EnableAsync(h, pool, WaitlistPolicy.Fifo);
        var holds = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => h.HoldAsync(pool, 1)));
        var held = holds.Select(r => r.Outcome!.Value.Reservation!.Value.Id).ToArray();
        var queue = new List<Guid>();
        for (var i = 0; i < 50; i++)
        {
            queue.Add(await JoinAsync(h, (pool, 1)));
        }

        // 50 releases race 200 public holds: every freed unit must go to the queue.
        var releases = held.Take(50).Select(id => h.Engine.SubmitAsync(new TransitionReservation(Tenant, id, Transition.Release)));
        var publics = Enumerable.Range(0, 200).Select(_ => h.HoldAsync(pool, 1));
        var all = await Task.WhenAll(releases.Concat(publics));
        Assert.Equal(50, all.Take(50).Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.All(all.Skip(50), r => Assert.Equal(OutcomeCode.InsufficientCapacity, r.Outcome?.Code));

        foreach (var id in queue)
        {
            var entry = (await h.Store.GetWaitlistEntryAsync(Tenant, id, CancellationToken.None))!;
            Assert.Equal(WaitlistStatus.Offered, entry.Status);
            Assert.Equal(id, (await h.Store.GetReservationAsync(Tenant, id, CancellationToken.None))!.Value.WaitlistId);
        }

        var node = await h.NodeAsync(pool);
        Assert.Equal((100L, 0L, 0L, 50L), (node.Reserved, node.WaitingUnits, node.QueueDemand, node.OfferedUnits));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// A batch of holds loads no waiting list (holds only take units), so a resize that frees units
    /// must not join it after its load: it is decided in a batch that has the list, and offers there.
    /// </summary>
    [Fact]
    public async Task A_resize_racing_public_holds_on_a_sold_out_pool_gives_every_new_unit_to_the_queue()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 10);
        await EnableAsync(h, pool, WaitlistPolicy.Fifo);
        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => h.HoldAsync(pool, 1)));
        var queue = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            queue.Add(await JoinAsync(h, (pool, 1)));
        }

        var before = Enumerable.Range(0, 100).Select(_ => h.HoldAsync(pool, 1)).ToList();
        var resize = h.Engine.SubmitAsync(new UpdateCapacity(Tenant, pool, default, default, Change<int?>.To(15), default));
        var after = Enumerable.Range(0, 100).Select(_ => h.HoldAsync(pool, 1)).ToList();

        Assert.Equal(OutcomeCode.Ok, (await resize).Outcome?.Code);
        Assert.All(await Task.WhenAll(before.Concat(after)), r => Assert.Equal(OutcomeCode.InsufficientCapacity, r.Outcome?.Code));
        foreach (var id in queue)
        {
            Assert.Equal(WaitlistStatus.Offered, (await EntryAsync(h, id)).Status);
        }

        var node = await h.NodeAsync(pool);
        Assert.Equal((15L, 0L, 5L), (node.Reserved, node.QueueDemand, node.OfferedUnits));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// A batch of holds loads no waiting list for owed units, except where a hold may sell out a tier's
    /// earlier capacity: the tier opens in that batch, and the entries waiting for it are offered there.
    /// </summary>
    [Fact]
    public async Task A_hold_that_sells_out_the_earlier_tier_offers_the_entries_waiting_for_the_next_in_its_own_batch()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var early = await h.CreateAsync("Early", 2);
        var late = Guid.CreateVersion7();
        var created = await h.Engine.SubmitAsync(new CreateCapacity(Tenant, late, "e1", null, "Late", null, 5, [], true, null, Sale: new SaleRules(OpensAfter: early)));
        Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
        await EnableAsync(h, late, WaitlistPolicy.Fifo);
        var waiting = await JoinAsync(h, (late, 2));
        Assert.Equal(WaitlistStatus.Waiting, (await EntryAsync(h, waiting)).Status);

        // Holds only, racing for the last tickets of the earlier tier: the one that sells it out opens the next.
        var holds = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => h.HoldAsync(early, 1)));
        Assert.Equal(2, holds.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        // A tier that sold out and opened the next closes: the rest are refused, none fails.
        Assert.All(holds, r => Assert.True(r.Outcome?.Code is OutcomeCode.Ok or OutcomeCode.InsufficientCapacity or OutcomeCode.CapacityInactive, $"{r.Status} {r.Outcome?.Code}"));

        Assert.Equal(WaitlistStatus.Offered, (await EntryAsync(h, waiting)).Status);
        var node = await h.NodeAsync(late);
        Assert.Equal((2L, 0L, 2L), (node.Reserved, node.QueueDemand, node.OfferedUnits));
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task An_offer_that_expires_passes_its_units_to_the_next_entry_in_the_sweep_that_expires_it()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 4);
        await EnableAsync(h, pool, WaitlistPolicy.Fifo, offerMinutes: 10);
        var held = (await h.HoldAsync(pool, 4, minutes: 60)).Outcome!.Value.Reservation!.Value.Id;
        var first = await JoinAsync(h, (pool, 4));
        var second = await JoinAsync(h, (pool, 3));
        await h.Engine.SubmitAsync(new TransitionReservation(Tenant, held, Transition.Release));
        Assert.Equal(WaitlistStatus.Offered, (await EntryAsync(h, first)).Status);
        Assert.Equal(1, await h.Store.GetWaitlistPositionAsync(await EntryAsync(h, second), CancellationToken.None));

        h.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(1, await h.Sweeper().SweepOnceAsync(CancellationToken.None));
        Assert.Equal(WaitlistStatus.Lapsed, (await EntryAsync(h, first)).Status);
        Assert.Equal(WaitlistStatus.Offered, (await EntryAsync(h, second)).Status);
        Assert.Equal(ReservationStatus.Active, (await h.Store.GetReservationAsync(Tenant, second, CancellationToken.None))!.Value.Status);
        Assert.Equal(1, (await h.NodeAsync(pool)).Headroom);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Entries_settings_and_counters_survive_a_reopen_and_the_list_reads_in_order()
    {
        var h = await EngineHarness.OpenAsync(kind);
        var stalls = await h.CreateAsync("Stalls", 2);
        var circle = await h.CreateAsync("Circle", 2);
        await EnableAsync(h, stalls, WaitlistPolicy.FirstFit, offerMinutes: 45);
        await EnableAsync(h, circle, WaitlistPolicy.Fifo);
        await h.HoldAsync(stalls, 2, minutes: 60);
        var circleHold = (await h.HoldAsync(circle, 2, minutes: 60)).Outcome!.Value.Reservation!.Value.Id;
        var both = await JoinAsync(h, (stalls, 1), (circle, 1));
        var stallsOnly = await JoinAsync(h, (stalls, 2));

        await using var reopened = await h.ReopenAsync();
        var node = await reopened.NodeAsync(stalls);
        Assert.Equal(new WaitlistSettings(true, 45, WaitlistPolicy.FirstFit), node.Waitlist);
        // Three units wait; the stalls have nothing free to give them, so they are owed nothing yet.
        Assert.Equal((3L, 3L, 0L), (node.WaitingUnits, node.QueueDemand, node.OwedUnits));
        var list = await reopened.Store.GetWaitlistAsync(Tenant, stalls, 0, 10, CancellationToken.None);
        Assert.Equal([both, stallsOnly], list.Select(e => e.Id));
        Assert.Equal([both], (await reopened.Store.GetWaitlistAsync(Tenant, circle, 0, 10, CancellationToken.None)).Select(e => e.Id));
        Assert.Equal(2, await reopened.Store.GetWaitlistPositionAsync(list[1], CancellationToken.None));

        // Leaving the first lets nothing through yet (the stalls are full); freeing the circle offers the pair.
        Assert.Equal(OutcomeCode.Ok, (await reopened.Engine.SubmitAsync(new LeaveWaitlist(Tenant, stallsOnly))).Outcome?.Code);
        await reopened.Engine.SubmitAsync(new TransitionReservation(Tenant, circleHold, Transition.Release));
        Assert.Equal(WaitlistStatus.Waiting, (await EntryAsync(reopened, both)).Status);
        Assert.Equal(WaitlistStatus.Left, (await EntryAsync(reopened, stallsOnly)).Status);
        await reopened.AssertAuditCleanAsync();
    }

    private static async Task EnableAsync(EngineHarness h, Guid capacity, WaitlistPolicy policy, int offerMinutes = 30)
    {
        var result = await h.Engine.SubmitAsync(new UpdateCapacity(
            Tenant, capacity, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep,
            new WaitlistPatch(true, offerMinutes, policy)));
        Assert.Equal(OutcomeCode.Ok, result.Outcome?.Code);
    }

    private static async Task<Guid> JoinAsync(EngineHarness h, params (Guid Capacity, int Quantity)[] items)
    {
        var id = Guid.CreateVersion7();
        var result = await h.Engine.SubmitAsync(new JoinWaitlist(Tenant, id, [.. items.Select(i => new WaitlistItem(i.Capacity, i.Quantity))], null, null));
        Assert.True(result.Outcome?.Code == OutcomeCode.Ok, $"join answered {result.Outcome?.Code}: {result.Outcome?.Detail}");
        return id;
    }

    private static async Task<WaitlistEntry> EntryAsync(EngineHarness h, Guid id) => (await h.Store.GetWaitlistEntryAsync(Tenant, id, CancellationToken.None))!;
}

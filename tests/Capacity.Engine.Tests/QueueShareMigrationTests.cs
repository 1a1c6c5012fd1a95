using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class QueueShareMigrationTests_on_sqlite() : QueueShareMigrationTests(StoreKind.Sqlite);

public sealed class QueueShareMigrationTests_on_postgres() : QueueShareMigrationTests(StoreKind.Postgres);

/// <summary>
/// Migration 021: before it, every unit of a capacity's waiting entries was owed on every pool above
/// it, so a long queue on a small sold-out section closed the rest of its venue. It works
/// <c>queue_demand</c> out again, each capacity's entries counting up to what it could still give.
/// Migration 022 counts level by level: a capacity passes up at most what it could still give of all
/// that waits on it and below, so an unlimited ticket type's queue stops at its sold-out section.
/// </summary>
public abstract class QueueShareMigrationTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task A_venue_a_sold_out_sections_queue_closed_before_021_sells_its_other_sections_after_it()
    {
        var h = await EngineHarness.OpenAsync(kind);
        try
        {
            var venue = await h.CreateAsync("Venue", 10);
            var front = await h.CreateAsync("Front", 2, venue);
            var rear = await h.CreateAsync("Rear", 8, venue);
            var hall = await h.CreateAsync("Hall", 5);
            var floor = await h.CreateAsync("Floor", null, hall);
            foreach (var capacity in new[] { front, floor })
            {
                Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new UpdateCapacity(
                    Tenant, capacity, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, new WaitlistPatch(true, 30, WaitlistPolicy.Fifo)))).Outcome?.Code);
            }

            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(front, 2)).Outcome?.Code);
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(rear, 5)).Outcome?.Code);
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(floor, 3)).Outcome?.Code);
            for (var i = 0; i < 6; i++)
            {
                Assert.Equal(OutcomeCode.Ok, (await Join(h, front, 1)).Outcome?.Code);
            }

            // The floor is unlimited: its entry may have any unit of the hall, so all four are owed there.
            Assert.Equal(OutcomeCode.Ok, (await Join(h, floor, 4)).Outcome?.Code);
            await h.AssertAuditCleanAsync();

            // The counters as the version before 021 left them: every waiting unit owed on every node above
            // (the front's 6 on the venue), and the hall's damaged to show the migration works it out anew.
            await h.CloseAsync();
            await h.SqlAsync(
                "UPDATE capacities SET queue_demand = 6 WHERE section_name IN ('Front', 'Venue'); UPDATE capacities SET queue_demand = 0 WHERE section_name = 'Hall'; "
                + "DELETE FROM schema_migrations WHERE version >= 21");

            h = await h.ReopenAsync();
            await h.AssertAuditCleanAsync();

            // The front has nothing to give its six: the venue owes them nothing, and the rear sells the three left.
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(rear, 3)).Outcome?.Code);
            Assert.Equal(OutcomeCode.InsufficientCapacity, (await h.HoldAsync(rear, 1)).Outcome?.Code);
            Assert.Equal(OutcomeCode.InsufficientCapacity, (await h.HoldAsync(floor, 1)).Outcome?.Code);
            await h.AssertAuditCleanAsync();
        }
        finally
        {
            await h.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_venue_a_ticket_types_queue_under_a_sold_out_section_closed_before_022_sells_its_other_sections_after_it()
    {
        var h = await EngineHarness.OpenAsync(kind);
        try
        {
            var venue = await h.CreateAsync("Venue", 10);
            var stalls = await h.CreateAsync("Stalls", 4, venue);
            var adult = await h.CreateAsync("Adult", null, stalls);
            var circle = await h.CreateAsync("Circle", 10, venue);
            Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new UpdateCapacity(
                Tenant, adult, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, new WaitlistPatch(true, 30, WaitlistPolicy.Fifo)))).Outcome?.Code);
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(adult, 4)).Outcome?.Code);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(OutcomeCode.Ok, (await Join(h, adult, 2)).Outcome?.Code);
            }

            await h.AssertAuditCleanAsync();

            // The counters as 021 left them: the ticket type is unlimited, so its six counted in full on
            // the stalls and on the venue, where the stalls could give them nothing.
            await h.CloseAsync();
            await h.SqlAsync(
                "UPDATE capacities SET queue_demand = 6 WHERE section_name IN ('Adult', 'Stalls', 'Venue'); DELETE FROM schema_migrations WHERE version = 22");

            h = await h.ReopenAsync();
            await h.AssertAuditCleanAsync();
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(circle, 6)).Outcome?.Code);
            Assert.Equal(OutcomeCode.InsufficientCapacity, (await h.HoldAsync(circle, 1)).Outcome?.Code);
            await h.AssertAuditCleanAsync();
        }
        finally
        {
            await h.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_node_settles_the_waiting_lists_as_it_starts_so_entries_a_recount_left_fitting_are_offered_then()
    {
        var h = await EngineHarness.OpenAsync(kind);
        try
        {
            var floor = await h.CreateAsync("Floor", 4);
            Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new UpdateCapacity(
                Tenant, floor, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, new WaitlistPatch(true, 30, WaitlistPolicy.Fifo)))).Outcome?.Code);
            Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(floor, 4)).Outcome?.Code);
            var pair = Guid.CreateVersion7();
            Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new JoinWaitlist(Tenant, pair, [new WaitlistItem(floor, 2)], null, null))).Outcome?.Code);

            // The rows as a recount leaves them (migration 021 can): the pair fits and is owed its two, and
            // no command has settled the list since.
            await h.CloseAsync();
            await h.SqlAsync("UPDATE capacities SET total_capacity = 6, queue_demand = 2 WHERE section_name = 'Floor'");
            h = await h.ReopenAsync();
            Assert.Equal(WaitlistStatus.Waiting, (await h.Store.GetWaitlistEntryAsync(Tenant, pair, CancellationToken.None))!.Status);

            Assert.True(await h.Sweeper().SettleWaitingListsAsync(CancellationToken.None));
            Assert.Equal(WaitlistStatus.Offered, (await h.Store.GetWaitlistEntryAsync(Tenant, pair, CancellationToken.None))!.Status);
            await h.AssertAuditCleanAsync();
        }
        finally
        {
            await h.DisposeAsync();
        }
    }

    private static Task<EngineResult> Join(EngineHarness h, Guid capacity, int quantity) =>
        h.Engine.SubmitAsync(new JoinWaitlist(Tenant, Guid.CreateVersion7(), [new WaitlistItem(capacity, quantity)], null, null));
}

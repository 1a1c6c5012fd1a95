using System.Runtime.CompilerServices;

namespace Capacity.Core.Tests;

/// <summary>
/// The Debug-build assertions where "never oversell" lives: each fires on a working set that was
/// corrupted behind the core's back. That they stay quiet on normal traffic is shown by every other
/// test: <see cref="Scenario"/> and the model runner check each batch with
/// <see cref="WorkingSet.AssertBatchConsistent"/>, and the decisions assert their own post-conditions.
/// </summary>
public sealed class AssertionTests
{
    private static readonly DateTimeOffset Now = Scenario.Start;

    [DebugFact]
    public void A_confirm_that_leaves_a_node_over_its_total_trips_the_bounds_assertion()
    {
        var s = new Scenario();
        var pool = s.Own(5);
        var hold = s.HoldOk((pool, 2));
        s.Node(pool).Total = 1; // tampered: 2 reserved on a total of 1

        var violation = Assert.Throws<InvariantViolationException>(() => s.Confirm(hold));

        Assert.Contains($"Capacity {pool}: reserved 0, sold 2, total 1", violation.Message, StringComparison.Ordinal);
    }

    [DebugFact]
    public void A_hold_whose_shared_items_were_changed_trips_the_items_assertion()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var first = s.HoldOk((pool, 2));
        // Single-item holds of one shape share their items array; someone wrote into it.
        s.Reservation(first).Items[0] = new ReservationItem(pool, 3, null);

        var violation = Assert.Throws<InvariantViolationException>(() => s.Hold((pool, 2)));

        Assert.Contains($"its items put 3 on capacity {pool}, but 2 is charged to it", violation.Message, StringComparison.Ordinal);
    }

    [DebugFact]
    public void A_node_whose_counters_were_tampered_with_before_a_decision_fails_the_batch_check()
    {
        var (ws, pool) = Loaded(total: 10, reserved: 4);
        pool.Reserved = 6; // not through a decision, so not in the ledger

        Decide(ws, Hold(pool, 1));

        var violation = Assert.Throws<InvariantViolationException>(() => ws.AssertBatchConsistent());
        Assert.Contains("moved from (reserved 4, sold 0) to (reserved 7, sold 0), but the batch's ledger charges it (reserved 1, sold 0)", violation.Message, StringComparison.Ordinal);
    }

    [DebugFact]
    public void A_ledger_charge_that_does_not_match_the_counters_fails_the_batch_check()
    {
        var (ws, pool) = Loaded(total: 10, reserved: 0);
        var hold = Hold(pool, 2);
        Decide(ws, hold);

        ws.Append(pool, LedgerKind.Hold, hold.ReservationId, reservedDelta: 1, soldDelta: 0, Now);

        var violation = Assert.Throws<InvariantViolationException>(() => ws.AssertBatchConsistent());
        Assert.Contains("charges it (reserved 3, sold 0)", violation.Message, StringComparison.Ordinal);
    }

    [DebugFact]
    public void A_ledger_charge_to_a_node_that_will_not_be_written_fails_the_batch_check()
    {
        var (ws, pool) = Loaded(total: 10, reserved: 0);
        var other = Node(total: 10, reserved: 0);
        ws.Load(other);
        Decide(ws, Hold(pool, 1));

        ws.Append(other, LedgerKind.Hold, Guid.CreateVersion7(), reservedDelta: 1, soldDelta: 0, Now);

        var violation = Assert.Throws<InvariantViolationException>(() => ws.AssertBatchConsistent());
        Assert.Contains($"charges capacity {other.Id}, which is not recorded as changed", violation.Message, StringComparison.Ordinal);
    }

    [DebugFact]
    public void A_changed_node_over_its_total_or_below_zero_fails_the_batch_check()
    {
        var (ws, pool) = Loaded(total: 10, reserved: 0);
        Decide(ws, Hold(pool, 3));

        pool.Total = 2;
        Assert.Contains("reserved 3, sold 0, total 2", Assert.Throws<InvariantViolationException>(() => ws.AssertBatchConsistent()).Message, StringComparison.Ordinal);

        pool.Total = 10;
        pool.Sold = -1;
        Assert.Contains("reserved 3, sold -1, total 10", Assert.Throws<InvariantViolationException>(() => ws.AssertBatchConsistent()).Message, StringComparison.Ordinal);
    }

    [DebugFact]
    public void A_batch_of_creates_holds_and_transitions_on_stored_counters_passes_the_batch_check()
    {
        var (ws, pool) = Loaded(total: 100, reserved: 7);
        var child = new CreateCapacity(Scenario.TenantA, Guid.CreateVersion7(), "evt-1", null, "Child", null, 20, [pool.Id], true, null);
        Decide(ws, child);
        var holds = new[] { Hold(child.Id, 2), Hold(pool.Id, 3), Hold(child.Id, 1) };
        foreach (var hold in holds)
        {
            Decide(ws, hold);
        }

        Decide(ws, new TransitionReservation(Scenario.TenantA, holds[0].ReservationId, Transition.Confirm));
        Decide(ws, new TransitionReservation(Scenario.TenantA, holds[1].ReservationId, Transition.Release));
        ws.AssertBatchConsistent();

        // The next batch starts from the counters as accepted.
        ws.AcceptChanges();
        Decide(ws, new TransitionReservation(Scenario.TenantA, holds[0].ReservationId, Transition.Cancel));
        ws.AssertBatchConsistent();
    }

    private static PlaceHold Hold(CapacityNode node, int quantity) => Hold(node.Id, quantity);

    private static PlaceHold Hold(Guid capacityId, int quantity) =>
        new(Scenario.TenantA, Guid.CreateVersion7(), [new HoldItem(capacityId, quantity, null)], 15);

    private static void Decide(WorkingSet ws, Command command)
    {
        var outcome = Decider.Decide(ws, command, Now, CoreLimits.Default);
        Assert.True(outcome.Succeeded, $"{command.GetType().Name} answered {outcome.Code}: {outcome.Detail}");
    }

    /// <summary>A working set holding one pool with these counters, as a store would load it.</summary>
    private static (WorkingSet Ws, CapacityNode Pool) Loaded(int total, long reserved)
    {
        var pool = Node(total, reserved);
        var ws = new WorkingSet();
        ws.Load(pool);
        return (ws, pool);
    }

    private static CapacityNode Node(int total, long reserved) => new()
    {
        Id = Guid.CreateVersion7(),
        TenantId = Scenario.TenantA,
        EventId = "evt-1",
        SectionName = "Pool",
        ParentIds = [],
        Total = total,
        Reserved = reserved,
        CreatedAt = Now,
        UpdatedAt = Now,
    };
}

/// <summary>A test of the Debug-build assertions, which compile away in Release: skipped there.</summary>
public sealed class DebugFactAttribute : FactAttribute
{
    public DebugFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
#if !DEBUG
        Skip = "The core's assertions exist in Debug builds only.";
#endif
    }
}

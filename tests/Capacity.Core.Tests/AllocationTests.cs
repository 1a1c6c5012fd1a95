namespace Capacity.Core.Tests;

/// <summary>Allocations: blocks set aside, holds drawn from them, and where their units go back.</summary>
public sealed class AllocationTests
{
    [Fact]
    public void An_allocation_is_charged_like_a_hold_of_its_size_so_public_availability_excludes_it()
    {
        var s = new Scenario();
        var venue = s.Own(200, "Venue");
        var pool = s.Capped(100, venue);

        var outcome = s.Allocate(pool, 40, "Box office");

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        var view = outcome.Allocation!;
        Assert.Equal((40L, 0L, 0L, 40L, AllocationStatus.Open), (view.Size, view.Held, view.Sold, view.Idle, view.Status));
        Assert.Equal(60, s.Available(pool));
        Assert.Equal(40, s.Node(pool).Reserved);
        Assert.Equal(40, s.Node(venue).Reserved);
        Assert.All(s.LastLedger, e => Assert.Equal((LedgerKind.Allocate, view.Id, 40L), (e.Kind, e.AllocationId!.Value, e.ReservedDelta)));
        s.AssertConsistent();
    }

    [Fact]
    public void An_allocation_that_does_not_fit_is_refused_with_insufficient_capacity_and_changes_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        s.HoldOk((pool, 70));
        var before = s.Snapshot();

        var outcome = s.Allocate(pool, 31);

        Assert.Equal(OutcomeCode.InsufficientCapacity, outcome.Code);
        Assert.Equal(30, outcome.Available);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Holds_from_an_allocation_move_idle_to_held_and_leave_public_availability_unchanged()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 40);

        var hold = s.HoldFrom((pool, 5, box));

        Assert.Equal(OutcomeCode.Ok, hold.Code);
        Assert.Equal(box, hold.Reservation!.Value.Items[0].AllocationId);
        Assert.Equal(60, s.Available(pool));
        Assert.Equal((40L, 5L, 35L), (s.AllocationOf(box).Size, s.AllocationOf(box).Held, s.AllocationOf(box).Idle));
        var entry = Assert.Single(s.LastLedger);
        Assert.Equal((LedgerKind.Hold, box, 0L, 0L), (entry.Kind, entry.AllocationId!.Value, entry.ReservedDelta, entry.SoldDelta));
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_over_the_allocations_idle_is_refused_with_its_idle_even_when_the_public_pool_has_room()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 10);
        s.HoldFromOk((pool, 7, box));
        var before = s.Snapshot();

        var outcome = s.HoldFrom((pool, 2, box), (pool, 2, box));

        Assert.Equal(OutcomeCode.AllocationInsufficient, outcome.Code);
        Assert.Equal(3, outcome.Available);
        Assert.Equal(before, s.Snapshot());
    }

    [Fact]
    public void A_cart_mixing_allocated_and_public_items_is_all_or_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(50);
        var vip = s.Own(4, "VIP");
        var box = s.AllocateOk(pool, 10);
        var before = s.Snapshot();

        var refused = s.HoldFrom((pool, 3, box), (vip, 5, null));

        Assert.Equal(OutcomeCode.InsufficientCapacity, refused.Code);
        Assert.Equal(before, s.Snapshot());

        var placed = s.HoldFrom((pool, 3, box), (vip, 4, null), (pool, 2, null));
        Assert.Equal(OutcomeCode.Ok, placed.Code);
        Assert.Equal(3, s.AllocationOf(box).Held);
        Assert.Equal(0, s.Available(vip));
        Assert.Equal(38, s.Available(pool));
        s.AssertConsistent();
    }

    [Fact]
    public void Confirming_an_allocated_hold_moves_units_from_held_to_sold_and_from_reserved_to_sold_on_the_nodes()
    {
        var s = new Scenario();
        var venue = s.Own(100, "Venue");
        var pool = s.Capped(80, venue);
        var box = s.AllocateOk(pool, 20);
        var hold = s.HoldFromOk((pool, 6, box));

        Assert.Equal(OutcomeCode.Ok, s.Confirm(hold).Code);

        var allocation = s.AllocationOf(box);
        Assert.Equal((20L, 0L, 6L, 14L), (allocation.Size, allocation.Held, allocation.Sold, allocation.Idle));
        Assert.Equal((14L, 6L), (s.Node(pool).Reserved, s.Node(pool).Sold));
        Assert.Equal((14L, 6L), (s.Node(venue).Reserved, s.Node(venue).Sold));
        Assert.Equal(60, s.Available(pool));
        Assert.All(s.LastLedger, e => Assert.Equal((LedgerKind.Confirm, box, -6L, 6L), (e.Kind, e.AllocationId!.Value, e.ReservedDelta, e.SoldDelta)));
        s.AssertConsistent();
    }

    [Theory]
    [InlineData("release")]
    [InlineData("expire")]
    public void A_hold_from_an_open_allocation_that_ends_returns_its_units_to_the_allocation_not_to_the_public(string how)
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 40);
        var hold = s.HoldFromOk((pool, 5, box));

        if (how == "release")
        {
            Assert.Equal(OutcomeCode.Ok, s.Release(hold).Code);
        }
        else
        {
            s.AdvanceMinutes(16);
            Assert.Equal(1, s.ExpireDue(hold).Count);
        }

        Assert.Equal(60, s.Available(pool));
        Assert.Equal((40L, 0L, 40L), (s.AllocationOf(box).Size, s.AllocationOf(box).Held, s.AllocationOf(box).Idle));
        Assert.All(s.LastLedger, e => Assert.Equal((0L, 0L), (e.ReservedDelta, e.SoldDelta)));
        s.AssertConsistent();
    }

    [Fact]
    public void Releasing_idle_units_gives_them_to_the_public_at_once_and_more_than_idle_changes_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 40);
        s.HoldFromOk((pool, 30, box));

        var released = s.ReleaseAllocation(box, 10);

        Assert.Equal(OutcomeCode.Ok, released.Code);
        Assert.Equal(70, s.Available(pool));
        Assert.Equal((30L, 30L, 0L), (s.AllocationOf(box).Size, s.AllocationOf(box).Held, s.AllocationOf(box).Idle));
        Assert.All(s.LastLedger, e => Assert.Equal((LedgerKind.Deallocate, -10L), (e.Kind, e.ReservedDelta)));

        var before = s.Snapshot();
        var refused = s.ReleaseAllocation(box, 1);
        Assert.Equal(OutcomeCode.AllocationInsufficient, refused.Code);
        Assert.Equal(0, refused.Available);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Releasing_eleven_with_ten_idle_is_refused_and_nothing_changes()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 40);
        s.HoldFromOk((pool, 30, box));
        var before = s.Snapshot();

        var refused = s.ReleaseAllocation(box, 11);

        Assert.Equal(OutcomeCode.AllocationInsufficient, refused.Code);
        Assert.Equal(10, refused.Available);
        Assert.Equal(before, s.Snapshot());
    }

    [Fact]
    public void Closing_returns_every_idle_unit_refuses_new_holds_and_is_idempotent()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 40);
        s.HoldFromOk((pool, 4, box));

        Assert.Equal(OutcomeCode.Ok, s.CloseAllocation(box).Code);
        Assert.Equal(96, s.Available(pool));
        Assert.Equal((4L, 4L, 0L, AllocationStatus.Closed), (s.AllocationOf(box).Size, s.AllocationOf(box).Held, s.AllocationOf(box).Idle, s.AllocationOf(box).Status));

        var before = s.Snapshot();
        Assert.Equal(OutcomeCode.Unchanged, s.CloseAllocation(box).Code);
        Assert.Equal(OutcomeCode.AllocationClosed, s.HoldFrom((pool, 1, box)).Code);
        Assert.Equal(OutcomeCode.AllocationClosed, s.ReleaseAllocation(box, 1).Code);
        Assert.Equal(OutcomeCode.AllocationClosed, s.ResizeAllocation(box, 10).Code);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void After_a_close_units_freed_by_its_live_holds_go_back_to_the_public_once()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 40);
        var first = s.HoldFromOk((pool, 3, box));
        var second = s.HoldFromOk((pool, 2, box));
        s.CloseAllocation(box);
        Assert.Equal(95, s.Available(pool));

        s.AdvanceMinutes(16);
        Assert.Equal(2, s.ExpireDue(first, second).Count);
        Assert.Equal(0, s.ExpireDue(first, second).Count);

        Assert.Equal(100, s.Available(pool));
        Assert.Equal((0L, 0L, 0L), (s.AllocationOf(box).Size, s.AllocationOf(box).Held, s.AllocationOf(box).Idle));
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Cancelling_a_sale_made_from_an_allocation_returns_its_units_to_the_public()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 10);
        var hold = s.HoldFromOk((pool, 4, box));
        s.Confirm(hold);
        Assert.Equal(90, s.Available(pool));

        Assert.Equal(OutcomeCode.Ok, s.Cancel(hold).Code);

        Assert.Equal(94, s.Available(pool));
        Assert.Equal((6L, 0L, 0L, 6L), (s.AllocationOf(box).Size, s.AllocationOf(box).Held, s.AllocationOf(box).Sold, s.AllocationOf(box).Idle));
        s.AssertConsistent();
    }

    [Fact]
    public void Growing_is_checked_like_a_hold_and_shrinking_below_held_and_sold_is_refused()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 40);
        s.HoldOk((pool, 50));
        var hold = s.HoldFromOk((pool, 8, box));
        s.Confirm(hold);
        s.HoldFromOk((pool, 2, box));

        var tooBig = s.ResizeAllocation(box, 51);
        Assert.Equal(OutcomeCode.InsufficientCapacity, tooBig.Code);
        Assert.Equal(10, tooBig.Available);

        Assert.Equal(OutcomeCode.Ok, s.ResizeAllocation(box, 50).Code);
        Assert.Equal(0, s.Available(pool));

        var before = s.Snapshot();
        var belowCommitted = s.ResizeAllocation(box, 9);
        Assert.Equal(OutcomeCode.AllocationBelowCommitted, belowCommitted.Code);
        Assert.Equal(before, s.Snapshot());

        Assert.Equal(OutcomeCode.Ok, s.ResizeAllocation(box, 10).Code);
        Assert.Equal(40, s.Available(pool));
        Assert.Equal(0, s.AllocationOf(box).Idle);
        Assert.Equal(OutcomeCode.Unchanged, s.ResizeAllocation(box, 10).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void An_allocation_past_its_expiry_is_closed_by_the_sweep_exactly_once()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 30, expiresAt: s.Now.AddHours(1));
        var hold = s.HoldFromOk((pool, 5, box));

        Assert.Equal(0, s.CloseDueAllocations(box).Count);
        s.AdvanceMinutes(61);
        Assert.Equal(1, s.CloseDueAllocations(box).Count);
        Assert.Equal(0, s.CloseDueAllocations(box).Count);

        Assert.Equal(AllocationStatus.Closed, s.AllocationOf(box).Status);
        Assert.Equal(95, s.Available(pool));
        Assert.Equal(1, s.ExpireDue(hold).Count);
        Assert.Equal(100, s.Available(pool));
        s.AssertConsistent();
    }

    [Fact]
    public void A_live_hold_in_a_closed_allocation_can_still_be_confirmed()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 30);
        var hold = s.HoldFromOk((pool, 5, box));
        s.CloseAllocation(box);

        Assert.Equal(OutcomeCode.Ok, s.Confirm(hold).Code);

        Assert.Equal((5L, 0L, 5L), (s.AllocationOf(box).Size, s.AllocationOf(box).Held, s.AllocationOf(box).Sold));
        Assert.Equal(95, s.Available(pool));
        s.AssertConsistent();
    }

    [Fact]
    public void Another_tenants_allocation_answers_exactly_like_a_missing_one()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 10);
        s.Tenant = Scenario.TenantB;
        var theirs = s.Own(100, "Theirs");
        var before = s.Snapshot();
        var unknown = Guid.NewGuid();
        foreach (var (id, outcome) in new[]
        {
            (box, s.ReleaseAllocation(box, 1)),
            (box, s.CloseAllocation(box)),
            (box, s.ResizeAllocation(box, 5)),
            (unknown, s.ReleaseAllocation(unknown, 1)),
        })
        {
            Assert.Equal(OutcomeCode.NotFound, outcome.Code);
            Assert.Equal($"Allocation {id} was not found.", outcome.Detail);
        }

        Assert.Equal(OutcomeCode.NotFound, s.HoldFrom((theirs, 1, box)).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Allocate(pool, 1).Code);
        Assert.Equal(before, s.Snapshot());
    }

    [Fact]
    public void A_hold_naming_an_allocation_of_another_capacity_is_invalid()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var other = s.Own(100, "Other");
        var box = s.AllocateOk(pool, 10);

        var outcome = s.HoldFrom((other, 1, box));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("items[0].allocation_id", outcome.Field);
    }

    [Fact]
    public void An_allocation_may_be_set_aside_on_an_inactive_capacity_but_no_hold_is_taken_from_it_until_it_opens()
    {
        var s = new Scenario();
        var pool = s.Create(100, active: false);

        var box = s.AllocateOk(pool, 10);
        Assert.Equal(OutcomeCode.CapacityInactive, s.HoldFrom((pool, 1, box)).Code);

        s.SetActive(pool, true);
        Assert.Equal(OutcomeCode.Ok, s.HoldFrom((pool, 1, box)).Code);
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1_000_001)]
    public void An_allocation_size_out_of_range_is_refused(int size)
    {
        var s = new Scenario();
        var pool = s.Own(100);

        Assert.Equal(OutcomeCode.InvalidQuantity, s.Allocate(pool, size).Code);
    }

    [Fact]
    public void An_expiry_in_the_past_and_a_blank_name_are_refused()
    {
        var s = new Scenario();
        var pool = s.Own(100);

        Assert.Equal("expires_at", s.Allocate(pool, 1, expiresAt: s.Now).Field);
        Assert.Equal("name", s.Allocate(pool, 1, name: "  ").Field);
        Assert.Empty(s.Allocations);
    }

    [Fact]
    public void Shrinking_the_capacity_below_its_allocations_is_refused()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        s.AllocateOk(pool, 60);

        Assert.Equal(OutcomeCode.BelowCommitted, s.Resize(pool, 59).Code);
        Assert.Equal(OutcomeCode.Ok, s.Resize(pool, 60).Code);
        Assert.Equal(0, s.Available(pool));
    }

    [Fact]
    public void An_allocation_past_its_expiry_takes_no_holds_releases_or_resizes_even_before_the_sweep()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 10, expiresAt: s.Now.AddMinutes(5));
        s.AdvanceMinutes(5);
        var before = s.Snapshot();

        Assert.Equal(OutcomeCode.AllocationClosed, s.HoldFrom((pool, 1, box)).Code);
        Assert.Equal(OutcomeCode.AllocationClosed, s.ReleaseAllocation(box, 1).Code);
        Assert.Equal(OutcomeCode.AllocationClosed, s.ResizeAllocation(box, 20).Code);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(1, s.CloseDueAllocations(box).Count);
        s.AssertConsistent();
    }
}

namespace Capacity.Core.Tests;

/// <summary>Holds: what they charge, availability, all-or-nothing carts, the limits, and the seed scenario.</summary>
public sealed class HoldTests
{
    [Fact]
    public void Seed_scenario_theatre_pool_with_capped_shared_own_and_unlimited_sections()
    {
        var s = new Scenario();
        var pool = s.Create(100, name: "Theatre");
        var adult = s.Create(50, [pool], "Adult");
        var child = s.Create(null, [pool], "Child");
        var vip = s.Create(20, name: "VIP");
        var stream = s.Create(null, name: "Live-stream");

        Assert.Equal(CapacityMode.Own, s.Node(pool).Mode);
        Assert.Equal(CapacityMode.Capped, s.Node(adult).Mode);
        Assert.Equal(CapacityMode.Shared, s.Node(child).Mode);
        Assert.Equal(CapacityMode.Own, s.Node(vip).Mode);
        Assert.Equal(CapacityMode.Unlimited, s.Node(stream).Mode);
        Assert.Equal(100, s.Available(pool));
        Assert.Equal(50, s.Available(adult));
        Assert.Equal(100, s.Available(child));
        Assert.Equal(20, s.Available(vip));
        Assert.Null(s.Available(stream));

        s.HoldOk((adult, 2), (child, 1));
        Assert.Equal(97, s.Available(pool));
        Assert.Equal(48, s.Available(adult));
        Assert.Equal(97, s.Available(child));
        Assert.Equal(3, s.Node(pool).Reserved);

        s.HoldOk((vip, 3));
        Assert.Equal(17, s.Available(vip));
        Assert.Equal(97, s.Available(pool));

        var before = (Pool: s.Available(pool), Adult: s.Available(adult), Child: s.Available(child), Vip: s.Available(vip));
        var streamHold = s.Hold((stream, 1));
        Assert.Equal(OutcomeCode.Ok, streamHold.Code);
        Assert.Null(streamHold.Capacity!.Value.Available);
        Assert.Null(s.Available(stream));
        Assert.Equal(before, (s.Available(pool), s.Available(adult), s.Available(child), s.Available(vip)));

        s.AssertConsistent();
    }

    [Fact]
    public void Hold_takes_the_quantity_from_the_capacity_and_every_ancestor()
    {
        var s = new Scenario();
        var venue = s.Own(100);
        var level = s.Capped(60, venue);
        var section = s.Capped(30, level);

        var outcome = s.Hold((section, 4));

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(ReservationStatus.Active, outcome.Reservation!.Value.Status);
        Assert.Equal(s.Now.AddMinutes(15), outcome.Reservation!.Value.ExpiresAt);
        Assert.Equal(26, outcome.Capacity!.Value.Available);
        Assert.Equal(4, s.Node(section).Reserved);
        Assert.Equal(4, s.Node(level).Reserved);
        Assert.Equal(4, s.Node(venue).Reserved);
        Assert.Equal(96, s.Available(venue));
        Assert.Equal(56, s.Available(level));
        Assert.Equal(26, s.Available(section));
        s.AssertConsistent();
    }

    [Fact]
    public void An_ancestor_reachable_by_two_paths_is_charged_once()
    {
        var s = new Scenario();
        var venue = s.Own(100);
        var saturday = s.Capped(60, venue);
        var sunday = s.Capped(60, venue);
        var weekend = s.Shared(saturday, sunday);

        s.HoldOk((weekend, 5));

        Assert.Equal(5, s.Node(venue).Reserved);
        Assert.Equal(5, s.Node(saturday).Reserved);
        Assert.Equal(5, s.Node(sunday).Reserved);
        Assert.Equal(5, s.Node(weekend).Reserved);
        Assert.Equal(95, s.Available(venue));
        Assert.Equal(55, s.Available(weekend));
        Assert.Equal(4, s.LastLedger.Count);
        Assert.Equal(4, s.LastLedger.Select(e => e.CapacityId).Distinct().Count());
        s.AssertConsistent();
    }

    [Fact]
    public void Diamond_hold_that_fits_the_shared_ancestor_once_but_not_twice_succeeds()
    {
        var s = new Scenario();
        var venue = s.Own(10);
        var left = s.Shared(venue);
        var right = s.Shared(venue);
        var both = s.Shared(left, right);

        // Charging the venue once per path would need 12 and fail; charged once it needs 6.
        s.HoldOk((both, 6));

        Assert.Equal(4, s.Available(venue));
        s.AssertConsistent();
    }

    [Fact]
    public void Two_items_of_one_cart_that_reach_the_same_pool_both_charge_it()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var adult = s.Capped(8, pool);
        var child = s.Shared(pool);

        s.HoldOk((adult, 3), (child, 2), (adult, 1));

        Assert.Equal(6, s.Node(pool).Reserved);
        Assert.Equal(4, s.Node(adult).Reserved);
        Assert.Equal(2, s.Node(child).Reserved);
        Assert.Equal(4, s.Available(pool));
        Assert.Equal(4, s.Available(adult));
        // One entry per node per decision, even though two items reach the pool.
        Assert.Equal(3, s.LastLedger.Count);
        Assert.Equal(6, s.LastLedger.Single(e => e.CapacityId == pool).ReservedDelta);
        s.AssertConsistent();
    }

    [Fact]
    public void Hold_exceeding_the_pool_is_rejected_and_changes_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var child = s.Shared(pool);
        s.HoldOk((child, 7));
        var before = s.Snapshot();

        var outcome = s.Hold((child, 4));

        Assert.Equal(OutcomeCode.InsufficientCapacity, outcome.Code);
        Assert.Equal(3, outcome.Available);
        Assert.Null(outcome.Reservation);
        Assert.Empty(s.LastLedger);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Hold_exceeding_a_cap_is_rejected_even_when_the_pool_has_room()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var adult = s.Capped(5, pool);
        var before = s.Snapshot();

        var outcome = s.Hold((adult, 6));

        Assert.Equal(OutcomeCode.InsufficientCapacity, outcome.Code);
        Assert.Equal(5, outcome.Available);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Hold_exceeding_the_pool_is_rejected_even_when_the_cap_has_room()
    {
        var s = new Scenario();
        var pool = s.Own(5);
        var adult = s.Capped(50, pool);
        var child = s.Shared(pool);
        s.HoldOk((child, 3));
        var before = s.Snapshot();

        var outcome = s.Hold((adult, 3));

        Assert.Equal(OutcomeCode.InsufficientCapacity, outcome.Code);
        Assert.Equal(2, outcome.Available);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Cart_is_all_or_nothing_when_one_item_does_not_fit()
    {
        var s = new Scenario();
        var a = s.Own(10);
        var b = s.Own(2);
        var before = s.Snapshot();

        var outcome = s.Hold((a, 5), (b, 3));

        Assert.Equal(OutcomeCode.InsufficientCapacity, outcome.Code);
        Assert.Equal(2, outcome.Available);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(0, s.Node(a).Reserved);
        Assert.Empty(s.Reservations);
        s.AssertConsistent();
    }

    [Fact]
    public void Cart_whose_items_together_exceed_a_shared_pool_is_rejected_although_each_fits_alone()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var adult = s.Capped(8, pool);
        var child = s.Shared(pool);
        var before = s.Snapshot();

        var outcome = s.Hold((adult, 6), (child, 5));

        Assert.Equal(OutcomeCode.InsufficientCapacity, outcome.Code);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Repeating_one_capacity_in_a_cart_is_rejected_when_the_sum_exceeds_it()
    {
        var s = new Scenario();
        var a = s.Own(5);

        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((a, 3), (a, 3)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Hold((a, 3), (a, 2)).Code);
        Assert.Equal(0, s.Available(a));
        s.AssertConsistent();
    }

    [Fact]
    public void Hold_of_exactly_what_is_left_succeeds_and_leaves_zero_then_one_more_is_rejected()
    {
        var s = new Scenario();
        var pool = s.Own(7);
        s.HoldOk((pool, 4));
        s.HoldOk((pool, 3));

        Assert.Equal(0, s.Available(pool));
        var outcome = s.Hold((pool, 1));
        Assert.Equal(OutcomeCode.InsufficientCapacity, outcome.Code);
        Assert.Equal(0, outcome.Available);
        s.AssertConsistent();
    }

    [Fact]
    public void A_capacity_of_total_zero_refuses_every_hold()
    {
        var s = new Scenario();
        var closed = s.Own(0);

        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((closed, 1)).Code);
        Assert.Equal(0, s.Available(closed));
        s.AssertConsistent();
    }

    [Fact]
    public void Unlimited_capacity_takes_any_number_of_holds_and_still_counts_them()
    {
        var s = new Scenario();
        var stream = s.Unlimited();
        for (var i = 0; i < 30; i++)
        {
            s.HoldOk((stream, 100));
        }

        Assert.Null(s.Available(stream));
        Assert.Equal(3000, s.Node(stream).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Available_is_the_minimum_over_the_capacity_and_its_limited_ancestors()
    {
        var s = new Scenario();
        var venue = s.Own(100);
        var level = s.Capped(40, venue);
        var section = s.Capped(60, level);
        var other = s.Shared(venue);
        s.HoldOk((other, 70));

        Assert.Equal(30, s.Available(venue));
        Assert.Equal(30, s.Available(level));
        Assert.Equal(30, s.Available(section));

        s.Release(s.Reservations[0].Id);
        s.HoldOk((level, 25));
        Assert.Equal(75, s.Available(venue));
        Assert.Equal(15, s.Available(level));
        Assert.Equal(15, s.Available(section));
        s.AssertConsistent();
    }

    [Fact]
    public void Unlimited_ancestors_never_win_the_minimum()
    {
        var s = new Scenario();
        var unlimitedRoot = s.Unlimited();
        var shared = s.Shared(unlimitedRoot);
        var capped = s.Capped(12, shared);
        s.HoldOk((capped, 2));

        Assert.Null(s.Available(unlimitedRoot));
        Assert.Null(s.Available(shared));
        Assert.Equal(10, s.Available(capped));
        s.AssertConsistent();
    }

    [Fact]
    public void Available_is_null_only_when_the_capacity_and_all_ancestors_are_unlimited()
    {
        var s = new Scenario();
        var root = s.Unlimited();
        var mid = s.Shared(root);
        var leaf = s.Shared(mid);
        var limitedRoot = s.Own(3);
        var underLimited = s.Shared(mid, limitedRoot);

        Assert.Null(s.Available(leaf));
        Assert.Equal(3, s.Available(underLimited));
        s.AssertConsistent();
    }

    [Fact]
    public void Headroom_and_available_are_floored_at_zero_for_a_corrupted_row()
    {
        // Only a corrupted store can hold more than its total; availability still never goes negative.
        var s = new Scenario();
        var node = new CapacityNode
        {
            Id = s.NewId(),
            TenantId = Scenario.TenantA,
            EventId = "evt-1",
            SectionName = "Corrupt",
            Total = 5,
            ParentIds = [],
            Reserved = 7,
            CreatedAt = s.Now,
            UpdatedAt = s.Now,
        };
        s.Load(node);

        Assert.Equal(0, node.Headroom);
        Assert.Equal(0, s.Available(node.Id));
        Assert.Contains(Invariants.Check(s.Nodes, s.Reservations), v => v.Contains("oversold", StringComparison.Ordinal));
    }

    [Fact]
    public void Hold_on_a_capacity_that_does_not_exist_is_NotFound_and_changes_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var before = s.Snapshot();

        var outcome = s.Hold((pool, 1), (s.NewId(), 1));

        Assert.Equal(OutcomeCode.NotFound, outcome.Code);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(101)]
    [InlineData(int.MaxValue)]
    public void Quantity_outside_1_to_100_is_InvalidQuantity_and_changes_nothing(int quantity)
    {
        var s = new Scenario();
        var stream = s.Unlimited();
        var before = s.Snapshot();

        var outcome = s.Hold((stream, 1), (stream, quantity));

        Assert.Equal(OutcomeCode.InvalidQuantity, outcome.Code);
        Assert.Equal("items[1].quantity", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public void Quantity_at_the_bounds_is_accepted(int quantity)
    {
        var s = new Scenario();
        var pool = s.Own(100);

        s.HoldOk((pool, quantity));

        Assert.Equal(100 - quantity, s.Available(pool));
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(51)]
    public void Cart_with_no_items_or_more_than_50_is_Invalid(int count)
    {
        var s = new Scenario();
        var stream = s.Unlimited();
        var before = s.Snapshot();

        var outcome = s.Hold([.. Enumerable.Repeat((stream, 1), count)]);

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("items", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Cart_of_exactly_50_items_is_accepted()
    {
        var s = new Scenario();
        var pool = s.Own(100);

        s.HoldOk([.. Enumerable.Repeat((pool, 2), 50)]);

        Assert.Equal(0, s.Available(pool));
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(121)]
    public void Reservation_minutes_outside_1_to_120_are_Invalid(int minutes)
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var before = s.Snapshot();

        var outcome = s.HoldFor(minutes, (pool, 1));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("reservation_minutes", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(120)]
    public void Reservation_minutes_at_the_bounds_are_accepted(int minutes)
    {
        var s = new Scenario();
        var pool = s.Own(10);

        var id = s.HoldOkFor(minutes, (pool, 1));

        Assert.Equal(s.Now.AddMinutes(minutes), s.Reservation(id).ExpiresAt);
        s.AssertConsistent();
    }

    [Fact]
    public void Hold_minutes_are_bounded_by_the_lifetime_when_it_is_the_shorter_limit()
    {
        var s = new Scenario { Limits = CoreLimits.Default with { MaxLifetimeMinutes = 30 } };
        var pool = s.Own(10);

        Assert.Equal(OutcomeCode.Invalid, s.HoldFor(31, (pool, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, s.HoldFor(30, (pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_with_an_id_already_in_the_working_set_is_refused_and_changes_nothing()
    {
        // A retried request in the same batch, or any caller reusing a reservation id. The spec's rule:
        // a refused command leaves the working set exactly as it was. Which code it answers is open
        // (Invalid or an idempotent replay), but it must neither throw after charging the pools nor
        // leave counters that no reservation accounts for.
        var s = new Scenario();
        var pool = s.Own(10);
        var first = s.HoldCommand(15, new HoldItem(pool, 2, null));
        Assert.Equal(OutcomeCode.Ok, s.Do(first).Code);
        var before = s.Snapshot();

        var retry = first with { Items = [new HoldItem(pool, 3, null)] };
        var thrown = Record.Exception(() => s.Do(retry));

        // Checked before the exception so that a failure shows the damage: the pool was charged for a
        // hold that was never recorded.
        Assert.Equal(2, s.Node(pool).Reserved);
        Assert.Equal(before, s.Snapshot());
        Assert.Null(thrown);
        Assert.Equal(8, s.Available(pool));
        Assert.Equal(2, s.Reservation(first.ReservationId).Items[0].Quantity);
        s.AssertConsistent();
    }
}

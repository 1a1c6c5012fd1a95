namespace Capacity.Core.Tests;

/// <summary>Per-buyer limits: what counts, when a hold is refused, and what never changes.</summary>
public sealed class BuyerLimitTests
{
    [Fact]
    public void A_buyer_may_hold_up_to_the_limit_and_the_next_ticket_is_refused_with_the_numbers()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var limit = s.LimitOk(4, pool);
        s.HoldFor("buyer-1", (pool, 3));
        var before = s.Snapshot();

        var refused = s.HoldFor("buyer-1", (pool, 2));

        Assert.Equal(OutcomeCode.BuyerLimitExceeded, refused.Code);
        Assert.Equal(new BuyerLimitExcess(limit, 3, 2, 4), refused.LimitExcess);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("buyer-1", (pool, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("buyer-2", (pool, 4)).Code);
        Assert.Equal(4, s.Used("buyer-1", pool));
        s.AssertConsistent();
    }

    [Fact]
    public void Active_holds_and_sales_count_while_released_expired_and_cancelled_ones_give_tickets_back()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        s.LimitOk(4, pool);
        var sold = s.HoldFor("b", (pool, 2)).Reservation!.Value.Id;
        s.Confirm(sold);
        var released = s.HoldFor("b", (pool, 1)).Reservation!.Value.Id;
        var expiring = s.HoldFor("b", (pool, 1)).Reservation!.Value.Id;
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, s.HoldFor("b", (pool, 1)).Code);

        s.Release(released);
        Assert.Equal(3, s.Used("b", pool));
        s.AdvanceMinutes(16);
        s.ExpireDue(expiring);
        Assert.Equal(2, s.Used("b", pool));
        s.Cancel(sold);
        Assert.Equal(0, s.Used("b", pool));
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("b", (pool, 4)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_cart_over_two_capacities_of_one_limit_counts_both_and_one_item_over_refuses_it_whole()
    {
        var s = new Scenario();
        var stalls = s.Own(100, "Stalls");
        var circle = s.Own(100, "Circle");
        var other = s.Own(100, "Other");
        s.LimitOk(4, stalls, circle);

        Assert.Equal(OutcomeCode.Ok, s.HoldFor("b", (stalls, 2), (circle, 1), (other, 9)).Code);
        Assert.Equal(3, s.Used("b", stalls, circle));
        var before = s.Snapshot();
        var refused = s.HoldFor("b", (other, 1), (circle, 2));
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, refused.Code);
        Assert.Equal((3L, 2L), (refused.LimitExcess!.Used, refused.LimitExcess.Requested));
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_without_a_key_counts_nothing_unless_the_limit_requires_a_key()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var free = s.Own(100, "Free");
        var strict = s.Limit(2, [pool], requireKey: true).Limit!.Id;
        s.LimitOk(2, free);

        Assert.Equal(OutcomeCode.Ok, s.HoldFor(null, (free, 5)).Code);
        var refused = s.HoldFor(null, (pool, 1));
        Assert.Equal(OutcomeCode.BuyerKeyRequired, refused.Code);
        Assert.Equal(strict, refused.Limit!.Id);
        Assert.Equal("buyer_key", refused.Field);
        s.AssertConsistent();
    }

    [Fact]
    public void The_same_buyer_in_two_holds_of_one_batch_sees_the_first()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        s.LimitOk(4, pool);
        var first = s.HoldCommand(15, new HoldItem(pool, 3, null)) with { BuyerKey = "b" };
        var second = s.HoldCommand(15, new HoldItem(pool, 3, null)) with { BuyerKey = "b" };

        // One working set, no AcceptChanges between them: what the engine does within a batch.
        var a = Decider.Decide(s.Ws, first, s.Now, s.Limits);
        var b = Decider.Decide(s.Ws, second, s.Now, s.Limits);

        Assert.Equal(OutcomeCode.Ok, a.Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, b.Code);
    }

    [Fact]
    public void Lowering_the_maximum_refuses_new_holds_and_cancels_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var limit = s.LimitOk(4, pool);
        var held = s.HoldFor("b", (pool, 4)).Reservation!.Value.Id;

        Assert.Equal(OutcomeCode.Ok, s.SetLimit(limit, 2).Code);

        Assert.Equal(ReservationStatus.Active, s.Reservation(held).Status);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, s.HoldFor("b", (pool, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Confirm(held).Code);
        Assert.Equal(OutcomeCode.Unchanged, s.SetLimit(limit, 2).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_limit_created_after_the_sales_counts_the_keyed_sales_already_there()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var sold = s.HoldFor("b", (pool, 3)).Reservation!.Value.Id;
        s.Confirm(sold);

        s.LimitOk(4, pool);

        Assert.Equal(OutcomeCode.BuyerLimitExceeded, s.HoldFor("b", (pool, 2)).Code);
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("b", (pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_deleted_limit_no_longer_refuses_and_leaves_its_capacities_unlimited_per_buyer()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var limit = s.LimitOk(1, pool);
        s.HoldFor("b", (pool, 1));

        Assert.Equal(OutcomeCode.Ok, s.DeleteLimit(limit).Code);

        Assert.Empty(s.Node(pool).LimitIds);
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("b", (pool, 5)).Code);
        Assert.Equal(OutcomeCode.NotFound, s.DeleteLimit(limit).Code);
        Assert.Equal(OutcomeCode.NotFound, s.SetLimit(limit, 3).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void The_same_key_in_two_tenants_is_two_buyers_and_another_tenants_limit_is_not_found()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var limit = s.LimitOk(2, pool);
        s.HoldFor("b", (pool, 2));

        s.Tenant = Scenario.TenantB;
        var theirs = s.Own(100, "Theirs");
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("b", (theirs, 10)).Code);
        Assert.Equal(OutcomeCode.NotFound, s.SetLimit(limit, 10).Code);
        Assert.Equal(OutcomeCode.NotFound, s.DeleteLimit(limit).Code);
        Assert.Equal("capacity_ids[0]", s.Limit(2, [pool]).Field);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1_000_001)]
    public void A_maximum_out_of_range_is_refused(int max)
    {
        var s = new Scenario();
        var pool = s.Own(100);

        Assert.Equal("per_buyer_max", s.Limit(max, [pool]).Field);
    }

    [Fact]
    public void Capacities_must_exist_belong_to_the_event_and_be_named_once()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        s.EventId = "other-event";
        var elsewhere = s.Own(100, "Elsewhere");
        s.EventId = "evt-1";

        Assert.Equal("capacity_ids", s.Limit(2, []).Field);
        Assert.Equal("capacity_ids[1]", s.Limit(2, [pool, elsewhere]).Field);
        Assert.Equal("capacity_ids[1]", s.Limit(2, [pool, pool]).Field);
        Assert.Equal("capacity_ids[0]", s.Limit(2, [Guid.NewGuid()]).Field);
        Assert.Empty(s.Node(pool).LimitIds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\there")]
    [InlineData("zero\u200bwidth")]
    public void A_buyer_key_that_is_blank_or_carries_control_or_format_characters_is_refused(string key)
    {
        var s = new Scenario();
        var pool = s.Own(100);

        var outcome = s.HoldFor(key, (pool, 1));

        Assert.Equal(("buyer_key", OutcomeCode.Invalid), (outcome.Field, outcome.Code));
    }

    [Fact]
    public void A_buyer_key_over_128_characters_is_refused_and_128_is_taken()
    {
        var s = new Scenario();
        var pool = s.Own(100);

        Assert.Equal(OutcomeCode.Invalid, s.HoldFor(new string('k', 129), (pool, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, s.HoldFor(new string('k', 128), (pool, 1)).Code);
    }

    [Fact]
    public void Holds_from_an_allocation_count_against_the_buyers_limit_too()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var box = s.AllocateOk(pool, 10);
        s.LimitOk(2, pool);

        Assert.Equal(OutcomeCode.Ok, s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(pool, 2, null, box)], 15, "b")).Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(pool, 1, null, box)], 15, "b")).Code);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, s.HoldFor("b", (pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_that_does_not_fit_is_refused_for_capacity_before_any_limit_is_looked_at()
    {
        var s = new Scenario();
        var pool = s.Own(2);
        s.LimitOk(1, pool);

        Assert.Equal(OutcomeCode.InsufficientCapacity, s.HoldFor("b", (pool, 3)).Code);
    }
}

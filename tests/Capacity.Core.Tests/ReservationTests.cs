namespace Capacity.Core.Tests;

/// <summary>The reservation life cycle: confirm, release, expire, cancel, extend.</summary>
public sealed class ReservationTests
{
    private static (Scenario S, Guid Pool, Guid Adult, Guid Child) Theatre()
    {
        var s = new Scenario();
        var pool = s.Own(20);
        var adult = s.Capped(10, pool);
        var child = s.Shared(pool);
        return (s, pool, adult, child);
    }

    [Fact]
    public void Confirm_moves_the_hold_from_reserved_to_sold_on_every_pool()
    {
        var (s, pool, adult, child) = Theatre();
        var id = s.HoldOk((adult, 2), (child, 1));
        s.AdvanceMinutes(3);

        var outcome = s.Confirm(id);

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(ReservationStatus.Confirmed, outcome.Reservation!.Value.Status);
        Assert.Equal(s.Now, outcome.Reservation!.Value.ConfirmedAt);
        Assert.Equal((0L, 3L), (s.Node(pool).Reserved, s.Node(pool).Sold));
        Assert.Equal((0L, 2L), (s.Node(adult).Reserved, s.Node(adult).Sold));
        Assert.Equal((0L, 1L), (s.Node(child).Reserved, s.Node(child).Sold));
        Assert.Equal(17, s.Available(pool));
        Assert.All(s.LastLedger, e => Assert.Equal(LedgerKind.Confirm, e.Kind));
        Assert.All(s.LastLedger, e => Assert.Equal(-e.ReservedDelta, e.SoldDelta));
        s.AssertConsistent();
    }

    [Fact]
    public void Release_returns_the_held_capacity_to_every_pool()
    {
        var (s, pool, adult, child) = Theatre();
        var id = s.HoldOk((adult, 2), (child, 1));

        var outcome = s.Release(id);

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(ReservationStatus.Released, outcome.Reservation!.Value.Status);
        Assert.Equal(s.Now, outcome.Reservation!.Value.EndedAt);
        Assert.Equal(20, s.Available(pool));
        Assert.Equal(10, s.Available(adult));
        Assert.All([pool, adult, child], n => Assert.Equal(0, s.Node(n).Reserved));
        Assert.All(s.LastLedger, e => Assert.Equal(LedgerKind.Release, e.Kind));
        s.AssertConsistent();
    }

    [Fact]
    public void Cancel_of_a_confirmed_reservation_returns_sold_capacity_to_every_pool()
    {
        var (s, pool, adult, child) = Theatre();
        var id = s.HoldOk((adult, 4), (child, 2));
        s.Confirm(id);
        s.AdvanceMinutes(500);

        var outcome = s.Cancel(id);

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(ReservationStatus.Cancelled, outcome.Reservation!.Value.Status);
        Assert.All([pool, adult, child], n => Assert.Equal((0L, 0L), (s.Node(n).Reserved, s.Node(n).Sold)));
        Assert.Equal(20, s.Available(pool));
        Assert.Equal(3, s.LastLedger.Count);
        Assert.All(s.LastLedger, e => Assert.Equal((LedgerKind.Cancel, 0L), (e.Kind, e.ReservedDelta)));
        Assert.Equal(-6, s.LastLedger.Single(e => e.CapacityId == pool).SoldDelta);
        s.AssertConsistent();
    }

    [Fact]
    public void Confirm_just_before_expiry_succeeds()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(10, (adult, 2));
        s.Now = s.Reservation(id).ExpiresAt.AddTicks(-1);

        Assert.Equal(OutcomeCode.Ok, s.Confirm(id).Code);
        Assert.Equal(2, s.Node(pool).Sold);
        s.AssertConsistent();
    }

    [Fact]
    public void Confirm_at_expires_at_answers_ReservationExpired_and_returns_the_capacity()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(10, (adult, 2));
        s.AdvanceMinutes(10);

        var outcome = s.Confirm(id);

        Assert.Equal(OutcomeCode.ReservationExpired, outcome.Code);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(id).Status);
        Assert.Equal(s.Now, s.Reservation(id).EndedAt);
        Assert.Equal((0L, 0L), (s.Node(pool).Reserved, s.Node(pool).Sold));
        Assert.Equal(20, s.Available(pool));
        Assert.All(s.LastLedger, e => Assert.Equal(LedgerKind.Expire, e.Kind));
        Assert.Equal(2, s.LastLedger.Count);
        s.AssertConsistent();
    }

    [Fact]
    public void Confirm_long_after_expiry_answers_ReservationExpired_once_and_then_again_without_charging_twice()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(10, (adult, 2));
        s.AdvanceMinutes(60);

        Assert.Equal(OutcomeCode.ReservationExpired, s.Confirm(id).Code);
        Assert.Equal(OutcomeCode.ReservationExpired, s.Confirm(id).Code);
        Assert.Empty(s.LastLedger);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Release_of_a_due_hold_expires_it_instead()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(10, (adult, 2));
        s.AdvanceMinutes(11);

        var outcome = s.Release(id);

        Assert.Equal(OutcomeCode.ReservationExpired, outcome.Code);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(id).Status);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void ExpireDue_expires_active_holds_at_or_after_their_expiry_and_nothing_else()
    {
        var (s, pool, adult, child) = Theatre();
        var dueExactly = s.HoldOkFor(5, (adult, 1));
        var dueEarlier = s.HoldOkFor(2, (child, 2));
        var notDue = s.HoldOkFor(6, (child, 3));
        var confirmed = s.HoldOkFor(1, (adult, 4));
        s.Confirm(confirmed);
        var released = s.HoldOkFor(1, (adult, 1));
        s.Release(released);
        s.AdvanceMinutes(5);

        var outcome = s.ExpireDue(dueExactly, dueEarlier, notDue, confirmed, released, s.NewId());

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(2, outcome.Count);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(dueExactly).Status);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(dueEarlier).Status);
        Assert.Equal(ReservationStatus.Active, s.Reservation(notDue).Status);
        Assert.Equal(ReservationStatus.Confirmed, s.Reservation(confirmed).Status);
        Assert.Equal(ReservationStatus.Released, s.Reservation(released).Status);
        Assert.Equal((3L, 4L), (s.Node(pool).Reserved, s.Node(pool).Sold));
        Assert.All(s.LastLedger, e => Assert.Equal(LedgerKind.Expire, e.Kind));
        s.AssertConsistent();
    }

    [Fact]
    public void ExpireDue_before_expiry_does_nothing()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(5, (adult, 1));
        s.Now = s.Reservation(id).ExpiresAt.AddTicks(-1);
        var before = s.Snapshot();

        Assert.Equal(0, s.ExpireDue(id).Count);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(1, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_expires_exactly_once_however_often_it_is_swept()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(5, (adult, 3));
        s.AdvanceMinutes(5);

        Assert.Equal(1, s.ExpireDue(id, id).Count);
        Assert.Equal(0, s.ExpireDue(id).Count);
        Assert.Equal(OutcomeCode.ReservationExpired, s.Confirm(id).Code);
        Assert.Equal(0, s.ExpireDue(id).Count);
        Assert.Equal(2, s.Ledger.Count(e => e.Kind == LedgerKind.Expire));
        Assert.Equal(20, s.Available(pool));
        s.AssertConsistent();
    }

    [Fact]
    public void Capacity_returned_by_expiry_can_be_held_again()
    {
        var s = new Scenario();
        var pool = s.Own(5);
        s.HoldOkFor(5, (pool, 5));
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 1)).Code);
        s.AdvanceMinutes(5);
        s.ExpireDue([.. s.Reservations.Select(r => r.Id)]);

        s.HoldOk((pool, 5));
        s.AssertConsistent();
    }

    [Fact]
    public void A_due_hold_that_nobody_touched_still_counts_until_it_is_expired()
    {
        // Expiry is lazy: until the sweeper or a transition gets to it, the capacity is still held.
        var s = new Scenario();
        var pool = s.Own(5);
        var id = s.HoldOkFor(5, (pool, 5));
        s.AdvanceMinutes(30);

        Assert.Equal(ReservationStatus.Expired, s.Reservation(id).EffectiveStatus(s.Now));
        Assert.Equal(ReservationStatus.Active, s.Reservation(id).Status);
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Confirm_of_a_confirmed_reservation_is_Unchanged_and_writes_nothing()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOk((adult, 2));
        s.Confirm(id);
        s.AdvanceMinutes(60);
        var before = s.Snapshot();

        var outcome = s.Confirm(id);

        Assert.Equal(OutcomeCode.Unchanged, outcome.Code);
        Assert.True(outcome.Succeeded);
        Assert.Equal(ReservationStatus.Confirmed, outcome.Reservation!.Value.Status);
        Assert.Empty(s.LastLedger);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(2, s.Node(pool).Sold);
        s.AssertConsistent();
    }

    [Fact]
    public void Release_of_a_released_reservation_is_Unchanged_and_writes_nothing()
    {
        var (s, _, adult, _) = Theatre();
        var id = s.HoldOk((adult, 2));
        s.Release(id);
        var before = s.Snapshot();

        var outcome = s.Release(id);

        Assert.Equal(OutcomeCode.Unchanged, outcome.Code);
        Assert.Empty(s.LastLedger);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    public enum Reach
    {
        Confirmed,
        Released,
        Expired,
        Cancelled,
    }

    [Theory]
    [InlineData(Reach.Confirmed, Transition.Confirm, OutcomeCode.Unchanged)]
    [InlineData(Reach.Confirmed, Transition.Release, OutcomeCode.ReservationNotActive)]
    [InlineData(Reach.Released, Transition.Confirm, OutcomeCode.ReservationNotActive)]
    [InlineData(Reach.Released, Transition.Release, OutcomeCode.Unchanged)]
    [InlineData(Reach.Released, Transition.Cancel, OutcomeCode.ReservationNotActive)]
    [InlineData(Reach.Expired, Transition.Confirm, OutcomeCode.ReservationExpired)]
    [InlineData(Reach.Expired, Transition.Release, OutcomeCode.ReservationExpired)]
    [InlineData(Reach.Expired, Transition.Cancel, OutcomeCode.ReservationExpired)]
    [InlineData(Reach.Cancelled, Transition.Confirm, OutcomeCode.ReservationNotActive)]
    [InlineData(Reach.Cancelled, Transition.Release, OutcomeCode.ReservationNotActive)]
    [InlineData(Reach.Cancelled, Transition.Cancel, OutcomeCode.ReservationNotActive)]
    public void A_transition_from_a_final_state_changes_nothing(Reach state, Transition transition, OutcomeCode expected)
    {
        var (s, _, adult, child) = Theatre();
        var id = s.HoldOkFor(5, (adult, 2), (child, 1));
        switch (state)
        {
            case Reach.Confirmed:
                s.Confirm(id);
                break;
            case Reach.Released:
                s.Release(id);
                break;
            case Reach.Expired:
                s.AdvanceMinutes(5);
                Assert.Equal(1, s.ExpireDue(id).Count);
                break;
            case Reach.Cancelled:
                s.Confirm(id);
                s.Cancel(id);
                break;
        }

        var status = s.Reservation(id).Status;
        s.AdvanceMinutes(1);
        var before = s.Snapshot();

        var outcome = s.Do(new TransitionReservation(s.Tenant, id, transition));

        Assert.Equal(expected, outcome.Code);
        Assert.Equal(status, s.Reservation(id).Status);
        Assert.Empty(s.LastLedger);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Cancel_of_an_active_hold_is_ReservationNotActive_and_changes_nothing()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOk((adult, 2));
        var before = s.Snapshot();

        var outcome = s.Cancel(id);

        Assert.Equal(OutcomeCode.ReservationNotActive, outcome.Code);
        Assert.Equal(ReservationStatus.Active, s.Reservation(id).Status);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(2, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Cancel_of_a_due_active_hold_expires_it()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(5, (adult, 2));
        s.AdvanceMinutes(5);

        Assert.Equal(OutcomeCode.ReservationExpired, s.Cancel(id).Code);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(id).Status);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Transitions_of_an_unknown_reservation_are_NotFound()
    {
        var s = new Scenario();
        var unknown = s.NewId();

        Assert.Equal(OutcomeCode.NotFound, s.Confirm(unknown).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Release(unknown).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Cancel(unknown).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Extend(unknown, 5).Code);
        Assert.Equal(0, s.ExpireDue(unknown).Count);
        s.AssertConsistent();
    }

    [Fact]
    public void Extend_sets_the_expiry_to_now_plus_the_minutes()
    {
        var (s, _, adult, _) = Theatre();
        var id = s.HoldOkFor(10, (adult, 2));
        s.AdvanceMinutes(7);

        var outcome = s.Extend(id, 30);

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(s.Now.AddMinutes(30), outcome.Reservation!.Value.ExpiresAt);
        Assert.Equal(s.Now.AddMinutes(30), s.Reservation(id).ExpiresAt);
        Assert.Empty(s.LastLedger);

        s.AdvanceMinutes(29);
        Assert.Equal(OutcomeCode.Ok, s.Confirm(id).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Extend_sets_now_plus_minutes_even_when_that_shortens_the_hold()
    {
        // The spec says expires_at = now + minutes; it does not say "never earlier than before".
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(60, (adult, 2));
        s.AdvanceMinutes(1);

        Assert.Equal(OutcomeCode.Ok, s.Extend(id, 5).Code);
        Assert.Equal(s.Now.AddMinutes(5), s.Reservation(id).ExpiresAt);

        s.AdvanceMinutes(5);
        Assert.Equal(1, s.ExpireDue(id).Count);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Extend_may_reach_exactly_the_lifetime_limit_and_not_one_tick_beyond()
    {
        var (s, _, adult, _) = Theatre();
        var id = s.HoldOkFor(60, (adult, 2));
        var created = s.Reservation(id).CreatedAt;
        s.AdvanceMinutes(50);

        Assert.Equal(OutcomeCode.Ok, s.Extend(id, 70).Code);
        Assert.Equal(created.AddMinutes(120), s.Reservation(id).ExpiresAt);

        s.Advance(TimeSpan.FromTicks(1));
        var before = s.Snapshot();
        var outcome = s.Extend(id, 70);
        Assert.Equal(OutcomeCode.ExtensionLimit, outcome.Code);
        Assert.Equal(created.AddMinutes(120), s.Reservation(id).ExpiresAt);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Repeated_extensions_cannot_stretch_a_hold_past_its_lifetime()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(15, (adult, 2));
        var created = s.Reservation(id).CreatedAt;
        var codes = new List<OutcomeCode>();
        for (var i = 0; i < 20; i++)
        {
            s.AdvanceMinutes(10);
            codes.Add(s.Extend(id, 15).Code);
        }

        Assert.Contains(OutcomeCode.ExtensionLimit, codes);
        Assert.True(s.Reservation(id).ExpiresAt <= created.AddMinutes(120));
        Assert.Equal(ReservationStatus.Expired, s.Reservation(id).Status);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Extension_limit_follows_the_configured_MaxLifetimeMinutes()
    {
        var s = new Scenario { Limits = CoreLimits.Default with { MaxLifetimeMinutes = 20 } };
        var pool = s.Own(10);
        var id = s.HoldOkFor(10, (pool, 1));
        s.AdvanceMinutes(5);

        Assert.Equal(OutcomeCode.ExtensionLimit, s.Extend(id, 16).Code);
        Assert.Equal(OutcomeCode.Ok, s.Extend(id, 15).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Extend_of_a_due_hold_answers_ReservationExpired_and_returns_the_capacity()
    {
        var (s, pool, adult, _) = Theatre();
        var id = s.HoldOkFor(5, (adult, 2));
        s.AdvanceMinutes(5);

        Assert.Equal(OutcomeCode.ReservationExpired, s.Extend(id, 5).Code);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(id).Status);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(Reach.Confirmed)]
    [InlineData(Reach.Released)]
    [InlineData(Reach.Cancelled)]
    public void Extend_of_an_ended_reservation_is_ReservationNotActive(Reach state)
    {
        var (s, _, adult, _) = Theatre();
        var id = s.HoldOk((adult, 2));
        if (state == Reach.Released)
        {
            s.Release(id);
        }
        else
        {
            s.Confirm(id);
            if (state == Reach.Cancelled)
            {
                s.Cancel(id);
            }
        }

        var before = s.Snapshot();
        Assert.Equal(OutcomeCode.ReservationNotActive, s.Extend(id, 5).Code);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(121)]
    public void Extend_minutes_outside_1_to_120_are_Invalid(int minutes)
    {
        var (s, _, adult, _) = Theatre();
        var id = s.HoldOk((adult, 2));
        var before = s.Snapshot();

        var outcome = s.Extend(id, minutes);

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("minutes", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }
}

namespace Capacity.Core.Tests;

/// <summary>Holds that change in part: new target quantities, partial confirms and refunds, and a confirm after expiry.</summary>
public sealed class HoldChangeTests
{
    private static Outcome Change(Scenario s, Guid hold, int? minutes, params (Guid Capacity, int Quantity, Guid? Pricing)[] targets) =>
        s.Do(new ChangeHold(s.Tenant, hold, [.. targets.Select(t => new HoldItem(t.Capacity, t.Quantity, t.Pricing))], minutes));

    private static Outcome ConfirmPart(Scenario s, Guid hold, bool reclaim, params (Guid Capacity, int Quantity)[] parts) =>
        s.Do(new ConfirmHold(s.Tenant, hold, parts.Length == 0 ? null : [.. parts.Select(p => new ItemQuantity(p.Capacity, p.Quantity))], reclaim));

    private static Outcome CancelPart(Scenario s, Guid sale, params (Guid Capacity, int Quantity)[] parts) =>
        s.Do(new CancelSale(s.Tenant, sale, [.. parts.Select(p => new ItemQuantity(p.Capacity, p.Quantity))]));

    [Fact]
    public void Lowering_a_hold_from_4_to_2_gives_2_back_and_keeps_its_expiry_and_raising_it_past_what_is_free_changes_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        var hold = s.HoldOk((pool, 4));
        s.HoldOk((pool, 5));
        var expires = s.Reservation(hold).ExpiresAt;
        s.AdvanceMinutes(3);

        var lowered = Change(s, hold, null, (pool, 2, null));
        Assert.Equal(OutcomeCode.Ok, lowered.Code);
        Assert.Equal((2, expires), (s.Reservation(hold).Items.Single().Quantity, s.Reservation(hold).ExpiresAt));
        Assert.Equal(3, s.Available(pool));
        Assert.Equal([(LedgerKind.Release, -2L)], s.LastLedger.Select(e => (e.Kind, e.ReservedDelta)));

        // 1 free after another hold of 2: 6 would need 4 more.
        s.HoldOk((pool, 2));
        var refused = Change(s, hold, null, (pool, 6, null));
        Assert.Equal(OutcomeCode.InsufficientCapacity, refused.Code);
        Assert.Equal(2, s.Reservation(hold).Items.Single().Quantity);
        Assert.Empty(s.LastLedger);

        Assert.Equal(OutcomeCode.Ok, Change(s, hold, 30, (pool, 3, null)).Code);
        Assert.Equal((3, s.Now.AddMinutes(30)), (s.Reservation(hold).Items.Single().Quantity, s.Reservation(hold).ExpiresAt));
        Assert.Equal(0, s.Available(pool));
        s.AssertConsistent();
    }

    [Fact]
    public void A_change_adds_a_capacity_removes_one_at_0_and_releases_the_hold_when_every_target_is_0()
    {
        var s = new Scenario();
        var stalls = s.Own(10, "Stalls");
        var circle = s.Own(10, "Circle");
        var hold = s.HoldOk((stalls, 2));

        Assert.Equal(OutcomeCode.Ok, Change(s, hold, null, (stalls, 0, null), (circle, 3, null)).Code);
        var items = s.Reservation(hold).Items;
        Assert.Equal([(circle, 3)], items.Select(i => (i.CapacityId, i.Quantity)));
        Assert.Equal((10L, 7L), (s.Available(stalls), s.Available(circle)));

        Assert.Equal(OutcomeCode.Ok, Change(s, hold, null, (circle, 0, null)).Code);
        Assert.Equal(ReservationStatus.Released, s.Reservation(hold).Status);
        Assert.Equal(10, s.Available(circle));
        s.AssertConsistent();
    }

    [Fact]
    public void A_swap_between_two_sections_of_a_sold_out_venue_or_at_a_buyers_limit_is_judged_on_the_end_state()
    {
        var s = new Scenario();
        var venue = s.Own(4, "Venue");
        var stalls = s.Shared(venue);
        var circle = s.Shared(venue);
        s.LimitOk(4, stalls, circle);
        var hold = s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(stalls, 4, null)], 15, "fan")).Reservation!.Value.Id;

        // The venue has nothing free and the fan is at 4 of 4, but stalls 4 -> 0 gives back what circle 0 -> 4 takes.
        Assert.Equal(OutcomeCode.Ok, Change(s, hold, null, (stalls, 0, null), (circle, 4, null)).Code);
        Assert.Equal([(circle, 4)], s.Reservation(hold).Items.Select(i => (i.CapacityId, i.Quantity)));
        Assert.Equal((0L, 4L, 0L), (s.Node(stalls).Reserved, s.Node(circle).Reserved, s.Available(venue)));

        // Netting never lets a change end past the pool or the limit: 3 back, 4 on, one too many.
        var over = Change(s, hold, null, (circle, 1, null), (stalls, 4, null));
        Assert.Equal(OutcomeCode.InsufficientCapacity, over.Code);
        Assert.Equal([(circle, 4)], s.Reservation(hold).Items.Select(i => (i.CapacityId, i.Quantity)));
        s.AssertConsistent();
    }

    [Fact]
    public void A_change_cannot_pass_a_waiting_list_by_moving_a_ticket_sideways_under_a_sold_out_venue()
    {
        var s = new Scenario();
        var venue = s.Own(4, "Venue");
        var stalls = s.Capped(2, venue);
        var circle = s.Capped(4, venue);
        s.EnableWaitlist(stalls);
        var hold = s.HoldOk((stalls, 2));
        s.HoldOk((circle, 2));
        var entry = s.JoinOk((stalls, 1));

        // A stalls ticket moved to the circle would free the seat the entry waits for and take the
        // venue's with it: released first, the seat would be offered to the entry, so the move is refused.
        var moved = Change(s, hold, null, (stalls, 1, null), (circle, 1, null));
        Assert.Equal(OutcomeCode.InsufficientCapacity, moved.Code);
        Assert.Equal(venue, moved.Shortage!.Value.CapacityId);
        Assert.Equal([(stalls, 2)], s.Reservation(hold).Items.Select(i => (i.CapacityId, i.Quantity)));

        // Likewise when the queue waits on a sibling whose own seats are free but the venue's are not.
        var t = new Scenario();
        var hall = t.Own(4, "Hall");
        var floor = t.Capped(4, hall);
        var balcony = t.Capped(4, hall);
        var gallery = t.Capped(4, hall);
        t.EnableWaitlist(gallery);
        var swap = t.HoldOk((floor, 2));
        t.HoldOk((balcony, 2));
        var waiting = t.JoinOk((gallery, 1));
        Assert.Equal(OutcomeCode.InsufficientCapacity, Change(t, swap, null, (floor, 1, null), (balcony, 1, null)).Code);

        // A release is what gives the seat to the entry, and the public may then have what is left.
        s.Release(hold);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(entry).Status);
        t.Release(swap);
        Assert.Equal(WaitlistStatus.Offered, t.Entry(waiting).Status);
        s.AssertConsistent();
        t.AssertConsistent();
    }

    [Fact]
    public void A_buyer_past_a_limit_lowered_since_may_still_move_tickets_between_its_sections_but_not_add_one()
    {
        var s = new Scenario();
        var stalls = s.Own(10, "Stalls");
        var circle = s.Own(10, "Circle");
        var limit = s.LimitOk(5, stalls, circle);
        var hold = s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(stalls, 5, null)], 15, "fan")).Reservation!.Value.Id;
        s.SetLimit(limit, 3);

        // 5 held under a limit now 3: moving 2 to the circle takes no more under it than it gives back.
        Assert.Equal(OutcomeCode.Ok, Change(s, hold, null, (stalls, 3, null), (circle, 2, null)).Code);
        Assert.Equal(5, s.Used("fan", stalls, circle));

        // One more than it gives back is refused, as a new hold would be, with what it would hold after.
        var over = Change(s, hold, null, (stalls, 2, null), (circle, 4, null));
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, over.Code);
        Assert.Equal((4L, 2L), (over.LimitExcess!.Used, over.LimitExcess.Requested));
        Assert.Equal(OutcomeCode.Ok, Change(s, hold, null, (stalls, 1, null), (circle, 2, null)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Units_already_held_keep_their_locked_price_and_added_units_lock_the_current_one()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        var price = s.Price(pool, 40m);
        var hold = s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(pool, 2, price)], 15)).Reservation!.Value.Id;
        s.SetCurrentPrice(price, 55m);

        Assert.Equal(OutcomeCode.Ok, Change(s, hold, null, (pool, 5, null)).Code);
        var items = s.Reservation(hold).Items;
        Assert.Equal([(2, 40m), (3, 55m)], items.Select(i => (i.Quantity, i.LockedPrice!.UnitPrice)));

        // Lowering takes the units added last first.
        Assert.Equal(OutcomeCode.Ok, Change(s, hold, null, (pool, 3, null)).Code);
        Assert.Equal([(2, 40m), (1, 55m)], s.Reservation(hold).Items.Select(i => (i.Quantity, i.LockedPrice!.UnitPrice)));
        s.AssertConsistent();
    }

    [Fact]
    public void Confirming_3_of_5_sells_3_and_gives_2_back_and_refunding_1_of_3_lowers_sold_on_every_pool_above()
    {
        var s = new Scenario();
        var venue = s.Own(100, "Venue");
        var stalls = s.Capped(50, venue);
        var hold = s.HoldOk((stalls, 5));

        Assert.Equal(OutcomeCode.Ok, ConfirmPart(s, hold, false, (stalls, 3)).Code);
        var sale = s.Reservation(hold);
        Assert.Equal((ReservationStatus.Confirmed, 3), (sale.Status, sale.Items.Single().Quantity));
        Assert.Equal((0L, 3L, 0L, 3L), (s.Node(stalls).Reserved, s.Node(stalls).Sold, s.Node(venue).Reserved, s.Node(venue).Sold));

        Assert.Equal(OutcomeCode.Ok, CancelPart(s, hold, (stalls, 1)).Code);
        sale = s.Reservation(hold);
        Assert.Equal((ReservationStatus.Confirmed, 2, 1), (sale.Status, sale.Items.Single().Quantity, sale.Items.Single().CancelledQuantity));
        Assert.Equal((2L, 2L), (s.Node(stalls).Sold, s.Node(venue).Sold));
        Assert.Equal([(LedgerKind.Cancel, -1L), (LedgerKind.Cancel, -1L)], s.LastLedger.Select(e => (e.Kind, e.SoldDelta)));

        // The last two refunded: the sale is cancelled.
        Assert.Equal(OutcomeCode.Ok, CancelPart(s, hold, (stalls, 2)).Code);
        Assert.Equal(ReservationStatus.Cancelled, s.Reservation(hold).Status);
        Assert.Equal(0, s.Node(venue).Sold);
        Assert.Equal(OutcomeCode.InvalidQuantity, ConfirmPart(s, s.HoldOk((stalls, 1)), false, (stalls, 2)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_partial_confirm_or_late_confirm_sent_again_is_told_the_sale_stands_and_one_asking_for_other_quantities_is_refused()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        var other = s.Own(10, "Other");
        var hold = s.HoldOk((pool, 3), (other, 1));
        Assert.Equal(OutcomeCode.Ok, ConfirmPart(s, hold, false, (pool, 2)).Code);

        // The same request again: nothing moves, the answer is the sale.
        var again = ConfirmPart(s, hold, false, (pool, 2));
        Assert.Equal(OutcomeCode.Unchanged, again.Code);
        Assert.Empty(s.LastLedger);
        Assert.Equal(OutcomeCode.Unchanged, ConfirmPart(s, hold, true, (pool, 1), (pool, 1), (other, 0)).Code);

        // Other quantities than the sale's are not a repeat.
        Assert.Equal(OutcomeCode.ReservationNotActive, ConfirmPart(s, hold, false, (pool, 1)).Code);
        Assert.Equal(OutcomeCode.ReservationNotActive, ConfirmPart(s, hold, false, (pool, 2), (other, 1)).Code);

        // A late confirm in part, sent again.
        var late = s.HoldOkFor(5, (pool, 2));
        s.AdvanceMinutes(6);
        var reclaimed = ConfirmPart(s, late, true, (pool, 1));
        Assert.Equal((OutcomeCode.Ok, true), (reclaimed.Code, reclaimed.Reclaimed));
        Assert.Equal(OutcomeCode.Unchanged, ConfirmPart(s, late, true, (pool, 1)).Code);
        Assert.Equal(3, s.Node(pool).Sold);
        s.AssertConsistent();
    }

    [Fact]
    public void A_sale_refunded_whole_reads_as_one_refunded_in_parts_nothing_left_and_every_unit_cancelled()
    {
        var s = new Scenario();
        var venue = s.Own(100, "Venue");
        var stalls = s.Capped(50, venue);
        var circle = s.Capped(50, venue);

        var whole = s.HoldOk((stalls, 3), (circle, 2));
        Assert.Equal(OutcomeCode.Ok, s.Confirm(whole).Code);
        Assert.Equal(OutcomeCode.Ok, s.Cancel(whole).Code);

        var parts = s.HoldOk((stalls, 3), (circle, 2));
        Assert.Equal(OutcomeCode.Ok, s.Confirm(parts).Code);
        Assert.Equal(OutcomeCode.Ok, CancelPart(s, parts, (stalls, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Cancel(parts).Code);

        foreach (var id in new[] { whole, parts })
        {
            var sale = s.Reservation(id);
            Assert.Equal(ReservationStatus.Cancelled, sale.Status);
            Assert.Equal([(stalls, 0, 3), (circle, 0, 2)], sale.Items.Select(i => (i.CapacityId, i.Quantity, i.CancelledQuantity)));
        }

        Assert.Equal((0L, 0L), (s.Node(venue).Reserved, s.Node(venue).Sold));
        s.AssertConsistent();
    }

    [Fact]
    public void A_refund_in_part_of_a_hold_that_expired_or_is_due_is_told_it_expired_as_a_whole_cancel_is()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        var swept = s.HoldOkFor(5, (pool, 2));
        var due = s.HoldOkFor(5, (pool, 3));
        s.AdvanceMinutes(6);
        s.Do(new ExpireDue([swept]));

        Assert.Equal(OutcomeCode.ReservationExpired, CancelPart(s, swept, (pool, 1)).Code);
        Assert.Empty(s.LastLedger);

        // Due but not swept: expired by the refusal, as a whole cancel expires it, its 3 given back.
        Assert.Equal(OutcomeCode.ReservationExpired, CancelPart(s, due, (pool, 1)).Code);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(due).Status);
        Assert.Equal([(LedgerKind.Expire, -3L, 0L)], s.LastLedger.Select(e => (e.Kind, e.ReservedDelta, e.SoldDelta)));
        Assert.Equal(OutcomeCode.ReservationExpired, s.Cancel(due).Code);

        var held = s.HoldOk((pool, 1));
        Assert.Equal(OutcomeCode.ReservationNotActive, CancelPart(s, held, (pool, 1)).Code);
        s.Release(held);
        Assert.Equal(OutcomeCode.ReservationNotActive, CancelPart(s, held, (pool, 1)).Code);
        Assert.Equal(10, s.Available(pool));
        s.AssertConsistent();
    }

    [Fact]
    public void An_expired_hold_with_room_is_reclaimed_at_its_locked_price_and_without_room_the_shortfall_is_exact_and_nothing_moves()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        var price = s.Price(pool, 40m);
        var hold = s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(pool, 4, price)], 5)).Reservation!.Value.Id;
        s.SetCurrentPrice(price, 90m);
        s.AdvanceMinutes(6);

        // Without on_expired the answer is as before.
        Assert.Equal(OutcomeCode.ReservationExpired, ConfirmPart(s, hold, false).Code);
        var reclaimed = ConfirmPart(s, hold, true);
        Assert.Equal((OutcomeCode.Ok, true), (reclaimed.Code, reclaimed.Reclaimed));
        var sale = s.Reservation(hold);
        Assert.Equal((ReservationStatus.Confirmed, 40m), (sale.Status, sale.Items.Single().LockedPrice!.UnitPrice));
        Assert.Equal([(LedgerKind.Reclaim, 0L, 4L)], s.LastLedger.Select(e => (e.Kind, e.ReservedDelta, e.SoldDelta)));
        Assert.Equal(6, s.Available(pool));

        var late = s.HoldOkFor(5, (pool, 4));
        s.AdvanceMinutes(6);
        s.Do(new ExpireDue([late]));
        s.HoldOk((pool, 5));
        var short_ = ConfirmPart(s, late, true);
        Assert.Equal(OutcomeCode.ReservationExpired, short_.Code);
        Assert.Equal([new ShortfallItem(pool, 4, 1)], short_.Shortfall!);
        Assert.Equal(ReservationStatus.Expired, s.Reservation(late).Status);
        Assert.Empty(s.LastLedger);

        var released = s.HoldOk((pool, 1));
        s.Release(released);
        Assert.Equal(OutcomeCode.ReservationNotActive, ConfirmPart(s, released, true).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_reclaim_whose_items_fit_alone_but_not_together_names_the_pool_they_share_with_what_they_ask_of_it()
    {
        var s = new Scenario();
        var venue = s.Own(4, "Venue");
        var stalls = s.Shared(venue);
        var circle = s.Shared(venue);
        var cart = s.HoldOkFor(5, (stalls, 2), (circle, 2));
        s.AdvanceMinutes(6);
        s.Do(new ExpireDue([cart]));
        s.HoldOk((stalls, 1));

        // Each section has 3 left, more than the 2 it asks: what is short is the venue, 4 asked, 3 left.
        var refused = ConfirmPart(s, cart, true);
        Assert.Equal(OutcomeCode.ReservationExpired, refused.Code);
        Assert.Equal([new ShortfallItem(venue, 4, 3)], refused.Shortfall!);
        Assert.Empty(s.LastLedger);
        s.AssertConsistent();
    }

    [Fact]
    public void A_reclaim_cannot_take_units_a_waiting_list_is_owed_nor_pass_its_buyers_limit_nor_draw_on_a_deactivated_pool()
    {
        var s = new Scenario();
        var pool = s.Own(4, "Pool");
        s.EnableWaitlist(pool);
        var lapsed = s.HoldOkFor(5, (pool, 2));
        s.HoldOk((pool, 2));
        s.AdvanceMinutes(6);
        s.Do(new ExpireDue([lapsed]));

        // Two units are free, but an entry of 3 is owed them: the public, and a reclaim, see none.
        s.JoinOk((pool, 3));
        var owed = ConfirmPart(s, lapsed, true);
        Assert.Equal(OutcomeCode.ReservationExpired, owed.Code);
        Assert.Equal([new ShortfallItem(pool, 2, 0)], owed.Shortfall!);

        var t = new Scenario();
        var floor = t.Own(10, "Floor");
        t.LimitOk(3, floor);
        var keyed = t.Do(new PlaceHold(t.Tenant, t.NewId(), [new HoldItem(floor, 2, null)], 5, "fan")).Reservation!.Value.Id;
        t.AdvanceMinutes(6);
        t.Do(new ExpireDue([keyed]));
        t.HoldFor("fan", (floor, 2));

        // Room enough, but the fan has 2 of 3 now.
        var refused = ConfirmPart(t, keyed, true);
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, refused.Code);
        Assert.Equal(ReservationStatus.Expired, t.Reservation(keyed).Status);

        // Room enough, but the pool above was deactivated since: its own refusal, naming it.
        var u = new Scenario();
        var venue = u.Own(10, "Venue");
        var stalls = u.Capped(5, venue);
        var late = u.HoldOkFor(5, (stalls, 2));
        u.AdvanceMinutes(6);
        u.Do(new ExpireDue([late]));
        Assert.Equal(OutcomeCode.Ok, u.SetActive(venue, false).Code);
        var closed = ConfirmPart(u, late, true);
        Assert.Equal(OutcomeCode.CapacityInactive, closed.Code);
        Assert.Contains(venue.ToString(), closed.Detail, StringComparison.Ordinal);
        Assert.Null(closed.Shortfall);
        Assert.Equal(ReservationStatus.Expired, u.Reservation(late).Status);
        s.AssertConsistent();
        t.AssertConsistent();
        u.AssertConsistent();
    }

    [Fact]
    public void Confirming_part_of_a_waiting_list_offer_accepts_it_and_the_rest_goes_to_the_next_in_line()
    {
        var s = new Scenario();
        var pool = s.Own(4, "Pool");
        var hold = s.HoldOk((pool, 4));
        s.EnableWaitlist(pool);
        var first = s.JoinOk((pool, 3));
        var second = s.JoinOk((pool, 1));
        s.Release(hold);
        Assert.Equal((WaitlistStatus.Offered, WaitlistStatus.Offered), (s.Entry(first).Status, s.Entry(second).Status));

        var third = s.JoinOk((pool, 1));
        Assert.Equal(OutcomeCode.Ok, ConfirmPart(s, first, false, (pool, 2)).Code);
        Assert.Equal(WaitlistStatus.Accepted, s.Entry(first).Status);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(third).Status);
        Assert.Equal(2, s.Node(pool).Sold);

        // An offer cannot grow.
        Assert.Equal(OutcomeCode.NotChangeable, Change(s, second, null, (pool, 2, null)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_drawn_from_an_allocation_moves_only_whole()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        var box = s.AllocateOk(pool, 4);
        var hold = s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(pool, 3, null, box)], 15)).Reservation!.Value.Id;
        Assert.Equal(OutcomeCode.NotChangeable, Change(s, hold, null, (pool, 1, null)).Code);
        Assert.Equal(OutcomeCode.NotChangeable, ConfirmPart(s, hold, false, (pool, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, ConfirmPart(s, hold, false, (pool, 3)).Code);
        Assert.Equal(OutcomeCode.NotChangeable, CancelPart(s, hold, (pool, 1)).Code);
        s.AssertConsistent();
    }
}

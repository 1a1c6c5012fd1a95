namespace Capacity.Core.Tests;

/// <summary>Waiting lists: freed units become offers in the same step, in order, and the queue cannot be jumped.</summary>
public sealed class WaitlistTests
{
    /// <summary>A pool of 10, sold out in ten holds of one, with a queue of 4, 1 and 2 behind it.</summary>
    private static (Scenario S, Guid Pool, Guid[] Holds, Guid[] Queue) SoldOutWithQueue(WaitlistPolicy policy)
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        s.EnableWaitlist(pool, policy);
        var holds = Enumerable.Range(0, 10).Select(_ => s.HoldOk((pool, 1))).ToArray();
        var queue = new[] { s.JoinOk((pool, 4)), s.JoinOk((pool, 1)), s.JoinOk((pool, 2)) };
        Assert.All(queue, id => Assert.Equal(WaitlistStatus.Waiting, s.Entry(id).Status));
        Assert.Equal(7, s.Node(pool).WaitingUnits);
        return (s, pool, holds, queue);
    }

    [Fact]
    public void Under_fifo_three_freed_units_wait_for_the_group_of_four_and_the_fourth_offers_it()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        for (var i = 0; i < 3; i++)
        {
            s.Release(holds[i]);
        }

        Assert.All(queue, id => Assert.Equal(WaitlistStatus.Waiting, s.Entry(id).Status));
        var refused = s.Hold((pool, 1));
        Assert.Equal(OutcomeCode.InsufficientCapacity, refused.Code);
        // Owed what the pool could give them: the three freed units, not all seven they wait for.
        Assert.Equal(3, refused.Shortage!.Value.Owed);
        Assert.Equal(0, s.Available(pool));

        s.Release(holds[3]);
        var four = s.Entry(queue[0]);
        Assert.Equal(WaitlistStatus.Offered, four.Status);
        var offer = s.Reservation(four.OfferReservationId!.Value);
        Assert.Equal((ReservationStatus.Active, 4, (Guid?)four.Id), (offer.Status, offer.Items[0].Quantity, offer.WaitlistId));
        Assert.Equal(s.Now.AddMinutes(30), offer.ExpiresAt);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(queue[1]).Status);
        Assert.Equal((10L, 3L), (s.Node(pool).Reserved, s.Node(pool).WaitingUnits));
        s.AssertConsistent();
    }

    [Fact]
    public void Under_first_fit_three_freed_units_go_to_the_one_and_the_two_behind_the_four()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.FirstFit);
        for (var i = 0; i < 3; i++)
        {
            s.Release(holds[i]);
        }

        Assert.Equal(
            [WaitlistStatus.Waiting, WaitlistStatus.Offered, WaitlistStatus.Offered],
            queue.Select(id => s.Entry(id).Status).ToArray());
        // The four still wait, owed nothing while the pool has nothing to give.
        Assert.Equal((4L, 0L), (s.Node(pool).WaitingUnits, s.Node(pool).OwedUnits));
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void An_offer_that_expires_goes_to_the_next_entry_in_the_same_step_and_its_entry_lapses_for_good()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        for (var i = 0; i < 4; i++)
        {
            s.Release(holds[i]);
        }

        var offer = s.Entry(queue[0]).OfferReservationId!.Value;
        s.AdvanceMinutes(31);
        s.ExpireDue(offer);

        Assert.Equal(ReservationStatus.Expired, s.Reservation(offer).Status);
        Assert.Equal(
            [WaitlistStatus.Lapsed, WaitlistStatus.Offered, WaitlistStatus.Offered],
            queue.Select(id => s.Entry(id).Status).ToArray());
        Assert.Equal(WaitlistLapse.OfferExpired, s.Entry(queue[0]).LapsedReason);
        Assert.Equal((0L, 1L), (s.Node(pool).OwedUnits, s.Available(pool)!.Value));
        Assert.Equal(OutcomeCode.Ok, s.Hold((pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void An_offer_is_not_extended_past_the_length_its_organiser_gave_it()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        for (var i = 0; i < 4; i++)
        {
            s.Release(holds[i]);
        }

        var offer = s.Entry(queue[0]).OfferReservationId!.Value;
        var expiresAt = s.Reservation(offer).ExpiresAt;
        var refused = s.Do(new ExtendReservation(s.Tenant, offer, 100));
        Assert.Equal(OutcomeCode.NotChangeable, refused.Code);
        Assert.Equal(expiresAt, s.Reservation(offer).ExpiresAt);
        s.AssertConsistent();
    }

    [Fact]
    public void An_offer_the_buyer_declines_lapses_as_released_and_a_confirmed_one_gives_no_reason()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        for (var i = 0; i < 4; i++)
        {
            s.Release(holds[i]);
        }

        s.Release(s.Entry(queue[0]).OfferReservationId!.Value);
        Assert.Equal((WaitlistStatus.Lapsed, WaitlistLapse.OfferReleased), (s.Entry(queue[0]).Status, s.Entry(queue[0]).LapsedReason));
        Assert.Equal(OutcomeCode.Ok, s.Confirm(s.Entry(queue[1]).OfferReservationId!.Value).Code);
        Assert.Equal((WaitlistStatus.Accepted, null), (s.Entry(queue[1]).Status, s.Entry(queue[1]).LapsedReason));
        Assert.Equal(WaitlistLapse.OfferReleased, WaitlistEntryView.Of(s.Entry(queue[0])).LapsedReason);
        s.AssertConsistent();
    }

    [Fact]
    public void A_confirmed_offer_is_accepted_and_its_refund_does_not_bring_the_entry_back()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        for (var i = 0; i < 4; i++)
        {
            s.Release(holds[i]);
        }

        var offer = s.Entry(queue[0]).OfferReservationId!.Value;
        Assert.Equal(OutcomeCode.Ok, s.Confirm(offer).Code);
        Assert.Equal(WaitlistStatus.Accepted, s.Entry(queue[0]).Status);

        Assert.Equal(OutcomeCode.Ok, s.Cancel(offer).Code);
        Assert.Equal(WaitlistStatus.Accepted, s.Entry(queue[0]).Status);
        Assert.Equal(
            [WaitlistStatus.Offered, WaitlistStatus.Offered],
            queue.Skip(1).Select(id => s.Entry(id).Status).ToArray());
        s.AssertConsistent();
    }

    [Fact]
    public void An_entry_over_two_capacities_is_offered_only_when_both_fit()
    {
        var s = new Scenario();
        var stalls = s.Own(2, "Stalls");
        var circle = s.Own(2, "Circle");
        s.EnableWaitlist(stalls);
        s.EnableWaitlist(circle);
        var stallsHolds = new[] { s.HoldOk((stalls, 1)), s.HoldOk((stalls, 1)) };
        var circleHolds = new[] { s.HoldOk((circle, 1)), s.HoldOk((circle, 1)) };
        var both = s.JoinOk((stalls, 1), (circle, 1));

        s.Release(stallsHolds[0]);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(both).Status);
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((stalls, 1)).Code);

        s.Release(circleHolds[1]);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(both).Status);
        Assert.Equal(2, s.Reservation(both).Items.Length);
        Assert.Equal((0L, 0L), (s.Node(stalls).OwedUnits, s.Node(circle).OwedUnits));
        s.AssertConsistent();
    }

    [Fact]
    public void A_sibling_cannot_take_units_of_a_shared_pool_that_an_entry_below_it_is_owed()
    {
        var s = new Scenario();
        var venue = s.Own(4, "Venue");
        var stalls = s.Capped(4, venue);
        var circle = s.Capped(4, venue);
        s.EnableWaitlist(stalls);
        var held = new[] { s.HoldOk((circle, 2)), s.HoldOk((stalls, 2)) };
        var entry = s.JoinOk((stalls, 2));

        s.Release(held[0]);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(entry).Status);
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((circle, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Joining_when_units_are_free_and_nobody_waits_is_an_offer_at_once()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        s.EnableWaitlist(pool);
        var joined = s.Join("fan", (pool, 3));
        Assert.Equal((OutcomeCode.Ok, WaitlistStatus.Offered), (joined.Code, joined.Entry!.Status));
        Assert.Equal("fan", s.Reservation(joined.Entry.Id).BuyerKey);
        Assert.Equal(3, s.Used("fan", pool));
        s.AssertConsistent();
    }

    [Fact]
    public void Leaving_with_an_offer_releases_it_to_the_next_and_leaving_again_changes_nothing()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        for (var i = 0; i < 4; i++)
        {
            s.Release(holds[i]);
        }

        Assert.Equal(OutcomeCode.Ok, s.Leave(queue[0]).Code);
        Assert.Equal(ReservationStatus.Released, s.Reservation(queue[0]).Status);
        Assert.Equal(
            [WaitlistStatus.Left, WaitlistStatus.Offered, WaitlistStatus.Offered],
            queue.Select(id => s.Entry(id).Status).ToArray());
        var before = s.Snapshot();
        Assert.Equal(OutcomeCode.Unchanged, s.Leave(queue[0]).Code);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(OutcomeCode.NotFound, s.Leave(queue[1], Scenario.TenantB).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_fifo_head_that_leaves_lets_those_behind_it_have_the_units_it_held_back()
    {
        var (s, pool, holds, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        for (var i = 0; i < 3; i++)
        {
            s.Release(holds[i]);
        }

        s.Leave(queue[0]);
        Assert.Equal([WaitlistStatus.Offered, WaitlistStatus.Offered], queue.Skip(1).Select(id => s.Entry(id).Status).ToArray());
        s.AssertConsistent();
    }

    [Fact]
    public void Joining_a_capacity_without_an_open_list_is_refused_and_changes_nothing()
    {
        var s = new Scenario();
        var open = s.Own(10, "Open");
        var closed = s.Own(10, "Closed");
        s.EnableWaitlist(open);
        s.EnableWaitlist(closed, enabled: false);
        var before = s.Snapshot();
        var refused = s.Join(null, (open, 1), (closed, 1));
        Assert.Equal((OutcomeCode.WaitlistDisabled, "items[1].capacity_id"), (refused.Code, refused.Field));
        Assert.Equal(before, s.Snapshot());
    }

    [Fact]
    public void Growing_the_pool_offers_the_queue_before_the_public()
    {
        var (s, pool, _, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        Assert.Equal(OutcomeCode.Ok, s.Resize(pool, 15).Code);
        Assert.Equal(
            [WaitlistStatus.Offered, WaitlistStatus.Offered, WaitlistStatus.Waiting],
            queue.Select(id => s.Entry(id).Status).ToArray());
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Verify_reports_rather_than_fails_when_a_waiting_buyers_usage_row_is_missing()
    {
        var s = new Scenario();
        var pool = s.Own(2, "Floor");
        s.EnableWaitlist(pool);
        s.HoldOk((pool, 2));
        var entry = s.Join("fan", (pool, 1)).Entry!.Id;
        s.AssertConsistent();

        // The rows as a damaged store might hold them: the hold gone behind the core's back (so the entry
        // fits) and the buyer's usage row lost. Settling a copy would take the entry's units off a row
        // that is not there.
        var nodes = new[] { s.Node(pool).Clone() };
        (nodes[0].Reserved, nodes[0].QueueDemand) = (0, 1);
        var live = new List<WaitlistEntry> { s.Entry(entry).Clone() };
        var usage = new BuyerTally();
        Assert.Contains(Invariants.CheckUsage(usage, new HoldSums(), live), v => v.Contains("waits for 1 units and has no usage row", StringComparison.Ordinal));
        Assert.Equal(
            [$"the waiting lists could not be settled on copies of the rows: Buyer usage on capacity {pool} would go negative."],
            Invariants.CheckWaitlists(nodes, live, new Dictionary<Guid, ReservationStatus>(), new HoldSums(), [], usage, s.Now));
    }

    [Fact]
    public void Verify_finds_an_entry_left_waiting_while_it_fits_and_counters_that_disagree_with_the_entries()
    {
        var (s, pool, _, queue) = SoldOutWithQueue(WaitlistPolicy.Fifo);
        s.AssertConsistent();
        var nodes = new[] { s.Node(pool).Clone() };
        var live = queue.Select(id => s.Entry(id).Clone()).ToList();
        var none = new Dictionary<Guid, ReservationStatus>();

        // Four units freed behind the core's back (owed to the queue, as the counters say): the head fits and was not offered.
        nodes[0].Reserved -= 4;
        var fits = Invariants.CheckWaitlists(nodes, live, none, new HoldSums(), [], new BuyerTally(), s.Now);
        Assert.Contains(fits, v => v.Contains(queue[0].ToString(), StringComparison.Ordinal) && v.Contains("should have been offered", StringComparison.Ordinal));

        nodes[0].QueueDemand = 6;
        Assert.Contains(Invariants.CheckWaitlists(nodes, live, none, new HoldSums(), [], new BuyerTally(), s.Now), v => v.Contains("queue demand 6", StringComparison.Ordinal));

        live[1].Status = WaitlistStatus.Offered;
        live[1].OfferReservationId = live[1].Id;
        Assert.Contains(Invariants.CheckWaitlists(nodes, live, none, new HoldSums(), [], new BuyerTally(), s.Now), v => v.Contains("Offered with its offer absent", StringComparison.Ordinal));

        // The pool's window ended behind the core's back, its edge passed: the queue should have lapsed.
        var ended = new[] { s.Node(pool).Clone() };
        ended[0].Sale = new SaleRules(EndsAt: s.Now.AddMinutes(-1));
        var left = queue.Select(id => s.Entry(id).Clone()).ToList();
        Assert.Contains(Invariants.CheckWaitlists(ended, left, none, new HoldSums(), [], new BuyerTally(), s.Now),
            v => v.Contains(queue[0].ToString(), StringComparison.Ordinal) && v.Contains("past the end of a window it reaches: it should have lapsed", StringComparison.Ordinal));

        // An edge the sweep has not passed yet may keep them waiting a sweep longer.
        ended[0].Sale = ended[0].Sale! with { EdgeAt = s.Now.AddMinutes(-1) };
        Assert.Empty(Invariants.CheckWaitlists(ended, left, none, new HoldSums(), [], new BuyerTally(), s.Now));

        // Closed by its sold-out rule, or by hand, it still owes its queue: the entries may wait.
        ended[0].Sale = new SaleRules(CloseWhenSoldOut: true, SoldOutAt: s.Now, ClosedReason: SaleRules.SoldOutReason);
        ended[0].IsActive = false;
        Assert.Empty(Invariants.CheckWaitlists(ended, left, none, new HoldSums(), [], new BuyerTally(), s.Now));
    }

    [Fact]
    public void A_buyer_waiting_for_units_under_a_limit_cannot_hold_past_it_elsewhere_until_the_entry_leaves()
    {
        var s = new Scenario();
        var stalls = s.Own(1, "Stalls");
        var circle = s.Own(10, "Circle");
        s.EnableWaitlist(stalls);
        s.LimitOk(2, stalls, circle);
        s.HoldOk((stalls, 1));
        var entry = s.Join("fan", (stalls, 1)).Entry!.Id;
        Assert.Equal(1, s.Used("fan", stalls));

        // The entry is a claim on a ticket: 1 waited for + 2 asked would pass the limit of 2. Were the
        // hold placed, the entry would be passed over for good and its unit owed to nobody who could buy it.
        var refused = s.HoldFor("fan", (circle, 2));
        Assert.Equal(OutcomeCode.BuyerLimitExceeded, refused.Code);
        Assert.Equal((1L, 2L), (refused.LimitExcess!.Used, refused.LimitExcess.Requested));
        Assert.Equal(0, s.Node(circle).Reserved);
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("fan", (circle, 1)).Code);

        s.Leave(entry);
        Assert.Equal(1, s.Used("fan", stalls, circle));
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("fan", (circle, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void An_entry_a_lowered_limit_holds_back_is_offered_once_the_buyer_gives_tickets_back_elsewhere_under_it()
    {
        var s = new Scenario();
        var stalls = s.Own(1, "Stalls");
        var circle = s.Own(10, "Circle");
        s.EnableWaitlist(stalls);
        var limit = s.LimitOk(3, stalls, circle);
        var other = s.HoldOk((stalls, 1));
        var entry = s.Join("fan", (stalls, 1)).Entry!.Id;
        var fans = s.HoldFor("fan", (circle, 2)).Reservation!.Value.Id;
        s.SetLimit(limit, 2);

        // The unit comes back, but the fan has 2 under a limit now 2, and the offer would make it 3:
        // passed over, still waiting (the offer takes the unit the entry counted for, no more).
        s.Release(other);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(entry).Status);

        s.Release(fans);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(entry).Status);
        Assert.Equal(1, s.Used("fan", stalls));
        Assert.Equal(0, s.Used("fan", circle));
        s.AssertConsistent();
    }

    [Fact]
    public void An_entry_without_a_buyer_key_lapses_when_its_turn_comes_under_a_limit_that_now_requires_one_and_its_seats_go_on()
    {
        var s = new Scenario();
        var pool = s.Own(5, "Floor");
        s.EnableWaitlist(pool);
        var hold = s.HoldOk((pool, 5));
        var keyless = s.JoinOk((pool, 2));
        var keyed = s.Join("fan", (pool, 2)).Entry!.Id;
        var limit = s.Limit(4, [pool], requireKey: false).Limit!.Id;
        Assert.Equal(OutcomeCode.Ok, s.Do(new UpdateBuyerLimit(s.Tenant, limit, Change<string>.Keep, Change<int>.Keep, Change<bool>.To(true))).Code);

        // Its turn: no offer could carry a key it never gave, so it lapses, and the keyed entry behind
        // it and then the public have the seats.
        s.Release(hold);
        Assert.Equal((WaitlistStatus.Lapsed, WaitlistLapse.BuyerKeyRequired), (s.Entry(keyless).Status, s.Entry(keyless).LapsedReason));
        Assert.Equal(WaitlistStatus.Offered, s.Entry(keyed).Status);
        Assert.Equal((0L, 3L), (s.Node(pool).OwedUnits, s.Available(pool)!.Value));
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("other", (pool, 3)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Raising_or_deleting_the_limit_that_held_an_entry_back_offers_it()
    {
        var s = new Scenario();
        var pool = s.Own(3, "Pool");
        var side = s.Own(10, "Side");
        s.EnableWaitlist(pool, WaitlistPolicy.FirstFit);
        var limit = s.LimitOk(5, pool, side);
        var first = s.Join("c", (pool, 2)).Entry!.Id;
        var second = s.Join("c", (pool, 2)).Entry!.Id;
        Assert.Equal(OutcomeCode.Ok, s.HoldFor("c", (side, 1)).Code);
        Assert.Equal([WaitlistStatus.Offered, WaitlistStatus.Waiting], new[] { first, second }.Select(e => s.Entry(e).Status));
        s.SetLimit(limit, 4);

        // Room for all, but 2 + 1 + 2 would pass the limit, now 4.
        s.Resize(pool, null);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(second).Status);
        s.SetLimit(limit, 5);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(second).Status);
        s.AssertConsistent();

        // A limit created over a buyer who already queued and holds counts both; deleting it lets the entry go.
        var t = new Scenario();
        var tPool = t.Own(10, "Pool");
        var circle = t.Own(10, "Circle");
        t.EnableWaitlist(tPool);
        t.HoldFor("c", (tPool, 1));
        t.HoldOk((tPool, 9));
        var keyed = t.Join("c", (tPool, 1)).Entry!.Id;
        t.HoldFor("c", (circle, 1));
        var tLimit = t.LimitOk(2, tPool, circle);
        Assert.Equal(3, t.Used("c", tPool, circle));
        var held = t.Join(null, (tPool, 1)).Entry!.Id;
        t.Resize(tPool, 12);
        Assert.Equal((WaitlistStatus.Offered, WaitlistStatus.Waiting), (t.Entry(held).Status, t.Entry(keyed).Status));
        t.DeleteLimit(tLimit);
        Assert.Equal(WaitlistStatus.Offered, t.Entry(keyed).Status);
        t.AssertConsistent();
    }

    [Fact]
    public void A_buyer_cannot_queue_past_their_limit_counting_the_entries_they_already_have_waiting()
    {
        var s = new Scenario();
        var floor = s.Own(10, "Floor");
        var balcony = s.Own(10, "Balcony");
        s.EnableWaitlist(floor);
        s.EnableWaitlist(balcony);
        s.LimitOk(4, floor, balcony);
        var full = s.HoldOk((floor, 10));
        s.HoldOk((balcony, 10));
        var four = s.Join("bot", (floor, 4)).Entry!.Id;

        // Waiting for 4 already: one more, on either capacity of the limit, would pass it.
        foreach (var capacity in new[] { floor, balcony })
        {
            var refused = s.Join("bot", (capacity, 1));
            Assert.Equal(OutcomeCode.BuyerLimitExceeded, refused.Code);
            Assert.Equal((4L, 1L), (refused.LimitExcess!.Used, refused.LimitExcess.Requested));
            Assert.Contains("4 of them waited for on waiting lists", refused.Detail);
        }

        Assert.Equal(OutcomeCode.Ok, s.Join("fan", (floor, 1)).Code);
        Assert.Equal((5L, 0L), (s.Node(floor).WaitingUnits, s.Node(floor).OwedUnits));

        // Offered, the 4 count once, as a hold; left, they no longer count.
        s.Release(full);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(four).Status);
        Assert.Equal(4L, s.Join("bot", (balcony, 1)).LimitExcess!.Used);
        s.Leave(four);
        Assert.Equal(OutcomeCode.Ok, s.Join("bot", (balcony, 4)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_waiting_list_cannot_open_on_a_capacity_that_draws_from_another_events_pool()
    {
        var s = new Scenario();
        var day = s.Own(100, "Saturday");
        s.EventId = "weekend";
        var pass = s.Capped(20, day);
        var refused = s.EnableWaitlist(pass);
        Assert.Equal((OutcomeCode.Invalid, "waitlist"), (refused.Code, refused.Field));
        Assert.Contains("Saturday", refused.Detail);
        Assert.Null(s.Node(pass).Waitlist);

        // Closing is always allowed; a pool of the capacity's own event may open.
        Assert.Equal(OutcomeCode.Ok, s.EnableWaitlist(pass, enabled: false).Code);
        s.EventId = "evt-1";
        Assert.Equal(OutcomeCode.Ok, s.EnableWaitlist(s.Capped(10, day)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_resize_that_leaves_an_entry_bigger_than_a_pool_it_draws_from_lapses_it_and_the_queue_behind_it_moves_on()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Floor");
        s.EnableWaitlist(pool);
        var hold = s.HoldOk((pool, 6));
        var seven = s.JoinOk((pool, 7));
        var one = s.JoinOk((pool, 1));

        Assert.Equal(OutcomeCode.Ok, s.Resize(pool, 6).Code);
        Assert.Equal((WaitlistStatus.Lapsed, WaitlistStatus.Waiting), (s.Entry(seven).Status, s.Entry(one).Status));
        Assert.Equal((WaitlistLapse.TooLarge, null), (s.Entry(seven).LapsedReason, s.Entry(one).LapsedReason));
        Assert.Null(s.Entry(seven).OfferReservationId);
        Assert.Equal((0L, 1L), (s.Node(pool).OwedUnits, s.Node(pool).WaitingUnits));

        // The tickets that come back go to the single behind it, then to the public.
        s.Release(hold);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(one).Status);
        s.HoldOk((pool, 5));
        s.AssertConsistent();

        // Likewise for an entry on a section when the venue above it is shrunk.
        var t = new Scenario();
        var venue = t.Own(10, "Venue");
        var stalls = t.Capped(10, venue);
        t.EnableWaitlist(stalls);
        t.HoldOk((stalls, 6));
        var group = t.JoinOk((stalls, 7));
        Assert.Equal(OutcomeCode.Ok, t.Resize(venue, 6).Code);
        Assert.Equal(WaitlistStatus.Lapsed, t.Entry(group).Status);
        Assert.Equal(0, t.Node(venue).OwedUnits);
        t.AssertConsistent();
    }

    [Fact]
    public void An_entry_bigger_than_a_pool_it_draws_from_is_refused_because_it_could_never_be_offered()
    {
        var s = new Scenario();
        var venue = s.Own(5, "Venue");
        var stalls = s.Capped(10, venue);
        s.EnableWaitlist(stalls);
        s.HoldOk((stalls, 5));
        var refused = s.Join(null, (stalls, 6));
        Assert.Equal((OutcomeCode.Invalid, "items"), (refused.Code, refused.Field));
        Assert.Contains("Venue", refused.Detail);
        Assert.Equal(0, s.Node(venue).OwedUnits);
        Assert.Equal(OutcomeCode.Ok, s.Join(null, (stalls, 5)).Code);
        s.AssertConsistent();
    }

    /// <summary>A venue of 10: stalls of 4 with an Adult ticket type (no total of its own, a waiting list on it) and a circle.</summary>
    private static (Scenario S, Guid Venue, Guid Stalls, Guid Adult, Guid Circle) AdultsUnderStalls()
    {
        var s = new Scenario();
        var venue = s.Own(10, "Venue");
        var stalls = s.Capped(4, venue);
        var adult = s.Shared(stalls);
        var circle = s.Capped(10, venue);
        s.EnableWaitlist(adult);
        return (s, venue, stalls, adult, circle);
    }

    [Fact]
    public void A_queue_on_a_ticket_type_under_a_sold_out_section_keeps_nothing_of_the_venue_from_the_other_sections()
    {
        var (s, venue, stalls, adult, circle) = AdultsUnderStalls();
        var sold = s.HoldOk((adult, 4));
        var queue = Enumerable.Range(0, 5).Select(_ => s.JoinOk((adult, 2))).ToArray();

        // Ten units wait on the ticket type, which has no total of its own; the stalls above it are full,
        // so none of them could be offered a unit of the venue now.
        Assert.Equal((10L, 10L), (s.Node(adult).QueueDemand, s.Node(adult).OwedUnits));
        Assert.Equal((10L, 0L), (s.Node(stalls).QueueDemand, s.Node(stalls).OwedUnits));
        Assert.Equal((0L, 0L), (s.Node(venue).QueueDemand, s.Node(venue).OwedUnits));
        Assert.Equal(6, s.Available(circle));
        var circleHolds = Enumerable.Range(0, 6).Select(_ => s.HoldOk((circle, 1))).ToArray();

        // The stalls' four coming back go to the head of the queue, not to the circle's buyers.
        s.Release(sold);
        Assert.Equal(
            [WaitlistStatus.Offered, WaitlistStatus.Offered, WaitlistStatus.Waiting, WaitlistStatus.Waiting, WaitlistStatus.Waiting],
            queue.Select(id => s.Entry(id).Status).ToArray());
        s.Release(circleHolds[0]);
        Assert.Equal(OutcomeCode.Ok, s.Hold((circle, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_fifo_entry_on_a_ticket_type_under_a_full_section_does_not_hold_back_a_later_entry_on_another_section()
    {
        var (s, _, _, adult, circle) = AdultsUnderStalls();
        s.EnableWaitlist(circle);
        s.HoldOk((adult, 4));
        var circleHolds = Enumerable.Range(0, 6).Select(_ => s.HoldOk((circle, 1))).ToArray();
        var first = s.JoinOk((adult, 2));
        var second = s.JoinOk((circle, 1));

        // A circle ticket comes back: the adult entry ahead cannot have it (its stalls are full), so it keeps nothing of the venue.
        s.Release(circleHolds[0]);
        Assert.Equal((WaitlistStatus.Waiting, WaitlistStatus.Offered), (s.Entry(first).Status, s.Entry(second).Status));
        s.AssertConsistent();
    }

    [Fact]
    public void A_section_passes_up_to_the_venue_at_most_what_it_could_still_give_its_ticket_types_queues()
    {
        var s = new Scenario();
        var venue = s.Own(10, "Venue");
        var stalls = s.Capped(4, venue);
        var adult = s.Shared(stalls);
        var child = s.Shared(stalls);
        var circle = s.Capped(10, venue);
        s.EnableWaitlist(adult);
        s.EnableWaitlist(child);
        var adultHold = s.HoldOk((adult, 2));
        var circleHold = s.HoldOk((circle, 8));
        var adults = s.JoinOk((adult, 3));
        var children = s.JoinOk((child, 3));

        // Six wait below the stalls, which could give them two: the venue keeps two for them.
        Assert.Equal((6L, 2L), (s.Node(stalls).QueueDemand, s.Node(stalls).OwedUnits));
        Assert.Equal(2, s.Node(venue).QueueDemand);

        // The circle's eight come back: neither entry fits the stalls' two, and six of the eight are the circle's again.
        s.Release(circleHold);
        Assert.Equal((WaitlistStatus.Waiting, WaitlistStatus.Waiting), (s.Entry(adults).Status, s.Entry(children).Status));
        Assert.Equal(6, s.Available(circle));
        s.HoldOk((circle, 6));
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((circle, 1)).Code);

        // The adults' two come back: the stalls could give four, the venue has them, and the first in line has its three.
        s.Release(adultHold);
        Assert.Equal((WaitlistStatus.Offered, WaitlistStatus.Waiting), (s.Entry(adults).Status, s.Entry(children).Status));
        s.AssertConsistent();
    }
}

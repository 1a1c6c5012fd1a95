namespace Capacity.Core.Tests;

/// <summary>Capacity on a clock: sale windows, tiers that open when the one before sells out, closing when sold out, overbooking.</summary>
public sealed class SaleRulesTests
{
    internal static Guid CreateWith(Scenario s, int? total, SaleRules rules, string name = "Tier", Guid[]? parents = null)
    {
        var command = s.CreateCommand(total, parents, name) with { Sale = rules };
        var outcome = s.Do(command);
        Assert.True(outcome.Code == OutcomeCode.Ok, $"creating {name} answered {outcome.Code}: {outcome.Detail}");
        return command.Id;
    }

    internal static Outcome Patch(Scenario s, Guid id, SalePatch patch, Change<bool> active = default, Change<int?> total = default) =>
        s.Do(new UpdateCapacity(s.Tenant, id, Change<string>.Keep, Change<string?>.Keep, total, active, null, patch));

    internal static SalePatch Only(Change<DateTimeOffset?> starts = default, Change<DateTimeOffset?> ends = default, Change<Guid?> after = default,
        Change<bool> close = default, Change<int> overbook = default) => new(starts, ends, after, close, overbook);

    [Fact]
    public void A_window_refuses_holds_before_it_opens_and_after_it_ends_and_a_hold_placed_inside_may_be_confirmed_later()
    {
        var s = new Scenario();
        var pool = CreateWith(s, 10, new SaleRules(StartsAt: s.Now.AddMinutes(10), EndsAt: s.Now.AddMinutes(60)), "Presale");

        var early = s.Hold((pool, 1));
        Assert.Equal(OutcomeCode.SaleNotOpen, early.Code);
        Assert.Equal(pool, early.Capacity!.Value.Id);
        Assert.Empty(s.LastLedger);

        s.AdvanceMinutes(10);
        var inside = s.HoldOkFor(120, (pool, 2));
        s.AdvanceMinutes(50);
        Assert.Equal(OutcomeCode.SaleClosed, s.Hold((pool, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Confirm(inside).Code);
        Assert.Equal(2, s.Node(pool).Sold);
        s.AssertConsistent();
    }

    [Fact]
    public void A_tier_not_yet_open_names_only_its_windows_end_as_its_next_change_since_the_clock_does_not_open_it()
    {
        var now = DateTimeOffset.Parse("2030-01-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var tier = new SaleRules(StartsAt: now.AddMinutes(10), EndsAt: now.AddMinutes(60), OpensAfter: Guid.NewGuid());
        Assert.Equal((SaleState.Scheduled, now.AddMinutes(60)), SaleRulesOf.State(tier, true, 5, now));
        Assert.Equal((SaleState.Scheduled, (DateTimeOffset?)null), SaleRulesOf.State(tier with { StartsAt = null, EndsAt = null }, true, 5, now));
        Assert.Equal((SaleState.Scheduled, now.AddMinutes(10)), SaleRulesOf.State(tier with { TierOpen = true }, true, 5, now));
    }

    [Fact]
    public void A_window_on_a_parent_pool_gates_every_capacity_that_draws_from_it()
    {
        var s = new Scenario();
        var venue = CreateWith(s, 10, new SaleRules(StartsAt: s.Now.AddHours(1)), "Venue");
        var stalls = s.Shared(venue);
        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((stalls, 1)).Code);
        s.AdvanceMinutes(60);
        s.HoldOk((stalls, 1));
        s.AssertConsistent();
    }

    [Fact]
    public void A_section_shows_the_state_a_hold_on_it_meets_closed_under_a_closed_pool_scheduled_under_one_not_yet_open()
    {
        var s = new Scenario();
        var venue = CreateWith(s, 10, new SaleRules(StartsAt: s.Now.AddHours(1), EndsAt: s.Now.AddHours(5)), "Venue");
        var stalls = s.Shared(venue);
        var stallsState = () => SaleRulesOf.State(s.Node(stalls).Sale, s.Node(stalls).IsActive, 5, s.Now, Graph.View(s.Node(stalls), s.Ws).Above);

        // Its pool's window: scheduled until the pool opens, as a hold on it is refused until then.
        Assert.Equal((SaleState.Scheduled, s.Now.AddHours(1)), stallsState());
        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((stalls, 1)).Code);
        s.AdvanceMinutes(60);
        Assert.Equal((SaleState.OnSale, s.Now.AddHours(4)), stallsState());
        s.HoldOk((stalls, 1));

        // Its pool deactivated: closed, whatever its own flag says.
        s.SetActive(venue, false);
        Assert.True(s.Node(stalls).IsActive);
        Assert.Equal((SaleState.Closed, (DateTimeOffset?)null), stallsState());
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((stalls, 1)).Code);
        s.SetActive(venue, true);

        // Its pool's window over: closed.
        s.AdvanceMinutes(240);
        Assert.Equal((SaleState.Closed, (DateTimeOffset?)null), stallsState());
        Assert.Equal(OutcomeCode.SaleClosed, s.Hold((stalls, 1)).Code);
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(30, 90, SaleState.Scheduled, 30)] // the later start, the section's own
    [InlineData(-30, 90, SaleState.OnSale, 60)] // open: until the earlier end, the pool's
    [InlineData(-30, 45, SaleState.OnSale, 45)] // open: until the earlier end, the section's own
    [InlineData(120, 180, SaleState.Scheduled, 60)] // opens after the pool's window ends: closes first
    public void A_sections_own_window_and_its_pools_combine_into_the_later_start_and_the_earlier_end(int startsIn, int endsIn, SaleState expected, int nextIn)
    {
        var now = Scenario.Start;
        var pool = new CapacityNode { Id = Guid.NewGuid(), TenantId = Guid.NewGuid(), EventId = "gig", SectionName = "Pool", ParentIds = [], Total = 10, Sale = new SaleRules(StartsAt: now.AddMinutes(-60), EndsAt: now.AddMinutes(60)), CreatedAt = now, UpdatedAt = now };
        var above = SaleGate.Above([pool, pool]);
        var own = new SaleRules(StartsAt: now.AddMinutes(startsIn), EndsAt: now.AddMinutes(endsIn));
        Assert.Equal((expected, now.AddMinutes(nextIn)), SaleRulesOf.State(own, true, 5, now, above));
        Assert.Equal(default, SaleGate.Above([pool]));
    }

    [Fact]
    public void A_tier_opens_in_the_command_that_sells_the_one_before_out_and_stays_open_when_tickets_come_back()
    {
        var s = new Scenario();
        var venue = s.Own(100, "Venue");
        var early = s.Create(3, [venue], "Early bird");
        var regular = CreateWith(s, 50, new SaleRules(OpensAfter: early), "Regular", [venue]);

        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((regular, 1)).Code);
        var first = s.HoldOk((early, 2));
        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((regular, 1)).Code);

        s.HoldOk((early, 1));
        Assert.Equal(
            [(LedgerKind.Hold, early), (LedgerKind.Hold, venue), (LedgerKind.Open, regular), (LedgerKind.Close, early)],
            s.LastLedger.Select(e => (e.Kind, e.CapacityId)));
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.Equal(s.Now, s.Node(early).Sale!.SoldOutAt);
        Assert.Equal((false, SaleRules.SoldOutReason), (s.Node(early).IsActive, s.Node(early).Sale!.ClosedReason));
        s.HoldOk((regular, 1));

        // Tickets back on the early bird go to the regular tier: the early bird does not reopen, the regular stays open.
        s.Release(first);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((early, 1)).Code);
        s.HoldOk((regular, 1));
        Assert.Single(s.Ledger, e => e.Kind == LedgerKind.Open);
        Assert.Single(s.Ledger, e => e.Kind == LedgerKind.Close);
        s.AssertConsistent();
    }

    [Fact]
    public void A_tier_added_after_the_one_before_sold_out_opens_at_once_and_the_one_before_closes()
    {
        var s = new Scenario();
        var early = s.Own(1, "Early bird");
        var first = s.HoldOk((early, 1));
        var regular = CreateWith(s, 5, new SaleRules(OpensAfter: early), "Regular");
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.Equal([(LedgerKind.Open, regular), (LedgerKind.Close, early)], s.LastLedger.Select(e => (e.Kind, e.CapacityId)));
        s.HoldOk((regular, 1));

        // As when a hold takes the last ticket: the early bird does not reopen when its ticket comes back.
        s.Release(first);
        Assert.Equal((false, SaleRules.SoldOutReason), (s.Node(early).IsActive, s.Node(early).Sale!.ClosedReason));
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((early, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_block_that_sets_aside_an_early_birds_last_tickets_sells_it_out_and_a_tier_set_later_opens_at_once()
    {
        // The block's tickets are no longer the public's: the early bird is sold out to it, so the next
        // tier opens in the same command. (Before, only a hold was noticed: a box-office block on an
        // early bird kept every later tier closed for good, even once all its tickets were sold.)
        var s = new Scenario();
        var early = s.Own(3, "Early bird");
        var regular = CreateWith(s, 5, new SaleRules(OpensAfter: early), "Regular");
        s.HoldOk((early, 1));
        var block = s.AllocateOk(early, 2);
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.Equal((false, SaleRules.SoldOutReason), (s.Node(early).IsActive, s.Node(early).Sale!.ClosedReason));
        Assert.Equal([LedgerKind.Allocate, LedgerKind.Open, LedgerKind.Close], s.LastLedger.Select(e => e.Kind));

        // Closed to the public, not to the block: the box office still issues the tickets set aside.
        var fromBlock = s.HoldFromOk((early, 1, block));
        Assert.Equal(OutcomeCode.Ok, s.Do(new ConfirmHold(s.Tenant, fromBlock, null, false)).Code);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((early, 1)).Code);

        // A tier set afterwards opens at once; tickets given back by the block go to the tiers, not to the early bird.
        var late = CreateWith(s, 5, new SaleRules(OpensAfter: early), "Late");
        Assert.True(s.Node(late).Sale!.TierOpen);
        s.HoldOk((regular, 1));
        s.HoldOk((late, 1));
        Assert.Equal(OutcomeCode.Ok, s.ReleaseAllocation(block, 1).Code);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((early, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_block_set_aside_before_the_public_sells_the_rest_still_issues_its_tickets_but_not_once_deactivated_by_hand()
    {
        var s = new Scenario();
        var early = s.Own(6, "Early bird");
        var regular = CreateWith(s, 5, new SaleRules(OpensAfter: early), "Regular");
        var block = s.AllocateOk(early, 2);
        s.HoldOk((early, 4));
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.False(s.Node(early).IsActive);
        s.HoldFromOk((early, 1, block));

        Assert.Equal(OutcomeCode.Ok, Patch(s, early, Only(), active: Change<bool>.To(true)).Code);
        Assert.Equal(OutcomeCode.Ok, Patch(s, early, Only(), active: Change<bool>.To(false)).Code);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Do(new PlaceHold(s.Tenant, s.NewId(), [new HoldItem(early, 1, null, block)], 15)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Close_when_sold_out_closes_a_capacity_whose_last_tickets_a_block_sets_aside_or_a_grown_block_takes()
    {
        var s = new Scenario();
        var flash = CreateWith(s, 4, new SaleRules(CloseWhenSoldOut: true), "Flash");
        var block = s.AllocateOk(flash, 2);
        Assert.True(s.Node(flash).IsActive);
        s.HoldOk((flash, 1));
        Assert.Equal(OutcomeCode.Ok, s.Do(new UpdateAllocation(s.Tenant, block, Change<string>.Keep, Change<int>.To(3), Change<DateTimeOffset?>.Keep)).Code);
        Assert.Equal((false, SaleRules.SoldOutReason), (s.Node(flash).IsActive, s.Node(flash).Sale!.ClosedReason));
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_that_takes_the_last_ticket_answers_with_its_capacity_closed_as_the_batch_writes_it()
    {
        var s = new Scenario();
        var flash = CreateWith(s, 2, new SaleRules(CloseWhenSoldOut: true), "Flash");
        var early = s.Own(2, "Early bird");
        var regular = CreateWith(s, 5, new SaleRules(OpensAfter: early), "Regular");

        var first = s.Hold((flash, 1));
        Assert.Equal((true, (string?)null), (first.Capacity!.Value.IsActive, first.Capacity.Value.Sale!.ClosedReason));

        // The last ticket: the answer shows the close the sell-out made, not the capacity before it.
        var last = s.Hold((flash, 1));
        Assert.Equal(OutcomeCode.Ok, last.Code);
        Assert.Equal((false, SaleRules.SoldOutReason, 0L), (last.Capacity!.Value.IsActive, last.Capacity.Value.Sale!.ClosedReason, last.Capacity.Value.Available));

        // An early bird sold out by a cart: closed in the answer, and its tier open in the same command.
        var cart = s.Hold((early, 2), (flash, 1));
        Assert.Equal(OutcomeCode.CapacityInactive, cart.Code);
        var bird = s.Hold((early, 2));
        Assert.Equal((false, SaleRules.SoldOutReason), (bird.Capacity!.Value.IsActive, bird.Capacity.Value.Sale!.ClosedReason));
        Assert.True(s.Node(regular).Sale!.TierOpen);
        s.AssertConsistent();
    }

    [Fact]
    public void A_resize_that_leaves_nothing_available_sells_out_as_a_hold_would()
    {
        var s = new Scenario();
        var flash = CreateWith(s, 5, new SaleRules(CloseWhenSoldOut: true), "Flash");
        var early = s.Own(5, "Early bird");
        var regular = CreateWith(s, 5, new SaleRules(OpensAfter: early), "Regular");
        s.HoldOk((flash, 3));
        s.HoldOk((early, 2));

        Assert.Equal(OutcomeCode.Ok, s.Resize(flash, 3).Code);
        Assert.Equal((false, SaleRules.SoldOutReason), (s.Node(flash).IsActive, s.Node(flash).Sale!.ClosedReason));
        Assert.Equal([(LedgerKind.Close, flash)], s.LastLedger.Select(e => (e.Kind, e.CapacityId)));

        Assert.Equal(OutcomeCode.Ok, s.Resize(early, 2).Code);
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.False(s.Node(early).IsActive);
        s.HoldOk((regular, 1));
        s.AssertConsistent();
    }

    [Fact]
    public void A_cart_that_draws_from_a_block_still_meets_the_window_with_its_public_items()
    {
        var s = new Scenario();
        var pool = CreateWith(s, 10, new SaleRules(StartsAt: s.Now.AddMinutes(10)), "Presale");
        var block = s.AllocateOk(pool, 2);

        // The block's tickets are its own; a public ticket in the same cart is not, and the window refuses the whole cart.
        s.HoldFromOk((pool, 1, block));
        var mixed = s.HoldFrom((pool, 1, block), (pool, 1, null));
        Assert.Equal((OutcomeCode.SaleNotOpen, pool), (mixed.Code, mixed.Capacity!.Value.Id));
        Assert.Empty(s.LastLedger);
        Assert.Equal(2, s.Node(pool).Reserved);

        s.AdvanceMinutes(10);
        s.HoldFromOk((pool, 1, block), (pool, 1, null));
        Assert.Equal(3, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void A_tier_chain_cannot_close_into_a_cycle_cross_events_or_change_once_set()
    {
        var s = new Scenario();
        var a = s.Own(1, "A");
        var b = CreateWith(s, 1, new SaleRules(OpensAfter: a), "B");
        var c = s.Own(1, "C");

        // A is followed by B, so A may not follow anything: B after A after B would be a cycle.
        var cycle = Patch(s, a, Only(after: Change<Guid?>.To(b)));
        Assert.Equal((OutcomeCode.Invalid, "opens_after_sold_out_of"), (cycle.Code, cycle.Field));
        Assert.Equal(OutcomeCode.Invalid, Patch(s, b, Only(after: Change<Guid?>.To(c))).Code);
        Assert.Equal(OutcomeCode.Invalid, Patch(s, b, Only(after: Change<Guid?>.To(null))).Code);
        Assert.Equal(OutcomeCode.Invalid, Patch(s, c, Only(after: Change<Guid?>.To(c))).Code);

        s.EventId = "evt-2";
        var other = s.CreateCommand(1, null, "Elsewhere") with { Sale = new SaleRules(OpensAfter: c) };
        Assert.Equal(OutcomeCode.Invalid, s.Do(other).Code);

        // C may follow A (a second tier after the same one); both open when A sells out, and A closes.
        Assert.Equal(OutcomeCode.Ok, Patch(s, c, Only(after: Change<Guid?>.To(a))).Code);
        s.HoldOk((a, 1));
        Assert.True(s.Node(b).Sale!.TierOpen && s.Node(c).Sale!.TierOpen && !s.Node(a).IsActive);
        s.AssertConsistent();
    }

    [Fact]
    public void Close_when_sold_out_closes_for_good_until_a_put_reopens_it()
    {
        var s = new Scenario();
        var pool = CreateWith(s, 2, new SaleRules(CloseWhenSoldOut: true), "Flash");
        var hold = s.HoldOk((pool, 2));
        Assert.False(s.Node(pool).IsActive);
        Assert.Equal(SaleRules.SoldOutReason, s.Node(pool).Sale!.ClosedReason);
        Assert.Contains(s.LastLedger, e => e.Kind == LedgerKind.Close && e.CapacityId == pool);

        s.Release(hold);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((pool, 1)).Code);

        Assert.Equal(OutcomeCode.Ok, Patch(s, pool, Only(), active: Change<bool>.To(true)).Code);
        Assert.Null(s.Node(pool).Sale!.ClosedReason);
        s.HoldOk((pool, 1));
        var last = s.HoldOk((pool, 1));
        Assert.False(s.Node(pool).IsActive);

        // Reopened by hand while still sold out, it stays open until a hold takes the last ticket again.
        Assert.Equal(OutcomeCode.Ok, Patch(s, pool, Only(), active: Change<bool>.To(true)).Code);
        Assert.True(s.Node(pool).IsActive);
        s.Release(last);
        s.HoldOk((pool, 1));
        Assert.False(s.Node(pool).IsActive);
        s.AssertConsistent();
    }

    [Fact]
    public void Overbooking_lets_holds_take_a_pool_past_its_total_by_the_allowance_and_no_further()
    {
        var s = new Scenario();
        var pool = CreateWith(s, 100, new SaleRules(OverbookLimit: 20), "Free gig");
        for (var i = 0; i < 12; i++)
        {
            s.HoldOk((pool, 10));
        }

        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 1)).Code);
        Assert.Equal(120, s.Node(pool).Reserved);
        Assert.Equal(0, s.Available(pool));

        // A resize is judged against total + allowance; the allowance cannot go below what is taken either.
        Assert.Equal(OutcomeCode.BelowCommitted, Patch(s, pool, Only(), total: Change<int?>.To(99)).Code);
        Assert.Equal(OutcomeCode.BelowCommitted, Patch(s, pool, Only(overbook: Change<int>.To(19))).Code);
        Assert.Equal(OutcomeCode.Ok, Patch(s, pool, Only(overbook: Change<int>.To(0)), total: Change<int?>.To(120)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_parents_limit_still_applies_to_an_overbooked_child_unless_it_has_its_own_allowance()
    {
        var s = new Scenario();
        var venue = s.Own(10, "Venue");
        var floor = CreateWith(s, 10, new SaleRules(OverbookLimit: 5), "Floor", [venue]);
        s.HoldOk((floor, 10));
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((floor, 1)).Code);

        Assert.Equal(OutcomeCode.Ok, Patch(s, venue, Only(overbook: Change<int>.To(5))).Code);
        s.HoldOk((floor, 5));
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((floor, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Overbooking_an_unlimited_capacity_or_a_window_that_ends_before_it_starts_is_refused()
    {
        var s = new Scenario();
        var refused = s.Do(s.CreateCommand(null, null, "Unlimited") with { Sale = new SaleRules(OverbookLimit: 1) });
        Assert.Equal((OutcomeCode.Invalid, "overbook_limit"), (refused.Code, refused.Field));
        var backwards = s.Do(s.CreateCommand(5, null, "Backwards") with { Sale = new SaleRules(StartsAt: s.Now.AddHours(2), EndsAt: s.Now.AddHours(1)) });
        Assert.Equal((OutcomeCode.Invalid, "sale_ends_at"), (backwards.Code, backwards.Field));
        var negative = s.Do(s.CreateCommand(5, null, "Negative") with { Sale = new SaleRules(OverbookLimit: -1) });
        Assert.Equal(OutcomeCode.Invalid, negative.Code);
        Assert.Empty(s.Nodes);
    }

    [Theory]
    [InlineData(true, 10, 0, null, SaleState.Scheduled)]
    [InlineData(true, -10, 10, 5L, SaleState.OnSale)]
    [InlineData(true, -10, 10, 0L, SaleState.SoldOut)]
    [InlineData(true, -20, -10, 5L, SaleState.Closed)]
    [InlineData(false, -10, 10, 5L, SaleState.Closed)]
    public void The_state_follows_the_window_activity_and_availability(bool active, int startsIn, int endsIn, long? available, SaleState expected)
    {
        var now = Scenario.Start;
        var rules = new SaleRules(StartsAt: now.AddMinutes(startsIn), EndsAt: endsIn == 0 ? null : now.AddMinutes(endsIn));
        var (state, next) = SaleRulesOf.State(rules, active, available, now);
        Assert.Equal(expected, state);
        Assert.Equal(
            expected switch { SaleState.Scheduled => rules.StartsAt, SaleState.OnSale or SaleState.SoldOut => rules.EndsAt, _ => null },
            next);
    }
}

/// <summary>Until when an answer worked out from rows with sale rules stands with nothing committed: the next edge of any window.</summary>
public sealed class SteadyUntilTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static CapacityNode Row(SaleRules? rules) => new()
    {
        Id = Guid.NewGuid(),
        TenantId = Guid.NewGuid(),
        EventId = "gig",
        SectionName = "Floor",
        ParentIds = [],
        Total = 10,
        Sale = rules,
        CreatedAt = Now,
        UpdatedAt = Now,
    };

    [Fact]
    public void An_answer_stands_until_the_earliest_window_edge_after_now_of_any_of_its_rows()
    {
        var starts = Now.AddMinutes(10);
        var ends = Now.AddMinutes(30);
        Assert.Equal(DateTimeOffset.MaxValue, SaleRulesOf.SteadyUntil([Row(null), Row(null)], Now));
        Assert.Equal(starts, SaleRulesOf.SteadyUntil([Row(null), Row(new SaleRules(StartsAt: starts, EndsAt: ends))], Now));
        Assert.Equal(ends, SaleRulesOf.SteadyUntil([Row(new SaleRules(StartsAt: starts, EndsAt: ends))], starts));
        Assert.Equal(DateTimeOffset.MaxValue, SaleRulesOf.SteadyUntil([Row(new SaleRules(StartsAt: starts, EndsAt: ends))], ends));
        Assert.Equal(Now.AddMinutes(5), SaleRulesOf.SteadyUntil([Row(new SaleRules(EndsAt: ends)), Row(new SaleRules(StartsAt: Now.AddMinutes(5)))], Now));

        // A tier waiting for a sell-out opens by a commit, never by the clock.
        Assert.Equal(DateTimeOffset.MaxValue, SaleRulesOf.SteadyUntil([Row(new SaleRules(OpensAfter: Guid.NewGuid()))], Now));
    }
}

/// <summary>Waiting lists under sale rules: an offer is a hold, so none is made before a window opens or a tier does.</summary>
public sealed class SaleRulesWaitlistTests
{
    /// <summary>A venue with an early bird and a regular tier that opens when the early bird sells out.</summary>
    private static (Scenario S, Guid Venue, Guid Early, Guid Regular) EarlyBirdAndRegular(int venue, int early, int regular)
    {
        var s = new Scenario();
        var venueId = s.Own(venue, "Venue");
        var earlyId = s.Create(early, [venueId], "Early bird");
        var tier = s.CreateCommand(regular, [venueId], "Regular") with { Sale = new SaleRules(OpensAfter: earlyId) };
        s.Do(tier);
        return (s, venueId, earlyId, tier.Id);
    }

    [Fact]
    public void An_entry_waits_for_the_window_and_is_offered_when_the_sweep_passes_its_start()
    {
        var s = new Scenario();
        var create = s.CreateCommand(5, null, "Presale") with { Sale = new SaleRules(StartsAt: s.Now.AddMinutes(10)) };
        s.Do(create);
        var pool = create.Id;
        s.EnableWaitlist(pool);
        var entry = s.JoinOk((pool, 2));
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(entry).Status);

        s.AdvanceMinutes(5);
        Assert.Equal(0, s.Do(new PassSaleEdges([pool])).Count);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(entry).Status);

        s.AdvanceMinutes(5);
        Assert.Equal(1, s.Do(new PassSaleEdges([pool])).Count);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(entry).Status);
        Assert.Null(s.Node(pool).Sale!.EdgeAt);
        Assert.Equal(0, s.Do(new PassSaleEdges([pool])).Count);
        s.AssertConsistent();
    }

    [Fact]
    public void An_entry_on_a_tier_not_yet_open_waits_without_holding_back_entries_for_what_is_on_sale_and_is_offered_in_the_batch_that_opens_it()
    {
        var s = new Scenario();
        var early = s.Own(1, "Early bird");
        var regular = s.CreateCommand(10, null, "Regular") with { Sale = new SaleRules(OpensAfter: early) };
        s.Do(regular);
        var other = s.Own(1, "Other");
        s.EnableWaitlist(regular.Id);
        s.EnableWaitlist(other);
        var hold = s.HoldOk((other, 1));
        var waitsForTier = s.JoinOk((regular.Id, 2));
        var waitsForOther = s.JoinOk((other, 1));
        s.Release(hold);
        Assert.Equal((WaitlistStatus.Waiting, WaitlistStatus.Offered), (s.Entry(waitsForTier).Status, s.Entry(waitsForOther).Status));

        s.HoldOk((early, 1));
        Assert.True(s.Node(regular.Id).Sale!.TierOpen);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(waitsForTier).Status);
        s.AssertConsistent();
    }

    [Fact]
    public void Joining_a_capacity_closed_for_good_by_its_sell_out_or_the_end_of_its_window_is_refused_as_a_hold_there_would_be()
    {
        var (s, venue, early, regular) = EarlyBirdAndRegular(10, 2, 10);
        var presale = s.CreateCommand(10, [venue], "Presale") with { Sale = new SaleRules(EndsAt: s.Now.AddMinutes(10)) };
        s.Do(presale);
        s.EnableWaitlist(early);
        s.EnableWaitlist(presale.Id);

        // The early bird sells out, closes and opens the regular tier: it will not reopen by itself.
        s.HoldOk((early, 2));
        var refused = s.Join(null, (early, 1));
        Assert.Equal(OutcomeCode.CapacityInactive, refused.Code);
        Assert.Contains("Early bird", refused.Detail);

        s.AdvanceMinutes(10);
        var ended = s.Join(null, (presale.Id, 4));
        Assert.Equal((OutcomeCode.SaleClosed, presale.Id), (ended.Code, ended.Capacity?.Id));

        // Nothing is owed on the venue, so the regular tier sells every seat left.
        Assert.Equal((0L, 0L), (s.Node(venue).OwedUnits, s.Node(venue).WaitingUnits));
        s.HoldOk((regular, 8));
        s.AssertConsistent();
    }

    [Fact]
    public void A_join_that_leaves_an_early_bird_nothing_for_the_public_sells_it_out_and_the_entry_keeps_its_place_for_the_tickets_that_come_back()
    {
        var (s, venue, early, regular) = EarlyBirdAndRegular(10, 3, 10);
        s.EnableWaitlist(early);
        var hold = s.HoldOk((early, 2));

        // The pair asks 2 of the 1 left: it waits, owed 2, so the public has nothing left of the early
        // bird. That is its sell-out: the regular tier opens and the early bird closes to the public.
        var pair = s.JoinOk((early, 2));
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(pair).Status);
        Assert.True(s.Node(early).ClosedBySellOut);
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((early, 1)).Code);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Join(null, (early, 1)).Code);

        // The venue keeps for the pair what the early bird could still give it (one seat: a second comes
        // back to the venue only with an early ticket): the regular tier sells the other seven.
        s.HoldOk((regular, 7));
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((regular, 1)).Code);

        // Early tickets that come back go to the pair that waited for them, closed or not.
        s.Release(hold);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(pair).Status);
        Assert.Equal((0L, 2L), (s.Node(venue).OwedUnits, s.Node(early).Reserved));
        s.AssertConsistent();
    }

    [Fact]
    public void Entries_lapse_when_their_window_ends_and_units_owed_to_a_queue_never_close_a_capacity_that_closes_when_sold_out()
    {
        var s = new Scenario();
        s.Do(new CreateWebhook(s.Tenant, s.NewId(), "https://hooks.example.com/in", Topics.WaitlistLapsed, null, "whsec_c2VjcmV0"));
        var venue = s.Own(20, "Venue");
        var presale = s.CreateCommand(4, [venue], "Presale") with { Sale = new SaleRules(EndsAt: s.Now.AddMinutes(10)) };
        s.Do(presale);
        var box = s.CreateCommand(4, [venue], "Boxes") with { Sale = new SaleRules(CloseWhenSoldOut: true) };
        s.Do(box);
        var front = s.Create(2, [box.Id], "Front box");
        var back = s.Create(4, [box.Id], "Back boxes");
        s.EnableWaitlist(presale.Id);
        s.EnableWaitlist(front);
        s.HoldOk((presale.Id, 3));
        var frontHold = s.HoldOk((front, 1));
        var late = s.JoinOk((presale.Id, 2));
        var boxed = s.JoinOk((front, 2));

        // Each entry is owed what its own capacity could still give it (1 of the presale, 1 of the front box).
        Assert.Equal(2L, s.Node(venue).OwedUnits);

        // A join takes nothing: it never closes a close_when_sold_out capacity, though the entry is owed a unit there.
        Assert.True(s.Node(box.Id).IsActive);

        // The public takes the boxes' last two public tickets: nothing is left for it, but the unit owed to
        // the entry is no sale (it may come back to the public), so the boxes stay open.
        s.HoldOk((back, 2));
        Assert.Equal((0L, true), (s.Available(box.Id)!.Value, s.Node(box.Id).IsActive));

        // The window's end, passed by the sweep: the entry there could never be offered, so it lapses in
        // that batch and is told so; the venue owes it nothing more.
        s.AdvanceMinutes(10);
        Assert.Equal(1, s.Do(new PassSaleEdges([presale.Id])).Count);
        Assert.Equal((WaitlistStatus.Lapsed, WaitlistStatus.Waiting), (s.Entry(late).Status, s.Entry(boxed).Status));
        Assert.Null(s.Entry(late).OfferReservationId);
        var told = Assert.Single(s.LastNotices, n => n.Topic == Topics.WaitlistLapsed);
        Assert.Equal(late, ((WaitlistEntryView)told.Subject).Id);
        Assert.Equal(1L, s.Node(venue).OwedUnits);

        // The entry leaves: its unit goes back to the public, whose hold of it sells the boxes out and closes them.
        Assert.Equal(OutcomeCode.Ok, s.Leave(boxed).Code);
        s.HoldOk((back, 1));
        Assert.True(s.Node(box.Id).ClosedBySellOut);
        Assert.Equal(OutcomeCode.Ok, s.Release(frontHold).Code);

        // A capacity closed by hand will open again: an entry may wait for it, and does.
        var hand = s.Create(2, [venue], "Balcony");
        s.EnableWaitlist(hand);
        s.HoldOk((hand, 2));
        var waits = s.JoinOk((hand, 1));
        Assert.Equal(OutcomeCode.Ok, s.SetActive(hand, false).Code);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(waits).Status);
        s.AssertConsistent();
    }

    [Fact]
    public void A_join_sells_out_an_early_bird_on_sale_even_when_the_entry_also_waits_for_a_window_or_a_section_closed_by_hand()
    {
        var (s, venue, early, regular) = EarlyBirdAndRegular(30, 10, 10);
        var later = s.CreateCommand(5, [venue], "Late entry") with { Sale = new SaleRules(StartsAt: s.Now.AddMinutes(30)) };
        s.Do(later);
        var shut = s.Create(5, [venue], "Shut");
        s.EnableWaitlist(early);
        s.EnableWaitlist(later.Id);
        s.EnableWaitlist(shut);
        Assert.Equal(OutcomeCode.Ok, s.SetActive(shut, false).Code);
        s.HoldOk((early, 8));

        // The entry waits for the late window and a closed section too, but it is owed 4 of the early
        // bird's 2 left: the early bird, on sale, has nothing for the public, so the regular tier opens.
        var entry = s.Do(new JoinWaitlist(s.Tenant, s.NewId(), [new WaitlistItem(early, 4), new WaitlistItem(later.Id, 1), new WaitlistItem(shut, 1)], null, null));
        Assert.Equal((OutcomeCode.Ok, WaitlistStatus.Waiting), (entry.Code, entry.Entry!.Status));
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.True(s.Node(early).ClosedBySellOut);
        s.AssertConsistent();
    }

    [Fact]
    public void A_join_never_closes_a_close_when_sold_out_capacity_and_a_put_before_a_pools_window_sells_nothing_out()
    {
        var s = new Scenario();
        var hall = s.CreateCommand(3, null, "Hall") with { Sale = new SaleRules(CloseWhenSoldOut: true) };
        s.Do(hall);
        s.EnableWaitlist(hall.Id);
        s.HoldOk((hall.Id, 3));
        Assert.True(s.Node(hall.Id).ClosedBySellOut);

        // Reopened by hand so that buyers may queue for what comes back: every join is taken, none closes it again.
        Assert.Equal(OutcomeCode.Ok, s.SetActive(hall.Id, true).Code);
        s.JoinOk((hall.Id, 1));
        s.JoinOk((hall.Id, 1));
        Assert.True(s.Node(hall.Id).IsActive);

        // A venue whose window opens in an hour, an early bird below it owed whole to its queue: a PUT of
        // a rule on the early bird before the on-sale sells nothing out and opens no tier.
        var t = new Scenario();
        var venue = t.CreateCommand(20, null, "Venue") with { Sale = new SaleRules(StartsAt: t.Now.AddMinutes(60)) };
        t.Do(venue);
        var early = t.Create(4, [venue.Id], "Early bird");
        var regular = t.CreateCommand(10, [venue.Id], "Regular") with { Sale = new SaleRules(OpensAfter: early) };
        t.Do(regular);
        t.EnableWaitlist(early);
        var group = t.JoinOk((early, 4));
        var put = t.Do(new UpdateCapacity(t.Tenant, early, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, null,
            new SalePatch(default, default, default, default, default, Change<int?>.To(1))));
        Assert.Equal((OutcomeCode.Ok, true), (put.Code, put.Capacity!.Value.IsActive));
        Assert.False(t.Node(regular.Id).Sale!.TierOpen);

        // The venue's window opens: the group is offered the four, which sells the early bird out.
        t.AdvanceMinutes(60);
        t.Do(new PassSaleEdges([venue.Id]));
        Assert.Equal(WaitlistStatus.Offered, t.Entry(group).Status);
        Assert.True(t.Node(regular.Id).Sale!.TierOpen);
        s.AssertConsistent();
        t.AssertConsistent();
    }

    [Fact]
    public void A_join_whose_owed_units_sell_an_early_bird_out_opens_the_next_tier_and_offers_its_queue_in_the_same_step()
    {
        var (s, venue, early, regular) = EarlyBirdAndRegular(10, 2, 5);
        s.EnableWaitlist(early);
        s.EnableWaitlist(regular);
        var next = s.JoinOk((regular, 3));
        s.HoldOk((early, 1));
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(next).Status);

        // The pair is owed the last early ticket and one to come: the early bird has sold out to the
        // public, the regular tier opens, and its queue is offered before the join answers.
        var pair = s.Do(new JoinWaitlist(s.Tenant, s.NewId(), [new WaitlistItem(early, 2)], null, null));
        Assert.Equal((OutcomeCode.Ok, WaitlistStatus.Waiting, 1L), (pair.Code, pair.Entry!.Status, pair.Entry.Position));
        Assert.Equal(WaitlistStatus.Offered, s.Entry(next).Status);
        Assert.True(s.Node(regular).Sale!.TierOpen);
        s.AssertConsistent();
    }

    [Fact]
    public void Before_its_window_opens_a_capacity_its_queue_is_owed_whole_does_not_sell_out_by_a_put_and_the_window_offers_the_queue()
    {
        var s = new Scenario();
        var early = s.CreateCommand(4, null, "Early bird") with { Sale = new SaleRules(StartsAt: s.Now.AddMinutes(60)) };
        s.Do(early);
        var regular = s.CreateCommand(50, null, "Regular") with { Sale = new SaleRules(OpensAfter: early.Id) };
        s.Do(regular);
        s.EnableWaitlist(early.Id);
        var group = s.JoinOk((early.Id, 4));

        // The organiser extends the window: nothing is sold, nothing sells out, the regular tier waits.
        var put = s.Do(new UpdateCapacity(s.Tenant, early.Id, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, null,
            new SalePatch(default, Change<DateTimeOffset?>.To(s.Now.AddMinutes(120)), default, default, default)));
        Assert.Equal((OutcomeCode.Ok, true), (put.Code, put.Capacity!.Value.IsActive));
        Assert.Null(s.Node(early.Id).Sale!.SoldOutAt);
        Assert.False(s.Node(regular.Id).Sale!.TierOpen);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(group).Status);

        // The window opens: the group is offered all four, which sells the early bird out.
        s.AdvanceMinutes(60);
        s.Do(new PassSaleEdges([early.Id]));
        Assert.Equal(WaitlistStatus.Offered, s.Entry(group).Status);
        Assert.True(s.Node(regular.Id).Sale!.TierOpen);
        s.AssertConsistent();
    }

    [Fact]
    public void A_puts_answer_shows_the_close_it_caused_and_closing_by_hand_what_a_sell_out_closed_changes_nothing()
    {
        var s = new Scenario();
        var box = s.Own(3, "Box");
        s.EnableWaitlist(box);
        s.HoldOk((box, 3));
        var put = s.Do(new UpdateCapacity(s.Tenant, box, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, null,
            new SalePatch(default, default, default, Change<bool>.To(true), default)));
        Assert.Equal((false, SaleRules.SoldOutReason), (put.Capacity!.Value.IsActive, put.Capacity.Value.Sale!.ClosedReason));

        // Deactivating it by hand changes nothing: it stays closed by its sell-out, and joins stay refused.
        var again = s.SetActive(box, false);
        Assert.Equal(SaleRules.SoldOutReason, again.Capacity!.Value.Sale!.ClosedReason);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Join(null, (box, 1)).Code);

        // Reopening by hand drops the close.
        Assert.Null(s.SetActive(box, true).Capacity!.Value.Sale!.ClosedReason);
        s.AssertConsistent();
    }

    [Fact]
    public void An_early_bird_its_block_and_queue_left_nothing_before_its_window_sells_out_as_the_window_opens_and_the_next_tier_opens()
    {
        var s = new Scenario();
        var early = s.CreateCommand(4, null, "Early bird") with { Sale = new SaleRules(StartsAt: s.Now.AddMinutes(10)) };
        var regular = s.CreateCommand(10, null, "Regular") with { Sale = new SaleRules(OpensAfter: early.Id) };
        Assert.Equal((OutcomeCode.Ok, OutcomeCode.Ok), (s.Do(early).Code, s.Do(regular).Code));
        s.EnableWaitlist(early.Id);
        var block = s.AllocateOk(early.Id, 2);
        var entry = s.JoinOk((early.Id, 3));
        Assert.Equal(0, s.Available(early.Id));
        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((regular.Id, 1)).Code);

        // Nothing the public could hold takes it to 0 once the window opens, and the entry (3) does not
        // fit the 2 left: the opening itself sells it out, and the next tier opens with the sale.
        s.AdvanceMinutes(10);
        s.Do(new PassSaleEdges([early.Id, regular.Id]));
        Assert.NotNull(s.Node(early.Id).Sale!.SoldOutAt);
        Assert.True(s.Node(regular.Id).Sale!.TierOpen);
        Assert.Equal(OutcomeCode.Ok, s.Hold((regular.Id, 1)).Code);

        // Closed to the public, the early bird still serves its queue: the block's tickets come back to the entry.
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(entry).Status);
        s.ReleaseAllocation(block, 1);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(entry).Status);
        s.AssertConsistent();
    }

    [Fact]
    public void An_early_bird_whose_window_ends_before_it_sells_out_opens_the_next_tier_when_the_sweep_passes_the_end()
    {
        var s = new Scenario();
        var early = s.CreateCommand(10, null, "Early bird") with { Sale = new SaleRules(EndsAt: s.Now.AddMinutes(60)) };
        var regular = s.CreateCommand(50, null, "Regular") with { Sale = new SaleRules(OpensAfter: early.Id) };
        Assert.Equal((OutcomeCode.Ok, OutcomeCode.Ok), (s.Do(early).Code, s.Do(regular).Code));
        s.EnableWaitlist(regular.Id);
        var entry = s.JoinOk((regular.Id, 2));
        s.HoldOk((early.Id, 3));
        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((regular.Id, 1)).Code);

        // The early bird's sale ends with 7 unsold: it can sell out no more, so the regular tier opens
        // as the sweep passes the end, and the entry waiting for it is offered in the same batch.
        s.AdvanceMinutes(60);
        Assert.Equal(1, s.Do(new PassSaleEdges([early.Id])).Count);
        Assert.True(s.Node(regular.Id).Sale!.TierOpen);
        Assert.Contains((LedgerKind.Open, regular.Id), s.LastLedger.Select(e => (e.Kind, e.CapacityId)));
        Assert.Equal(WaitlistStatus.Offered, s.Entry(entry).Status);
        s.HoldOk((regular.Id, 1));

        // Not closed, not sold out: its own window is what ended, and its holds may still be confirmed.
        Assert.Equal((true, (DateTimeOffset?)null, (string?)null), (s.Node(early.Id).IsActive, s.Node(early.Id).Sale!.SoldOutAt, s.Node(early.Id).Sale!.ClosedReason));
        Assert.Equal(OutcomeCode.SaleClosed, s.Hold((early.Id, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void In_a_chain_a_waiting_tier_whose_window_ends_holds_the_next_back_until_it_opens_itself_and_then_both_open()
    {
        var s = new Scenario();
        var first = s.Own(2, "First");
        var second = s.CreateCommand(5, null, "Second") with { Sale = new SaleRules(EndsAt: s.Now.AddMinutes(10), OpensAfter: first) };
        s.Do(second);
        var third = s.CreateCommand(5, null, "Third") with { Sale = new SaleRules(OpensAfter: second.Id) };
        s.Do(third);

        // The second tier's window ends before it ever opened: it sold nothing, so the third still waits.
        s.AdvanceMinutes(10);
        s.Do(new PassSaleEdges([second.Id]));
        Assert.Equal((false, false), (s.Node(second.Id).Sale!.TierOpen, s.Node(third.Id).Sale!.TierOpen));
        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((third.Id, 1)).Code);

        // The first sells out: the second opens with its window over, and the third with it.
        s.HoldOk((first, 2));
        Assert.Equal((true, true), (s.Node(second.Id).Sale!.TierOpen, s.Node(third.Id).Sale!.TierOpen));
        Assert.Equal(OutcomeCode.SaleClosed, s.Hold((second.Id, 1)).Code);
        s.HoldOk((third.Id, 1));
        s.AssertConsistent();
    }

    [Fact]
    public void A_pools_window_end_lapses_an_entry_below_it_owed_nothing_because_its_own_section_is_full()
    {
        var s = new Scenario();
        var venue = s.CreateCommand(10, null, "Venue") with { Sale = new SaleRules(EndsAt: s.Now.AddMinutes(30)) };
        s.Do(venue);
        var box = s.Create(2, [venue.Id], "Box");
        s.EnableWaitlist(box);
        s.HoldOk((box, 2));
        var entry = s.JoinOk((box, 1));
        Assert.Equal((0L, 0L), (s.Node(venue.Id).OwedUnits, s.Node(box).OwedUnits));

        // Nothing on the venue shows the entry, yet the venue's end reaches it: the sweep lapses it.
        s.AdvanceMinutes(30);
        s.Do(new PassSaleEdges([venue.Id]));
        Assert.Equal((WaitlistStatus.Lapsed, (WaitlistLapse?)WaitlistLapse.SaleEnded), (s.Entry(entry).Status, s.Entry(entry).LapsedReason));
        s.AssertConsistent();
    }

    [Fact]
    public void Settling_a_waiting_list_on_its_own_offers_an_entry_that_fits_though_no_command_freed_its_units()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Floor");
        s.EnableWaitlist(pool);
        s.HoldOk((pool, 7));
        var group = s.JoinOk((pool, 4));
        var single = s.JoinOk((pool, 1));
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(single).Status);

        // As a recount can leave the rows (an upgrade's migration): the group that held the single back
        // is gone, the counters say so, and nothing has settled the list since.
        s.Entry(group).Status = WaitlistStatus.Left;
        var node = s.Node(pool);
        (node.WaitingUnits, node.QueueDemand, node.QueueShare) = (1, 1, 1);
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(single).Status);

        Assert.Equal(OutcomeCode.Ok, s.Do(new SettleWaitlist(pool)).Code);
        Assert.Equal(WaitlistStatus.Offered, s.Entry(single).Status);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new SettleWaitlist(Guid.NewGuid())).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_put_that_ends_an_early_birds_window_opens_the_next_tier_and_a_tier_set_after_the_end_opens_at_once()
    {
        var s = new Scenario();
        var early = s.Own(10, "Early bird");
        var regular = SaleRulesTests.CreateWith(s, 50, new SaleRules(OpensAfter: early), "Regular");
        s.HoldOk((early, 2));

        // The organiser ends the early bird now: no sweep will pass that edge, so the PUT opens the tier.
        var put = SaleRulesTests.Patch(s, early, SaleRulesTests.Only(ends: Change<DateTimeOffset?>.To(s.Now)));
        Assert.Equal(OutcomeCode.Ok, put.Code);
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.Null(s.Node(early).Sale!.EdgeAt);
        s.HoldOk((regular, 1));

        // A tier after the regular one, which is on sale, waits; one set later on the ended early bird
        // opens at once, as does one created after it.
        var late = s.Own(5, "Late");
        Assert.Equal(OutcomeCode.Ok, SaleRulesTests.Patch(s, late, SaleRulesTests.Only(after: Change<Guid?>.To(regular))).Code);
        Assert.Equal(OutcomeCode.SaleNotOpen, s.Hold((late, 1)).Code);
        var door = s.Own(5, "Door");
        Assert.Equal(OutcomeCode.Ok, SaleRulesTests.Patch(s, door, SaleRulesTests.Only(after: Change<Guid?>.To(early))).Code);
        Assert.True(s.Node(door).Sale!.TierOpen);
        var stream = SaleRulesTests.CreateWith(s, 5, new SaleRules(OpensAfter: early), "Stream");
        Assert.True(s.Node(stream).Sale!.TierOpen);
        s.HoldOk((stream, 1));
        s.AssertConsistent();
    }

    [Fact]
    public void Between_a_windows_end_and_the_sweep_verify_lets_the_entries_behind_one_about_to_lapse_wait()
    {
        var s = new Scenario();
        var venue = s.Own(10, "Venue");
        var presale = s.CreateCommand(10, [venue], "Presale") with { Sale = new SaleRules(EndsAt: s.Now.AddMinutes(10)) };
        s.Do(presale);
        var stalls = s.Create(10, [venue], "Stalls");
        s.EnableWaitlist(presale.Id);
        s.EnableWaitlist(stalls);
        s.HoldOk((stalls, 8));
        var late = s.JoinOk((presale.Id, 3));
        var behind = s.JoinOk((stalls, 2));
        Assert.Equal(WaitlistStatus.Waiting, s.Entry(behind).Status);

        // The window has ended, the sweep has not passed it: the first entry still holds the venue's two
        // seats back from the second, and the audit does not call that a fault.
        s.AdvanceMinutes(10);
        s.AssertConsistent();

        s.Do(new PassSaleEdges([presale.Id]));
        Assert.Equal((WaitlistStatus.Lapsed, WaitlistStatus.Offered), (s.Entry(late).Status, s.Entry(behind).Status));
        Assert.Equal(WaitlistLapse.SaleEnded, s.Entry(late).LapsedReason);
        s.AssertConsistent();
    }

    [Fact]
    public void A_put_that_lapses_an_entry_and_makes_a_tier_judges_the_earlier_capacity_without_what_the_entry_was_owed()
    {
        var s = new Scenario();
        var pool = s.Own(2, "Pool");
        var stalls = s.Create(null, [pool], "Stalls");
        s.EnableWaitlist(stalls);
        s.HoldOk((pool, 1));
        var pair = s.JoinOk((stalls, 2));
        Assert.Equal(0L, s.Available(pool));

        // Stalls shrink to 1 (the pair lapses) and follow the pool: the pool has a ticket left once the
        // pair is owed nothing, so it has not sold out, and the stalls wait for it as a tier.
        var put = s.Do(new UpdateCapacity(s.Tenant, stalls, Change<string>.Keep, Change<string?>.Keep, Change<int?>.To(1), Change<bool>.Keep, null,
            new SalePatch(default, default, Change<Guid?>.To(pool), default, default)));
        Assert.Equal(OutcomeCode.Ok, put.Code);
        Assert.Equal(WaitlistStatus.Lapsed, s.Entry(pair).Status);
        Assert.Equal((1L, null, false), (s.Available(pool), s.Node(pool).Sale!.SoldOutAt, s.Node(stalls).Sale!.TierOpen));
        s.AssertConsistent();
    }

    [Fact]
    public void The_window_is_passed_once_per_edge_start_then_end()
    {
        var s = new Scenario();
        var create = s.CreateCommand(5, null, "Presale") with { Sale = new SaleRules(StartsAt: s.Now.AddMinutes(10), EndsAt: s.Now.AddMinutes(20)) };
        s.Do(create);
        Assert.Equal(s.Now.AddMinutes(10), s.Node(create.Id).Sale!.EdgeAt);
        s.AdvanceMinutes(30);
        Assert.Equal(1, s.Do(new PassSaleEdges([create.Id])).Count);
        Assert.Null(s.Node(create.Id).Sale!.EdgeAt);

        // A window moved into the future is passed again.
        Assert.Equal(OutcomeCode.Ok, s.Do(new UpdateCapacity(s.Tenant, create.Id, default, default, default, default, null,
            new SalePatch(Change<DateTimeOffset?>.To(s.Now.AddMinutes(5)), Change<DateTimeOffset?>.To(s.Now.AddMinutes(15)), default, default, default))).Code);
        Assert.Equal(s.Now.AddMinutes(5), s.Node(create.Id).Sale!.EdgeAt);
    }
}

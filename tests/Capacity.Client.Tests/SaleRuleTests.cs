namespace Capacity.Client.Tests;

/// <summary>
/// Sale rules through the SDK, on a server whose clock the tests move: a window refused before and after
/// with the instant that refused it, a tier that opens when the one before sells out, a capacity that
/// closes when it sells out, overbooking, and a window edge cleared by an update.
/// </summary>
public sealed class SaleRuleTests(ClockedHost host) : IClassFixture<ClockedHost>
{
    [Fact]
    public async Task A_window_refuses_holds_before_its_start_and_after_its_end_and_a_hold_placed_inside_is_still_confirmed()
    {
        var t = (await host.NewTenantAsync()).Client;
        var starts = Now().AddMinutes(10);
        var ends = starts.AddMinutes(10);
        var presale = await t.CreateCapacityAsync("tour", new CreateCapacityRequest { SectionName = "Presale", TotalCapacity = 10, SaleStartsAt = starts, SaleEndsAt = ends });
        Assert.Equal((SaleState.Scheduled, starts, starts, ends), (presale.State, presale.NextChangeAt, presale.SaleStartsAt, presale.SaleEndsAt));
        Assert.Equal((null, false, 0, null), (presale.OpensAfterSoldOutOf, presale.CloseWhenSoldOut, presale.OverbookLimit, presale.OverbookedBy));

        // A capacity without rules is on sale and shows none of their members.
        var plain = await t.CreateCapacityAsync("tour", new CreateCapacityRequest { SectionName = "Plain", TotalCapacity = 10 });
        Assert.Equal((SaleState.OnSale, null, null, null, null), (plain.State, plain.NextChangeAt, plain.SaleStartsAt, plain.CloseWhenSoldOut, plain.OverbookLimit));

        var early = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(presale.Id, new ReserveRequest { Quantity = 1 }));
        Assert.Equal((409, "SALE_NOT_OPEN", presale.Id, starts), (early.Status, early.Code, early.CapacityId, early.SaleStartsAt));
        Assert.Equal((null, null), (early.SaleEndsAt, early.OpensAfterSoldOutOf));
        var checkedEarly = await Assert.ThrowsAsync<CapacityApiException>(() => t.CheckAsync(presale.Id, 1));
        Assert.Equal(("SALE_NOT_OPEN", starts), (checkedEarly.Code, checkedEarly.SaleStartsAt));

        await host.AdvanceAndSweepAsync(TimeSpan.FromMinutes(10));
        var open = await t.GetCapacityAsync(presale.Id);
        Assert.Equal((SaleState.OnSale, ends), (open.State, open.NextChangeAt));
        var inside = (await t.ReserveAsync(presale.Id, new ReserveRequest { Quantity = 2, ReservationMinutes = 15 })).Reservation;
        Assert.True((await t.CheckAsync(presale.Id, 8)).Available);

        await host.AdvanceAndSweepAsync(TimeSpan.FromMinutes(10));
        var late = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(presale.Id, new ReserveRequest { Quantity = 1 }));
        Assert.Equal((409, "SALE_CLOSED", presale.Id, ends, null), (late.Status, late.Code, late.CapacityId, late.SaleEndsAt, late.SaleStartsAt));
        Assert.Equal("SALE_CLOSED", (await Assert.ThrowsAsync<CapacityApiException>(() => t.CheckAsync(presale.Id, 1))).Code);
        var closed = Assert.Single(await t.ListCapacityAsync("tour"), c => c.Id == presale.Id);
        Assert.Equal((SaleState.Closed, null, true), (closed.State, closed.NextChangeAt, closed.IsActive));

        Assert.Equal(ReservationStatus.Confirmed, (await t.ConfirmAsync(inside.Id)).Status);
        Assert.Equal(2, (await t.GetCapacityAsync(presale.Id)).SoldCount);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_tier_opens_when_the_one_before_sells_out_and_the_one_before_closes_for_good()
    {
        var t = (await host.NewTenantAsync()).Client;
        var venue = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Venue", TotalCapacity = 100 });
        var earlyBird = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Early bird", TotalCapacity = 3, ParentIds = [venue.Id] });
        var regular = await t.CreateCapacityAsync("gig", new CreateCapacityRequest
        {
            SectionName = "Regular", TotalCapacity = 50, ParentIds = [venue.Id], OpensAfterSoldOutOf = earlyBird.Id,
        });
        Assert.Equal((SaleState.Scheduled, null, earlyBird.Id), (regular.State, regular.NextChangeAt, regular.OpensAfterSoldOutOf));

        var notYet = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(regular.Id, new ReserveRequest { Quantity = 1 }));
        Assert.Equal((409, "SALE_NOT_OPEN", regular.Id, earlyBird.Id, null), (notYet.Status, notYet.Code, notYet.CapacityId, notYet.OpensAfterSoldOutOf, notYet.SaleStartsAt));

        // The hold that takes the last early-bird ticket opens the next tier in its own batch.
        var last = (await t.ReserveAsync(earlyBird.Id, new ReserveRequest { Quantity = 3 })).Reservation;
        var opened = await t.GetCapacityAsync(regular.Id);
        Assert.Equal((SaleState.OnSale, true), (opened.State, opened.IsActive));
        var soldOut = await t.GetCapacityAsync(earlyBird.Id);
        Assert.Equal((SaleState.Closed, false, ClosedReason.SoldOut), (soldOut.State, soldOut.IsActive, soldOut.ClosedReason));
        var rules = (await t.GetLedgerAsync("gig")).Entries.Where(e => e.Kind is LedgerEntryKind.Open or LedgerEntryKind.Close);
        Assert.Equal(
            [(LedgerEntryKind.Open, regular.Id, null, 0L, 0L), (LedgerEntryKind.Close, earlyBird.Id, null, 0L, 0L)],
            rules.Select(e => (e.Kind, e.CapacityId, e.ReservationId, e.ReservedDelta, e.SoldDelta)));

        // Tickets that come back to the early bird stay there: the next tier sells them.
        await t.ReleaseAsync(last.Id);
        var reopened = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(earlyBird.Id, new ReserveRequest { Quantity = 1 }));
        Assert.Equal("CAPACITY_INACTIVE", reopened.Code);
        await t.ReserveAsync(regular.Id, new ReserveRequest { Quantity = 5 });
        var selling = await t.GetCapacityAsync(regular.Id);
        Assert.Equal((SaleState.OnSale, 45L), (selling.State, selling.AvailableCapacity));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_tier_is_set_once_within_its_own_event_and_never_in_a_cycle()
    {
        var t = (await host.NewTenantAsync()).Client;
        var first = await t.CreateCapacityAsync("fest", new CreateCapacityRequest { SectionName = "First", TotalCapacity = 5 });
        var second = await t.CreateCapacityAsync("fest", new CreateCapacityRequest { SectionName = "Second", TotalCapacity = 5, OpensAfterSoldOutOf = first.Id });
        var third = await t.CreateCapacityAsync("fest", new CreateCapacityRequest { SectionName = "Third", TotalCapacity = 5 });
        var elsewhere = await t.CreateCapacityAsync("other", new CreateCapacityRequest { SectionName = "Elsewhere", TotalCapacity = 5 });

        foreach (var (id, after) in new[] { (first.Id, second.Id), (second.Id, third.Id), (third.Id, elsewhere.Id), (third.Id, third.Id) })
        {
            var refused = await Assert.ThrowsAsync<CapacityApiException>(() => t.UpdateCapacityAsync(id, new UpdateCapacityRequest { OpensAfterSoldOutOf = after }));
            Assert.Equal((400, "VALIDATION_ERROR"), (refused.Status, refused.Code));
            Assert.True(refused.Errors.ContainsKey("opens_after_sold_out_of"), string.Join(", ", refused.Errors.Keys));
        }

        // Naming the tier it already follows changes nothing; a capacity that follows none may be given one.
        Assert.Equal(first.Id, (await t.UpdateCapacityAsync(second.Id, new UpdateCapacityRequest { OpensAfterSoldOutOf = first.Id })).OpensAfterSoldOutOf);
        var follows = await t.UpdateCapacityAsync(third.Id, new UpdateCapacityRequest { OpensAfterSoldOutOf = second.Id });
        Assert.Equal((SaleState.Scheduled, second.Id), (follows.State, follows.OpensAfterSoldOutOf));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_capacity_that_closes_when_sold_out_stays_closed_when_tickets_come_back_until_an_update_reopens_it()
    {
        var t = (await host.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("club", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 2, CloseWhenSoldOut = true });
        Assert.Equal((SaleState.OnSale, true, null), (floor.State, floor.CloseWhenSoldOut, floor.ClosedReason));

        var hold = (await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 2 })).Reservation;
        var closed = await t.GetCapacityAsync(floor.Id);
        Assert.Equal((SaleState.Closed, false, ClosedReason.SoldOut), (closed.State, closed.IsActive, closed.ClosedReason));
        var entry = (await t.GetLedgerAsync("club")).Entries[^1];
        Assert.Equal((LedgerEntryKind.Close, floor.Id, null, 0L, 0L), (entry.Kind, entry.CapacityId, entry.ReservationId, entry.ReservedDelta, entry.SoldDelta));

        await t.ReleaseAsync(hold.Id);
        var still = await t.GetCapacityAsync(floor.Id);
        Assert.Equal((SaleState.Closed, 2L), (still.State, still.AvailableCapacity));
        Assert.Equal("CAPACITY_INACTIVE", (await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 }))).Code);

        var reopened = await t.UpdateCapacityAsync(floor.Id, new UpdateCapacityRequest { IsActive = true });
        Assert.Equal((SaleState.OnSale, true, null), (reopened.State, reopened.IsActive, reopened.ClosedReason));
        await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 });
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Overbooking_adds_its_allowance_to_what_is_available_and_refuses_holds_past_it()
    {
        var t = (await host.NewTenantAsync()).Client;
        var cabin = await t.CreateCapacityAsync("flight", new CreateCapacityRequest { SectionName = "Cabin", TotalCapacity = 10, OverbookLimit = 2 });
        Assert.Equal((12L, 2, 0L, SaleState.OnSale), (cabin.AvailableCapacity, cabin.OverbookLimit, cabin.OverbookedBy, cabin.State));

        await t.ReserveAsync(cabin.Id, new ReserveRequest { Quantity = 10 });
        var full = await t.GetCapacityAsync(cabin.Id);
        Assert.Equal((2L, 0L, SaleState.OnSale), (full.AvailableCapacity, full.OverbookedBy, full.State));
        var over = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(cabin.Id, new ReserveRequest { Quantity = 3 }));
        Assert.Equal((409, "INSUFFICIENT_CAPACITY", 2L), (over.Status, over.Code, over.AvailableCapacity));

        var grown = await t.UpdateCapacityAsync(cabin.Id, new UpdateCapacityRequest { OverbookLimit = 5 });
        Assert.Equal((5L, 5), (grown.AvailableCapacity, grown.OverbookLimit));

        // Without an allowance there is nothing to be past: overbooked_by is left out.
        var none = await t.UpdateCapacityAsync(cabin.Id, new UpdateCapacityRequest { OverbookLimit = 0 });
        Assert.Equal((0L, 0, null, SaleState.SoldOut), (none.AvailableCapacity, none.OverbookLimit, none.OverbookedBy, none.State));

        // An unlimited capacity has no total to go past.
        var unlimited = await Assert.ThrowsAsync<CapacityApiException>(() => t.CreateCapacityAsync("flight", new CreateCapacityRequest { SectionName = "Stream", OverbookLimit = 5 }));
        Assert.Equal((400, "VALIDATION_ERROR"), (unlimited.Status, unlimited.Code));
        Assert.True(unlimited.Errors.ContainsKey("overbook_limit"), string.Join(", ", unlimited.Errors.Keys));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Holds_past_the_total_within_the_allowance_show_how_far_past_in_overbooked_by()
    {
        var t = (await host.NewTenantAsync()).Client;
        var cabin = await t.CreateCapacityAsync("flight", new CreateCapacityRequest { SectionName = "Cabin", TotalCapacity = 10, OverbookLimit = 2 });

        await t.ReserveAsync(cabin.Id, new ReserveRequest { Quantity = 11 });
        var past = await t.GetCapacityAsync(cabin.Id);
        Assert.Equal((1L, 11L, 1L, SaleState.OnSale), (past.AvailableCapacity, past.ReservedCapacity, past.OverbookedBy, past.State));
        await t.ReserveAsync(cabin.Id, new ReserveRequest { Quantity = 1 });
        var full = await t.GetCapacityAsync(cabin.Id);
        Assert.Equal((0L, 2L, SaleState.SoldOut), (full.AvailableCapacity, full.OverbookedBy, full.State));

        // The allowance cannot shrink below what is already past the total.
        var shrink = await Assert.ThrowsAsync<CapacityApiException>(() => t.UpdateCapacityAsync(cabin.Id, new UpdateCapacityRequest { OverbookLimit = 1 }));
        Assert.Equal((409, "CAPACITY_BELOW_COMMITTED"), (shrink.Status, shrink.Code));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_update_sending_null_clears_one_edge_of_a_window_and_keeps_the_other()
    {
        var t = (await host.NewTenantAsync()).Client;
        var starts = Now().AddHours(1);
        var ends = starts.AddHours(1);
        var stalls = await t.CreateCapacityAsync("play", new CreateCapacityRequest { SectionName = "Stalls", TotalCapacity = 10, SaleStartsAt = starts, SaleEndsAt = ends });
        Assert.Equal(SaleState.Scheduled, stalls.State);

        var now = await t.UpdateCapacityAsync(stalls.Id, new UpdateCapacityRequest { SaleStartsAt = null });
        Assert.Equal((SaleState.OnSale, null, ends, ends), (now.State, now.SaleStartsAt, now.SaleEndsAt, now.NextChangeAt));
        await t.ReserveAsync(stalls.Id, new ReserveRequest { Quantity = 1 });

        // A field left out keeps its value: a rename leaves the end where it was.
        var renamed = await t.UpdateCapacityAsync(stalls.Id, new UpdateCapacityRequest { SectionName = "Front stalls" });
        Assert.Equal(ends, renamed.SaleEndsAt);
        var endless = await t.UpdateCapacityAsync(stalls.Id, new UpdateCapacityRequest { SaleEndsAt = null });
        Assert.Equal((SaleState.OnSale, null, null), (endless.State, endless.SaleEndsAt, endless.NextChangeAt));

        var moved = await t.UpdateCapacityAsync(stalls.Id, new UpdateCapacityRequest { SaleStartsAt = starts, SaleEndsAt = ends });
        Assert.Equal((SaleState.Scheduled, starts, ends), (moved.State, moved.SaleStartsAt, moved.SaleEndsAt));
        var backwards = await Assert.ThrowsAsync<CapacityApiException>(() => t.UpdateCapacityAsync(stalls.Id, new UpdateCapacityRequest { SaleEndsAt = starts.AddMinutes(-1) }));
        Assert.Equal((400, "VALIDATION_ERROR"), (backwards.Status, backwards.Code));
        await host.AssertInvariantsAsync();
    }

    /// <summary>The server's clock now, to the millisecond: the server keeps instants to the millisecond, so these compare equal when read back.</summary>
    [Fact]
    public async Task A_capacity_with_any_rule_shows_close_when_sold_out_and_overbook_limit_though_not_set_and_keeps_them_once_cleared()
    {
        var t = (await host.NewTenantAsync()).Client;

        // A window alone: the sold-out rule and the allowance read false and 0; the rules not set are left out.
        var windowed = await t.CreateCapacityAsync("shown", new CreateCapacityRequest { SectionName = "Window", TotalCapacity = 10, SaleEndsAt = Now().AddDays(1) });
        Assert.Equal((false, 0), (windowed.CloseWhenSoldOut, windowed.OverbookLimit));
        Assert.Equal((null, null, null, null), (windowed.SaleStartsAt, windowed.OpensAfterSoldOutOf, windowed.ClosedReason, windowed.OverbookedBy));

        // A low watermark alone counts as a rule too.
        var watched = await t.CreateCapacityAsync("shown", new CreateCapacityRequest { SectionName = "Watched", TotalCapacity = 10, LowWatermark = 2 });
        Assert.Equal((false, 0, 2, null), (watched.CloseWhenSoldOut, watched.OverbookLimit, watched.LowWatermark, watched.SaleEndsAt));

        // Cleared again, a capacity keeps showing them.
        var cleared = await t.UpdateCapacityAsync(windowed.Id, new UpdateCapacityRequest { SaleEndsAt = null });
        Assert.Equal((false, 0, null), (cleared.CloseWhenSoldOut, cleared.OverbookLimit, cleared.SaleEndsAt));

        // One that never had any shows none.
        var plain = await t.CreateCapacityAsync("shown", new CreateCapacityRequest { SectionName = "Plain", TotalCapacity = 10 });
        Assert.Equal((null, null, null), (plain.CloseWhenSoldOut, plain.OverbookLimit, plain.LowWatermark));
    }

    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(host.Clock!.GetUtcNow().ToUnixTimeMilliseconds());
}

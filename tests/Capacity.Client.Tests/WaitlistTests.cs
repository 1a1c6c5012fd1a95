namespace Capacity.Client.Tests;

/// <summary>
/// Waiting lists through the SDK: joining, offers as reservations, leaving, a capacity's list page by
/// page, the settings on a capacity update, and the refusals with their fields.
/// </summary>
public sealed class WaitlistTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task A_join_on_a_sold_out_pool_waits_with_its_position_and_a_release_offers_it_as_a_reservation_with_the_entry_id()
    {
        var (t, pool) = await PoolAsync("gig", 2);
        var hold = await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 2 });
        await t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true, OfferMinutes = 20 } });

        var first = await t.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(pool.Id, 2)], BuyerKey = "fan-1", ExternalRef = "order-1" });
        var second = await t.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(pool.Id, 1)] });
        Assert.Equal((WaitlistStatus.Waiting, 1L, "gig", "fan-1", "order-1"), (first.Status, first.Position, first.EventId, first.BuyerKey, first.ExternalRef));
        Assert.Equal([new WaitlistItem(pool.Id, 2)], first.Items);
        Assert.Null(first.OfferReservationId);
        Assert.Equal((WaitlistStatus.Waiting, 2L, null, null), (second.Status, second.Position, second.BuyerKey, second.ExternalRef));
        Assert.True(second.Sequence > first.Sequence);
        Assert.Equal((WaitlistStatus.Waiting, 1L), Place(await t.GetWaitlistEntryAsync(first.Id)));

        var queued = await t.GetCapacityAsync(pool.Id);
        Assert.Equal(new WaitlistSettings(true, 20, WaitlistPolicy.Fifo, 3, 0), queued.Waitlist);
        // Three tickets wait; the pool has none free to owe them yet.
        Assert.Equal((0L, 0L), (queued.AvailableCapacity, queued.WaitlistDemand));

        // Two tickets come back: the first in line gets them as a hold, before any public hold could.
        await t.ReleaseAsync(hold.Reservation.Id);
        var offered = await t.GetWaitlistEntryAsync(first.Id);
        Assert.Equal((WaitlistStatus.Offered, null, first.Id), (offered.Status, offered.Position, offered.OfferReservationId));
        Assert.Equal((WaitlistStatus.Waiting, 1L), Place(await t.GetWaitlistEntryAsync(second.Id)));

        var offer = await t.GetReservationAsync(first.Id);
        Assert.Equal((ReservationStatus.Active, first.Id, "fan-1"), (offer.Status, offer.WaitlistId, offer.BuyerKey));
        Assert.Equal([(pool.Id, 2)], offer.Items.Select(i => (i.CapacityId, i.Quantity)));
        Assert.Equal(20, (offer.ExpiresAt - offer.CreatedAt).TotalMinutes, precision: 3);
        var after = await t.GetCapacityAsync(pool.Id);
        Assert.Equal((new WaitlistSettings(true, 20, WaitlistPolicy.Fifo, 1, 2), 0L), (after.Waitlist, after.WaitlistDemand));

        // The offer is a reservation like any other: confirming it accepts the entry.
        await t.ConfirmAsync(offer.Id);
        Assert.Equal(WaitlistStatus.Accepted, (await t.GetWaitlistEntryAsync(first.Id)).Status);
        var offerEntries = (await t.GetLedgerAsync("gig")).Entries.Where(e => e.WaitlistId is not null).ToList();
        Assert.Equal([(LedgerEntryKind.Hold, first.Id), (LedgerEntryKind.Confirm, first.Id)], offerEntries.Select(e => (e.Kind, e.ReservationId!.Value)));
        Assert.All(offerEntries, e => Assert.Equal(first.Id, e.WaitlistId));
        Assert.Null((await t.GetReservationAsync(hold.Reservation.Id)).WaitlistId);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Leaving_takes_a_waiting_entry_out_of_line_and_passes_an_offers_tickets_to_the_next_and_leaving_again_changes_nothing()
    {
        var (t, pool) = await PoolAsync("gig", 3);
        var hold = await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 3 });
        await OpenAsync(t, pool);
        var first = await JoinAsync(t, pool, 3);
        var middle = await JoinAsync(t, pool, 1);
        var last = await JoinAsync(t, pool, 2);

        var left = await t.LeaveWaitlistAsync(middle.Id);
        Assert.Equal((middle.Id, WaitlistStatus.Left, null), (left.Id, left.Status, left.Position));
        Assert.Equal((WaitlistStatus.Waiting, 2L), Place(await t.GetWaitlistEntryAsync(last.Id)));

        await t.ReleaseAsync(hold.Reservation.Id);
        Assert.Equal(WaitlistStatus.Offered, (await t.GetWaitlistEntryAsync(first.Id)).Status);
        Assert.Equal(WaitlistStatus.Left, (await t.LeaveWaitlistAsync(first.Id)).Status);
        Assert.Equal(ReservationStatus.Released, (await t.GetReservationAsync(first.Id)).Status);
        Assert.Equal(WaitlistStatus.Offered, (await t.GetWaitlistEntryAsync(last.Id)).Status);
        Assert.Equal(1, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);

        // A second leave, with a key of its own, answers the entry as it is.
        Assert.Equal(WaitlistStatus.Left, (await t.LeaveWaitlistAsync(first.Id)).Status);
        Assert.Equal(WaitlistStatus.Left, (await t.LeaveWaitlistAsync(middle.Id)).Status);
        Assert.Equal(1, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);

        var missing = await Assert.ThrowsAsync<CapacityApiException>(() => t.LeaveWaitlistAsync(Guid.NewGuid()));
        Assert.Equal((404, "NOT_FOUND"), (missing.Status, missing.Code));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_capacitys_waiting_list_is_read_a_page_at_a_time_in_the_order_entries_joined()
    {
        var (t, pool) = await PoolAsync("gig", 1);
        var other = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Balcony", TotalCapacity = 1 });
        await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1 });
        await OpenAsync(t, pool);
        var joined = new List<WaitlistEntry>();
        for (var i = 0; i < 5; i++)
        {
            joined.Add(await JoinAsync(t, pool, 1));
        }

        await t.LeaveWaitlistAsync(joined[1].Id);
        var pages = new List<WaitlistPage>();
        long? after = null;
        do
        {
            var page = await t.GetWaitlistAsync(pool.Id, after, limit: 2);
            pages.Add(page);
            after = page.NextAfter;
        }
        while (after is not null);

        // Every entry that names the capacity, whatever its status: the one that left is still listed.
        Assert.Equal(joined.Select(e => e.Id), pages.SelectMany(p => p.Entries).Select(e => e.Id));
        Assert.Equal([2, 2, 1], pages.Select(p => p.Entries.Count));
        Assert.All(pages, p => Assert.Equal(pool.Id, p.CapacityId));
        Assert.Equal(joined[1].Sequence, pages[0].NextAfter);
        Assert.Equal(WaitlistStatus.Left, pages[0].Entries[1].Status);
        Assert.Equal(5, (await t.GetWaitlistAsync(pool.Id)).Entries.Count);
        Assert.Empty((await t.GetWaitlistAsync(other.Id)).Entries);

        var badLimit = await Assert.ThrowsAsync<CapacityApiException>(() => t.GetWaitlistAsync(pool.Id, limit: 0));
        Assert.Equal((400, "VALIDATION_ERROR"), (badLimit.Status, badLimit.Code));
        var missing = await Assert.ThrowsAsync<CapacityApiException>(() => t.GetWaitlistAsync(Guid.NewGuid()));
        Assert.Equal((404, "NOT_FOUND"), (missing.Status, missing.Code));
    }

    [Fact]
    public async Task Joining_a_list_that_was_never_opened_or_was_closed_is_a_409_waitlist_disabled()
    {
        var (t, pool) = await PoolAsync("gig", 5);

        var never = await Assert.ThrowsAsync<CapacityApiException>(() => JoinAsync(t, pool, 1));
        Assert.Equal((409, "WAITLIST_DISABLED"), (never.Status, never.Code));
        Assert.Contains("waiting list", never.Detail, StringComparison.Ordinal);
        Assert.Null(never.WaitlistDemand);

        await OpenAsync(t, pool);
        await t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = false } });
        var closed = await Assert.ThrowsAsync<CapacityApiException>(() => JoinAsync(t, pool, 1));
        Assert.Equal((409, "WAITLIST_DISABLED"), (closed.Status, closed.Code));
        Assert.Empty((await t.GetWaitlistAsync(pool.Id)).Entries);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Free_tickets_owed_to_a_waiting_list_are_refused_to_a_public_hold_as_insufficient_capacity_with_the_waitlist_demand()
    {
        var (t, pool) = await PoolAsync("gig", 10);
        var three = await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 3 });
        await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 7 });
        await OpenAsync(t, pool);
        await JoinAsync(t, pool, 4);
        await JoinAsync(t, pool, 1);

        // Three come back, too few for the 4 at the head of a fifo queue: they wait for it, and so does the 1
        // behind; the three are owed to the queue (all the pool could give the five waiting).
        await t.ReleaseAsync(three.Reservation.Id);
        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1 }));
        Assert.Equal((409, "INSUFFICIENT_CAPACITY", 0L, 3L), (ex.Status, ex.Code, ex.AvailableCapacity, ex.WaitlistDemand));

        // A pool without a list falls short without a demand.
        var hall = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 1 });
        var plain = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 2 }));
        Assert.Equal(("INSUFFICIENT_CAPACITY", 1L, null), (plain.Code, plain.AvailableCapacity, plain.WaitlistDemand));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_join_sent_again_with_its_idempotency_key_answers_the_same_entry_and_queues_once()
    {
        var (t, pool) = await PoolAsync("gig", 1);
        await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1 });
        await OpenAsync(t, pool);
        var request = new JoinWaitlistRequest { Items = [new(pool.Id, 1)], BuyerKey = "fan-9" };

        var first = await t.JoinWaitlistAsync(request, idempotencyKey: "join-fan-9");
        var again = await t.JoinWaitlistAsync(request, idempotencyKey: "join-fan-9");
        var reused = await Assert.ThrowsAsync<CapacityApiException>(() =>
            t.JoinWaitlistAsync(request with { Items = [new(pool.Id, 2)] }, idempotencyKey: "join-fan-9"));

        Assert.Equal((first.Id, first.Sequence, first.Position), (again.Id, again.Sequence, again.Position));
        Assert.Equal((422, "IDEMPOTENCY_KEY_REUSED"), (reused.Status, reused.Code));
        Assert.Equal([first.Id], (await t.GetWaitlistAsync(pool.Id)).Entries.Select(e => e.Id));
        Assert.Equal(1, (await t.GetCapacityAsync(pool.Id)).Waitlist!.Waiting);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Waiting_list_settings_round_trip_through_a_capacity_update_and_the_fields_left_out_keep_their_value()
    {
        var (t, pool) = await PoolAsync("gig", 10);
        Assert.Equal((null, null), (pool.Waitlist, pool.WaitlistDemand));

        // A first list takes the defaults for what is left out.
        var opened = await t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Policy = WaitlistPolicy.FirstFit } });
        Assert.Equal((new WaitlistSettings(true, 30, WaitlistPolicy.FirstFit, 0, 0), 0L), (opened.Waitlist, opened.WaitlistDemand));

        var longer = await t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { OfferMinutes = 45 } });
        Assert.Equal(new WaitlistSettings(true, 45, WaitlistPolicy.FirstFit, 0, 0), longer.Waitlist);
        var renamed = await t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { SectionName = "Floor" });
        Assert.Equal(longer.Waitlist, renamed.Waitlist);
        var closed = await t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = false, Policy = WaitlistPolicy.Fifo } });
        Assert.Equal(new WaitlistSettings(false, 45, WaitlistPolicy.Fifo, 0, 0), closed.Waitlist);

        Assert.Equal(closed.Waitlist, (await t.GetCapacityAsync(pool.Id)).Waitlist);
        Assert.Equal(closed.Waitlist, Assert.Single(await t.ListCapacityAsync("gig")).Waitlist);

        var bad = await Assert.ThrowsAsync<CapacityApiException>(() =>
            t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { OfferMinutes = 0 } }));
        Assert.Equal((400, "VALIDATION_ERROR"), (bad.Status, bad.Code));
        Assert.True(bad.Errors.ContainsKey("waitlist.offer_minutes"), string.Join(", ", bad.Errors.Keys));
        Assert.Equal(closed.Waitlist, (await t.GetCapacityAsync(pool.Id)).Waitlist);
    }

    /// <summary>A new tenant with one pool of <paramref name="total"/> on <paramref name="eventId"/>.</summary>
    private async Task<(CapacityClient Client, CapacityDetails Pool)> PoolAsync(string eventId, int total)
    {
        var t = (await host.NewTenantAsync()).Client;
        return (t, await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = total }));
    }

    private static Task<CapacityDetails> OpenAsync(CapacityClient t, CapacityDetails pool) =>
        t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } });

    private static Task<WaitlistEntry> JoinAsync(CapacityClient t, CapacityDetails pool, int quantity) =>
        t.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(pool.Id, quantity)] });

    private static (WaitlistStatus Status, long? Position) Place(WaitlistEntry e) => (e.Status, e.Position);
}

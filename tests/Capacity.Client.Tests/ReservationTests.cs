namespace Capacity.Client.Tests;

/// <summary>
/// Holds changed in part through the SDK (a change, a partial confirm, a partial refund), the platform's
/// labels on holds and carts, and the reservation list page by page with its filters. Reclaims, which need
/// a hold to expire, are in <see cref="ReclaimTests"/>.
/// </summary>
public sealed class ReservationTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task A_change_lowers_one_capacity_adds_another_at_its_price_keeps_the_expiry_and_all_0_releases_the_hold()
    {
        var t = (await host.NewTenantAsync()).Client;
        var stalls = await PoolAsync(t, "show", "Stalls", 10);
        var circle = await PoolAsync(t, "show", "Circle", 10);
        var price = await t.CreatePricingAsync(circle.Id, new CreatePricingRequest { Name = "Circle", BasePrice = 25m, Currency = "EUR" });
        var hold = (await t.ReserveAsync(stalls.Id, new ReserveRequest { Quantity = 4 })).Reservation;

        var changed = await t.ChangeReservationAsync(hold.Id, new ChangeReservationRequest
        {
            Items = [new ChangeItemRequest { CapacityId = stalls.Id, Quantity = 2 }, new ChangeItemRequest { CapacityId = circle.Id, Quantity = 3, PricingId = price.Id }],
        });
        Assert.Equal((ReservationStatus.Active, hold.ExpiresAt), (changed.Status, changed.ExpiresAt));
        Assert.Equal([(stalls.Id, 2, null), (circle.Id, 3, 25m)], changed.Items.Select(i => (i.CapacityId, i.Quantity, i.LockedPrice?.UnitPrice)));
        Assert.All(changed.Items, i => Assert.Equal(0, i.CancelledQuantity));
        Assert.Equal(75m, Assert.Single(changed.Totals).Subtotal);
        Assert.Equal((8L, 7L), await AvailableAsync(t, stalls, circle));

        // A length moves the expiry, counted from now.
        var longer = await t.ChangeReservationAsync(hold.Id, new ChangeReservationRequest
        {
            Items = [new ChangeItemRequest { CapacityId = stalls.Id, Quantity = 2 }], ReservationMinutes = 30,
        });
        Assert.InRange(longer.ExpiresAt, hold.CreatedAt.AddMinutes(30), DateTimeOffset.UtcNow.AddMinutes(30));
        Assert.Equal([2, 3], longer.Items.Select(i => i.Quantity));

        var released = await t.ChangeReservationAsync(hold.Id, new ChangeReservationRequest
        {
            Items = [new ChangeItemRequest { CapacityId = stalls.Id, Quantity = 0 }, new ChangeItemRequest { CapacityId = circle.Id, Quantity = 0 }],
        });
        Assert.Equal(ReservationStatus.Released, released.Status);
        Assert.Equal((10L, 10L), await AvailableAsync(t, stalls, circle));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_change_past_what_is_free_is_refused_whole_and_a_hold_from_an_allocation_is_not_changeable()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await PoolAsync(t, "gig", "Floor", 10);
        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 4 })).Reservation;
        await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 5 });

        var tooMany = await Assert.ThrowsAsync<CapacityApiException>(() => ChangeAsync(t, hold, pool, 6));
        Assert.Equal((409, "INSUFFICIENT_CAPACITY", 1L), (tooMany.Status, tooMany.Code, tooMany.AvailableCapacity));
        Assert.Equal(4, Assert.Single((await t.GetReservationAsync(hold.Id)).Items).Quantity);
        Assert.Equal(1, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);

        var box = await t.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Box office", Quantity = 1 });
        var boxed = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1, AllocationId = box.Id })).Reservation;
        var whole = await Assert.ThrowsAsync<CapacityApiException>(() => ChangeAsync(t, boxed, pool, 0));
        Assert.Equal((409, "RESERVATION_NOT_CHANGEABLE"), (whole.Status, whole.Code));
        Assert.Equal(1, (await t.GetAllocationAsync(box.Id)).Held);

        var missing = await Assert.ThrowsAsync<CapacityApiException>(() => t.ChangeReservationAsync(
            Guid.NewGuid(), new ChangeReservationRequest { Items = [new ChangeItemRequest { CapacityId = pool.Id, Quantity = 1 }] }));
        Assert.Equal((404, "NOT_FOUND"), (missing.Status, missing.Code));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_change_sent_again_with_its_idempotency_key_answers_the_same_and_applies_once()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await PoolAsync(t, "gig", "Floor", 10);
        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 2 })).Reservation;
        var request = new ChangeReservationRequest { Items = [new ChangeItemRequest { CapacityId = pool.Id, Quantity = 5 }] };

        var first = await t.ChangeReservationAsync(hold.Id, request, idempotencyKey: "grow-to-5");
        await t.ChangeReservationAsync(hold.Id, new ChangeReservationRequest { Items = [new ChangeItemRequest { CapacityId = pool.Id, Quantity = 3 }] });
        var again = await t.ChangeReservationAsync(hold.Id, request, idempotencyKey: "grow-to-5");

        // The replay is the first answer; the hold keeps the later change.
        Assert.Equal(5, Assert.Single(first.Items).Quantity);
        Assert.Equal(5, Assert.Single(again.Items).Quantity);
        Assert.Equal(3, Assert.Single((await t.GetReservationAsync(hold.Id)).Items).Quantity);
        Assert.Equal(7, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_partial_confirm_sells_3_and_gives_2_back()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await PoolAsync(t, "final", "Stalls", 10);
        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 5 })).Reservation;

        var sale = await t.ConfirmAsync(hold.Id, new ConfirmReservationRequest { Items = [new(pool.Id, 3)] });

        Assert.Equal((ReservationStatus.Confirmed, 3, false), (sale.Status, Assert.Single(sale.Items).Quantity, sale.Reclaimed));
        var after = await t.GetCapacityAsync(pool.Id);
        Assert.Equal((0L, 3L, 7L), (after.ReservedCapacity, after.SoldCount, after.AvailableCapacity));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_partial_confirm_of_a_cart_releases_the_capacity_it_does_not_name_and_a_second_one_is_not_active()
    {
        var t = (await host.NewTenantAsync()).Client;
        var stalls = await PoolAsync(t, "cart", "Stalls", 10);
        var parking = await PoolAsync(t, "cart", "Parking", 5);
        var cart = await t.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = stalls.Id, Quantity = 4 }, new ReservationItemRequest { CapacityId = parking.Id, Quantity = 1 }],
        });

        var sale = await t.ConfirmAsync(cart.Id, new ConfirmReservationRequest { Items = [new(stalls.Id, 2)] });
        Assert.Equal([(stalls.Id, 2)], sale.Items.Select(i => (i.CapacityId, i.Quantity)));
        Assert.Equal((8L, 5L), await AvailableAsync(t, stalls, parking));

        var again = await Assert.ThrowsAsync<CapacityApiException>(() => t.ConfirmAsync(cart.Id, new ConfirmReservationRequest { Items = [new(stalls.Id, 1)] }));
        Assert.Equal((409, "RESERVATION_NOT_ACTIVE"), (again.Status, again.Code));

        // A request that names nothing is the plain confirm, which changes nothing on a sale.
        Assert.Equal(ReservationStatus.Confirmed, (await t.ConfirmAsync(cart.Id, new ConfirmReservationRequest())).Status);
        Assert.Equal(2, (await t.GetCapacityAsync(stalls.Id)).SoldCount);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_partial_refund_keeps_the_sale_confirmed_with_the_cancelled_quantity_until_its_last_ticket()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await PoolAsync(t, "final", "Stalls", 10);
        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 4 })).Reservation;
        await t.ConfirmAsync(hold.Id);

        var refunded = await t.CancelAsync(hold.Id, [new(pool.Id, 1)]);
        var item = Assert.Single(refunded.Items);
        Assert.Equal((ReservationStatus.Confirmed, 3, 1), (refunded.Status, item.Quantity, item.CancelledQuantity));
        Assert.Equal(item, Assert.Single((await t.GetReservationAsync(hold.Id)).Items));
        Assert.Equal((3L, 7L), Sold(await t.GetCapacityAsync(pool.Id)));

        var tooMany = await Assert.ThrowsAsync<CapacityApiException>(() => t.CancelAsync(hold.Id, [new(pool.Id, 4)]));
        Assert.Equal((400, "INVALID_QUANTITY"), (tooMany.Status, tooMany.Code));

        var last = await t.CancelAsync(hold.Id, [new(pool.Id, 3)]);
        Assert.Equal((ReservationStatus.Cancelled, 0, 4), (last.Status, last.Items[0].Quantity, last.Items[0].CancelledQuantity));
        Assert.NotNull(last.EndedAt);
        Assert.Equal((0L, 10L), Sold(await t.GetCapacityAsync(pool.Id)));
        Assert.Equal(
            [LedgerEntryKind.Hold, LedgerEntryKind.Confirm, LedgerEntryKind.Cancel, LedgerEntryKind.Cancel],
            (await t.GetLedgerAsync("final")).Entries.Select(e => e.Kind));

        // A hold is released, not refunded.
        var active = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1 })).Reservation;
        var notSold = await Assert.ThrowsAsync<CapacityApiException>(() => t.CancelAsync(active.Id, [new(pool.Id, 1)]));
        Assert.Equal((409, "RESERVATION_NOT_ACTIVE"), (notSold.Status, notSold.Code));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task External_ref_and_metadata_round_trip_on_a_hold_and_a_cart_and_stay_on_every_read()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await PoolAsync(t, "gig", "Floor", 10);
        var notes = new Dictionary<string, string> { ["channel"] = "web", ["Campaign Name"] = "spring" };

        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 2, ExternalRef = "order-1001", Metadata = notes })).Reservation;
        Assert.Equal("order-1001", hold.ExternalRef);

        // Keys come back as they were sent, not in the API's snake_case.
        Assert.Equal(notes, new Dictionary<string, string>(hold.Metadata!));

        var cart = await t.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = pool.Id, Quantity = 1 }], ExternalRef = "cart-7", Metadata = new Dictionary<string, string> { ["seat_note"] = "aisle" },
        });
        var read = await t.GetReservationAsync(cart.Id);
        Assert.Equal(("cart-7", "aisle"), (read.ExternalRef, read.Metadata!["seat_note"]));

        var sale = await t.ConfirmAsync(hold.Id);
        Assert.Equal(("order-1001", "spring"), (sale.ExternalRef, sale.Metadata!["Campaign Name"]));
        var plain = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1 })).Reservation;
        Assert.Equal((null, null), (plain.ExternalRef, plain.Metadata));

        var tooMany = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(pool.Id, new ReserveRequest
        {
            Quantity = 1, Metadata = Enumerable.Range(0, 17).ToDictionary(i => $"k{i}", _ => "v"),
        }));
        Assert.Equal((400, "VALIDATION_ERROR"), (tooMany.Status, tooMany.Code));
        Assert.True(tooMany.Errors.ContainsKey("metadata"), string.Join(", ", tooMany.Errors.Keys));
        Assert.Equal(6, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_events_reservations_are_listed_newest_first_a_page_at_a_time_without_gaps_or_repeats_a_cart_under_each_event()
    {
        var t = (await host.NewTenantAsync()).Client;
        var day1 = await PoolAsync(t, "fest-day-1", "Day 1", 100);
        var day2 = await PoolAsync(t, "fest-day-2", "Day 2", 100);
        var made = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            made.Add((await t.ReserveAsync(day1.Id, new ReserveRequest { Quantity = 1 })).Reservation.Id);
        }

        var both = await t.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = day1.Id, Quantity = 1 }, new ReservationItemRequest { CapacityId = day2.Id, Quantity = 1 }],
        });
        made.Add(both.Id);
        var onlyDay2 = (await t.ReserveAsync(day2.Id, new ReserveRequest { Quantity = 1 })).Reservation;

        var query = new ReservationQuery { EventId = "fest-day-1" };
        var pages = new List<ReservationPage>();
        string? after = null;
        do
        {
            var page = await t.ListReservationsAsync(query, after, limit: 3);
            pages.Add(page);
            after = page.NextAfter;
        }
        while (after is not null);

        Assert.Equal(Enumerable.Reverse(made), pages.SelectMany(p => p.Reservations).Select(r => r.Id));
        Assert.Equal([3, 3, 1], pages.Select(p => p.Reservations.Count));
        Assert.Equal([onlyDay2.Id, both.Id], (await t.ListReservationsAsync(new ReservationQuery { EventId = "fest-day-2" })).Reservations.Select(r => r.Id));
        var none = await t.ListReservationsAsync(new ReservationQuery { EventId = "fest-day-3" });
        Assert.Equal((0, null), (none.Reservations.Count, none.NextAfter));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Filters_by_reference_status_and_buyer_narrow_the_list_and_a_query_without_event_or_reference_is_refused()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await PoolAsync(t, "gig", "Floor", 100);
        var released = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1, ExternalRef = "order-1" })).Reservation;
        await t.ReleaseAsync(released.Id);
        var sold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 2, ExternalRef = "order-1", BuyerKey = "fan-a" })).Reservation;
        await t.ConfirmAsync(sold.Id);
        var keyed = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1, BuyerKey = "fan-a" })).Reservation;
        var other = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1, ExternalRef = "order 2/b" })).Reservation;

        async Task<IEnumerable<Guid>> Ids(ReservationQuery query) => (await t.ListReservationsAsync(query)).Reservations.Select(r => r.Id);

        Assert.Equal([sold.Id, released.Id], await Ids(new ReservationQuery { ExternalRef = "order-1" }));
        Assert.Equal([sold.Id], await Ids(new ReservationQuery { EventId = "gig", ExternalRef = "order-1", Status = ReservationStatus.Confirmed }));
        Assert.Equal([released.Id], await Ids(new ReservationQuery { EventId = "gig", Status = ReservationStatus.Released }));
        Assert.Equal([other.Id, keyed.Id], await Ids(new ReservationQuery { EventId = "gig", Status = ReservationStatus.Active }));
        Assert.Equal([keyed.Id, sold.Id], await Ids(new ReservationQuery { EventId = "gig", BuyerKey = "fan-a" }));

        // A reference with a space and a slash is escaped in the query, and found.
        var found = Assert.Single((await t.ListReservationsAsync(new ReservationQuery { ExternalRef = "order 2/b" })).Reservations);
        Assert.Equal((other.Id, "order 2/b", ReservationStatus.Active), (found.Id, found.ExternalRef, found.Status));

        var neither = await Assert.ThrowsAsync<CapacityApiException>(() => t.ListReservationsAsync(new ReservationQuery { Status = ReservationStatus.Active }));
        Assert.Equal((400, "VALIDATION_ERROR"), (neither.Status, neither.Code));
        Assert.True(neither.Errors.ContainsKey("event_id"), string.Join(", ", neither.Errors.Keys));
        var badCursor = await Assert.ThrowsAsync<CapacityApiException>(() => t.ListReservationsAsync(new ReservationQuery { EventId = "gig" }, after: "7"));
        Assert.Equal((400, "VALIDATION_ERROR"), (badCursor.Status, badCursor.Code));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_waiting_list_offer_carries_its_entrys_external_ref_and_is_found_by_it()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await PoolAsync(t, "gig", "Floor", 1);
        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1 })).Reservation;
        await t.UpdateCapacityAsync(pool.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } });
        var entry = await t.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(pool.Id, 1)], ExternalRef = "queue-42" });
        await t.ReleaseAsync(hold.Id);

        var offer = Assert.Single((await t.ListReservationsAsync(new ReservationQuery { ExternalRef = "queue-42" })).Reservations);
        Assert.Equal((entry.Id, entry.Id, "queue-42"), (offer.Id, offer.WaitlistId, offer.ExternalRef));
        await host.AssertInvariantsAsync();
    }

    private static Task<CapacityDetails> PoolAsync(CapacityClient t, string eventId, string name, int total) =>
        t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = name, TotalCapacity = total });

    private static Task<Reservation> ChangeAsync(CapacityClient t, Reservation hold, CapacityDetails pool, int quantity) =>
        t.ChangeReservationAsync(hold.Id, new ChangeReservationRequest { Items = [new ChangeItemRequest { CapacityId = pool.Id, Quantity = quantity }] });

    private static async Task<(long, long)> AvailableAsync(CapacityClient t, CapacityDetails a, CapacityDetails b) =>
        ((await t.GetCapacityAsync(a.Id)).AvailableCapacity!.Value, (await t.GetCapacityAsync(b.Id)).AvailableCapacity!.Value);

    private static (long Sold, long Available) Sold(CapacityDetails c) => (c.SoldCount, c.AvailableCapacity!.Value);
}

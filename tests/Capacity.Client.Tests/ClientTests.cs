namespace Capacity.Client.Tests;

/// <summary>Every SDK method against the real server, on the happy path.</summary>
public sealed class ClientTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task A_tenant_created_with_the_admin_key_can_use_its_key_and_be_given_another()
    {
        var created = await host.Admin().CreateTenantAsync("Theatre Co");
        Assert.Equal("Theatre Co", created.Name);
        Assert.StartsWith("cap_", created.ApiKey, StringComparison.Ordinal);

        var second = await host.Admin().IssueKeyAsync(created.TenantId);
        Assert.Equal(created.TenantId, second.TenantId);
        Assert.NotEqual(created.ApiKey, second.ApiKey);

        // Both keys reach the same tenant's data.
        await host.Client(created.ApiKey).CreateCapacityAsync("night", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 5 });
        var events = await host.Client(second.ApiKey).ListEventsAsync();
        Assert.Equal("night", Assert.Single(events).EventId);
        Assert.Equal(1, events[0].Capacities);
    }

    [Fact]
    public async Task Capacities_are_created_listed_read_totalled_and_checked()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("play", new CreateCapacityRequest { SectionName = "Theatre", TotalCapacity = 100, SectionCode = "TH" });
        var adult = await t.CreateCapacityAsync("play", new CreateCapacityRequest { SectionName = "Adult", TotalCapacity = 50, ParentIds = [pool.Id], Mode = CapacityMode.Capped });
        var child = await t.CreateCapacityAsync("play", new CreateCapacityRequest { SectionName = "Child", ParentIds = [pool.Id], ScheduleId = "mat-1" });
        var stream = await t.CreateCapacityAsync("play", new CreateCapacityRequest { SectionName = "Live-stream", IsActive = false });

        Assert.Equal(CapacityMode.Own, pool.Mode);
        Assert.Equal("TH", pool.SectionCode);
        Assert.Equal(CapacityMode.Capped, adult.Mode);
        Assert.Equal([pool.Id], adult.ParentIds);
        Assert.Equal(CapacityMode.Shared, child.Mode);
        Assert.Equal("mat-1", child.ScheduleId);
        Assert.Equal(100, child.AvailableCapacity);
        Assert.Equal(CapacityMode.Unlimited, stream.Mode);
        Assert.Null(stream.AvailableCapacity);
        Assert.False(stream.IsActive);

        var list = await t.ListCapacityAsync("play");
        Assert.Equal([pool.Id, adult.Id, child.Id, stream.Id], list.Select(c => c.Id));
        Assert.Equal(adult, await t.GetCapacityAsync(adult.Id) with { ParentIds = adult.ParentIds });

        await t.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 3 });
        var totals = await t.GetTotalsAsync("play");
        Assert.Equal(new CapacityTotals("play", 100, 97, 3, 0, HasUnlimited: true), totals);

        var yes = await t.CheckAsync(adult.Id, 47);
        Assert.True(yes.Available);
        Assert.Equal(47, yes.AvailableCapacity);
        var no = await t.CheckAsync(adult.Id, 48);
        Assert.False(no.Available);
        Assert.Equal(48, no.Quantity);
        var off = await t.CheckAsync(stream.Id, 1);
        Assert.Equal((false, stream.Id, null), (off.IsActive, off.InactiveCapacityId, off.ClosedReason));
    }

    [Fact]
    public async Task A_partial_update_changes_only_the_fields_that_are_set_and_null_clears_a_field()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Hall", SectionCode = "H", TotalCapacity = 100 });

        var resized = await t.UpdateCapacityAsync(hall.Id, new UpdateCapacityRequest { TotalCapacity = 200 });
        Assert.Equal(200, resized.TotalCapacity);
        Assert.Equal("Hall", resized.SectionName);
        Assert.Equal("H", resized.SectionCode);

        var renamed = await t.UpdateCapacityAsync(hall.Id, new UpdateCapacityRequest { SectionName = "Main hall", SectionCode = null });
        Assert.Equal("Main hall", renamed.SectionName);
        Assert.Null(renamed.SectionCode);
        Assert.Equal(200, renamed.TotalCapacity);

        var unlimited = await t.UpdateCapacityAsync(hall.Id, new UpdateCapacityRequest { TotalCapacity = null, IsActive = false });
        Assert.Null(unlimited.TotalCapacity);
        Assert.Equal(CapacityMode.Unlimited, unlimited.Mode);
        Assert.False(unlimited.IsActive);
        Assert.Equal("Main hall", unlimited.SectionName);
    }

    [Fact]
    public async Task A_priced_hold_is_confirmed_at_its_locked_price_and_can_be_cancelled_as_a_refund()
    {
        var t = (await host.NewTenantAsync()).Client;
        var adult = await t.CreateCapacityAsync("play", new CreateCapacityRequest { SectionName = "Adult", TotalCapacity = 50 });
        var price = await t.CreatePricingAsync(adult.Id, new CreatePricingRequest
        {
            Name = "Adult", BasePrice = 42.50m, ServiceFee = 2.00m, TaxRate = 0.2m, Currency = "EUR",
        });

        var held = await t.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 2, PricingId = price.Id, ReservationMinutes = 5 });
        Assert.Equal(ReservationStatus.Active, held.Reservation.Status);
        Assert.Equal(42.50m, held.LockedPrice!.UnitPrice);
        Assert.Equal(48, held.Capacity.AvailableCapacity);
        Assert.InRange(held.Reservation.ExpiresAt - held.Reservation.CreatedAt, TimeSpan.FromMinutes(4.9), TimeSpan.FromMinutes(5.1));

        await t.UpdatePricingAsync(price.Id, new UpdatePricingRequest { CurrentPrice = 99m });
        var confirmed = await t.ConfirmAsync(held.Reservation.Id);
        Assert.Equal(ReservationStatus.Confirmed, confirmed.Status);
        Assert.NotNull(confirmed.ConfirmedAt);
        Assert.Equal(new ReservationTotal("EUR", 85.00m, 4.00m, 17.00m, 106.00m), Assert.Single(confirmed.Totals));
        Assert.Equal(2, (await t.GetCapacityAsync(adult.Id)).SoldCount);

        var refunded = await t.CancelAsync(held.Reservation.Id);
        Assert.Equal(ReservationStatus.Cancelled, refunded.Status);
        Assert.NotNull(refunded.EndedAt);
        var after = await t.GetCapacityAsync(adult.Id);
        Assert.Equal(0, after.SoldCount);
        Assert.Equal(50, after.AvailableCapacity);
    }

    [Fact]
    public async Task A_cart_holds_every_item_and_can_be_read_extended_and_released()
    {
        var t = (await host.NewTenantAsync()).Client;
        var a = await t.CreateCapacityAsync("fest", new CreateCapacityRequest { SectionName = "A", TotalCapacity = 10 });
        var b = await t.CreateCapacityAsync("fest", new CreateCapacityRequest { SectionName = "B", TotalCapacity = 10 });

        var cart = await t.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = a.Id, Quantity = 2 }, new ReservationItemRequest { CapacityId = b.Id, Quantity = 3 }],
            ReservationMinutes = 10,
        });
        Assert.Equal([(a.Id, 2), (b.Id, 3)], cart.Items.Select(i => (i.CapacityId, i.Quantity)));
        Assert.Empty(cart.Totals);

        var read = await t.GetReservationAsync(cart.Id);
        Assert.Equal(cart.Id, read.Id);
        Assert.Equal(ReservationStatus.Active, read.Status);

        // The new expiry counts from now, not from the old expiry.
        var extended = await t.ExtendAsync(cart.Id, 20);
        Assert.InRange(extended.ExpiresAt, cart.CreatedAt.AddMinutes(20), DateTimeOffset.UtcNow.AddMinutes(20));

        var released = await t.ReleaseAsync(cart.Id);
        Assert.Equal(ReservationStatus.Released, released.Status);
        Assert.Equal(10, (await t.GetCapacityAsync(a.Id)).AvailableCapacity);
        Assert.Equal(10, (await t.GetCapacityAsync(b.Id)).AvailableCapacity);
    }

    [Fact]
    public async Task Pricing_is_created_listed_read_and_updated_and_a_cleared_current_price_falls_back_to_the_base()
    {
        var t = (await host.NewTenantAsync()).Client;
        var vip = await t.CreateCapacityAsync("play", new CreateCapacityRequest { SectionName = "VIP", TotalCapacity = 20 });
        var price = await t.CreatePricingAsync(vip.Id, new CreatePricingRequest { Name = "VIP", BasePrice = 100m, CurrentPrice = 80m, Currency = "USD" });
        Assert.Equal(80m, price.UnitPrice);
        Assert.Equal(0m, price.FacilityFee);

        Assert.Equal([price], await t.ListPricingAsync(vip.Id));
        Assert.Equal(price, await t.GetPricingAsync(price.Id));

        var updated = await t.UpdatePricingAsync(price.Id, new UpdatePricingRequest { Name = "VIP lounge", FacilityFee = 1.5m, CurrentPrice = null });
        Assert.Equal("VIP lounge", updated.Name);
        Assert.Equal(1.5m, updated.FacilityFee);
        Assert.Null(updated.CurrentPrice);
        Assert.Equal(100m, updated.UnitPrice);
        Assert.Equal("USD", updated.Currency);

        var rebased = await t.UpdatePricingAsync(price.Id, new UpdatePricingRequest { BasePrice = 90m, ServiceFee = 3m, TaxRate = 0.1m, Currency = "EUR" });
        Assert.Equal((90m, 3m, 0.1m, "EUR"), (rebased.UnitPrice, rebased.ServiceFee, rebased.TaxRate, rebased.Currency));
    }

    [Fact]
    public async Task The_ledger_pages_through_every_counter_change_in_order()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("cup", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 10 });
        var hold = await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 2 });
        await t.ConfirmAsync(hold.Reservation.Id);

        var first = await t.GetLedgerAsync("cup", limit: 1);
        var entry = Assert.Single(first.Entries);
        Assert.Equal((LedgerEntryKind.Hold, 2L, 0L), (entry.Kind, entry.ReservedDelta, entry.SoldDelta));
        Assert.Equal(hold.Reservation.Id, entry.ReservationId);
        Assert.Equal(pool.Id, entry.CapacityId);
        Assert.Equal(entry.Sequence, first.NextAfter);

        var rest = await t.GetLedgerAsync("cup", after: first.NextAfter);
        var confirm = Assert.Single(rest.Entries);
        Assert.Equal((LedgerEntryKind.Confirm, -2L, 2L), (confirm.Kind, confirm.ReservedDelta, confirm.SoldDelta));
        Assert.Null(rest.NextAfter);
    }

    [Fact]
    public async Task Verify_health_and_readiness_answer()
    {
        var report = await host.Admin().VerifyAsync();
        Assert.True(report.Ok);
        Assert.Empty(report.Violations);

        var anonymous = host.Client(token: null);
        Assert.Equal("ok", (await anonymous.GetHealthAsync()).Status);
        Assert.Equal("ready", (await anonymous.GetReadinessAsync()).Status);
    }

    [Fact]
    public async Task Watching_an_event_yields_a_snapshot_at_once_and_another_when_a_hold_changes_it()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("live", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 10 });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var snapshots = new List<EventSnapshot>();
        await foreach (var snapshot in t.WatchAsync("live", stop.Token))
        {
            snapshots.Add(snapshot);
            if (snapshots.Count == 1)
            {
                await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 4 });
            }
            else
            {
                break;
            }
        }

        Assert.Equal(2, snapshots.Count);
        Assert.Equal((0L, 0L), (snapshots[0].Totals.ReservedCapacity, snapshots[0].Holds.Active));
        var after = snapshots[1];
        Assert.Equal("live", after.EventId);
        Assert.Equal(6, Assert.Single(after.Capacity).AvailableCapacity);
        Assert.Equal(4, after.Totals.ReservedCapacity);
        Assert.Equal(1, after.Holds.Active);
        var expiring = Assert.Single(after.Holds.Expiring);
        Assert.Equal(4, expiring.Quantity);
        Assert.Equal(new ExpiringHoldItem(Assert.Single(after.Capacity).Id, 4), Assert.Single(expiring.Items!));
    }
}

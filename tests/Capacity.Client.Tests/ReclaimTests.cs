using System.Text.Json;
using Capacity.Cli;

namespace Capacity.Client.Tests;

/// <summary>
/// Confirming a hold after it expired (<see cref="ExpiredHoldAction.Reclaim"/>) through the SDK, on a server
/// whose clock the tests move: taken back at its locked price when its tickets are still free, refused
/// with the exact shortfall when they are not; and <c>capacity confirm --reclaim</c>. A reclaim is a box
/// office's call: the tenants here hold keys with the elevated scope (<see cref="KeyTests"/> has the refusal).
/// </summary>
public sealed class ReclaimTests(ClockedHost host) : IClassFixture<ClockedHost>
{
    private static readonly ConfirmReservationRequest Reclaim = new() { OnExpired = ExpiredHoldAction.Reclaim };

    [Fact]
    public async Task An_expired_hold_with_room_is_reclaimed_at_its_locked_price_and_only_that_answer_says_so()
    {
        var t = (await host.NewTenantAsync(scope: ApiKeyScope.Elevated)).Client;
        var pool = await t.CreateCapacityAsync("late", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 10 });
        var price = await t.CreatePricingAsync(pool.Id, new CreatePricingRequest { Name = "Standard", BasePrice = 40m, Currency = "EUR" });
        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 4, PricingId = price.Id, ReservationMinutes = 1 })).Reservation;
        await t.UpdatePricingAsync(price.Id, new UpdatePricingRequest { CurrentPrice = 90m });
        await host.AdvanceAndSweepAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(ReservationStatus.Expired, (await t.GetReservationAsync(hold.Id)).Status);

        // A plain confirm is refused as it always was, without a shortfall.
        var plain = await Assert.ThrowsAsync<CapacityApiException>(() => t.ConfirmAsync(hold.Id));
        Assert.Equal((409, "RESERVATION_EXPIRED", null), (plain.Status, plain.Code, plain.Shortfall));

        var sale = await t.ConfirmAsync(hold.Id, Reclaim);
        Assert.Equal((ReservationStatus.Confirmed, true, 40m), (sale.Status, sale.Reclaimed, Assert.Single(sale.Items).LockedPrice!.UnitPrice));
        Assert.Equal(160m, Assert.Single(sale.Totals).Subtotal);
        Assert.False((await t.GetReservationAsync(hold.Id)).Reclaimed);
        var counters = await t.GetCapacityAsync(pool.Id);
        Assert.Equal((0L, 4L), (counters.ReservedCapacity, counters.SoldCount));
        var entry = (await t.GetLedgerAsync("late")).Entries[^1];
        Assert.Equal((LedgerEntryKind.Reclaim, 0L, 4L, hold.Id), (entry.Kind, entry.ReservedDelta, entry.SoldDelta, entry.ReservationId));

        // Reclaiming a sale changes nothing and says nothing of a reclaim.
        Assert.False((await t.ConfirmAsync(hold.Id, Reclaim)).Reclaimed);
        Assert.Equal(4, (await t.GetCapacityAsync(pool.Id)).SoldCount);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_reclaim_without_room_is_refused_with_the_shortfall_and_reclaiming_what_is_free_takes_that_part()
    {
        var t = (await host.NewTenantAsync(scope: ApiKeyScope.Elevated)).Client;
        var stalls = await t.CreateCapacityAsync("late", new CreateCapacityRequest { SectionName = "Stalls", TotalCapacity = 10 });
        var parking = await t.CreateCapacityAsync("late", new CreateCapacityRequest { SectionName = "Parking", TotalCapacity = 10 });
        var cart = await t.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = stalls.Id, Quantity = 4 }, new ReservationItemRequest { CapacityId = parking.Id, Quantity = 2 }],
            ReservationMinutes = 1,
        });
        await host.AdvanceAndSweepAsync(TimeSpan.FromMinutes(2));
        await t.ReserveAsync(stalls.Id, new ReserveRequest { Quantity = 9 });

        var refused = await Assert.ThrowsAsync<CapacityApiException>(() => t.ConfirmAsync(cart.Id, Reclaim));
        Assert.Equal((409, "RESERVATION_EXPIRED"), (refused.Status, refused.Code));
        Assert.Equal([new ShortfallItem(stalls.Id, 4, 1)], refused.Shortfall!);
        Assert.Equal(ReservationStatus.Expired, (await t.GetReservationAsync(cart.Id)).Status);
        Assert.Equal(0, (await t.GetCapacityAsync(parking.Id)).SoldCount);

        var part = await t.ConfirmAsync(cart.Id, Reclaim with { Items = [new(stalls.Id, 1), new(parking.Id, 2)] });
        Assert.True(part.Reclaimed);
        Assert.Equal([(stalls.Id, 1), (parking.Id, 2)], part.Items.Select(i => (i.CapacityId, i.Quantity)));
        var after = await t.GetCapacityAsync(stalls.Id);
        Assert.Equal((9L, 1L, 0L), (after.ReservedCapacity, after.SoldCount, after.AvailableCapacity));

        // A released hold is never reclaimed.
        var released = (await t.ReserveAsync(parking.Id, new ReserveRequest { Quantity = 1 })).Reservation;
        await t.ReleaseAsync(released.Id);
        var never = await Assert.ThrowsAsync<CapacityApiException>(() => t.ConfirmAsync(released.Id, Reclaim));
        Assert.Equal((409, "RESERVATION_NOT_ACTIVE", null), (never.Status, never.Code, never.Shortfall));
        Assert.Equal(8, (await t.GetCapacityAsync(parking.Id)).AvailableCapacity);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Confirm_reclaim_prints_the_shortfall_of_a_refusal_and_then_the_sale_it_took_back()
    {
        var tenant = await host.NewTenantAsync(scope: ApiKeyScope.Elevated);
        var t = tenant.Client;
        var pool = await t.CreateCapacityAsync("late-cli", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 10 });
        var hold = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 4, ReservationMinutes = 1 })).Reservation;
        await host.AdvanceAndSweepAsync(TimeSpan.FromMinutes(2));
        var other = (await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 9 })).Reservation;
        var id = hold.Id.ToString();

        var plain = await host.RunCliAsync("confirm", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, plain.ExitCode);
        Assert.Contains("RESERVATION_EXPIRED", plain.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("asked for", plain.Error, StringComparison.Ordinal);

        var refused = await host.RunCliAsync("confirm", id, "--reclaim", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, refused.ExitCode);
        Assert.Contains($"  {pool.Id}: 4 asked for, 1 available", refused.Error, StringComparison.Ordinal);
        var json = await host.RunCliAsync("confirm", id, "--reclaim", "--json", "--key", tenant.Key);
        using (var problem = JsonDocument.Parse(json.Error))
        {
            var shortfall = Assert.Single(problem.RootElement.GetProperty("shortfall").EnumerateArray());
            Assert.Equal((4L, 1L), (shortfall.GetProperty("requested").GetInt64(), shortfall.GetProperty("available").GetInt64()));
        }

        // With the other hold given back there is room: the sale says it was taken back, at 4 tickets.
        await t.ReleaseAsync(other.Id);
        var sale = await host.RunCliAsync("confirm", id, "--reclaim", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, sale.ExitCode);
        Assert.Contains("confirmed", sale.Output, StringComparison.Ordinal);
        Assert.Contains("Reclaimed", sale.Output, StringComparison.Ordinal);
        Assert.Contains($"4 × {pool.Id}", sale.Output, StringComparison.Ordinal);
        Assert.Equal(4, (await t.GetCapacityAsync(pool.Id)).SoldCount);
        await host.AssertInvariantsAsync();
    }
}

namespace Capacity.Client.Tests;

/// <summary>Per-buyer limits through the SDK: every method, buyer keys on holds and carts, and their refusals.</summary>
public sealed class LimitTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task A_limit_is_created_listed_read_updated_and_deleted()
    {
        var t = (await host.NewTenantAsync()).Client;
        var stalls = await t.CreateCapacityAsync("final", new CreateCapacityRequest { SectionName = "Stalls", TotalCapacity = 500 });
        var circle = await t.CreateCapacityAsync("final", new CreateCapacityRequest { SectionName = "Circle", TotalCapacity = 500 });

        var limit = await t.CreateLimitAsync("final", new CreateLimitRequest { Name = "Six per person", CapacityIds = [stalls.Id, circle.Id], PerBuyerMax = 6 });
        Assert.Equal(("final", "Six per person", 6, false), (limit.EventId, limit.Name, limit.PerBuyerMax, limit.RequireBuyerKey));
        Assert.Equal([stalls.Id, circle.Id], limit.CapacityIds);
        var read = await t.GetLimitAsync(limit.Id);
        Assert.Equal(limit, read with { CapacityIds = limit.CapacityIds });
        Assert.Equal([limit.Id], (await t.ListLimitsAsync("final")).Select(l => l.Id));
        Assert.Empty(await t.ListLimitsAsync("another-event"));

        // A field left out stays as it is.
        var renamed = await t.UpdateLimitAsync(limit.Id, new UpdateLimitRequest { Name = "Six each" });
        Assert.Equal(("Six each", 6, false), (renamed.Name, renamed.PerBuyerMax, renamed.RequireBuyerKey));
        var tightened = await t.UpdateLimitAsync(limit.Id, new UpdateLimitRequest { PerBuyerMax = 4, RequireBuyerKey = true });
        Assert.Equal(("Six each", 4, true), (tightened.Name, tightened.PerBuyerMax, tightened.RequireBuyerKey));

        await t.DeleteLimitAsync(limit.Id);
        var gone = await Assert.ThrowsAsync<CapacityApiException>(() => t.GetLimitAsync(limit.Id));
        Assert.Equal((404, "NOT_FOUND"), (gone.Status, gone.Code));
        Assert.Empty(await t.ListLimitsAsync("final"));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_limit_of_4_refuses_the_fifth_ticket_of_one_buyer()
    {
        var t = (await host.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 100 });
        var box = await t.CreateAllocationAsync(floor.Id, new CreateAllocationRequest { Name = "Fan club", Quantity = 10 });
        var limit = await t.CreateLimitAsync("gig", new CreateLimitRequest { Name = "Four per person", CapacityIds = [floor.Id], PerBuyerMax = 4 });

        // Any printable key, sent as it is: the SDK escapes it in the usage query.
        const string buyer = "sha256:9f2c/41d0+e=a b";
        var hold = await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 3, BuyerKey = buyer });
        Assert.Equal(buyer, hold.Reservation.BuyerKey);

        // A hold drawn from an allocation counts like any other.
        var cart = await t.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = floor.Id, Quantity = 1, AllocationId = box.Id }],
            BuyerKey = buyer,
        });
        Assert.Equal((buyer, box.Id), (cart.BuyerKey, cart.Items[0].AllocationId));
        Assert.Equal(buyer, (await t.GetReservationAsync(cart.Id)).BuyerKey);
        Assert.Equal(new LimitUsage(limit.Id, buyer, 4, 4, 0), await t.GetLimitUsageAsync(limit.Id, buyer));

        var fifth = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1, BuyerKey = buyer }));
        Assert.Equal((409, "BUYER_LIMIT_EXCEEDED"), (fifth.Status, fifth.Code));
        Assert.Equal((limit.Id, 4L, 1L, 4), (fifth.LimitId, fifth.Used, fifth.Requested, fifth.PerBuyerMax));

        // Another buyer has an allowance of their own, and a hold without a key counts against no one.
        var other = await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 4, BuyerKey = "someone-else" });
        Assert.Equal("someone-else", other.Reservation.BuyerKey);
        var anonymous = await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 5 });
        Assert.Null(anonymous.Reservation.BuyerKey);
        Assert.Equal(0, (await t.GetLimitUsageAsync(limit.Id, "nobody")).Used);

        // Releasing a hold gives its tickets back to the buyer's allowance.
        await t.ReleaseAsync(hold.Reservation.Id);
        Assert.Equal(1, (await t.GetLimitUsageAsync(limit.Id, buyer)).Used);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Units_a_buyer_waits_for_count_in_its_usage_and_the_answer_says_how_many()
    {
        var t = (await host.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 2 });
        var balcony = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Balcony", TotalCapacity = 10 });
        await t.UpdateCapacityAsync(floor.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } });
        var limit = await t.CreateLimitAsync("gig", new CreateLimitRequest { Name = "Four per person", CapacityIds = [floor.Id, balcony.Id], PerBuyerMax = 4 });
        await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 2 });
        await t.ReserveAsync(balcony.Id, new ReserveRequest { Quantity = 1, BuyerKey = "fan" });
        await t.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(floor.Id, 2)], BuyerKey = "fan" });

        Assert.Equal(new LimitUsage(limit.Id, "fan", 3, 4, 2), await t.GetLimitUsageAsync(limit.Id, "fan"));
        var entry = (await t.GetWaitlistAsync(floor.Id)).Entries.Single();
        Assert.Null((await t.GetWaitlistEntryAsync(entry.Id)).HeldBackByLimitId);
        var refused = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(balcony.Id, new ReserveRequest { Quantity = 2, BuyerKey = "fan" }));
        Assert.Equal((409, "BUYER_LIMIT_EXCEEDED", 3L, 2L), (refused.Status, refused.Code, refused.Used, refused.Requested));

        // Lowered below what the fan has, the limit holds the entry back, and the entry says so.
        await t.UpdateLimitAsync(limit.Id, new UpdateLimitRequest { PerBuyerMax = 2 });
        Assert.Equal(limit.Id, (await t.GetWaitlistEntryAsync(entry.Id)).HeldBackByLimitId);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_limit_that_requires_a_buyer_key_refuses_a_hold_without_one_as_buyer_key_required()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });
        var limit = await t.CreateLimitAsync("e", new CreateLimitRequest { Name = "Two", CapacityIds = [hall.Id], PerBuyerMax = 2, RequireBuyerKey = true });

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => t.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = hall.Id, Quantity = 1 }],
        }));

        Assert.Equal((400, "BUYER_KEY_REQUIRED", limit.Id), (ex.Status, ex.Code, ex.LimitId));
        Assert.Null(ex.Used);
        Assert.Equal(0, (await t.GetCapacityAsync(hall.Id)).ReservedCapacity);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_delete_sent_again_with_its_key_answers_as_the_first_did_and_with_a_new_key_is_not_found()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });
        var limit = await t.CreateLimitAsync("e", new CreateLimitRequest { Name = "Two", CapacityIds = [hall.Id], PerBuyerMax = 2 });

        await t.DeleteLimitAsync(limit.Id, idempotencyKey: "delete-two");
        await t.DeleteLimitAsync(limit.Id, idempotencyKey: "delete-two");
        var again = await Assert.ThrowsAsync<CapacityApiException>(() => t.DeleteLimitAsync(limit.Id));

        Assert.Equal((404, "NOT_FOUND"), (again.Status, again.Code));
        Assert.Empty(await t.ListLimitsAsync("e"));
    }
}

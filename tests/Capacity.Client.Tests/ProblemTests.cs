using System.Net;

namespace Capacity.Client.Tests;

/// <summary>Every error answer arrives as one exception type carrying the problem's fields.</summary>
public sealed class ProblemTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task Insufficient_capacity_is_a_409_that_carries_the_available_count()
    {
        var t = (await host.NewTenantAsync()).Client;
        var vip = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "VIP", TotalCapacity = 5 });
        await t.ReserveAsync(vip.Id, new ReserveRequest { Quantity = 3 });

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(vip.Id, new ReserveRequest { Quantity = 3 }));

        Assert.Equal(409, ex.Status);
        Assert.Equal("INSUFFICIENT_CAPACITY", ex.Code);
        Assert.Equal(2, ex.AvailableCapacity);
        Assert.Equal("Not enough capacity.", ex.Title);
        Assert.False(string.IsNullOrEmpty(ex.Detail));
        Assert.Equal("/problems/insufficient-capacity", ex.Problem!.Value.GetProperty("type").GetString());
        Assert.Empty(ex.Errors);
    }

    [Fact]
    public async Task A_validation_error_names_each_field_with_its_messages()
    {
        var t = (await host.NewTenantAsync()).Client;

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() =>
            t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Huge", TotalCapacity = 2_000_000 }));

        Assert.Equal(400, ex.Status);
        Assert.Equal("VALIDATION_ERROR", ex.Code);
        var messages = ex.Errors["total_capacity"];
        Assert.Contains("total_capacity must be between 0", Assert.Single(messages), StringComparison.Ordinal);
        Assert.Null(ex.AvailableCapacity);
    }

    [Fact]
    public async Task A_quantity_out_of_range_is_invalid_quantity()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 5 });

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 0 }));

        Assert.Equal((400, "INVALID_QUANTITY"), (ex.Status, ex.Code));
    }

    [Fact]
    public async Task Another_tenants_reservation_is_not_found()
    {
        var owner = (await host.NewTenantAsync("Owner")).Client;
        var other = (await host.NewTenantAsync("Other")).Client;
        var hall = await owner.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 5 });
        var hold = await owner.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 });

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => other.GetReservationAsync(hold.Reservation.Id));

        Assert.Equal((404, "NOT_FOUND"), (ex.Status, ex.Code));
    }

    [Fact]
    public async Task Confirming_a_released_hold_is_a_conflict_and_releasing_it_again_is_not()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 5 });
        var hold = await t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 });
        await t.ReleaseAsync(hold.Reservation.Id);

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => t.ConfirmAsync(hold.Reservation.Id));

        Assert.Equal((409, "RESERVATION_NOT_ACTIVE"), (ex.Status, ex.Code));
        Assert.Equal(ReservationStatus.Released, (await t.ReleaseAsync(hold.Reservation.Id)).Status);
    }

    [Fact]
    public async Task An_unknown_key_is_401_and_a_key_of_the_wrong_kind_is_403()
    {
        var unknown = await Assert.ThrowsAsync<CapacityApiException>(() => host.Client("cap_not-a-key").ListEventsAsync());
        Assert.Equal((401, "UNAUTHORIZED"), (unknown.Status, unknown.Code));

        var adminOnTenantRoute = await Assert.ThrowsAsync<CapacityApiException>(() => host.Admin().ListEventsAsync());
        Assert.Equal((403, "FORBIDDEN"), (adminOnTenantRoute.Status, adminOnTenantRoute.Code));

        var tenant = (await host.NewTenantAsync()).Client;
        var tenantOnAdminRoute = await Assert.ThrowsAsync<CapacityApiException>(() => tenant.VerifyAsync());
        Assert.Equal((403, "FORBIDDEN"), (tenantOnAdminRoute.Status, tenantOnAdminRoute.Code));
    }

    [Fact]
    public async Task An_extension_the_server_sends_as_null_reads_as_null()
    {
        var stub = new StubHandler((_, _) => StubHandler.Json(HttpStatusCode.Conflict,
            """{"status":409,"title":"The allocation is closed.","code":"ALLOCATION_CLOSED","allocation_id":null,"available_capacity":null,"idle":null}"""));
        var client = new CapacityClient(new HttpClient(stub) { BaseAddress = new Uri("http://localhost/") }, "k");

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => client.CloseAllocationAsync(Guid.NewGuid()));

        Assert.Equal((409, "ALLOCATION_CLOSED"), (ex.Status, ex.Code));
        Assert.Null(ex.AllocationId);
        Assert.Null(ex.AvailableCapacity);
        Assert.Null(ex.Idle);
    }

    [Fact]
    public async Task A_shortfall_sent_as_null_reads_as_null_and_an_entry_without_its_members_is_left_out()
    {
        var capacityId = Guid.NewGuid();
        var answers = new[]
        {
            """{"status":409,"title":"The reservation has expired.","code":"RESERVATION_EXPIRED","shortfall":null}""",
            $$"""{"status":409,"title":"The reservation has expired.","code":"RESERVATION_EXPIRED","shortfall":[{"capacity_id":"{{capacityId}}","requested":4,"available":1},{"capacity_id":"{{capacityId}}"},7]}""",
        };
        var stub = new StubHandler((_, call) => StubHandler.Json(HttpStatusCode.Conflict, answers[call - 1]));
        var client = new CapacityClient(new HttpClient(stub) { BaseAddress = new Uri("http://localhost/") }, "k");
        var reclaim = new ConfirmReservationRequest { OnExpired = ExpiredHoldAction.Reclaim };

        var none = await Assert.ThrowsAsync<CapacityApiException>(() => client.ConfirmAsync(Guid.NewGuid(), reclaim));
        var some = await Assert.ThrowsAsync<CapacityApiException>(() => client.ConfirmAsync(Guid.NewGuid(), reclaim));

        Assert.Equal(("RESERVATION_EXPIRED", null), (none.Code, none.Shortfall));
        Assert.Equal([new ShortfallItem(capacityId, 4, 1)], some.Shortfall!);
    }

    [Fact]
    public async Task An_error_page_that_is_not_a_problem_still_becomes_the_exception_with_its_text()
    {
        var handler = new StubHandler((_, _) => new HttpResponseMessage(HttpStatusCode.BadGateway)
        {
            Content = new StringContent("<html>upstream down</html>", System.Text.Encoding.UTF8, "text/html"),
        });
        var client = new CapacityClient(new HttpClient(handler) { BaseAddress = new Uri("http://localhost/") }, "k");

        var ex = await Assert.ThrowsAsync<CapacityApiException>(() => client.ListEventsAsync());

        Assert.Equal((502, "HTTP_502"), (ex.Status, ex.Code));
        Assert.Equal("<html>upstream down</html>", ex.Detail);
        Assert.Null(ex.Problem);
        Assert.Equal(1, handler.Calls);
    }
}

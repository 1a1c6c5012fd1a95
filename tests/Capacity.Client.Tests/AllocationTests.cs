namespace Capacity.Client.Tests;

/// <summary>Allocations through the SDK: every method, the holds drawn from one, where they show, and their refusals.</summary>
public sealed class AllocationTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task An_allocation_is_created_listed_read_resized_released_and_closed()
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gala", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 100 });
        var expires = DateTimeOffset.UtcNow.AddDays(7);

        var box = await t.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Box office", Quantity = 40, ExpiresAt = expires });
        Assert.Equal((pool.Id, "gala", "Box office"), (box.CapacityId, box.EventId, box.Name));
        Assert.Equal((40L, 0L, 0L, 40L, AllocationStatus.Open), Counters(box));

        // The server keeps times to the millisecond.
        Assert.Equal(expires.ToUnixTimeMilliseconds(), box.ExpiresAt?.ToUnixTimeMilliseconds());
        Assert.Equal([box], await t.ListAllocationsAsync(pool.Id));
        Assert.Equal(box, await t.GetAllocationAsync(box.Id));
        Assert.Equal(60, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);

        // A field left out stays as it is; a null expires_at clears it.
        var renamed = await t.UpdateAllocationAsync(box.Id, new UpdateAllocationRequest { Name = "Box office north" });
        Assert.Equal((40L, box.ExpiresAt), (renamed.Size, renamed.ExpiresAt));
        var resized = await t.UpdateAllocationAsync(box.Id, new UpdateAllocationRequest { Quantity = 30, ExpiresAt = null });
        Assert.Equal(("Box office north", 30L, (DateTimeOffset?)null), (resized.Name, resized.Size, resized.ExpiresAt));
        Assert.Equal(70, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);

        var released = await t.ReleaseAllocationAsync(box.Id, 10);
        Assert.Equal((20L, 0L, 0L, 20L, AllocationStatus.Open), Counters(released));
        Assert.Equal(80, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);

        var closed = await t.CloseAllocationAsync(box.Id);
        Assert.Equal((0L, 0L, 0L, 0L, AllocationStatus.Closed), Counters(closed));
        Assert.Equal(closed, await t.CloseAllocationAsync(box.Id));
        Assert.Equal(100, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Holds_drawn_from_an_allocation_carry_its_id_and_leave_public_availability_alone()
    {
        var (t, pool, box) = await PoolWithAllocationAsync("cup", "Sponsor", 10);
        var parking = await t.CreateCapacityAsync("cup", new CreateCapacityRequest { SectionName = "Parking", TotalCapacity = 10 });

        var held = await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 4, AllocationId = box.Id });
        Assert.Equal(box.Id, Assert.Single(held.Reservation.Items).AllocationId);
        Assert.Equal(90, held.Capacity.AvailableCapacity);

        // A cart may mix allocated and public items; only the allocated one names the allocation.
        var cart = await t.CreateReservationAsync(new CreateReservationRequest
        {
            Items =
            [
                new ReservationItemRequest { CapacityId = pool.Id, Quantity = 2, AllocationId = box.Id },
                new ReservationItemRequest { CapacityId = parking.Id, Quantity = 1 },
            ],
        });
        Assert.Equal([box.Id, null], cart.Items.Select(i => i.AllocationId));
        Assert.Equal(cart.Items, (await t.GetReservationAsync(cart.Id)).Items);
        await t.ConfirmAsync(cart.Id);
        Assert.Equal((10L, 4L, 2L, 4L, AllocationStatus.Open), Counters(await t.GetAllocationAsync(box.Id)));
        Assert.Equal(90, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);

        // Every view of the capacity lists the allocation; a capacity that never had one has no list.
        var summary = new AllocationSummary(box.Id, "Sponsor", 10, 4, 2, 4, AllocationStatus.Open, null);
        Assert.Equal(summary, Assert.Single((await t.GetCapacityAsync(pool.Id)).Allocations!));
        var listed = await t.ListCapacityAsync("cup");
        Assert.Equal(summary, Assert.Single(listed[0].Allocations!));
        Assert.Null(listed[1].Allocations);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var stream = t.WatchAsync("cup", stop.Token).GetAsyncEnumerator(stop.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(summary, Assert.Single(stream.Current.Capacity[0].Allocations!));
        Assert.Null(stream.Current.Capacity[1].Allocations);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_ledger_records_allocate_and_deallocate_entries_without_a_reservation()
    {
        var (t, pool, box) = await PoolWithAllocationAsync("fair", "Press", 10);
        var fromBox = await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 3, AllocationId = box.Id });
        await t.ReleaseAllocationAsync(box.Id, 5);
        var publicHold = await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 2 });

        var entries = (await t.GetLedgerAsync("fair")).Entries;

        // A hold inside an open allocation moves nothing on the pool, and still has its entry.
        Assert.Equal(
            new (LedgerEntryKind, Guid?, Guid?, long)[]
            {
                (LedgerEntryKind.Allocate, null, box.Id, 10),
                (LedgerEntryKind.Hold, fromBox.Reservation.Id, box.Id, 0),
                (LedgerEntryKind.Deallocate, null, box.Id, -5),
                (LedgerEntryKind.Hold, publicHold.Reservation.Id, null, 2),
            },
            entries.Select(e => (e.Kind, e.ReservationId, e.AllocationId, e.ReservedDelta)));
        Assert.All(entries, e => Assert.Equal(pool.Id, e.CapacityId));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task More_than_the_idle_tickets_is_allocation_insufficient_and_a_size_below_the_committed_is_allocation_below_committed()
    {
        var (t, pool, box) = await PoolWithAllocationAsync("e", "Box office", 10);
        await t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 4, AllocationId = box.Id });

        var hold = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 7, AllocationId = box.Id }));
        Assert.Equal((409, "ALLOCATION_INSUFFICIENT", 6L, box.Id), (hold.Status, hold.Code, hold.Idle, hold.AllocationId));

        var release = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReleaseAllocationAsync(box.Id, 7));
        Assert.Equal((409, "ALLOCATION_INSUFFICIENT", 6L, box.Id), (release.Status, release.Code, release.Idle, release.AllocationId));

        var shrink = await Assert.ThrowsAsync<CapacityApiException>(() => t.UpdateAllocationAsync(box.Id, new UpdateAllocationRequest { Quantity = 3 }));
        Assert.Equal((409, "ALLOCATION_BELOW_COMMITTED", box.Id), (shrink.Status, shrink.Code, shrink.AllocationId));
        Assert.Null(shrink.Idle);

        Assert.Equal((10L, 4L, 0L, 6L, AllocationStatus.Open), Counters(await t.GetAllocationAsync(box.Id)));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_closed_allocation_refuses_holds_releases_and_resizes_as_allocation_closed()
    {
        var (t, pool, box) = await PoolWithAllocationAsync("e", "Box office", 10);
        await t.CloseAllocationAsync(box.Id);

        var refusals = new[]
        {
            await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1, AllocationId = box.Id })),
            await Assert.ThrowsAsync<CapacityApiException>(() => t.ReleaseAllocationAsync(box.Id, 1)),
            await Assert.ThrowsAsync<CapacityApiException>(() => t.UpdateAllocationAsync(box.Id, new UpdateAllocationRequest { Quantity = 20 })),
        };

        Assert.All(refusals, ex => Assert.Equal((409, "ALLOCATION_CLOSED", box.Id), (ex.Status, ex.Code, ex.AllocationId)));
        Assert.Equal(100, (await t.GetCapacityAsync(pool.Id)).AvailableCapacity);
        await host.AssertInvariantsAsync();
    }

    /// <summary>A new tenant with a pool of 100 on <paramref name="eventId"/>, <paramref name="size"/> of it set aside.</summary>
    private async Task<(CapacityClient Client, CapacityDetails Pool, AllocationDetails Allocation)> PoolWithAllocationAsync(string eventId, string name, int size)
    {
        var t = (await host.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 100 });
        return (t, pool, await t.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = name, Quantity = size }));
    }

    private static (long Size, long Held, long Sold, long Idle, AllocationStatus Status) Counters(AllocationDetails a) =>
        (a.Size, a.Held, a.Sold, a.Idle, a.Status);
}

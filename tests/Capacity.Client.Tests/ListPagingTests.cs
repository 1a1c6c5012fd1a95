namespace Capacity.Client.Tests;

/// <summary>
/// The lists that page by id through the SDK (capacities, price entries, events, allocations, per-buyer limits, keys): a page at
/// a time with <c>after</c> and <c>limit</c> until <c>NextAfter</c> is null, and every item at once, however the service pages.
/// </summary>
public sealed class ListPagingTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task Each_list_reads_a_page_at_a_time_by_its_next_after_until_it_is_null()
    {
        var tenant = await host.NewTenantAsync();
        var t = tenant.Client;
        var pool = await t.CreateCapacityAsync("paging-1", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 100 });
        await t.CreateCapacityAsync("paging-1", new CreateCapacityRequest { SectionName = "Stalls", TotalCapacity = 50, ParentIds = [pool.Id] });
        await t.CreateCapacityAsync("paging-1", new CreateCapacityRequest { SectionName = "Circle", TotalCapacity = 50, ParentIds = [pool.Id] });
        await t.CreateCapacityAsync("paging-2", new CreateCapacityRequest { SectionName = "Hall" });
        await t.CreateCapacityAsync("paging-3", new CreateCapacityRequest { SectionName = "Hall" });
        foreach (var name in new[] { "Adult", "Child", "Student" })
        {
            await t.CreatePricingAsync(pool.Id, new CreatePricingRequest { Name = name, BasePrice = 10m, Currency = "EUR" });
            await t.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = name, Quantity = 1 });
            await t.CreateLimitAsync("paging-1", new CreateLimitRequest { Name = name, CapacityIds = [pool.Id], PerBuyerMax = 4 });
        }

        var admin = host.Admin();
        await admin.IssueKeyAsync(tenant.Id);
        await admin.IssueKeyAsync(tenant.Id);

        await AssertPagedAsync(await t.ListCapacityAsync("paging-1"), c => c.Id, async after =>
        {
            var page = await t.ListCapacityAsync("paging-1", after, 2);
            return (page.Capacity, page.NextAfter);
        });
        await AssertPagedAsync(await t.ListPricingAsync(pool.Id), p => p.Id, async after =>
        {
            var page = await t.ListPricingAsync(pool.Id, after, 2);
            return (page.Pricing, page.NextAfter);
        });
        await AssertPagedAsync(await t.ListAllocationsAsync(pool.Id), a => a.Id, async after =>
        {
            var page = await t.ListAllocationsAsync(pool.Id, after, 2);
            return (page.Allocations, page.NextAfter);
        });
        await AssertPagedAsync(await t.ListLimitsAsync("paging-1"), l => l.Id, async after =>
        {
            var page = await t.ListLimitsAsync("paging-1", after, 2);
            return (page.Limits, page.NextAfter);
        });
        await AssertPagedAsync(await admin.ListKeysAsync(tenant.Id), k => k.Id, async after =>
        {
            var page = await admin.ListKeysAsync(tenant.Id, after, 2);
            return (page.Keys, page.NextAfter);
        });
        // Tenants: other tests of the host create theirs meanwhile, so the pages are checked on their own.
        var tenants = new List<TenantInfo>();
        for (Guid? after = null; ;)
        {
            var page = await admin.ListTenantsAsync(after, 2);
            Assert.True(page.Tenants.Count <= 2);
            tenants.AddRange(page.Tenants);
            if ((after = page.NextAfter) is null)
            {
                break;
            }
        }

        Assert.Equal(tenants.Count, tenants.Select(x => x.TenantId).Distinct().Count());
        Assert.Equal(tenants.OrderBy(x => x.CreatedAt), tenants);
        Assert.Contains(tenants, x => x.TenantId == tenant.Id);
        Assert.Contains(await admin.ListTenantsAsync(), x => x.TenantId == tenant.Id);

        // Events page by their ids, oldest first.
        var first = await t.ListEventsAsync(after: null, limit: 2);
        Assert.Equal(["paging-1", "paging-2"], first.Events.Select(e => e.EventId));
        Assert.Equal("paging-2", first.NextAfter);
        var last = await t.ListEventsAsync(first.NextAfter, 2);
        Assert.Equal(["paging-3"], last.Events.Select(e => e.EventId));
        Assert.Null(last.NextAfter);

        // Neither after nor limit: the whole list in one page, with no next.
        var whole = await t.ListCapacityAsync("paging-1", after: null);
        Assert.Equal((3, null), (whole.Capacity.Count, whole.NextAfter));

        // A cursor that is none of the list's is refused, not read as the start.
        var stray = await Assert.ThrowsAsync<CapacityApiException>(() => t.ListCapacityAsync("paging-1", Guid.NewGuid(), 2));
        Assert.Equal((400, "VALIDATION_ERROR"), (stray.Status, stray.Code));
        Assert.Contains("after", stray.Errors.Keys);
    }

    [Fact]
    public async Task A_whole_list_follows_next_after_when_the_service_answers_it_in_pages()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("pages-e", new CreateCapacityRequest { SectionName = "Pool", TotalCapacity = 10 });
        await tenant.Client.CreateCapacityAsync("pages-e", new CreateCapacityRequest { SectionName = "Stalls", ParentIds = [pool.Id] });
        await tenant.Client.CreateCapacityAsync("pages-f", new CreateCapacityRequest { SectionName = "Hall" });
        await tenant.Client.CreatePricingAsync(pool.Id, new CreatePricingRequest { Name = "Adult", BasePrice = 10m, Currency = "EUR" });
        await tenant.Client.CreatePricingAsync(pool.Id, new CreatePricingRequest { Name = "Child", BasePrice = 5m, Currency = "EUR" });
        var paged = host.Client(tenant.Key, null, new ListsInPages());

        Assert.Equal(["Pool", "Stalls"], (await paged.ListCapacityAsync("pages-e")).Select(c => c.SectionName));
        Assert.Equal(["pages-e", "pages-f"], (await paged.ListEventsAsync()).Select(e => e.EventId));
        Assert.Equal(["Adult", "Child"], (await paged.ListPricingAsync(pool.Id)).Select(p => p.Name));
    }

    /// <summary>Reads <paramref name="read"/> two at a time from the start: pages of 2 and 1, the same items as the whole list, in its order.</summary>
    private static async Task AssertPagedAsync<T>(IReadOnlyList<T> whole, Func<T, Guid> id, Func<Guid?, Task<(IReadOnlyList<T> Items, Guid? Next)>> read)
    {
        var pages = new List<IReadOnlyList<T>>();
        Guid? after = null;
        do
        {
            var (items, next) = await read(after);
            pages.Add(items);
            after = next;
            if (next is { } cursor)
            {
                Assert.Equal(id(items[^1]), cursor);
            }
        }
        while (after is not null);

        Assert.Equal([2, 1], pages.Select(p => p.Count));
        Assert.Equal(whole.Select(id), pages.SelectMany(p => p).Select(id));
    }
}

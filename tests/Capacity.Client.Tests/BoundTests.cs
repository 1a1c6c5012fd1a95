namespace Capacity.Client.Tests;

/// <summary>A refusal for being at one of the service's bounds carries the bound, as <see cref="CapacityApiException.Limit"/>.</summary>
public sealed class BoundTests(WebhookHost host) : IClassFixture<WebhookHost>
{
    [Fact]
    public async Task The_webhook_past_the_tenants_bound_is_refused_with_the_bound_as_its_limit()
    {
        var t = (await host.NewTenantAsync()).Client;
        for (var i = 0; i < 20; i++)
        {
            await t.CreateWebhookAsync(new CreateWebhookRequest { Url = $"https://example.com/hooks/{i}", Events = [WebhookEventTypes.CapacityLow] });
        }

        var refused = await Assert.ThrowsAsync<CapacityApiException>(() =>
            t.CreateWebhookAsync(new CreateWebhookRequest { Url = "https://example.com/hooks/21", Events = [WebhookEventTypes.CapacityLow] }));

        Assert.Equal((409, "TOO_MANY_WEBHOOKS", 20), (refused.Status, refused.Code, refused.Limit));
        Assert.Equal(20, (await t.ListWebhooksAsync()).Count);
    }

    [Fact]
    public async Task Another_refusal_has_no_limit()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hall = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 1 });

        var refused = await Assert.ThrowsAsync<CapacityApiException>(() => t.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 2 }));

        Assert.Equal(("INSUFFICIENT_CAPACITY", null), (refused.Code, refused.Limit));
    }
}

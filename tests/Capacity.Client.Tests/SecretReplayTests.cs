namespace Capacity.Client.Tests;

/// <summary>
/// The four calls that show a secret once: a replay of their answer carries none, and is thrown rather than returned with a
/// null, whether the SDK's own retry after a lost answer or the caller's reused key got it.
/// </summary>
public sealed class SecretReplayTests(WebhookHost host) : IClassFixture<WebhookHost>
{
    private static readonly CapacityClientOptions Fast = new() { RetryDelay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public async Task A_webhook_created_through_a_lost_answer_throws_with_the_webhook_id_instead_of_a_null_secret()
    {
        var tenant = await host.NewTenantAsync();
        var client = host.Client(tenant.Key, Fast, new LoseFirstAnswer());

        var lost = await Assert.ThrowsAsync<SecretNotShownException>(() => client.CreateWebhookAsync(Hook()));

        var created = Assert.Single(await tenant.Client.ListWebhooksAsync());
        Assert.Equal(created.Id, lost.WebhookId);
        Assert.Null(lost.TenantId);
        Assert.Contains(created.Id.ToString(), lost.Message, StringComparison.Ordinal);
        Assert.Contains("rotate", lost.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_secret_rotated_through_a_lost_answer_throws_with_the_webhook_id()
    {
        var tenant = await host.NewTenantAsync();
        var hook = await tenant.Client.CreateWebhookAsync(Hook());

        var lost = await Assert.ThrowsAsync<SecretNotShownException>(
            () => host.Client(tenant.Key, Fast, new LoseFirstAnswer()).RotateWebhookSecretAsync(hook.Id));

        Assert.Equal(hook.Id, lost.WebhookId);
        Assert.Contains(hook.Id.ToString(), lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tenant_created_through_a_lost_answer_throws_with_the_tenant_and_the_key_to_revoke()
    {
        var admin = host.Client(CapacityHost.AdminKey, Fast, new LoseFirstAnswer());

        var lost = await Assert.ThrowsAsync<SecretNotShownException>(() => admin.CreateTenantAsync("Lost and found"));

        var tenantId = Assert.IsType<Guid>(lost.TenantId);
        var key = Assert.Single(await host.Admin().ListKeysAsync(tenantId));
        Assert.Equal(key.Id, lost.KeyId);
        Assert.Null(lost.WebhookId);
        Assert.Contains(tenantId.ToString(), lost.Message, StringComparison.Ordinal);
        Assert.Contains(key.Id.ToString(), lost.Message, StringComparison.Ordinal);
        Assert.Contains("revoke", lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_issued_again_with_the_callers_own_idempotency_key_throws_naming_the_key_issued_the_first_time()
    {
        var tenant = await host.NewTenantAsync();
        var first = await host.Admin().IssueKeyAsync(tenant.Id, new IssueKeyRequest { Name = "box office" }, idempotencyKey: "issue-1");

        var lost = await Assert.ThrowsAsync<SecretNotShownException>(
            () => host.Admin().IssueKeyAsync(tenant.Id, new IssueKeyRequest { Name = "box office" }, idempotencyKey: "issue-1"));

        Assert.NotNull(first.ApiKey);
        Assert.Equal((tenant.Id, first.Key!.Id), (lost.TenantId, lost.KeyId));
        Assert.Contains("issue another key", lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replay_of_a_write_that_shows_no_secret_is_still_returned()
    {
        var tenant = await host.NewTenantAsync();
        var hook = await tenant.Client.CreateWebhookAsync(Hook());

        var first = await tenant.Client.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Description = "Ops" }, idempotencyKey: "update-1");
        var again = await tenant.Client.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Description = "Ops" }, idempotencyKey: "update-1");

        Assert.Equal((first.Id, first.Description, first.UpdatedAt), (again.Id, again.Description, again.UpdatedAt));
    }

    private static CreateWebhookRequest Hook() => new() { Url = "https://example.com/hooks/capacity", Events = [WebhookEventTypes.CapacitySoldOut] };

    /// <summary>Forwards the first request to the server, then throws its answer away as a reset connection would.</summary>
    private sealed class LoseFirstAnswer : DelegatingHandler
    {
        private int _calls;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (Interlocked.Increment(ref _calls) > 1)
            {
                return response;
            }

            response.Dispose();
            throw new HttpRequestException("Connection reset by peer (after the request was processed).");
        }
    }
}

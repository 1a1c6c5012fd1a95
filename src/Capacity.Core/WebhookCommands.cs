namespace Capacity.Core;

/// <summary>A new endpoint. The secret is made by the caller (the core draws no randomness).</summary>
public sealed record CreateWebhook(Guid TenantId, Guid Id, string Url, Topics Topics, string? Description, string Secret) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Webhooks.Add(Id);
        keys.WebhookTenants.Add(TenantId);
        keys.EndpointChanges.Add(TenantId);
    }
}

public sealed record UpdateWebhook(Guid TenantId, Guid Id, Change<string> Url, Change<Topics> Topics, Change<string?> Description, Change<bool> Enabled) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Webhooks.Add(Id);
        if (Topics.IsSet || Enabled.IsSet)
        {
            keys.EndpointChanges.Add(TenantId);
        }
    }
}

/// <summary>Removes an endpoint and every delivery it still has.</summary>
public sealed record DeleteWebhook(Guid TenantId, Guid Id) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Webhooks.Add(Id);
        keys.EndpointChanges.Add(TenantId);
    }
}

/// <summary>Replaces an endpoint's secret at once: deliveries sent from now on are signed with the new one.</summary>
public sealed record RotateWebhookSecret(Guid TenantId, Guid Id, string Secret) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Webhooks.Add(Id);
}

/// <summary>
/// What one attempt at a delivery came to: a status code from the receiver (2xx is success) or an
/// error (timeout, refused connection, refused address). <paramref name="Jitter"/> in [0, 1) is drawn
/// by the dispatcher and stretches the backoff, so that endpoints that failed together do not retry together.
/// </summary>
public sealed record RecordDeliveryAttempt(Guid TenantId, Guid EndpointId, long Sequence, int? StatusCode, string? Error, int DurationMs, double Jitter) : Command
{
    public bool Succeeded => StatusCode is >= 200 and < 300;

    protected override void AddKeys(LoadKeys keys)
    {
        keys.Webhooks.Add(EndpointId);
        keys.Deliveries.Add((EndpointId, Sequence));
    }
}

/// <summary>Sends a delivery again, whatever its state: at once, with a fresh retry window.</summary>
public sealed record RetryDelivery(Guid TenantId, Guid EndpointId, long Sequence) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Webhooks.Add(EndpointId);
        keys.Deliveries.Add((EndpointId, Sequence));
    }
}

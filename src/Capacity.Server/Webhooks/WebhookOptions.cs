namespace Capacity.Server.Webhooks;

/// <summary>Webhook delivery, bound from <c>Capacity:Webhooks</c>.</summary>
internal sealed class WebhookOptions
{
    /// <summary>
    /// Lets endpoints on loopback, link-local and private addresses be subscribed and called: for tests
    /// and on-premises use. Off by default, so that a tenant cannot make the server call its own network.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>How long one delivery may take, connection included, before it counts as failed.</summary>
    public int TimeoutMs { get; set; } = 5000;

    /// <summary>How often the dispatcher looks for due deliveries when no commit has woken it (retries come due by the clock).</summary>
    public int PollIntervalMs { get; set; } = 1000;

    /// <summary>Off stops this node from sending (it still writes notices): for a node that should only serve requests.</summary>
    public bool Dispatch { get; set; } = true;
}

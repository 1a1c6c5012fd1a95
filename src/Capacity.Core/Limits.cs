namespace Capacity.Core;

/// <summary>
/// Every bound the core enforces, in one place. The server binds these from configuration; the
/// defaults are the documented ones.
/// </summary>
public sealed record CoreLimits
{
    public int MaxTotalCapacity { get; init; } = 1_000_000;
    public int MaxQuantityPerItem { get; init; } = 100;
    public int MaxItemsPerReservation { get; init; } = 50;
    public int DefaultHoldMinutes { get; init; } = 15;
    public int MaxHoldMinutes { get; init; } = 120;
    /// <summary>How long a hold may live from creation, extensions included.</summary>
    public int MaxLifetimeMinutes { get; init; } = 120;
    /// <summary>Longest chain from a node to a root, the node included (venue → level → section → type fits easily).</summary>
    public int MaxDepth { get; init; } = 8;
    public int MaxParents { get; init; } = 16;
    public int MaxNameLength { get; init; } = 200;
    public int MaxCodeLength { get; init; } = 64;
    public decimal MaxPrice { get; init; } = 1_000_000_000m;

    /// <summary>Most capacities one buyer limit may cover.</summary>
    public int MaxLimitCapacities { get; init; } = 100;

    /// <summary>Longest a waiting-list offer may be held before it lapses (<c>offer_minutes</c>).</summary>
    public int MaxOfferMinutes { get; init; } = 120;

    /// <summary>How long an offer lasts when a waiting list is turned on without <c>offer_minutes</c>.</summary>
    public int DefaultOfferMinutes { get; init; } = 30;

    /// <summary>Most characters of an <c>external_ref</c>, on a hold or a waiting-list entry.</summary>
    public int MaxExternalRefLength { get; init; } = 128;

    /// <summary>Most webhook endpoints one tenant may have.</summary>
    public int MaxWebhooks { get; init; } = 20;

    /// <summary>Most characters of a webhook's URL.</summary>
    public int MaxWebhookUrlLength { get; init; } = 2000;

    public static CoreLimits Default { get; } = new();
}

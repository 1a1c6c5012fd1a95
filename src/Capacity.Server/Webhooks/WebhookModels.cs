using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;

namespace Capacity.Server.Webhooks;

internal sealed record CreateWebhookRequest
{
    /// <summary>http or https; a private, loopback or link-local address is refused unless the operator allows them.</summary>
    public required string Url { get; init; }

    /// <summary>The event types to send, at least one (see <c>GET /webhooks</c>'s documentation for the list).</summary>
    public required string[] Events { get; init; }

    public string? Description { get; init; }
}

/// <summary>The fields a PUT may send, each optional; read field by field (<see cref="PatchReader"/>).</summary>
internal sealed record UpdateWebhookRequest
{
    public string Url { get; init; } = "";
    public string[] Events { get; init; } = [];

    /// <summary>Null clears it.</summary>
    public string? Description { get; init; }
    public bool Enabled { get; init; }
}

/// <summary>An endpoint. <c>secret</c> is shown once, when it is created or rotated; a replay of that request shows null.</summary>
internal sealed record WebhookResponse(
    Guid Id,
    string Url,
    string[] Events,
    string? Description,
    bool Enabled,
    [property: OneOf("failing")] string? DisabledReason,
    DateTimeOffset? FailingSince,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Secret = null)
{
    public static WebhookResponse From(WebhookView w, bool withSecret = false) =>
        new(w.Id, w.Url, TopicNames.Names(w.Topics), w.Description, w.Enabled, w.DisabledReason, w.FailingSince, w.CreatedAt, w.UpdatedAt, withSecret ? w.Secret : null);

    public static WebhookResponse From(WebhookEndpoint e) => From(WebhookView.Of(e));
}

internal sealed record WebhookListResponse(WebhookResponse[] Webhooks);

internal sealed record AttemptResponse(int Attempt, DateTimeOffset At, int? StatusCode, string? Error, int DurationMs);

/// <summary>One notice for one endpoint: <c>id</c> is its sequence number on the endpoint, <c>message_id</c> the <c>webhook-id</c> header (the same on every retry), <c>event_id</c> the tenant's event.</summary>
internal sealed record DeliveryResponse(
    long Id,
    Guid MessageId,
    [property: OneOf(
        "capacity.sold_out", "capacity.available", "capacity.low", "capacity.state_changed", "reservation.confirmed", "reservation.released",
        "reservation.expired", "reservation.cancelled", "allocation.closed", "waitlist.offered", "waitlist.lapsed")] string Type,
    string? EventId,
    DateTimeOffset OccurredAt,
    [property: OneOf(typeof(DeliveryStatus))] string Status,
    int Attempts,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    int? LastStatusCode,
    string? LastError,
    AttemptResponse[] AttemptLog)
{
    public static DeliveryResponse From(DeliveryRecord d) => new(
        d.Sequence, d.MessageId, d.Type, d.EventId, d.OccurredAt, Snake(d.Status), d.Attempts, d.NextAttemptAt, d.DeliveredAt, d.LastStatusCode, d.LastError,
        [.. d.AttemptLog.Select(a => new AttemptResponse(a.Attempt, a.At, a.StatusCode, a.Error, a.DurationMs))]);

    internal static string Snake(DeliveryStatus status) => status switch
    {
        DeliveryStatus.Delivered => "delivered",
        DeliveryStatus.Failed => "failed",
        _ => "pending",
    };
}

internal sealed record DeliveryListResponse(DeliveryResponse[] Deliveries, long? NextAfter);

/// <summary>A delivery sent again: pending, due now.</summary>
internal sealed record RetryResponse(long Id, [property: OneOf(typeof(DeliveryStatus))] string Status, DateTimeOffset? NextAttemptAt);

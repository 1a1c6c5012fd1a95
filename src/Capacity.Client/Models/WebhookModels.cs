using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>
/// The event types an endpoint can subscribe to (<see cref="CreateWebhookRequest.Events"/>), as the API
/// names them. The API takes and answers plain strings, so a type a newer server adds reads as it is.
/// </summary>
public static class WebhookEventTypes
{
    /// <summary>A limited capacity's own availability reached 0.</summary>
    public const string CapacitySoldOut = "capacity.sold_out";

    /// <summary>A limited capacity's own availability came back from 0.</summary>
    public const string CapacityAvailable = "capacity.available";

    /// <summary>A capacity's availability fell to or below its <see cref="CapacityDetails.LowWatermark"/>.</summary>
    public const string CapacityLow = "capacity.low";

    /// <summary>A capacity opened or closed: by hand, by a tier or sold-out rule, or at a sale window's edge.</summary>
    public const string CapacityStateChanged = "capacity.state_changed";

    /// <summary>A hold was confirmed: a sale.</summary>
    public const string ReservationConfirmed = "reservation.confirmed";

    /// <summary>A hold was released.</summary>
    public const string ReservationReleased = "reservation.released";

    /// <summary>A hold expired.</summary>
    public const string ReservationExpired = "reservation.expired";

    /// <summary>A sale was refunded, in whole or in part.</summary>
    public const string ReservationCancelled = "reservation.cancelled";

    /// <summary>An allocation was closed.</summary>
    public const string AllocationClosed = "allocation.closed";

    /// <summary>A waiting-list entry was offered its tickets as a hold.</summary>
    public const string WaitlistOffered = "waitlist.offered";

    /// <summary>A waiting-list offer ended without a sale: it expired or was released.</summary>
    public const string WaitlistLapsed = "waitlist.lapsed";

    /// <summary>Every type this SDK knows, in the order the API lists them.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        CapacitySoldOut, CapacityAvailable, CapacityLow, CapacityStateChanged, ReservationConfirmed, ReservationReleased,
        ReservationExpired, ReservationCancelled, AllocationClosed, WaitlistOffered, WaitlistLapsed,
    ];
}

/// <summary>The body of <c>POST /webhooks</c>.</summary>
public sealed record CreateWebhookRequest
{
    /// <summary>
    /// Where deliveries are POSTed: http or https, at most 2,000 characters by default. A loopback, link-local or
    /// private address is refused (400 <c>WEBHOOK_URL_NOT_ALLOWED</c>) unless the operator allows them.
    /// </summary>
    public required string Url { get; init; }

    /// <summary>The event types to send, at least one and each once (see <see cref="WebhookEventTypes"/>).</summary>
    public required IReadOnlyList<string> Events { get; init; }

    /// <summary>An optional note for people, such as "Box office notifications".</summary>
    public string? Description { get; init; }
}

/// <summary>The body of <c>PUT /webhooks/{id}</c>: only the fields that are set are sent; the others keep their value.</summary>
public sealed record UpdateWebhookRequest
{
    /// <summary>A new address, checked as on creation. Deliveries already written go to it, in order.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string> Url { get; init; }

    /// <summary>A new set of event types, at least one, replacing the old set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<IReadOnlyList<string>> Events { get; init; }

    /// <summary>A new note, or null to clear it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string?> Description { get; init; }

    /// <summary>
    /// Turns the endpoint off (false: nothing is written for it while off) or on again (true), also after the
    /// server disabled it for failing; it then starts healthy, and what failed meanwhile can be retried by hand.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<bool> Enabled { get; init; }
}

/// <summary>Why the server, not a person, turned an endpoint off.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WebhookDisabledReason>))]
public enum WebhookDisabledReason
{
    /// <summary>Its deliveries failed for 24 hours without one success. Turn it on again with <see cref="UpdateWebhookRequest.Enabled"/>.</summary>
    [JsonStringEnumMemberName("failing")]
    Failing,
}

/// <summary>A webhook endpoint, as <c>GET /webhooks/{id}</c> answers it.</summary>
/// <param name="Id">The endpoint's id, chosen by the server.</param>
/// <param name="Url">Where deliveries are sent.</param>
/// <param name="Events">The event types it is sent.</param>
/// <param name="Description">Its note, or null.</param>
/// <param name="Enabled">Whether notices are written and sent for it.</param>
/// <param name="DisabledReason">Why the server turned it off; null when it is on, or was turned off by hand.</param>
/// <param name="FailingSince">The first failure since its last successful delivery; null while it is healthy.</param>
/// <param name="CreatedAt">When it was subscribed.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="Secret">
/// The signing secret (<c>whsec_…</c>), shown once: in the answer of <see cref="CapacityClient.CreateWebhookAsync"/>
/// and <see cref="CapacityClient.RotateWebhookSecretAsync"/>; null in every other answer. A replay of those for a repeated
/// Idempotency-Key has none either, and they throw <see cref="SecretNotShownException"/> for it. Pass it to <see cref="WebhookSignature.Verify(string, string, string, string, ReadOnlySpan{byte})"/>.
/// </param>
public sealed record WebhookDetails(
    Guid Id,
    string Url,
    IReadOnlyList<string> Events,
    string? Description,
    bool Enabled,
    WebhookDisabledReason? DisabledReason,
    DateTimeOffset? FailingSince,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Secret = null);

/// <summary>The answer of <c>GET /webhooks</c>.</summary>
/// <param name="Webhooks">The tenant's endpoints, oldest first, without their secrets.</param>
public sealed record WebhookList(IReadOnlyList<WebhookDetails> Webhooks);

/// <summary>Where a delivery is.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeliveryStatus>))]
public enum DeliveryStatus
{
    /// <summary>Waiting for its first attempt or its next retry (<see cref="WebhookDelivery.NextAttemptAt"/>).</summary>
    [JsonStringEnumMemberName("pending")]
    Pending,

    /// <summary>The receiver answered 2xx.</summary>
    [JsonStringEnumMemberName("delivered")]
    Delivered,

    /// <summary>Given up after about 24 hours of retries; kept for <see cref="CapacityClient.RetryWebhookDeliveryAsync"/>.</summary>
    [JsonStringEnumMemberName("failed")]
    Failed,
}

/// <summary>One try at sending a delivery.</summary>
/// <param name="Attempt">Its number, from 1.</param>
/// <param name="At">When it was made.</param>
/// <param name="StatusCode">The receiver's HTTP status; null when there was no answer (see <paramref name="Error"/>).</param>
/// <param name="Error">Why it failed without an answer (a timeout, a refused connection), or null.</param>
/// <param name="DurationMs">How long it took, connecting included.</param>
public sealed record DeliveryAttempt(int Attempt, DateTimeOffset At, int? StatusCode, string? Error, int DurationMs);

/// <summary>One notice for one endpoint, with every attempt at sending it.</summary>
/// <param name="Id">Its place in the endpoint's order, from 1: the id of <see cref="CapacityClient.RetryWebhookDeliveryAsync"/> and the cursor of the deliveries log.</param>
/// <param name="MessageId">The <c>webhook-id</c> header and the payload's <c>id</c>: the same on every retry, so receivers drop repeats by it.</param>
/// <param name="Type">The event type, such as <see cref="WebhookEventTypes.CapacitySoldOut"/>.</param>
/// <param name="EventId">The event (of your events) it concerns, or null.</param>
/// <param name="OccurredAt">When the change happened.</param>
/// <param name="Status">Where it is.</param>
/// <param name="Attempts">How many times it was sent.</param>
/// <param name="NextAttemptAt">When it is sent next, while pending; null otherwise.</param>
/// <param name="DeliveredAt">When the receiver accepted it, or null.</param>
/// <param name="LastStatusCode">The receiver's status on the last attempt, or null.</param>
/// <param name="LastError">Why the last attempt failed without an answer, or null.</param>
/// <param name="AttemptLog">Every attempt, oldest first.</param>
public sealed record WebhookDelivery(
    long Id,
    Guid MessageId,
    string Type,
    string? EventId,
    DateTimeOffset OccurredAt,
    DeliveryStatus Status,
    int Attempts,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    int? LastStatusCode,
    string? LastError,
    IReadOnlyList<DeliveryAttempt> AttemptLog);

/// <summary>A page of an endpoint's deliveries, in the endpoint's order.</summary>
/// <param name="Deliveries">The deliveries of this page.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page; null when this page is the last so far.</param>
public sealed record WebhookDeliveryPage(IReadOnlyList<WebhookDelivery> Deliveries, long? NextAfter);

/// <summary>The answer of <c>POST /webhooks/{id}/deliveries/{deliveryId}/retry</c>: the delivery, pending and due now.</summary>
/// <param name="Id">The delivery.</param>
/// <param name="Status">Where it is now: <see cref="DeliveryStatus.Pending"/>.</param>
/// <param name="NextAttemptAt">When it is sent next.</param>
public sealed record DeliveryRetry(long Id, DeliveryStatus Status, DateTimeOffset? NextAttemptAt);

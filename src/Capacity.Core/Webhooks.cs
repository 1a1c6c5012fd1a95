namespace Capacity.Core;

/// <summary>What a webhook endpoint can subscribe to; an endpoint's subscription is a set of these.</summary>
[Flags]
public enum Topics
{
    None = 0,
    /// <summary>A limited capacity's own availability reached 0.</summary>
    CapacitySoldOut = 1 << 0,
    /// <summary>A limited capacity's own availability came back from 0.</summary>
    CapacityAvailable = 1 << 1,
    /// <summary>A capacity's availability fell to or below its <c>low_watermark</c>.</summary>
    CapacityLow = 1 << 2,
    /// <summary>A capacity opened or closed: by hand, by a tier or sold-out rule, or at a sale window's edge.</summary>
    CapacityStateChanged = 1 << 3,
    ReservationConfirmed = 1 << 4,
    ReservationReleased = 1 << 5,
    ReservationExpired = 1 << 6,
    /// <summary>A sale refunded, in whole or in part.</summary>
    ReservationCancelled = 1 << 7,
    AllocationClosed = 1 << 8,
    WaitlistOffered = 1 << 9,
    /// <summary>An offer ended without a sale: it expired or was released.</summary>
    WaitlistLapsed = 1 << 10,
    All = (1 << 11) - 1,
}

/// <summary>The names of <see cref="Topics"/> on the wire (<c>capacity.sold_out</c>, …).</summary>
public static class TopicNames
{
    private static readonly (Topics Topic, string Name)[] s_names =
    [
        (Topics.CapacitySoldOut, "capacity.sold_out"),
        (Topics.CapacityAvailable, "capacity.available"),
        (Topics.CapacityLow, "capacity.low"),
        (Topics.CapacityStateChanged, "capacity.state_changed"),
        (Topics.ReservationConfirmed, "reservation.confirmed"),
        (Topics.ReservationReleased, "reservation.released"),
        (Topics.ReservationExpired, "reservation.expired"),
        (Topics.ReservationCancelled, "reservation.cancelled"),
        (Topics.AllocationClosed, "allocation.closed"),
        (Topics.WaitlistOffered, "waitlist.offered"),
        (Topics.WaitlistLapsed, "waitlist.lapsed"),
    ];

    /// <summary>Every name, in a stable order (the order of the flags).</summary>
    public static IEnumerable<string> All => s_names.Select(n => n.Name);

    /// <summary>The name of one topic (a single flag).</summary>
    public static string Of(Topics topic)
    {
        foreach (var (t, name) in s_names)
        {
            if (t == topic)
            {
                return name;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(topic), topic, "Not a single topic.");
    }

    public static bool TryParse(string? name, out Topics topic)
    {
        foreach (var (t, n) in s_names)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
            {
                topic = t;
                return true;
            }
        }

        topic = Topics.None;
        return false;
    }

    /// <summary>The names of a set of topics, in the order of <see cref="All"/>.</summary>
    public static string[] Names(Topics topics) => [.. s_names.Where(n => (topics & n.Topic) != 0).Select(n => n.Name)];
}

/// <summary>
/// Where a tenant wants to be told of changes. Mutable for the same reason as <see cref="CapacityNode"/>:
/// the working set owns one instance per row for a batch.
/// </summary>
public sealed class WebhookEndpoint
{
    public required Guid Id { get; init; }
    public required Guid TenantId { get; init; }
    public required string Url { get; set; }
    public required Topics Topics { get; set; }
    public string? Description { get; set; }

    /// <summary><c>whsec_</c> and the base64 of the HMAC key: kept, since every delivery is signed with it.</summary>
    public required string Secret { get; set; }
    public bool Enabled { get; set; } = true;

    /// <summary>Why it is disabled when the delivery policy turned it off (<see cref="DeliveryPolicy.FailingReason"/>); null when turned off by hand or enabled.</summary>
    public string? DisabledReason { get; set; }

    /// <summary>The first failure since its last successful delivery; null while it is healthy.</summary>
    public DateTimeOffset? FailingSince { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Set when the endpoint is deleted in this batch: the store removes it and its deliveries.</summary>
    public bool Deleted { get; set; }

    /// <summary>Whether notices of <paramref name="topic"/> are written for it.</summary>
    public bool Wants(Topics topic) => Enabled && !Deleted && (Topics & topic) != 0;

    internal long RecordedIn;
}

public enum DeliveryStatus
{
    /// <summary>Waiting for its first attempt or its next retry.</summary>
    Pending,
    Delivered,
    /// <summary>Given up after the retry window; kept for a manual retry.</summary>
    Failed,
}

/// <summary>
/// One notice for one endpoint: the outbox row. Its payload stays in the store; the core decides only
/// its fate (the next attempt, delivered, failed).
/// </summary>
public sealed class WebhookDelivery
{
    public required Guid EndpointId { get; init; }

    /// <summary>Its place in the endpoint's order, from 1, consecutive: the delivery's id on the API.</summary>
    public required long Sequence { get; init; }
    public required Guid TenantId { get; init; }
    public required DateTimeOffset OccurredAt { get; init; }
    public DeliveryStatus Status { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>Where the retry window starts: the notice's instant, or a manual retry's.</summary>
    public required DateTimeOffset RetryingSince { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
    public int? LastStatusCode { get; set; }
    public string? LastError { get; set; }

    internal long RecordedIn;
}

/// <summary>One try at sending a delivery, kept for the deliveries log.</summary>
public sealed record WebhookAttempt(Guid EndpointId, long Sequence, int Attempt, DateTimeOffset At, int? StatusCode, string? Error, int DurationMs);

/// <summary>
/// Something a subscriber is told: decided by the core in the batch of the change, written by the
/// store as one delivery per subscribed endpoint in the same transaction (a transactional outbox).
/// <see cref="Subject"/> is the thing as it was right after the change: a <see cref="CapacityView"/>,
/// a <see cref="Reservation"/>, an <see cref="AllocationView"/> or a <see cref="WaitlistEntryView"/>.
/// </summary>
public sealed class Notice
{
    public required Topics Topic { get; init; }
    public required Guid TenantId { get; init; }
    public string? EventId { get; init; }
    public required DateTimeOffset At { get; init; }
    public required object Subject { get; init; }

    /// <summary>For <see cref="Topics.CapacityStateChanged"/>: what changed it (<c>activated</c>, <c>tier_opened</c>, …).</summary>
    public string? Reason { get; init; }

    /// <summary>The message id (<c>webhook-id</c>), the same for every endpoint and every retry; set by the engine before writing.</summary>
    public Guid MessageId { get; set; }

    /// <summary>The subject as the API shows it (the payload's <c>data</c>), rendered by the engine before writing.</summary>
    public byte[]? Data { get; set; }
}

/// <summary>
/// When a failed delivery is tried again and when trying stops: exponential backoff from 5 s, doubling
/// to at most 4 h, each delay stretched by a jitter drawn by the caller (so that deciding stays
/// deterministic), for 24 h from the notice (or from a manual retry); an endpoint that has failed for
/// 24 h without one success is disabled.
/// </summary>
public static class DeliveryPolicy
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromHours(4);
    public static readonly TimeSpan RetryWindow = TimeSpan.FromHours(24);
    public static readonly TimeSpan DisableAfter = TimeSpan.FromHours(24);

    /// <summary>The reason shown on an endpoint the policy disabled.</summary>
    public const string FailingReason = "failing";

    /// <summary>The wait after the <paramref name="attempts"/>-th failed attempt; <paramref name="jitter"/> in [0, 1) adds up to 50 %.</summary>
    public static TimeSpan Backoff(int attempts, double jitter)
    {
        var doublings = Math.Clamp(attempts - 1, 0, 20);
        var delay = Math.Min(FirstDelay.TotalMilliseconds * Math.Pow(2, doublings), MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(Math.Round(delay * (1 + 0.5 * Math.Clamp(jitter, 0, 1))));
    }
}

/// <summary>An endpoint as it was at the moment of a decision, with its secret only where it is shown once.</summary>
public sealed record WebhookView(
    Guid Id,
    string Url,
    Topics Topics,
    string? Description,
    bool Enabled,
    string? DisabledReason,
    DateTimeOffset? FailingSince,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Secret)
{
    public static WebhookView Of(WebhookEndpoint e, bool withSecret = false) =>
        new(e.Id, e.Url, e.Topics, e.Description, e.Enabled, e.DisabledReason, e.FailingSince, e.CreatedAt, e.UpdatedAt, withSecret ? e.Secret : null);
}

/// <summary>A delivery as it was at the moment of a decision.</summary>
public sealed record DeliveryView(Guid EndpointId, long Sequence, DeliveryStatus Status, int Attempts, DateTimeOffset? NextAttemptAt)
{
    public static DeliveryView Of(WebhookDelivery d) => new(d.EndpointId, d.Sequence, d.Status, d.Attempts, d.NextAttemptAt);
}

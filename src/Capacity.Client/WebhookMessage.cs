using System.Text.Json;

namespace Capacity.Client;

/// <summary>
/// A webhook delivery's body, as a receiver reads it once <see cref="WebhookSignature.Verify(string, string, string, string, ReadOnlySpan{byte})"/>
/// has accepted it: the notice's id (the same as the <c>webhook-id</c> header, and on every retry), its
/// type (<see cref="WebhookEventTypes"/>), the tenant, the event, when the change committed, the endpoint's
/// sequence number (1, 2, 3… without gaps, in commit order), and what changed in <see cref="Data"/>, read
/// as the API's own record for its type with <see cref="Capacity"/>, <see cref="Reservation"/>,
/// <see cref="Allocation"/> or <see cref="WaitlistEntry"/>.
/// </summary>
/// <remarks>
/// <code>
/// if (!WebhookSignature.Verify(secret, id, timestamp, signature, body)) return Results.Unauthorized();
/// var message = WebhookMessage.Parse(body);
/// if (!handled.Add(message.Id)) return Results.Ok(); // a repeat: delivery is at least once
/// if (message.Type == WebhookEventTypes.CapacitySoldOut) { var floor = message.Capacity()!; … }
/// </code>
/// </remarks>
/// <param name="Id">The notice's id: the <c>webhook-id</c> header, the same on every retry.</param>
/// <param name="Type">What happened, such as <c>capacity.sold_out</c> (<see cref="WebhookEventTypes"/>); a type a newer server adds reads as it is.</param>
/// <param name="TenantId">The tenant whose data changed.</param>
/// <param name="EventId">The event of what changed.</param>
/// <param name="OccurredAt">The instant of the batch that made the change.</param>
/// <param name="Sequence">This endpoint's number for the delivery.</param>
/// <param name="Data">What changed, as the API shows it; read it with the typed methods.</param>
public sealed record WebhookMessage(Guid Id, string Type, Guid TenantId, string? EventId, DateTimeOffset OccurredAt, long Sequence, JsonElement Data)
{
    /// <summary>Reads a delivery's body, byte for byte as it arrived.</summary>
    /// <exception cref="JsonException">The body is not a webhook message.</exception>
    public static WebhookMessage Parse(ReadOnlySpan<byte> body) =>
        JsonSerializer.Deserialize(body, ClientJson.Default.WebhookMessage) is { Type: not null } message
            ? message
            : throw new JsonException("The body is not a webhook message.");

    /// <summary>The capacity, for the <c>capacity.*</c> types; null for the others.</summary>
    public CapacityDetails? Capacity() => Is("capacity.") ? Data.Deserialize(ClientJson.Default.CapacityDetails) : null;

    /// <summary>
    /// Why a capacity opened or closed, for <c>capacity.state_changed</c>: <c>activated</c>, <c>deactivated</c>,
    /// <c>updated</c>, <c>tier_opened</c>, <c>sold_out</c>, <c>sale_started</c> or <c>sale_ended</c> (docs/webhooks.md);
    /// null for the other types.
    /// </summary>
    public string? ChangeReason() =>
        Type == WebhookEventTypes.CapacityStateChanged && Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty("change_reason", out var reason) && reason.ValueKind == JsonValueKind.String
            ? reason.GetString()
            : null;

    /// <summary>The reservation as it became, for the <c>reservation.*</c> types; null for the others.</summary>
    public Reservation? Reservation() => Is("reservation.") ? Data.Deserialize(ClientJson.Default.Reservation) : null;

    /// <summary>The allocation, for <c>allocation.closed</c>; null for the others.</summary>
    public AllocationDetails? Allocation() => Is("allocation.") ? Data.Deserialize(ClientJson.Default.AllocationDetails) : null;

    /// <summary>The waiting-list entry, for the <c>waitlist.*</c> types; null for the others.</summary>
    public WaitlistEntry? WaitlistEntry() => Is("waitlist.") ? Data.Deserialize(ClientJson.Default.WaitlistEntry) : null;

    private bool Is(string prefix) => Type.StartsWith(prefix, StringComparison.Ordinal);
}

using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Allocations;
using Capacity.Server.Reservations;
using Capacity.Server.Views;
using Capacity.Server.Waitlists;

namespace Capacity.Server.Webhooks;

/// <summary>
/// What a receiver gets: <c>{id, type, tenant_id, event_id, occurred_at, sequence, data}</c>, where
/// <c>data</c> is the subject as the API shows it right after the change. <c>data</c> is rendered by the
/// engine in the batch (<see cref="Render"/>) and kept in the outbox; the envelope around it is put
/// together at each attempt from the row, so it is the same bytes on every retry.
/// </summary>
internal static class WebhookPayload
{
    public static byte[] Render(Notice notice)
    {
        switch (notice.Subject)
        {
            case CapacityView capacity:
                var response = CapacityResponse.From(capacity, notice.At);
                if (notice.Reason is null)
                {
                    return JsonSerializer.SerializeToUtf8Bytes(response, AppJson.Default.CapacityResponse);
                }

                // A state change says why: "activated", "deactivated", "updated", "tier_opened", "sold_out".
                var node = JsonSerializer.SerializeToNode(response, AppJson.Default.CapacityResponse)!.AsObject();
                node["change_reason"] = notice.Reason;
                return JsonSerializer.SerializeToUtf8Bytes(node, AppJson.Default.JsonObject);
            case Reservation reservation:
                return JsonSerializer.SerializeToUtf8Bytes(ReservationResponse.From(reservation, notice.At), AppJson.Default.ReservationResponse);
            case AllocationView allocation:
                return JsonSerializer.SerializeToUtf8Bytes(AllocationResponse.From(allocation), AppJson.Default.AllocationResponse);
            case WaitlistEntryView entry:
                return JsonSerializer.SerializeToUtf8Bytes(WaitlistEntryResponse.From(entry), AppJson.Default.WaitlistEntryResponse);
            default:
                throw new ArgumentOutOfRangeException(nameof(notice), notice.Subject.GetType().Name, "No rendering for this subject.");
        }
    }

    public static byte[] Envelope(OutboxMessage m)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + m.Data.Length);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", m.MessageId);
            w.WriteString("type", m.Type);
            w.WriteString("tenant_id", m.TenantId);
            if (m.EventId is null)
            {
                w.WriteNull("event_id");
            }
            else
            {
                w.WriteString("event_id", m.EventId);
            }

            w.WriteString("occurred_at", m.OccurredAt);
            w.WriteNumber("sequence", m.Sequence);
            w.WritePropertyName("data");
            w.WriteRawValue(m.Data, skipInputValidation: true);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

using System.Buffers;
using System.Text.Json;
using Capacity.Engine;

namespace Capacity.Server.Webhooks;

/// <summary>
/// What a receiver gets: <c>{id, type, tenant_id, event_id, occurred_at, sequence, data}</c>, where
/// <c>data</c> is the subject as the API shows it right after the change. <c>data</c> is rendered by the
/// engine in the batch (with the renderer the root gives it, which knows every feature's responses) and kept in the outbox; the envelope around it is put
/// together at each attempt from the row, so it is the same bytes on every retry.
/// </summary>
internal static class WebhookPayload
{
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

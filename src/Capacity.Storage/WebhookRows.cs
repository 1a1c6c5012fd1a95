using System.Data.Common;
using Capacity.Core;
using Capacity.Engine;
using static Capacity.Storage.RowFormat;

namespace Capacity.Storage;

/// <summary>
/// Webhook rows as both stores read and write them: one spelling of the columns and statements, with
/// the values bound in the store's own types (ids are text on SQLite and uuid on PostgreSQL).
/// </summary>
public static class WebhookRows
{
    public const string EndpointColumns = "id, tenant_id, url, topics, description, secret, enabled, disabled_reason, failing_since, created_at, updated_at";

    public const string DeliveryColumns =
        "endpoint_id, sequence, tenant_id, message_id, type, event_id, occurred_at, status, attempts, next_attempt_at, retrying_since, delivered_at, last_status, last_error";

    public const string AttemptColumns = "endpoint_id, sequence, attempt, at, status_code, error, duration_ms";

    public const string InsertEndpoint = $"INSERT INTO webhooks ({EndpointColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

    public const string UpdateEndpoint =
        "UPDATE webhooks SET url = $2, topics = $3, description = $4, secret = $5, enabled = $6, disabled_reason = $7, failing_since = $8, updated_at = $9 WHERE id = $1";

    public const string DeleteAttempts = "DELETE FROM webhook_attempts WHERE endpoint_id = $1";
    public const string DeleteDeliveries = "DELETE FROM webhook_deliveries WHERE endpoint_id = $1";
    public const string DeleteEndpoint = "DELETE FROM webhooks WHERE id = $1";

    /// <summary>Takes <c>$2</c> sequence numbers for an endpoint and answers the last: the row lock orders nodes that write to one endpoint.</summary>
    public const string TakeSequences = "UPDATE webhooks SET last_sequence = last_sequence + $2 WHERE id = $1 RETURNING last_sequence";

    public const string InsertDelivery =
        "INSERT INTO webhook_deliveries (endpoint_id, sequence, tenant_id, message_id, type, event_id, occurred_at, data, status, attempts, next_attempt_at, retrying_since) "
        + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $9)";

    public const string UpdateDelivery =
        "UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5, retrying_since = $6, delivered_at = $7, last_status = $8, last_error = $9 "
        + "WHERE endpoint_id = $1 AND sequence = $2";

    /// <summary>For the audit, per endpoint: its last sequence number, how many deliveries it has, the highest, and the pending ones with no next attempt.</summary>
    public const string AuditOutbox =
        "SELECT w.id, w.last_sequence, COUNT(d.sequence), COALESCE(MAX(d.sequence), 0), COALESCE(SUM(CASE WHEN d.status = 0 AND d.next_attempt_at IS NULL THEN 1 ELSE 0 END), 0) FROM webhooks w LEFT JOIN webhook_deliveries d ON d.endpoint_id = w.id GROUP BY w.id, w.last_sequence";

    /// <summary>For the audit: deliveries whose endpoint is gone.</summary>
    public const string AuditOrphans = "SELECT COUNT(*) FROM webhook_deliveries d WHERE NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.endpoint_id)";

    public const string InsertAttempt = $"INSERT INTO webhook_attempts ({AttemptColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7)";

    public static object?[] EndpointValues(WebhookEndpoint e, Func<Guid, object> id, Func<bool, object> flag) =>
    [
        id(e.Id), id(e.TenantId), e.Url, (int)e.Topics, e.Description, e.Secret, flag(e.Enabled), e.DisabledReason, Time(e.FailingSince),
        Time(e.CreatedAt), Time(e.UpdatedAt),
    ];

    public static object?[] EndpointUpdateValues(WebhookEndpoint e, Func<Guid, object> id, Func<bool, object> flag) =>
        [id(e.Id), e.Url, (int)e.Topics, e.Description, e.Secret, flag(e.Enabled), e.DisabledReason, Time(e.FailingSince), Time(e.UpdatedAt)];

    public static object?[] DeliveryValues(Guid endpointId, long sequence, Notice n, Func<Guid, object> id) =>
    [
        id(endpointId), sequence, id(n.TenantId), id(n.MessageId), TopicNames.Of(n.Topic), n.EventId, Time(n.At),
        System.Text.Encoding.UTF8.GetString(n.Data ?? "{}"u8.ToArray()), Time(n.At),
    ];

    public static object?[] DeliveryUpdateValues(WebhookDelivery d, Func<Guid, object> id) =>
    [
        id(d.EndpointId), d.Sequence, (int)d.Status, d.Attempts, Time(d.NextAttemptAt), Time(d.RetryingSince), Time(d.DeliveredAt), d.LastStatusCode, d.LastError,
    ];

    public static object?[] AttemptValues(WebhookAttempt a, Func<Guid, object> id) =>
        [id(a.EndpointId), a.Sequence, a.Attempt, Time(a.At), a.StatusCode, a.Error, a.DurationMs];

    /// <summary>Each notice's endpoints, in notice order: every endpoint of its tenant that wants its topic.</summary>
    public static List<(Notice Notice, WebhookEndpoint Endpoint)> FanOut(WorkingSet ws)
    {
        var rows = new List<(Notice, WebhookEndpoint)>();
        foreach (var notice in ws.Notices)
        {
            foreach (var endpoint in ws.EndpointsOf(notice.TenantId))
            {
                if (endpoint.Wants(notice.Topic))
                {
                    rows.Add((notice, endpoint));
                }
            }
        }

        return rows;
    }

    public static WebhookEndpoint ReadEndpoint(DbDataReader r, int at = 0) => new()
    {
        Id = GuidAt(r, at),
        TenantId = GuidAt(r, at + 1),
        Url = r.GetString(at + 2),
        Topics = (Topics)r.GetInt32(at + 3),
        Description = r.IsDBNull(at + 4) ? null : r.GetString(at + 4),
        Secret = r.GetString(at + 5),
        Enabled = BoolAt(r, at + 6),
        DisabledReason = r.IsDBNull(at + 7) ? null : r.GetString(at + 7),
        FailingSince = TimeAt(r, at + 8),
        CreatedAt = Time(r.GetInt64(at + 9)),
        UpdatedAt = Time(r.GetInt64(at + 10)),
    };

    public static WebhookDelivery ReadDelivery(DbDataReader r) => new()
    {
        EndpointId = GuidAt(r, 0),
        Sequence = r.GetInt64(1),
        TenantId = GuidAt(r, 2),
        OccurredAt = Time(r.GetInt64(6)),
        Status = (DeliveryStatus)r.GetInt32(7),
        Attempts = r.GetInt32(8),
        NextAttemptAt = TimeAt(r, 9),
        RetryingSince = Time(r.GetInt64(10)),
        DeliveredAt = TimeAt(r, 11),
        LastStatusCode = r.IsDBNull(12) ? null : r.GetInt32(12),
        LastError = r.IsDBNull(13) ? null : r.GetString(13),
    };

    public static DeliveryRecord ReadRecord(DbDataReader r, IReadOnlyList<WebhookAttempt> attempts) => new(
        GuidAt(r, 0), r.GetInt64(1), GuidAt(r, 3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), Time(r.GetInt64(6)), (DeliveryStatus)r.GetInt32(7),
        r.GetInt32(8), TimeAt(r, 9), TimeAt(r, 11), r.IsDBNull(12) ? null : r.GetInt32(12), r.IsDBNull(13) ? null : r.GetString(13), attempts);

    public static WebhookAttempt ReadAttempt(DbDataReader r) => new(
        GuidAt(r, 0), r.GetInt64(1), r.GetInt32(2), Time(r.GetInt64(3)), r.IsDBNull(4) ? null : r.GetInt32(4), r.IsDBNull(5) ? null : r.GetString(5), r.GetInt32(6));

    /// <summary>A claimed endpoint's pending deliveries: sequence, message id, type, tenant, event, instant, data, next attempt.</summary>
    public const string PendingColumns = "sequence, message_id, type, tenant_id, event_id, occurred_at, data, next_attempt_at";

    public static OutboxMessage ReadMessage(DbDataReader r) => new(
        r.GetInt64(0), GuidAt(r, 1), r.GetString(2), GuidAt(r, 3), r.IsDBNull(4) ? null : r.GetString(4), Time(r.GetInt64(5)), r.GetString(6), TimeAt(r, 7));

    /// <summary>Attaches each attempt to its delivery.</summary>
    public static IReadOnlyList<DeliveryRecord> WithAttempts(List<(DeliveryRecord Record, long Sequence)> rows, List<WebhookAttempt> attempts)
    {
        var bySequence = attempts.GroupBy(a => a.Sequence).ToDictionary(g => g.Key, g => (IReadOnlyList<WebhookAttempt>)[.. g.OrderBy(a => a.Attempt)]);
        return [.. rows.Select(row => row.Record with { AttemptLog = bySequence.GetValueOrDefault(row.Sequence) ?? [] })];
    }

    private static Guid GuidAt(DbDataReader r, int i) => r.GetFieldType(i) == typeof(Guid) ? r.GetGuid(i) : Id(r.GetString(i));

    private static bool BoolAt(DbDataReader r, int i) => r.GetFieldType(i) == typeof(bool) ? r.GetBoolean(i) : r.GetInt64(i) != 0;

    private static DateTimeOffset? TimeAt(DbDataReader r, int i) => r.IsDBNull(i) ? null : Time(r.GetInt64(i));
}

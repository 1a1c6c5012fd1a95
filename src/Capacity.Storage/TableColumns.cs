namespace Capacity.Storage;

/// <summary>
/// The columns both stores select, in the order their row readers expect: one spelling, so that a
/// column added to the schema is added to every query at once.
/// </summary>
public static class TableColumns
{
    public const string CapacityColumns =
        "id, tenant_id, event_id, schedule_id, section_name, section_code, total_capacity, parent_ids, is_active, reserved, sold, created_at, updated_at, allocations, limit_ids, waitlist, waiting_units, queue_demand, offered_units, sale, overbook_limit";

    public const string ReservationColumns = "id, tenant_id, status, items, created_at, expires_at, confirmed_at, ended_at, buyer_key, waitlist_id, external_ref, metadata";

    public const string AllocationColumns =
        "id, tenant_id, capacity_id, event_id, name, size, held, sold, expires_at, status, created_at, updated_at";

    public const string LimitColumns = "id, tenant_id, event_id, name, capacity_ids, per_buyer_max, require_buyer_key, created_at, updated_at";

    public const string EntryColumns =
        "id, tenant_id, event_id, items, buyer_key, external_ref, sequence, status, offer_reservation_id, created_at, updated_at, lapsed_reason";

    public const string PriceColumns =
        "id, tenant_id, capacity_id, name, base_price, current_price, service_fee, facility_fee, tax_rate, currency, created_at, updated_at";

    public const string TenantColumns = "id, name, created_at, disabled_at";

    public const string ApiKeyColumns = "id, key_hash, tenant_id, prefix, name, scope, created_at, expires_at, revoked_at, last_used_at";

    /// <summary>The columns qualified by a table alias, for a query that joins: <c>Of(EntryColumns, "e")</c>.</summary>
    public static string Of(string columns, string alias) => string.Join(", ", columns.Split(", ").Select(column => alias + "." + column));
}

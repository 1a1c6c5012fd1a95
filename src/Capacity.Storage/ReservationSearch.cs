using System.Text;
using Capacity.Core;
using static Capacity.Storage.TableColumns;

namespace Capacity.Storage;

/// <summary>
/// The query behind <c>GET /reservations</c>, the same text on both stores (both read <c>@name</c>
/// parameters): <c>@t</c> the tenant, <c>@event</c>, <c>@ref</c>, <c>@buyer</c>, <c>@now</c>,
/// <c>@before_at</c> and <c>@before_id</c> (the previous page's last row), <c>@limit</c>.
/// </summary>
/// <remarks>
/// A reservation is listed under the event of its first item (the <c>event_id</c> column, indexed
/// with its creation) and under each other event of a cart across events (<c>reservation_events</c>,
/// written only for such carts). Each arm is read newest first through its index and cut at the page
/// size before the two are merged, so a page costs the same on an event of a million holds.
/// </remarks>
public static class ReservationSearch
{
    public static string Sql(bool byEvent, bool byRef, bool byBuyer, ReservationStatus? status, bool paged)
    {
        var filters = new StringBuilder();
        if (byEvent && byRef)
        {
            filters.Append(" AND r.external_ref = @ref");
        }

        if (byBuyer)
        {
            filters.Append(" AND r.buyer_key = @buyer");
        }

        // The status a caller sees: an active hold past its expiry is expired, sweeper or not.
        filters.Append(status switch
        {
            null => "",
            ReservationStatus.Active => " AND r.status = 0 AND r.expires_at > @now",
            ReservationStatus.Expired => " AND (r.status = 3 OR (r.status = 0 AND r.expires_at <= @now))",
            var other => $" AND r.status = {(int)other}",
        });

        if (paged)
        {
            filters.Append(" AND (r.created_at < @before_at OR (r.created_at = @before_at AND r.id < @before_id))");
        }

        var columns = Of(ReservationColumns, "r");
        if (!byEvent)
        {
            return $"SELECT {columns} FROM reservations r WHERE r.tenant_id = @t AND r.external_ref = @ref{filters} "
                + "ORDER BY r.created_at DESC, r.id DESC LIMIT @limit";
        }

        return "SELECT * FROM ("
            + $"SELECT * FROM (SELECT {columns} FROM reservations r WHERE r.tenant_id = @t AND r.event_id = @event{filters} "
            + "ORDER BY r.created_at DESC, r.id DESC LIMIT @limit) AS own "
            + "UNION ALL "
            + $"SELECT * FROM (SELECT {columns} FROM reservation_events x JOIN reservations r ON r.id = x.reservation_id "
            + $"WHERE x.tenant_id = @t AND x.event_id = @event{filters} ORDER BY x.created_at DESC, x.reservation_id DESC LIMIT @limit) AS more"
            + ") AS hits ORDER BY created_at DESC, id DESC LIMIT @limit";
    }
}

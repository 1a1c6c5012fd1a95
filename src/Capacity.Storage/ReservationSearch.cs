using System.Text;
using Capacity.Core;
using static Capacity.Storage.TableColumns;

namespace Capacity.Storage;

/// <summary>
/// The query behind <c>GET /reservations</c>, the same text on both stores (both read <c>@name</c>
/// parameters): <c>@t</c> the tenant, <c>@event</c>, <c>@ref</c>, <c>@buyer</c>, <c>@now</c>,
/// <c>@before_at</c> and <c>@before_id</c> (the previous page's last row), <c>@limit</c>. SQLite is
/// told which index each arm reads (<c>INDEXED BY</c>): without statistics its planner cannot tell.
/// </summary>
/// <remarks>
/// A reservation is listed under the event of its first item (the <c>event_id</c> column) and under
/// each other event of a cart across events (<c>reservation_events</c>, written only for such carts).
/// An event's own reservations are indexed by status, then creation (migration 017), and read in one
/// arm per status the filter allows: each arm reads its status newest first and stops at the page
/// size, and the arms are merged, so a page costs the same on an event of a million holds whichever
/// status it asks for (the index by event and creation alone read a whole event to find a page of a
/// rare status: 0.2-0.8 s at 365,000 holds). A hold past its expiry that the sweeper has not written
/// yet is found at the start of the due index, where every such hold is (the sweeper keeps them few),
/// not among the event's active holds. A buyer's filter reads the event's reservations newest first
/// until the page is full: an index by buyer would cost every keyed hold a page of its own where the
/// buyer's key sorts.
/// </remarks>
public static class ReservationSearch
{
    private const string Newest = " ORDER BY r.created_at DESC, r.id DESC LIMIT @limit";

    public static string Sql(bool byEvent, bool byRef, bool byBuyer, ReservationStatus? status, bool paged, bool sqlite = false)
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

        if (paged)
        {
            // The first term bounds the index range, so a page deep into an event starts where the last
            // ended instead of reading every newer row again; the second orders the ties.
            filters.Append(" AND r.created_at <= @before_at AND (r.created_at < @before_at OR r.id < @before_id)");
        }

        // The status a caller sees: an active hold past its expiry is expired, sweeper or not.
        var seen = status switch
        {
            null => "",
            ReservationStatus.Active => " AND r.status = 0 AND r.expires_at > @now",
            ReservationStatus.Expired => " AND (r.status = 3 OR (r.status = 0 AND r.expires_at <= @now))",
            var other => $" AND r.status = {(int)other}",
        };

        var columns = Of(ReservationColumns, "r");
        if (!byEvent)
        {
            return $"SELECT {columns} FROM reservations r WHERE r.tenant_id = @t AND r.external_ref = @ref{filters}{seen}{Newest}";
        }

        var arms = new List<string>();
        foreach (var (code, also, index) in Arms(status))
        {
            var hint = sqlite ? $" INDEXED BY {index}" : "";
            arms.Add($"SELECT {columns} FROM reservations r{hint} WHERE r.tenant_id = @t AND r.event_id = @event AND r.status = {code}{also}{filters}{Newest}");
        }

        arms.Add($"SELECT {columns} FROM reservation_events x JOIN reservations r ON r.id = x.reservation_id "
            + $"WHERE x.tenant_id = @t AND x.event_id = @event{filters}{seen} ORDER BY x.created_at DESC, x.reservation_id DESC LIMIT @limit");
        var union = string.Join(" UNION ALL ", arms.Select((arm, i) => $"SELECT * FROM ({arm}) AS arm{i}"));
        return $"SELECT * FROM ({union}) AS hits ORDER BY created_at DESC, id DESC LIMIT @limit";
    }

    /// <summary>Each stored status a filter lists, with what else its rows must meet and the index that finds them.</summary>
    private static IEnumerable<(int Code, string Also, string Index)> Arms(ReservationStatus? status)
    {
        const string ByStatus = "reservations_event_status";
        switch (status)
        {
            case null:
                foreach (var s in Enum.GetValues<ReservationStatus>())
                {
                    yield return ((int)s, "", ByStatus);
                }

                break;
            case ReservationStatus.Active:
                yield return (0, " AND r.expires_at > @now", ByStatus);
                break;
            case ReservationStatus.Expired:
                yield return (3, "", ByStatus);
                // Holds past their expiry that the sweeper has not written yet: all of them, every
                // tenant's, are the start of the due index, a few seconds' worth while it keeps up.
                yield return (0, " AND r.expires_at <= @now", "reservations_due");
                break;
            case var other:
                yield return ((int)other, "", ByStatus);
                break;
        }
    }
}

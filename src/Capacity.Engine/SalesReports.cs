using Capacity.Core;

namespace Capacity.Engine;

/// <summary>
/// What GET /events/{id}/stats reads and how it sums it, in one place, so the endpoint and
/// <c>EngineBench --scenario stats</c> time the same work.
/// </summary>
public static class SalesReports
{
    /// <param name="capacities">The event's capacities to sum, or null for all of them.</param>
    /// <param name="left">What is left to sell now (null when it cannot sell out), and until when.</param>
    public static async Task<SalesReport> ReadAsync(
        IReadStore store, Guid tenantId, string eventId, IReadOnlyCollection<Guid>? capacities, StatsRange range, SaleLeft left, DateTimeOffset now, CancellationToken ct)
    {
        var read = await store.ReadSalesAsync(tenantId, eventId, capacities, range.FromMinute, range.ToMinute, ct).ConfigureAwait(false);

        // The rate window ends with the current minute, so a rush that started a moment ago counts. A
        // range that holds the window (the default one does) already read it; any other reads it apart.
        var rateTo = SalesStats.MinuteOf(now) + 1;
        var rateFrom = rateTo - (long)SalesStats.RateWindow.TotalMinutes;
        var window = range.FromMinute <= rateFrom && rateTo <= range.ToMinute
            ? read.Minutes
            : (await store.ReadSalesAsync(tenantId, eventId, capacities, rateFrom, rateTo, ct).ConfigureAwait(false)).Minutes;
        var recent = default(SalesFlows);
        foreach (var (minute, flows) in window)
        {
            if (minute >= rateFrom && minute < rateTo)
            {
                recent += flows;
            }
        }

        return SalesStats.Summarize(range, read.Before, read.Minutes, read.ConfirmTimes, recent, left, now);
    }
}

using Capacity.Core;

namespace Capacity.Server.Stats;

/// <summary>Tickets moved in a bucket (or a whole range), by how they moved.</summary>
internal sealed record FlowsResponse(long Held, long Confirmed, long Released, long Expired, long Cancelled, long Reclaimed, long NetSold)
{
    public static FlowsResponse From(SalesFlows f) => new(f.Held, f.Confirmed, f.Released, f.Expired, f.Cancelled, f.Reclaimed, f.NetSold);
}

/// <summary>
/// One bucket: the tickets moved in it, and at its end the tickets in active holds
/// (<c>holding</c>) and sold (<c>sold</c>).
/// </summary>
internal sealed record StatsBucketResponse(
    DateTimeOffset Start, long Held, long Confirmed, long Released, long Expired, long Cancelled, long Reclaimed, long NetSold, long Holding, long Sold)
{
    public static StatsBucketResponse From(StatsBucket b) => new(
        b.Start, b.Flows.Held, b.Flows.Confirmed, b.Flows.Released, b.Flows.Expired, b.Flows.Cancelled, b.Flows.Reclaimed, b.Flows.NetSold, b.Holding, b.Sold);
}

/// <summary>Hold-to-confirm times of the range's confirms, in seconds (within about 9 %); null without confirms.</summary>
internal sealed record TimeToConfirmResponse(long Confirms, double? MedianSeconds, double? P95Seconds);

/// <summary>
/// The current rate (tickets taken per minute over the last ten minutes, net of those given back), what
/// the sale under way has left (<see cref="SalesStats.LeftToSell"/>), and when it runs out at that rate:
/// null when nothing is selling, when it cannot sell out (unlimited), when it has, or when the last sale
/// window closes first.
/// </summary>
internal sealed record ForecastResponse(double TakenPerMinute, long? Available, DateTimeOffset? SellOutAt);

/// <summary>An event's (or one capacity's, with everything below it) sales over a range.</summary>
internal sealed record StatsResponse(
    string EventId,
    Guid? CapacityId,
    string Bucket,
    DateTimeOffset From,
    DateTimeOffset To,
    StatsBucketResponse[] Buckets,
    FlowsResponse Totals,
    long PeakSoldPerMinute,
    double? Conversion,
    TimeToConfirmResponse TimeToConfirm,
    ForecastResponse Forecast)
{
    public static StatsResponse Of(string eventId, Guid? capacityId, SalesReport r) => new(
        eventId,
        capacityId,
        r.Range.BucketName,
        r.Range.From,
        r.Range.To,
        [.. r.Buckets.Select(StatsBucketResponse.From)],
        FlowsResponse.From(r.Totals),
        r.PeakSoldPerMinute,
        r.Conversion,
        new TimeToConfirmResponse(r.Confirms, r.MedianSecondsToConfirm, r.P95SecondsToConfirm),
        new ForecastResponse(r.TakenPerMinute, r.Available, r.SellOutAt));
}

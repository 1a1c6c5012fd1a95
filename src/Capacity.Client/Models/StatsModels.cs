namespace Capacity.Client;

/// <summary>
/// The answer of <c>GET /events/{eventId}/stats</c>: an event's sales over a range of time, bucket by
/// bucket, with the totals, the conversion from holds to sales, how long buyers took to confirm, and when
/// the event sells out at the recent rate.
/// </summary>
/// <param name="EventId">The event.</param>
/// <param name="CapacityId">The capacity the figures are limited to (it and everything below it); null for the whole event.</param>
/// <param name="Bucket">The width of a bucket: <c>1m</c>, <c>5m</c>, <c>1h</c> or <c>1d</c>.</param>
/// <param name="From">The start of the range, the start of its first bucket.</param>
/// <param name="To">The end of the range.</param>
/// <param name="Buckets">Every bucket of the range, oldest first, empty ones included.</param>
/// <param name="Totals">The counts summed over the range.</param>
/// <param name="PeakSoldPerMinute">The most tickets sold in one minute of the range.</param>
/// <param name="Conversion">
/// Tickets confirmed as a share of the tickets whose holds ended in the range (confirmed, released or expired), 0 to 1;
/// null when no hold ended.
/// </param>
/// <param name="TimeToConfirm">How long holds confirmed in the range had waited.</param>
/// <param name="Forecast">The recent rate and when it sells the rest out.</param>
public sealed record EventStats(
    string EventId,
    Guid? CapacityId,
    string Bucket,
    DateTimeOffset From,
    DateTimeOffset To,
    IReadOnlyList<StatsBucket> Buckets,
    StatsTotals Totals,
    double PeakSoldPerMinute,
    double? Conversion,
    TimeToConfirm TimeToConfirm,
    SalesForecast Forecast);

/// <summary>
/// One bucket of <see cref="EventStats.Buckets"/>: the tickets each kind of change moved in it, and the levels
/// at its end.
/// </summary>
/// <param name="Start">When the bucket starts; it lasts <see cref="EventStats.Bucket"/>.</param>
/// <param name="Held">Tickets held.</param>
/// <param name="Confirmed">Tickets confirmed (sold).</param>
/// <param name="Released">Tickets released by the client.</param>
/// <param name="Expired">Tickets whose hold expired.</param>
/// <param name="Cancelled">Tickets refunded.</param>
/// <param name="Reclaimed">Tickets of expired holds sold after all.</param>
/// <param name="NetSold">Tickets sold less tickets refunded; negative when refunds outweigh sales.</param>
/// <param name="Holding">Tickets in active holds at the bucket's end.</param>
/// <param name="Sold">Tickets sold at the bucket's end.</param>
public sealed record StatsBucket(
    DateTimeOffset Start,
    long Held,
    long Confirmed,
    long Released,
    long Expired,
    long Cancelled,
    long Reclaimed,
    long NetSold,
    long Holding,
    long Sold);

/// <summary>The counts of <see cref="StatsBucket"/> summed over the range.</summary>
/// <param name="Held">Tickets held.</param>
/// <param name="Confirmed">Tickets confirmed.</param>
/// <param name="Released">Tickets released.</param>
/// <param name="Expired">Tickets whose hold expired.</param>
/// <param name="Cancelled">Tickets refunded.</param>
/// <param name="Reclaimed">Tickets of expired holds sold after all.</param>
/// <param name="NetSold">Tickets sold less tickets refunded.</param>
public sealed record StatsTotals(long Held, long Confirmed, long Released, long Expired, long Cancelled, long Reclaimed, long NetSold);

/// <summary>
/// How long the holds confirmed in the range waited between being placed and being confirmed. The service keeps
/// these times in buckets, so the figures are within about 9% of the exact ones.
/// </summary>
/// <param name="Confirms">How many confirms the figures cover.</param>
/// <param name="MedianSeconds">The median wait; null when there was no confirm.</param>
/// <param name="P95Seconds">The 95th percentile of the wait; null when there was no confirm.</param>
public sealed record TimeToConfirm(long Confirms, double? MedianSeconds, double? P95Seconds);

/// <summary>The recent rate at which tickets are taken, and when the event sells out if it holds.</summary>
/// <param name="TakenPerMinute">Tickets taken per minute over the last ten minutes, net of those given back.</param>
/// <param name="Available">
/// Tickets the sale under way still has (of the capacity, with <see cref="EventStats.CapacityId"/>): a capacity closed, under a closed
/// pool, or outside its sale window counts 0; a tier that the sale will open counts. Null when unlimited.
/// </param>
/// <param name="SellOutAt">
/// When the available tickets are gone at that rate; null when nothing is selling, when it is unlimited, when it has sold out, or when
/// the last sale window closes before that.
/// </param>
public sealed record SalesForecast(double TakenPerMinute, long? Available, DateTimeOffset? SellOutAt);

using System.Runtime.InteropServices;

namespace Capacity.Core;

/// <summary>
/// Tickets moved in one minute on one capacity, by how they moved. Counted where a hold changes (its
/// status or its items), on the capacity each item names, never on that capacity's ancestors: summing
/// an event's capacities counts every ticket once, and a pool's figures are its own plus everything
/// below it. Allocations setting tickets aside are not buyers' holds and are not counted here.
/// </summary>
public record struct SalesFlows(long Held, long Confirmed, long Released, long Expired, long Cancelled, long Reclaimed)
{
    /// <summary>Tickets that became sold, less those cancelled after the sale.</summary>
    public readonly long NetSold => Confirmed + Reclaimed - Cancelled;

    /// <summary>The change of tickets in active holds: what holding adds up to minute by minute.</summary>
    public readonly long HoldingDelta => Held - Confirmed - Released - Expired;

    /// <summary>Tickets taken out of sale (held or sold), net of those given back: the rate a sell-out forecast runs on.</summary>
    public readonly long Taken => HoldingDelta + NetSold;

    public readonly bool IsEmpty => this == default;

    public static SalesFlows operator +(SalesFlows a, SalesFlows b) => new(
        a.Held + b.Held, a.Confirmed + b.Confirmed, a.Released + b.Released, a.Expired + b.Expired, a.Cancelled + b.Cancelled, a.Reclaimed + b.Reclaimed);
}

/// <summary>
/// One capacity's flows in one minute (Unix minutes), as a batch adds them and a store keeps them
/// summed. A value, kept inline in the batch's dictionary: tallying a hold allocates nothing.
/// </summary>
public readonly record struct SalesMinute(Guid TenantId, string EventId, Guid CapacityId, long Minute, SalesFlows Flows);

/// <summary>Confirms in one minute on one capacity whose hold-to-confirm time fell in one <see cref="ConfirmTimes"/> bucket.</summary>
public readonly record struct ConfirmTimeCount(Guid TenantId, string EventId, Guid CapacityId, long Minute, int Bucket, long Count);

/// <summary>
/// Times from hold to confirm, kept as counts in logarithmic buckets (four per doubling, from 100 ms
/// to about 16 days) so that a store sums them like any counter and a percentile over a million
/// confirms reads a few hundred rows. A percentile read back is the bucket's geometric middle: within
/// about 9 % of the true time.
/// </summary>
public static class ConfirmTimes
{
    public const int Buckets = 96;
    private const double FirstMs = 100;

    public static int BucketOf(TimeSpan elapsed)
    {
        var ms = elapsed.TotalMilliseconds;
        if (ms < FirstMs)
        {
            return 0;
        }

        var b = (int)Math.Floor(4 * Math.Log2(ms / FirstMs)) + 1;
        return Math.Clamp(b, 1, Buckets - 1);
    }

    /// <summary>The bucket's lower and upper bounds in seconds (bucket 0 starts at 0).</summary>
    public static (double From, double To) Bounds(int bucket) => bucket == 0
        ? (0, FirstMs / 1000)
        : (FirstMs / 1000 * Math.Pow(2, (bucket - 1) / 4.0), FirstMs / 1000 * Math.Pow(2, bucket / 4.0));

    /// <summary>The time below which <paramref name="fraction"/> of the confirms fall, or null without confirms.</summary>
    public static double? Percentile(IReadOnlyDictionary<int, long> counts, double fraction)
    {
        var total = counts.Values.Sum();
        if (total == 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(fraction * total));
        var seen = 0L;
        foreach (var (bucket, count) in counts.OrderBy(c => c.Key))
        {
            seen += count;
            if (seen >= rank)
            {
                var (from, to) = Bounds(bucket);
                return Math.Round(bucket == 0 ? to / 2 : Math.Sqrt(from * to), 3);
            }
        }

        return null;
    }
}

/// <summary>
/// A batch's sales figures: every change of a hold, tallied by the working set as the core makes it
/// (see <see cref="WorkingSet"/>'s Replace and AddNew), so that the figures are written in the same
/// transaction as the change and can never disagree with it.
/// </summary>
internal sealed class SalesTally
{
    private readonly Dictionary<(Guid CapacityId, long Minute), SalesMinute> _minutes = [];
    private readonly Dictionary<(Guid CapacityId, long Minute, int Bucket), ConfirmTimeCount> _times = [];

    public IReadOnlyCollection<SalesMinute> Minutes => _minutes.Values;

    public IReadOnlyCollection<ConfirmTimeCount> Times => _times.Values;

    public void Clear()
    {
        _minutes.Clear();
        _times.Clear();
    }

    /// <summary>
    /// Tallies one hold's change from <paramref name="before"/> (null for a new hold) to
    /// <paramref name="after"/>. Per capacity, the tickets the hold has there before and after decide
    /// the flow: a status change moves them all, a change of items moves the difference.
    /// </summary>
    public void Record(ICapacityLookup lookup, Reservation? before, in Reservation after, DateTimeOffset now)
    {
        if (before is { } b && b.Status == after.Status && ReferenceEquals(b.Items, after.Items))
        {
            return; // An extension or a label: no ticket moved.
        }

        var minute = SalesStats.MinuteOf(now);
        for (var i = 0; i < after.Items.Length; i++)
        {
            if (!Names(after.Items.AsSpan(0, i), after.Items[i].CapacityId))
            {
                Move(lookup, before, after, after.Items[i].CapacityId, minute);
            }
        }

        if (before is { } old)
        {
            for (var i = 0; i < old.Items.Length; i++)
            {
                var id = old.Items[i].CapacityId;
                if (!Names(after.Items, id) && !Names(old.Items.AsSpan(0, i), id))
                {
                    Move(lookup, before, after, id, minute);
                }
            }
        }
    }

    private void Move(ICapacityLookup lookup, Reservation? before, in Reservation after, Guid capacityId, long minute)
    {
        var had = before is { } b ? QuantityOn(b.Items, capacityId) : 0;
        var has = QuantityOn(after.Items, capacityId);
        var flows = Flow(before?.Status, had, after.Status, has);
        if (flows.IsEmpty)
        {
            return;
        }

        var node = lookup.FindCapacity(capacityId) ?? throw new InvalidOperationException($"Capacity {capacityId} of a reservation was not loaded.");
        ref var row = ref CollectionsMarshal.GetValueRefOrAddDefault(_minutes, (capacityId, minute), out var exists);
        row = new SalesMinute(node.TenantId, node.EventId, capacityId, minute, exists ? row.Flows + flows : flows);
        if (after.Status == ReservationStatus.Confirmed && before?.Status is null or ReservationStatus.Active && has > 0)
        {
            var bucket = ConfirmTimes.BucketOf((after.ConfirmedAt ?? after.CreatedAt) - after.CreatedAt);
            ref var time = ref CollectionsMarshal.GetValueRefOrAddDefault(_times, (capacityId, minute, bucket), out _);
            time = new ConfirmTimeCount(node.TenantId, node.EventId, capacityId, minute, bucket, time.Count + 1);
        }
    }

    /// <summary>
    /// The flow of one capacity's tickets when a hold goes from (<paramref name="was"/>, <paramref name="had"/>)
    /// to (<paramref name="now"/>, <paramref name="has"/>); a null <paramref name="was"/> is a new hold.
    /// Pure, and the whole definition of the figures: the audit checks that the flows sum to what the
    /// holds hold and have sold.
    /// </summary>
    internal static SalesFlows Flow(ReservationStatus? was, long had, ReservationStatus now, long has)
    {
        switch (was, now)
        {
            case (null or ReservationStatus.Active, ReservationStatus.Active):
                var held = was is null ? has : has - had;
                return held >= 0 ? new SalesFlows { Held = held } : new SalesFlows { Released = -held };
            case (null, ReservationStatus.Confirmed):
                return new SalesFlows { Held = has, Confirmed = has };
            case (ReservationStatus.Active, ReservationStatus.Confirmed):
                return new SalesFlows { Held = Math.Max(0, has - had), Released = Math.Max(0, had - has), Confirmed = has };
            case (ReservationStatus.Expired or ReservationStatus.Released, ReservationStatus.Confirmed):
                return new SalesFlows { Reclaimed = has };
            case (null, ReservationStatus.Released or ReservationStatus.Cancelled):
                return new SalesFlows { Held = has, Released = has };
            case (null, ReservationStatus.Expired):
                return new SalesFlows { Held = has, Expired = has };
            case (ReservationStatus.Active, ReservationStatus.Released or ReservationStatus.Cancelled):
                return new SalesFlows { Released = had };
            case (ReservationStatus.Active, ReservationStatus.Expired):
                return new SalesFlows { Expired = had };
            case (ReservationStatus.Confirmed, ReservationStatus.Confirmed):
                return has <= had ? new SalesFlows { Cancelled = had - has } : new SalesFlows { Held = has - had, Confirmed = has - had };
            case (ReservationStatus.Confirmed, ReservationStatus.Cancelled or ReservationStatus.Released):
                return new SalesFlows { Cancelled = had };
            default:
                return default; // Between ended states nothing is held or sold.
        }
    }

    private static long QuantityOn(ReservationItem[] items, Guid capacityId)
    {
        var sum = 0L;
        foreach (ref readonly var item in items.AsSpan())
        {
            if (item.CapacityId == capacityId)
            {
                sum += item.Quantity;
            }
        }

        return sum;
    }

    // Two items may name one capacity (from two allocations): each capacity moves once, its items summed.
    private static bool Names(ReadOnlySpan<ReservationItem> items, Guid capacityId)
    {
        foreach (ref readonly var item in items)
        {
            if (item.CapacityId == capacityId)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// The range a figures request covers: <see cref="From"/> floored to a whole bucket, <see cref="To"/>
/// the end of the bucket holding the requested end, at most <see cref="MaxBuckets"/> buckets.
/// </summary>
public sealed record StatsRange(DateTimeOffset From, DateTimeOffset To, TimeSpan Bucket, string BucketName)
{
    public const int MaxBuckets = 1440;

    /// <summary>The bucket sizes a caller may ask for, by name.</summary>
    public static readonly IReadOnlyDictionary<string, TimeSpan> Sizes = new Dictionary<string, TimeSpan>
    {
        ["1m"] = TimeSpan.FromMinutes(1),
        ["5m"] = TimeSpan.FromMinutes(5),
        ["1h"] = TimeSpan.FromHours(1),
        ["1d"] = TimeSpan.FromDays(1),
    };

    public int Count => (int)((To - From) / Bucket);

    public long FromMinute => SalesStats.MinuteOf(From);

    public long ToMinute => SalesStats.MinuteOf(To);

    /// <summary>
    /// The range for these parameters, each optional: by minute, ending now, sixty buckets long (the
    /// last hour by default). The error names the parameter at fault and says why.
    /// </summary>
    public static (StatsRange? Range, string? Field, string? Error) Create(DateTimeOffset? from, DateTimeOffset? to, string? bucket, DateTimeOffset now)
    {
        var name = bucket ?? "1m";
        if (!Sizes.TryGetValue(name, out var size))
        {
            return (null, "bucket", "bucket must be one of 1m, 5m, 1h, 1d.");
        }

        // Whole buckets inside the calendar: an end that rounds up past the last instant of 9999 is
        // refused rather than overflowing, and the default start stops at the first instant of year 1.
        var last = to ?? now;
        var lastFloor = Floor(last, size);
        if (lastFloor.UtcTicks != last.UtcTicks && lastFloor.UtcTicks > DateTimeOffset.MaxValue.UtcTicks - size.Ticks)
        {
            return (null, "to", $"to must end a whole bucket of {name} before the end of year 9999.");
        }

        var end = Ceiling(last, size);
        var start = Floor(from ?? new DateTimeOffset(Math.Max(0, end.UtcTicks - (60 * size.Ticks)), TimeSpan.Zero), size);
        if (start >= end)
        {
            return (null, "from", "from must be before to.");
        }

        if ((end - start) / size > MaxBuckets)
        {
            return (null, "from", $"The range holds more than {MaxBuckets} buckets of {name}: narrow it or take a larger bucket.");
        }

        return (new StatsRange(start, end, size, name), null, null);
    }

    private static DateTimeOffset Floor(DateTimeOffset at, TimeSpan size) =>
        new(at.UtcTicks - (at.UtcTicks % size.Ticks), TimeSpan.Zero);

    private static DateTimeOffset Ceiling(DateTimeOffset at, TimeSpan size)
    {
        var floor = Floor(at, size);
        return floor.UtcTicks == at.UtcTicks ? floor : floor + size;
    }
}

/// <summary>One bucket of figures: the flows in it, and what was held and sold at its end.</summary>
public sealed record StatsBucket(DateTimeOffset Start, SalesFlows Flows, long Holding, long Sold);

/// <summary>An event's (or a capacity's) figures over a range; see <see cref="SalesStats.Summarize"/>.</summary>
public sealed record SalesReport(
    StatsRange Range,
    IReadOnlyList<StatsBucket> Buckets,
    SalesFlows Totals,
    long PeakSoldPerMinute,
    double? Conversion,
    long Confirms,
    double? MedianSecondsToConfirm,
    double? P95SecondsToConfirm,
    double TakenPerMinute,
    long? Available,
    DateTimeOffset? SellOutAt);

/// <summary>
/// What a forecast has left to sell (null: it cannot sell out) and until when the sale can go on (null:
/// no window ends it).
/// </summary>
public readonly record struct SaleLeft(long? Available, DateTimeOffset? Until);

public static class SalesStats
{
    /// <summary>How far back the current rate looks for a sell-out forecast.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromMinutes(10);

    /// <summary>
    /// What is left to sell at <paramref name="now"/> for a forecast over <paramref name="capacities"/>
    /// (an event's top capacities, which hold everything below them, or one capacity): the effective
    /// availability of each that is in the sale under way (<see cref="SaleRulesOf.InCurrentSale"/>), 0 for
    /// each that is not, since it sells nothing at any rate; null when one in the sale is unlimited all
    /// the way up, and so it cannot sell out. A pool above several of them (an event's sections may
    /// share a pool of another event) is counted once: what one takes of its headroom is not left for
    /// the next. With it, until when the sale can go on: the latest end of the windows of those with
    /// tickets left (a hold needs every window above it open, so each one's end is the earliest in its
    /// closure), null when one of them has no end.
    /// </summary>
    /// <remarks>
    /// Taken in the order given, which finds the most that can be sold wherever the pools above them
    /// nest (a tree). Where two capacities have pools above them that overlap without nesting (a
    /// capacity with two parents), the order can leave less than the most; the figure is still one
    /// that can be sold, never more.
    /// </remarks>
    public static SaleLeft LeftToSell(IEnumerable<CapacityNode> capacities, ICapacityLookup lookup, DateTimeOffset now)
    {
        var closure = new List<CapacityNode>();
        Dictionary<Guid, long>? counted = null;
        var left = 0L;
        DateTimeOffset? until = DateTimeOffset.MinValue;
        foreach (var capacity in capacities)
        {
            if (!SaleRulesOf.InCurrentSale(capacity, lookup, now))
            {
                continue;
            }

            Graph.Closure(capacity, lookup, closure);
            long? available = null;
            DateTimeOffset? end = null;
            foreach (var n in closure)
            {
                if (n.Headroom is { } headroom)
                {
                    var rest = Math.Max(0, headroom - (counted?.GetValueOrDefault(n.Id) ?? 0));
                    available = available is { } a && a <= rest ? a : rest;
                }

                if (n.Sale?.EndsAt is { } e && (end is null || e < end))
                {
                    end = e;
                }
            }

            if (available is not { } taken)
            {
                return new SaleLeft(null, null);
            }

            if (taken > 0)
            {
                counted ??= [];
                foreach (var n in closure)
                {
                    if (n.Headroom is not null)
                    {
                        counted[n.Id] = counted.GetValueOrDefault(n.Id) + taken;
                    }
                }

                if (until is { } latest)
                {
                    until = end is { } e ? (e > latest ? e : latest) : null;
                }
            }

            left += taken;
        }

        return new SaleLeft(left, left > 0 ? until : null);
    }

    /// <summary>The Unix minute an instant falls in: how figures are kept.</summary>
    public static long MinuteOf(DateTimeOffset at) => Math.DivRem(at.ToUnixTimeSeconds(), 60, out var rem) - (rem < 0 ? 1 : 0);

    /// <summary>
    /// Turns stored per-minute figures into a report. <paramref name="before"/> sums every minute before
    /// the range (where the levels start); <paramref name="minutes"/> are the range's minutes with any
    /// activity; <paramref name="recent"/> sums the <see cref="RateWindow"/> before <paramref name="now"/>;
    /// <paramref name="left"/> is what is left to sell now (null: it cannot sell out) and until when.
    /// </summary>
    public static SalesReport Summarize(
        StatsRange range,
        SalesFlows before,
        IReadOnlyList<(long Minute, SalesFlows Flows)> minutes,
        IReadOnlyDictionary<int, long> confirmTimes,
        SalesFlows recent,
        SaleLeft left,
        DateTimeOffset now)
    {
        var available = left.Available;
        var buckets = new List<StatsBucket>(range.Count);
        var holding = before.HoldingDelta;
        var sold = before.NetSold;
        var totals = default(SalesFlows);
        var peak = 0L;
        var next = 0;
        var minutesPerBucket = (long)range.Bucket.TotalMinutes;
        for (var i = 0; i < range.Count; i++)
        {
            var end = range.FromMinute + ((i + 1) * minutesPerBucket);
            var flows = default(SalesFlows);
            for (; next < minutes.Count && minutes[next].Minute < end; next++)
            {
                var m = minutes[next].Flows;
                flows += m;
                peak = Math.Max(peak, m.Confirmed + m.Reclaimed);
            }

            holding += flows.HoldingDelta;
            sold += flows.NetSold;
            totals += flows;
            buckets.Add(new StatsBucket(range.From + (i * range.Bucket), flows, holding, sold));
        }

        var ended = totals.Confirmed + totals.Released + totals.Expired;
        var rate = recent.Taken / RateWindow.TotalMinutes;
        DateTimeOffset? sellOut = available is > 0 && rate > 0
            ? Rules.ToMillisecond(now + TimeSpan.FromMinutes(Math.Min(available.Value / rate, TimeSpan.FromDays(3650).TotalMinutes)))
            : null;

        // At this rate the last window closes first: the sale ends with tickets left, it does not sell out.
        if (sellOut > left.Until)
        {
            sellOut = null;
        }

        return new SalesReport(
            range,
            buckets,
            totals,
            peak,
            ended == 0 ? null : Math.Round((double)totals.Confirmed / ended, 4),
            confirmTimes.Values.Sum(),
            ConfirmTimes.Percentile(confirmTimes, 0.5),
            ConfirmTimes.Percentile(confirmTimes, 0.95),
            Math.Round(Math.Max(0, rate), 3),
            available,
            sellOut);
    }
}

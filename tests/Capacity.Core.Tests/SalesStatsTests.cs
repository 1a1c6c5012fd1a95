namespace Capacity.Core.Tests;

/// <summary>
/// The sales figures the core tallies as holds change (what GET /events/{id}/stats reads), the
/// percentiles of time to confirm, the range rules, and how a report sums minutes into buckets.
/// </summary>
public sealed class SalesStatsTests
{
    [Fact]
    public void A_hold_counts_as_held_on_its_own_capacity_only_and_its_confirm_moves_it_to_sold_with_its_time()
    {
        var s = new Scenario();
        var venue = s.Own(100, "Venue");
        var stalls = s.Capped(60, venue);
        var hold = s.HoldOk((stalls, 3));
        Assert.Equal(new Dictionary<Guid, SalesFlows> { [stalls] = new() { Held = 3 } }, s.LastSales);

        s.AdvanceMinutes(2.5);
        s.Confirm(hold);
        Assert.Equal(new Dictionary<Guid, SalesFlows> { [stalls] = new() { Confirmed = 3 } }, s.LastSales);
        var time = Assert.Single(s.LastConfirmTimes);
        Assert.Equal((stalls, 1L, SalesStats.MinuteOf(s.Now)), (time.CapacityId, time.Count, time.Minute));
        var (from, to) = ConfirmTimes.Bounds(time.Bucket);
        Assert.InRange(150, from, to);
        s.AssertConsistent();
    }

    [Fact]
    public void Changing_a_hold_counts_the_difference_and_a_refund_and_a_whole_cancel_count_what_they_gave_back()
    {
        var s = new Scenario();
        var pool = s.Own(20, "Pool");
        var other = s.Own(20, "Other");
        var hold = s.HoldOk((pool, 4));
        s.Do(new ChangeHold(s.Tenant, hold, [new HoldItem(pool, 2, null), new HoldItem(other, 5, null)], null));
        Assert.Equal(new Dictionary<Guid, SalesFlows> { [pool] = new() { Released = 2 }, [other] = new() { Held = 5 } }, s.LastSales);

        s.Confirm(hold);
        s.Do(new CancelSale(s.Tenant, hold, [new ItemQuantity(other, 2)]));
        Assert.Equal(new Dictionary<Guid, SalesFlows> { [other] = new() { Cancelled = 2 } }, s.LastSales);
        s.Cancel(hold);
        Assert.Equal(new Dictionary<Guid, SalesFlows> { [pool] = new() { Cancelled = 2 }, [other] = new() { Cancelled = 3 } }, s.LastSales);
        Assert.Equal(new SalesFlows(Held: 5, Confirmed: 5, Released: 0, Expired: 0, Cancelled: 5, Reclaimed: 0), s.Sales[other]);
        s.AssertConsistent();
    }

    [Fact]
    public void An_expired_hold_confirmed_after_all_counts_as_expired_then_reclaimed_and_an_extension_counts_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");
        var hold = s.HoldOkFor(5, (pool, 4));
        s.Extend(hold, 10);
        Assert.Empty(s.LastSales);

        s.AdvanceMinutes(20);
        s.ExpireDue(hold);
        Assert.Equal(new Dictionary<Guid, SalesFlows> { [pool] = new() { Expired = 4 } }, s.LastSales);
        s.Do(new ConfirmHold(s.Tenant, hold, null, Reclaim: true));
        Assert.Equal(new Dictionary<Guid, SalesFlows> { [pool] = new() { Reclaimed = 4 } }, s.LastSales);
        Assert.Empty(s.LastConfirmTimes);
        Assert.Equal(4, s.Sales[pool].NetSold);
        s.AssertConsistent();
    }

    [Fact]
    public void A_refused_hold_tallies_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(2, "Pool");
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 3)).Code);
        Assert.Empty(s.LastSales);
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(1)]
    [InlineData(41.5)]
    [InlineData(600)]
    [InlineData(86_400)]
    public void A_percentile_read_back_from_the_buckets_is_within_ten_percent_of_the_time(double seconds)
    {
        var counts = new Dictionary<int, long> { [ConfirmTimes.BucketOf(TimeSpan.FromSeconds(seconds))] = 7 };
        var median = ConfirmTimes.Percentile(counts, 0.5)!.Value;
        Assert.InRange(median, seconds < 0.1 ? 0 : seconds * 0.9, seconds < 0.1 ? 0.1 : seconds * 1.1);
    }

    [Fact]
    public void The_95th_percentile_of_nineteen_quick_confirms_and_one_slow_one_is_quick_and_of_ten_and_ten_is_slow()
    {
        var quick = ConfirmTimes.BucketOf(TimeSpan.FromSeconds(30));
        var slow = ConfirmTimes.BucketOf(TimeSpan.FromSeconds(900));
        Assert.InRange(ConfirmTimes.Percentile(new Dictionary<int, long> { [quick] = 19, [slow] = 1 }, 0.95)!.Value, 27, 33);
        Assert.InRange(ConfirmTimes.Percentile(new Dictionary<int, long> { [quick] = 10, [slow] = 10 }, 0.95)!.Value, 810, 990);
        Assert.Null(ConfirmTimes.Percentile(new Dictionary<int, long>(), 0.5));
    }

    [Fact]
    public void A_range_defaults_to_the_last_hour_by_minute_aligned_to_whole_buckets_and_refuses_more_than_1440()
    {
        var now = new DateTimeOffset(2030, 1, 1, 12, 30, 20, TimeSpan.Zero);
        var (range, _, _) = StatsRange.Create(null, null, null, now);
        Assert.Equal((new DateTimeOffset(2030, 1, 1, 11, 31, 0, TimeSpan.Zero), new DateTimeOffset(2030, 1, 1, 12, 31, 0, TimeSpan.Zero), 60), (range!.From, range.To, range.Count));

        var (hours, _, _) = StatsRange.Create(now.AddHours(-5), now, "1h", now);
        Assert.Equal((new DateTimeOffset(2030, 1, 1, 7, 0, 0, TimeSpan.Zero), 6), (hours!.From, hours.Count));

        Assert.Equal("bucket", StatsRange.Create(null, null, "2m", now).Field);
        Assert.Equal("from", StatsRange.Create(now, now.AddMinutes(-1), null, now).Field);
        Assert.Equal("from", StatsRange.Create(now.AddMinutes(-1441), now, "1m", now).Field);
        Assert.NotNull(StatsRange.Create(now.AddMinutes(-1439), now, "1m", now).Range);
    }

    [Fact]
    public void A_range_at_either_end_of_the_calendar_is_refused_or_clamped_never_out_of_range()
    {
        var now = new DateTimeOffset(2030, 1, 1, 12, 30, 20, TimeSpan.Zero);
        var lastDay = new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

        // Rounded up to a whole bucket these would end after 9999-12-31T23:59:59.9999999.
        Assert.Equal("to", StatsRange.Create(null, new DateTimeOffset(9999, 12, 31, 23, 59, 59, TimeSpan.Zero), "1d", now).Field);
        Assert.Equal("to", StatsRange.Create(null, new DateTimeOffset(9999, 12, 31, 23, 59, 30, TimeSpan.Zero), "1m", now).Field);
        Assert.Equal("to", StatsRange.Create(new DateTimeOffset(9999, 12, 31, 23, 0, 0, TimeSpan.Zero), new DateTimeOffset(9999, 12, 31, 23, 59, 1, TimeSpan.Zero), "5m", now).Field);

        // An end already on a bucket's edge needs no rounding.
        var aligned = StatsRange.Create(null, lastDay, "1d", now).Range!;
        Assert.Equal((lastDay.AddDays(-60), lastDay), (aligned.From, aligned.To));

        // The default start of a range ending in year 1 is the calendar's first instant.
        var early = StatsRange.Create(null, new DateTimeOffset(1, 1, 1, 0, 10, 0, TimeSpan.Zero), "1m", now).Range!;
        Assert.Equal((DateTimeOffset.MinValue, 10), (early.From, early.Count));
    }

    [Fact]
    public void A_report_sums_minutes_into_buckets_keeps_levels_from_before_the_range_and_forecasts_at_the_recent_rate()
    {
        var now = new DateTimeOffset(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var range = StatsRange.Create(now.AddMinutes(-10), now, "5m", now).Range!;
        var m = range.FromMinute;
        var report = SalesStats.Summarize(
            range,
            before: new SalesFlows { Held = 10, Confirmed = 4 },
            minutes: [(m, new SalesFlows { Held = 3 }), (m + 4, new SalesFlows { Confirmed = 2, Released = 1 }), (m + 6, new SalesFlows { Held = 5, Confirmed = 5 })],
            confirmTimes: new Dictionary<int, long>(),
            recent: new SalesFlows { Held = 30, Released = 10 },
            left: new SaleLeft(40, null),
            now);

        Assert.Equal(2, report.Buckets.Count);
        Assert.Equal((new SalesFlows { Held = 3, Confirmed = 2, Released = 1 }, 6L, 6L), (report.Buckets[0].Flows, report.Buckets[0].Holding, report.Buckets[0].Sold));
        Assert.Equal((6L, 11L), (report.Buckets[1].Holding, report.Buckets[1].Sold));
        Assert.Equal(5, report.PeakSoldPerMinute);
        Assert.Equal(Math.Round(7.0 / 8, 4), report.Conversion);
        Assert.Equal(2.0, report.TakenPerMinute);
        Assert.Equal(now.AddMinutes(20), report.SellOutAt);

        var quiet = SalesStats.Summarize(range, default, [], new Dictionary<int, long>(), default, new SaleLeft(40, null), now);
        Assert.Equal((null, null, 0.0), (quiet.Conversion, quiet.SellOutAt, quiet.TakenPerMinute));
    }

    [Fact]
    public void A_sell_out_forecast_is_kept_to_the_millisecond_as_every_other_instant_is()
    {
        var now = new DateTimeOffset(2030, 1, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1234);
        var range = StatsRange.Create(now.AddMinutes(-10), now, "5m", now).Range!;

        // 7 left at 3 a minute: 2.333… minutes away, a fraction no store keeps.
        var report = SalesStats.Summarize(range, default, [], new Dictionary<int, long>(), new SalesFlows { Held = 30 }, new SaleLeft(7, null), now);
        Assert.Equal(0, report.SellOutAt!.Value.UtcTicks % TimeSpan.TicksPerMillisecond);
        Assert.Equal(now.AddMinutes(7.0 / 3), report.SellOutAt.Value, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public void An_instant_in_a_sentence_reads_to_the_millisecond()
    {
        var at = new DateTimeOffset(2026, 12, 7, 7, 20, 57, 270, TimeSpan.Zero).AddTicks(4567);
        Assert.Equal("2026-12-07T07:20:57.270+00:00", Rules.Instant(at));
        Assert.Equal("", Rules.Instant(null));
    }

    [Fact]
    public void Left_to_sell_counts_a_capacity_only_while_it_and_its_pools_take_holds_or_while_it_is_a_tier_the_sale_under_way_will_open()
    {
        var s = new Scenario();
        var venue = CreateWith(s, 100, new SaleRules(StartsAt: s.Now.AddMinutes(30)), "Venue");
        var stalls = s.Capped(60, venue);
        var early = s.Own(10, "Early bird");
        var regular = CreateWith(s, 20, new SaleRules(OpensAfter: early), "Regular");
        var last = CreateWith(s, 5, new SaleRules(OpensAfter: regular), "Last");
        var parking = s.Unlimited("Parking");
        Assert.Equal(OutcomeCode.Ok, s.SetActive(parking, false).Code);
        long? Left(params Guid[] ids) => SalesStats.LeftToSell(ids.Select(s.Node), s.Ws, s.Now).Available;

        // Before the venue's window the stalls take no hold; the tiers after the early bird open as it sells.
        Assert.Equal(0, Left(stalls));
        Assert.Equal(10 + 20 + 5, Left(venue, early, regular, last, parking));

        s.AdvanceMinutes(30);
        Assert.Equal(60, Left(stalls));
        Assert.Equal(100 + 10 + 20 + 5, Left(venue, early, regular, last, parking));
        Assert.Equal(OutcomeCode.Ok, s.SetActive(parking, true).Code);
        Assert.Null(Left(venue, parking));

        // A chain of tiers after a capacity closed by hand never opens.
        Assert.Equal(OutcomeCode.Ok, s.SetActive(early, false).Code);
        Assert.Equal(100, Left(venue, early, regular, last));
        s.AssertConsistent();
    }

    /// <summary>
    /// An event's top sections may share a pool that is another event's (a venue's cap over two
    /// nights): the pool's headroom is what both can sell together, not what each can.
    /// </summary>
    [Fact]
    public void Sections_sharing_a_pool_above_them_count_its_headroom_once()
    {
        var s = new Scenario();
        var venue = s.Own(100, "Venue");
        var friday = s.Capped(60, venue);
        var saturday = s.Capped(60, venue);
        var parking = s.Own(10, "Parking");
        SaleLeft Left(params Guid[] ids) => SalesStats.LeftToSell(ids.Select(s.Node), s.Ws, s.Now);

        Assert.Equal(100, Left(friday, saturday).Available);
        Assert.Equal(100, Left(saturday, friday).Available);
        Assert.Equal(110, Left(friday, saturday, parking).Available);

        // With 30 left in the venue, both nights together have 30, as each alone has.
        Assert.Equal(OutcomeCode.Ok, s.Hold((friday, 40)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Hold((saturday, 30)).Code);
        Assert.Equal((20L, 30L, 30L), (Left(friday).Available, Left(saturday).Available, Left(friday, saturday).Available));
        Assert.Equal(40, Left(friday, saturday, parking).Available);

        // Nothing left in the venue: nothing left on either night, and no window keeps the sale going.
        Assert.Equal(OutcomeCode.Ok, s.Hold((saturday, 30)).Code);
        Assert.Equal(new SaleLeft(0, null), Left(friday, saturday));
        s.AssertConsistent();
    }

    [Fact]
    public void A_sale_can_go_on_until_the_latest_window_end_of_what_has_tickets_left_and_no_later_than_the_windows_above_it()
    {
        var s = new Scenario();
        var venue = CreateWith(s, 100, new SaleRules(EndsAt: s.Now.AddHours(3)), "Venue");
        var under = s.CreateCommand(60, [venue], "Stalls") with { Sale = new SaleRules(EndsAt: s.Now.AddHours(5)) };
        Assert.Equal(OutcomeCode.Ok, s.Do(under).Code);
        var stalls = under.Id;
        var early = CreateWith(s, 10, new SaleRules(EndsAt: s.Now.AddHours(1)), "Early bird");
        var late = CreateWith(s, 10, new SaleRules(EndsAt: s.Now.AddHours(2)), "Late");
        var open = s.Own(10, "Open-ended");
        SaleLeft Left(params Guid[] ids) => SalesStats.LeftToSell(ids.Select(s.Node), s.Ws, s.Now);

        // The stalls' own window ends at five, but no hold passes the venue's after three.
        Assert.Equal(new SaleLeft(60, s.Now.AddHours(3)), Left(stalls));
        Assert.Equal(new SaleLeft(20, s.Now.AddHours(2)), Left(early, late));
        Assert.Equal(new SaleLeft(30, null), Left(early, late, open));

        // A capacity with nothing left does not keep the sale going.
        Assert.Equal(OutcomeCode.Ok, s.Hold((late, 10)).Code);
        Assert.Equal(new SaleLeft(10, s.Now.AddHours(1)), Left(early, late));
        Assert.Equal(OutcomeCode.Ok, s.Hold((early, 10)).Code);
        Assert.Equal(new SaleLeft(0, null), Left(early, late));
    }

    [Fact]
    public void A_sell_out_the_last_window_closes_before_is_no_sell_out()
    {
        var now = new DateTimeOffset(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var range = StatsRange.Create(now.AddMinutes(-10), now, "5m", now).Range!;
        var recent = new SalesFlows { Held = 20 };
        SalesReport Report(DateTimeOffset? until) => SalesStats.Summarize(range, default, [], new Dictionary<int, long>(), recent, new SaleLeft(40, until), now);

        // 2 a minute: 40 tickets take 20 minutes.
        Assert.Equal(now.AddMinutes(20), Report(null).SellOutAt);
        Assert.Equal(now.AddMinutes(20), Report(now.AddMinutes(20)).SellOutAt);
        Assert.Null(Report(now.AddMinutes(19)).SellOutAt);
        Assert.Equal((2.0, 40L), (Report(now.AddMinutes(19)).TakenPerMinute, Report(now.AddMinutes(19)).Available));
    }

    private static Guid CreateWith(Scenario s, int? total, SaleRules rules, string name)
    {
        var command = s.CreateCommand(total, null, name) with { Sale = rules };
        Assert.Equal(OutcomeCode.Ok, s.Do(command).Code);
        return command.Id;
    }
}

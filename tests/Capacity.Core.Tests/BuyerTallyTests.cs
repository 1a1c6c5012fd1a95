namespace Capacity.Core.Tests;

/// <summary>The audit's tickets per capacity and buyer, kept without an object per buyer.</summary>
public sealed class BuyerTallyTests
{
    private static readonly Guid First = Guid.Parse("0197a000-0000-7000-8000-000000000001");
    private static readonly Guid Second = Guid.Parse("0197a000-0000-7000-8000-000000000002");

    [Fact]
    public void Sums_are_kept_per_capacity_and_exact_key_and_an_absent_one_is_told_apart_from_zero()
    {
        var tally = new BuyerTally();
        tally.Add(First, "ab", 2);
        tally.Add(First, "ab", 3);
        tally.Add(First, "abc", 1);
        tally.Add(First, "AB", 7);
        tally.Add(Second, "ab", 4);
        tally.Add(Second, "gone", 0);

        Assert.Equal(5, tally.Count);
        Assert.Equal(5, tally.Find(First, "ab"));
        Assert.Equal(1, tally.Find(First, "abc"));
        Assert.Equal(7, tally.Find(First, "AB"));
        Assert.Equal(4, tally.Find(Second, "ab"));
        Assert.Equal(0, tally.Find(Second, "gone"));
        Assert.Null(tally.Find(First, "a"));
        Assert.Null(tally.Find(First, "ab "));
        Assert.Null(tally.Find(Second, "abc"));
        Assert.Null(tally.Find(First, "gone"));
    }

    [Fact]
    public void Keys_stay_whole_as_their_shared_array_grows_and_each_is_listed_once()
    {
        var tally = new BuyerTally();
        string Key(int i) => $"{i:x}-{new string((char)('a' + i % 26), i % 40)}";
        for (var round = 1; round <= 2; round++)
        {
            for (var i = 0; i < 5_000; i++)
            {
                tally.Add(i % 2 == 0 ? First : Second, Key(i), i);
            }
        }

        Assert.Equal(5_000, tally.Count);
        for (var i = 0; i < 5_000; i++)
        {
            Assert.Equal(2L * i, tally.Find(i % 2 == 0 ? First : Second, Key(i)));
        }

        var listed = new Dictionary<(Guid, string), long>();
        foreach (var entry in tally)
        {
            listed.Add((entry.CapacityId, entry.BuyerKey.ToString()), entry.Tickets);
        }

        Assert.Equal(Enumerable.Range(0, 5_000).ToDictionary(i => (i % 2 == 0 ? First : Second, Key(i)), i => 2L * i), listed);
    }

    [Fact]
    public void The_usage_check_reports_a_row_that_differs_and_a_buyer_with_live_tickets_and_no_row_and_nothing_else()
    {
        var holds = new HoldSums();
        var start = DateTimeOffset.Parse("2026-12-07T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        Reservation Hold(string buyer, int quantity, ReservationStatus status) =>
            new(Guid.NewGuid(), Guid.Empty, status, [new ReservationItem(First, quantity, null)], start, start.AddMinutes(15), null, null, buyer);
        holds.Add(Hold("even", 2, ReservationStatus.Active));
        holds.Add(Hold("even", 1, ReservationStatus.Confirmed));
        holds.Add(Hold("short", 2, ReservationStatus.Active));
        holds.Add(Hold("missing", 1, ReservationStatus.Active));
        holds.Add(Hold("released", 4, ReservationStatus.Released));

        var usage = new BuyerTally();
        usage.Add(First, "even", 3);
        usage.Add(First, "short", 1);
        usage.Add(First, "released", 0);
        Assert.Equal(
            [$"capacity {First}: a buyer has 1 live tickets and no usage row", $"capacity {First}: buyer usage 1 differs from the buyer's live tickets (2)"],
            Invariants.CheckUsage(usage, holds, []).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_usage_check_counts_the_units_a_buyer_waits_for_and_not_an_offered_entry_whose_hold_counts_instead()
    {
        var start = DateTimeOffset.Parse("2026-12-07T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        WaitlistEntry Entry(string buyer, int quantity, WaitlistStatus status) => new()
        {
            Id = Guid.NewGuid(), TenantId = Guid.Empty, EventId = "e", Items = [new WaitlistItem(First, quantity)], BuyerKey = buyer,
            Sequence = 1, Status = status, CreatedAt = start, UpdatedAt = start,
        };
        var holds = new HoldSums();
        holds.Add(new Reservation(Guid.NewGuid(), Guid.Empty, ReservationStatus.Active, [new ReservationItem(First, 1, null)], start, start.AddMinutes(15), null, null, "both"));
        var usage = new BuyerTally();
        usage.Add(First, "both", 3);
        usage.Add(First, "offered", 0);
        usage.Add(First, "stale", 2);
        Assert.Equal(
            [
                $"capacity {First}: a buyer waits for 4 units and has no usage row",
                $"capacity {First}: buyer usage 2 differs from the buyer's live tickets (0) and units waited for (1)",
            ],
            Invariants.CheckUsage(usage, holds, [Entry("both", 2, WaitlistStatus.Waiting), Entry("offered", 3, WaitlistStatus.Offered), Entry("stale", 1, WaitlistStatus.Waiting), Entry("missing", 4, WaitlistStatus.Waiting)])
                .Order(StringComparer.Ordinal));
    }
}

using System.Globalization;
using System.Text.Json;
using Capacity.Cli;

namespace Capacity.Client.Tests;

/// <summary>
/// <c>capacity stats</c> and the SDK's <see cref="CapacityClient.GetEventStatsAsync"/>, on a server whose clock the
/// tests move, so that sales land in the minutes the test chooses.
/// </summary>
public sealed class StatsCliTests(ClockedHost host) : IClassFixture<ClockedHost>
{
    [Fact]
    public async Task Stats_prints_each_minutes_sales_as_a_sparkline_with_the_totals_conversion_and_time_to_confirm()
    {
        var tenant = await host.NewTenantAsync();
        var t = tenant.Client;
        var floor = await t.CreateCapacityAsync("stats-gala", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 100 });
        var balcony = await t.CreateCapacityAsync("stats-gala", new CreateCapacityRequest { SectionName = "Balcony", TotalCapacity = 50 });
        var start = await NextFiveMinutesAsync();

        // Minute 0: 2 held, confirmed 30 s later. Minute 1: 6 held and confirmed 10 s later, 1 held and released.
        // Minute 2: 3 on the balcony, held in minute 1 and confirmed 50 s later. Minutes 3 and 4: nothing.
        var a = await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 2 });
        await AdvanceAsync(30);
        await t.ConfirmAsync(a.Reservation.Id);
        await AdvanceAsync(30);
        var b = await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 6 });
        var c = await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 });
        await AdvanceAsync(10);
        await t.ConfirmAsync(b.Reservation.Id);
        await AdvanceAsync(40);
        await t.ReleaseAsync(c.Reservation.Id);
        var d = await t.ReserveAsync(balcony.Id, new ReserveRequest { Quantity = 3 });
        await AdvanceAsync(50);
        await t.ConfirmAsync(d.Reservation.Id);

        string[] range = ["--from", Instant(start), "--to", Instant(start.AddMinutes(5))];
        var run = await host.RunCliAsync(["stats", "stats-gala", .. range, "--key", tenant.Key]);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error);
        Assert.Equal($"{Views(start)} to {Views(start.AddMinutes(5))}, 5 buckets of 1m", Pair(run.Output, "Range"));
        Assert.Equal("▄█▅▁▁", Pair(run.Output, "Sold per minute"));
        Assert.Equal(
            ("12", "11", "1", "0", "0", "0", "11"),
            (Pair(run.Output, "Held"), Pair(run.Output, "Confirmed"), Pair(run.Output, "Released"), Pair(run.Output, "Expired"),
                Pair(run.Output, "Cancelled"), Pair(run.Output, "Reclaimed"), Pair(run.Output, "Net sold")));
        Assert.Equal("0 in holds, 11 sold", Pair(run.Output, "At the end"));
        Assert.Equal("6 sold in a minute", Pair(run.Output, "Peak"));
        // 11 confirmed of the 12 tickets whose holds ended (1 released).
        Assert.StartsWith("92% ", Pair(run.Output, "Conversion"), StringComparison.Ordinal);
        Assert.Matches("^median [0-9.]+ s, 95th percentile [0-9.]+ s \\(3 confirms; ", Pair(run.Output, "Time to confirm"));

        // --json prints the service's answer itself: the same figures the view was drawn from.
        var json = await host.RunCliAsync(["stats", "stats-gala", .. range, "--json", "--key", tenant.Key]);
        Assert.Equal(ExitCodes.Ok, json.ExitCode);
        var stats = await t.GetEventStatsAsync("stats-gala", start, start.AddMinutes(5));
        using (var doc = JsonDocument.Parse(json.Output))
        {
            var s = doc.RootElement;
            Assert.Equal(("stats-gala", JsonValueKind.Null, "1m"), (s.GetProperty("event_id").GetString(), s.GetProperty("capacity_id").ValueKind, s.GetProperty("bucket").GetString()));
            Assert.Equal(start, s.GetProperty("from").GetDateTimeOffset());
            Assert.Equal([2L, 6L, 3L, 0L, 0L], s.GetProperty("buckets").EnumerateArray().Select(x => x.GetProperty("net_sold").GetInt64()));
            Assert.Equal([2L, 10L, 0L, 0L, 0L], s.GetProperty("buckets").EnumerateArray().Select(x => x.GetProperty("held").GetInt64()));
            Assert.Equal([0L, 1L, 0L, 0L, 0L], s.GetProperty("buckets").EnumerateArray().Select(x => x.GetProperty("released").GetInt64()));
            Assert.Equal(11, s.GetProperty("totals").GetProperty("net_sold").GetInt64());
            Assert.Equal(11.0 / 12, s.GetProperty("conversion").GetDouble(), 3);
            // The waits were 10, 30 and 50 s; the service keeps them to within about 9%.
            var wait = s.GetProperty("time_to_confirm");
            Assert.Equal(3, wait.GetProperty("confirms").GetInt64());
            Assert.InRange(wait.GetProperty("median_seconds").GetDouble(), 27, 33);
            Assert.InRange(wait.GetProperty("p95_seconds").GetDouble(), 45, 55);
            Assert.Contains($"median {Seconds(wait.GetProperty("median_seconds").GetDouble())}, 95th percentile {Seconds(wait.GetProperty("p95_seconds").GetDouble())} ", run.Output, StringComparison.Ordinal);
            Assert.Equal(stats.Forecast.TakenPerMinute, s.GetProperty("forecast").GetProperty("taken_per_minute").GetDouble());
            Assert.Equal(stats.Forecast.Available, s.GetProperty("forecast").GetProperty("available").GetInt64());
        }

        Assert.Equal(139, stats.Forecast.Available);

        // An instant with a '+' in its offset reaches the service intact, not read as a space.
        Assert.Equal(start, (await t.GetEventStatsAsync("stats-gala", start.ToOffset(TimeSpan.FromHours(2)), start.AddMinutes(5))).From);
        Assert.Equal(
            stats.Forecast.SellOutAt is { } at ? $"{Views(at)} (at this rate)" : "not selling",
            Pair(run.Output, "Sells out"));

        // One capacity and what is below it: the balcony's sale is left out.
        var floorOnly = await host.RunCliAsync(["stats", "stats-gala", .. range, "--capacity", floor.Id.ToString(), "--key", tenant.Key]);
        Assert.Equal(ExitCodes.Ok, floorOnly.ExitCode);
        Assert.Equal(("▄█▁▁▁", "9", "8"), (Pair(floorOnly.Output, "Sold per minute"), Pair(floorOnly.Output, "Held"), Pair(floorOnly.Output, "Net sold")));
        Assert.Contains(floor.Id.ToString(), Pair(floorOnly.Output, "Event"), StringComparison.Ordinal);

        // Five-minute buckets sum the minutes; two days of minutes are more buckets than the service gives.
        var wide = await host.RunCliAsync(["stats", "stats-gala", "--from", Instant(start), "--to", Instant(start.AddMinutes(10)), "--bucket", "5m", "--json", "--key", tenant.Key]);
        using (var doc = JsonDocument.Parse(wide.Output))
        {
            Assert.Equal([11L, 0L], doc.RootElement.GetProperty("buckets").EnumerateArray().Select(x => x.GetProperty("net_sold").GetInt64()));
        }

        var tooMany = await host.RunCliAsync(["stats", "stats-gala", "--from", Instant(start.AddDays(-2)), "--to", Instant(start), "--key", tenant.Key]);
        Assert.Equal(ExitCodes.Usage, tooMany.ExitCode);
        Assert.Contains("VALIDATION_ERROR", tooMany.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_says_sold_out_not_before_the_sale_ends_or_not_selling_as_the_dashboard_does()
    {
        var tenant = await host.NewTenantAsync();
        var t = tenant.Client;

        // Every ticket sold: nothing left, though tickets were taken lately.
        var small = await t.CreateCapacityAsync("forecast-sold", new CreateCapacityRequest { SectionName = "Club", TotalCapacity = 4 });
        await t.ConfirmAsync((await t.ReserveAsync(small.Id, new ReserveRequest { Quantity = 4 })).Reservation.Id);

        // Selling at 1 a minute, 990 left, and the sale ends in half an hour: the rate never gets there.
        var big = await t.CreateCapacityAsync("forecast-ends", new CreateCapacityRequest
        {
            SectionName = "Arena", TotalCapacity = 1000, SaleEndsAt = host.Clock!.GetUtcNow().AddMinutes(30),
        });
        await t.ReserveAsync(big.Id, new ReserveRequest { Quantity = 10 });

        // Nothing taken at all.
        await t.CreateCapacityAsync("forecast-idle", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });

        foreach (var (eventId, available, says) in new[] { ("forecast-sold", 0L, "sold out"), ("forecast-ends", 990L, "not before the sale ends"), ("forecast-idle", 10L, "not selling") })
        {
            var forecast = (await t.GetEventStatsAsync(eventId)).Forecast;
            Assert.Equal((available, null), (forecast.Available, forecast.SellOutAt));

            var run = await host.RunCliAsync(["stats", eventId, "--key", tenant.Key]);
            Assert.True(run.ExitCode == ExitCodes.Ok, run.Error);
            Assert.Equal(says, Pair(run.Output, "Sells out"));
        }
    }

    /// <summary>
    /// Moves the server's clock to the next multiple of five minutes and answers it: the service lays buckets on such
    /// edges, so a range from there starts with a whole bucket of 1m and of 5m alike.
    /// </summary>
    private async Task<DateTimeOffset> NextFiveMinutesAsync()
    {
        var now = host.Clock!.GetUtcNow();
        var five = TimeSpan.FromMinutes(5).Ticks;
        await host.AdvanceAndSweepAsync(TimeSpan.FromTicks(five - (now.UtcTicks % five)));
        return host.Clock.GetUtcNow();
    }

    /// <summary>Seconds under a minute as the view prints them.</summary>
    private static string Seconds(double seconds) => seconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";

    private Task AdvanceAsync(int seconds) => host.AdvanceAndSweepAsync(TimeSpan.FromSeconds(seconds));

    private static string Instant(DateTimeOffset at) => at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>An instant as the views print it.</summary>
    private static string Views(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>The value printed beside <paramref name="name"/> in a view of name and value pairs.</summary>
    private static string Pair(string output, string name) =>
        Assert.Single(output.Split('\n'), l => l.StartsWith(name + "  ", StringComparison.Ordinal))[name.Length..].Trim();
}

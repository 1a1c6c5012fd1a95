using System.Diagnostics.Metrics;
using System.Globalization;
using Capacity.Server.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Capacity.Server.Tests;

/// <summary>The collector's series take measurements from many request threads at once without a lock.</summary>
public sealed class MetricsCollectorTests
{
    [Fact]
    public async Task Measurements_from_eight_threads_at_once_are_all_counted_and_no_scrape_meanwhile_shows_a_bucket_above_its_total()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var collector = new MetricsCollector(meters);
        var meter = meters.Create("Capacity.Test");
        var requests = meter.CreateCounter<long>("test.requests");
        var duration = meter.CreateHistogram<double>("test.duration", "ms");
        const int Threads = 8, Each = 20_000;

        using var stop = new CancellationTokenSource();
        var scraping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var scrapes = Task.Run(() =>
        {
            var seen = 0;
            do
            {
                AssertHistogramWhole(collector.Scrape());
                seen++;
                scraping.TrySetResult();
            }
            while (!stop.IsCancellationRequested);

            return seen;
        });

        // The recorders start once the scrapes have, so that they run side by side.
        await scraping.Task;
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < Each; i++)
            {
                requests.Add(1, new KeyValuePair<string, object?>("route", "/r"));
                duration.Record(i % 2 == 0 ? 1 : 30, new KeyValuePair<string, object?>("route", "/r"));
            }
        })));
        await stop.CancelAsync();
        await scrapes; // its checks of every scrape taken meanwhile

        var lines = collector.Scrape().Split('\n');
        Assert.Equal(Threads * Each, Value(lines, "test_requests_total{route=\"/r\"}"));
        Assert.Equal(Threads * Each / 2, Value(lines, "test_duration_seconds_bucket{route=\"/r\",le=\"0.001\"}"));
        Assert.Equal(Threads * Each, Value(lines, "test_duration_seconds_bucket{route=\"/r\",le=\"0.05\"}"));
        Assert.Equal(Threads * Each, Value(lines, "test_duration_seconds_count{route=\"/r\"}"));
        Assert.Equal(Threads * Each / 2 * (0.001 + 0.030), Value(lines, "test_duration_seconds_sum{route=\"/r\"}"), 6);
    }

    [Fact]
    public void A_counter_never_incremented_is_scraped_at_0_until_its_first_series()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var collector = new MetricsCollector(meters);
        var failures = meters.Create("Capacity.Test").CreateCounter<long>("test.failed_batches", description: "Batches whose transaction failed");

        var lines = collector.Scrape().Split('\n');
        Assert.Contains("# TYPE test_failed_batches_total counter", lines);
        Assert.Equal(0, Value(lines, "test_failed_batches_total"));

        failures.Add(2, new KeyValuePair<string, object?>("store", "sqlite"));
        lines = collector.Scrape().Split('\n');
        Assert.Equal(2, Value(lines, "test_failed_batches_total{store=\"sqlite\"}"));
        Assert.DoesNotContain("test_failed_batches_total 0", lines);
    }

    /// <summary>Cumulative buckets never fall, and +Inf (the count) is at least the last of them.</summary>
    private static void AssertHistogramWhole(string scrape)
    {
        var last = 0.0;
        foreach (var line in scrape.Split('\n').Where(l => l.StartsWith("test_duration_seconds_bucket", StringComparison.Ordinal)))
        {
            var value = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            Assert.True(value >= last, $"{line} after {last}");
            last = value;
        }
    }

    private static double Value(string[] lines, string series) =>
        double.Parse(Assert.Single(lines, l => l.StartsWith(series + " ", StringComparison.Ordinal))[(series.Length + 1)..], CultureInfo.InvariantCulture);
}

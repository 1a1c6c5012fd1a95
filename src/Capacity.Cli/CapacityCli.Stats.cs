using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Capacity.Cli;

/// <summary>The <c>stats</c> command: an event's sales over time, with a sparkline, its conversion and a sell-out forecast.</summary>
public static partial class CapacityCli
{
    private static Command StatsCommand(Host host)
    {
        var from = new Option<DateTimeOffset?>("--from") { Description = "The start of the range, " + InstantDescription + " [default: 60 buckets before --to]" };
        var to = new Option<DateTimeOffset?>("--to") { Description = "The end of the range [default: now]" };
        var last = new Option<TimeSpan?>("--last")
        {
            Description = "The range ending now, such as 30m, 6h or 2d (instead of --from and --to)",
            HelpName = "duration",
            CustomParser = DurationOf,
        };
        var bucket = new Option<string?>("--bucket") { Description = "The width of a bucket (at most 1,440 in the range) [default: 1m]", HelpName = "1m|5m|1h|1d" };
        bucket.AcceptOnlyFromAmong("1m", "5m", "1h", "1d");
        var capacity = new Option<Guid?>("--capacity", "-c") { Description = "Only this capacity and everything below it", HelpName = "capacity-id" };
        var stats = Call(host, "stats", "Show an event's sales over time: tickets sold per bucket as a sparkline, held, confirmed, released, expired, refunded, conversion, time to confirm, and when it sells out at the recent rate",
            EventArgument(), CliJson.Default.EventStats, Views.Stats,
            (p, client, eventId, ct) =>
            {
                var now = DateTimeOffset.UtcNow;
                var (start, end) = p.GetValue(last) is { } span ? (now - span, now) : (p.GetValue(from), p.GetValue(to));
                return client.GetEventStatsAsync(eventId, start, end, p.GetValue(bucket), p.GetValue(capacity), ct);
            },
            from, to, last, bucket, capacity);
        stats.Validators.Add(result =>
        {
            if (IsGiven(result.GetResult(last)) && (IsGiven(result.GetResult(from)) || IsGiven(result.GetResult(to))))
            {
                result.AddError("Give --last, or --from and --to, not both.");
            }
        });
        return stats;
    }

    /// <summary>
    /// Reads <c>--last</c>: a whole number of minutes, hours or days, such as <c>90m</c>, <c>6h</c> or <c>2d</c>, up to
    /// 1,440 days (the most the service gives: 1,440 buckets of a day).
    /// </summary>
    private static TimeSpan? DurationOf(ArgumentResult result)
    {
        var text = result.Tokens.Single().Value;
        long minutesPer = text.Length < 2 ? 0 : text[^1] switch { 'm' => 1, 'h' => 60, 'd' => 1440, _ => 0 };
        if (minutesPer > 0
            && int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            && n > 0
            && n * minutesPer <= 1440L * 1440)
        {
            return TimeSpan.FromMinutes(n * minutesPer);
        }

        result.AddError($"--last must be a number of minutes, hours or days up to 1440d, such as 30m, 6h or 2d, not '{text}'.");
        return null;
    }
}

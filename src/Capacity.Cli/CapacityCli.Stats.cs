using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Capacity.Client;

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
        var eventId = EventArgument();
        var stats = new Command("stats", "Show an event's sales over time: tickets sold per bucket as a sparkline, held, confirmed, released, expired, refunded, conversion, time to confirm, and when it sells out at the recent rate")
        {
            eventId, from, to, last, bucket, capacity,
        };
        stats.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var id = p.GetRequiredValue(eventId);
            if (!await HasCapacitiesAsync(client, id, ct))
            {
                // The figures of an event with no capacities are all zero, which would read as an event that sold nothing.
                await c.Host.Error.WriteLineAsync($"error: event {id} has no capacities.");
                return ExitCodes.NotFound;
            }

            var (start, end) = p.GetValue(last) is { } span
                ? LastRange(span, p.GetValue(bucket), DateTimeOffset.UtcNow)
                : (p.GetValue(from), p.GetValue(to));
            var figures = await client.GetEventStatsAsync(id, start, end, p.GetValue(bucket), p.GetValue(capacity), ct);
            c.Write(figures, CliJson.Default.EventStats, () => Views.Stats(figures));
            return ExitCodes.Ok;
        }));
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
    /// The range of <c>--last</c>: whole buckets ending with the one <paramref name="now"/> is in, as many as the span holds
    /// (60 for <c>1h</c> of 1m). The service floors <c>from</c> and raises <c>to</c> to whole buckets, so <c>now - span</c> to
    /// <c>now</c> off a bucket's edge would be one bucket more than asked for.
    /// </summary>
    private static (DateTimeOffset From, DateTimeOffset To) LastRange(TimeSpan span, string? bucket, DateTimeOffset now)
    {
        var size = bucket switch
        {
            "5m" => TimeSpan.FromMinutes(5),
            "1h" => TimeSpan.FromHours(1),
            "1d" => TimeSpan.FromDays(1),
            _ => TimeSpan.FromMinutes(1),
        };
        var end = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % size.Ticks), TimeSpan.Zero) + size;
        return (end - span, end);
    }

    /// <summary>
    /// Whether the event has a capacity: the API answers an event id it has never seen as an event with nothing, so a
    /// command that would show it as one (zero sales, nothing available) asks first. One capacity is enough to know.
    /// </summary>
    private static async Task<bool> HasCapacitiesAsync(CapacityClient client, string eventId, CancellationToken ct) =>
        (await client.ListCapacityAsync(eventId, after: null, limit: 1, ct)).Capacity.Count > 0;

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

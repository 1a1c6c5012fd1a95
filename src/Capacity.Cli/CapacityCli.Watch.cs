using System.CommandLine;
using System.Text.Json;
using Capacity.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Capacity.Cli;

/// <summary>The <c>watch</c> command: an event live, redrawn on every change, with its sales rate and forecast.</summary>
public static partial class CapacityCli
{
    /// <summary>How often <c>watch</c> reads the sales figures; the stream says nothing of rates.</summary>
    private static readonly TimeSpan SalesInterval = TimeSpan.FromSeconds(5);

    private static Command WatchCommand(Host host)
    {
        var eventId = EventArgument();
        var watch = new Command("watch", "Follow an event live, redrawn on every change, with its sales rate and forecast read every 5 s (Ctrl+C stops; --json prints each snapshot as a line)")
        {
            eventId,
        };
        watch.SetAction((p, ct) => Run(host, p, admin: false, ct, (c, client) => WatchAsync(c, client, p.GetRequiredValue(eventId), ct)));
        return watch;
    }

    /// <summary>
    /// Draws the event until Ctrl+C. In a terminal the view is updated in place; when the output is a file or a
    /// pipe, each view is written after the last. With --json, each snapshot is a line, as scripts have always read it.
    /// </summary>
    private static async Task<int> WatchAsync(Invocation c, CapacityClient client, string eventId, CancellationToken ct)
    {
        try
        {
            if (!await HasCapacitiesAsync(client, eventId, ct))
            {
                // The stream of an event with no capacities is an empty table and nothing available, which reads as an
                // event sold out rather than one that does not exist (a mistyped id, say).
                await c.Host.Error.WriteLineAsync($"error: event {eventId} has no capacities.");
                return ExitCodes.NotFound;
            }

            if (c.Json)
            {
                await foreach (var snapshot in client.WatchAsync(eventId, ct))
                {
                    c.Write(snapshot, CliJson.Default.EventSnapshot, () => Text.Empty);
                    await c.Host.Output.FlushAsync(ct);
                }
            }
            else if (c.Console.Profile.Capabilities.Interactive)
            {
                // Every snapshot, the first included, goes through the same draw, so the first is on the screen at once
                // rather than when the event first changes (the original blank screen). The explicit Refresh makes
                // that not depend on whether UpdateTarget redraws by itself in this Spectre.Console version.
                await c.Console.Live(Text.Empty).AutoClear(false).StartAsync(live => FollowAsync(client, eventId, c.Console, view =>
                {
                    live.UpdateTarget(view);
                    live.Refresh();
                }, ct));
            }
            else
            {
                await FollowAsync(client, eventId, c.Console, view =>
                {
                    c.Console.Write(view);
                    c.Console.WriteLine();
                }, ct);
            }

            // Only Ctrl+C ends a watch on purpose; a stream that ends means the service went away.
            await c.Host.Error.WriteLineAsync("error: the service closed the stream.");
            return ExitCodes.Unavailable;
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // Ctrl+C is how a watch ends. A stream whose read is cancelled may report it as a broken read (an
            // IOException around the cancellation) rather than as the cancellation: after Ctrl+C that is the same end.
            return ExitCodes.Ok;
        }
    }

    /// <summary>
    /// Draws the event on its first snapshot and on every one after, and again when the sales figures, read every
    /// <see cref="SalesInterval"/>, say something new. Returns when the service ends the stream.
    /// </summary>
    private static async Task FollowAsync(CapacityClient client, string eventId, IAnsiConsole console, Action<IRenderable> draw, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var snapshots = client.WatchAsync(eventId, stop.Token).GetAsyncEnumerator(stop.Token);
        var nextSnapshot = snapshots.MoveNextAsync().AsTask();
        var nextSales = ReadSalesAsync(client, eventId, TimeSpan.Zero, stop.Token);
        EventSnapshot? latest = null;
        var sales = Views.SalesLine(null, null);
        try
        {
            while (true)
            {
                if (await Task.WhenAny(nextSnapshot, nextSales) == nextSnapshot)
                {
                    if (!await nextSnapshot)
                    {
                        return;
                    }

                    latest = snapshots.Current;
                    draw(View(latest, sales, console));
                    nextSnapshot = snapshots.MoveNextAsync().AsTask();
                }
                else
                {
                    var read = await nextSales;
                    if (read != sales)
                    {
                        sales = read;
                        if (latest is not null)
                        {
                            draw(View(latest, sales, console));
                        }
                    }

                    nextSales = ReadSalesAsync(client, eventId, SalesInterval, stop.Token);
                }
            }
        }
        finally
        {
            // Either read may still be in flight, and the stream cannot be closed under a pending read. A fault here is
            // the one already on its way out, or the cancellation just asked for.
            await stop.CancelAsync();
            await Task.WhenAll(nextSnapshot, nextSales).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await snapshots.DisposeAsync();
        }

        static IRenderable View(EventSnapshot s, string sales, IAnsiConsole console) =>
            new Rows(
                new Markup($"[grey]Live: {Views.Time(DateTimeOffset.UtcNow)} (Ctrl+C to stop)[/]"),
                Views.Event(s.EventId, s.Capacity, s.Totals, console, s.Holds),
                new Markup(sales));
    }

    /// <summary>The sales line of <c>watch</c>, read after <paramref name="delay"/>: the last hour by minute, or why it could not be read.</summary>
    private static async Task<string> ReadSalesAsync(CapacityClient client, string eventId, TimeSpan delay, CancellationToken ct)
    {
        await Task.Delay(delay, ct);
        try
        {
            return Views.SalesLine(await client.GetEventStatsAsync(eventId, cancellationToken: ct), null);
        }
        catch (Exception e) when (e is CapacityApiException or HttpRequestException or IOException or JsonException or TaskCanceledException { InnerException: TimeoutException })
        {
            // The live table matters more than the figures under it: the line says why they are missing, and the
            // next read tries again. A failure of the stream itself still ends the watch.
            return Views.SalesLine(null, "not available: " + e.Message);
        }
    }
}

using System.Diagnostics;
using Capacity.Engine;
using Capacity.Server.Http;

namespace Capacity.Server.Limits;

/// <summary>
/// Adds the buyers' usage log into their rows a slice at a time while the writer is idle
/// (<see cref="CommandEngine.FoldUsageLogAsync"/>). Keyed holds on capacities no limit covers append to
/// the log so that they do not pay for their buyers' rows while the writer is busy; this pays for them
/// when it is not, which bounds the log on capacities no limit ever covers and what a limit's creation
/// has left to fold (every tenant's writes wait for that fold).
/// </summary>
internal sealed class UsageFoldService(CommandEngine engine, ServerOptions options, OutageLog outage, ILogger<UsageFoldService> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRest = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestRest = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.UsageFoldSlice == 0)
        {
            return;
        }

        var rest = LongestRest;
        while (!stoppingToken.IsCancellationRequested)
        {
            // The machine's own time, not the service's clock: this paces the writer's work.
            var started = Stopwatch.GetTimestamp();
            var folded = 0;
            try
            {
                folded = await engine.FoldUsageLogAsync(options.UsageFoldSlice, stoppingToken);
                if (folded > 0)
                {
                    outage.Succeeded();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (OutageLog.IsStoreFailure(ex))
                {
                    outage.Failed("usage log fold", ex);
                }
                else
                {
                    logger.LogWarning(ex, "Folding the usage log failed; trying again in {Rest}", LongestRest);
                }
            }

            // After a slice, as long again before the next: at most half of the writer's idle time goes to
            // the log, and the request threads keep their share of the cores. After nothing (an empty
            // log, a command waiting, another node's batch on the capacity), a rest that doubles up to a
            // second, so an empty log costs a transaction a second and a busy writer is asked again soon.
            rest = folded > 0 ? FirstRest : TimeSpan.FromTicks(Math.Min(rest.Ticks * 2, LongestRest.Ticks));
            await Task.Delay(folded > 0 ? Stopwatch.GetElapsedTime(started) : rest, stoppingToken);
        }
    }
}

using Capacity.Engine;
using Capacity.Server.Http;

namespace Capacity.Server.Expiry;

/// <summary>
/// Runs the expiry sweep every second (configurable) so a lapsed hold's tickets return within
/// about a second (and an expired allocation's idle tickets with them), refreshes the hold gauges every 5 s, and purges old idempotency records once a minute.
/// </summary>
internal sealed class SweepService(ExpirySweeper sweeper, IReadStore store, TimeProvider time, ServerOptions options, OutageLog outage, ILogger<SweepService> logger) : BackgroundService
{
    private static readonly TimeSpan StatsInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.SweepIntervalMs));
        // Periods on the provider's monotonic clock; the first stats are read at the first tick.
        var lastPurge = time.GetTimestamp();
        long? lastStats = null;
        var settled = false;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                // Once a start: waiting lists a recount (an upgrade's migration) left fitting are offered now.
                settled = settled || await sweeper.SettleWaitingListsAsync(stoppingToken);

                var expired = await sweeper.SweepOnceAsync(stoppingToken);
                if (expired > 0)
                {
                    logger.LogDebug("Expired {Count} holds", expired);
                }

                // After the holds, so a hold that lapsed in the same second goes back to its allocation first.
                var closed = await sweeper.CloseDueAllocationsAsync(stoppingToken);
                if (closed > 0)
                {
                    logger.LogInformation("Closed {Count} expired allocations", closed);
                }

                // Windows that opened or ended since the last tick: their waiting lists and subscribers hear of it now.
                await sweeper.PassSaleEdgesAsync(stoppingToken);

                if (lastStats is not { } statsRead || time.GetElapsedTime(statsRead) > StatsInterval)
                {
                    lastStats = time.GetTimestamp();
                    var (active, oldest) = await store.GetHoldStatsAsync(stoppingToken);
                    var lag = oldest is { } o ? Math.Max(0, (time.GetUtcNow() - o).TotalSeconds) : 0;
                    ServerMetrics.SetHoldStats(active, lag);
                }

                if (time.GetElapsedTime(lastPurge) > PurgeInterval)
                {
                    lastPurge = time.GetTimestamp();
                    await sweeper.PurgeAsync(TimeSpan.FromHours(options.IdempotencyRetentionHours), stoppingToken);
                }

                // The sweep read the store: if it was failing, it answers again.
                outage.Succeeded();
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // A store outage must not end the sweeper: it tries again on the next tick, and the
                // outage is logged once with summaries (OutageLog), not once a tick.
                if (OutageLog.IsStoreFailure(ex))
                {
                    outage.Failed("expiry sweep", ex);
                }
                else
                {
                    logger.LogWarning(ex, "Expiry sweep failed; retrying next tick");
                }
            }
        }
    }
}

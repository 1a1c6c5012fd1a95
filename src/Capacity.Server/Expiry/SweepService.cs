using Capacity.Engine;
using Capacity.Server.Http;

namespace Capacity.Server.Expiry;

/// <summary>
/// Runs the expiry sweep every second (configurable) so a lapsed hold's tickets return within
/// about a second, refreshes the hold gauges every 5 s, and purges old idempotency records once a minute.
/// </summary>
public sealed class SweepService(ExpirySweeper sweeper, ICapacityStore store, TimeProvider time, ServerOptions options, ILogger<SweepService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.SweepIntervalMs));
        var lastPurge = DateTime.UtcNow;
        var lastStats = DateTime.MinValue;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var expired = await sweeper.SweepOnceAsync(stoppingToken);
                if (expired > 0)
                {
                    logger.LogDebug("Expired {Count} holds", expired);
                }

                if (DateTime.UtcNow - lastStats > TimeSpan.FromSeconds(5))
                {
                    lastStats = DateTime.UtcNow;
                    var (active, oldest) = await store.GetHoldStatsAsync(stoppingToken);
                    var lag = oldest is { } o ? Math.Max(0, (time.GetUtcNow() - o).TotalSeconds) : 0;
                    ServerMetrics.SetHoldStats(active, lag);
                }

                if (DateTime.UtcNow - lastPurge > TimeSpan.FromMinutes(1))
                {
                    lastPurge = DateTime.UtcNow;
                    await sweeper.PurgeAsync(TimeSpan.FromHours(options.IdempotencyRetentionHours), stoppingToken);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // A store outage must not end the sweeper: it tries again on the next tick.
                logger.LogWarning(ex, "Expiry sweep failed; retrying next tick");
            }
        }
    }
}

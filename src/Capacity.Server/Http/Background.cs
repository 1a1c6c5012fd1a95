using Capacity.Engine;

namespace Capacity.Server.Http;

/// <summary>
/// Runs the expiry sweep every second (configurable) so a lapsed hold's tickets return within
/// about a second, and purges old idempotency records once a minute.
/// </summary>
public sealed class SweepService(ExpirySweeper sweeper, ServerOptions options, ILogger<SweepService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.SweepIntervalMs));
        var lastPurge = DateTime.UtcNow;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var expired = await sweeper.SweepOnceAsync(stoppingToken);
                if (expired > 0)
                {
                    logger.LogDebug("Expired {Count} holds", expired);
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

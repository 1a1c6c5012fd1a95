using Capacity.Core;
using Microsoft.Extensions.Logging;

namespace Capacity.Engine;

/// <summary>
/// Returns the capacity of due holds to their pools. It only finds candidates; the expiry itself is
/// an engine command, decided by the core against the locked rows, so a hold confirmed a moment
/// before is left alone and a hold is never expired twice, however many nodes sweep.
/// </summary>
public sealed class ExpirySweeper(ICapacityStore store, CommandEngine engine, TimeProvider time, ILogger<ExpirySweeper> logger)
{
    public int BatchSize { get; init; } = 5000;

    /// <summary>Expires everything due now. Returns how many holds it expired.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken ct)
    {
        var expired = 0;
        while (true)
        {
            var due = await store.GetDueReservationsAsync(time.GetUtcNow(), BatchSize, ct).ConfigureAwait(false);
            if (due.Count == 0)
            {
                return expired;
            }

            var result = await engine.SubmitAsync(new ExpireDue([.. due])).ConfigureAwait(false);
            if (result.Status != EngineStatus.Decided)
            {
                logger.LogWarning("Expiry sweep stopped: the engine answered {Status}", result.Status);
                return expired;
            }

            expired += result.Outcome!.Count;
            if (due.Count < BatchSize || result.Outcome.Count == 0)
            {
                return expired;
            }
        }
    }

    /// <summary>Purges idempotency records older than the retention period.</summary>
    public Task<int> PurgeAsync(TimeSpan retention, CancellationToken ct) =>
        store.PurgeIdempotencyAsync(time.GetUtcNow() - retention, ct);
}

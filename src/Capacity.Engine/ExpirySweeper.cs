using System.Data.Common;
using Capacity.Core;
using Microsoft.Extensions.Logging;

namespace Capacity.Engine;

/// <summary>
/// Returns the capacity of due holds to their pools. It only finds candidates; the expiry itself is
/// an engine command, decided by the core against the locked rows, so a hold confirmed a moment
/// before is left alone and a hold is never expired twice, however many nodes sweep.
/// </summary>
public sealed class ExpirySweeper(IWriteStore store, CommandEngine engine, TimeProvider time, ILogger<ExpirySweeper> logger)
{
    public int BatchSize { get; init; } = 5000;

    /// <summary>Expires everything due now. Returns how many holds it expired.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var expired = 0;
        var page = await store.GetDueReservationsAsync(now, BatchSize, null, ct).ConfigureAwait(false);
        while (page.Count > 0)
        {
            var submitted = engine.SubmitAsync(new ExpireDue([.. page.Select(d => d.Id)]));

            // The next page is read while the engine applies this one. It starts after this page's last
            // hold in (expiry, id) order, so it never repeats a hold of this page, committed or not; and
            // a hold it names that is gone by the time its batch runs is simply left alone by the core.
            var next = page.Count < BatchSize
                ? Task.FromResult<IReadOnlyList<DueHold>>([])
                : store.GetDueReservationsAsync(now, BatchSize, page[^1], ct);
            var result = await submitted.ConfigureAwait(false);
            if (result.Status != EngineStatus.Decided)
            {
                logger.LogWarning("Expiry sweep stopped: the engine answered {Status}", result.Status);
                try
                {
                    await next.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is DbException or TimeoutException or InvalidOperationException)
                {
                    // The store is failing too; the engine's answer above is what gets reported.
                }

                return expired;
            }

            expired += result.Outcome!.Value.Count;
            page = await next.ConfigureAwait(false);
        }

        return expired;
    }

    /// <summary>
    /// Closes the open allocations past their expiry, giving their idle units back to the public.
    /// Like expiry, the close is a command: an allocation closed a moment before (by hand, or by
    /// another node's sweep) is left alone, so its units are given back once. Returns how many it closed.
    /// </summary>
    public Task<int> CloseDueAllocationsAsync(CancellationToken ct) =>
        SubmitDueAsync(store.GetDueAllocationsAsync(time.GetUtcNow(), BatchSize, ct), ids => new CloseDueAllocations(ids), "Allocation sweep");

    /// <summary>Passes every sale-window edge now due (<see cref="PassSaleEdges"/>). Returns how many it passed.</summary>
    public Task<int> PassSaleEdgesAsync(CancellationToken ct) =>
        SubmitDueAsync(store.GetDueSaleEdgesAsync(time.GetUtcNow(), BatchSize, ct), ids => new PassSaleEdges(ids), "Sale-window sweep");

    /// <summary>
    /// Settles the waiting list of every event where entries wait (<see cref="SettleWaitlist"/>), as a
    /// node starts: an upgrade's recount of what queues are owed (migration 021) can leave entries that
    /// now fit, and nothing else would offer them before the event's next release. Settling a list
    /// that is settled changes nothing, so every node may do it. Returns whether every event's list was
    /// settled (false: try again later).
    /// </summary>
    public async Task<bool> SettleWaitingListsAsync(CancellationToken ct)
    {
        var capacities = await store.GetWaitingEventCapacitiesAsync(BatchSize, ct).ConfigureAwait(false);
        var results = await Task.WhenAll(capacities.Select(id => engine.SubmitAsync(new SettleWaitlist(id)))).ConfigureAwait(false);
        foreach (var result in results)
        {
            if (result.Status != EngineStatus.Decided)
            {
                logger.LogWarning("Settling the waiting lists at start stopped: the engine answered {Status}", result.Status);
                return false;
            }
        }

        return true;
    }

    /// <summary>One command for the ids the store found due; the count the core answers (how many it acted on).</summary>
    private async Task<int> SubmitDueAsync(Task<IReadOnlyList<Guid>> found, Func<Guid[], Command> command, string what)
    {
        var due = await found.ConfigureAwait(false);
        if (due.Count == 0)
        {
            return 0;
        }

        var result = await engine.SubmitAsync(command([.. due])).ConfigureAwait(false);
        if (result.Status != EngineStatus.Decided)
        {
            logger.LogWarning("{Sweep} stopped: the engine answered {Status}", what, result.Status);
            return 0;
        }

        return result.Outcome!.Value.Count;
    }

    /// <summary>Purges idempotency records older than the retention period, through the engine's writer.</summary>
    public Task<int> PurgeAsync(TimeSpan retention, CancellationToken ct) =>
        engine.PurgeIdempotencyAsync(time.GetUtcNow() - retention, ct);
}

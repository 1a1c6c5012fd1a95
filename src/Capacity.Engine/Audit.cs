using Capacity.Core;

namespace Capacity.Engine;

public sealed record AuditReport(bool Ok, int Capacities, int LiveReservations, IReadOnlyList<string> Violations);

public static class Audit
{
    /// <summary>
    /// Recomputes every counter twice, from the ledger and from the live holds and allocations, and
    /// checks the per-pool limits, every allocation's counters, every buyer's usage and the waiting
    /// lists (owed and offered units, offers, and no entry left waiting while it fits), each event's ledger
    /// numbering, and the webhook outbox. One consistent read of the store; decides nothing.
    /// </summary>
    /// <param name="now">The instant sale windows are judged at; the system clock's when not given.</param>
    public static async Task<AuditReport> RunAsync(IReadStore store, CancellationToken ct, DateTimeOffset? now = null)
    {
        var data = await store.ReadAuditDataAsync(ct).ConfigureAwait(false);
        var violations = Invariants.Check(data.Capacities, data.LiveHolds, data.Allocations);
        violations.AddRange(Invariants.CheckLedger(data.Capacities, data.LedgerSums));
        violations.AddRange(CheckLedgerNumbering(data.MisnumberedLedgers));
        violations.AddRange(Invariants.CheckSales(data.LiveHolds, data.Sales));
        violations.AddRange(Invariants.CheckUsage(data.Usage, data.LiveHolds, data.LiveEntries));
        violations.AddRange(CheckUsageLog(data.Capacities, data.UsageLogCapacities));
        violations.AddRange(Invariants.CheckWaitlists(data.Capacities, data.LiveEntries, data.Offers, data.LiveHolds, data.Limits, data.Usage, now ?? DateTimeOffset.UtcNow));
        violations.AddRange(CheckOutbox(data.Outbox));
        return new AuditReport(violations.Count == 0, data.Capacities.Count, data.LiveHolds.Count, violations);
    }

    /// <summary>
    /// On PostgreSQL a capacity a limit covers has no usage changes left in the log: the limit's creation
    /// folded them into its buyers' rows, and from then on the batches on it read and write the rows,
    /// which alone are what its limits are checked against. (SQLite's writer reads a buyer's usage from
    /// memory and logs every change, and reports no such capacities.)
    /// </summary>
    public static IEnumerable<string> CheckUsageLog(IReadOnlyList<CapacityNode> capacities, IReadOnlyCollection<Guid> logged) =>
        capacities.Where(n => n.LimitIds.Length > 0 && logged.Contains(n.Id)).Select(n =>
            $"capacity {n.Id}: a buyer limit covers it, and usage changes appended while none did were never added into its buyers' rows");

    /// <summary>
    /// Each event's ledger is numbered 1, 2, 3… in commit order, without a gap or an overlap: a reader
    /// paging with <c>after</c> relies on it, and the numbers tell nothing of other events or tenants.
    /// </summary>
    public static IEnumerable<string> CheckLedgerNumbering(IReadOnlyList<MisnumberedLedger> misnumbered) =>
        misnumbered.Select(m =>
            $"ledger of event {m.EventId} (tenant {m.TenantId}): {m.Chunks} chunks do not follow on from the one before, the first ending at sequence {m.FirstEndingAt}");

    /// <summary>
    /// The webhook outbox: an endpoint's deliveries are exactly 1 to its last sequence number (a notice
    /// is never lost between numbering and writing, nor written twice), every pending one has its next
    /// attempt, and none outlives its endpoint.
    /// </summary>
    public static IEnumerable<string> CheckOutbox(OutboxAudit outbox)
    {
        foreach (var e in outbox.Endpoints)
        {
            if (e.Deliveries != e.LastSequence || e.MaxSequence != e.LastSequence)
            {
                yield return $"webhook {e.EndpointId}: {e.Deliveries} deliveries up to sequence {e.MaxSequence}, but it numbered {e.LastSequence}";
            }

            if (e.PendingWithoutAttempt > 0)
            {
                yield return $"webhook {e.EndpointId}: {e.PendingWithoutAttempt} pending deliveries have no next attempt";
            }
        }

        if (outbox.Orphans > 0)
        {
            yield return $"{outbox.Orphans} webhook deliveries belong to no endpoint";
        }
    }
}

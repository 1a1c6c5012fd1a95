using Capacity.Core;

namespace Capacity.Engine;

public sealed record AuditReport(bool Ok, int Capacities, int LiveReservations, IReadOnlyList<string> Violations);

public static class Audit
{
    /// <summary>
    /// Recomputes every counter twice, from the ledger and from the live holds and allocations, and
    /// checks the per-pool limits, every allocation's counters, every buyer's usage and the waiting
    /// lists (owed and offered units, offers, and no entry left waiting while it fits). One
    /// consistent read of the store; decides nothing.
    /// </summary>
    /// <param name="now">The instant sale windows are judged at; the system clock's when not given.</param>
    public static async Task<AuditReport> RunAsync(IReadStore store, CancellationToken ct, DateTimeOffset? now = null)
    {
        var data = await store.ReadAuditDataAsync(ct).ConfigureAwait(false);
        var violations = Invariants.Check(data.Capacities, data.LiveHolds, data.Allocations);
        violations.AddRange(Invariants.CheckLedger(data.Capacities, data.LedgerSums));
        violations.AddRange(Invariants.CheckUsage(data.Usage, data.LiveHolds));
        violations.AddRange(Invariants.CheckWaitlists(data.Capacities, data.LiveEntries, data.Offers, data.LiveHolds, data.Limits, data.Usage, now ?? DateTimeOffset.UtcNow));
        return new AuditReport(violations.Count == 0, data.Capacities.Count, data.LiveHolds.Count, violations);
    }
}

using System.CommandLine;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>The <c>ledger</c> command: an event's counter changes, page by page, or every page at once.</summary>
public static partial class CapacityCli
{
    private static Command LedgerCommand(Host host)
    {
        var after = new Option<long?>("--after") { Description = "Start after this sequence number: the next_after of the previous page" };
        var limit = new Option<int?>("--limit") { Description = "Entries per page, 1 to 1000 (the service's default: 100)" };
        var all = new Option<bool>("--all") { Description = "Read every page from --after on, --limit entries at a time, and print them together" };
        return Call(host, "ledger", "List an event's counter changes in the order they were committed: each hold, confirm, release, expiry, refund, reclaim, allocation and sale rule, per capacity",
            EventArgument(), CliJson.Default.LedgerPage, Views.Ledger,
            (p, client, eventId, ct) => p.GetValue(all)
                ? ReadAllLedgerAsync(client, eventId, p.GetValue(after), p.GetValue(limit), ct)
                : client.GetLedgerAsync(eventId, p.GetValue(after), p.GetValue(limit), ct),
            after, limit, all);
    }

    /// <summary>
    /// Every page from <paramref name="after"/> on, as one page. The service sets next_after on every full page, so
    /// the last page read is the first that is not full (possibly empty), and it says there is no next.
    /// </summary>
    private static async Task<LedgerPage> ReadAllLedgerAsync(CapacityClient client, string eventId, long? after, int? limit, CancellationToken ct)
    {
        var entries = new List<LedgerEntry>();
        LedgerPage page;
        do
        {
            page = await client.GetLedgerAsync(eventId, after, limit, ct);
            entries.AddRange(page.Entries);
            after = page.NextAfter;
        }
        while (after is not null);

        return page with { Entries = entries };
    }
}

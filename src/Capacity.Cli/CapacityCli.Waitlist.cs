using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>The <c>waitlist</c> commands: queues for sold-out capacities, whose freed tickets are offered as holds.</summary>
public static partial class CapacityCli
{
    private static Command WaitlistCommands(Host host)
    {
        var items = new Argument<WaitlistItem[]>("items")
        {
            Description = "What to queue for, as <capacity-id>:<quantity>; give several (of one event) for one entry offered all together",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = r => ItemsOf(r, (capacityId, quantity) => new WaitlistItem(capacityId, quantity)),
        };
        var buyer = new Option<string?>("--buyer", "-b") { Description = "The buyer's key: the offer counts towards the buyer's per-buyer limits" };
        var reference = new Option<string?>("--ref") { Description = "Your own reference, such as an order or customer id: kept and shown" };
        var join = host.OneWrite(Call(host, "join", "Join the waiting lists of sold-out capacities; freed tickets are offered as a hold",
            items, CliJson.Default.WaitlistEntry, Views.WaitlistEntry,
            (p, client, wanted, ct) => client.JoinWaitlistAsync(
                new JoinWaitlistRequest { Items = wanted, BuyerKey = p.GetValue(buyer), ExternalRef = p.GetValue(reference) }, host.IdempotencyKeyOf(p), ct),
            buyer, reference));

        var show = OnEntry(host, "show", "Show a waiting-list entry: its status, its place in line, its offer", (_, client, id, ct) => client.GetWaitlistEntryAsync(id, ct));
        var leave = host.OneWrite(OnEntry(host, "leave", "Leave a waiting list; an offer's hold is released and its tickets go to the next in line",
            (p, client, id, ct) => client.LeaveWaitlistAsync(id, host.IdempotencyKeyOf(p), ct)));

        var after = new Option<long?>("--after") { Description = "Start after this sequence: the next_after of the previous page" };
        var limit = new Option<int?>("--limit") { Description = "Entries per page, 1 to 1000 (the service's default: 100)" };
        var all = new Option<bool>("--all") { Description = "Read every page, --limit entries at a time, and print them together" };
        var list = Call(host, "list", "List a capacity's waiting-list entries in the order they joined, whatever their status",
            new Argument<Guid>("capacity-id") { Description = "The capacity" }, CliJson.Default.WaitlistPage, Views.Waitlist,
            (p, client, capacityId, ct) => p.GetValue(all)
                ? ReadWholeWaitlistAsync(client, capacityId, p.GetValue(after), p.GetValue(limit), ct)
                : client.GetWaitlistAsync(capacityId, p.GetValue(after), p.GetValue(limit), ct),
            after, limit, all);

        var policy = new Option<WaitlistPolicy>("--policy")
        {
            Description = "How freed tickets are offered: fifo (in order; a group is never overtaken) or first_fit (skipping entries that do not fit)",
            HelpName = "fifo|first_fit",

            // The API's names: the default enum parsing would take "FirstFit" or "1" and refuse "first_fit".
            CustomParser = PolicyOf,
        };
        var minutes = new Option<int>("--offer-minutes") { Description = "How long an offer is held before it lapses, 1 to 120" };
        var enable = OnWaitlistSettings(host, "enable", "Open a capacity's waiting list, or change its settings (a first list: 30 minutes, fifo)", p => new WaitlistPatch
        {
            Enabled = true,
            OfferMinutes = Given(p, minutes),
            Policy = Given(p, policy),
        }, policy, minutes);
        var disable = OnWaitlistSettings(host, "disable", "Close a capacity's waiting list: it refuses new entries and still serves those in it",
            _ => new WaitlistPatch { Enabled = false });

        return new Command("waitlist", "Waiting lists: buyers queue for sold-out capacities and are offered freed tickets as holds")
        {
            join, show, leave, list, enable, disable,
        };
    }

    /// <summary>
    /// Reads <c>capacity-id:quantity</c> tokens, of a waiting-list entry, a change or a partial confirm or refund:
    /// a malformed one is a usage error before anything is sent.
    /// </summary>
    private static T[] ItemsOf<T>(ArgumentResult result, Func<Guid, int, T> item)
    {
        var items = new List<T>(result.Tokens.Count);
        foreach (var token in result.Tokens)
        {
            var parts = token.Value.Split(':');
            if (parts.Length != 2 || !Guid.TryParse(parts[0], out var capacityId)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var quantity))
            {
                result.AddError($"'{token.Value}' is not <capacity-id>:<quantity>, such as 0199a5a0-1b2c-7d3e-8f40-5a6b7c8d9e0f:2.");
                return [];
            }

            items.Add(item(capacityId, quantity));
        }

        return [.. items];
    }

    /// <summary>Every page from <paramref name="after"/> on, as one page: the last one read says there is no next.</summary>
    private static async Task<WaitlistPage> ReadWholeWaitlistAsync(CapacityClient client, Guid capacityId, long? after, int? limit, CancellationToken ct)
    {
        var entries = new List<WaitlistEntry>();
        WaitlistPage page;
        do
        {
            page = await client.GetWaitlistAsync(capacityId, after, limit, ct);
            entries.AddRange(page.Entries);
            after = page.NextAfter;
        }
        while (after is not null);

        return page with { Entries = entries };
    }

    private static WaitlistPolicy PolicyOf(ArgumentResult result)
    {
        switch (result.Tokens.Single().Value)
        {
            case "fifo": return WaitlistPolicy.Fifo;
            case "first_fit": return WaitlistPolicy.FirstFit;
            case var other:
                result.AddError($"--policy must be fifo or first_fit, not '{other}'.");
                return default;
        }
    }

    private static Command OnEntry(Host host, string name, string description, Func<ParseResult, CapacityClient, Guid, CancellationToken, Task<WaitlistEntry>> call) =>
        Call(host, name, description, new Argument<Guid>("entry-id") { Description = "The waiting-list entry" },
            CliJson.Default.WaitlistEntry, Views.WaitlistEntry, call);

    /// <summary>A change to a capacity's waiting list, sent as the capacity update it is (one write); prints the list as the capacity shows it.</summary>
    private static Command OnWaitlistSettings(
        Host host, string name, string description, Func<ParseResult, WaitlistPatch> patch, params Option[] options) =>
        host.OneWrite(Call(host, name, description, new Argument<Guid>("capacity-id") { Description = "The capacity" },
            CliJson.Default.CapacityDetails, Views.WaitlistSettings,
            (p, client, capacityId, ct) => client.UpdateCapacityAsync(capacityId, new UpdateCapacityRequest { Waitlist = patch(p) }, host.IdempotencyKeyOf(p), ct),
            options));
}

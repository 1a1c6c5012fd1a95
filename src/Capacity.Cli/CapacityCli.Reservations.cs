using System.CommandLine;
using System.CommandLine.Parsing;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>
/// A hold's life after <c>reserve</c>: <c>confirm</c> (in part, or after it expired), <c>change</c>, <c>extend</c>,
/// <c>cancel</c> (in part), beside <c>release</c>; <c>reservations list</c>, which finds them by event or reference,
/// and <c>reservations show</c>, which looks one up.
/// </summary>
public static partial class CapacityCli
{
    private static Command ConfirmCommand(Host host)
    {
        var items = PartsOption("Confirm only these tickets, as <capacity-id>:<quantity> (0 to what the hold has); the rest of the hold is released");
        var reclaim = new Option<bool>("--reclaim") { Description = "If the hold has expired, take it back when its tickets are still free, at the prices it locked (needs a key with the elevated scope)" };
        return host.OneWrite(Call(host, "confirm", "Confirm a hold: the tickets are sold", ReservationArgument(), CliJson.Default.Reservation, r => Views.Reservation(r),
            (p, client, id, ct) =>
            {
                // Without either option this is the plain confirm it always was: no body at all.
                var parts = GivenItems(p, items);
                var onExpired = p.GetValue(reclaim) ? ExpiredHoldAction.Reclaim : (ExpiredHoldAction?)null;
                return parts is null && onExpired is null
                    ? client.ConfirmAsync(id, host.IdempotencyKeyOf(p), ct)
                    : client.ConfirmAsync(id, new ConfirmReservationRequest { Items = parts, OnExpired = onExpired }, host.IdempotencyKeyOf(p), ct);
            },
            items, reclaim));
    }

    private static Command CancelCommand(Host host)
    {
        var items = PartsOption("Refund only these tickets, as <capacity-id>:<quantity>; the sale stays confirmed until its last ticket is refunded");
        return host.OneWrite(Call(host, "cancel", "Cancel a sale (a refund): its tickets go back to every pool", ReservationArgument(), CliJson.Default.Reservation, r => Views.Reservation(r),
            (p, client, id, ct) => GivenItems(p, items) is { } parts
                ? client.CancelAsync(id, parts, host.IdempotencyKeyOf(p), ct)
                : client.CancelAsync(id, host.IdempotencyKeyOf(p), ct),
            items));
    }

    /// <summary><c>reservations create</c>: a cart of several capacities (of one event or several), held all or nothing.</summary>
    private static Command CartCommand(Host host)
    {
        var items = new Argument<ReservationItemRequest[]>("items")
        {
            Description = "Each item as <capacity-id>:<quantity>, then :<pricing-id> to lock that price entry's price and @<allocation-id> to draw it from that allocation of the capacity",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = CartItemsOf,
        };
        var minutes = new Option<int?>("--minutes", "-m") { Description = HoldMinutesDescription };
        var buyer = new Option<string?>("--buyer", "-b") { Description = "The buyer's key: every item counts towards the buyer's per-buyer limits" };
        var reference = new Option<string?>("--ref") { Description = "Your own reference for the cart (1 to 128 characters): kept, shown, and found by reservations list --ref" };
        var meta = new Option<Dictionary<string, string>?>("--meta")
        {
            Description = "Your own note on the cart as key=value, kept and shown; repeat for each (at most 16)",
            HelpName = "key=value",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = MetadataOf,
        };
        var create = new Command("create", "Hold a cart: tickets of several capacities in one hold, all or nothing") { items, minutes, buyer, reference, meta };
        host.OneWrite(create);
        create.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var cart = await client.CreateReservationAsync(new CreateReservationRequest
            {
                Items = p.GetRequiredValue(items),
                ReservationMinutes = p.GetValue(minutes),
                BuyerKey = p.GetValue(buyer),
                ExternalRef = p.GetValue(reference),
                Metadata = p.GetValue(meta),
            }, host.IdempotencyKeyOf(p), ct);
            c.Write(cart, CliJson.Default.Reservation, () => Views.Reservation(cart));
            return ExitCodes.Ok;
        }));
        return create;
    }

    /// <summary>
    /// Reads a cart's items: <c>&lt;capacity-id&gt;:&lt;quantity&gt;</c>, with an optional
    /// <c>:&lt;pricing-id&gt;</c> and an optional <c>@&lt;allocation-id&gt;</c> at the end.
    /// </summary>
    private static ReservationItemRequest[] CartItemsOf(ArgumentResult result)
    {
        const string Shape = "<capacity-id>:<quantity>[:<pricing-id>][@<allocation-id>]";
        var items = new ReservationItemRequest[result.Tokens.Count];
        for (var i = 0; i < items.Length; i++)
        {
            var token = result.Tokens[i].Value;
            var (held, from) = token.IndexOf('@', StringComparison.Ordinal) is var at and >= 0 ? (token[..at], token[(at + 1)..]) : (token, null);
            var parts = held.Split(':');
            Guid pricingId = default, allocationId = default;
            if (parts.Length is not (2 or 3) || !Guid.TryParse(parts[0], out var capacityId)
                || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var quantity)
                || (parts.Length == 3 && !Guid.TryParse(parts[2], out pricingId))
                || (from is not null && !Guid.TryParse(from, out allocationId)))
            {
                result.AddError($"'{token}' is not {Shape}, such as 0199a5a0-1b2c-7d3e-8f40-5a6b7c8d9e0f:2.");
                return [];
            }

            items[i] = new ReservationItemRequest
            {
                CapacityId = capacityId,
                Quantity = quantity,
                PricingId = parts.Length == 3 ? pricingId : null,
                AllocationId = from is not null ? allocationId : null,
            };
        }

        return items;
    }

    private static Command ExtendCommand(Host host)
    {
        var minutes = new Option<int>("--minutes", "-m") { Description = "The hold then expires this many minutes from now (a smaller number shortens it); a hold lives at most 120 minutes", Required = true };
        return host.OneWrite(Call(host, "extend", "Make an active hold expire a number of minutes from now", ReservationArgument(), CliJson.Default.Reservation, r => Views.Reservation(r),
            (p, client, id, ct) => client.ExtendAsync(id, p.GetValue(minutes), host.IdempotencyKeyOf(p), ct),
            minutes));
    }

    private static Command ChangeCommand(Host host)
    {
        var items = new Argument<ChangeItemRequest[]>("items")
        {
            Description = "Each capacity's new quantity as <capacity-id>:<quantity>: lower gives tickets back, higher is checked all or nothing, 0 removes it; capacities not named keep theirs",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = r => ItemsOf(r, (capacityId, quantity) => new ChangeItemRequest { CapacityId = capacityId, Quantity = quantity }),
        };
        var minutes = new Option<int?>("--minutes", "-m") { Description = "The hold then expires this many minutes from now [default: its expiry stays]" };
        var change = host.OneWrite(Call(host, "change", "Change an active hold's quantities; all 0 releases it", ReservationArgument(), CliJson.Default.Reservation, r => Views.Reservation(r),
            (p, client, id, ct) => client.ChangeReservationAsync(
                id, new ChangeReservationRequest { Items = p.GetRequiredValue(items), ReservationMinutes = p.GetValue(minutes) }, host.IdempotencyKeyOf(p), ct),
            minutes));
        change.Arguments.Add(items);
        return change;
    }

    private static Command ReservationCommands(Host host)
    {
        var eventId = new Option<string?>("--event", "-e") { Description = "An event: its reservations, a cart across events under each of them" };
        var reference = new Option<string?>("--ref") { Description = "The reference the holds were given with reserve --ref" };
        var status = new Option<ReservationStatus?>("--status")
        {
            Description = "Only those with this status (a hold past its expiry is expired)",
            HelpName = "active|confirmed|released|expired|cancelled",

            // The API's names only: the default enum parsing would take "Active" or "1" too.
            CustomParser = StatusOf,
        };
        var buyer = new Option<string?>("--buyer", "-b") { Description = "Only those that named this buyer" };
        var after = new Option<string?>("--after") { Description = "Start after this cursor: the next_after of the previous page" };
        var limit = new Option<int?>("--limit") { Description = "Reservations per page, 1 to 1000 (the service's default: 100)" };
        var all = new Option<bool>("--all") { Description = "Read every page, --limit reservations at a time, and print them together" };
        var list = new Command("list", "List reservations newest first, by event or by reference (at least one), whatever their status")
        {
            eventId, reference, status, buyer, after, limit, all,
        };
        RequireAny(list, eventId, reference);
        list.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var query = new ReservationQuery { EventId = p.GetValue(eventId), ExternalRef = p.GetValue(reference), Status = p.GetValue(status), BuyerKey = p.GetValue(buyer) };
            var page = p.GetValue(all)
                ? await ReadAllReservationsAsync(client, query, p.GetValue(after), p.GetValue(limit), ct)
                : await client.ListReservationsAsync(query, p.GetValue(after), p.GetValue(limit), ct);
            c.Write(page, CliJson.Default.ReservationPage, () => Views.Reservations(page));
            return ExitCodes.Ok;
        }));

        var show = Call(host, "show", "Show one reservation: its status, items with their locked prices, totals, buyer, reference and times",
            ReservationArgument(), CliJson.Default.Reservation, r => Views.Reservation(r), (_, client, id, ct) => client.GetReservationAsync(id, ct));

        return new Command("reservations", "Hold a cart, find reservations by event or by your own reference, and look one up") { CartCommand(host), list, show };
    }

    private static Argument<Guid> ReservationArgument() => new("reservation-id") { Description = "The reservation" };

    /// <summary>
    /// <c>--items a:1 b:2</c>, or <c>--items a:1 --items b:2</c>. Put it after the reservation id: it takes
    /// every word that follows until the next option.
    /// </summary>
    private static Option<ItemQuantity[]> PartsOption(string description) => new("--items")
    {
        Description = description,
        HelpName = "capacity-id:quantity",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = true,
        CustomParser = r => ItemsOf(r, (capacityId, quantity) => new ItemQuantity(capacityId, quantity)),
    };

    /// <summary>The items of <c>--items</c>, or null when it is not on the command line (the whole hold or sale).</summary>
    private static ItemQuantity[]? GivenItems(ParseResult parse, Option<ItemQuantity[]> option) =>
        parse.GetResult(option) is null ? null : parse.GetValue(option);

    /// <summary>Every page from <paramref name="after"/> on, as one page: the last one read says there is no next.</summary>
    private static async Task<ReservationPage> ReadAllReservationsAsync(CapacityClient client, ReservationQuery query, string? after, int? limit, CancellationToken ct)
    {
        var reservations = new List<Reservation>();
        ReservationPage page;
        do
        {
            page = await client.ListReservationsAsync(query, after, limit, ct);
            reservations.AddRange(page.Reservations);
            after = page.NextAfter;
        }
        while (after is not null);

        return page with { Reservations = reservations };
    }

    private static ReservationStatus? StatusOf(ArgumentResult result)
    {
        switch (result.Tokens.Single().Value)
        {
            case "active": return ReservationStatus.Active;
            case "confirmed": return ReservationStatus.Confirmed;
            case "released": return ReservationStatus.Released;
            case "expired": return ReservationStatus.Expired;
            case "cancelled": return ReservationStatus.Cancelled;
            case var other:
                result.AddError($"--status must be active, confirmed, released, expired or cancelled, not '{other}'.");
                return null;
        }
    }

    /// <summary>
    /// Reads <c>--meta key=value</c>, repeated: split at the first '=', so a value may hold one. A word without
    /// '=' or a key given twice is a usage error before anything is sent; what the service allows of keys and
    /// values is left to it.
    /// </summary>
    private static Dictionary<string, string>? MetadataOf(ArgumentResult result)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var token in result.Tokens)
        {
            var cut = token.Value.IndexOf('=', StringComparison.Ordinal);
            if (cut <= 0)
            {
                result.AddError($"'{token.Value}' is not <key>=<value>, such as channel=web.");
                return null;
            }

            if (!metadata.TryAdd(token.Value[..cut], token.Value[(cut + 1)..]))
            {
                result.AddError($"--meta {token.Value[..cut]} is given twice.");
                return null;
            }
        }

        return metadata;
    }
}

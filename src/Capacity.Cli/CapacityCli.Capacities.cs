using System.CommandLine;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>
/// The <c>capacities</c> commands: create a capacity, show one, change it (name, code, size, sale rules, low watermark,
/// open or closed), and check what could be held.
/// </summary>
public static partial class CapacityCli
{
    private const string InstantDescription = "such as 2030-05-01T18:00:00Z (a time without an offset is local)";

    private static Command CapacityCommands(Host host)
    {
        var eventId = EventArgument();
        var name = new Argument<string>("name") { Description = "The section's name, such as \"Stalls\"" };
        var total = new Option<int?>("--total") { Description = "Its limit, 0 to 1,000,000 [default: unlimited]" };
        var parents = new Option<Guid[]>("--parent")
        {
            Description = "A pool it draws from (of any of your events); repeat for each",
            HelpName = "capacity-id",
            CustomParser = IdsOf,
        };
        var starts = new Option<DateTimeOffset?>("--sale-starts") { Description = "Holds are refused (SALE_NOT_OPEN) before this time, " + InstantDescription };
        var ends = new Option<DateTimeOffset?>("--sale-ends") { Description = "New holds are refused (SALE_CLOSED) from this time; holds placed before may still be confirmed" };
        var after = new Option<Guid?>("--opens-after")
        {
            Description = "A capacity of the same event: this one opens when that one first sells out, which then closes, or when its sale window ends (set once)",
            HelpName = "capacity-id",
        };
        var close = new Option<bool>("--close-when-sold-out") { Description = "Close it the first time it sells out, until an update reopens it with --active" };
        var overbook = new Option<int?>("--overbook") { Description = "Let holds take a limited capacity this many tickets past its total (0 to 1,000,000)" };
        var low = new Option<int?>("--low-watermark") { Description = "Tell webhooks capacity.low when availability falls to this many tickets (0 to 1,000,000)" };
        var code = new Option<string?>("--code") { Description = "A short code of your own, such as a ticket type's" };
        var schedule = new Option<string?>("--schedule") { Description = "A schedule (performance) id within the event" };
        var mode = new Option<CapacityMode?>("--mode")
        {
            Description = "The mode you expect; the service derives it from --total and --parent and refuses one that disagrees",
            HelpName = "own|capped|shared|unlimited",

            // The API's names: the default enum parsing would take "Own" or "0".
            CustomParser = ModeOf,
        };
        var inactive = new Option<bool>("--inactive") { Description = "Create it closed to holds (allocations may still set tickets aside), until an update with --active" };
        var create = new Command("create", "Create a capacity of an event: a pool, a section of one, or a tier that opens after another")
        {
            eventId, name, total, parents, starts, ends, after, close, overbook, low, code, schedule, mode, inactive,
        };
        host.OneWrite(create);
        create.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var request = new CreateCapacityRequest
            {
                SectionName = p.GetRequiredValue(name),
                TotalCapacity = p.GetValue(total),
                ParentIds = p.GetValue(parents),
                SaleStartsAt = p.GetValue(starts),
                SaleEndsAt = p.GetValue(ends),
                OpensAfterSoldOutOf = p.GetValue(after),

                // Sent only when asked for, so a capacity without rules is created exactly as before they existed.
                CloseWhenSoldOut = p.GetValue(close) ? true : null,
                OverbookLimit = p.GetValue(overbook),
                LowWatermark = p.GetValue(low),
                SectionCode = p.GetValue(code),
                ScheduleId = p.GetValue(schedule),
                Mode = p.GetValue(mode),
                IsActive = p.GetValue(inactive) ? false : null,
            };
            var capacity = await client.CreateCapacityAsync(p.GetRequiredValue(eventId), request, host.IdempotencyKeyOf(p), ct);
            c.Write(capacity, CliJson.Default.CapacityDetails, () => Views.Capacity(capacity));
            return ExitCodes.Ok;
        }));

        var show = OnCapacity(host, "show", "Show a capacity: its counters, where it stands for sale, when that changes next, and its sale rules",
            (_, client, id, ct) => client.GetCapacityAsync(id, ct));

        var newStarts = new Option<DateTimeOffset?>("--sale-starts") { Description = "A new start of its sale window, " + InstantDescription };
        var noStart = new Option<bool>("--no-sale-start") { Description = "Remove the start of its sale window" };
        var newEnds = new Option<DateTimeOffset?>("--sale-ends") { Description = "A new end of its sale window" };
        var noEnd = new Option<bool>("--no-sale-end") { Description = "Remove the end of its sale window" };
        var newAfter = new Option<Guid>("--opens-after")
        {
            Description = "The capacity of the same event this one opens after (set once; it cannot be changed or removed)",
            HelpName = "capacity-id",
        };
        var newClose = new Option<bool>("--close-when-sold-out") { Description = "Whether it closes the first time it sells out: --close-when-sold-out, or --close-when-sold-out false" };
        var newOverbook = new Option<int>("--overbook") { Description = "A new overbooking allowance; 0 ends overbooking" };
        var newLow = new Option<int?>("--low-watermark") { Description = "A new low watermark for webhooks' capacity.low" };
        var noLow = new Option<bool>("--no-low-watermark") { Description = "Remove the low watermark" };
        var active = new Option<bool>("--active") { Description = "Reopen it (--active), also after its sold-out rule closed it, or close it (--active false)" };
        var newName = new Option<string>("--name", "-n") { Description = "A new name" };
        var newCode = new Option<string?>("--code") { Description = "A new short code" };
        var noCode = new Option<bool>("--no-code") { Description = "Remove its short code" };
        var newTotal = new Option<int?>("--total") { Description = "A new limit, 0 to 1,000,000; refused below what is held and sold" };
        var unlimited = new Option<bool>("--unlimited") { Description = "Remove its limit: it then counts only against its pools" };
        var update = host.OneWrite(OnCapacity(host, "update", "Rename or resize a capacity, or change its sale window, tier, sold-out rule, overbooking or low watermark, or open or close it", (p, client, id, ct) =>
            client.UpdateCapacityAsync(id, new UpdateCapacityRequest
            {
                SectionName = Given(p, newName),
                SectionCode = p.GetValue(noCode) ? new Optional<string?>(null) : Given(p, newCode),
                TotalCapacity = p.GetValue(unlimited) ? new Optional<int?>(null) : Given(p, newTotal),
                SaleStartsAt = p.GetValue(noStart) ? new Optional<DateTimeOffset?>(null) : Given(p, newStarts),
                SaleEndsAt = p.GetValue(noEnd) ? new Optional<DateTimeOffset?>(null) : Given(p, newEnds),
                OpensAfterSoldOutOf = Given(p, newAfter),
                CloseWhenSoldOut = Given(p, newClose),
                OverbookLimit = Given(p, newOverbook),
                LowWatermark = p.GetValue(noLow) ? new Optional<int?>(null) : Given(p, newLow),
                IsActive = Given(p, active),
            }, host.IdempotencyKeyOf(p), ct),
            newName, newCode, noCode, newTotal, unlimited, newStarts, noStart, newEnds, noEnd, newAfter, newClose, newOverbook, newLow, noLow, active));
        RequireAny(update, newName, newCode, noCode, newTotal, unlimited, newStarts, noStart, newEnds, noEnd, newAfter, newClose, newOverbook, newLow, noLow, active);
        update.Validators.Add(result =>
        {
            if (IsGiven(result.GetResult(newCode)) && IsGiven(result.GetResult(noCode)))
            {
                result.AddError("Give --code or --no-code, not both.");
            }

            if (IsGiven(result.GetResult(newTotal)) && IsGiven(result.GetResult(unlimited)))
            {
                result.AddError("Give --total or --unlimited, not both.");
            }

            if (IsGiven(result.GetResult(newStarts)) && IsGiven(result.GetResult(noStart)))
            {
                result.AddError("Give --sale-starts or --no-sale-start, not both.");
            }

            if (IsGiven(result.GetResult(newEnds)) && IsGiven(result.GetResult(noEnd)))
            {
                result.AddError("Give --sale-ends or --no-sale-end, not both.");
            }

            if (IsGiven(result.GetResult(newLow)) && IsGiven(result.GetResult(noLow)))
            {
                result.AddError("Give --low-watermark or --no-low-watermark, not both.");
            }
        });

        var quantity = new Option<int>("--quantity", "-q") { Description = "Tickets to ask about", Required = true };
        var check = Call(host, "check", "Ask whether a number of tickets could be held now; nothing is held",
            new Argument<Guid>("capacity-id") { Description = "The capacity" }, CliJson.Default.CapacityCheck, Views.Check,
            (p, client, id, ct) => client.CheckAsync(id, p.GetValue(quantity), ct),
            quantity);

        return new Command("capacities", "An event's capacities: create them, show one, change it, and ask what could be held") { create, show, update, check };
    }

    private static CapacityMode? ModeOf(System.CommandLine.Parsing.ArgumentResult result)
    {
        switch (result.Tokens.Single().Value)
        {
            case "own": return CapacityMode.Own;
            case "capped": return CapacityMode.Capped;
            case "shared": return CapacityMode.Shared;
            case "unlimited": return CapacityMode.Unlimited;
            case var other:
                result.AddError($"--mode must be own, capped, shared or unlimited, not '{other}'.");
                return null;
        }
    }

    private static Command OnCapacity(
        Host host, string name, string description, Func<ParseResult, CapacityClient, Guid, CancellationToken, Task<CapacityDetails>> call, params Option[] options) =>
        Call(host, name, description, new Argument<Guid>("capacity-id") { Description = "The capacity" },
            CliJson.Default.CapacityDetails, Views.Capacity, call, options);
}

using System.CommandLine;
using Capacity.Client;
using Spectre.Console;

namespace Capacity.Cli;

/// <summary>The <c>limits</c> commands: "at most N tickets per buyer" over capacities of one event.</summary>
public static partial class CapacityCli
{
    private static Command LimitCommands(Host host)
    {
        var name = new Option<string>("--name", "-n") { Description = "The limit's name, such as \"Four per person\"", Required = true };
        var max = new Option<int>("--max") { Description = "The most tickets one buyer may have in active holds, sales and waiting-list entries", Required = true };
        var capacities = new Option<Guid[]>("--capacity", "-c")
        {
            Description = "A capacity of the event whose tickets count; repeat for each section the limit covers",
            Required = true,
            CustomParser = IdsOf,
        };
        var requireKey = new Option<bool>("--require-key") { Description = "Refuse holds on these capacities that name no buyer" };
        var create = host.OneWrite(Call(host, "create", "Limit the tickets one buyer may have over some of an event's capacities",
            EventArgument(), CliJson.Default.LimitDetails, Views.Limit,
            (p, client, eventId, ct) => client.CreateLimitAsync(eventId, new CreateLimitRequest
            {
                Name = p.GetRequiredValue(name),
                CapacityIds = p.GetRequiredValue(capacities),
                PerBuyerMax = p.GetValue(max),
                RequireBuyerKey = p.GetValue(requireKey),
            }, host.IdempotencyKeyOf(p), ct),
            name, max, capacities, requireKey));

        var list = Call(host, "list", "List an event's per-buyer limits", EventArgument(), CliJson.Default.LimitList, l => Views.Limits(l.Limits),
            async (_, client, eventId, ct) => new LimitList(await client.ListLimitsAsync(eventId, ct)));

        var show = OnLimit(host, "show", "Show a per-buyer limit", (_, client, id, ct) => client.GetLimitAsync(id, ct));

        var newName = new Option<string>("--name", "-n") { Description = "A new name" };
        var newMax = new Option<int>("--max") { Description = "A new maximum; lowering it cancels nothing, it refuses the next holds" };
        var newRequireKey = new Option<bool>("--require-key") { Description = "Whether holds must name their buyer: --require-key, or --require-key false" };
        var update = host.OneWrite(OnLimit(host, "update", "Rename a limit, change its maximum, or whether it needs a buyer key", (p, client, id, ct) =>
            client.UpdateLimitAsync(id, new UpdateLimitRequest
            {
                Name = Given(p, newName),
                PerBuyerMax = Given(p, newMax),
                RequireBuyerKey = Given(p, newRequireKey),
            }, host.IdempotencyKeyOf(p), ct), newName, newMax, newRequireKey));
        RequireAny(update, newName, newMax, newRequireKey);

        var deleteId = LimitArgument();
        var delete = new Command("delete", "Delete a limit: its capacities' next holds no longer count against it") { deleteId };
        host.OneWrite(delete);
        delete.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var id = p.GetValue(deleteId);
            await client.DeleteLimitAsync(id, host.IdempotencyKeyOf(p), ct);

            // The service answers 204 with no document, so --json prints nothing: the exit code says it worked.
            if (!c.Json)
            {
                c.Console.MarkupLine($"Deleted limit {id}.");
            }

            return ExitCodes.Ok;
        }));

        var buyer = new Option<string>("--buyer", "-b") { Description = "The buyer's key", Required = true };
        var usage = Call(host, "usage", "How many tickets one buyer has under a limit, units waited for on waiting lists included", LimitArgument(), CliJson.Default.LimitUsage, Views.Usage,
            (p, client, id, ct) => client.GetLimitUsageAsync(id, p.GetRequiredValue(buyer), ct), buyer);

        return new Command("limits", "Per-buyer limits: at most N tickets per buyer over some of an event's capacities") { create, list, show, update, delete, usage };
    }

    private static Command OnLimit(
        Host host, string name, string description, Func<ParseResult, CapacityClient, Guid, CancellationToken, Task<LimitDetails>> call, params Option[] options) =>
        Call(host, name, description, LimitArgument(), CliJson.Default.LimitDetails, Views.Limit, call, options);

    private static Argument<Guid> LimitArgument() => new("limit-id") { Description = "The limit" };
}

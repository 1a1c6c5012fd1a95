using System.CommandLine;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>The <c>allocations</c> commands: blocks of a capacity set aside for a box office, a sponsor or a channel.</summary>
public static partial class CapacityCli
{
    private const string ExpiresDescription = "When it closes by itself, such as 2030-05-01T18:00:00Z (a time without an offset is local)";

    private static Command AllocationCommands(Host host)
    {
        var name = new Option<string>("--name", "-n") { Description = "Who the tickets are for, such as \"Box office\"", Required = true };
        var quantity = new Option<int>("--quantity", "-q") { Description = "Tickets to set aside: taken from the public at once", Required = true };
        var expires = new Option<DateTimeOffset?>("--expires") { Description = ExpiresDescription + " [default: never]" };
        var create = host.OneWrite(Call(host, "create", "Set tickets of a capacity aside; only holds that name the allocation can take them",
            new Argument<Guid>("capacity-id") { Description = "The capacity to set tickets aside from" }, CliJson.Default.AllocationDetails, Views.Allocation,
            (p, client, capacityId, ct) => client.CreateAllocationAsync(
                capacityId,
                new CreateAllocationRequest { Name = p.GetRequiredValue(name), Quantity = p.GetValue(quantity), ExpiresAt = p.GetValue(expires) },
                host.IdempotencyKeyOf(p),
                ct),
            name, quantity, expires));

        var list = Call(host, "list", "List a capacity's allocations, closed ones included",
            new Argument<Guid>("capacity-id") { Description = "The capacity" }, CliJson.Default.AllocationList, l => Views.Allocations(l.Allocations),
            async (_, client, capacityId, ct) => new AllocationList(await client.ListAllocationsAsync(capacityId, ct)));

        var show = OnAllocation(host, "show", "Show an allocation: its size and where its tickets are", (_, client, id, ct) => client.GetAllocationAsync(id, ct));

        var newName = new Option<string>("--name", "-n") { Description = "A new name" };
        var size = new Option<int>("--quantity", "-q") { Description = "A new size: growing takes tickets from the public, shrinking gives idle ones back" };
        var newExpiry = new Option<DateTimeOffset?>("--expires") { Description = ExpiresDescription };
        var noExpiry = new Option<bool>("--no-expiry") { Description = "Keep it open until it is closed by hand" };
        var update = host.OneWrite(OnAllocation(host, "update", "Rename, resize or change when an allocation closes", (p, client, id, ct) =>
            client.UpdateAllocationAsync(id, new UpdateAllocationRequest
            {
                Name = Given(p, newName),
                Quantity = Given(p, size),
                ExpiresAt = p.GetValue(noExpiry) ? new Optional<DateTimeOffset?>(null) : Given(p, newExpiry),
            }, host.IdempotencyKeyOf(p), ct), newName, size, newExpiry, noExpiry));
        update.Aliases.Add("resize");
        RequireAny(update, newName, size, newExpiry, noExpiry);
        update.Validators.Add(result =>
        {
            if (IsGiven(result.GetResult(newExpiry)) && IsGiven(result.GetResult(noExpiry)))
            {
                result.AddError("Give --expires or --no-expiry, not both.");
            }
        });

        var releaseQuantity = new Option<int>("--quantity", "-q") { Description = "Idle tickets to give back to the public", Required = true };
        var release = host.OneWrite(OnAllocation(host, "release", "Give idle tickets of an allocation back to the public", (p, client, id, ct) =>
            client.ReleaseAllocationAsync(id, p.GetValue(releaseQuantity), host.IdempotencyKeyOf(p), ct), releaseQuantity));

        var close = host.OneWrite(OnAllocation(host, "close", "Close an allocation: every idle ticket goes back to the public, and it takes no more holds",
            (p, client, id, ct) => client.CloseAllocationAsync(id, host.IdempotencyKeyOf(p), ct)));

        return new Command("allocations", "Tickets of a capacity set aside for a box office, a sponsor or a channel") { create, list, show, update, release, close };
    }

    private static Command OnAllocation(
        Host host, string name, string description, Func<ParseResult, CapacityClient, Guid, CancellationToken, Task<AllocationDetails>> call, params Option[] options) =>
        Call(host, name, description, new Argument<Guid>("allocation-id") { Description = "The allocation" },
            CliJson.Default.AllocationDetails, Views.Allocation, call, options);
}

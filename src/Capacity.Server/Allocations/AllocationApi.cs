using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Allocations;

/// <summary>
/// Allocations: blocks of a capacity set aside for a box office, a sponsor or a sales channel. Public
/// availability excludes them; holds that name one draw from its idle tickets.
/// </summary>
internal static class AllocationApi
{
    public static RouteGroupBuilder MapAllocations(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Allocations");
        group.MapPost("/capacity/{id}/allocations", Create).Body<CreateAllocationRequest>().Doc(
            "Set tickets of a capacity aside",
            "Takes `quantity` from the capacity and every pool it draws from, as a hold of that size would (409 INSUFFICIENT_CAPACITY with "
            + "`available_capacity` when it does not fit), and keeps them for holds that name the allocation. Allowed on an inactive capacity. "
            + "`expires_at` (RFC 3339 with an offset, in the future): the sweeper closes it then.",
            400, 404, 409, 413, 422);
        group.MapGet("/capacity/{id}/allocations", List).HeavyRead().Doc("List a capacity's allocations", "Oldest first, closed ones included.", 404);
        group.MapGet("/allocations/{id}", Get).Doc("Get an allocation", "As last committed: `size` = `held` + `sold` + `idle`.", 404);
        group.MapPut("/allocations/{id}", Update).Body<UpdateAllocationRequest>().Doc(
            "Change an allocation",
            "Send only the fields to change. `quantity` is the new size: growing is checked like a hold (409 INSUFFICIENT_CAPACITY), shrinking "
            + "gives idle tickets back and may not go below held + sold (409 ALLOCATION_BELOW_COMMITTED). `expires_at` null clears it. "
            + "A closed allocation cannot change (409 ALLOCATION_CLOSED).",
            400, 404, 409, 413, 422);
        group.MapPost("/allocations/{id}/release", Release).Body<ReleaseAllocationRequest>().Doc(
            "Give idle tickets back to the public",
            "At once. More than `idle` is 409 ALLOCATION_INSUFFICIENT with the current `idle`, and changes nothing.",
            400, 404, 409, 413, 422);
        group.MapPost("/allocations/{id}/close", Close).Doc(
            "Close an allocation",
            "Gives every idle ticket back and takes no more holds; its live holds can still be confirmed, and tickets they free go to the public. "
            + "Closing a closed allocation answers 200 and changes nothing.",
            400, 404, 422);
        return group;
    }

    private static async Task<Results<JsonCreated<AllocationResponse>, ProblemHttpResult, StoredResult>> Create(
        string id, TenantCaller caller, JsonRequest<CreateAllocationRequest> body, HttpContext context, Writes writes)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var capacityId))
        {
            return ApiErrors.CapacityNotFound(id);
        }

        var r = body.Value;
        var command = new CreateAllocation(caller.TenantId, TimeOrderedIds.New(), capacityId, r.Name, r.Quantity, r.ExpiresAt);
        return await writes.ExecuteAsync<JsonCreated<AllocationResponse>>(context, caller.TenantId, body.Bytes, command, o => o.Succeeded
            ? JsonResults.Created($"/allocations/{o.Allocation!.Id}", AllocationResponse.From(o.Allocation))
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<AllocationListResponse>, ProblemHttpResult>> List(
        string id, [FromQuery] string? after, [FromQuery] string? limit, TenantCaller caller, IReadStore store, ServerOptions options, CancellationToken ct)
    {
        if (await CapacityReads.Find(id, caller.TenantId, store, ct) is not { } capacity)
        {
            return ApiErrors.CapacityNotFound(id);
        }

        // A capacity that never had an allocation has none to read.
        var allocations = capacity.Node.AllocationCount > 0 ? await store.GetAllocationsAsync(caller.TenantId, capacity.Node.Id, ct) : [];
        return ListPages.TryCut(allocations, a => a.Id.ToString(), after, limit, options, $"allocation of capacity {id}", out var page, out var more) is { } bad
            ? bad
            : JsonResults.Ok(new AllocationListResponse([.. page.Select(AllocationResponse.From)], more ? page[^1].Id : null));
    }

    private static async Task<Results<JsonOk<AllocationResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, IReadStore store, CancellationToken ct)
    {
        var allocation = Guid.TryParse(id, out var allocationId) ? await store.GetAllocationAsync(caller.TenantId, allocationId, ct) : null;
        return allocation is null ? ApiErrors.AllocationNotFound(id) : JsonResults.Ok(AllocationResponse.From(allocation));
    }

    private static async Task<Results<JsonOk<AllocationResponse>, ProblemHttpResult, StoredResult>> Update(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.Unread is { } unread)
        {
            return unread;
        }

        if (!Guid.TryParse(id, out var allocationId))
        {
            return ApiErrors.AllocationNotFound(id);
        }

        if (!PatchReader.TryOpen(body.Bytes, out var document, out var error))
        {
            return ApiErrors.Validation("body", error!);
        }

        using (document)
        {
            var reader = new PatchReader();
            Change<string> name = default;
            Change<int> size = default;
            Change<DateTimeOffset?> expiresAt = default;
            foreach (var p in document!.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "name": name = reader.String(p); break;
                    case "quantity": size = reader.Int(p); break;
                    case "expires_at": expiresAt = reader.NullableInstant(p); break;
                    case "size" or "held" or "sold" or "idle":
                        reader.Fail(p.Name, $"{p.Name} is a counter: send quantity to resize; holds, sales and releases move the rest.");
                        break;
                    default: reader.Fail(p.Name, $"{p.Name} cannot be updated; updatable fields are name, quantity and expires_at."); break;
                }
            }

            if (reader.Errors.Count > 0)
            {
                return ApiErrors.Validation(reader.Errors);
            }

            var command = new UpdateAllocation(caller.TenantId, allocationId, name, size, expiresAt);
            return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, Answer);
        }
    }

    private static async Task<Results<JsonOk<AllocationResponse>, ProblemHttpResult, StoredResult>> Release(
        string id, TenantCaller caller, JsonRequest<ReleaseAllocationRequest> body, HttpContext context, Writes writes)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var allocationId))
        {
            return ApiErrors.AllocationNotFound(id);
        }

        var command = new ReleaseAllocation(caller.TenantId, allocationId, body.Value.Quantity);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, Answer);
    }

    private static async Task<Results<JsonOk<AllocationResponse>, ProblemHttpResult, StoredResult>> Close(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var allocationId))
        {
            return ApiErrors.AllocationNotFound(id);
        }

        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, new CloseAllocation(caller.TenantId, allocationId), Answer);
    }

    private static Results<JsonOk<AllocationResponse>, ProblemHttpResult> Answer(Outcome o) =>
        o.Succeeded ? JsonResults.Ok(AllocationResponse.From(o.Allocation!)) : ApiErrors.FromOutcome(o);
}

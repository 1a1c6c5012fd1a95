using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Limits;

/// <summary>
/// Per-buyer limits: "at most N tickets per buyer" over capacities of one event, counted over the
/// buyer's active holds and sales and checked inside the same batch as the hold that would pass it.
/// </summary>
internal static class LimitApi
{
    public static RouteGroupBuilder MapLimits(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Limits");
        group.MapPost("/events/{eventId}/limits", Create).Body<CreateLimitRequest>().Doc(
            "Limit the tickets one buyer may have",
            "Over `capacity_ids` (1 to 100 capacities of this event, fixed once created): a hold with a `buyer_key` that would take that buyer's "
            + "active holds, sales and units waited for on waiting lists on them past `per_buyer_max` is refused whole (409 BUYER_LIMIT_EXCEEDED). With `require_buyer_key`, a hold "
            + "on any of them without a key is 400 BUYER_KEY_REQUIRED. Sales made before the limit count at once.",
            400, 413, 422);
        group.MapGet("/events/{eventId}/limits", List).HeavyRead().Doc("List an event's buyer limits", "Oldest first.", 400);
        group.MapGet("/limits/{id}", Get).Doc("Get a buyer limit", "As last committed.", 404);
        group.MapPut("/limits/{id}", Update).Body<UpdateLimitRequest>().Doc(
            "Change a buyer limit",
            "Send only the fields to change: `name`, `per_buyer_max`, `require_buyer_key`. Lowering `per_buyer_max` below what a buyer has "
            + "refuses that buyer's next holds and cancels nothing. The capacities cannot change: delete the limit and create another.",
            400, 404, 413, 422);
        group.MapDelete("/limits/{id}", Delete).Doc(
            "Delete a buyer limit", "At once: the next holds on its capacities are no longer counted against it. Holds and sales stay as they are.", 404, 422);
        group.MapGet("/limits/{id}/usage", Usage).Doc(
            "One buyer's usage of a limit",
            "`used` is what counts against the limit for `buyer_key` over its capacities, as last committed: tickets in active holds and "
            + "confirmed sales, and the units the buyer's waiting-list entries still wait for. `waiting` is that last part (read apart, so "
            + "in a busy moment it may be a commit newer or older than `used`).",
            400, 404);
        return group;
    }

    private static async Task<Results<JsonCreated<LimitResponse>, ProblemHttpResult, StoredResult>> Create(
        string eventId, TenantCaller caller, JsonRequest<CreateLimitRequest> body, HttpContext context, Writes writes)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        var r = body.Value;
        var command = new CreateBuyerLimit(caller.TenantId, TimeOrderedIds.New(), eventId, r.Name, r.CapacityIds, r.PerBuyerMax, r.RequireBuyerKey);
        return await writes.ExecuteAsync<JsonCreated<LimitResponse>>(context, caller.TenantId, body.Bytes, command, o => o.Succeeded
            ? JsonResults.Created($"/limits/{o.Limit!.Id}", LimitResponse.From(o.Limit))
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<LimitListResponse>, ProblemHttpResult>> List(
        string eventId, [FromQuery] string? after, [FromQuery] string? limit, TenantCaller caller, IReadStore store, ServerOptions options, CancellationToken ct)
    {
        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        var limits = await store.GetBuyerLimitsAsync(caller.TenantId, eventId, ct);
        return ListPages.TryCut(limits, l => l.Id.ToString(), after, limit, options, $"buyer limit of event {eventId}", out var page, out var more) is { } bad
            ? bad
            : JsonResults.Ok(new LimitListResponse([.. page.Select(LimitResponse.From)], more ? page[^1].Id : null));
    }

    private static async Task<Results<JsonOk<LimitResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, IReadStore store, CancellationToken ct) =>
        await Find(id, caller, store, ct) is { } limit ? JsonResults.Ok(LimitResponse.From(limit)) : ApiErrors.LimitNotFound(id);

    private static async Task<Results<JsonOk<LimitResponse>, ProblemHttpResult, StoredResult>> Update(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.Unread is { } unread)
        {
            return unread;
        }

        if (!Guid.TryParse(id, out var limitId))
        {
            return ApiErrors.LimitNotFound(id);
        }

        if (!PatchReader.TryOpen(body.Bytes, out var document, out var error))
        {
            return ApiErrors.Validation("body", error!);
        }

        using (document)
        {
            var reader = new PatchReader();
            Change<string> name = default;
            Change<int> max = default;
            Change<bool> require = default;
            foreach (var p in document!.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "name": name = reader.String(p); break;
                    case "per_buyer_max": max = reader.Int(p); break;
                    case "require_buyer_key": require = reader.Bool(p); break;
                    case "capacity_ids":
                        reader.Fail(p.Name, "A limit's capacities are fixed: delete it and create another to cover different capacities.");
                        break;
                    default: reader.Fail(p.Name, $"{p.Name} cannot be updated; updatable fields are name, per_buyer_max and require_buyer_key."); break;
                }
            }

            if (reader.Errors.Count > 0)
            {
                return ApiErrors.Validation(reader.Errors);
            }

            var command = new UpdateBuyerLimit(caller.TenantId, limitId, name, max, require);
            return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, Answer);
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult, StoredResult>> Delete(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var limitId))
        {
            return ApiErrors.LimitNotFound(id);
        }

        return await writes.ExecuteAsync<NoContent>(context, caller.TenantId, body.Bytes, new DeleteBuyerLimit(caller.TenantId, limitId), o => o.Succeeded
            ? TypedResults.NoContent()
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<LimitUsageResponse>, ProblemHttpResult>> Usage(
        string id, [FromQuery(Name = "buyer_key")] string? buyerKey, TenantCaller caller, IReadStore store, CancellationToken ct)
    {
        if (await Find(id, caller, store, ct) is not { } limit)
        {
            return ApiErrors.LimitNotFound(id);
        }

        if (!Rules.IsValidBuyerKey(buyerKey))
        {
            return ApiErrors.Validation("buyer_key", "buyer_key " + Rules.BuyerKeyRule);
        }

        var used = await store.GetBuyerUsageAsync(caller.TenantId, limit.CapacityIds, buyerKey!, ct);
        var waiting = await store.GetBuyerWaitingAsync(caller.TenantId, limit.EventId, limit.CapacityIds, buyerKey!, ct);
        return JsonResults.Ok(new LimitUsageResponse(limit.Id, buyerKey!, used, waiting, limit.PerBuyerMax));
    }

    private static async Task<BuyerLimit?> Find(string id, TenantCaller caller, IReadStore store, CancellationToken ct) =>
        Guid.TryParse(id, out var limitId) ? await store.GetBuyerLimitAsync(caller.TenantId, limitId, ct) : null;

    private static Results<JsonOk<LimitResponse>, ProblemHttpResult> Answer(Outcome o) =>
        o.Succeeded ? JsonResults.Ok(LimitResponse.From(o.Limit!)) : ApiErrors.FromOutcome(o);
}

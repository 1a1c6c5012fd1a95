using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Waitlists;

/// <summary>
/// Waiting lists: buyers queue for units of a sold-out event, and units that come free are offered to
/// them in the same batch that frees them, as ordinary holds, before any public hold can take them.
/// </summary>
internal static class WaitlistApi
{
    public static RouteGroupBuilder MapWaitlists(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Waiting lists");
        group.MapPost("/waitlist", Join).Body<JoinWaitlistRequest>().Doc(
            "Join a waiting list",
            "For `items` of one event's capacities, each with its waiting list enabled (else 409 WAITLIST_DISABLED); quantities as for holds. "
            + "The entry waits until every item fits, then is offered all together as a hold (`offer_reservation_id`) lasting the capacities' "
            + "shortest `offer_minutes`; if the units are free and nobody waits ahead it is offered at once. `buyer_key` counts the offer "
            + "towards the buyer's limits (a buyer cannot queue for more than a limit allows). A capacity its sold-out rule closed, or whose "
            + "window has ended, takes no new entries (409 CAPACITY_INACTIVE with `closed_reason`, or SALE_CLOSED); one closed by hand, or whose "
            + "window or tier has not opened, may be waited for. An entry waiting past the end of a window it reaches lapses; one on a capacity "
            + "its sold-out rule closes keeps its place and is offered the tickets that come back. A join that leaves an early tier on sale nothing "
            + "for the public sells it out as a hold would (the next tier opens); units only owed never close a close_when_sold_out capacity.",
            400, 404, 409, 413, 422);
        group.MapGet("/waitlist/{id}", Get).Doc(
            "Get a waiting-list entry",
            "Status waiting, offered, accepted (offer confirmed), lapsed (`lapsed_reason` says why) or left; `position` while waiting, and "
            + "`held_back_by_limit_id` while its buyer is past a limit over its capacities (lowered, or created after the buyer queued and bought): "
            + "it is passed over when its turn comes until the buyer has room again or it leaves.",
            404);
        group.MapDelete("/waitlist/{id}", Leave).Doc(
            "Leave a waiting list",
            "A waiting entry leaves the queue; an offered one's hold is released and its units go to the next in line, in the same batch. "
            + "Leaving again changes nothing; an accepted or lapsed entry is answered as it is.",
            404, 422);
        group.MapGet("/capacity/{id}/waitlist", List).HeavyRead().Doc(
            "List a capacity's waiting list",
            "Every entry that names the capacity, in the order they joined, whatever their status. Pass `next_after` as `after` for the next page; `limit` 1..1000.",
            400, 404);
        return group;
    }

    private static async Task<Results<JsonCreated<WaitlistEntryResponse>, ProblemHttpResult, StoredResult>> Join(
        TenantCaller caller, JsonRequest<JoinWaitlistRequest> body, HttpContext context, Writes writes, CoreLimits limits)
    {
        if ((body.Problem ?? InvalidItems(body.Value.Items, limits) ?? ApiErrors.InvalidBuyerKey(body.Value.BuyerKey)) is { } invalid)
        {
            return invalid;
        }

        var r = body.Value;
        var command = new JoinWaitlist(
            caller.TenantId, TimeOrderedIds.New(), Array.ConvertAll(r.Items, i => new WaitlistItem(i.CapacityId, i.Quantity)), r.BuyerKey, r.ExternalRef);
        return await writes.ExecuteAsync<JsonCreated<WaitlistEntryResponse>>(context, caller.TenantId, body.Bytes, command, o => o.Succeeded
            ? JsonResults.Created($"/waitlist/{o.Entry!.Id}", WaitlistEntryResponse.From(o.Entry))
            : ApiErrors.FromOutcome(o));
    }

    /// <summary>An entry's shape, checked before anything is stored for its Idempotency-Key.</summary>
    private static ProblemHttpResult? InvalidItems(WaitlistItemRequest[] items, CoreLimits limits) =>
        ItemShape.Invalid(items, i => i.Quantity, "A waiting-list entry has", limits);

    private static async Task<Results<JsonOk<WaitlistEntryResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, IReadStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var entryId) || await store.GetWaitlistEntryAsync(caller.TenantId, entryId, ct) is not { } entry)
        {
            return ApiErrors.WaitlistEntryNotFound(id);
        }

        var position = await store.GetWaitlistPositionAsync(entry, ct);
        var heldBackBy = await HeldBackByAsync(entry, store, ct);
        return JsonResults.Ok(WaitlistEntryResponse.From(WaitlistEntryView.Of(entry) with { Position = position }) with { HeldBackByLimitId = heldBackBy });
    }

    /// <summary>
    /// The first limit over a waiting keyed entry's capacities that its buyer is past, as last committed:
    /// such an entry is passed over when its turn comes (an offer takes no more than the entry already
    /// counts, so it is refused exactly when the buyer's usage is above the maximum) until the buyer has
    /// room again. Only a limit lowered, or created over a buyer who queued and holds, leaves one so.
    /// </summary>
    private static async Task<Guid?> HeldBackByAsync(WaitlistEntry entry, IReadStore store, CancellationToken ct)
    {
        if (entry is not { Status: WaitlistStatus.Waiting, BuyerKey: { } buyerKey })
        {
            return null;
        }

        foreach (var limit in await store.GetBuyerLimitsAsync(entry.TenantId, entry.EventId, ct))
        {
            if (entry.Items.Any(i => limit.CapacityIds.Contains(i.CapacityId))
                && await store.GetBuyerUsageAsync(entry.TenantId, limit.CapacityIds, buyerKey, ct) > limit.PerBuyerMax)
            {
                return limit.Id;
            }
        }

        return null;
    }

    private static async Task<Results<JsonOk<WaitlistEntryResponse>, ProblemHttpResult, StoredResult>> Leave(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var entryId))
        {
            return ApiErrors.WaitlistEntryNotFound(id);
        }

        return await writes.ExecuteAsync<JsonOk<WaitlistEntryResponse>>(context, caller.TenantId, body.Bytes, new LeaveWaitlist(caller.TenantId, entryId), o => o.Succeeded
            ? JsonResults.Ok(WaitlistEntryResponse.From(o.Entry!))
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<WaitlistPageResponse>, ProblemHttpResult>> List(
        string id, string? after, string? limit, TenantCaller caller, IReadStore store, ServerOptions options, CancellationToken ct)
    {
        if (await CapacityReads.Find(id, caller.TenantId, store, ct) is not { } capacity)
        {
            return ApiErrors.CapacityNotFound(id);
        }

        if (Paging.TryRead(after, limit, options, out var page) is { } invalid)
        {
            return invalid;
        }

        var entries = await store.GetWaitlistAsync(caller.TenantId, capacity.Node.Id, page.After, page.Limit, ct);
        var views = entries.Select(e => WaitlistEntryResponse.From(WaitlistEntryView.Of(e))).ToArray();
        return JsonResults.Ok(new WaitlistPageResponse(capacity.Node.Id, views, views.Length == 0 ? null : page.Next(views.Length, views[^1].Sequence)));
    }
}

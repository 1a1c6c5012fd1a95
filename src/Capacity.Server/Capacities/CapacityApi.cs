using System.Text.Json;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Capacity.Server.Capacities;

/// <summary>Capacities: create, read, resize and check. Counters are never writable here.</summary>
internal static class CapacityApi
{
    public static RouteGroupBuilder MapCapacities(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Capacities");
        group.MapPost("/events/{eventId}/capacity", Create).Body<CreateCapacityRequest>().Doc(
            "Create a capacity",
            "A pool, a cap inside pools, or a section of its own. `total_capacity` null or absent means unlimited; `parent_ids` names "
            + "capacities (of any of your events) it also draws from, up to 8 levels deep. `mode` is derived (own, capped, shared, unlimited); "
            + "if sent it must agree with the other fields. An event has at most `Capacity:Quotas:MaxCapacitiesPerEvent` capacities (409 TOO_MANY_CAPACITIES).",
            400, 409, 413, 422);
        group.MapGet("/events/{eventId}/capacity", List).HeavyRead().Doc(
            "List an event's capacities",
            "Each with its effective `available_capacity`: the minimum over it and its limited ancestors; in creation order. Without `limit` and `after`, all of them; "
            + "with `limit` (1..1000) a page, and `next_after` (the id to pass as `after`) on every page but the last.", 400);
        group.MapGet("/events/{eventId}/capacity/total", Totals).HeavyRead().Doc(
            "An event's totals", "Sums over the event's roots (capacities without parents), so each pool counts once.", 400);
        group.MapGet("/capacity/{id}", Get).Doc(
            "Get a capacity",
            "Counters and effective availability as last committed; `allocations` lists its allocations, only once it has had one.", 404);
        group.MapPut("/capacity/{id}", Update).Body<UpdateCapacityRequest>().Doc(
            "Update a capacity",
            "Send only the fields to change. `total_capacity` may not go below reserved + sold (409 CAPACITY_BELOW_COMMITTED); null makes it unlimited. "
            + "Counters are never writable. A deactivated capacity refuses new holds; existing holds can still be confirmed or released. "
            + "`waitlist: {enabled, offer_minutes, policy}` opens, changes or closes its waiting list (fields left out keep their value; "
            + "a first list defaults to enabled, 30 minutes, fifo); closing it refuses new entries and keeps serving those waiting. "
            + "A resize that leaves a waiting entry larger than a pool, or a window ended now, lapses the entries it leaves unable to be offered; "
            + "a rule or resize that leaves a capacity on sale nothing available sells it out (the answer shows it closed). "
            + "`is_active: true` reopens a capacity its sold-out rule closed; `is_active: false` on one changes nothing.",
            400, 404, 409, 413, 422);
        group.MapPost("/capacity/{id}/check", Check).Body<CheckRequest>().ReadsOnly().Doc(
            "Check availability",
            "Advice from the last committed state: only a hold takes tickets. Open to a credential with the read scope: it changes nothing. "
            + "Meets the sale gate a hold meets: 409 SALE_NOT_OPEN or SALE_CLOSED when the capacity, or a pool it draws from, is not on sale now.",
            400, 404, 409, 413);
        return group;
    }

    private static async Task<Results<JsonCreated<CapacityResponse>, ProblemHttpResult, StoredResult>> Create(
        string eventId, TenantCaller caller, JsonRequest<CreateCapacityRequest> body, HttpContext context, Writes writes, TenantQuotas quotas, TimeProvider time)
    {
        if (body.Unread is { } unread)
        {
            return unread;
        }

        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        var request = body.Value;
        CapacityMode? mode = null;
        if (request.Mode is not null)
        {
            // Exact names only: Enum.TryParse would also take "1" or "capped,shared".
            mode = Enum.GetValues<CapacityMode>().Cast<CapacityMode?>().FirstOrDefault(m => CapacityResponse.ModeName(m!.Value) == request.Mode);
            if (mode is null)
            {
                return ApiErrors.Validation("mode", "mode must be one of own, capped, shared, unlimited.");
            }
        }

        var sale = request.SaleStartsAt is null && request.SaleEndsAt is null && request.OpensAfterSoldOutOf is null
            && request.CloseWhenSoldOut is null && request.OverbookLimit is null && request.LowWatermark is null
            ? null
            : new SaleRules(
                request.SaleStartsAt, request.SaleEndsAt, request.OpensAfterSoldOutOf, request.CloseWhenSoldOut ?? false, request.OverbookLimit ?? 0,
                LowWatermark: request.LowWatermark);
        // The bound is decided in the batch, on the event's count there: creates racing each other
        // cannot pass it, and a keyed create that filled the event replays its answer as any write does.
        var command = new CreateCapacity(
            caller.TenantId, TimeOrderedIds.New(), eventId, request.ScheduleId, request.SectionName, request.SectionCode,
            request.TotalCapacity, request.ParentIds ?? [], request.IsActive ?? true, mode, sale, quotas.Options.MaxCapacitiesPerEvent);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Created(o, time.GetUtcNow()));
    }

    internal static Results<JsonCreated<CapacityResponse>, ProblemHttpResult> Created(Outcome o, DateTimeOffset now) =>
        o.Succeeded ? JsonResults.Created($"/capacity/{o.Capacity!.Value.Id}", CapacityResponse.From(o.Capacity.Value, now)) : ApiErrors.FromOutcome(o);

    private static async Task<Results<JsonOk<CapacityListResponse>, ProblemHttpResult>> List(
        string eventId, [FromQuery] string? after, [FromQuery] string? limit, TenantCaller caller, IReadStore store, ServerOptions options, TimeProvider time, CancellationToken ct)
    {
        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        var snapshot = await EventSnapshot.ReadAsync(store, caller.TenantId, eventId, soonestHolds: null, time.GetUtcNow(), ct);

        // The event's size is bounded by Capacity:Quotas:MaxCapacitiesPerEvent.
        return ListPages.TryCut(snapshot.Capacity, c => c.Id.ToString(), after, limit, options, $"capacity of event {eventId}", out var page, out var more) is { } bad
            ? bad
            : JsonResults.Ok(new CapacityListResponse(page, more ? page[^1].Id : null));
    }

    private static async Task<Results<JsonOk<CapacityTotalsResponse>, ProblemHttpResult>> Totals(string eventId, TenantCaller caller, IReadStore store, TimeProvider time, CancellationToken ct)
    {
        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        var snapshot = await EventSnapshot.ReadAsync(store, caller.TenantId, eventId, soonestHolds: null, time.GetUtcNow(), ct);
        return JsonResults.Ok(snapshot.Totals);
    }

    private static async Task<Results<JsonOk<CapacityResponse>, ProblemHttpResult>> Get(
        string id, TenantCaller caller, IReadStore store, TimeProvider time, IOptions<JsonOptions> json, CancellationToken ct)
    {
        if (store is ICommittedRows committed && Guid.TryParse(id, out var capacityId)
            && ShownCapacities.TryShow(committed, caller.TenantId, capacityId, json.Value.SerializerOptions, time.GetUtcNow()) is { } shown)
        {
            return shown;
        }

        var capacity = await CapacityReads.Show(id, caller.TenantId, store, time.GetUtcNow(), ct);
        return capacity is not null ? JsonResults.Ok(capacity) : NotFound(id);
    }

    private static async Task<Results<JsonOk<CapacityResponse>, ProblemHttpResult, StoredResult>> Update(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, TimeProvider time)
    {
        if (body.Unread is { } unread)
        {
            return unread;
        }

        if (!Guid.TryParse(id, out var capacityId))
        {
            return NotFound(id);
        }

        if (!PatchReader.TryOpen(body.Bytes, out var document, out var error))
        {
            return ApiErrors.Validation("body", error!);
        }

        using (document)
        {
            var reader = new PatchReader();
            Change<string> name = default;
            Change<string?> code = default;
            Change<int?> total = default;
            Change<bool> active = default;
            WaitlistPatch? waitlist = null;
            Change<DateTimeOffset?> starts = default, ends = default;
            Change<Guid?> after = default;
            Change<bool> close = default;
            Change<int> overbook = default;
            Change<int?> low = default;
            foreach (var p in document!.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "section_name": name = reader.String(p); break;
                    case "section_code": code = reader.NullableString(p); break;
                    case "total_capacity": total = reader.NullableInt(p); break;
                    case "is_active": active = reader.Bool(p); break;
                    case "waitlist": waitlist = ReadWaitlist(reader, p.Value); break;
                    case "sale_starts_at": starts = reader.NullableInstant(p); break;
                    case "sale_ends_at": ends = reader.NullableInstant(p); break;
                    case "opens_after_sold_out_of": after = reader.Id(p); break;
                    case "close_when_sold_out": close = reader.Bool(p); break;
                    case "overbook_limit": overbook = reader.Int(p); break;
                    case "low_watermark": low = reader.NullableInt(p); break;
                    case "available_capacity" or "reserved_capacity" or "sold_count":
                        reader.Fail(p.Name, $"{p.Name} is a counter: it changes only through holds, confirmations and releases.");
                        break;
                    default:
                        reader.Fail(p.Name, $"{p.Name} cannot be updated; updatable fields are section_name, section_code, total_capacity, is_active, waitlist, "
                            + "sale_starts_at, sale_ends_at, opens_after_sold_out_of, close_when_sold_out, overbook_limit and low_watermark.");
                        break;
                }
            }

            if (reader.Errors.Count > 0)
            {
                return ApiErrors.Validation(reader.Errors);
            }

            var sale = starts.IsSet || ends.IsSet || after.IsSet || close.IsSet || overbook.IsSet || low.IsSet ? new SalePatch(starts, ends, after, close, overbook, low) : null;
            var command = new UpdateCapacity(caller.TenantId, capacityId, name, code, total, active, waitlist, sale);
            return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Updated(o, time.GetUtcNow()));
        }
    }

    /// <summary>
    /// <c>waitlist: {enabled?, offer_minutes?, policy?}</c>: the fields sent change, the others keep their
    /// value (merged in the batch, see <see cref="WaitlistPatch"/>). The range of <c>offer_minutes</c> is the core's rule.
    /// </summary>
    private static WaitlistPatch? ReadWaitlist(PatchReader reader, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            reader.Fail("waitlist", "waitlist must be an object with any of enabled, offer_minutes and policy; send {\"enabled\": false} to close the list.");
            return null;
        }

        bool? enabled = null;
        int? minutes = null;
        WaitlistPolicy? policy = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in value.EnumerateObject())
        {
            string name;
            try
            {
                name = f.Name;
            }
            catch (InvalidOperationException)
            {
                reader.Fail("waitlist", "A field name in waitlist is not valid text.");
                return null;
            }

            var field = "waitlist." + name;
            if (!seen.Add(name))
            {
                reader.Fail(field, $"{field} appears twice.");
                return null;
            }

            switch (name)
            {
                case "enabled" when f.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    enabled = f.Value.GetBoolean();
                    break;
                case "offer_minutes" when f.Value.ValueKind == JsonValueKind.Number && f.Value.TryGetInt32(out var m):
                    minutes = m;
                    break;
                case "policy" when f.Value.ValueKind == JsonValueKind.String && PolicyOf(f.Value) is { } p:
                    policy = p;
                    break;
                case "enabled": reader.Fail(field, $"{field} must be true or false."); break;
                case "offer_minutes": reader.Fail(field, $"{field} must be a whole number of minutes."); break;
                case "policy": reader.Fail(field, $"{field} must be fifo or first_fit."); break;
                default: reader.Fail(field, $"{field} is not a waiting-list setting; they are enabled, offer_minutes and policy."); break;
            }
        }

        return new WaitlistPatch(enabled, minutes, policy);
    }

    private static WaitlistPolicy? PolicyOf(JsonElement value)
    {
        try
        {
            return value.ValueEquals("fifo"u8) ? WaitlistPolicy.Fifo : value.ValueEquals("first_fit"u8) ? WaitlistPolicy.FirstFit : null;
        }
        catch (InvalidOperationException)
        {
            // ValueEquals decodes the escapes and throws on a lone surrogate: no policy either.
            return null;
        }
    }

    private static Results<JsonOk<CapacityResponse>, ProblemHttpResult> Updated(Outcome o, DateTimeOffset now) =>
        o.Succeeded ? JsonResults.Ok(CapacityResponse.From(o.Capacity!.Value, now)) : ApiErrors.FromOutcome(o);

    /// <summary>
    /// A read: it answers from the last committed state and decides nothing, so a "yes" here is
    /// advice, and only a hold takes the tickets.
    /// </summary>
    private static async Task<Results<JsonOk<CheckResponse>, ProblemHttpResult>> Check(
        string id, TenantCaller caller, JsonRequest<CheckRequest> body, HttpContext context, IReadStore store, CoreLimits limits, TimeProvider time)
    {
        if ((body.Problem ?? Writes.InvalidKey(context)) is { } problem)
        {
            return problem;
        }

        var request = body.Value;
        if (!Rules.IsValidQuantity(request.Quantity, limits))
        {
            return ApiErrors.InvalidQuantity("Quantity " + Rules.QuantityRule(limits));
        }

        if (!Guid.TryParse(id, out var capacityId))
        {
            return NotFound(id);
        }

        var nodes = await store.GetCapacitiesAsync(caller.TenantId, [capacityId], context.RequestAborted);
        var node = nodes.FirstOrDefault(n => n.Id == capacityId);
        if (node is null)
        {
            return NotFound(id);
        }

        var lookup = new NodeLookup(nodes);
        var closure = new List<CapacityNode>();
        var available = Graph.Available(node, lookup, closure);

        // The same gate a hold meets: a window or a tier not yet open on the capacity or a pool above it.
        var now = time.GetUtcNow();
        foreach (var n in closure)
        {
            if (n.Sale is { Gates: true } rules && rules.ClosedAt(now))
            {
                // The hold's own refusal, sentence and fields, so that a check says what a hold would.
                return ApiErrors.FromOutcome(SaleRulesOf.Refusal(n, Graph.View(n, lookup), now));
            }
        }

        // The node a hold would be refused by, named as the hold's refusal names it (and why, when its sell-out closed it).
        var inactive = closure.Find(n => !n.IsActive);
        return JsonResults.Ok(new CheckResponse(
            inactive is null && (available is null || available >= request.Quantity), request.Quantity, available, inactive is null, inactive?.Id, inactive?.Sale?.ClosedReason));
    }

    private static ProblemHttpResult NotFound(string id) => ApiErrors.CapacityNotFound(id);
}

using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Reservations;

/// <summary>Holds and their lifecycle: place, read, confirm, release, cancel, extend.</summary>
internal static class ReservationApi
{
    /// <summary>How the core names the allocation of the one item a single-capacity hold makes.</summary>
    private const string ItemAllocationField = "items[0].allocation_id";

    public static RouteGroupBuilder MapReservations(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Reservations");
        group.MapPost("/capacity/{id}/reserve", Reserve).Body<ReserveRequest>().Doc(
            "Hold tickets of one capacity",
            "Takes `quantity` from the capacity and every pool it draws from, for `reservation_minutes` (default 15). With `pricing_id`, "
            + "the price is locked for this hold. With `allocation_id`, the tickets come from that allocation of the capacity "
            + "(409 ALLOCATION_INSUFFICIENT carries its `idle`; 409 ALLOCATION_CLOSED) and public availability does not move. "
            + "409 INSUFFICIENT_CAPACITY carries the current `available_capacity`. `buyer_key` names the buyer for per-buyer limits "
            + "(409 BUYER_LIMIT_EXCEEDED, 400 BUYER_KEY_REQUIRED).",
            400, 404, 409, 413, 422);
        group.MapPost("/reservations", Create).Body<CreateReservationRequest>().Doc(
            "Hold a cart", "Several items, possibly across events, all or nothing. An item with `allocation_id` draws from that allocation of its capacity. "
            + "`buyer_key` names the buyer: the whole cart counts towards every limit over its items (409 BUYER_LIMIT_EXCEEDED refuses it whole).", 400, 404, 409, 413, 422);
        group.MapGet("/reservations/{id}", Get).Doc(
            "Get a reservation", "With locked prices and totals per currency. A hold past its expiry reads `expired` at once.", 404);
        MapTransition(group, "confirm", Transition.Confirm).Doc(
            "Confirm a hold into a sale", "Only before `expires_at`. Confirming a confirmed reservation answers 200 and changes nothing.", 400, 404, 409, 422);
        MapTransition(group, "release", Transition.Release).Doc(
            "Release a hold", "Returns its tickets. Releasing a released reservation answers 200 and changes nothing.", 400, 404, 409, 422);
        MapTransition(group, "cancel", Transition.Cancel).Doc(
            "Cancel a sale (refund)", "Confirmed → cancelled: the tickets return to every pool they came from.", 400, 404, 409, 422);
        group.MapPost("/reservations/{id}/extend", Extend).Body<ExtendRequest>().Doc(
            "Extend a hold", "Sets `expires_at` to now + `minutes`, within the lifetime limit (120 minutes from creation by default).", 400, 404, 409, 413, 422);
        return group;
    }

    /// <summary>The seed's single-capacity hold, kept with its path and fields; a one-item reservation underneath.</summary>
    private static async Task<Results<JsonCreated<ReserveResponse>, ProblemHttpResult, StoredResult>> Reserve(
        string id, TenantCaller caller, JsonRequest<ReserveRequest> body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        var request = body.Value;
        if (!Rules.IsValidQuantity(request.Quantity, limits))
        {
            return ApiErrors.InvalidQuantity("Quantity " + Rules.QuantityRule(limits));
        }

        if (ApiErrors.InvalidBuyerKey(request.BuyerKey) is { } badKey)
        {
            return badKey;
        }

        if (!Guid.TryParse(id, out var capacityId))
        {
            return ApiErrors.CapacityNotFound(id);
        }

        var command = new PlaceHold(
            caller.TenantId, Guid.CreateVersion7(), [new HoldItem(capacityId, request.Quantity, request.PricingId, request.AllocationId)],
            request.ReservationMinutes ?? limits.DefaultHoldMinutes, request.BuyerKey);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Held(o, time));
    }

    private static Results<JsonCreated<ReserveResponse>, ProblemHttpResult> Held(Outcome o, TimeProvider time)
    {
        if (!o.Succeeded)
        {
            // This route has no items: the one it makes is named by its own field.
            return o is { Code: OutcomeCode.Invalid, Field: ItemAllocationField }
                ? ApiErrors.Validation("allocation_id", o.Detail ?? "Invalid allocation.")
                : ApiErrors.FromOutcome(o);
        }

        var reservation = ReservationResponse.From(o.Reservation!.Value, time.GetUtcNow());
        return JsonResults.Created(
            $"/reservations/{o.Reservation!.Value.Id}",
            new ReserveResponse("Capacity reserved successfully", reservation, CapacityResponse.From(o.Capacity!.Value), reservation.Items[0].LockedPrice));
    }

    private static async Task<Results<JsonCreated<ReservationResponse>, ProblemHttpResult, StoredResult>> Create(
        TenantCaller caller, JsonRequest<CreateReservationRequest> body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time)
    {
        if ((body.Problem ?? InvalidItems(body.Value.Items, limits) ?? ApiErrors.InvalidBuyerKey(body.Value.BuyerKey)) is { } invalid)
        {
            return invalid;
        }

        var request = body.Value;
        var items = Array.ConvertAll(request.Items, i => new HoldItem(i.CapacityId, i.Quantity, i.PricingId, i.AllocationId));
        var command = new PlaceHold(caller.TenantId, Guid.CreateVersion7(), items, request.ReservationMinutes ?? limits.DefaultHoldMinutes, request.BuyerKey);
        return await writes.ExecuteAsync<JsonCreated<ReservationResponse>>(context, caller.TenantId, body.Bytes, command, o => o.Succeeded
            ? JsonResults.Created($"/reservations/{o.Reservation!.Value.Id}", ReservationResponse.From(o.Reservation.Value, time.GetUtcNow()))
            : ApiErrors.FromOutcome(o));
    }

    /// <summary>A cart's shape, checked before anything is stored for its Idempotency-Key.</summary>
    private static ProblemHttpResult? InvalidItems(ReservationItemRequest[] items, CoreLimits limits)
    {
        if (items.Length == 0 || items.Length > limits.MaxItemsPerReservation)
        {
            return ApiErrors.Validation("items", $"A reservation holds 1 to {limits.MaxItemsPerReservation} items.");
        }

        for (var i = 0; i < items.Length; i++)
        {
            if (items[i] is null)
            {
                return ApiErrors.Validation($"items[{i}]", "Each item must be an object.");
            }

            if (!Rules.IsValidQuantity(items[i].Quantity, limits))
            {
                return ApiErrors.InvalidQuantity($"items[{i}].quantity " + Rules.QuantityRule(limits));
            }
        }

        return null;
    }

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, IReadStore store, TimeProvider time, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var reservation = await store.GetReservationAsync(caller.TenantId, reservationId, ct);
        return reservation is { } r ? JsonResults.Ok(ReservationResponse.From(r, time.GetUtcNow())) : NotFound(id);
    }

    /// <summary>Confirm, release and cancel: one route each, the same body (none) and the same answer.</summary>
    private static RouteHandlerBuilder MapTransition(RouteGroupBuilder group, string verb, Transition transition) =>
        group.MapPost("/reservations/{id}/" + verb, (string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, TimeProvider time) =>
            Transit(id, transition, caller, body, context, writes, time));

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Transit(
        string id, Transition transition, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, TimeProvider time)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var command = new TransitionReservation(caller.TenantId, reservationId, transition);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Answer(o, time));
    }

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Extend(
        string id, TenantCaller caller, JsonRequest<ExtendRequest> body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        if (body.Value.Minutes < 1 || body.Value.Minutes > limits.MaxHoldMinutes)
        {
            return ApiErrors.Validation("minutes", $"minutes must be between 1 and {limits.MaxHoldMinutes}.");
        }

        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var command = new ExtendReservation(caller.TenantId, reservationId, body.Value.Minutes);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Answer(o, time));
    }

    private static Results<JsonOk<ReservationResponse>, ProblemHttpResult> Answer(Outcome o, TimeProvider time) =>
        o.Succeeded ? JsonResults.Ok(ReservationResponse.From(o.Reservation!.Value, time.GetUtcNow())) : ApiErrors.FromOutcome(o);

    private static ProblemHttpResult NotFound(string id) => ApiErrors.NotFound($"Reservation {id} was not found.");
}

using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Reservations;

/// <summary>Holds and their lifecycle: place, read, confirm, release, cancel, extend.</summary>
public static class ReservationApi
{
    public static RouteGroupBuilder MapReservations(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Reservations");
        group.MapPost("/capacity/{id}/reserve", Reserve).Body<ReserveRequest>().Doc(
            "Hold tickets of one capacity",
            "Takes `quantity` from the capacity and every pool it draws from, for `reservation_minutes` (default 15). With `pricing_id`, "
            + "the price is locked for this hold. 409 INSUFFICIENT_CAPACITY carries the current `available_capacity`.",
            400, 404, 409, 413, 422);
        group.MapPost("/reservations", Create).Body<CreateReservationRequest>().Doc(
            "Hold a cart", "Several items, possibly across events, all or nothing.", 400, 404, 409, 413, 422);
        group.MapGet("/reservations/{id}", Get).Doc(
            "Get a reservation", "With locked prices and totals per currency. A hold past its expiry reads `expired` at once.", 404);
        group.MapPost("/reservations/{id}/confirm", (string id, TenantCaller caller, HttpContext context, Writes writes, ServerOptions options, TimeProvider time) =>
            Transit(id, Transition.Confirm, caller, context, writes, options, time)).Doc(
            "Confirm a hold into a sale", "Only before `expires_at`. Confirming a confirmed reservation answers 200 and changes nothing.", 400, 404, 409, 422);
        group.MapPost("/reservations/{id}/release", (string id, TenantCaller caller, HttpContext context, Writes writes, ServerOptions options, TimeProvider time) =>
            Transit(id, Transition.Release, caller, context, writes, options, time)).Doc(
            "Release a hold", "Returns its tickets. Releasing a released reservation answers 200 and changes nothing.", 400, 404, 409, 422);
        group.MapPost("/reservations/{id}/cancel", (string id, TenantCaller caller, HttpContext context, Writes writes, ServerOptions options, TimeProvider time) =>
            Transit(id, Transition.Cancel, caller, context, writes, options, time)).Doc(
            "Cancel a sale (refund)", "Confirmed → cancelled: the tickets return to every pool they came from.", 400, 404, 409, 422);
        group.MapPost("/reservations/{id}/extend", Extend).Body<ExtendRequest>().Doc(
            "Extend a hold", "Sets `expires_at` to now + `minutes`, within the lifetime limit (120 minutes from creation by default).", 400, 404, 409, 413, 422);
        return group;
    }

    /// <summary>The seed's single-capacity hold, kept with its path and fields; a one-item reservation underneath.</summary>
    private static async Task<Results<JsonCreated<ReserveResponse>, ProblemHttpResult, StoredResult>> Reserve(
        string id, TenantCaller caller, HttpContext context, Writes writes, ServerOptions options, CoreLimits limits, TimeProvider time)
    {
        var (bytes, tooLarge) = await RequestBody.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        var (request, invalid) = RequestBody.Parse(bytes, AppJson.Default.ReserveRequest);
        if (invalid is not null)
        {
            return invalid;
        }

        if (request!.Quantity < 1 || request.Quantity > limits.MaxQuantityPerItem)
        {
            return ApiErrors.InvalidQuantity($"Quantity must be between 1 and {limits.MaxQuantityPerItem}.");
        }

        if (!Guid.TryParse(id, out var capacityId))
        {
            return ApiErrors.CapacityNotFound(id);
        }

        var command = new PlaceHold(
            caller.TenantId, Guid.CreateVersion7(), [new HoldItem(capacityId, request.Quantity, request.PricingId)],
            request.ReservationMinutes ?? limits.DefaultHoldMinutes);
        return await writes.ExecuteAsync<JsonCreated<ReserveResponse>>(context, caller.TenantId, bytes, command, o =>
        {
            if (!o.Succeeded)
            {
                return ApiErrors.FromOutcome(o);
            }

            var reservation = ReservationResponse.From(o.Reservation!.Value, time.GetUtcNow());
            return JsonResults.Created(
                $"/reservations/{o.Reservation!.Value.Id}",
                new ReserveResponse("Capacity reserved successfully", reservation, CapacityResponse.From(o.Capacity!.Value), reservation.Items[0].LockedPrice));
        });
    }

    private static async Task<Results<JsonCreated<ReservationResponse>, ProblemHttpResult, StoredResult>> Create(
        TenantCaller caller, HttpContext context, Writes writes, ServerOptions options, CoreLimits limits, TimeProvider time)
    {
        var (bytes, tooLarge) = await RequestBody.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        var (request, invalid) = RequestBody.Parse(bytes, AppJson.Default.CreateReservationRequest);
        if (invalid is not null)
        {
            return invalid;
        }

        if (request!.Items.Length == 0 || request.Items.Length > limits.MaxItemsPerReservation)
        {
            return ApiErrors.Validation("items", $"A reservation holds 1 to {limits.MaxItemsPerReservation} items.");
        }

        for (var i = 0; i < request.Items.Length; i++)
        {
            if (request.Items[i] is null)
            {
                return ApiErrors.Validation($"items[{i}]", "Each item must be an object.");
            }

            if (request.Items[i].Quantity < 1 || request.Items[i].Quantity > limits.MaxQuantityPerItem)
            {
                return ApiErrors.InvalidQuantity($"items[{i}].quantity must be between 1 and {limits.MaxQuantityPerItem}.");
            }
        }

        var items = Array.ConvertAll(request.Items, i => new HoldItem(i.CapacityId, i.Quantity, i.PricingId));
        var command = new PlaceHold(caller.TenantId, Guid.CreateVersion7(), items, request.ReservationMinutes ?? limits.DefaultHoldMinutes);
        return await writes.ExecuteAsync<JsonCreated<ReservationResponse>>(context, caller.TenantId, bytes, command, o => o.Succeeded
            ? JsonResults.Created($"/reservations/{o.Reservation!.Value.Id}", ReservationResponse.From(o.Reservation.Value, time.GetUtcNow()))
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, ICapacityStore store, TimeProvider time, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var reservation = await store.GetReservationAsync(caller.TenantId, reservationId, ct);
        return reservation is { } r ? JsonResults.Ok(ReservationResponse.From(r, time.GetUtcNow())) : NotFound(id);
    }

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Transit(
        string id, Transition transition, TenantCaller caller, HttpContext context, Writes writes, ServerOptions options, TimeProvider time)
    {
        var (bytes, tooLarge) = await RequestBody.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        if (RequestBody.RequireEmpty(bytes) is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var command = new TransitionReservation(caller.TenantId, reservationId, transition);
        return await writes.ExecuteAsync(context, caller.TenantId, bytes, command, o => Answer(o, time));
    }

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Extend(
        string id, TenantCaller caller, HttpContext context, Writes writes, ServerOptions options, CoreLimits limits, TimeProvider time)
    {
        var (bytes, tooLarge) = await RequestBody.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        var (request, invalid) = RequestBody.Parse(bytes, AppJson.Default.ExtendRequest);
        if (invalid is not null)
        {
            return invalid;
        }

        if (request!.Minutes < 1 || request.Minutes > limits.MaxHoldMinutes)
        {
            return ApiErrors.Validation("minutes", $"minutes must be between 1 and {limits.MaxHoldMinutes}.");
        }

        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var command = new ExtendReservation(caller.TenantId, reservationId, request.Minutes);
        return await writes.ExecuteAsync(context, caller.TenantId, bytes, command, o => Answer(o, time));
    }

    private static Results<JsonOk<ReservationResponse>, ProblemHttpResult> Answer(Outcome o, TimeProvider time) =>
        o.Succeeded ? JsonResults.Ok(ReservationResponse.From(o.Reservation!.Value, time.GetUtcNow())) : ApiErrors.FromOutcome(o);

    private static ProblemHttpResult NotFound(string id) => ApiErrors.NotFound($"Reservation {id} was not found.");
}

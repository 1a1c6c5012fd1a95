using System.Globalization;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Reservations;

/// <summary>Holds and their lifecycle: place, read, change, confirm (in part, or after expiry), release, cancel (in part), extend.</summary>
internal static class ReservationApi
{
    /// <summary>How the core names a field of the one item a single-capacity hold makes (<c>items[0].pricing_id</c>).</summary>
    private const string OnlyItem = "items[0].";

    /// <summary>The one value <c>on_expired</c> takes.</summary>
    private const string ReclaimOnExpired = "reclaim";

    public static RouteGroupBuilder MapReservations(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Reservations");
        group.MapPost("/capacity/{id}/reserve", Reserve).Body<ReserveRequest>().Doc(
            "Hold tickets of one capacity",
            "Takes `quantity` from the capacity and every pool it draws from, for `reservation_minutes` (default 15). With `pricing_id`, "
            + "the price is locked for this hold. With `allocation_id`, the tickets come from that allocation of the capacity "
            + "(409 ALLOCATION_INSUFFICIENT carries its `idle`; 409 ALLOCATION_CLOSED) and public availability does not move. "
            + "409 INSUFFICIENT_CAPACITY carries the current `available_capacity`. `buyer_key` names the buyer for per-buyer limits "
            + "(409 BUYER_LIMIT_EXCEEDED, 400 BUYER_KEY_REQUIRED). `external_ref` (your order or cart id) and `metadata` (a flat object of strings: "
            + "16 keys, values up to 256 characters, 4 KB) are kept and shown on every read. A tenant with `Capacity:Quotas:MaxLiveHoldsPerTenant` active holds "
            + "gets 429 TOO_MANY_LIVE_HOLDS.",
            400, 404, 409, 413, 422, 429);
        group.MapPost("/reservations", Create).Body<CreateReservationRequest>().Doc(
            "Hold a cart", "Several items, possibly across events, all or nothing. An item with `allocation_id` draws from that allocation of its capacity. "
            + "`buyer_key` names the buyer: the whole cart counts towards every limit over its items (409 BUYER_LIMIT_EXCEEDED refuses it whole). "
            + "`external_ref` and `metadata` as on a single hold; 429 TOO_MANY_LIVE_HOLDS as there.", 400, 404, 409, 413, 422, 429);
        group.MapGet("/reservations", List).HeavyRead().Doc(
            "List reservations",
            "The tenant's reservations, newest first, by `event_id` (a cart across events is listed under each of its events) or by `external_ref` "
            + "(at least one of the two), optionally only those of one `status` (the effective one: a hold past its expiry is `expired`) or one "
            + "`buyer_key`. Pass `next_after` as `after` for the next page (an opaque cursor); `limit` 1..1000 (default 100).",
            400);
        group.MapGet("/reservations/{id}", Get).Doc(
            "Get a reservation", "With locked prices and totals per currency. A hold past its expiry reads `expired` at once.", 404);
        group.MapPatch("/reservations/{id}", Change).Body<ChangeReservationRequest>().Doc(
            "Change a hold",
            "New target quantities for an active hold, per capacity: a lower one gives units back, higher ones and new capacities are checked "
            + "all or nothing (409 INSUFFICIENT_CAPACITY, BUYER_LIMIT_EXCEEDED), 0 removes a capacity, and all 0 releases the hold. Capacities not named "
            + "keep what they hold. Units held keep their locked price; added units lock the current one (of `pricing_id`, or of the item's own entry). "
            + "`expires_at` stays unless `reservation_minutes` is given (within the lifetime limit). 409 RESERVATION_NOT_CHANGEABLE for a hold drawn from "
            + "an allocation or a waiting-list offer.",
            400, 404, 409, 413, 422);
        group.MapPost("/reservations/{id}/confirm", Confirm).OptionalBody<ConfirmRequest>().Doc(
            "Confirm a hold into a sale",
            "Only before `expires_at`. Confirming a confirmed reservation answers 200 and changes nothing. With `items`, confirms these quantities "
            + "(0 to what the hold has of each; capacities not named confirm none) and releases the rest, atomically. With `on_expired: \"reclaim\"`, "
            + "a hold that has expired is confirmed after all if its tickets are still available under every rule, at the prices it locked; the answer "
            + "then has `reclaimed: true`. Otherwise 409 RESERVATION_EXPIRED with `shortfall` and nothing changes. Released or cancelled holds are never reclaimed. "
            + "`on_expired` needs a credential with the `elevated` scope (403 FORBIDDEN otherwise, whatever the hold's state).",
            400, 404, 409, 413, 422);
        MapTransition(group, "release", Transition.Release).Doc(
            "Release a hold", "Returns its tickets. Releasing a released reservation answers 200 and changes nothing.", 400, 404, 409, 422);
        group.MapPost("/reservations/{id}/cancel", Cancel).OptionalBody<CancelRequest>().Doc(
            "Cancel a sale (refund)",
            "Confirmed → cancelled: the tickets return to every pool they came from. With `items`, refunds only these quantities: the sale stays "
            + "confirmed, each item showing its `cancelled_quantity`, until its last ticket is refunded.",
            400, 404, 409, 413, 422);
        group.MapPost("/reservations/{id}/extend", Extend).Body<ExtendRequest>().Doc(
            "Extend a hold", "Sets `expires_at` to now + `minutes`, within the lifetime limit (120 minutes from creation by default).", 400, 404, 409, 413, 422);
        return group;
    }

    /// <summary>The seed's single-capacity hold, kept with its path and fields; a one-item reservation underneath.</summary>
    private static async Task<Results<JsonCreated<ReserveResponse>, ProblemHttpResult, StoredResult>> Reserve(
        string id, TenantCaller caller, JsonRequest<ReserveRequest> body, HttpContext context, Writes writes, CoreLimits limits, TenantQuotas quotas, TimeProvider time)
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

        // Last: a request refused for its shape never takes a place under the bound.
        if (AtLiveHoldLimit(caller, quotas) is { } full)
        {
            return await writes.ReplayCommittedAsync(context, caller.TenantId, body.Bytes, context.RequestAborted) is { } replay
                ? replay
                : Refused(full, context, quotas);
        }

        var command = new PlaceHold(
            caller.TenantId, TimeOrderedIds.New(), [new HoldItem(capacityId, request.Quantity, request.PricingId, request.AllocationId)],
            request.ReservationMinutes ?? limits.DefaultHoldMinutes, request.BuyerKey, Labels.Of(request.ExternalRef, request.Metadata));
        // An answer the engine did not decide (a replay, an overload, a failed store) places nothing
        // new: its place under the bound is given back here.
        var decided = false;
        try
        {
            return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o =>
            {
                decided = true;
                return Held(o, time, quotas, caller.TenantId);
            });
        }
        finally
        {
            if (!decided)
            {
                quotas.Decided(caller.TenantId, placed: false);
            }
        }
    }

    /// <summary>
    /// A new hold of a tenant at its bound of active holds is refused before it is queued (docs/reliability.md),
    /// unless it is the retry of a hold that was placed: then the first answer is replayed, since a client that
    /// lost that answer and heard "refused" would leave the hold it has behind (see the callers).
    /// </summary>
    private static ProblemHttpResult? AtLiveHoldLimit(TenantCaller caller, TenantQuotas quotas) =>
        quotas.TryAdmitHold(caller.TenantId) ? null : ApiErrors.TooManyLiveHolds(quotas.Options.MaxLiveHoldsPerTenant);

    private static ProblemHttpResult Refused(ProblemHttpResult full, HttpContext context, TenantQuotas quotas)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, quotas.Options.LiveHoldsRefreshMs / 1000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return full;
    }

    private static Results<JsonCreated<ReserveResponse>, ProblemHttpResult> Held(Outcome o, TimeProvider time, TenantQuotas quotas, Guid tenantId)
    {
        if (!o.Succeeded)
        {
            quotas.Decided(tenantId, placed: false);
            // This route has no items: a field of the one it makes is named as the route's own field.
            return ApiErrors.FromOutcome(o.Field is { } field && field.StartsWith(OnlyItem, StringComparison.Ordinal) ? o with { Field = field[OnlyItem.Length..] } : o);
        }

        quotas.Decided(tenantId, placed: true);
        var reservation = ReservationResponse.AsDecided(o.Reservation!.Value);
        return JsonResults.Created(
            $"/reservations/{o.Reservation!.Value.Id}",
            new ReserveResponse("Capacity reserved successfully", reservation, CapacityResponse.From(o.Capacity!.Value, time.GetUtcNow()), reservation.Items[0].LockedPrice));
    }

    private static async Task<Results<JsonCreated<ReservationResponse>, ProblemHttpResult, StoredResult>> Create(
        TenantCaller caller, JsonRequest<CreateReservationRequest> body, HttpContext context, Writes writes, CoreLimits limits, TenantQuotas quotas, TimeProvider time)
    {
        if ((body.Problem ?? InvalidItems(body.Value.Items, limits) ?? ApiErrors.InvalidBuyerKey(body.Value.BuyerKey)) is { } invalid)
        {
            return invalid;
        }

        if (AtLiveHoldLimit(caller, quotas) is { } full)
        {
            return await writes.ReplayCommittedAsync(context, caller.TenantId, body.Bytes, context.RequestAborted) is { } replay
                ? replay
                : Refused(full, context, quotas);
        }

        var request = body.Value;
        var items = Array.ConvertAll(request.Items, i => new HoldItem(i.CapacityId, i.Quantity, i.PricingId, i.AllocationId));
        var command = new PlaceHold(
            caller.TenantId, TimeOrderedIds.New(), items, request.ReservationMinutes ?? limits.DefaultHoldMinutes, request.BuyerKey,
            Labels.Of(request.ExternalRef, request.Metadata));
        var decided = false;
        try
        {
            return await writes.ExecuteAsync<JsonCreated<ReservationResponse>>(context, caller.TenantId, body.Bytes, command, o =>
            {
                decided = true;
                return Placed(o);
            });
        }
        finally
        {
            if (!decided)
            {
                quotas.Decided(caller.TenantId, placed: false);
            }
        }

        Results<JsonCreated<ReservationResponse>, ProblemHttpResult> Placed(Outcome o)
        {
            if (!o.Succeeded)
            {
                quotas.Decided(caller.TenantId, placed: false);
                return ApiErrors.FromOutcome(o);
            }

            quotas.Decided(caller.TenantId, placed: true);
            return JsonResults.Created($"/reservations/{o.Reservation!.Value.Id}", ReservationResponse.AsDecided(o.Reservation.Value));
        }
    }

    /// <summary>A cart's shape, checked before anything is stored for its Idempotency-Key.</summary>
    private static ProblemHttpResult? InvalidItems(ReservationItemRequest[] items, CoreLimits limits) =>
        ItemShape.Invalid(items, i => i.Quantity, "A reservation holds", limits);

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, IReadStore store, TimeProvider time, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var reservation = await store.GetReservationAsync(caller.TenantId, reservationId, ct);
        return reservation is { } r ? JsonResults.Ok(ReservationResponse.From(r, time.GetUtcNow())) : NotFound(id);
    }

    private static async Task<Results<JsonOk<ReservationPageResponse>, ProblemHttpResult>> List(
        [FromQuery(Name = "event_id")] string? eventId,
        [FromQuery(Name = "external_ref")] string? externalRef,
        [FromQuery(Name = "buyer_key")] string? buyerKey,
        string? status,
        string? after,
        string? limit,
        TenantCaller caller,
        IReadStore store,
        ServerOptions options,
        CoreLimits limits,
        TimeProvider time,
        CancellationToken ct)
    {
        if (eventId is null && externalRef is null)
        {
            return ApiErrors.Validation("event_id", "Name an event_id or an external_ref (or both).");
        }

        if (eventId is not null && !Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        if (externalRef is not null && !Rules.IsValidName(externalRef, limits.MaxExternalRefLength))
        {
            return ApiErrors.Validation("external_ref", Rules.NameRule("external_ref", limits.MaxExternalRefLength, externalRef));
        }

        ReservationStatus? wanted = null;
        if (status is not null)
        {
            // Enum.TryParse takes any integer, and an undefined value's name is its digits: "5" would read as a
            // status no reservation has, and a mistyped filter would answer an empty list.
            if (!Enum.TryParse<ReservationStatus>(status, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || status != parsed.ApiName())
            {
                return ApiErrors.Validation("status", "status must be one of active, confirmed, released, expired, cancelled.");
            }

            wanted = parsed;
        }

        if (ApiErrors.InvalidBuyerKey(buyerKey) is { } badKey)
        {
            return badKey;
        }

        if (Paging.TryRead(null, limit, options, out var page) is { } badLimit)
        {
            return badLimit;
        }

        (DateTimeOffset, Guid)? before = null;
        if (after is not null)
        {
            if (ReservationCursor.TryRead(after) is not { } cursor)
            {
                return ApiErrors.Validation("after", "after must be the next_after of a previous page.");
            }

            before = cursor;
        }

        var now = time.GetUtcNow();
        var rows = await store.ListReservationsAsync(new ReservationQuery(caller.TenantId, eventId, externalRef, buyerKey, wanted, now, before, page.Limit), ct);
        var next = rows.Count == page.Limit ? ReservationCursor.Write(rows[^1]) : null;
        return JsonResults.Ok(new ReservationPageResponse([.. rows.Select(r => ReservationResponse.From(r, now))], next));
    }

    /// <summary>Release: no body, and the answer every step gives. Confirm and cancel take the same path when their body names nothing.</summary>
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

        return await Transit(id, transition, caller, body.Bytes, context, writes, time);
    }

    /// <summary>The whole step, for a body already found to name nothing.</summary>
    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Transit(
        string id, Transition transition, TenantCaller caller, byte[] body, HttpContext context, Writes writes, TimeProvider time)
    {
        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var command = new TransitionReservation(caller.TenantId, reservationId, transition);
        return await writes.ExecuteAsync(context, caller.TenantId, body, command, o => Answer(o));
    }

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Change(
        string id, TenantCaller caller, JsonRequest<ChangeReservationRequest> body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time)
    {
        if ((body.Problem ?? InvalidParts(body.Value.Items, limits, i => i.Quantity, min: 0, max: limits.MaxQuantityPerItem)) is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var request = body.Value;
        var items = Array.ConvertAll(request.Items, i => new HoldItem(i.CapacityId, i.Quantity, i.PricingId));
        var command = new ChangeHold(caller.TenantId, reservationId, items, request.ReservationMinutes);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Answer(o));
    }

    /// <summary>
    /// The plain confirm (no body, or <c>{}</c>) is the hot path and goes exactly as it always did; a
    /// body naming items or <c>on_expired</c> is parsed only then, and decided as a partial confirm or reclaim.
    /// </summary>
    private static Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Confirm(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time) =>
        body.IsEmpty ? Transit(id, Transition.Confirm, caller, body.Bytes, context, writes, time) : ConfirmWithBody(id, caller, body, context, writes, limits, time);

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> ConfirmWithBody(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time)
    {
        var (request, problem) = body.Unread is { } unread ? (null, unread) : JsonRequest<ConfirmRequest>.Parse(context, body.Bytes);
        if ((problem ?? InvalidParts(request!.Items, limits, min: 0)) is { } invalid)
        {
            return invalid;
        }

        if (request!.OnExpired is not (null or ReclaimOnExpired))
        {
            return ApiErrors.Validation("on_expired", $"on_expired must be \"{ReclaimOnExpired}\" or absent.");
        }

        if (request.Items is null && request.OnExpired is null)
        {
            return await Transit(id, Transition.Confirm, caller, body.Bytes, context, writes, time);
        }

        // Confirming a hold after its time ran out bends the sale's rules: a box office's call, asked for
        // by the request whether or not this hold has expired, so the answer does not depend on the clock.
        if (request.OnExpired is not null && caller.RequireElevated("on_expired: \"reclaim\"") is { } narrow)
        {
            return narrow;
        }

        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var command = new ConfirmHold(caller.TenantId, reservationId, Parts(request.Items), request.OnExpired is not null);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Answer(o));
    }

    /// <summary>The whole cancel (no body, or <c>{}</c>) as it always was; with <c>items</c>, a partial refund.</summary>
    private static Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> Cancel(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time) =>
        body.IsEmpty ? Transit(id, Transition.Cancel, caller, body.Bytes, context, writes, time) : CancelWithBody(id, caller, body, context, writes, limits, time);

    private static async Task<Results<JsonOk<ReservationResponse>, ProblemHttpResult, StoredResult>> CancelWithBody(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, CoreLimits limits, TimeProvider time)
    {
        var (request, problem) = body.Unread is { } unread ? (null, unread) : JsonRequest<CancelRequest>.Parse(context, body.Bytes);
        if ((problem ?? InvalidParts(request!.Items, limits, min: 1)) is { } invalid)
        {
            return invalid;
        }

        if (request!.Items is null)
        {
            return await Transit(id, Transition.Cancel, caller, body.Bytes, context, writes, time);
        }

        if (!Guid.TryParse(id, out var reservationId))
        {
            return NotFound(id);
        }

        var command = new CancelSale(caller.TenantId, reservationId, Parts(request.Items)!);
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Answer(o));
    }

    private static ItemQuantity[]? Parts(ItemQuantityRequest[]? items) =>
        items is null ? null : Array.ConvertAll(items, i => new ItemQuantity(i.CapacityId, i.Quantity));

    /// <summary>
    /// A partial confirm or refund names what to keep or refund of each capacity: up to what the hold has
    /// there, which a cart's several lines of one capacity may make more than one line's most (the core
    /// checks it against the hold).
    /// </summary>
    private static ProblemHttpResult? InvalidParts(ItemQuantityRequest[]? items, CoreLimits limits, int min) =>
        items is null ? null : InvalidParts(
            items, limits, i => i.Quantity, min, (int)Math.Min(int.MaxValue, (long)limits.MaxQuantityPerItem * limits.MaxItemsPerReservation), "what the reservation has of that capacity");

    /// <summary>
    /// The shape of the items a change, partial confirm or refund names, checked before anything is
    /// stored for its Idempotency-Key: 1 to the cart's most items, each an object, each quantity from
    /// <paramref name="min"/> to <paramref name="max"/>. What they are checked against (the hold's
    /// items, the capacities) is the core's; <paramref name="upTo"/> names that bound in the refusal when
    /// <paramref name="max"/> is only a ceiling no hold reaches, which a client could not act on.
    /// </summary>
    private static ProblemHttpResult? InvalidParts<T>(T[] items, CoreLimits limits, Func<T, int> quantityOf, int min, int max, string? upTo = null)
        where T : class
    {
        if (items.Length == 0 || items.Length > limits.MaxItemsPerReservation)
        {
            return ApiErrors.Validation("items", $"Name 1 to {limits.MaxItemsPerReservation} items.");
        }

        for (var i = 0; i < items.Length; i++)
        {
            if (items[i] is null)
            {
                return ApiErrors.Validation($"items[{i}]", "Each item must be an object.");
            }

            var quantity = quantityOf(items[i]);
            if (quantity < min || quantity > max)
            {
                return ApiErrors.InvalidQuantity($"items[{i}].quantity must be between {min} and {upTo ?? max.ToString(CultureInfo.InvariantCulture)}.");
            }
        }

        return null;
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
        return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, o => Answer(o));
    }

    private static Results<JsonOk<ReservationResponse>, ProblemHttpResult> Answer(Outcome o)
    {
        if (!o.Succeeded)
        {
            return ApiErrors.FromOutcome(o);
        }

        var reservation = ReservationResponse.AsDecided(o.Reservation!.Value);
        return JsonResults.Ok(o.Reclaimed ? reservation with { Reclaimed = true } : reservation);
    }

    private static ProblemHttpResult NotFound(string id) => ApiErrors.NotFound($"Reservation {id} was not found.");
}

/// <summary>
/// The cursor of <c>GET /reservations</c>: the last row's creation (Unix milliseconds, as stored) and
/// id, as "ms_id". Opaque to callers; a malformed one is refused, never guessed at.
/// </summary>
internal static class ReservationCursor
{
    public static string Write(Reservation r) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{r.CreatedAt.ToUnixTimeMilliseconds()}_{r.Id:N}");

    public static (DateTimeOffset CreatedAt, Guid Id)? TryRead(string text)
    {
        var cut = text.IndexOf('_', StringComparison.Ordinal);
        return cut > 0
            && long.TryParse(text.AsSpan(0, cut), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            && ms <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            && Guid.TryParseExact(text.AsSpan(cut + 1), "N", out var id)
                ? (DateTimeOffset.FromUnixTimeMilliseconds(ms), id)
                : null;
    }
}

using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Capacity.Client;

// One method per route, in the order of docs/api.md. Writes take an optional Idempotency-Key:
// pass your own to make a call repeatable across processes (say, a checkout retried after a crash).
public sealed partial class CapacityClient
{
    /// <summary><c>POST /events/{eventId}/capacity</c>: creates a capacity.</summary>
    /// <param name="eventId">1 to 64 letters, digits, '.', '_', ':' or '-'.</param>
    /// <param name="request">The new capacity.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<CapacityDetails> CreateCapacityAsync(string eventId, CreateCapacityRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"events/{Segment(eventId)}/capacity", Body(request, ClientJson.Default.CreateCapacityRequest), ClientJson.Default.CapacityDetails, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>GET /events/{eventId}/capacity</c>: every capacity of the event in creation order (empty for an unknown event),
    /// read page after page (<see cref="ListCapacityAsync(string, Guid?, int?, CancellationToken)"/> reads one).
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<CapacityDetails>> ListCapacityAsync(string eventId, CancellationToken cancellationToken = default) =>
        AllPagesAsync($"events/{Segment(eventId)}/capacity", ClientJson.Default.CapacityList, l => l.Capacity, l => l.NextAfter?.ToString(), cancellationToken);

    /// <summary>
    /// <c>GET /events/{eventId}/capacity</c>: one page of the event's capacities in creation order. Pass each page's
    /// <see cref="CapacityList.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="after">The <see cref="CapacityList.NextAfter"/> of the previous page; null for the first page.</param>
    /// <param name="limit">
    /// Capacities per page, 1 to 1000; the server's default (100) when null. With <paramref name="after"/> null too, the
    /// server answers every capacity in one page.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a limit out of range, or an <paramref name="after"/> that is no capacity of the event.</exception>
    public Task<CapacityList> ListCapacityAsync(string eventId, Guid? after, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"events/{Segment(eventId)}/capacity", after?.ToString(), limit), ClientJson.Default.CapacityList, cancellationToken);

    /// <summary><c>GET /events/{eventId}/capacity/total</c>: the event's totals over its roots.</summary>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<CapacityTotals> GetTotalsAsync(string eventId, CancellationToken cancellationToken = default) =>
        GetAsync($"events/{Segment(eventId)}/capacity/total", ClientJson.Default.CapacityTotals, cancellationToken);

    /// <summary><c>GET /capacity/{id}</c>: one capacity with its counters.</summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<CapacityDetails> GetCapacityAsync(Guid capacityId, CancellationToken cancellationToken = default) =>
        GetAsync($"capacity/{capacityId}", ClientJson.Default.CapacityDetails, cancellationToken);

    /// <summary><c>PUT /capacity/{id}</c>: changes the fields set in <paramref name="request"/> and leaves the others.</summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="request">The fields to change.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<CapacityDetails> UpdateCapacityAsync(Guid capacityId, UpdateCapacityRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PutAsync($"capacity/{capacityId}", Body(request, ClientJson.Default.UpdateCapacityRequest), ClientJson.Default.CapacityDetails, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /capacity/{id}/check</c>: whether <paramref name="quantity"/> tickets could be held now.
    /// Advice only; a hold is what takes the tickets.
    /// </summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="quantity">Tickets, 1 to the server's per-item limit.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">
    /// 409 <c>SALE_NOT_OPEN</c> or <c>SALE_CLOSED</c> when the capacity, or a pool it draws from, is not on sale now, as a hold would be refused.
    /// </exception>
    /// <remarks>
    /// Sent without an Idempotency-Key: a check changes nothing, and the server records and replays nothing for it, so a
    /// retried check is simply asked again.
    /// </remarks>
    public Task<CapacityCheck> CheckAsync(Guid capacityId, int quantity, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"capacity/{capacityId}/check", Body(new CheckRequest(quantity), ClientJson.Default.CheckRequest), ClientJson.Default.CapacityCheck, null, cancellationToken);

    /// <summary><c>POST /capacity/{id}/reserve</c>: holds tickets of one capacity.</summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="request">How many, for how long, at which price.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">
    /// 409 <c>INSUFFICIENT_CAPACITY</c> (with <see cref="CapacityApiException.AvailableCapacity"/>),
    /// <c>CAPACITY_INACTIVE</c>, <c>ALLOCATION_CLOSED</c>, <c>ALLOCATION_INSUFFICIENT</c> (with
    /// <see cref="CapacityApiException.Idle"/>) or <c>BUYER_LIMIT_EXCEEDED</c> (with
    /// <see cref="CapacityApiException.LimitId"/>, <see cref="CapacityApiException.Used"/>,
    /// <see cref="CapacityApiException.Requested"/> and <see cref="CapacityApiException.PerBuyerMax"/>),
    /// <c>SALE_NOT_OPEN</c> (with <see cref="CapacityApiException.SaleStartsAt"/> or <see cref="CapacityApiException.OpensAfterSoldOutOf"/>)
    /// or <c>SALE_CLOSED</c> (with <see cref="CapacityApiException.SaleEndsAt"/>), each with <see cref="CapacityApiException.CapacityId"/>;
    /// 400 <c>INVALID_QUANTITY</c> or <c>BUYER_KEY_REQUIRED</c>; 404 <c>NOT_FOUND</c>; among others.
    /// </exception>
    public Task<ReserveResult> ReserveAsync(Guid capacityId, ReserveRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"capacity/{capacityId}/reserve", Body(request, ClientJson.Default.ReserveRequest), ClientJson.Default.ReserveResult, idempotencyKey, cancellationToken);

    /// <summary><c>POST /reservations</c>: holds a cart of items, all or nothing.</summary>
    /// <param name="request">The items and the hold's length.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">The refusals of <see cref="ReserveAsync"/>, for the cart as a whole.</exception>
    public Task<Reservation> CreateReservationAsync(CreateReservationRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("reservations", Body(request, ClientJson.Default.CreateReservationRequest), ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>GET /reservations</c>: one page of the tenant's reservations that <paramref name="query"/> finds,
    /// newest first. Pass each page's <see cref="ReservationPage.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="query">An event or an external reference (at least one), and optionally a status and a buyer.</param>
    /// <param name="after">The <see cref="ReservationPage.NextAfter"/> of the previous page; from the newest when null.</param>
    /// <param name="limit">Reservations per page, 1 to 1000; the server's default (100) when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a query with neither an event nor a reference, or a malformed field.</exception>
    public Task<ReservationPage> ListReservationsAsync(ReservationQuery query, string? after = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return GetAsync(ReservationsPath(query, after, limit), ClientJson.Default.ReservationPage, cancellationToken);
    }

    /// <summary><c>GET /reservations/{id}</c>: one reservation with its effective status.</summary>
    /// <param name="reservationId">The reservation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Reservation> GetReservationAsync(Guid reservationId, CancellationToken cancellationToken = default) =>
        GetAsync($"reservations/{reservationId}", ClientJson.Default.Reservation, cancellationToken);

    /// <summary>
    /// <c>PATCH /reservations/{id}</c>: sets new quantities for an active hold, per capacity. Lower ones give
    /// tickets back at once; higher ones and new capacities are checked together, all or nothing, and a
    /// refusal changes nothing. All 0 releases the hold.
    /// </summary>
    /// <param name="reservationId">The hold.</param>
    /// <param name="request">The capacities' target quantities, and optionally a new length.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <returns>The hold as it is after the change.</returns>
    /// <exception cref="CapacityApiException">
    /// 409 <c>INSUFFICIENT_CAPACITY</c> or <c>BUYER_LIMIT_EXCEEDED</c> as for a hold; <c>RESERVATION_NOT_CHANGEABLE</c> for a
    /// hold drawn from an allocation or a waiting-list offer; <c>RESERVATION_EXPIRED</c> or <c>RESERVATION_NOT_ACTIVE</c>;
    /// 404 <c>NOT_FOUND</c>; among others.
    /// </exception>
    public Task<Reservation> ChangeReservationAsync(Guid reservationId, ChangeReservationRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PatchAsync($"reservations/{reservationId}", Body(request, ClientJson.Default.ChangeReservationRequest), ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary><c>POST /reservations/{id}/confirm</c>: turns an active hold into a sale. Confirming twice changes nothing.</summary>
    /// <param name="reservationId">The reservation.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">409 <c>RESERVATION_EXPIRED</c> or <c>RESERVATION_NOT_ACTIVE</c>; 404 <c>NOT_FOUND</c>.</exception>
    public Task<Reservation> ConfirmAsync(Guid reservationId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"reservations/{reservationId}/confirm", null, ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /reservations/{id}/confirm</c> with a body: confirms part of a hold and releases the rest in the
    /// same step (<see cref="ConfirmReservationRequest.Items"/>), or takes back a hold that has expired if its
    /// tickets are still free (<see cref="ConfirmReservationRequest.OnExpired"/>), or both.
    /// </summary>
    /// <param name="reservationId">The hold.</param>
    /// <param name="request">What to confirm, and what to do if the hold has expired.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <returns>The sale; <see cref="Reservation.Reclaimed"/> is true when it was an expired hold taken back.</returns>
    /// <exception cref="CapacityApiException">
    /// 409 <c>RESERVATION_EXPIRED</c> (after a refused reclaim, with <see cref="CapacityApiException.Shortfall"/>),
    /// <c>RESERVATION_NOT_ACTIVE</c> (a released or cancelled hold is never reclaimed) or <c>RESERVATION_NOT_CHANGEABLE</c>
    /// (part of a hold drawn from an allocation; a reclaim of a waiting-list offer); 404 <c>NOT_FOUND</c>; among others.
    /// </exception>
    public Task<Reservation> ConfirmAsync(Guid reservationId, ConfirmReservationRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"reservations/{reservationId}/confirm", Body(request, ClientJson.Default.ConfirmReservationRequest), ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary><c>POST /reservations/{id}/release</c>: gives an active hold back. Releasing twice changes nothing.</summary>
    /// <param name="reservationId">The reservation.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<Reservation> ReleaseAsync(Guid reservationId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"reservations/{reservationId}/release", null, ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary><c>POST /reservations/{id}/cancel</c>: refunds a confirmed reservation; its tickets return to every pool.</summary>
    /// <param name="reservationId">The reservation.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<Reservation> CancelAsync(Guid reservationId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"reservations/{reservationId}/cancel", null, ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /reservations/{id}/cancel</c> with <c>items</c>: refunds part of a sale; those tickets return to
    /// every pool. The sale stays confirmed, each item showing its <see cref="ReservationItem.CancelledQuantity"/>,
    /// until its last ticket is refunded and it is cancelled.
    /// </summary>
    /// <param name="reservationId">The sale.</param>
    /// <param name="items">The tickets to refund: 1 to what the sale still has of each capacity named.</param>
    /// <param name="idempotencyKey">
    /// The key for this call; a new one when null. Pass your own for a refund that may be sent again: a
    /// second partial refund with a new key refunds again.
    /// </param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">
    /// 409 <c>RESERVATION_NOT_ACTIVE</c> (not confirmed) or <c>RESERVATION_NOT_CHANGEABLE</c> (drawn from an allocation);
    /// 400 <c>INVALID_QUANTITY</c> for more than the sale has; 404 <c>NOT_FOUND</c>; among others.
    /// </exception>
    public Task<Reservation> CancelAsync(Guid reservationId, IReadOnlyList<ItemQuantity> items, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"reservations/{reservationId}/cancel", Body(new CancelRequest(items), ClientJson.Default.CancelRequest), ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /reservations/{id}/extend</c>: makes an active hold expire <paramref name="minutes"/> from now
    /// (not from its current expiry, so a small number can shorten it).
    /// </summary>
    /// <param name="reservationId">The reservation.</param>
    /// <param name="minutes">1 to the server's longest hold (120 by default); a hold lives at most 120 minutes from creation.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">409 <c>RESERVATION_EXTENSION_LIMIT</c>, <c>RESERVATION_EXPIRED</c> or <c>RESERVATION_NOT_ACTIVE</c>.</exception>
    public Task<Reservation> ExtendAsync(Guid reservationId, int minutes, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"reservations/{reservationId}/extend", Body(new ExtendRequest(minutes), ClientJson.Default.ExtendRequest), ClientJson.Default.Reservation, idempotencyKey, cancellationToken);

    /// <summary><c>POST /capacity/{id}/pricing</c>: adds a price entry to a capacity.</summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="request">The price.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<PricingDetails> CreatePricingAsync(Guid capacityId, CreatePricingRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"capacity/{capacityId}/pricing", Body(request, ClientJson.Default.CreatePricingRequest), ClientJson.Default.PricingDetails, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>GET /capacity/{id}/pricing</c>: every price entry of a capacity in creation order, read page after page
    /// (<see cref="ListPricingAsync(Guid, Guid?, int?, CancellationToken)"/> reads one).
    /// </summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<PricingDetails>> ListPricingAsync(Guid capacityId, CancellationToken cancellationToken = default) =>
        AllPagesAsync($"capacity/{capacityId}/pricing", ClientJson.Default.PricingList, l => l.Pricing, l => l.NextAfter?.ToString(), cancellationToken);

    /// <summary>
    /// <c>GET /capacity/{id}/pricing</c>: one page of a capacity's price entries in creation order. Pass each page's
    /// <see cref="PricingList.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="after">The <see cref="PricingList.NextAfter"/> of the previous page; null for the first page.</param>
    /// <param name="limit">
    /// Entries per page, 1 to 1000; the server's default (100) when null. With <paramref name="after"/> null too, the
    /// server answers every entry in one page.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a limit out of range, or an <paramref name="after"/> that is no entry of the capacity.</exception>
    public Task<PricingList> ListPricingAsync(Guid capacityId, Guid? after, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"capacity/{capacityId}/pricing", after?.ToString(), limit), ClientJson.Default.PricingList, cancellationToken);

    /// <summary><c>GET /pricing/{id}</c>: one price entry.</summary>
    /// <param name="pricingId">The price entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<PricingDetails> GetPricingAsync(Guid pricingId, CancellationToken cancellationToken = default) =>
        GetAsync($"pricing/{pricingId}", ClientJson.Default.PricingDetails, cancellationToken);

    /// <summary><c>PUT /pricing/{id}</c>: changes the fields set in <paramref name="request"/>; prices already locked by holds stay.</summary>
    /// <param name="pricingId">The price entry.</param>
    /// <param name="request">The fields to change.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<PricingDetails> UpdatePricingAsync(Guid pricingId, UpdatePricingRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PutAsync($"pricing/{pricingId}", Body(request, ClientJson.Default.UpdatePricingRequest), ClientJson.Default.PricingDetails, idempotencyKey, cancellationToken);

    /// <summary><c>GET /events/{eventId}/ledger</c>: one page of the event's counter changes.</summary>
    /// <param name="eventId">The event.</param>
    /// <param name="after">The <see cref="LedgerPage.NextAfter"/> of the previous page; from the start when null.</param>
    /// <param name="limit">Entries per page, 1 to 1000; the server's default (100) when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<LedgerPage> GetLedgerAsync(string eventId, long? after = null, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"events/{Segment(eventId)}/ledger", after, limit), ClientJson.Default.LedgerPage, cancellationToken);

    /// <summary>
    /// <c>GET /events/{eventId}/stats</c>: the event's sales bucket by bucket (every bucket of the range, empty ones
    /// included), their totals, the conversion from holds to sales, the time buyers took to confirm, and a forecast
    /// of when it sells out at the rate of the last ten minutes. Without a range, the last 60 buckets up to now.
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="from">The start of the range; 60 buckets before <paramref name="to"/> when null.</param>
    /// <param name="to">The end of the range; the server's default (now) when null.</param>
    /// <param name="bucket">The width of a bucket: <c>1m</c> (the server's default when null), <c>5m</c>, <c>1h</c> or <c>1d</c>.</param>
    /// <param name="capacityId">Only this capacity and everything below it; the whole event when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">
    /// 400 <c>VALIDATION_ERROR</c> for an unknown bucket, a range that ends before it starts, or more than 1,440 buckets;
    /// 404 <c>NOT_FOUND</c> for a capacity that is not the event's.
    /// </exception>
    public Task<EventStats> GetEventStatsAsync(
        string eventId, DateTimeOffset? from = null, DateTimeOffset? to = null, string? bucket = null, Guid? capacityId = null, CancellationToken cancellationToken = default) =>
        GetAsync(StatsPath(eventId, from, to, bucket, capacityId), ClientJson.Default.EventStats, cancellationToken);

    /// <summary>
    /// <c>GET /events</c>: every event of the tenant, oldest first, read page after page
    /// (<see cref="ListEventsAsync(string?, int?, CancellationToken)"/> reads one).
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<EventSummary>> ListEventsAsync(CancellationToken cancellationToken = default) =>
        AllPagesAsync("events", ClientJson.Default.EventList, l => l.Events, l => l.NextAfter, cancellationToken);

    /// <summary>
    /// <c>GET /events</c>: one page of the tenant's events, oldest first. Pass each page's <see cref="EventList.NextAfter"/>
    /// as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="after">The <see cref="EventList.NextAfter"/> of the previous page (an event id); null for the first page.</param>
    /// <param name="limit">
    /// Events per page, 1 to 1000; the server's default (100) when null. With <paramref name="after"/> null too, the
    /// server answers every event in one page.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a limit out of range, or an <paramref name="after"/> that is none of the events.</exception>
    public Task<EventList> ListEventsAsync(string? after, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged("events", after, limit), ClientJson.Default.EventList, cancellationToken);

    /// <summary>
    /// <c>GET /events/{eventId}/capacity/stream</c>: the event's live snapshots, the first at once and
    /// then one whenever something in it changes. Heartbeats are skipped. The sequence ends when the
    /// server closes the stream; cancel the token to stop watching. <see cref="HttpClient.Timeout"/>
    /// bounds only the wait for the connection, not how long the stream stays open.
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Stops the stream.</param>
    public async IAsyncEnumerable<EventSnapshot> WatchAsync(string eventId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Only the connection goes through the retry pipeline; a stream that breaks later ends the sequence.
        using var response = await SendAsync(
            HttpMethod.Get, $"events/{Segment(eventId)}/capacity/stream", null, null, "text/event-stream",
            HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var parser = SseParser.Create<EventSnapshot?>(
                stream, (type, data) => type == "snapshot" ? JsonSerializer.Deserialize(data, ClientJson.Default.EventSnapshot) : null);
            await foreach (var item in parser.EnumerateAsync(cancellationToken).ConfigureAwait(false))
            {
                if (item.Data is { } snapshot)
                {
                    yield return snapshot;
                }
            }
        }
    }

    /// <summary>
    /// <c>GET /credential</c>: the tenant of the key or JWT this client calls with, and its scope, so that a client can
    /// offer only what the credential may do (a <see cref="ApiKeyScope.Read"/> one changes nothing).
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">401 <c>UNAUTHORIZED</c> for a key or JWT the server refuses; 403 <c>FORBIDDEN</c> for the admin key, which is no tenant's.</exception>
    public Task<CredentialInfo> GetCredentialAsync(CancellationToken cancellationToken = default) =>
        GetAsync("credential", ClientJson.Default.CredentialInfo, cancellationToken);

    /// <summary><c>POST /admin/tenants</c> (admin key): creates a tenant and its first API key, a write key that never expires.</summary>
    /// <param name="name">The tenant's name.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="SecretNotShownException">The answer was a replay, which has no key text: see <see cref="CreateTenantAsync(CreateTenantRequest, string?, CancellationToken)"/>.</exception>
    public Task<TenantKey> CreateTenantAsync(string name, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        CreateTenantAsync(new CreateTenantRequest { Name = name }, idempotencyKey, cancellationToken);

    /// <summary><c>POST /admin/tenants</c> (admin key): creates a tenant and its first API key, as <see cref="CreateTenantRequest.Key"/> says.</summary>
    /// <param name="request">The tenant's name and what its first key is.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="SecretNotShownException">
    /// The answer was a replay of an earlier one to the same Idempotency-Key (this client's own retry after a lost answer, or
    /// the caller's key used again): the tenant exists, but a replay has no key text. Its <see cref="SecretNotShownException.TenantId"/>
    /// and <see cref="SecretNotShownException.KeyId"/> say which tenant and which key to revoke once another is issued.
    /// </exception>
    public Task<TenantKey> CreateTenantAsync(CreateTenantRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostSecretAsync("admin/tenants", Body(request, ClientJson.Default.CreateTenantRequest), ClientJson.Default.TenantKey, idempotencyKey,
            k => k.ApiKey is null ? SecretNotShownException.TenantCreated(k) : null, cancellationToken);

    /// <summary><c>POST /admin/tenants/{id}/keys</c> (admin key): issues another API key for a tenant, a write key that never expires.</summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="SecretNotShownException">The answer was a replay, which has no key text: see <see cref="IssueKeyAsync(Guid, IssueKeyRequest, string?, CancellationToken)"/>.</exception>
    public Task<TenantKey> IssueKeyAsync(Guid tenantId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostSecretAsync($"admin/tenants/{tenantId}/keys", null, ClientJson.Default.TenantKey, idempotencyKey,
            k => k.ApiKey is null ? SecretNotShownException.KeyIssued(k) : null, cancellationToken);

    /// <summary>
    /// <c>POST /admin/tenants/{id}/keys</c> (admin key): issues another API key for a tenant, with a name, a
    /// scope and an expiry. The other keys keep working.
    /// </summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="request">What the key is.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="SecretNotShownException">
    /// The answer was a replay of an earlier one to the same Idempotency-Key (this client's own retry after a lost answer, or
    /// the caller's key used again): the key exists, but a replay has no key text. Its <see cref="SecretNotShownException.KeyId"/>
    /// is the key to revoke once another is issued.
    /// </exception>
    public Task<TenantKey> IssueKeyAsync(Guid tenantId, IssueKeyRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostSecretAsync($"admin/tenants/{tenantId}/keys", Body(request, ClientJson.Default.IssueKeyRequest), ClientJson.Default.TenantKey, idempotencyKey,
            k => k.ApiKey is null ? SecretNotShownException.KeyIssued(k) : null, cancellationToken);

    /// <summary>
    /// <c>GET /admin/tenants</c> (admin key): every tenant, oldest first, disabled ones included; read page after
    /// page (<see cref="ListTenantsAsync(Guid?, int?, CancellationToken)"/> reads one).
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<TenantInfo>> ListTenantsAsync(CancellationToken cancellationToken = default) =>
        AllPagesAsync("admin/tenants", ClientJson.Default.TenantList, l => l.Tenants, l => l.NextAfter?.ToString(), cancellationToken);

    /// <summary>
    /// <c>GET /admin/tenants</c> (admin key): one page of the tenants, oldest first. Pass each page's
    /// <see cref="TenantList.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="after">The <see cref="TenantList.NextAfter"/> of the previous page; null for the first page.</param>
    /// <param name="limit">Tenants per page, 1 to 1000; the server's default (100) when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a limit out of range, or an <paramref name="after"/> that is no tenant.</exception>
    public Task<TenantList> ListTenantsAsync(Guid? after, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged("admin/tenants", after?.ToString(), limit), ClientJson.Default.TenantList, cancellationToken);

    /// <summary>
    /// <c>GET /admin/tenants/{id}/keys</c> (admin key): every key of a tenant, oldest first, revoked and expired ones
    /// included, never their text; read page after page (<see cref="ListKeysAsync(Guid, Guid?, int?, CancellationToken)"/> reads one).
    /// </summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(Guid tenantId, CancellationToken cancellationToken = default) =>
        AllPagesAsync($"admin/tenants/{tenantId}/keys", ClientJson.Default.ApiKeyList, l => l.Keys, l => l.NextAfter?.ToString(), cancellationToken);

    /// <summary>
    /// <c>GET /admin/tenants/{id}/keys</c> (admin key): one page of a tenant's keys, oldest first. Pass each page's
    /// <see cref="ApiKeyList.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="after">The <see cref="ApiKeyList.NextAfter"/> of the previous page; null for the first page.</param>
    /// <param name="limit">
    /// Keys per page, 1 to 1000; the server's default (100) when null. With <paramref name="after"/> null too, the
    /// server answers every key in one page.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a limit out of range, or an <paramref name="after"/> that is no key of the tenant.</exception>
    public Task<ApiKeyList> ListKeysAsync(Guid tenantId, Guid? after, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"admin/tenants/{tenantId}/keys", after?.ToString(), limit), ClientJson.Default.ApiKeyList, cancellationToken);

    /// <summary>
    /// <c>DELETE /admin/tenants/{id}/keys/{keyId}</c> (admin key): revokes a key, at once on the node that
    /// answers and within seconds on the others. Revoking a revoked key changes nothing.
    /// </summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="keyId">The key (<see cref="ApiKeyInfo.Id"/>).</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<ApiKeyInfo> RevokeKeyAsync(Guid tenantId, Guid keyId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        DeleteAsync($"admin/tenants/{tenantId}/keys/{keyId}", ClientJson.Default.ApiKeyInfo, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /admin/tenants/{id}/disable</c> (admin key): refuses every key and JWT of the tenant (403
    /// <c>TENANT_DISABLED</c>) until it is enabled again; nothing is deleted.
    /// </summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<TenantInfo> DisableTenantAsync(Guid tenantId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"admin/tenants/{tenantId}/disable", null, ClientJson.Default.TenantInfo, idempotencyKey, cancellationToken);

    /// <summary><c>POST /admin/tenants/{id}/enable</c> (admin key): the tenant's keys and JWTs work again (revoked and expired keys stay refused).</summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<TenantInfo> EnableTenantAsync(Guid tenantId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"admin/tenants/{tenantId}/enable", null, ClientJson.Default.TenantInfo, idempotencyKey, cancellationToken);

    /// <summary><c>GET /admin/verify</c> (admin key): audits every counter against the ledger.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<VerifyReport> VerifyAsync(CancellationToken cancellationToken = default) =>
        GetAsync("admin/verify", ClientJson.Default.VerifyReport, cancellationToken);

    /// <summary><c>GET /healthz</c>: liveness; needs no token.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<HealthStatus> GetHealthAsync(CancellationToken cancellationToken = default) =>
        GetAsync("healthz", ClientJson.Default.HealthStatus, cancellationToken);

    /// <summary>
    /// <c>GET /readyz</c>: readiness (the database answers and its schema is current); needs no token.
    /// A 503 is retried like any other, then thrown as <see cref="CapacityApiException"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<HealthStatus> GetReadinessAsync(CancellationToken cancellationToken = default) =>
        GetAsync("readyz", ClientJson.Default.HealthStatus, cancellationToken);

    /// <summary>
    /// <c>POST /capacity/{id}/allocations</c>: sets tickets of a capacity aside for holds that name the
    /// allocation. They are charged on the capacity and every pool above it as a hold of that size would be.
    /// </summary>
    /// <param name="capacityId">The capacity; it may be inactive.</param>
    /// <param name="request">Who for, how many, until when.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">
    /// 409 <c>INSUFFICIENT_CAPACITY</c> (with <see cref="CapacityApiException.AvailableCapacity"/>); 404 <c>NOT_FOUND</c>; among others.
    /// </exception>
    public Task<AllocationDetails> CreateAllocationAsync(Guid capacityId, CreateAllocationRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"capacity/{capacityId}/allocations", Body(request, ClientJson.Default.CreateAllocationRequest), ClientJson.Default.AllocationDetails, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>GET /capacity/{id}/allocations</c>: every allocation of a capacity, oldest first, closed ones included; read page
    /// after page (<see cref="ListAllocationsAsync(Guid, Guid?, int?, CancellationToken)"/> reads one).
    /// </summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<AllocationDetails>> ListAllocationsAsync(Guid capacityId, CancellationToken cancellationToken = default) =>
        AllPagesAsync($"capacity/{capacityId}/allocations", ClientJson.Default.AllocationList, l => l.Allocations, l => l.NextAfter?.ToString(), cancellationToken);

    /// <summary>
    /// <c>GET /capacity/{id}/allocations</c>: one page of a capacity's allocations, oldest first. Pass each page's
    /// <see cref="AllocationList.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="after">The <see cref="AllocationList.NextAfter"/> of the previous page; null for the first page.</param>
    /// <param name="limit">
    /// Allocations per page, 1 to 1000; the server's default (100) when null. With <paramref name="after"/> null too, the
    /// server answers every allocation in one page.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a limit out of range, or an <paramref name="after"/> that is no allocation of the capacity.</exception>
    public Task<AllocationList> ListAllocationsAsync(Guid capacityId, Guid? after, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"capacity/{capacityId}/allocations", after?.ToString(), limit), ClientJson.Default.AllocationList, cancellationToken);

    /// <summary><c>GET /allocations/{id}</c>: one allocation with its counters.</summary>
    /// <param name="allocationId">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<AllocationDetails> GetAllocationAsync(Guid allocationId, CancellationToken cancellationToken = default) =>
        GetAsync($"allocations/{allocationId}", ClientJson.Default.AllocationDetails, cancellationToken);

    /// <summary><c>PUT /allocations/{id}</c>: changes the fields set in <paramref name="request"/> and leaves the others.</summary>
    /// <param name="allocationId">The allocation.</param>
    /// <param name="request">The fields to change; <see cref="UpdateAllocationRequest.Quantity"/> resizes it.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">
    /// 409 <c>ALLOCATION_BELOW_COMMITTED</c> (with <see cref="CapacityApiException.AllocationId"/>),
    /// <c>ALLOCATION_CLOSED</c> or <c>INSUFFICIENT_CAPACITY</c>; among others.
    /// </exception>
    public Task<AllocationDetails> UpdateAllocationAsync(Guid allocationId, UpdateAllocationRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PutAsync($"allocations/{allocationId}", Body(request, ClientJson.Default.UpdateAllocationRequest), ClientJson.Default.AllocationDetails, idempotencyKey, cancellationToken);

    /// <summary><c>POST /allocations/{id}/release</c>: gives <paramref name="quantity"/> idle tickets back to the public at once.</summary>
    /// <param name="allocationId">The allocation.</param>
    /// <param name="quantity">Idle tickets to give back.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">
    /// 409 <c>ALLOCATION_INSUFFICIENT</c> (with <see cref="CapacityApiException.Idle"/>) or <c>ALLOCATION_CLOSED</c>; among others.
    /// </exception>
    public Task<AllocationDetails> ReleaseAllocationAsync(Guid allocationId, int quantity, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"allocations/{allocationId}/release", Body(new ReleaseAllocationRequest(quantity), ClientJson.Default.ReleaseAllocationRequest), ClientJson.Default.AllocationDetails, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /allocations/{id}/close</c>: gives every idle ticket back and takes no more holds; its live
    /// holds can still be confirmed. Closing twice changes nothing.
    /// </summary>
    /// <param name="allocationId">The allocation.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<AllocationDetails> CloseAllocationAsync(Guid allocationId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"allocations/{allocationId}/close", null, ClientJson.Default.AllocationDetails, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /events/{eventId}/limits</c>: limits the tickets one buyer (a <see cref="ReserveRequest.BuyerKey"/>)
    /// may have over some of the event's capacities. Sales made before it count at once.
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="request">The capacities and the maximum.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<LimitDetails> CreateLimitAsync(string eventId, CreateLimitRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"events/{Segment(eventId)}/limits", Body(request, ClientJson.Default.CreateLimitRequest), ClientJson.Default.LimitDetails, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>GET /events/{eventId}/limits</c>: every per-buyer limit of the event, oldest first (empty for an unknown event);
    /// read page after page (<see cref="ListLimitsAsync(string, Guid?, int?, CancellationToken)"/> reads one).
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<LimitDetails>> ListLimitsAsync(string eventId, CancellationToken cancellationToken = default) =>
        AllPagesAsync($"events/{Segment(eventId)}/limits", ClientJson.Default.LimitList, l => l.Limits, l => l.NextAfter?.ToString(), cancellationToken);

    /// <summary>
    /// <c>GET /events/{eventId}/limits</c>: one page of the event's per-buyer limits, oldest first. Pass each page's
    /// <see cref="LimitList.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="after">The <see cref="LimitList.NextAfter"/> of the previous page; null for the first page.</param>
    /// <param name="limit">
    /// Limits per page, 1 to 1000; the server's default (100) when null. With <paramref name="after"/> null too, the
    /// server answers every limit in one page.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">400 <c>VALIDATION_ERROR</c> for a limit out of range, or an <paramref name="after"/> that is no limit of the event.</exception>
    public Task<LimitList> ListLimitsAsync(string eventId, Guid? after, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"events/{Segment(eventId)}/limits", after?.ToString(), limit), ClientJson.Default.LimitList, cancellationToken);

    /// <summary><c>GET /limits/{id}</c>: one per-buyer limit.</summary>
    /// <param name="limitId">The limit.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<LimitDetails> GetLimitAsync(Guid limitId, CancellationToken cancellationToken = default) =>
        GetAsync($"limits/{limitId}", ClientJson.Default.LimitDetails, cancellationToken);

    /// <summary><c>PUT /limits/{id}</c>: changes the fields set in <paramref name="request"/>; no hold or sale is cancelled.</summary>
    /// <param name="limitId">The limit.</param>
    /// <param name="request">The fields to change.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task<LimitDetails> UpdateLimitAsync(Guid limitId, UpdateLimitRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PutAsync($"limits/{limitId}", Body(request, ClientJson.Default.UpdateLimitRequest), ClientJson.Default.LimitDetails, idempotencyKey, cancellationToken);

    /// <summary><c>DELETE /limits/{id}</c>: deletes a limit; the next holds on its capacities no longer count against it.</summary>
    /// <param name="limitId">The limit.</param>
    /// <param name="idempotencyKey">
    /// The key for this call; a new one when null. Sending a delete again with the same key answers as the
    /// first did, where a new key gets 404 <c>NOT_FOUND</c> for a limit already deleted.
    /// </param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task DeleteLimitAsync(Guid limitId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        DeleteAsync($"limits/{limitId}", idempotencyKey, cancellationToken);

    /// <summary><c>GET /limits/{id}/usage</c>: what counts against the limit for one buyer over its capacities (active holds, sales, and units its waiting-list entries wait for).</summary>
    /// <param name="limitId">The limit.</param>
    /// <param name="buyerKey">The buyer, 1 to 128 printable characters.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<LimitUsage> GetLimitUsageAsync(Guid limitId, string buyerKey, CancellationToken cancellationToken = default) =>
        GetAsync($"limits/{limitId}/usage?buyer_key={Segment(buyerKey)}", ClientJson.Default.LimitUsage, cancellationToken);

    /// <summary>
    /// <c>POST /waitlist</c>: joins the waiting lists of one event's capacities. The entry waits until every
    /// item fits, then is offered all together as a hold (a reservation with the entry's id) lasting the
    /// capacities' shortest offer time; with the tickets free and nobody ahead, it is offered at once.
    /// Open a capacity's list with <see cref="UpdateCapacityRequest.Waitlist"/>.
    /// </summary>
    /// <param name="request">The capacities and quantities, and optionally the buyer and your reference.</param>
    /// <param name="idempotencyKey">
    /// The key for this call; a new one when null. Pass your own (say, the buyer's request id) so that a join
    /// sent again after a crash answers the same entry instead of queueing twice.
    /// </param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">
    /// 409 <c>WAITLIST_DISABLED</c> when a capacity's list is not open; 400 <c>VALIDATION_ERROR</c> (capacities of
    /// different events, a malformed buyer key) or <c>INVALID_QUANTITY</c>; 404 <c>NOT_FOUND</c>; among others.
    /// </exception>
    public Task<WaitlistEntry> JoinWaitlistAsync(JoinWaitlistRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("waitlist", Body(request, ClientJson.Default.JoinWaitlistRequest), ClientJson.Default.WaitlistEntry, idempotencyKey, cancellationToken);

    /// <summary><c>GET /waitlist/{id}</c>: one entry with its status, and its position while it waits.</summary>
    /// <param name="entryId">The entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<WaitlistEntry> GetWaitlistEntryAsync(Guid entryId, CancellationToken cancellationToken = default) =>
        GetAsync($"waitlist/{entryId}", ClientJson.Default.WaitlistEntry, cancellationToken);

    /// <summary>
    /// <c>DELETE /waitlist/{id}</c>: leaves the waiting list. A waiting entry leaves the queue; an offered one's
    /// hold is released and its tickets go to the next in line. Leaving again changes nothing, and an accepted
    /// or lapsed entry is answered as it is.
    /// </summary>
    /// <param name="entryId">The entry.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <returns>The entry after leaving.</returns>
    public Task<WaitlistEntry> LeaveWaitlistAsync(Guid entryId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        DeleteAsync($"waitlist/{entryId}", ClientJson.Default.WaitlistEntry, idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>GET /capacity/{id}/waitlist</c>: one page of the entries that name the capacity, in the order they
    /// joined, whatever their status.
    /// </summary>
    /// <param name="capacityId">The capacity.</param>
    /// <param name="after">The <see cref="WaitlistPage.NextAfter"/> of the previous page; from the start when null.</param>
    /// <param name="limit">Entries per page, 1 to 1000; the server's default (100) when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<WaitlistPage> GetWaitlistAsync(Guid capacityId, long? after = null, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"capacity/{capacityId}/waitlist", after, limit), ClientJson.Default.WaitlistPage, cancellationToken);

    /// <summary>
    /// <c>POST /webhooks</c>: subscribes an endpoint to event types. Every delivery is signed with the
    /// endpoint's secret, which this answer shows once; check it with <see cref="WebhookSignature.Verify(string, string, string, string, ReadOnlySpan{byte})"/>.
    /// </summary>
    /// <param name="request">Where to send, and which event types.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <returns>The endpoint, with its <see cref="WebhookDetails.Secret"/>: store it now.</returns>
    /// <exception cref="CapacityApiException">
    /// 400 <c>WEBHOOK_URL_NOT_ALLOWED</c> for a loopback, link-local or private address the server does not allow;
    /// 400 <c>VALIDATION_ERROR</c> for a URL that is not http or https, or no, unknown or repeated event types; among others.
    /// </exception>
    /// <exception cref="SecretNotShownException">
    /// The answer was a replay of an earlier one to the same Idempotency-Key (this client's own retry after a lost answer, or
    /// the caller's key used again): the endpoint exists, with <see cref="SecretNotShownException.WebhookId"/>, but a replay has
    /// no secret. Rotate it (<see cref="RotateWebhookSecretAsync"/>) for one.
    /// </exception>
    public Task<WebhookDetails> CreateWebhookAsync(CreateWebhookRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostSecretAsync("webhooks", Body(request, ClientJson.Default.CreateWebhookRequest), ClientJson.Default.WebhookDetails, idempotencyKey,
            w => w.Secret is null ? SecretNotShownException.WebhookCreated(w) : null, cancellationToken);

    /// <summary><c>GET /webhooks</c>: the tenant's endpoints, oldest first, without their secrets.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<WebhookDetails>> ListWebhooksAsync(CancellationToken cancellationToken = default) =>
        (await GetAsync("webhooks", ClientJson.Default.WebhookList, cancellationToken).ConfigureAwait(false)).Webhooks;

    /// <summary>
    /// <c>GET /webhooks/{id}</c>: one endpoint, without its secret. <see cref="WebhookDetails.Enabled"/> false with
    /// <see cref="WebhookDisabledReason.Failing"/> means it failed for 24 hours and the server turned it off.
    /// </summary>
    /// <param name="webhookId">The endpoint.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">404 <c>NOT_FOUND</c>, also for another tenant's endpoint.</exception>
    public Task<WebhookDetails> GetWebhookAsync(Guid webhookId, CancellationToken cancellationToken = default) =>
        GetAsync($"webhooks/{webhookId}", ClientJson.Default.WebhookDetails, cancellationToken);

    /// <summary><c>PUT /webhooks/{id}</c>: changes the fields set in <paramref name="request"/> and leaves the others.</summary>
    /// <param name="webhookId">The endpoint.</param>
    /// <param name="request">The fields to change; <see cref="UpdateWebhookRequest.Enabled"/> true turns on an endpoint the server turned off.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">
    /// 400 <c>WEBHOOK_URL_NOT_ALLOWED</c> or <c>VALIDATION_ERROR</c> as on creation; 404 <c>NOT_FOUND</c>; among others.
    /// </exception>
    public Task<WebhookDetails> UpdateWebhookAsync(Guid webhookId, UpdateWebhookRequest request, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PutAsync($"webhooks/{webhookId}", Body(request, ClientJson.Default.UpdateWebhookRequest), ClientJson.Default.WebhookDetails, idempotencyKey, cancellationToken);

    /// <summary><c>DELETE /webhooks/{id}</c>: deletes an endpoint with every delivery it still has; nothing more is sent to it.</summary>
    /// <param name="webhookId">The endpoint.</param>
    /// <param name="idempotencyKey">
    /// The key for this call; a new one when null. Sending a delete again with the same key answers as the
    /// first did, where a new key gets 404 <c>NOT_FOUND</c> for an endpoint already deleted.
    /// </param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    public Task DeleteWebhookAsync(Guid webhookId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        DeleteAsync($"webhooks/{webhookId}", idempotencyKey, cancellationToken);

    /// <summary>
    /// <c>POST /webhooks/{id}/rotate-secret</c>: replaces an endpoint's secret at once. Deliveries sent from now
    /// on, retries included, are signed with the new one, shown once in this answer.
    /// </summary>
    /// <param name="webhookId">The endpoint.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <returns>The endpoint, with its new <see cref="WebhookDetails.Secret"/>: store it now.</returns>
    /// <exception cref="CapacityApiException">404 <c>NOT_FOUND</c>.</exception>
    /// <exception cref="SecretNotShownException">
    /// The answer was a replay of an earlier one to the same Idempotency-Key: the secret was replaced, but a replay has no
    /// secret. Rotate it again, with a new key.
    /// </exception>
    public Task<WebhookDetails> RotateWebhookSecretAsync(Guid webhookId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostSecretAsync($"webhooks/{webhookId}/rotate-secret", null, ClientJson.Default.WebhookDetails, idempotencyKey,
            w => w.Secret is null ? SecretNotShownException.SecretRotated(w) : null, cancellationToken);

    /// <summary>
    /// <c>GET /webhooks/{id}/deliveries</c>: one page of an endpoint's deliveries in its order, each with every
    /// attempt. Pass each page's <see cref="WebhookDeliveryPage.NextAfter"/> as <paramref name="after"/> until it is null.
    /// </summary>
    /// <param name="webhookId">The endpoint.</param>
    /// <param name="after">The <see cref="WebhookDeliveryPage.NextAfter"/> of the previous page; from the first delivery when null.</param>
    /// <param name="limit">Deliveries per page, 1 to 1000; the server's default (100) when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CapacityApiException">404 <c>NOT_FOUND</c>; 400 <c>VALIDATION_ERROR</c> for a limit out of range.</exception>
    public Task<WebhookDeliveryPage> ListWebhookDeliveriesAsync(Guid webhookId, long? after = null, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(Paged($"webhooks/{webhookId}/deliveries", after, limit), ClientJson.Default.WebhookDeliveryPage, cancellationToken);

    /// <summary>
    /// <c>POST /webhooks/{id}/deliveries/{deliveryId}/retry</c>: sends a delivery again, whatever its state: it becomes
    /// pending and due now, with a fresh 24-hour retry window. The receiver sees the same <c>webhook-id</c>.
    /// </summary>
    /// <param name="webhookId">The endpoint.</param>
    /// <param name="deliveryId">The delivery's <see cref="WebhookDelivery.Id"/>.</param>
    /// <param name="idempotencyKey">The key for this call; a new one when null.</param>
    /// <param name="cancellationToken">Cancels the call, retries included.</param>
    /// <exception cref="CapacityApiException">404 <c>NOT_FOUND</c> for an unknown endpoint or delivery.</exception>
    public Task<DeliveryRetry> RetryWebhookDeliveryAsync(Guid webhookId, long deliveryId, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync($"webhooks/{webhookId}/deliveries/{deliveryId}/retry", null, ClientJson.Default.DeliveryRetry, idempotencyKey, cancellationToken);
}

using System.Reflection;
using Capacity.Core;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Http;

/// <summary>
/// One kind of failure: its stable <c>code</c>, its status and title, and what its page at
/// <see cref="Type"/> (<c>GET /problems/…</c>) explains. Defined once, in <see cref="ApiErrors"/>: the
/// answers and the pages are made from the same record.
/// </summary>
internal sealed record ErrorKind(string Code, int Status, string Title, string Explanation)
{
    /// <summary>The problem's <c>type</c>: the path of the page that explains it.</summary>
    public string Type { get; } = "/problems/" + Code.ToLowerInvariant().Replace('_', '-');

    /// <summary>A status the framework answers by itself (<see cref="ApiErrors.Status"/>), with a page of its own.</summary>
    public static ErrorKind OtherStatus(int status) => new(
        "HTTP_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture),
        status,
        "The request could not be processed.",
        $"The server answered HTTP {status} by itself, before any route of the API handled the request.");
}

/// <summary>
/// Every failure the API can answer: each kind once (an <see cref="ErrorKind"/> field, with the page
/// that explains it), then one factory per failure. Clients branch on <c>code</c>; <c>detail</c> is
/// for people, and <c>type</c> links to the kind's page.
/// </summary>
internal static class ApiErrors
{
    public static readonly ErrorKind ValidationKind = new("VALIDATION_ERROR", 400, "The request is not valid.",
        "The body, a route value or a query parameter is malformed or out of range: JSON that does not parse, a field the route does not know, a repeated field, a wrong type, a number out of range, an id that is not a UUID, a body on a route that takes none (anything but nothing or `{}`), a list's `limit` or `after` it cannot read, a malformed `Idempotency-Key`. `errors` maps each field to its messages; fix those and send the request again. Nothing was changed.");

    public static readonly ErrorKind InvalidQuantityKind = new("INVALID_QUANTITY", 400, "The quantity is not valid.",
        "A quantity is out of its range: an item's below 1 or above `Capacity:Limits:MaxQuantityPerItem` (100 by default), or an allocation's size or release outside 1 to `Capacity:Limits:MaxTotalCapacity` (a resize may go down to 0: every ticket back, the allocation kept open to grow again). Nothing was changed.");

    public static readonly ErrorKind UnauthorizedKind = new("UNAUTHORIZED", 401, "Authentication is required.",
        "The request carries no usable credential. Send `Authorization: Bearer <token>` (at most 4,096 characters) with a tenant API key, a tenant JWT (HS256 with `tenant_id` and `exp`, "
        + "`exp` at most `Auth:MaxJwtLifetimeMinutes` away), or on `/admin` routes the admin key. `detail` says which case it is: no credential, another scheme, a malformed token, "
        + "an unknown, revoked or expired API key, or a JWT that has expired, is not valid yet, has no `exp`, lives too long, is not HS256, has a wrong signature, "
        + "repeats a claim or gives one the wrong type, has an unknown `scope`, or names no tenant.");

    public static readonly ErrorKind ForbiddenKind = new("FORBIDDEN", 403, "This credential may not do this.",
        "The credential is valid but may not do this: the admin key on a tenant route, a tenant key or JWT on an `/admin` route, a credential with the `read` scope on a route "
        + "that changes something, or one without the `elevated` scope asking for what is reserved to a box office (`on_expired: \"reclaim\"`). Nothing was changed.");

    public static readonly ErrorKind TenantDisabledKind = new("TENANT_DISABLED", 403, "The tenant is disabled.",
        "The credential is valid, but its tenant was disabled by an operator (`POST /admin/tenants/{id}/disable`): every key and JWT of the tenant is refused until it is enabled again. "
        + "Nothing of the tenant was deleted.");

    public static readonly ErrorKind NotFoundKind = new("NOT_FOUND", 404, "The resource was not found.",
        "No such route, or no such id for this tenant. Another tenant's ids answer exactly the same, so a 404 never tells whether an id exists elsewhere.");

    public static readonly ErrorKind MethodNotAllowedKind = new("METHOD_NOT_ALLOWED", 405, "The method is not allowed on this route.",
        "The route exists but not with this HTTP method; the API document at `/openapi/v1.json` lists the methods of every route.");

    public static readonly ErrorKind InsufficientCapacityKind = new("INSUFFICIENT_CAPACITY", 409, "Not enough capacity.",
        "Not enough tickets are available on the capacity or on a pool it draws from. `available_capacity` is what is available now; `waitlist_demand`, when present, is the units owed to a waiting list on the short pool, which public holds cannot take. A cart is all or nothing: nothing was held.");

    public static readonly ErrorKind WaitlistDisabledKind = new("WAITLIST_DISABLED", 409, "The waiting list is not open.",
        "An entry names a capacity whose waiting list is not enabled. Open it with `PUT /capacity/{id}` and `\"waitlist\": {\"enabled\": true}`.");

    public static readonly ErrorKind CapacityInactiveKind = new("CAPACITY_INACTIVE", 409, "The capacity is inactive.",
        "The capacity, or a pool it draws from, is deactivated (`is_active: false`): it takes no new holds until it is activated again.");

    public static readonly ErrorKind BelowCommittedKind = new("CAPACITY_BELOW_COMMITTED", 409, "The capacity cannot shrink below what is held and sold.",
        "A resize asked for a `total_capacity` below the capacity's `reserved + sold`. Release holds first, or resize to at least that.");

    public static readonly ErrorKind ReservationExpiredKind = new("RESERVATION_EXPIRED", 409, "The reservation has expired.",
        "The hold passed its `expires_at` before this confirm (whole or in part), release, change, extension or whole cancel; its tickets are back in their pools. "
        + "Place a new hold, or confirm with `on_expired: \"reclaim\"` to take them back if they are still free (a refusal then lists each capacity's `shortfall`). "
        + "A refund of some items (`cancel` with `items`) of an expired hold is RESERVATION_NOT_ACTIVE instead: only a sale is refunded.");

    public static readonly ErrorKind ReservationNotActiveKind = new("RESERVATION_NOT_ACTIVE", 409, "The reservation is not in a state that allows this.",
        "The transition is not allowed from the reservation's current status: for example, confirming a released hold, cancelling an active one, or refunding some items "
        + "of a hold that is not a sale, an expired one included. The other transitions of an expired hold answer RESERVATION_EXPIRED.");

    public static readonly ErrorKind NotChangeableKind = new("RESERVATION_NOT_CHANGEABLE", 409, "The reservation cannot be changed this way.",
        "A change in part (PATCH, a partial confirm or refund, a reclaim) of a hold drawn from an allocation, or a change or reclaim of a waiting-list offer: those move only whole. Confirm, release or cancel the whole reservation instead.");

    public static readonly ErrorKind SaleNotOpenKind = new("SALE_NOT_OPEN", 409, "The capacity is not on sale yet.",
        "Its `sale_starts_at` has not come (the problem carries it), or it opens only when the capacity named by `opens_after_sold_out_of` sells out or ends its sale window. "
        + "Holds and checks are refused until then; nothing changed.");

    public static readonly ErrorKind SaleClosedKind = new("SALE_CLOSED", 409, "The capacity is no longer on sale.",
        "Its `sale_ends_at` has passed (the problem carries it). Holds placed before then may still be confirmed; new ones are refused.");

    public static readonly ErrorKind ExtensionLimitKind = new("RESERVATION_EXTENSION_LIMIT", 409, "The reservation cannot be extended that far.",
        "The extension would take the hold past `Capacity:Limits:MaxLifetimeMinutes` from its creation; `detail` says until when it can still be extended.");

    public static readonly ErrorKind AllocationClosedKind = new("ALLOCATION_CLOSED", 409, "The allocation is closed.",
        "The allocation (`allocation_id`) was closed or has expired: it takes no holds, releases or resizes.");

    public static readonly ErrorKind AllocationInsufficientKind = new("ALLOCATION_INSUFFICIENT", 409, "Not enough idle tickets in the allocation.",
        "The hold or release wants more than the allocation's idle tickets; `idle` is how many it has now.");

    public static readonly ErrorKind AllocationBelowCommittedKind = new("ALLOCATION_BELOW_COMMITTED", 409, "The allocation cannot shrink below what is held and sold from it.",
        "A resize asked for fewer tickets than the allocation's `held + sold`.");

    public static readonly ErrorKind BuyerLimitExceededKind = new("BUYER_LIMIT_EXCEEDED", 409, "The buyer would go past a per-buyer limit.",
        "The hold, change or join would take its `buyer_key` past a limit: `limit_id` names it, `used` is what the buyer has over its capacities (active holds, sales, and units its waiting-list entries wait for), `requested` what this asked for there, and `per_buyer_max` the most allowed.");

    public static readonly ErrorKind BuyerKeyRequiredKind = new("BUYER_KEY_REQUIRED", 400, "A buyer_key is required.",
        "A buyer limit over one of the hold's capacities (`limit_id`) requires every hold to name its buyer with `buyer_key`.");

    public static readonly ErrorKind IdempotencyInProgressKind = new("IDEMPOTENCY_IN_PROGRESS", 409, "A request with this Idempotency-Key is still in progress.",
        "A repeat arrived while the first request with this key was still being applied, and it did not finish within `Capacity:IdempotencyWaitMs`. Retry with the same key to receive its answer.");

    public static readonly ErrorKind RateLimitedKind = new("RATE_LIMITED", 429, "Too many requests.",
        "This tenant is over its request budget (`Capacity:RateLimit`, a token bucket per tenant). Retry after the seconds in `Retry-After`.");

    public static readonly ErrorKind TooManyStreamsKind = new("TOO_MANY_STREAMS", 429, "Too many live streams.",
        "This tenant already has `Capacity:Quotas:MaxStreamsPerTenant` live streams open on this node. Close one (or share one stream between viewers of an event) and retry after `Retry-After`.");

    public static readonly ErrorKind TooManyCapacitiesKind = new("TOO_MANY_CAPACITIES", 409, "The event has as many capacities as it may.",
        "The event already has `Capacity:Quotas:MaxCapacitiesPerEvent` capacities (`limit` says how many). Every snapshot of an event carries all of its capacities, so the bound keeps one event from slowing every viewer. Nothing was created.");

    public static readonly ErrorKind TooManyKeysKind = new("TOO_MANY_KEYS", 409, "The tenant has as many usable keys as it may.",
        "The tenant already has `Capacity:Quotas:MaxKeysPerTenant` keys that are neither revoked nor expired (`limit`). Every key is a credential to guard and to look up; revoke one it no longer uses and issue again. Nothing was issued.");

    public static readonly ErrorKind TooManyWebhooksKind = new("TOO_MANY_WEBHOOKS", 409, "The tenant has as many webhook endpoints as it may.",
        "The tenant already has `Capacity:Limits:MaxWebhooks` endpoints (`limit`). Each is delivered to in order and retried for a day; delete one it no longer uses (or subscribe one endpoint to more topics) and subscribe again. Nothing was created.");

    public static readonly ErrorKind TooManyLiveHoldsKind = new("TOO_MANY_LIVE_HOLDS", 429, "The tenant has as many active holds as it may.",
        "This tenant has `Capacity:Quotas:MaxLiveHoldsPerTenant` active holds (`limit`). Confirm, release or let some expire, and retry after `Retry-After`. Nothing was held.");

    public static readonly ErrorKind WebhookUrlNotAllowedKind = new("WEBHOOK_URL_NOT_ALLOWED", 400, "The webhook's address may not be called.",
        "The URL names a loopback, link-local, private or otherwise non-public address (or `localhost`). The server refuses to call its own network on a tenant's behalf; an operator can allow such addresses with `Capacity:Webhooks:AllowPrivateNetworks` (for tests and on-premises use). A host name that resolves to such an address is refused when a delivery is sent, and the attempt is logged with that error. Nothing was changed.");
    public static readonly ErrorKind TooManyAuthFailuresKind = new("TOO_MANY_AUTH_FAILURES", 429, "Too many refused credentials from this address.",
        "This client address sent more than `Auth:FailedAttemptsPerMinute` requests with a refused credential in its current minute: until `Retry-After`, a request from it "
        + "whose credential is refused gets this answer instead, and an API key the server has not seen before is not even looked up. Credentials that work are not affected.");

    public static readonly ErrorKind IdempotencyKeyReusedKind = new("IDEMPOTENCY_KEY_REUSED", 422, "The Idempotency-Key was used for a different request.",
        "The key was first used with another method, path or body. A key names one request: use a new key for a new request.");

    public static readonly ErrorKind PayloadTooLargeKind = new("PAYLOAD_TOO_LARGE", 413, "The request body is too large.",
        "The body is over `Capacity:MaxBodyBytes` (64 KiB by default).");

    public static readonly ErrorKind UnsupportedMediaTypeKind = new("UNSUPPORTED_MEDIA_TYPE", 415, "The body must be JSON.",
        "A body was sent without `Content-Type: application/json`: with none, another type (`application/json-patch+json` included), or a charset other than utf-8 (JSON is UTF-8). A route that takes no body refuses one sent so too.");

    public static readonly ErrorKind ServiceUnavailableKind = new("SERVICE_UNAVAILABLE", 503, "The service is temporarily unavailable.",
        "The store failed or the engine's queue is full; nothing was applied. Retry after `Retry-After`, with the same Idempotency-Key for a write: a write whose commit was cut off may have happened, and the key makes the retry safe.");

    public static readonly ErrorKind InternalKind = new("INTERNAL_ERROR", 500, "An unexpected error occurred.",
        "A bug: the server logged the error. Nothing half-applied: every change is one transaction.");

    /// <summary>Every kind above, in the order written: what <c>GET /problems</c> lists.</summary>
    public static IReadOnlyList<ErrorKind> Kinds { get; } =
        [.. typeof(ApiErrors).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.FieldType == typeof(ErrorKind)).Select(f => (ErrorKind)f.GetValue(null)!)];

    /// <summary>The kind whose <see cref="ErrorKind.Type"/> ends in <paramref name="slug"/> (<c>insufficient-capacity</c>, <c>http-502</c>), or null.</summary>
    public static ErrorKind? Find(string slug)
    {
        if (Kinds.FirstOrDefault(k => k.Type.AsSpan("/problems/".Length).Equals(slug, StringComparison.OrdinalIgnoreCase)) is { } kind)
        {
            return kind;
        }

        return slug.StartsWith("http-", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(slug.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var status)
            && status is >= 400 and <= 599
                ? ErrorKind.OtherStatus(status)
                : null;
    }

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors) =>
        Problem(ValidationKind, string.Join(" ", errors.SelectMany(e => e.Value)), new() { ["errors"] = errors });

    /// <summary>An event id in a route that <see cref="Rules.IsValidEventId"/> refuses.</summary>
    public static ProblemHttpResult InvalidEventId() => Validation("event_id", "event_id " + Rules.EventIdRule);

    public static ProblemHttpResult InvalidQuantity(string detail) => Problem(InvalidQuantityKind, detail);

    public static ProblemHttpResult Unauthorized(string detail) => Problem(UnauthorizedKind, detail);

    /// <summary>401 with the case in its detail; the code stays UNAUTHORIZED for every case.</summary>
    public static ProblemHttpResult Unauthorized(Refusal refusal) => Unauthorized(refusal switch
    {
        Refusal.NoCredential => "No credential: send Authorization: Bearer <API key or JWT>.",
        Refusal.NotBearer => "The Authorization header is not a Bearer credential: send Authorization: Bearer <API key or JWT>.",
        Refusal.SeveralCredentials => "The request has more than one Authorization header: send one, Authorization: Bearer <API key or JWT>.",
        Refusal.UnknownKey => "Unknown API key: it is not a key this server issued. Check it was copied whole; a lost key is replaced with POST /admin/tenants/{id}/keys.",
        Refusal.Revoked => "This API key was revoked; ask the operator for a new one.",
        Refusal.KeyExpired => "This API key has expired (its expires_at is past); ask the operator for a new one.",
        Refusal.LifetimeTooLong => "The JWT lives too long: its exp is further away than the server allows (Auth:MaxJwtLifetimeMinutes); issue shorter-lived tokens.",
        Refusal.BadClaims => "The JWT's claims are not as required: tenant_id once, a string; exp once, a number (nbf and iat numbers too); scope at most once, a string.",
        Refusal.BadScope => "The JWT's scope claim must be read, write or elevated.",
        Refusal.JwtNotAccepted => "This server accepts no JWTs (it has no Auth:JwtSigningKey); send an API key.",
        Refusal.Expired => "The JWT has expired (its exp is past); get a new one.",
        Refusal.NotYetValid => "The JWT is not valid yet (its nbf is in the future).",
        Refusal.NoExpiry => "The JWT has no exp claim; tokens must expire.",
        Refusal.WrongAlgorithm => "The JWT is not signed with HS256, the only algorithm accepted.",
        Refusal.WrongSignature => "The JWT's signature is wrong: it was not signed with this server's signing key, or was changed after signing.",
        Refusal.NoTenant => "The JWT has no tenant_id claim holding a tenant id (a UUID).",
        Refusal.UnknownTenant => "The JWT's tenant_id names no tenant of this server.",
        Refusal.CriticalHeader => "The JWT's header has crit, naming extensions that must be understood; this server understands none, so it takes no token with crit.",
        Refusal.NeverValid => "The JWT's nbf is after its exp: it is valid at no time.",
        Refusal.TimeOutOfRange => "The JWT's exp, nbf and iat must be times in Unix seconds, from the year 1 to 9999 (at most 253402300799).",
        _ => "The bearer token is malformed: it is neither an API key nor a well-formed JWT.",
    });

    public static ProblemHttpResult Forbidden(string detail) => Problem(ForbiddenKind, detail);

    /// <summary>A credential whose scope does not reach this: a read-scope credential writing, or an elevated operation without the elevated scope.</summary>
    public static ProblemHttpResult ScopeTooNarrow(string detail) => Problem(ForbiddenKind, detail);

    public static ProblemHttpResult TenantDisabled() =>
        Problem(TenantDisabledKind, "This credential's tenant is disabled; every key and JWT of it is refused until an operator enables it again.");

    public static ProblemHttpResult TooManyAuthFailures(int retryAfterSeconds) =>
        Problem(TooManyAuthFailuresKind, $"Too many requests with a refused credential came from this address; retry after {retryAfterSeconds} s with a credential that works.");

    public static ProblemHttpResult NotFound(string detail) => Problem(NotFoundKind, detail);

    /// <summary>A capacity id in a route that is not a capacity of this tenant (or not an id at all).</summary>
    public static ProblemHttpResult CapacityNotFound(string id) => NotFound($"Capacity {id} was not found.");

    public static ProblemHttpResult MethodNotAllowed(string detail) => Problem(MethodNotAllowedKind, detail);

    /// <summary>
    /// <c>capacity_id</c> names the short node (the capacity named, or a pool it draws from), so a cart's
    /// page can point at the line to change without parsing the sentence; <c>waitlist_demand</c> is there
    /// only when a waiting list is owed units on the short pool: those are why it is short.
    /// </summary>
    public static ProblemHttpResult InsufficientCapacity(string detail, long? available, long waitlistDemand = 0, Guid? capacityId = null)
    {
        // A sell-out's refusals recalled by the engine carry the very sentence string they were first
        // given with (EarlyRefusal), so the same string means the same problem: the last one this
        // thread built is sent again. Nothing changes a problem once built, so requests may share it.
        if (t_lastShortage is { } last && ReferenceEquals(last.Detail, detail) && last.Available == available && last.Owed == waitlistDemand && last.CapacityId == capacityId)
        {
            return last.Result;
        }

        var extensions = new Dictionary<string, object?> { ["available_capacity"] = available };
        if (waitlistDemand > 0)
        {
            extensions["waitlist_demand"] = waitlistDemand;
        }

        if (capacityId is { } id)
        {
            extensions["capacity_id"] = id;
        }

        var result = Problem(InsufficientCapacityKind, detail, extensions);
        t_lastShortage = (detail, available, waitlistDemand, capacityId, result);
        return result;
    }

    [ThreadStatic]
    private static (string Detail, long? Available, long Owed, Guid? CapacityId, ProblemHttpResult Result)? t_lastShortage;

    /// <summary>Names the capacity whose list is not open (<c>capacity_id</c>), so a client need not parse the sentence.</summary>
    public static ProblemHttpResult WaitlistDisabled(string detail, Guid? capacityId) =>
        Problem(WaitlistDisabledKind, detail, new Dictionary<string, object?> { ["capacity_id"] = capacityId });

    public static ProblemHttpResult WaitlistEntryNotFound(string id) => NotFound($"Waiting-list entry {id} was not found.");

    /// <summary>
    /// Names the capacity that refused (<c>capacity_id</c>: the one named, or a pool it draws from) and,
    /// when its sold-out rule closed it, <c>closed_reason</c>: "sold out, try the next tier" is not
    /// "the organiser switched it off".
    /// </summary>
    public static ProblemHttpResult CapacityInactive(string detail, CapacityView? capacity = null) =>
        capacity is { } view
            ? Problem(CapacityInactiveKind, detail, view.Sale?.ClosedReason is { } reason
                ? new() { ["capacity_id"] = view.Id, ["closed_reason"] = reason }
                : new() { ["capacity_id"] = view.Id })
            : Problem(CapacityInactiveKind, detail);

    public static ProblemHttpResult BelowCommitted(string detail) => Problem(BelowCommittedKind, detail);

    public static ProblemHttpResult ReservationExpired(string detail) => Problem(ReservationExpiredKind, detail);

    /// <summary>A reclaim refused: <c>shortfall</c> lists each capacity that lacks the tickets, with what it has now.</summary>
    public static ProblemHttpResult ReservationExpired(string detail, ShortfallItem[] shortfall) =>
        Problem(ReservationExpiredKind, detail, new()
        {
            ["shortfall"] = Array.ConvertAll(shortfall, s => new ShortfallResponse(s.CapacityId, s.Requested, s.Available)),
        });

    /// <summary>A change in part of a hold that moves only whole: drawn from an allocation, or a waiting-list offer.</summary>
    public static ProblemHttpResult NotChangeable(string detail) => Problem(NotChangeableKind, detail);

    /// <summary>A hold or check refused by a capacity's window or tier, with the rule that refused it.</summary>
    public static ProblemHttpResult NotOnSale(OutcomeCode code, string detail, CapacityView? capacity)
    {
        var rules = capacity?.Sale;
        var extensions = new Dictionary<string, object?> { ["capacity_id"] = capacity?.Id };
        if (code == OutcomeCode.SaleClosed)
        {
            extensions["sale_ends_at"] = rules?.EndsAt;
            return Problem(SaleClosedKind, detail, extensions);
        }

        if (rules?.StartsAt is { } starts)
        {
            extensions["sale_starts_at"] = starts;
        }

        if (rules?.OpensAfter is { } earlier)
        {
            extensions["opens_after_sold_out_of"] = earlier;
        }

        return Problem(SaleNotOpenKind, detail, extensions);
    }

    public static ProblemHttpResult ReservationNotActive(string detail) => Problem(ReservationNotActiveKind, detail);

    public static ProblemHttpResult ExtensionLimit(string detail) => Problem(ExtensionLimitKind, detail);

    /// <summary>An allocation id in a route that is not an allocation of this tenant (or not an id at all).</summary>
    public static ProblemHttpResult AllocationNotFound(string id) => NotFound($"Allocation {id} was not found.");

    public static ProblemHttpResult AllocationClosed(string detail, Guid? allocationId) =>
        Problem(AllocationClosedKind, detail, new() { ["allocation_id"] = allocationId });

    /// <summary>Fewer idle tickets in the allocation than asked; <c>idle</c> is how many it has now.</summary>
    public static ProblemHttpResult AllocationInsufficient(string detail, long? idle, Guid? allocationId) =>
        Problem(AllocationInsufficientKind, detail, new() { ["idle"] = idle, ["allocation_id"] = allocationId });

    public static ProblemHttpResult AllocationBelowCommitted(string detail, Guid? allocationId) =>
        Problem(AllocationBelowCommittedKind, detail, new() { ["allocation_id"] = allocationId });

    /// <summary>A buyer limit id in a route that is not a limit of this tenant (or not an id at all).</summary>
    public static ProblemHttpResult WebhookUrlNotAllowed(string detail) => Problem(WebhookUrlNotAllowedKind, detail, new() { ["errors"] = new Dictionary<string, string[]> { ["url"] = [detail] } });

    public static ProblemHttpResult WebhookNotFound(string id) => NotFound($"Webhook {id} was not found.");

    public static ProblemHttpResult DeliveryNotFound(string webhookId, string id) => NotFound($"Delivery {id} of webhook {webhookId} was not found.");

    public static ProblemHttpResult LimitNotFound(string id) => NotFound($"Buyer limit {id} was not found.");

    /// <summary>The hold would take its buyer past a limit: which one, what the buyer has, asks for, and may have.</summary>
    public static ProblemHttpResult BuyerLimitExceeded(string detail, BuyerLimitExcess? excess) =>
        Problem(BuyerLimitExceededKind, detail, new()
        {
            ["limit_id"] = excess?.LimitId,
            ["used"] = excess?.Used,
            ["requested"] = excess?.Requested,
            ["per_buyer_max"] = excess?.PerBuyerMax,
        });

    /// <summary>Refuses a malformed buyer_key before the command is queued: the key is sent to the store to read usage.</summary>
    public static ProblemHttpResult? InvalidBuyerKey(string? key) =>
        key is null || Rules.IsValidBuyerKey(key) ? null : Validation("buyer_key", "buyer_key " + Rules.BuyerKeyRule);

    public static ProblemHttpResult BuyerKeyRequired(string detail, Guid? limitId) =>
        Problem(BuyerKeyRequiredKind, detail, new() { ["limit_id"] = limitId });

    public static ProblemHttpResult IdempotencyInProgress() =>
        Problem(IdempotencyInProgressKind, "Retry shortly to receive its answer.");

    public static ProblemHttpResult TooManyStreams(int limit) =>
        AtBound(TooManyStreamsKind, $"This tenant has {limit} live streams open on this node, the most it may.", limit);

    public static ProblemHttpResult TooManyLiveHolds(int limit) =>
        AtBound(TooManyLiveHoldsKind, $"This tenant has {limit} active holds, the most it may.", limit);

    public static ProblemHttpResult RateLimited(int retryAfterSeconds) =>
        Problem(RateLimitedKind, $"This tenant is over its request budget; retry after {retryAfterSeconds} s.");

    public static ProblemHttpResult IdempotencyKeyReused() =>
        Problem(IdempotencyKeyReusedKind, "The key was first used with another method, path or body; use a new key for a new request.");

    public static ProblemHttpResult PayloadTooLarge(long limit) =>
        Problem(PayloadTooLargeKind, $"Request bodies are limited to {limit} bytes.");

    public static ProblemHttpResult UnsupportedMediaType() =>
        Problem(UnsupportedMediaTypeKind, "Send the body as UTF-8 JSON with Content-Type: application/json (a charset, if named, utf-8).");

    /// <summary>Any other status the framework answers by itself, kept as it is, with a problem body.</summary>
    public static ProblemHttpResult Status(int status) =>
        Problem(ErrorKind.OtherStatus(status), $"The server answered {status}.");

    public static ProblemHttpResult ServiceUnavailable(string detail) => Problem(ServiceUnavailableKind, detail);

    public static ProblemHttpResult Internal() => Problem(InternalKind, "The error was logged.");

    /// <summary>Translates a refused core decision into its problem.</summary>
    public static ProblemHttpResult FromOutcome(Outcome o) => o.Code switch
    {
        OutcomeCode.Invalid => Validation(o.Field ?? "body", o.Detail ?? "Invalid value."),
        OutcomeCode.InvalidQuantity => InvalidQuantity(o.Detail ?? "Invalid quantity."),
        OutcomeCode.NotFound => NotFound(o.Detail ?? "Not found."),
        OutcomeCode.InsufficientCapacity => InsufficientCapacity(o.Detail ?? "Not enough capacity.", o.Available, o.Shortage?.Owed ?? 0, o.Shortage?.CapacityId),
        OutcomeCode.WaitlistDisabled => WaitlistDisabled(o.Detail ?? "The waiting list is not open.", o.Capacity?.Id),
        OutcomeCode.CapacityInactive => CapacityInactive(o.Detail ?? "Inactive.", o.Capacity),
        OutcomeCode.BelowCommitted => BelowCommitted(o.Detail ?? "Below committed."),
        OutcomeCode.ReservationExpired => o.Shortfall is { } shortfall ? ReservationExpired(o.Detail ?? "Expired.", shortfall) : ReservationExpired(o.Detail ?? "Expired."),
        OutcomeCode.ReservationNotActive => ReservationNotActive(o.Detail ?? "Not active."),
        OutcomeCode.ExtensionLimit => ExtensionLimit(o.Detail ?? "Extension limit."),
        OutcomeCode.AllocationClosed => AllocationClosed(o.Detail ?? "Closed.", o.Allocation?.Id),
        OutcomeCode.AllocationInsufficient => AllocationInsufficient(o.Detail ?? "Not enough idle tickets.", o.Available, o.Allocation?.Id),
        OutcomeCode.AllocationBelowCommitted => AllocationBelowCommitted(o.Detail ?? "Below committed.", o.Allocation?.Id),
        OutcomeCode.BuyerLimitExceeded => BuyerLimitExceeded(o.Detail ?? "Over a buyer limit.", o.LimitExcess),
        OutcomeCode.BuyerKeyRequired => BuyerKeyRequired(o.Detail ?? "A buyer_key is required.", o.Limit?.Id),
        OutcomeCode.NotChangeable => NotChangeable(o.Detail ?? "Not changeable."),
        OutcomeCode.SaleNotOpen or OutcomeCode.SaleClosed => NotOnSale(o.Code, o.Detail ?? "Not on sale.", o.Capacity),
        OutcomeCode.TooManyCapacities => AtBound(TooManyCapacitiesKind, o.Detail ?? "Too many capacities.", o.Count),
        OutcomeCode.TooManyKeys => AtBound(TooManyKeysKind, o.Detail ?? "Too many keys.", o.Count),
        OutcomeCode.TooManyWebhooks => AtBound(TooManyWebhooksKind, o.Detail ?? "Too many webhooks.", o.Count),
        _ => throw new ArgumentOutOfRangeException(nameof(o), o.Code, "Not a failure."),
    };

    /// <summary>A refusal for being at one of the service's bounds: the problem names the bound as <c>limit</c>.</summary>
    private static ProblemHttpResult AtBound(ErrorKind kind, string detail, int limit) =>
        Problem(kind, detail, new Dictionary<string, object?> { ["limit"] = limit });

    private static ProblemHttpResult Problem(ErrorKind kind, string detail, Dictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails
        {
            Type = kind.Type,
            Title = kind.Title,
            Status = kind.Status,
            Detail = detail,
        };
        problem.Extensions["code"] = kind.Code;
        if (extensions is not null)
        {
            foreach (var (k, v) in extensions)
            {
                problem.Extensions[k] = v;
            }
        }

        return TypedResults.Problem(problem);
    }
}

/// <summary>One capacity an expired hold's reclaim lacks tickets on: what the hold asks of it and what it has now.</summary>
internal sealed record ShortfallResponse(Guid CapacityId, long Requested, long Available);

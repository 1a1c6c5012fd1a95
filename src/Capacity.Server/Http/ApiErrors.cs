using Capacity.Core;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Http;

/// <summary>
/// Every failure the API can answer, one factory each, with a stable <c>code</c> and <c>type</c>.
/// Clients branch on <c>code</c>; <c>detail</c> is for people.
/// </summary>
internal static class ApiErrors
{
    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors) =>
        Problem(400, "VALIDATION_ERROR", "The request is not valid.", string.Join(" ", errors.SelectMany(e => e.Value)), new() { ["errors"] = errors });

    /// <summary>An event id in a route that <see cref="Rules.IsValidEventId"/> refuses.</summary>
    public static ProblemHttpResult InvalidEventId() => Validation("event_id", "event_id " + Rules.EventIdRule);

    public static ProblemHttpResult InvalidQuantity(string detail) => Problem(400, "INVALID_QUANTITY", "The quantity is not valid.", detail);

    public static ProblemHttpResult Unauthorized(string detail) => Problem(401, "UNAUTHORIZED", "Authentication is required.", detail);

    public static ProblemHttpResult Forbidden(string detail) => Problem(403, "FORBIDDEN", "This credential may not use this route.", detail);

    public static ProblemHttpResult NotFound(string detail) => Problem(404, "NOT_FOUND", "The resource was not found.", detail);

    /// <summary>A capacity id in a route that is not a capacity of this tenant (or not an id at all).</summary>
    public static ProblemHttpResult CapacityNotFound(string id) => NotFound($"Capacity {id} was not found.");

    public static ProblemHttpResult MethodNotAllowed(string detail) => Problem(405, "METHOD_NOT_ALLOWED", "The method is not allowed on this route.", detail);

    /// <summary><c>waitlist_demand</c> is there only when a waiting list is owed units on the short pool: those are why it is short.</summary>
    public static ProblemHttpResult InsufficientCapacity(string detail, long? available, long waitlistDemand = 0) =>
        Problem(409, "INSUFFICIENT_CAPACITY", "Not enough capacity.", detail, waitlistDemand > 0
            ? new() { ["available_capacity"] = available, ["waitlist_demand"] = waitlistDemand }
            : new() { ["available_capacity"] = available });

    public static ProblemHttpResult WaitlistDisabled(string detail) => Problem(409, "WAITLIST_DISABLED", "The waiting list is not open.", detail);

    public static ProblemHttpResult WaitlistEntryNotFound(string id) => NotFound($"Waiting-list entry {id} was not found.");

    public static ProblemHttpResult CapacityInactive(string detail) => Problem(409, "CAPACITY_INACTIVE", "The capacity is inactive.", detail);

    public static ProblemHttpResult BelowCommitted(string detail) => Problem(409, "CAPACITY_BELOW_COMMITTED", "The capacity cannot shrink below what is held and sold.", detail);

    public static ProblemHttpResult ReservationExpired(string detail) => Problem(409, "RESERVATION_EXPIRED", "The reservation has expired.", detail);

    /// <summary>A reclaim refused: <c>shortfall</c> lists each capacity that lacks the tickets, with what it has now.</summary>
    public static ProblemHttpResult ReservationExpired(string detail, ShortfallItem[] shortfall) =>
        Problem(409, "RESERVATION_EXPIRED", "The reservation has expired.", detail, new()
        {
            ["shortfall"] = Array.ConvertAll(shortfall, s => new ShortfallResponse(s.CapacityId, s.Requested, s.Available)),
        });

    /// <summary>A change in part of a hold that moves only whole: drawn from an allocation, or a waiting-list offer.</summary>
    public static ProblemHttpResult NotChangeable(string detail) => Problem(409, "RESERVATION_NOT_CHANGEABLE", "The reservation cannot be changed this way.", detail);

    public static ProblemHttpResult ReservationNotActive(string detail) => Problem(409, "RESERVATION_NOT_ACTIVE", "The reservation is not in a state that allows this.", detail);

    public static ProblemHttpResult ExtensionLimit(string detail) => Problem(409, "RESERVATION_EXTENSION_LIMIT", "The reservation cannot be extended that far.", detail);

    /// <summary>An allocation id in a route that is not an allocation of this tenant (or not an id at all).</summary>
    public static ProblemHttpResult AllocationNotFound(string id) => NotFound($"Allocation {id} was not found.");

    public static ProblemHttpResult AllocationClosed(string detail, Guid? allocationId) =>
        Problem(409, "ALLOCATION_CLOSED", "The allocation is closed.", detail, new() { ["allocation_id"] = allocationId });

    /// <summary>Fewer idle tickets in the allocation than asked; <c>idle</c> is how many it has now.</summary>
    public static ProblemHttpResult AllocationInsufficient(string detail, long? idle, Guid? allocationId) =>
        Problem(409, "ALLOCATION_INSUFFICIENT", "Not enough idle tickets in the allocation.", detail, new() { ["idle"] = idle, ["allocation_id"] = allocationId });

    public static ProblemHttpResult AllocationBelowCommitted(string detail, Guid? allocationId) =>
        Problem(409, "ALLOCATION_BELOW_COMMITTED", "The allocation cannot shrink below what is held and sold from it.", detail, new() { ["allocation_id"] = allocationId });

    /// <summary>A buyer limit id in a route that is not a limit of this tenant (or not an id at all).</summary>
    public static ProblemHttpResult LimitNotFound(string id) => NotFound($"Buyer limit {id} was not found.");

    /// <summary>The hold would take its buyer past a limit: which one, what the buyer has, asks for, and may have.</summary>
    public static ProblemHttpResult BuyerLimitExceeded(string detail, BuyerLimitExcess? excess) =>
        Problem(409, "BUYER_LIMIT_EXCEEDED", "The buyer would go past a per-buyer limit.", detail, new()
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
        Problem(400, "BUYER_KEY_REQUIRED", "A buyer_key is required.", detail, new() { ["limit_id"] = limitId });

    public static ProblemHttpResult IdempotencyInProgress() =>
        Problem(409, "IDEMPOTENCY_IN_PROGRESS", "A request with this Idempotency-Key is still in progress.", "Retry shortly to receive its answer.");

    public static ProblemHttpResult RateLimited(int retryAfterSeconds) =>
        Problem(429, "RATE_LIMITED", "Too many requests.", $"This tenant is over its request budget; retry after {retryAfterSeconds} s.");

    public static ProblemHttpResult IdempotencyKeyReused() =>
        Problem(422, "IDEMPOTENCY_KEY_REUSED", "The Idempotency-Key was used for a different request.", "The key was first used with another method, path or body; use a new key for a new request.");

    public static ProblemHttpResult PayloadTooLarge(long limit) =>
        Problem(413, "PAYLOAD_TOO_LARGE", "The request body is too large.", $"Request bodies are limited to {limit} bytes.");

    public static ProblemHttpResult UnsupportedMediaType() =>
        Problem(415, "UNSUPPORTED_MEDIA_TYPE", "The body must be JSON.", "Send the body with Content-Type: application/json.");

    /// <summary>Any other status the framework answers by itself, kept as it is, with a problem body.</summary>
    public static ProblemHttpResult Status(int status) =>
        Problem(status, "HTTP_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture), "The request could not be processed.", $"The server answered {status}.");

    public static ProblemHttpResult ServiceUnavailable(string detail) => Problem(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable.", detail);

    public static ProblemHttpResult Internal() => Problem(500, "INTERNAL_ERROR", "An unexpected error occurred.", "The error was logged.");

    /// <summary>Translates a refused core decision into its problem.</summary>
    public static ProblemHttpResult FromOutcome(Outcome o) => o.Code switch
    {
        OutcomeCode.Invalid => Validation(o.Field ?? "body", o.Detail ?? "Invalid value."),
        OutcomeCode.InvalidQuantity => InvalidQuantity(o.Detail ?? "Invalid quantity."),
        OutcomeCode.NotFound => NotFound(o.Detail ?? "Not found."),
        OutcomeCode.InsufficientCapacity => InsufficientCapacity(o.Detail ?? "Not enough capacity.", o.Available, o.Shortage?.Owed ?? 0),
        OutcomeCode.WaitlistDisabled => WaitlistDisabled(o.Detail ?? "The waiting list is not open."),
        OutcomeCode.CapacityInactive => CapacityInactive(o.Detail ?? "Inactive."),
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
        _ => throw new ArgumentOutOfRangeException(nameof(o), o.Code, "Not a failure."),
    };

    private static ProblemHttpResult Problem(int status, string code, string title, string detail, Dictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails
        {
            Type = "/problems/" + code.ToLowerInvariant().Replace('_', '-'),
            Title = title,
            Status = status,
            Detail = detail,
        };
        problem.Extensions["code"] = code;
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

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Capacity.Client;

/// <summary>
/// Any error answer of the Capacity API: an RFC 9457 problem with a stable <see cref="Code"/>.
/// Branch on <see cref="Code"/> (or <see cref="Status"/>); <see cref="Detail"/> is for people.
/// </summary>
public sealed class CapacityApiException : Exception
{
    /// <summary>Creates the exception for one problem answer.</summary>
    /// <param name="status">The HTTP status.</param>
    /// <param name="code">The problem's <c>code</c>, such as <c>INSUFFICIENT_CAPACITY</c>.</param>
    /// <param name="title">The problem's <c>title</c>.</param>
    /// <param name="detail">The problem's <c>detail</c>, if any.</param>
    /// <param name="errors">For validation errors, each field's messages; otherwise empty.</param>
    /// <param name="availableCapacity">For <c>INSUFFICIENT_CAPACITY</c>, the availability at the time.</param>
    /// <param name="problem">The whole problem document, when the body was JSON.</param>
    public CapacityApiException(
        int status,
        string code,
        string title,
        string? detail,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? errors = null,
        long? availableCapacity = null,
        JsonElement? problem = null)
        : base($"{status} {code}: {detail ?? title}")
    {
        Status = status;
        Code = code;
        Title = title;
        Detail = detail;
        Errors = errors ?? new Dictionary<string, IReadOnlyList<string>>();
        AvailableCapacity = availableCapacity;
        Problem = problem;
    }

    /// <summary>The HTTP status, such as 409.</summary>
    public int Status { get; }

    /// <summary>
    /// The stable error code (<c>VALIDATION_ERROR</c>, <c>NOT_FOUND</c>, <c>INSUFFICIENT_CAPACITY</c>, <c>WAITLIST_DISABLED</c>, …);
    /// <c>HTTP_{status}</c> when the answer was not a problem document, as from a proxy.
    /// </summary>
    public string Code { get; }

    /// <summary>A short summary of the kind of problem.</summary>
    public string Title { get; }

    /// <summary>What went wrong with this request, for people.</summary>
    public string? Detail { get; }

    /// <summary>For <c>VALIDATION_ERROR</c>: each offending field (or header) and its messages.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors { get; }

    /// <summary>For <c>INSUFFICIENT_CAPACITY</c>: how many tickets were available; null when not given.</summary>
    public long? AvailableCapacity { get; }

    /// <summary>The problem document as the server sent it, for fields this type does not model.</summary>
    public JsonElement? Problem { get; }

    // The extensions below are read from the problem document when asked for, so that the constructor
    // does not grow a parameter per error code.

    /// <summary>For <c>ALLOCATION_INSUFFICIENT</c>: how many idle tickets the allocation had; null when not given.</summary>
    public long? Idle => Int64(Problem, "idle");

    /// <summary>
    /// For <c>ALLOCATION_CLOSED</c>, <c>ALLOCATION_INSUFFICIENT</c> and <c>ALLOCATION_BELOW_COMMITTED</c>:
    /// the allocation that refused; null when not given.
    /// </summary>
    public Guid? AllocationId => Id(Problem, "allocation_id");

    /// <summary>For <c>BUYER_LIMIT_EXCEEDED</c> and <c>BUYER_KEY_REQUIRED</c>: the limit that refused; null when not given.</summary>
    public Guid? LimitId => Id(Problem, "limit_id");

    /// <summary>For <c>BUYER_LIMIT_EXCEEDED</c>: the buyer's tickets already counted against the limit; null when not given.</summary>
    public long? Used => Int64(Problem, "used");

    /// <summary>For <c>BUYER_LIMIT_EXCEEDED</c>: the tickets the refused hold or cart asked for under the limit; null when not given.</summary>
    public long? Requested => Int64(Problem, "requested");

    /// <summary>For <c>BUYER_LIMIT_EXCEEDED</c>: the limit's maximum per buyer; null when not given.</summary>
    public int? PerBuyerMax => Field(Problem, "per_buyer_max", JsonValueKind.Number) is { } v && v.TryGetInt32(out var max) ? max : null;

    /// <summary>
    /// For <c>INSUFFICIENT_CAPACITY</c>: the tickets owed to a waiting list on the pool that fell short,
    /// which is why they could not be held; null when no list is owed any (the server then leaves it out).
    /// </summary>
    public long? WaitlistDemand => Int64(Problem, "waitlist_demand");

    /// <summary>
    /// For <c>RESERVATION_EXPIRED</c> in answer to a reclaim (<see cref="ExpiredHoldAction.Reclaim"/>): each
    /// capacity that lacks the tickets, with what it has free now; null when not given, as on a plain confirm
    /// of an expired hold.
    /// </summary>
    public IReadOnlyList<ShortfallItem>? Shortfall => Field(Problem, "shortfall", JsonValueKind.Array) is { } list ? ReadShortfall(list) : null;

    /// <summary>
    /// For <c>SALE_NOT_OPEN</c> and <c>SALE_CLOSED</c>: the capacity that is not on sale; for <c>INSUFFICIENT_CAPACITY</c>:
    /// the one that is short; for <c>CAPACITY_INACTIVE</c>: the one that is inactive. Each may be a pool the hold draws
    /// from rather than the capacity it named; null when not given (a server from before it was sent).
    /// </summary>
    public Guid? CapacityId => Id(Problem, "capacity_id");

    /// <summary>
    /// For <c>CAPACITY_INACTIVE</c>: <c>sold_out</c> when the capacity's sold-out rule closed it (an early tier after
    /// its sell-out: offer the next tier), null when the organiser switched it off.
    /// </summary>
    public string? ClosedReason => Field(Problem, "closed_reason", JsonValueKind.String)?.GetString();

    /// <summary>
    /// For <c>SALE_NOT_OPEN</c>: when the capacity's sale starts, if it has a start (one already past when only the tier
    /// before it holds it back); null when it has none.
    /// </summary>
    public DateTimeOffset? SaleStartsAt => Instant(Problem, "sale_starts_at");

    /// <summary>For <c>SALE_CLOSED</c>: when the capacity's sale ended; null when not given.</summary>
    public DateTimeOffset? SaleEndsAt => Instant(Problem, "sale_ends_at");

    /// <summary>For <c>SALE_NOT_OPEN</c>: the capacity whose first sell-out opens this one; null when it follows none.</summary>
    public Guid? OpensAfterSoldOutOf => Id(Problem, "opens_after_sold_out_of");

    /// <summary>
    /// For the bounds (<c>TOO_MANY_CAPACITIES</c>, <c>TOO_MANY_KEYS</c>, <c>TOO_MANY_WEBHOOKS</c>, <c>TOO_MANY_STREAMS</c>,
    /// <c>TOO_MANY_LIVE_HOLDS</c>): how many the service allows, which the tenant or event already has; null when not given.
    /// </summary>
    public int? Limit => Field(Problem, "limit", JsonValueKind.Number) is { } v && v.TryGetInt32(out var limit) ? limit : null;

    /// <summary>Reads an error answer into an exception; the caller disposes the response.</summary>
    internal static async Task<CapacityApiException> FromResponseAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var bytes = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        if (IsJson(response.Content.Headers.ContentType) && TryParse(bytes) is { } document)
        {
            using (document)
            {
                var root = document.RootElement;
                return new CapacityApiException(
                    root.TryGetProperty("status", out var s) && s.TryGetInt32(out var parsed) ? parsed : status,
                    String(root, "code") ?? $"HTTP_{status}",
                    String(root, "title") ?? response.ReasonPhrase ?? $"HTTP {status}",
                    String(root, "detail"),
                    ReadErrors(root),
                    Int64(root, "available_capacity"),
                    root.Clone());
            }
        }

        // Not a problem document: a proxy's page, say. Keep the start of it as the detail.
        var text = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 500)).Trim();
        return new CapacityApiException(status, $"HTTP_{status}", response.ReasonPhrase ?? $"HTTP {status}", text.Length == 0 ? null : text);
    }

    private static bool IsJson(MediaTypeHeaderValue? type) =>
        type?.MediaType is { } media && (media.EndsWith("/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private static JsonDocument? TryParse(byte[] bytes)
    {
        try
        {
            var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? String(JsonElement root, string name) => Field(root, name, JsonValueKind.String)?.GetString();

    private static long? Int64(JsonElement? root, string name) =>
        Field(root, name, JsonValueKind.Number) is { } v && v.TryGetInt64(out var number) ? number : null;

    private static Guid? Id(JsonElement? root, string name) =>
        Field(root, name, JsonValueKind.String) is { } v && v.TryGetGuid(out var id) ? id : null;

    private static DateTimeOffset? Instant(JsonElement? root, string name) =>
        Field(root, name, JsonValueKind.String) is { } v && v.TryGetDateTimeOffset(out var at) ? at : null;

    /// <summary>
    /// The member when it has the expected kind. Checked first because the TryGet methods throw on any
    /// other kind, and the server sends null for an extension it has no value for.
    /// </summary>
    private static JsonElement? Field(JsonElement? root, string name, JsonValueKind kind) =>
        root is { } r && r.TryGetProperty(name, out var value) && value.ValueKind == kind ? value : null;

    /// <summary>The shortfall's entries; one without the three members it should have is left out rather than thrown on.</summary>
    private static List<ShortfallItem> ReadShortfall(JsonElement list)
    {
        var items = new List<ShortfallItem>(list.GetArrayLength());
        foreach (var entry in list.EnumerateArray())
        {
            // TryGetProperty throws on anything but an object, so the kind is checked first.
            if (entry.ValueKind == JsonValueKind.Object
                && Id(entry, "capacity_id") is { } capacityId && Int64(entry, "requested") is { } requested && Int64(entry, "available") is { } available)
            {
                items.Add(new ShortfallItem(capacityId, requested, available));
            }
        }

        return items;
    }

    private static Dictionary<string, IReadOnlyList<string>> ReadErrors(JsonElement root)
    {
        var errors = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (!root.TryGetProperty("errors", out var element) || element.ValueKind != JsonValueKind.Object)
        {
            return errors;
        }

        foreach (var field in element.EnumerateObject())
        {
            errors[field.Name] = field.Value.ValueKind switch
            {
                JsonValueKind.Array => [.. field.Value.EnumerateArray().Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m.GetRawText())],
                JsonValueKind.String => [field.Value.GetString()!],
                _ => [field.Value.GetRawText()],
            };
        }

        return errors;
    }
}

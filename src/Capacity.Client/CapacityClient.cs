using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Polly;
using Polly.Retry;

namespace Capacity.Client;

/// <summary>
/// A typed client for the Capacity API. One instance per credential: a tenant API key (or JWT) for
/// the tenant routes, the admin key for the tenant and key routes (<see cref="CreateTenantAsync(string, string?, CancellationToken)"/>,
/// <see cref="IssueKeyAsync(Guid, string?, CancellationToken)"/>, <see cref="ListKeysAsync(Guid, CancellationToken)"/>, <see cref="RevokeKeyAsync"/>,
/// <see cref="DisableTenantAsync"/>, <see cref="EnableTenantAsync"/>) and <see cref="VerifyAsync"/>. Thread-safe; it does not own the <see cref="HttpClient"/>.
/// </summary>
/// <remarks>
/// Every POST, PUT, PATCH and DELETE but a check carries an <c>Idempotency-Key</c>, generated per call unless the caller
/// passes one, and the same key is sent on every retry of that call, so a retried write takes effect
/// once (a retried delete gets the first 204 back rather than a 404 for what it already deleted).
/// 503, 429, 409 <c>IDEMPOTENCY_IN_PROGRESS</c> and connection failures are retried with exponential
/// backoff and jitter, or after the server's <c>Retry-After</c>; see <see cref="CapacityClientOptions"/>.
/// Every error answer is thrown as <see cref="CapacityApiException"/>. A replayed answer of a call that shows a secret once
/// (a new API key, a webhook's signing secret) has no secret, and is thrown as <see cref="SecretNotShownException"/>.
/// </remarks>
public sealed partial class CapacityClient
{
    /// <summary>The header that makes a write safe to repeat.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>The header the server sets, to <c>true</c>, on an answer replayed for a repeated Idempotency-Key.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    private readonly HttpClient _http;
    private readonly Uri _baseAddress;
    private readonly string? _token;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    /// <summary>Creates a client over <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the service's URL.</summary>
    /// <param name="http">The HTTP client; its <c>BaseAddress</c> must be set, such as <c>http://localhost:5050/</c>.</param>
    /// <param name="token">The bearer token sent on every request; null for the health routes only.</param>
    /// <param name="options">Retry settings; the defaults when null.</param>
    public CapacityClient(HttpClient http, string? token, CapacityClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        var baseAddress = http.BaseAddress ?? throw new ArgumentException("The HttpClient needs a BaseAddress, such as http://localhost:5050/.", nameof(http));

        // Paths are resolved against the base, so a base with a path prefix needs its trailing slash.
        _baseAddress = baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
        _http = http;
        _token = token;
        _pipeline = BuildPipeline(options ?? new CapacityClientOptions());
    }

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(CapacityClientOptions options)
    {
        if (options.MaxAttempts <= 1)
        {
            return ResiliencePipeline<HttpResponseMessage>.Empty;
        }

        return new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => IsTransientAsync(args.Outcome, options, args.Context.CancellationToken),

                // Null falls back to the exponential backoff above.
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result)),
            })
            .Build();
    }

    private static async ValueTask<bool> IsTransientAsync(Outcome<HttpResponseMessage> outcome, CapacityClientOptions options, CancellationToken ct)
    {
        if (outcome.Exception is not null)
        {
            // Safe to repeat even for writes: the retry carries the same Idempotency-Key.
            return outcome.Exception is HttpRequestException or TaskCanceledException { InnerException: TimeoutException };
        }

        var response = outcome.Result!;
        if (RetryAfter(response) > options.MaxRetryDelay)
        {
            return false;
        }

        return response.StatusCode switch
        {
            HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests => true,
            HttpStatusCode.Conflict => await IsInProgressAsync(response, ct).ConfigureAwait(false),
            _ => false,
        };
    }

    /// <summary>The first request with this key is still running on the server: asking again later gets its answer.</summary>
    private static async Task<bool> IsInProgressAsync(HttpResponseMessage response, CancellationToken ct)
    {
        // Reading buffers the body, so it can still be read into an exception if this is the last attempt.
        var body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("code", out var code)
                && code.ValueKind == JsonValueKind.String
                && code.ValueEquals("IDEMPOTENCY_IN_PROGRESS");
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    private static string NewIdempotencyKey() => Guid.NewGuid().ToString("N");

    private static string Segment(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        return Uri.EscapeDataString(value);
    }

    private static byte[] Body<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.SerializeToUtf8Bytes(value, type);

    private Task<T> GetAsync<T>(string path, JsonTypeInfo<T> answer, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, path, null, answer, null, ct);

    private Task<T> PostAsync<T>(string path, byte[]? body, JsonTypeInfo<T> answer, string? idempotencyKey, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, path, body, answer, idempotencyKey ?? NewIdempotencyKey(), ct);

    private Task<T> PutAsync<T>(string path, byte[] body, JsonTypeInfo<T> answer, string? idempotencyKey, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, path, body, answer, idempotencyKey ?? NewIdempotencyKey(), ct);

    private Task<T> PatchAsync<T>(string path, byte[] body, JsonTypeInfo<T> answer, string? idempotencyKey, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, path, body, answer, idempotencyKey ?? NewIdempotencyKey(), ct);

    /// <summary>A DELETE, which answers 204 with no body; keyed like the other writes so a retry replays the 204.</summary>
    private async Task DeleteAsync(string path, string? idempotencyKey, CancellationToken ct)
    {
        using var response = await SendAsync(
            HttpMethod.Delete, path, null, idempotencyKey ?? NewIdempotencyKey(), "application/json", HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
    }

    /// <summary>A DELETE that answers with a document (leaving a waiting list answers the entry); keyed like the other writes.</summary>
    private Task<T> DeleteAsync<T>(string path, JsonTypeInfo<T> answer, string? idempotencyKey, CancellationToken ct) =>
        SendAsync(HttpMethod.Delete, path, null, answer, idempotencyKey ?? NewIdempotencyKey(), ct);

    /// <summary>A paged route's path: <c>after</c> and <c>limit</c> in the query when given, the server's defaults otherwise.</summary>
    private static string Paged(string path, long? after, int? limit) =>
        Paged(path, after?.ToString(System.Globalization.CultureInfo.InvariantCulture), limit);

    /// <summary>A paged route's path with an <c>after</c> that is an id (an event id may need escaping).</summary>
    private static string Paged(string path, string? after, int? limit)
    {
        var query = new List<string>(2);
        if (after is not null)
        {
            query.Add("after=" + Uri.EscapeDataString(after));
        }

        if (limit is { } l)
        {
            query.Add($"limit={l}");
        }

        return query.Count == 0 ? path : path + "?" + string.Join('&', query);
    }

    /// <summary>
    /// Every item of a list that pages by <c>after</c>. Asked with neither <c>after</c> nor <c>limit</c>, the server answers
    /// the whole list in one page, so this is one request; a <c>next_after</c> on an answer is followed all the same, so that
    /// no item is left out should the list come in pages (from a server whose lists page by default, say).
    /// </summary>
    private async Task<IReadOnlyList<TItem>> AllPagesAsync<TList, TItem>(
        string path, JsonTypeInfo<TList> type, Func<TList, IReadOnlyList<TItem>> items, Func<TList, string?> nextAfter, CancellationToken ct)
    {
        var all = new List<TItem>();
        string? after = null;
        do
        {
            var page = await GetAsync(Paged(path, after, null), type, ct).ConfigureAwait(false);
            all.AddRange(items(page));
            after = nextAfter(page);
        }
        while (after is not null);

        return all;
    }

    /// <summary><c>GET /reservations</c>'s path: each filter that is set, then the paging, every value escaped.</summary>
    private static string ReservationsPath(ReservationQuery query, string? after, int? limit)
    {
        var parameters = new List<string>(6);
        Add("event_id", query.EventId);
        Add("external_ref", query.ExternalRef);

        // The API's names are the members' in lower case, as the server itself checks them.
        Add("status", query.Status?.ToString().ToLowerInvariant());
        Add("buyer_key", query.BuyerKey);
        Add("after", after);
        Add("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return parameters.Count == 0 ? "reservations" : "reservations?" + string.Join('&', parameters);

        void Add(string name, string? value)
        {
            if (value is not null)
            {
                parameters.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }
    }

    /// <summary><c>GET /events/{eventId}/stats</c>'s path: each parameter that is set, every value escaped.</summary>
    private static string StatsPath(string eventId, DateTimeOffset? from, DateTimeOffset? to, string? bucket, Guid? capacityId)
    {
        var parameters = new List<string>(4);

        // RFC 3339 with its offset; escaped, since a '+' left bare in a query reads as a space.
        Add("from", from?.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        Add("to", to?.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        Add("bucket", bucket);
        Add("capacity_id", capacityId?.ToString());
        var path = $"events/{Segment(eventId)}/stats";
        return parameters.Count == 0 ? path : path + "?" + string.Join('&', parameters);

        void Add(string name, string? value)
        {
            if (value is not null)
            {
                parameters.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, byte[]? body, JsonTypeInfo<T> answer, string? idempotencyKey, CancellationToken ct)
    {
        using var response = await SendAsync(method, path, body, idempotencyKey, "application/json", HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        return await ReadAsync(response, method, path, answer, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A POST whose answer shows a secret once (a new API key, a webhook's signing secret). A replay of it carries none,
    /// and a null stored as the secret fails only later and far away, so a replay without one is thrown as what
    /// <paramref name="lost"/> makes of it instead of returned. Retries and a caller's own key alike can get a replay.
    /// </summary>
    private async Task<T> PostSecretAsync<T>(
        string path, byte[]? body, JsonTypeInfo<T> answer, string? idempotencyKey, Func<T, SecretNotShownException?> lost, CancellationToken ct)
    {
        using var response = await SendAsync(
            HttpMethod.Post, path, body, idempotencyKey ?? NewIdempotencyKey(), "application/json", HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        var result = await ReadAsync(response, HttpMethod.Post, path, answer, ct).ConfigureAwait(false);
        var replayed = response.Headers.TryGetValues(ReplayedHeader, out var values)
            && values.Any(v => string.Equals(v, "true", StringComparison.OrdinalIgnoreCase));
        if (replayed && lost(result) is { } exception)
        {
            throw exception;
        }

        return result;
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, HttpMethod method, string path, JsonTypeInfo<T> answer, CancellationToken ct)
    {
        var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonSerializer.DeserializeAsync(stream, answer, ct).ConfigureAwait(false)
                ?? throw new JsonException($"The server answered {method} {path} with null.");
        }
    }

    /// <summary>
    /// Sends one logical call through the retry pipeline, building a fresh request per attempt
    /// (a request message cannot be sent twice) with the same body and Idempotency-Key.
    /// Returns a successful response; throws <see cref="CapacityApiException"/> for any other.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, string path, byte[]? body, string? idempotencyKey, string accept, HttpCompletionOption completion, CancellationToken ct)
    {
        var uri = new Uri(_baseAddress, path);
        var response = await _pipeline.ExecuteAsync(
            async token =>
            {
                using var request = new HttpRequestMessage(method, uri);
                request.Headers.Accept.ParseAdd(accept);
                if (_token is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
                }

                if (idempotencyKey is not null)
                {
                    request.Headers.Add(IdempotencyKeyHeader, idempotencyKey);
                }

                if (body is not null)
                {
                    request.Content = new ByteArrayContent(body);
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                }

                return await _http.SendAsync(request, completion, token).ConfigureAwait(false);
            },
            ct).ConfigureAwait(false);

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await CapacityApiException.FromResponseAsync(response, ct).ConfigureAwait(false);
        }
    }
}

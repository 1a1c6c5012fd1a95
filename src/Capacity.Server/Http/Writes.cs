using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Capacity.Core;
using Capacity.Engine;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Capacity.Server.Http;

/// <summary>
/// Sends a command to the engine on behalf of an endpoint, with the Idempotency-Key contract: the
/// answer is rendered and stored in the same transaction as the effect, a repeat gets the stored
/// answer back, and a failed batch (503) stores nothing so the client can simply retry.
/// </summary>
internal sealed class Writes(CommandEngine engine, IReadStore store, IOptions<JsonOptions> json, ServerOptions options, TimeProvider time)
{
    public const string IdempotencyHeader = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>The longest Idempotency-Key accepted, in characters.</summary>
    public const int MaxKeyLength = 255;

    /// <summary>How often a request asks again while another node applies its key.</summary>
    private static readonly TimeSpan InProgressRetryDelay = TimeSpan.FromMilliseconds(25);

    private static readonly string KeyRule = $"Idempotency-Key must be one header of 1 to {MaxKeyLength} printable ASCII characters.";

    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;

    // Keys with a request in flight on this node, and how many: the first waits for its answer, a
    // repeat waits only up to the bound.
    private readonly ConcurrentDictionary<IdempotencyKey, int> _inFlight = new();

    /// <param name="scope">The tenant, or <see cref="Guid.Empty"/> for admin requests.</param>
    /// <param name="map">Turns the core's outcome into the answer.</param>
    /// <param name="mapForStorage">A different answer to store for replays, when the live one holds a secret.</param>
    public async Task<Results<TOk, ProblemHttpResult, StoredResult>> ExecuteAsync<TOk>(
        HttpContext context,
        Guid scope,
        byte[] body,
        Command command,
        Func<Outcome, Results<TOk, ProblemHttpResult>> map,
        Func<Outcome, Results<TOk, ProblemHttpResult>>? mapForStorage = null)
        where TOk : IResult
    {
        if (InvalidKey(context) is { } invalid)
        {
            return invalid;
        }

        var idempotency = RequestOf(context, scope, body);

        var storageMap = mapForStorage ?? map;

        EngineResult result;
        if (idempotency is null)
        {
            result = await engine.SubmitAsync(command);
        }
        else
        {
            var key = new IdempotencyKey(scope, idempotency.Key);
            var repeat = _inFlight.AddOrUpdate(key, 1, (_, n) => n + 1) > 1;
            // Elapsed time on the provider's monotonic clock: a wall-clock step must not end or stretch the wait.
            var started = time.GetTimestamp();
            try
            {
                while (true)
                {
                    var submitted = engine.SubmitAsync(command, idempotency, o => Store(storageMap(o).Result));

                    // A repeat of a request still in flight would rather hear "in progress, ask
                    // again" than hang behind it; the stored answer will be there when it asks.
                    var remaining = options.IdempotencyWait - time.GetElapsedTime(started);
                    if (repeat && (remaining <= TimeSpan.Zero || await Task.WhenAny(submitted, Task.Delay(remaining, context.RequestAborted)) != submitted))
                    {
                        return ApiErrors.IdempotencyInProgress();
                    }

                    result = await submitted;

                    // Another node is applying this key: ask again until it has committed (then the
                    // answer is its stored one) or the wait bound has passed.
                    if (result.Status != EngineStatus.InProgress)
                    {
                        break;
                    }

                    if (time.GetElapsedTime(started) >= options.IdempotencyWait)
                    {
                        return ApiErrors.IdempotencyInProgress();
                    }

                    await Task.Delay(InProgressRetryDelay, context.RequestAborted);
                }
            }
            finally
            {
                if (_inFlight.AddOrUpdate(key, 0, (_, n) => n - 1) == 0)
                {
                    _inFlight.TryRemove(new KeyValuePair<IdempotencyKey, int>(key, 0));
                }
            }
        }

        switch (result.Status)
        {
            case EngineStatus.Decided:
                var answer = map(result.Outcome!.Value).Result;
                return answer is TOk ok ? ok : (ProblemHttpResult)answer;
            case EngineStatus.Replayed:
                return new StoredResult(result.Response!);
            case EngineStatus.KeyReused:
                return ApiErrors.IdempotencyKeyReused();
            case EngineStatus.InProgress:
                return ApiErrors.IdempotencyInProgress();
            case EngineStatus.Overloaded:
                context.Response.Headers.RetryAfter = "1";
                return ApiErrors.ServiceUnavailable("The service is at capacity; retry after a second.");
            default:
                context.Response.Headers.RetryAfter = "1";
                return ApiErrors.ServiceUnavailable("The change could not be stored and was not applied; retry with the same Idempotency-Key.");
        }
    }

    /// <summary>
    /// For a request refused before it reaches the engine (a bound: live holds, capacities per event,
    /// keys per tenant): when it carries an
    /// Idempotency-Key whose first request, the same one, was applied, that first answer, replayed as the
    /// engine would; otherwise null and the refusal stands (a key used for another request, or not yet
    /// committed, is not decided here: retried once the bound allows, the engine answers it).
    /// </summary>
    public async Task<StoredResult?> ReplayCommittedAsync(HttpContext context, Guid scope, byte[] body, CancellationToken ct)
    {
        if (InvalidKey(context) is not null || RequestOf(context, scope, body) is not { } request)
        {
            return null;
        }

        var record = await store.GetIdempotencyRecordAsync(new IdempotencyKey(scope, request.Key), ct);
        return record is not null && record.IsFor(request) ? new StoredResult(record.Response) : null;
    }

    /// <summary>What a request with an Idempotency-Key asks, by which a repeat is known; null without the header.</summary>
    private static IdempotencyRequest? RequestOf(HttpContext context, Guid scope, byte[] body) =>
        context.Request.Headers.TryGetValue(IdempotencyHeader, out var values)
            ? new IdempotencyRequest(scope, values[0]!, context.Request.Method, context.Request.Path.Value ?? "/", SHA256.HashData(body))
            : null;

    /// <summary>
    /// A malformed Idempotency-Key is refused on every POST, PUT and PATCH, reads included (check), so a
    /// client learns of the mistake before it relies on the key.
    /// </summary>
    public static ProblemHttpResult? InvalidKey(HttpContext context)
    {
        if (!context.Request.Headers.TryGetValue(IdempotencyHeader, out var values))
        {
            return null;
        }

        return values.Count == 1 && IsValidKey(values[0])
            ? null
            : ApiErrors.Validation(IdempotencyHeader, KeyRule);
    }

    private static bool IsValidKey(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxKeyLength)
        {
            return false;
        }

        foreach (var ch in key)
        {
            if (ch is < ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    private StoredResponse Store(IResult result)
    {
        var status = (result as IStatusCodeHttpResult)?.StatusCode ?? 200;
        var value = (result as IValueHttpResult)?.Value;
        var body = value is null ? [] : JsonResults.ToUtf8Bytes(value, _json);
        return new StoredResponse(status, body, LocationOf(result));
    }

    private static string? LocationOf(IResult result) => (result as ILocationHttpResult)?.Location;
}

/// <summary>An answer replayed from the idempotency store, exactly as first given.</summary>
internal sealed class StoredResult(StoredResponse response) : IResult
{
    public StoredResponse Response { get; } = response;

    public async Task ExecuteAsync(HttpContext context)
    {
        context.Response.StatusCode = Response.Status;
        context.Response.Headers[Writes.ReplayedHeader] = "true";
        if (Response.Location is not null)
        {
            context.Response.Headers.Location = Response.Location;
        }

        if (Response.Body.Length > 0)
        {
            context.Response.ContentType = Response.Status >= 400 ? ProblemJson.ContentType : JsonBody.Json;
            context.Response.ContentLength = Response.Body.Length;
            await context.Response.Body.WriteAsync(Response.Body, context.RequestAborted);
        }
    }
}

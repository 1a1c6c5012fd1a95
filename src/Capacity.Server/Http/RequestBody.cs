using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Http;

/// <summary>
/// Reads request bodies by hand rather than through the framework's body binding: the raw bytes are
/// needed for the Idempotency-Key hash, and every malformed body must become a 400 problem that names
/// the field, never a 500 or a bare 400 with no body. Handlers receive the result as a
/// <see cref="JsonRequest{T}"/> or <see cref="RawRequest"/> parameter.
/// </summary>
internal static partial class RequestBody
{
    public static async ValueTask<(byte[] Bytes, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, long limit, CancellationToken ct)
    {
        try
        {
            return await ReadAllAsync(request, limit, ct);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode != StatusCodes.Status413PayloadTooLarge)
        {
            // The client closed the connection mid-body (a load generator stopping, a phone losing
            // signal). Nobody is left to read the answer; what matters is that it is not logged as
            // a server error, and nothing was applied.
            return ([], ApiErrors.Validation("body", "The body ended before its Content-Length."));
        }
    }

    /// <summary>
    /// A body's Content-Type as this API takes it: <c>application/json</c>, in any case, with no charset
    /// or utf-8. Routing matches a route's <c>application/json</c> with any parameters and with any
    /// <c>+json</c> type (<c>application/json-patch+json</c> is not a body of ours), and a body is read
    /// as UTF-8 whatever charset it names: one labelled UTF-16 or Latin-1 was read as UTF-8, and refused,
    /// if at all, for what that made of a field.
    /// </summary>
    public static bool IsUtf8Json(string? contentType)
    {
        if (string.Equals(contentType, "application/json", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
            || !media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var charset = Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(media.Charset);
        return !media.Charset.HasValue || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
    }

    private static async ValueTask<(byte[] Bytes, ProblemHttpResult? Problem)> ReadAllAsync(HttpRequest request, long limit, CancellationToken ct)
    {
        if (request.ContentLength > limit)
        {
            return ([], ApiErrors.PayloadTooLarge(limit));
        }

        // The common case: the length is announced, so read straight into a buffer of that size.
        if (request.ContentLength is { } length)
        {
            var exact = new byte[length];
            var filled = 0;
            while (filled < exact.Length)
            {
                var n = await request.Body.ReadAsync(exact.AsMemory(filled), ct);
                if (n == 0)
                {
                    return ([], ApiErrors.Validation("body", "The body is shorter than its Content-Length."));
                }

                filled += n;
            }

            return (exact, null);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return ([], ApiErrors.PayloadTooLarge(limit));
            }

            buffer.Write(chunk, 0, read);
        }

        return (buffer.ToArray(), null);
    }

    /// <summary>
    /// Documents what every route that reads a body can answer because of it, whatever its handler does
    /// next: 400 for a body it cannot take (malformed, or on a route that takes no fields anything but
    /// nothing or <c>{}</c>), 413 past <see cref="ServerOptions.MaxBodyBytes"/>, 415 for a body without a
    /// Content-Type. Called by the parameter types that read bodies (<see cref="RawRequest"/>,
    /// <see cref="JsonRequest{T}"/>), so no route that reads one can leave these out of the OpenAPI document.
    /// </summary>
    public static void DescribeRefusals(EndpointBuilder builder)
    {
        foreach (var status in (ReadOnlySpan<int>)[StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType])
        {
            builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), ["application/problem+json"]));
        }
    }

    /// <summary>Parses a JSON object body. Unknown fields, wrong types and overflow are 400s.</summary>
    public static (T? Value, ProblemHttpResult? Problem) Parse<T>(byte[] bytes, JsonTypeInfo<T> type)
        where T : class
    {
        if (bytes.Length == 0)
        {
            return (null, ApiErrors.Validation("body", "A JSON object body is required."));
        }

        try
        {
            var value = JsonSerializer.Deserialize(bytes, type);
            return value is null ? (null, ApiErrors.Validation("body", "The body must be a JSON object.")) : (value, null);
        }
        catch (JsonException ex)
        {
            return (null, ApiErrors.Validation(FieldOf(ex), Explain(ex)));
        }
    }

    /// <summary>Confirm, release and cancel take no fields: an empty body or <c>{}</c>.</summary>
    public static ProblemHttpResult? RequireEmpty(byte[] bytes) =>
        bytes.Length == 0 || IsEmptyObject(bytes) ? null : ApiErrors.Validation("body", "This route takes no body, or an empty JSON object.");

    /// <summary>Whether the body is exactly an object with no members (whitespace allowed).</summary>
    public static bool IsEmptyObject(byte[] bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.ValueKind == JsonValueKind.Object && !doc.RootElement.EnumerateObject().Any();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // Named by where it is in the body, as a client wrote it: a field missing from or unknown to the
    // first item is items[0].quantity or items[0].extra, not a top-level field of the same name. A
    // name is echoed up to MaxEchoedName characters: an unknown field of 60,000 would otherwise come
    // back three times over (the errors key, its message and the detail).
    private static string FieldOf(JsonException ex)
    {
        var field = NameOf(ex);
        if (field.Length <= MaxEchoedName)
        {
            return field;
        }

        // Never half of a surrogate pair (an emoji) at the cut.
        var cut = char.IsHighSurrogate(field[MaxEchoedName - 1]) ? MaxEchoedName - 1 : MaxEchoedName;
        return string.Concat(field.AsSpan(0, cut), "…");
    }

    private const int MaxEchoedName = 100;

    private static string NameOf(JsonException ex)
    {
        var missing = MissingProperty().Match(ex.Message);
        if (missing.Success)
        {
            return PathOf(ex) is { } within ? $"{within}.{missing.Groups[1].Value}" : missing.Groups[1].Value;
        }

        var unknown = UnknownProperty().Match(ex.Message);
        if (unknown.Success)
        {
            return PathOf(ex) ?? unknown.Groups[1].Value;
        }

        return PathOf(ex) ?? "body";
    }

    /// <summary>The exception's JSON path without its root (<c>items[0].quantity</c>), or null at the root.</summary>
    private static string? PathOf(JsonException ex) =>
        string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? null : ex.Path.TrimStart('$').TrimStart('.');

    private static string Explain(JsonException ex)
    {
        if (ex is JsonFieldException field)
        {
            return $"{FieldOf(ex)} {field.Rule}";
        }

        if (MissingProperty().IsMatch(ex.Message))
        {
            return $"{FieldOf(ex)} is required.";
        }

        if (UnknownProperty().IsMatch(ex.Message))
        {
            return $"{FieldOf(ex)} is not a field of this request.";
        }

        // The body is valid JSON (RFC 8259 only asks for unique names): what is wrong is the repeat.
        if (ex.Message.StartsWith("Duplicate property", StringComparison.Ordinal))
        {
            return $"{FieldOf(ex)} appears twice.";
        }

        // A string the reader cannot turn into text (a lone surrogate escaped, bytes that are not UTF-8)
        // is said as the PUTs say it (PatchReader), not as a wrong type.
        if (ex.InnerException is InvalidOperationException { Message: var text } && text.Contains("UTF-", StringComparison.Ordinal))
        {
            return $"{FieldOf(ex)} is not valid text (a lone surrogate or invalid UTF-8).";
        }

        if (ex.Message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return $"{FieldOf(ex)} has the wrong type or is out of range.";
        }

        // A null where the request needs a value (RespectNullableAnnotations: "items": null).
        if (ex.Message.Contains("doesn't allow null values", StringComparison.Ordinal)
            || ex.Message.Contains("doesn't allow setting null values", StringComparison.Ordinal))
        {
            return $"{FieldOf(ex)} may not be null.";
        }

        return ex.Path is null or "$" ? "The body is not valid JSON." : $"The body is not valid JSON near {FieldOf(ex)}.";
    }

    [GeneratedRegex("missing required properties including: '([^']+)'")]
    private static partial Regex MissingProperty();

    [GeneratedRegex("The JSON property '([^']+)' could not be mapped")]
    private static partial Regex UnknownProperty();
}

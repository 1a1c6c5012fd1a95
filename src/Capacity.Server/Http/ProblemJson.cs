using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using ProblemDetails = Microsoft.AspNetCore.Mvc.ProblemDetails;
using Microsoft.Extensions.Options;

namespace Capacity.Server.Http;

/// <summary>
/// Writes every problem body (<see cref="ApiErrors"/>, status pages, the exception handler): ASP.NET Core's
/// results hand problems to the registered <see cref="IProblemDetailsService"/>. Without one, each went
/// through the serializer's asynchronous path with the extension dictionary serialized by runtime type,
/// a tenth of the server's CPU in a sold-out run, where nearly every answer is a 409. The text is
/// the serializer's (same property order, same escaping), so a live answer and its stored replay agree,
/// and it is sent with a Content-Length instead of chunked.
/// </summary>
public sealed class ProblemJson(IOptions<JsonOptions> json) : IProblemDetailsService
{
    public const string ContentType = "application/problem+json";

    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText Title = JsonEncodedText.Encode("title");
    private static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText Detail = JsonEncodedText.Encode("detail");
    private static readonly JsonEncodedText Instance = JsonEncodedText.Encode("instance");

    [ThreadStatic]
    private static (JsonSerializerOptions Options, ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? t_scratch;

    private readonly JsonSerializerOptions _options = json.Value.SerializerOptions;

    public async ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var response = context.HttpContext.Response;
        response.ContentType = ContentType;

        // Serialized to a reused buffer first, so that the length is known before the headers go out;
        // copied into the response before the first await, so the buffer is free again on this thread.
        if (t_scratch?.Options != _options)
        {
            t_scratch = NewScratch(_options);
        }

        var (_, buffer, writer) = t_scratch.Value;
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        Write(writer, context.ProblemDetails, _options);
        writer.Flush();
        response.ContentLength = buffer.WrittenCount;
        response.BodyWriter.Write(buffer.WrittenSpan);
        // No cancellation token: a client that has gone away must not turn its answer into a server
        // error; Kestrel completes a flush to a closed connection without throwing.
        await response.BodyWriter.FlushAsync();
    }

    /// <summary>The problem as the serializer writes <see cref="ProblemDetails"/>: the standard members, then each extension.</summary>
    public static void Write(Utf8JsonWriter w, ProblemDetails problem, JsonSerializerOptions options)
    {
        w.WriteStartObject();
        if (problem.Type is { } type)
        {
            w.WriteString(Type, type);
        }

        if (problem.Title is { } title)
        {
            w.WriteString(Title, title);
        }

        if (problem.Status is { } status)
        {
            w.WriteNumber(Status, status);
        }

        if (problem.Detail is { } detail)
        {
            w.WriteString(Detail, detail);
        }

        if (problem.Instance is { } instance)
        {
            w.WriteString(Instance, instance);
        }

        foreach (var (key, value) in problem.Extensions)
        {
            w.WritePropertyName(key);
            switch (value)
            {
                case null:
                    w.WriteNullValue();
                    break;
                case string s:
                    w.WriteStringValue(s);
                    break;
                case long l:
                    w.WriteNumberValue(l);
                    break;
                case int i:
                    w.WriteNumberValue(i);
                    break;
                default:
                    JsonSerializer.Serialize(w, value, value.GetType(), options);
                    break;
            }
        }

        w.WriteEndObject();
    }

    // One per thread and options (a test host may run several servers in one process).
    private static (JsonSerializerOptions, ArrayBufferWriter<byte>, Utf8JsonWriter) NewScratch(JsonSerializerOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        return (options, buffer, new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = options.Encoder, Indented = options.WriteIndented }));
    }
}

using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using ProblemDetails = Microsoft.AspNetCore.Mvc.ProblemDetails;
using Microsoft.Extensions.Options;

namespace Capacity.Server.Http;

/// <summary>
/// Writes every problem body (<see cref="ApiErrors"/>, status pages, the exception handler): ASP.NET Core's
/// results hand problems to the registered <see cref="IProblemDetailsService"/>. Without one, each went
/// through the serializer's asynchronous path with the extension dictionary serialized by runtime type,
/// a large share of the server's CPU in a sold-out run, where nearly every answer is a 409 (measured
/// with LoadGen; see docs/performance.md). The text is
/// the serializer's (same property order, same escaping), so a live answer and its stored replay agree,
/// and it is sent in one piece with a Content-Length (<see cref="JsonBody"/>).
/// </summary>
internal sealed class ProblemJson(IOptions<JsonOptions> json) : IProblemDetailsService
{
    public const string ContentType = "application/problem+json";

    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText Title = JsonEncodedText.Encode("title");
    private static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText Detail = JsonEncodedText.Encode("detail");
    private static readonly JsonEncodedText Instance = JsonEncodedText.Encode("instance");

    private readonly JsonSerializerOptions _options = json.Value.SerializerOptions;

    public ValueTask WriteAsync(ProblemDetailsContext context) =>
        new(JsonBody.WriteAsync(context.HttpContext.Response, ContentType, _options, (context.ProblemDetails, _options), static (w, s) => Write(w, s.ProblemDetails, s._options)));

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
}

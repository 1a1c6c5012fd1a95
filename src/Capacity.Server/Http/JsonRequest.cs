using System.Reflection;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Capacity.Server.Http;

/// <summary>
/// A JSON body as a handler parameter: the bytes as sent (the Idempotency-Key hash is over exactly
/// them) and the value parsed from them with the generated contract, or the problem that answers the
/// request instead (<see cref="RequestBody"/>: too large, cut short, malformed). It is read and parsed
/// while the handler's parameters are bound; the handler still decides where among its own checks
/// the problem is answered, so the order of the 400s stays the handler's to state.
/// </summary>
/// <remarks>
/// Bound through <see cref="BindAsync"/>; pair the route with <c>.Body&lt;T&gt;()</c> for its OpenAPI entry.
/// The refusals of a body are documented by the parameter itself (<see cref="RequestBody.DescribeRefusals"/>).
/// </remarks>
internal sealed class JsonRequest<T> : IEndpointMetadataProvider
    where T : class
{
    // The generated context is the same for every host in the process, so its metadata for T is looked up once.
    private static JsonTypeInfo<T>? s_contract;

    private readonly T? _value;

    private JsonRequest(byte[] bytes, T? value, ProblemHttpResult? problem, bool unread)
    {
        Bytes = bytes;
        _value = value;
        Problem = problem;
        Unread = unread ? problem : null;
    }

    /// <summary>The body as sent.</summary>
    public byte[] Bytes { get; }

    /// <summary>The parsed body; only when <see cref="Problem"/> is null.</summary>
    public T Value => _value ?? throw new InvalidOperationException("The body was not parsed; answer its Problem.");

    /// <summary>Why the body could not be read or parsed, as the request's answer; null when <see cref="Value"/> is set.</summary>
    public ProblemHttpResult? Problem { get; }

    /// <summary>Set only when the body could not be read at all (too large, cut short): a route answers this before any other check.</summary>
    public ProblemHttpResult? Unread { get; }

    public static async ValueTask<JsonRequest<T>?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var (bytes, unread) = await RawRequest.ReadAsync(context);

        // Routing refuses another Content-Type with 415; a body that names none, another charset or a
        // type routing takes as JSON (json-patch+json) is refused here, after the size (a body too large
        // is that first), and no body at all is the parser's "required".
        if (unread is null && bytes.Length > 0 && !RequestBody.IsUtf8Json(context.Request.ContentType))
        {
            unread = ApiErrors.UnsupportedMediaType();
        }

        if (unread is not null)
        {
            return new JsonRequest<T>(bytes, null, unread, unread: true);
        }

        var (value, invalid) = Parse(context, bytes);
        return new JsonRequest<T>(bytes, value, invalid, unread: false);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => RequestBody.DescribeRefusals(builder);

    /// <summary>
    /// Parses a body read raw (<see cref="RawRequest"/>) with the generated contract, for a route whose
    /// body is optional and parsed only when there is one.
    /// </summary>
    public static (T? Value, ProblemHttpResult? Problem) Parse(HttpContext context, byte[] bytes)
    {
        var contract = s_contract ??= JsonContract.For<T>(context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions);
        return RequestBody.Parse(bytes, contract);
    }
}

using System.Buffers;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Capacity.Server.Http;

/// <summary>
/// The service's success answers: <c>TypedResults.Ok</c> and <c>Created</c> with the same status,
/// headers, text and OpenAPI metadata, but the body is sent in one piece (<see cref="JsonBody"/>).
/// </summary>
internal static class JsonResults
{
    public static JsonOk<T> Ok<T>(T value) => new(value);

    /// <summary>200 with <paramref name="value"/>, whose body <paramref name="utf8"/> already is (<see cref="ToUtf8Bytes"/>, the host's options).</summary>
    public static JsonOk<T> Ok<T>(T value, byte[] utf8) => new(value, utf8);

    public static JsonCreated<T> Created<T>(string location, T value) => new(location, value);

    internal static Task WriteAsync<T>(HttpContext context, int status, T value)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        context.Response.StatusCode = status;
        return JsonBody.WriteAsync(
            context.Response, JsonBody.Json, options, (value, options),
            static (w, s) => JsonSerializer.Serialize(w, s.value, (JsonTypeInfo<T>)TypeInfo(typeof(T), s.options)));
    }

    /// <summary>
    /// The source-generated context's own contract for a type where it has one (<see cref="JsonContract"/>),
    /// else the host's. Through the host's options (web defaults plus snake_case, with the context first
    /// in the resolver chain) the serializer cannot use the generated fast path, because those options
    /// differ from the context's: it walks the metadata property by property instead, slower and
    /// allocating, measured by <c>ResponseBenchmarks</c> (which also checks that both write the same
    /// bytes); see docs/performance.md. The text is the same as long as the writer has the host's encoder
    /// (<see cref="JsonBody.WriterOptions"/>): the context's own would escape quotes and non-ASCII
    /// letters differently.
    /// </summary>
    public static JsonTypeInfo TypeInfo(Type type, JsonSerializerOptions host) =>
        JsonContract.Of(host)?.GetTypeInfo(type) ?? host.GetTypeInfo(type);

    /// <summary>An answer's body as <see cref="WriteAsync"/> sends it: what an idempotency record keeps, so that a replay is the live answer's bytes.</summary>
    public static byte[] ToUtf8Bytes(object value, JsonSerializerOptions host)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, JsonBody.WriterOptions(host)))
        {
            JsonSerializer.Serialize(writer, value, TypeInfo(value.GetType(), host));
        }

        return buffer.WrittenSpan.ToArray();
    }

    internal static void Describe<T>(EndpointBuilder builder, int status) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(T), ["application/json"]));
}

/// <summary>200 with a JSON body.</summary>
internal sealed class JsonOk<T>(T value, byte[]? utf8 = null) : IResult, IStatusCodeHttpResult, IValueHttpResult<T>, IValueHttpResult, IEndpointMetadataProvider
{
    public T Value { get; } = value;
    object? IValueHttpResult.Value => Value;
    public int StatusCode => StatusCodes.Status200OK;
    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        if (utf8 is null)
        {
            return JsonResults.WriteAsync(httpContext, StatusCode, Value);
        }

        httpContext.Response.StatusCode = StatusCode;
        return JsonBody.WriteAsync(httpContext.Response, JsonBody.Json, utf8);
    }

    static void IEndpointMetadataProvider.PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        JsonResults.Describe<T>(builder, StatusCodes.Status200OK);
}

/// <summary>A result that sends a Location header, so that a stored answer can replay it.</summary>
internal interface ILocationHttpResult
{
    string Location { get; }
}

/// <summary>201 with a Location and a JSON body.</summary>
internal sealed class JsonCreated<T>(string location, T value) : ILocationHttpResult, IResult, IStatusCodeHttpResult, IValueHttpResult<T>, IValueHttpResult, IEndpointMetadataProvider
{
    public string Location { get; } = location;
    public T Value { get; } = value;
    object? IValueHttpResult.Value => Value;
    public int StatusCode => StatusCodes.Status201Created;
    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.Headers.Location = Location;
        return JsonResults.WriteAsync(httpContext, StatusCode, Value);
    }

    static void IEndpointMetadataProvider.PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        JsonResults.Describe<T>(builder, StatusCodes.Status201Created);
}

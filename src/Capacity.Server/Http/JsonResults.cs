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
public static class JsonResults
{
    public static JsonOk<T> Ok<T>(T value) => new(value);

    public static JsonCreated<T> Created<T>(string location, T value) => new(location, value);

    internal static Task WriteAsync<T>(HttpContext context, int status, T value)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        context.Response.StatusCode = status;
        return JsonBody.WriteAsync(
            context.Response, JsonBody.Json, options, (value, options),
            static (w, s) => JsonSerializer.Serialize(w, s.value, (JsonTypeInfo<T>)s.options.GetTypeInfo(typeof(T))));
    }

    internal static void Describe<T>(EndpointBuilder builder, int status) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(T), ["application/json"]));
}

/// <summary>200 with a JSON body.</summary>
public sealed class JsonOk<T>(T value) : IResult, IStatusCodeHttpResult, IValueHttpResult<T>, IValueHttpResult, IEndpointMetadataProvider
{
    public T Value { get; } = value;
    object? IValueHttpResult.Value => Value;
    public int StatusCode => StatusCodes.Status200OK;
    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public Task ExecuteAsync(HttpContext httpContext) => JsonResults.WriteAsync(httpContext, StatusCode, Value);

    static void IEndpointMetadataProvider.PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        JsonResults.Describe<T>(builder, StatusCodes.Status200OK);
}

/// <summary>A result that sends a Location header, so that a stored answer can replay it.</summary>
public interface ILocationHttpResult
{
    string Location { get; }
}

/// <summary>201 with a Location and a JSON body.</summary>
public sealed class JsonCreated<T>(string location, T value) : ILocationHttpResult, IResult, IStatusCodeHttpResult, IValueHttpResult<T>, IValueHttpResult, IEndpointMetadataProvider
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

using System.Reflection;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;

namespace Capacity.Server.Http;

/// <summary>
/// A body as a handler parameter, read but not parsed: for the PUTs, which read their fields one by
/// one (<see cref="PatchReader"/>), and for the routes that take no fields. The bytes are kept for the
/// Idempotency-Key hash. A route that takes it documents the refusals of a body
/// (<see cref="RequestBody.DescribeRefusals"/>): a route that takes no fields still refuses one.
/// </summary>
internal sealed class RawRequest : IEndpointMetadataProvider
{
    private RawRequest(byte[] bytes, ProblemHttpResult? unread)
    {
        Bytes = bytes;
        Unread = unread;
    }

    /// <summary>The body as sent.</summary>
    public byte[] Bytes { get; }

    /// <summary>Why the body could not be read at all (too large, cut short), as the request's answer.</summary>
    public ProblemHttpResult? Unread { get; }

    /// <summary>For routes that take no fields: the problem unless the body was read and is empty or <c>{}</c>.</summary>
    public ProblemHttpResult? UnlessEmpty() => Unread ?? RequestBody.RequireEmpty(Bytes);

    /// <summary>Read, and nothing or <c>{}</c>: for routes whose fields are optional, the request that names none.</summary>
    public bool IsEmpty => Unread is null && (Bytes.Length == 0 || RequestBody.IsEmptyObject(Bytes));

    public static async ValueTask<RawRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var (bytes, unread) = await ReadAsync(context);

        // These routes may go without a body; a body sent without saying it is JSON is refused (415).
        if (unread is null && bytes.Length > 0 && !RequestBody.IsUtf8Json(context.Request.ContentType))
        {
            unread = ApiErrors.UnsupportedMediaType();
        }

        return new RawRequest(bytes, unread);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => RequestBody.DescribeRefusals(builder);

    /// <summary>The body, up to <see cref="ServerOptions.MaxBodyBytes"/>.</summary>
    internal static ValueTask<(byte[] Bytes, ProblemHttpResult? Problem)> ReadAsync(HttpContext context) =>
        RequestBody.ReadAsync(context.Request, context.RequestServices.GetRequiredService<ServerOptions>().MaxBodyBytes, context.RequestAborted);
}

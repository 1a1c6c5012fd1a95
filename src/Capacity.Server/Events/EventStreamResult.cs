using System.Buffers;
using System.Net.ServerSentEvents;
using System.Reflection;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;

namespace Capacity.Server.Events;

/// <summary>
/// A stream of Server-Sent Events whose data are already UTF-8 JSON. The framework's result writes a
/// string item by encoding it for each response; a snapshot is the same megabytes for every viewer of
/// an event, so it is encoded once (<see cref="EventFeeds.Feed"/>) and copied to each.
/// </summary>
internal sealed class EventStreamResult(IAsyncEnumerable<SseItem<byte[]>> items) : IResult, IStatusCodeHttpResult, IEndpointMetadataProvider
{
    public int? StatusCode => StatusCodes.Status200OK;

    public async Task ExecuteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        // As the framework's own: no cache or proxy may hold back or compress a live stream.
        response.Headers.CacheControl = "no-cache,no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers.ContentEncoding = "identity";
        context.Features.GetRequiredFeature<IHttpResponseBodyFeature>().DisableBuffering();

        // The headers go at once: a viewer knows it is connected even while its first snapshot waits
        // for its tenant's share of the stream rate.
        await response.StartAsync(context.RequestAborted);
        await response.Body.FlushAsync(context.RequestAborted);

        // The JSON has no line breaks, so each item is one data line. A viewer going away ends the
        // stream; that is how every stream ends, not an error.
        try
        {
            await SseFormatter.WriteAsync(items, response.Body, static (item, writer) => writer.Write(item.Data), context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(SseItem<string>), ["text/event-stream"]));
}

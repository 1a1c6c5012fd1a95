using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.ServerSentEvents;
using System.Text;
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

        // A viewer going away ends the stream; that is how every stream ends, not an error.
        try
        {
            await WriteAsync(response.BodyWriter, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Writes each item as an event straight into the response's pipe, which sends it as the viewer
    /// reads. The runtime's SSE formatter first copies each item into a buffer from the shared array
    /// pool: for megabyte snapshots that pool kept a few megabytes per thread long after a burst of
    /// viewers had gone (600 MiB of a server's memory). The JSON has no line breaks, so it is one data line.
    /// </summary>
    private async Task WriteAsync(PipeWriter pipe, CancellationToken ct)
    {
        await foreach (var item in items.WithCancellation(ct))
        {
            Debug.Assert(item.Data.AsSpan().IndexOfAny((byte)'\n', (byte)'\r') < 0, "an event's data is one line");
            pipe.Write("event: "u8);
            pipe.Write(Encoding.UTF8.GetBytes(item.EventType));
            pipe.Write("\ndata: "u8);
            pipe.Write(item.Data);
            pipe.Write("\n\n"u8);
            await pipe.FlushAsync(ct);
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(SseItem<string>), ["text/event-stream"]));
}

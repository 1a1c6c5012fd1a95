using System.Buffers;
using System.Text.Json;

namespace Capacity.Server.Http;

/// <summary>
/// Sends a JSON body in one piece: serialized synchronously into a per-thread buffer, then copied into
/// the response with its Content-Length. The serializer's own asynchronous path into the response
/// (what <c>TypedResults.JsonOk</c> and <c>JsonCreated</c> use) costs a state machine and a chunked
/// encoding per answer, for bodies that are a few hundred bytes.
/// </summary>
internal static class JsonBody
{
    public const string Json = "application/json; charset=utf-8";

    /// <summary>The largest buffer a thread keeps between answers.</summary>
    private const int MaxKeptBytes = 256 * 1024;

    // One per thread and options (a test host may run several servers in one process).
    [ThreadStatic]
    private static (JsonSerializerOptions Options, ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? t_scratch;

    /// <summary>
    /// The writer takes the host's encoder (ASP.NET Core's relaxed one): it decides how every string
    /// is escaped, whichever contract the serializer follows.
    /// </summary>
    public static JsonWriterOptions WriterOptions(JsonSerializerOptions options) =>
        new() { Encoder = options.Encoder, Indented = options.WriteIndented };

    /// <summary>Sends a body already written.</summary>
    public static async Task WriteAsync(HttpResponse response, string contentType, byte[] utf8)
    {
        response.ContentType = contentType;
        response.ContentLength = utf8.Length;
        response.BodyWriter.Write(utf8);

        // No cancellation token, as below.
        await response.BodyWriter.FlushAsync();
    }

    /// <summary>Writes the body that <paramref name="write"/> produces from <paramref name="state"/>.</summary>
    public static async Task WriteAsync<TState>(
        HttpResponse response, string contentType, JsonSerializerOptions options, TState state, Action<Utf8JsonWriter, TState> write)
    {
        response.ContentType = contentType;
        if (t_scratch?.Options != options)
        {
            var fresh = new ArrayBufferWriter<byte>(512);
            t_scratch = (options, fresh, new Utf8JsonWriter(fresh, WriterOptions(options)));
        }

        // The buffer is copied into the response before the first await, so it is free again for
        // the next answer this thread writes.
        var (_, buffer, writer) = t_scratch.Value;
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            write(writer, state);
            writer.Flush();
        }
        catch
        {
            // A failed write must not leave half a document for the next answer on this thread.
            t_scratch = null;
            throw;
        }

        response.ContentLength = buffer.WrittenCount;
        response.BodyWriter.Write(buffer.WrittenSpan);

        // A buffer grown by a big answer (a whole event of thousands of capacities is megabytes) is not
        // kept: every thread that once wrote one would hold its megabytes for good.
        if (buffer.Capacity > MaxKeptBytes)
        {
            t_scratch = null;
        }
        // No cancellation token: a client that has gone away must not turn its answer into a server
        // error; Kestrel completes a flush to a closed connection without throwing.
        await response.BodyWriter.FlushAsync();
    }
}

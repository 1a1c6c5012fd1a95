using System.Buffers;
using System.Text.Json;

namespace Capacity.Storage.Sqlite;

/// <summary>A reusable JSON writer for a column built per row (a reservation's items), so writing a row allocates no text.</summary>
internal sealed class JsonRowBuffer : IDisposable
{
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;

    public JsonRowBuffer() => _writer = new Utf8JsonWriter(_buffer);

    /// <summary>Empties the buffer and returns the writer for the next value.</summary>
    public Utf8JsonWriter Start()
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        return _writer;
    }

    /// <summary>What was written since <see cref="Start"/>.</summary>
    public ReadOnlySpan<byte> Written()
    {
        _writer.Flush();
        return _buffer.WrittenSpan;
    }

    public void Dispose() => _writer.Dispose();
}

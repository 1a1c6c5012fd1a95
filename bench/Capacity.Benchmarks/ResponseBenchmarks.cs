using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Capacity.Server.Capacities;
using Capacity.Server;
using Capacity.Server.Http;
using Capacity.Server.Reservations;
using Capacity.Server.Views;

namespace Capacity.Benchmarks;

/// <summary>
/// The answer to a successful hold, serialized into a reused buffer as <c>JsonBody</c> does: through
/// the host's options (web defaults, snake_case, the source-generated contract first in the resolver
/// chain) and through the source-generated context's own options.
/// </summary>
[MemoryDiagnoser]
public class ResponseBenchmarks
{
    private static readonly DateTimeOffset At = new(2026, 11, 21, 23, 23, 9, 603, TimeSpan.Zero);

    private static readonly ReserveResponse Held = new(
        "Capacity reserved successfully",
        new ReservationResponse(
            Guid.Parse("01a2006b-b9a1-7d2b-b877-bfb605a6434f"), "active",
            [new ReservationItemResponse(Guid.Parse("01a2006b-b979-74fc-b19a-eb036405ff13"), 1, null)],
            [], At, At.AddMinutes(15), null, null),
        new CapacityResponse(
            Guid.Parse("01a2006b-b979-74fc-b19a-eb036405ff13"), "loadgen-onsale-20261121232309-032d35", null, "Capped", null,
            "capped", 1_000_000, 999_999, 1, 0, true, [Guid.Parse("01a2006b-b952-73dc-a683-5c8648176fb3")], At, At),
        null);

    private readonly JsonSerializerOptions _host = HostOptions();
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private Utf8JsonWriter _writer = null!;

    /// <summary>The server's host options: ASP.NET Core's defaults (with its relaxed encoder), set up as the server sets them.</summary>
    public static JsonSerializerOptions HostOptions()
    {
        var options = new Microsoft.AspNetCore.Http.Json.JsonOptions().SerializerOptions;
        AppJson.ConfigureHost(options);
        return options;
    }

    [GlobalSetup]
    public void Setup()
    {
        _writer = new Utf8JsonWriter(_buffer, JsonBody.WriterOptions(_host));
        Host_options();
        var viaHost = _buffer.WrittenSpan.ToArray();
        Context_options();
        if (!_buffer.WrittenSpan.SequenceEqual(viaHost))
        {
            throw new InvalidOperationException("The two ways of writing the answer disagree.");
        }
    }

    [Benchmark(Baseline = true)]
    public int Host_options() => Write(w => JsonSerializer.Serialize(w, Held, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<ReserveResponse>)_host.GetTypeInfo(typeof(ReserveResponse))));

    [Benchmark]
    public int Context_options() => Write(w => JsonSerializer.Serialize(w, Held, AppJson.Default.ReserveResponse));

    private int Write(Action<Utf8JsonWriter> write)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        write(_writer);
        _writer.Flush();
        return _buffer.WrittenCount;
    }
}

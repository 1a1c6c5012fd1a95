using BenchmarkDotNet.Attributes;
using Capacity.Server;
using Capacity.Server.Http;
using Capacity.Server.Reservations;

namespace Capacity.Benchmarks;

/// <summary>
/// Request parsing as the endpoints do it: <see cref="RequestBody.Parse{T}"/> with the server's
/// source-generated JSON contract. The refused body shows what a 400 costs: System.Text.Json
/// reports an unknown field by throwing, and the server turns the exception into a problem.
/// </summary>
[MemoryDiagnoser]
public class ParseBenchmarks
{
    private static readonly byte[] Reserve = "{\"quantity\":1}"u8.ToArray();

    private static readonly byte[] ReserveAllFields =
        "{\"quantity\":2,\"reservation_minutes\":15,\"pricing_id\":\"0197a001-5b2c-7d3e-8f40-123456789abc\"}"u8.ToArray();

    private static readonly byte[] Cart =
        ("{\"items\":[{\"capacity_id\":\"0197a001-5b2c-7d3e-8f40-123456789abc\",\"quantity\":2},"u8
        + "{\"capacity_id\":\"0197a001-5b2c-7d3e-8f40-cba987654321\",\"quantity\":1}],\"reservation_minutes\":15}"u8).ToArray();

    private static readonly byte[] UnknownField = "{\"quantity\":1,\"qty\":2}"u8.ToArray();

    /// <summary>The on-sale body: <c>POST /capacity/{id}/reserve</c> with one ticket.</summary>
    [Benchmark(Baseline = true)]
    public object? Reserve_quantity_only() => RequestBody.Parse(Reserve, AppJson.Default.ReserveRequest).Value;

    [Benchmark]
    public object? Reserve_all_fields() => RequestBody.Parse(ReserveAllFields, AppJson.Default.ReserveRequest).Value;

    /// <summary><c>POST /reservations</c> with two items.</summary>
    [Benchmark]
    public object? Cart_two_items() => RequestBody.Parse(Cart, AppJson.Default.CreateReservationRequest).Value;

    [Benchmark]
    public object? Reserve_refused_unknown_field() => RequestBody.Parse(UnknownField, AppJson.Default.ReserveRequest).Problem;
}

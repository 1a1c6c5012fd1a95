using System.Text.Json;
using Capacity.Server.Http;
using Capacity.Testing;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Capacity.Server.Tests;

/// <summary>
/// Problem bodies are written by hand (ProblemJson), for speed. A replay of a stored answer is
/// serialized by System.Text.Json, so both must give the same text, and a client must not be able to
/// tell the hand-written body from the serializer's.
/// </summary>
public sealed class ProblemJsonTests
{
    [Fact]
    public async Task Every_kind_of_problem_is_written_exactly_as_the_serializer_writes_it()
    {
        await using var app = new CapacityApp();
        var options = app.Services.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;
        ProblemHttpResult[] problems =
        [
            ApiErrors.InsufficientCapacity("Not enough capacity in Parkett: 3 requested, 0 left.", 0),
            ApiErrors.InsufficientCapacity("Not enough capacity.", null),
            ApiErrors.Validation(new Dictionary<string, string[]> { ["items[0].quantity"] = ["too big", "and odd"], ["body"] = ["<b>&'\"+"] }),
            ApiErrors.NotFound("Capacity 'Große Halle – Rang ✓' was not found."),
            ApiErrors.CapacityInactive("Capacity \u0001\u001f\\ is inactive."),
            ApiErrors.RateLimited(3),
            ApiErrors.Status(418),
            ApiErrors.Internal(),
        ];

        foreach (var problem in problems)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = options.Encoder }))
            {
                ProblemJson.Write(writer, problem.ProblemDetails, options);
            }

            Assert.Equal(
                System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(problem.ProblemDetails, options)),
                System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
    }

    [Fact]
    public async Task Refusals_written_on_many_threads_at_once_are_the_same_bytes_and_so_is_their_replay()
    {
        await using var app = new CapacityApp();
        var tenant = await app.NewTenantAsync();
        var capacity = await tenant.Client.CreateCapacityAsync("ev-problem", "Parkett", 1);
        await tenant.Client.HoldAsync(capacity, 1);

        // Many callers at once, half of them with a key, so refusals are written on many threads at once.
        var refusals = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/capacity/{capacity}/reserve") { Content = Api.Json("""{"quantity":1}""") };
            if (i % 2 == 0)
            {
                request.Headers.Add("Idempotency-Key", $"problem-{i}");
            }

            using var response = await tenant.Client.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            await Api.ProblemAsync(response, 409, "INSUFFICIENT_CAPACITY");
            return body;
        }));
        Assert.All(refusals, body => Assert.Equal(refusals[0], body));

        using var replayRequest = new HttpRequestMessage(HttpMethod.Post, $"/capacity/{capacity}/reserve") { Content = Api.Json("""{"quantity":1}""") };
        replayRequest.Headers.Add("Idempotency-Key", "problem-0");
        using var replay = await tenant.Client.SendAsync(replayRequest);
        Assert.Equal("true", Assert.Single(replay.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(refusals[0], await replay.Content.ReadAsByteArrayAsync());
        Assert.Equal(0, await tenant.Client.AvailableAsync(capacity));
        await app.AssertInvariantsAsync();
    }
}

using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capacity.Server.Capacities;
using Capacity.Server.Http;
using Capacity.Server.Ledger;
using Capacity.Server.Reservations;
using Capacity.Server.Views;
using Capacity.Testing;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Capacity.Server.Tests;

/// <summary>
/// Every JSON answer, success or problem, live or replayed, is sent in one piece with its length
/// (Http/JsonBody), from a buffer each thread reuses: so answers written at once must not bleed into
/// each other, and a replay must be the live answer's bytes.
/// </summary>
public sealed class JsonBodyTests
{
    /// <summary>Through real Kestrel, not the test host (which reports a length for any body it buffers).</summary>
    [Fact]
    public async Task Over_kestrel_every_kind_of_answer_goes_out_with_its_length_rather_than_chunked()
    {
        await using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = Path.Combine(Path.GetTempPath(), "capacity-tests", Guid.NewGuid().ToString("N")),
            ["Auth:AdminKey"] = CapacityApp.AdminKey,
        });
        using var admin = server.Client(CapacityApp.AdminKey);
        var key = (await Api.ReadAsync(await admin.PostAsync("/admin/tenants", Api.Json("""{"name":"Length"}""")), 201))["api_key"]!.GetValue<string>();
        using var client = server.Client(key);
        var pool = await client.CreateCapacityAsync("ev-length", "Pool \"Ü\" <Stalls>", 2);

        async Task<byte[]> SendAsync(HttpMethod method, string path, string? json, string? idempotencyKey, HttpStatusCode status)
        {
            using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : Api.Json(json) };
            if (idempotencyKey is not null)
            {
                request.Headers.Add("Idempotency-Key", idempotencyKey);
            }

            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(status, response.StatusCode);
            Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
            Assert.Equal(body.Length, response.Content.Headers.ContentLength);
            Assert.NotEmpty(body);
            return body;
        }

        var held = await SendAsync(HttpMethod.Post, $"/capacity/{pool}/reserve", """{"quantity":1}""", "hold-1", HttpStatusCode.Created);
        var replayed = await SendAsync(HttpMethod.Post, $"/capacity/{pool}/reserve", """{"quantity":1}""", "hold-1", HttpStatusCode.Created);
        Assert.Equal(held, replayed);
        var id = JsonNode.Parse(held)!["reservation"]!["id"]!.GetValue<string>();
        await SendAsync(HttpMethod.Get, $"/reservations/{id}", null, null, HttpStatusCode.OK);
        await SendAsync(HttpMethod.Get, $"/capacity/{pool}", null, null, HttpStatusCode.OK);
        await SendAsync(HttpMethod.Post, $"/reservations/{id}/confirm", null, null, HttpStatusCode.OK);
        var refused = await SendAsync(HttpMethod.Post, $"/capacity/{pool}/reserve", """{"quantity":2}""", "refused-1", HttpStatusCode.Conflict);
        Assert.Equal(refused, await SendAsync(HttpMethod.Post, $"/capacity/{pool}/reserve", """{"quantity":2}""", "refused-1", HttpStatusCode.Conflict));
        await SendAsync(HttpMethod.Get, "/no-such-route", null, null, HttpStatusCode.NotFound);

        Assert.Equal(1, await client.AvailableAsync(pool));
        var verify = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
        Assert.True(verify["ok"]!.GetValue<bool>(), verify.ToJsonString());
    }

    [Fact]
    public async Task Holds_answered_on_many_threads_at_once_each_get_their_own_body_and_a_replay_gets_the_same_bytes()
    {
        await using var app = new CapacityApp();
        var tenant = await app.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("ev-bodies", "Pool", 1000);

        // Quantities differ per caller, so a body that went to the wrong caller, or was written over by
        // another thread's answer, shows in the quantity as well as in the id.
        async Task<(HttpStatusCode Status, string? Location, byte[] Body)> HoldAsync(int i)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/capacity/{pool}/reserve") { Content = Api.Json($$"""{"quantity":{{1 + (i % 7)}}}""") };
            request.Headers.Add("Idempotency-Key", $"bodies-{i}");
            using var response = await tenant.Client.SendAsync(request);
            return (response.StatusCode, response.Headers.Location?.OriginalString, await response.Content.ReadAsByteArrayAsync());
        }

        var live = await Task.WhenAll(Enumerable.Range(0, 120).Select(HoldAsync));
        for (var i = 0; i < live.Length; i++)
        {
            Assert.Equal(HttpStatusCode.Created, live[i].Status);
            var reservation = JsonNode.Parse(live[i].Body)!["reservation"]!;
            Assert.Equal($"/reservations/{reservation["id"]!.GetValue<string>()}", live[i].Location);
            Assert.Equal(1 + (i % 7), reservation["items"]![0]!["quantity"]!.GetValue<int>());
        }

        var replays = await Task.WhenAll(Enumerable.Range(0, 120).Select(HoldAsync));
        for (var i = 0; i < live.Length; i++)
        {
            Assert.Equal(live[i].Location, replays[i].Location);
            Assert.Equal(live[i].Body, replays[i].Body);
        }

        Assert.Equal(1000 - live.Select((_, i) => 1 + (i % 7)).Sum(), await tenant.Client.AvailableAsync(pool));
        await app.AssertInvariantsAsync();
    }
    /// <summary>
    /// Answers are written with the source-generated context's own contract (its fast path), not
    /// through the host's options: the two must write the same text, nulls, decimals, times, quotes
    /// and non-ASCII letters included (the context's own encoder escapes the last two differently).
    /// </summary>
    [Fact]
    public async Task The_generated_contract_writes_every_answer_exactly_as_the_hosts_options_would()
    {
        await using var app = new CapacityApp();
        var host = app.Services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var at = new DateTimeOffset(2026, 11, 21, 23, 23, 9, 603, TimeSpan.FromHours(1));
        var price = new LockedPriceResponse(Guid.CreateVersion7(), "Adult \"front\" row", 49.5m, 2.25m, 0m, 0.2m, "EUR", at);
        var capacity = new CapacityResponse(
            Guid.CreateVersion7(), "ev-1", null, "Stalls ü", null, "unlimited", null, null, 3, 0, false, [], at, at);
        var reservation = new ReservationResponse(
            Guid.CreateVersion7(), "confirmed",
            [new ReservationItemResponse(capacity.Id, 2, price), new ReservationItemResponse(Guid.CreateVersion7(), 1, null)],
            [new TotalResponse("EUR", 99m, 4.5m, 20.7m, 124.2m)], at, at.AddMinutes(15), at.AddMinutes(1), null);
        object[] answers =
        [
            new ReserveResponse("Capacity reserved successfully", reservation, capacity, price),
            new ReserveResponse("Capacity reserved successfully", reservation with { Totals = [] }, capacity with { TotalCapacity = 10, AvailableCapacity = 7 }, null),
            reservation,
            capacity,
            new CapacityListResponse([capacity, capacity with { ParentIds = [Guid.CreateVersion7()] }]),
            new LedgerPageResponse("ev-1", [new LedgerEntryResponse(9, "hold", capacity.Id, reservation.Id, 2, 0, at)], null),
        ];

        foreach (var answer in answers)
        {
            var generated = JsonResults.ToUtf8Bytes(answer, host);
            var viaHost = JsonSerializer.SerializeToUtf8Bytes(answer, answer.GetType(), host);
            Assert.Equal(System.Text.Encoding.UTF8.GetString(viaHost), System.Text.Encoding.UTF8.GetString(generated));
            Assert.Same(AppJson.Default.Options, JsonResults.TypeInfo(answer.GetType(), host).Options);
        }
    }
}

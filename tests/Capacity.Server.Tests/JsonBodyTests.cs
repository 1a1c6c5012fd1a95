using System.Net;
using System.Text.Json.Nodes;
using Capacity.Testing;

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
        var pool = await client.CreateCapacityAsync("ev-length", "Pool", 2);

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
}

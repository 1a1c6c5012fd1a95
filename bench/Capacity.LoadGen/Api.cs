using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capacity.LoadGen;

/// <summary>
/// The few API calls the load generator makes outside the measured loop: its own tenant and event,
/// the pool's counters at the end, and the admin audit. Plain JSON, no server types, so it
/// measures the service exactly as any client sees it.
/// </summary>
internal sealed class Api(HttpClient http, string adminKey)
{
    private readonly AuthenticationHeaderValue _admin = new("Bearer", adminKey);

    /// <summary>A new tenant; returns its API key.</summary>
    public async Task<string> CreateTenantAsync(string name, CancellationToken ct)
    {
        var body = await SendAsync(HttpMethod.Post, "/admin/tenants", _admin, new JsonObject { ["name"] = name }, ct);
        return body["api_key"]!.GetValue<string>();
    }

    /// <summary>A capacity of the event; returns its id.</summary>
    public async Task<string> CreateCapacityAsync(AuthenticationHeaderValue tenant, string eventId, JsonObject request, CancellationToken ct)
    {
        var body = await SendAsync(HttpMethod.Post, $"/events/{eventId}/capacity", tenant, request, ct);
        return body["id"]!.GetValue<string>();
    }

    /// <summary>Subscribes an endpoint to every event type.</summary>
    public async Task SubscribeAsync(AuthenticationHeaderValue tenant, string url, CancellationToken ct)
    {
        string[] all =
        [
            "capacity.sold_out", "capacity.available", "capacity.low", "capacity.state_changed", "reservation.confirmed", "reservation.released",
            "reservation.expired", "reservation.cancelled", "allocation.closed", "waitlist.offered", "waitlist.lapsed",
        ];
        await SendAsync(HttpMethod.Post, "/webhooks", tenant, new JsonObject { ["url"] = url, ["events"] = new JsonArray([.. all.Select(e => JsonValue.Create(e))]) }, ct);
    }

    /// <summary>Any other call of the setup (an allocation, a limit, a waiting list); returns the answer's body.</summary>
    public Task<JsonNode> SendAsync(HttpMethod method, AuthenticationHeaderValue tenant, string path, JsonObject body, CancellationToken ct) =>
        SendAsync(method, path, tenant, body, ct);

    public async Task<(long Reserved, long Sold)> CountersAsync(AuthenticationHeaderValue tenant, string capacityId, CancellationToken ct)
    {
        var body = await SendAsync(HttpMethod.Get, $"/capacity/{capacityId}", tenant, null, ct);
        return (body["reserved_capacity"]!.GetValue<long>(), body["sold_count"]!.GetValue<long>());
    }

    /// <summary><c>GET /admin/verify</c>: every counter recomputed from the holds and the ledger, across the whole store.</summary>
    public async Task<(bool Ok, int Capacities, long LiveReservations, string[] Violations)> VerifyAsync(CancellationToken ct)
    {
        var body = await SendAsync(HttpMethod.Get, "/admin/verify", _admin, null, ct);
        return (
            body["ok"]!.GetValue<bool>(),
            body["capacities"]!.GetValue<int>(),
            body["live_reservations"]!.GetValue<long>(),
            [.. body["violations"]!.AsArray().Select(v => v!.GetValue<string>())]);
    }

    private async Task<JsonNode> SendAsync(HttpMethod method, string path, AuthenticationHeaderValue auth, JsonObject? json, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = auth;
        if (json is not null)
        {
            request.Content = new StringContent(json.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} {path} answered {(int)response.StatusCode}: {text}");
        }

        return JsonNode.Parse(text) ?? throw new JsonException($"{method} {path} answered an empty body");
    }
}

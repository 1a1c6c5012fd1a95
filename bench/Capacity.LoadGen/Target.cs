using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Capacity.LoadGen;

/// <summary>
/// What the load is aimed at: a tenant of its own and one hot event, made through the API, with a
/// limited pool, a capped child and a shared child. Request bodies are built once.
/// </summary>
internal sealed class Target
{
    private static readonly byte[] OneTicket = Encoding.UTF8.GetBytes("{\"quantity\":1}");
    private readonly byte[] _cart;

    private Target(AuthenticationHeaderValue auth, string eventId, string pool, string capped, string shared)
    {
        Auth = auth;
        EventId = eventId;
        Pool = pool;
        Capped = capped;
        Shared = shared;
        _cart = Encoding.UTF8.GetBytes(
            $"{{\"items\":[{{\"capacity_id\":\"{capped}\",\"quantity\":1}},{{\"capacity_id\":\"{shared}\",\"quantity\":1}}]}}");
    }

    public AuthenticationHeaderValue Auth { get; }
    public string EventId { get; }
    public string Pool { get; }
    public string Capped { get; }
    public string Shared { get; }

    public static async Task<Target> CreateAsync(Api api, Plan plan, CancellationToken ct)
    {
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
        var auth = new AuthenticationHeaderValue("Bearer", await api.CreateTenantAsync($"loadgen {plan.Scenario} {stamp}", ct));
        var eventId = $"loadgen-{plan.Scenario}-{stamp}";
        var pool = await api.CreateCapacityAsync(auth, eventId, new JsonObject { ["section_name"] = "Pool", ["total_capacity"] = plan.PoolTotal }, ct);
        var capped = await api.CreateCapacityAsync(auth, eventId, new JsonObject
        {
            ["section_name"] = "Capped", ["total_capacity"] = plan.CappedTotal, ["parent_ids"] = new JsonArray(pool), ["mode"] = "capped",
        }, ct);
        var shared = await api.CreateCapacityAsync(auth, eventId, new JsonObject
        {
            ["section_name"] = "Shared", ["parent_ids"] = new JsonArray(pool), ["mode"] = "shared",
        }, ct);
        return new Target(auth, eventId, pool, capped, shared);
    }

    /// <summary>Single-ticket requests alternate between the two children, as the engine bench does.</summary>
    public HttpRequestMessage Request(Operation op, long n, string? reservationId)
    {
        var child = (n & 1) == 0 ? Capped : Shared;
        var request = op switch
        {
            Operation.Hold => Post($"/capacity/{child}/reserve", OneTicket),
            Operation.Cart => Post("/reservations", _cart),
            Operation.Confirm => Post($"/reservations/{reservationId}/confirm", null),
            Operation.Release => Post($"/reservations/{reservationId}/release", null),
            Operation.Check => Post($"/capacity/{child}/check", OneTicket),
            Operation.Read => new HttpRequestMessage(HttpMethod.Get, $"/capacity/{child}"),
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
        };
        request.Headers.Authorization = Auth;
        return request;
    }

    private static HttpRequestMessage Post(string path, byte[]? body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        return request;
    }
}

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Capacity.LoadGen;

/// <summary>
/// What the load is aimed at: a tenant of its own and one hot event, made through the API, with a
/// limited pool, a capped child and a shared child. Request bodies are built once, except the rules
/// scenario's holds, which each name a buyer.
/// </summary>
internal sealed class Target
{
    /// <summary>The rules scenario's per-buyer limit: each buyer key is used for this many single-ticket holds, so every hold fits.</summary>
    public const int PerBuyer = 4;

    /// <summary>The rules scenario's allocation on the pool, set aside before the load (counted in the pool's reserved).</summary>
    private const int Allocated = 1000;

    private static readonly byte[] OneTicket = Encoding.UTF8.GetBytes("{\"quantity\":1}");
    private readonly byte[] _cart;

    private Target(AuthenticationHeaderValue auth, string eventId, string pool, string capped, string shared, bool buyerKeys, int setAside)
    {
        Auth = auth;
        EventId = eventId;
        Pool = pool;
        Capped = capped;
        Shared = shared;
        BuyerKeys = buyerKeys;
        SetAside = setAside;
        _cart = Encoding.UTF8.GetBytes(
            $"{{\"items\":[{{\"capacity_id\":\"{capped}\",\"quantity\":1}},{{\"capacity_id\":\"{shared}\",\"quantity\":1}}]}}");
    }

    public AuthenticationHeaderValue Auth { get; }
    public string EventId { get; }
    public string Pool { get; }
    public string Capped { get; }
    public string Shared { get; }

    /// <summary>Holds name a buyer (the rules scenario's limit covers the pool); usage is kept for keyed holds only.</summary>
    public bool BuyerKeys { get; }

    /// <summary>Tickets of the pool's reserved that are no hold of this run (an allocation).</summary>
    public int SetAside { get; }

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
        await SwitchRulesOnAsync(api, auth, eventId, pool, capped, shared, plan.RulesOn, ct);
        var limit = plan.RulesOn.HasFlag(Rules.Limit);
        return new Target(auth, eventId, pool, capped, shared, limit, plan.RulesOn.HasFlag(Rules.Allocation) ? Allocated : 0);
    }

    /// <summary>
    /// The load aimed at bench/Capacity.Echo: nothing to set up, any ids will do. The key has a real
    /// key's length, so the requests are the server's byte for byte but for the ids.
    /// </summary>
    public static Target Echo()
    {
        var pool = Guid.CreateVersion7().ToString();
        return new Target(new AuthenticationHeaderValue("Bearer", "cap_" + new string('e', 43)), "echo", pool, Guid.CreateVersion7().ToString(), Guid.CreateVersion7().ToString(), false, 0);
    }

    /// <summary>
    /// The rules the issue names, each in the state that makes a public hold consult it: an open
    /// allocation on the pool (the pool's reserved includes its size); waiting lists enabled on the
    /// capped child and on a third child whose sale starts in 2030, with one entry waiting there, so
    /// the pool is owed units while holds go on (an entry on a section on sale would be offered at
    /// once and leave no demand); a per-buyer limit over the pool and both children. The webhook
    /// subscriber is the runner's (<c>--webhook</c>, <c>--webhook-url</c>).
    /// </summary>
    private static async Task SwitchRulesOnAsync(
        Api api, AuthenticationHeaderValue auth, string eventId, string pool, string capped, string shared, Rules rules, CancellationToken ct)
    {
        if (rules.HasFlag(Rules.Allocation))
        {
            await api.SendAsync(HttpMethod.Post, auth, $"/capacity/{pool}/allocations", new JsonObject { ["name"] = "box office", ["quantity"] = Allocated }, ct);
        }

        if (rules.HasFlag(Rules.Limit))
        {
            await api.SendAsync(HttpMethod.Post, auth, $"/events/{eventId}/limits", new JsonObject
            {
                ["name"] = "per buyer", ["capacity_ids"] = new JsonArray(pool, capped, shared), ["per_buyer_max"] = PerBuyer,
            }, ct);
        }

        if (!rules.HasFlag(Rules.Waitlist))
        {
            return;
        }

        var later = await api.CreateCapacityAsync(auth, eventId, new JsonObject
        {
            ["section_name"] = "Later", ["total_capacity"] = 10, ["parent_ids"] = new JsonArray(pool), ["sale_starts_at"] = "2030-01-01T00:00:00Z",
        }, ct);
        var enabled = new JsonObject { ["waitlist"] = new JsonObject { ["enabled"] = true } };
        await api.SendAsync(HttpMethod.Put, auth, $"/capacity/{later}", enabled, ct);
        await api.SendAsync(HttpMethod.Put, auth, $"/capacity/{capped}", enabled.DeepClone().AsObject(), ct);
        var entry = await api.SendAsync(HttpMethod.Post, auth, "/waitlist", new JsonObject
        {
            ["items"] = new JsonArray(new JsonObject { ["capacity_id"] = later, ["quantity"] = 2 }),
        }, ct);
        if (entry["status"]?.GetValue<string>() != "waiting")
        {
            throw new InvalidOperationException($"The waiting-list entry should wait, and is {entry["status"]}.");
        }
    }

    /// <summary>
    /// Single-ticket requests alternate between the two children, as the engine bench does.
    /// <paramref name="sent"/> counts this connection's requests; with buyer keys, each key serves
    /// <see cref="PerBuyer"/> of them, so no hold passes the limit.
    /// </summary>
    public HttpRequestMessage Request(Operation op, int connection, long sent, string? reservationId)
    {
        var child = ((connection + sent) & 1) == 0 ? Capped : Shared;
        var request = op switch
        {
            Operation.Hold => Post($"/capacity/{child}/reserve", BuyerKeys ? Encoding.UTF8.GetBytes($"{{\"quantity\":1,\"buyer_key\":\"c{connection}-{sent / PerBuyer}\"}}") : OneTicket),
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

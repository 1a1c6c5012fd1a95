using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Capacity.Server.Tests;

/// <summary>
/// Hostile input at volume: 100,000 generated requests across every route, each carrying at least
/// one defect that must get it rejected (bad or missing credentials, another tenant's ids, unknown or
/// malformed ids, malformed, truncated, mistyped, out-of-range or oversized bodies, bad headers).
/// Every answer must be a 4xx problem, none a 5xx, and afterwards every row of the database must be
/// as it was and every invariant must hold. CAPACITY_FUZZ_SEED replays a run; CAPACITY_FUZZ_COUNT
/// sets its size.
/// </summary>
public sealed class FuzzTests : IAsyncLifetime
{
    private readonly CapacityApp _app = new(new() { ["Capacity:RateLimit:PermitsPerSecond"] = "0" });
    private Tenant _a = null!;
    private Tenant _b = null!;
    private Ids _ids = null!;

    private sealed record Ids(string Event, string Tenant, string Pool, string Child, string Price, string Hold, string Sold);

    public async ValueTask InitializeAsync()
    {
        _a = await _app.NewTenantAsync("A");
        _b = await _app.NewTenantAsync("B");
        var pool = await _a.Client.CreateCapacityAsync("fuzz", "Pool", 100);
        var child = await _a.Client.CreateCapacityAsync("fuzz", "Child", 40, pool);
        var price = (await Api.ReadAsync(await _a.Client.PostAsync($"/capacity/{child}/pricing", Api.Json(new { name = "Std", base_price = 20m, currency = "EUR" })), 201))["id"]!.GetValue<string>();
        var hold = await _a.Client.HoldAsync(child, 2, 120);
        var sold = await _a.Client.HoldAsync(pool, 3, 120);
        await Api.ReadAsync(await _a.Client.TransitAsync(sold, "confirm"), 200);
        _ids = new Ids("fuzz", _a.Id.ToString(), pool, child, price, hold, sold);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task A_hundred_thousand_hostile_requests_get_4xx_problems_and_change_nothing()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CAPACITY_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        var count = int.TryParse(Environment.GetEnvironmentVariable("CAPACITY_FUZZ_COUNT"), CultureInfo.InvariantCulture, out var c) ? c : 100_000;
        var before = StateSnapshot.OfDatabase(_app);

        using var anonymous = _app.CreateClient();
        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentQueue<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            var random = new Random(HashCode.Combine(seed, i));
            var (request, defect) = Generate(random);
            using (request)
            {
                using var response = await anonymous.SendAsync(request, ct);
                var status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                var media = response.Content.Headers.ContentType?.MediaType;
                if (status is < 400 or >= 500 || media != "application/problem+json")
                {
                    var body = await response.Content.ReadAsStringAsync(ct);
                    failures.Enqueue($"#{i} {defect}: {request.Method} {request.RequestUri} → {status} {media} {body[..Math.Min(300, body.Length)]}");
                }
            }
        });

        Assert.True(failures.IsEmpty, $"seed {seed} (CAPACITY_FUZZ_SEED={seed}): {failures.Count} requests not rejected with a 4xx problem:\n{string.Join("\n", failures.Take(20))}");
        Assert.Equal(count, statuses.Values.Sum());
        Assert.True(statuses.Keys.Count >= 5, $"too few kinds of answer: {string.Join(", ", statuses)}");
        Assert.Equal(before, StateSnapshot.OfDatabase(_app));
        await _app.AssertInvariantsAsync();
    }

    private static readonly string[] JunkIds =
        ["x", "1", "00000000-0000-0000-0000-00000000000G", "'; DROP TABLE capacities; --", "%F0%9F%92%A5", "..%2F..%2Fadmin", new string('a', 300), "%C3%A9v%C3%A9nement", "null", "-1", "%E2%80%AE"];

    private static readonly string[] JunkBodies =
        ["", "{", "}", "[]", "null", "true", "42", "\"text\"", "{\"a\":}", "{'quantity':1}", "{\"quantity\":1,}", "{\"quantity\":1}}", "\u0000", "{\"quantity\":01}", "{\"quantity\":1e999}", "{\"quantity\":NaN}", "\uFEFF{\"quantity\":1"];

    private (HttpRequestMessage Request, string Defect) Generate(Random r)
    {
        // Each route: method, path with {id}/{ev} holes, and a valid body builder (null: no body).
        var route = Routes[r.Next(Routes.Length)];
        var defects = new List<string>();
        var token = route.Admin ? CapacityApp.AdminKey : _a.Key;
        var id = route.Id(_ids);
        var ev = _ids.Event;
        var body = route.Body?.Invoke(_ids, r);
        var headers = new List<(string, string)>();

        // Pick one defect class (sometimes two); everything else stays valid, so the defect alone must be the reason for the rejection.
        var kinds = new List<int> { r.Next(Kinds(route)) };
        if (r.Next(5) == 0)
        {
            kinds.Add(r.Next(Kinds(route)));
        }

        foreach (var kind in kinds)
        {
            switch (kind)
            {
                case 0: // credentials
                    switch (r.Next(6))
                    {
                        case 0: token = null; defects.Add("no token"); break;
                        case 1: token = "cap_" + RandomText(r, 20, ascii: true); defects.Add("forged key"); break;
                        case 2: token = "eyJhbGciOiJub25lIn0." + RandomText(r, 10, ascii: true) + "."; defects.Add("forged jwt"); break;
                        case 3: token = route.Admin ? _a.Key : CapacityApp.AdminKey; defects.Add("wrong kind of credential"); break;
                        case 4: token = new string('k', 5000); defects.Add("huge token"); break;
                        default: headers.Add(("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("a:b")))); token = null; defects.Add("basic auth"); break;
                    }

                    break;
                case 1 when !route.HasId && !route.Path.Contains("{ev}", StringComparison.Ordinal):
                    // Nothing in the path to spoil: spoil the credentials instead.
                    token = null;
                    defects.Add("no token");
                    break;
                case 1: // ids
                    if (route.HasId && r.Next(3) == 0 && !route.Admin)
                    {
                        token = _b.Key;
                        defects.Add("another tenant's ids");
                    }
                    else if (route.HasId)
                    {
                        id = r.Next(2) == 0 ? Guid.NewGuid().ToString() : JunkIds[r.Next(JunkIds.Length)];
                        defects.Add($"id {id}");
                    }
                    else
                    {
                        ev = r.Next(2) == 0 ? new string('e', 65) : JunkIds[r.Next(3, 6)].Replace("..%2F", "a%20b", StringComparison.Ordinal);
                        defects.Add($"event {ev}");
                    }

                    break;
                case 2 when defects.Any(d => d.Contains("body", StringComparison.Ordinal) || d.Contains("field", StringComparison.Ordinal) || d.Contains("type", StringComparison.Ordinal) || d.Contains("range", StringComparison.Ordinal) || d.Contains("UTF", StringComparison.Ordinal)):
                    break; // the body is already broken once
                case 2: // body
                    (body, var what) = BreakBody(route, body, r);
                    defects.Add(what);
                    break;
                default: // headers
                    headers.Add(("Idempotency-Key", r.Next(2) == 0 ? new string('k', 256) : "k\u00e9y-" + RandomText(r, 5, ascii: false)));
                    defects.Add("bad Idempotency-Key");
                    break;
            }
        }

        var path = route.Path.Replace("{id}", id, StringComparison.Ordinal).Replace("{ev}", ev, StringComparison.Ordinal);
        var request = new HttpRequestMessage(route.Method, path);
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        return (request, string.Join(" + ", defects));
    }

    /// <summary>Defect classes a route can carry: credentials and ids always; bodies where it has one; headers on writes.</summary>
    private static int Kinds(Route route) => route.Method == HttpMethod.Get ? 2 : 4;

    private static (byte[] Body, string What) BreakBody(Route route, byte[]? valid, Random r)
    {
        if (valid is null || valid.Length <= 2)
        {
            // A route that takes no body (or only {}): any real content is refused.
            return (Encoding.UTF8.GetBytes("{\"x\":" + r.Next() + "}"), "a body where none belongs");
        }

        var text = Encoding.UTF8.GetString(valid);
        switch (r.Next(9))
        {
            case 0:
                return (Encoding.UTF8.GetBytes(JunkBodies[r.Next(JunkBodies.Length)]), "junk body");
            case 1:
                return (valid[..r.Next(1, valid.Length - 1)], "truncated body");
            case 2:
                return (Encoding.UTF8.GetBytes(text[..^1] + ",\"unexpected\":1}"), "unknown field");
            case 3:
                return (Encoding.UTF8.GetBytes(route.Mistype(text, r)), "wrong type");
            case 4:
                return (Encoding.UTF8.GetBytes(route.OutOfRange(text, r)), "out of range");
            case 5:
                return (Encoding.UTF8.GetBytes(text[..^1] + ",\"pad\":\"" + new string('x', 70_000) + "\"}"), "oversized body");
            case 6:
                return (Encoding.UTF8.GetBytes(route.Drop(text)), "missing required field");
            case 7:
                return ([.. valid[..^1], (byte)',', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'], "invalid UTF-8");
            default:
                return (Encoding.UTF8.GetBytes(text[..^1] + "," + text[1..]), "repeated fields");
        }
    }

    private static string RandomText(Random r, int length, bool ascii) =>
        new([.. Enumerable.Range(0, length).Select(_ => ascii ? (char)r.Next('a', 'z' + 1) : (char)r.Next(0x20, 0x3000))]);

    private sealed record Route(
        HttpMethod Method,
        string Path,
        bool Admin,
        Func<Ids, string> Id,
        Func<Ids, Random, byte[]?>? Body,
        Func<string, Random, string> Mistype,
        Func<string, Random, string> OutOfRange,
        Func<string, string> Drop)
    {
        public bool HasId => Path.Contains("{id}", StringComparison.Ordinal);
    }

    private static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);

    private static string Set(string json, string field, string value)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node[field] = JsonNode.Parse(value);
        return node.ToJsonString();
    }

    private static string Without(string json, string field)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove(field);
        return node.ToJsonString();
    }

    /// <param name="required">A field whose absence is an error; null when the route has none (a partial update), then the body is cut short instead.</param>
    private static Route Write(HttpMethod method, string path, Func<Ids, string> id, string? body, string field, string[] wrongTypes, string[] outOfRange, string? required, bool admin = false) =>
        new(method, path, admin, id, body is null ? null : (_, _) => Json(body),
            (text, r) => wrongTypes.Length == 0 ? "[" : Set(text, field, wrongTypes[r.Next(wrongTypes.Length)]),
            (text, r) => outOfRange.Length == 0 ? "[" : Set(text, field, outOfRange[r.Next(outOfRange.Length)]),
            text => required is null ? text[..^1] : Without(text, required));

    private static Route Read(string path, Func<Ids, string> id) =>
        new(HttpMethod.Get, path, false, id, null, (t, _) => t, (t, _) => t, t => t);

    private static readonly string[] Quantities = ["0", "-1", "101", "2147483648", "-9223372036854775809", "99999999999999999999"];
    private static readonly string[] NotNumbers = ["\"1\"", "true", "[1]", "{\"n\":1}", "1.5"];
    private static readonly string[] NotStrings = ["1", "true", "[\"a\"]", "{}"];

    private static readonly Route[] Routes =
    [
        Write(HttpMethod.Post, "/events/{ev}/capacity", _ => "", """{"section_name":"S","total_capacity":10}""", "section_name", NotStrings, ["\"\"", "\"   \"", "\"" + new string('n', 10_000) + "\"", "\"a\\u0000b\""], "section_name"),
        Write(HttpMethod.Post, "/events/{ev}/capacity", _ => "", """{"section_name":"S","total_capacity":10}""", "total_capacity", ["\"10\"", "true", "[10]"], ["-1", "1000001", "2147483648", "1e10"], "section_name"),
        Read("/events", _ => ""),
        Read("/events/{ev}/capacity", _ => ""),
        Read("/events/{ev}/capacity/total", _ => ""),
        Read("/events/{ev}/capacity/stream", _ => ""),
        Read("/events/{ev}/ledger", _ => ""),
        Read("/capacity/{id}", i => i.Child),
        Read("/capacity/{id}/pricing", i => i.Child),
        Read("/reservations/{id}", i => i.Hold),
        Read("/pricing/{id}", i => i.Price),
        Read("/admin/verify", _ => "") with { Admin = true },
        Write(HttpMethod.Put, "/capacity/{id}", i => i.Child, """{"total_capacity":41}""", "total_capacity", ["\"41\"", "true", "[41]", "1.5"], ["-5", "1000001", "1"], null),
        Write(HttpMethod.Put, "/capacity/{id}", i => i.Child, """{"section_name":"Renamed"}""", "section_name", NotStrings, ["\"\"", "\"" + new string('n', 300) + "\"", "null"], null),
        Write(HttpMethod.Post, "/capacity/{id}/check", i => i.Child, """{"quantity":1}""", "quantity", NotNumbers, Quantities, "quantity"),
        Write(HttpMethod.Post, "/capacity/{id}/reserve", i => i.Child, """{"quantity":1,"reservation_minutes":5}""", "quantity", NotNumbers, Quantities, "quantity"),
        Write(HttpMethod.Post, "/capacity/{id}/reserve", i => i.Child, """{"quantity":1,"reservation_minutes":5}""", "reservation_minutes", NotNumbers, ["0", "121", "-3", "2147483648"], "quantity"),
        Write(HttpMethod.Post, "/reservations", _ => "", "{}", "items", ["{}", "\"x\"", "1"], ["[]"], "items") with
        {
            Body = (i, _) => Json($$"""{"items":[{"capacity_id":"{{i.Child}}","quantity":1}],"reservation_minutes":5}"""),
        },
        Write(HttpMethod.Post, "/reservations/{id}/confirm", i => i.Hold, "{}", "x", [], [], null),
        Write(HttpMethod.Post, "/reservations/{id}/release", i => i.Hold, "{}", "x", [], [], null),
        Write(HttpMethod.Post, "/reservations/{id}/cancel", i => i.Sold, "{}", "x", [], [], null),
        Write(HttpMethod.Post, "/reservations/{id}/extend", i => i.Hold, """{"minutes":5}""", "minutes", NotNumbers, ["0", "121", "-1", "2147483648"], "minutes"),
        Write(HttpMethod.Post, "/capacity/{id}/pricing", i => i.Child, """{"name":"P","base_price":10,"currency":"EUR"}""", "base_price", ["\"10\"", "true", "[10]"], ["-1", "0.00001", "1000000000.01", "1e30"], "base_price"),
        Write(HttpMethod.Post, "/capacity/{id}/pricing", i => i.Child, """{"name":"P","base_price":10,"currency":"EUR"}""", "currency", NotStrings, ["\"eur\"", "\"EURO\"", "\"\"", "\"E1R\""], "currency"),
        Write(HttpMethod.Put, "/pricing/{id}", i => i.Price, """{"current_price":12}""", "current_price", ["\"12\"", "true", "[12]"], ["-1", "0.123456", "1e30"], null),
        Write(HttpMethod.Put, "/pricing/{id}", i => i.Price, """{"tax_rate":0.2}""", "tax_rate", ["\"0.2\"", "false"], ["1.01", "-0.1", "0.1234567"], null),
        Write(HttpMethod.Post, "/admin/tenants", _ => "", """{"name":"T"}""", "name", NotStrings, ["\"\"", "\"" + new string('t', 300) + "\"", "\" \""], "name", admin: true),
        Write(HttpMethod.Post, "/admin/tenants/{id}/keys", i => i.Tenant, "{}", "x", [], [], null, admin: true),
    ];
}

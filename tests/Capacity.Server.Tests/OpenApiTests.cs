using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Capacity.Server.Tests;

/// <summary>
/// The OpenAPI document must describe the API as it is: every route is in it, every answer a route
/// gives is a documented status, and every JSON body has exactly the fields its documented schema names.
/// </summary>
public sealed class OpenApiTests : IAsyncLifetime
{
    private readonly CapacityApp _app = new(manualClock: true);
    private JsonObject _document = null!;

    public async ValueTask InitializeAsync()
    {
        using var anonymous = _app.CreateClient();
        _document = await Api.ReadAsync(await anonymous.GetAsync("/openapi/v1.json"), 200);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public void The_document_is_openapi_3_1_with_the_bearer_scheme()
    {
        Assert.StartsWith("3.1", _document["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("bearer", _document["components"]!["securitySchemes"]!["bearer"]!["scheme"]!.GetValue<string>());
    }

    [Fact]
    public void Every_route_of_the_app_is_in_the_document_with_a_summary()
    {
        var endpoints = _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is not { ExcludeFromDescription: true })
            .Select(e => (Path: "/" + e.RoutePattern.RawText!.TrimStart('/'), Methods: e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []))
            .Where(e => !e.Path.StartsWith("/openapi", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(endpoints);
        foreach (var (path, methods) in endpoints)
        {
            foreach (var method in methods)
            {
                var operation = _document["paths"]?[path]?[method.ToLowerInvariant()];
                Assert.True(operation is not null, $"{method} {path} is not in the OpenAPI document");
                Assert.False(string.IsNullOrWhiteSpace(operation!["summary"]?.GetValue<string>()), $"{method} {path} has no summary");
            }
        }
    }

    [Fact]
    public async Task Every_answer_of_a_full_scenario_is_documented_and_matches_its_schema()
    {
        var checkedCount = 0;
        async Task<JsonObject> Call(HttpClient client, HttpMethod method, string template, string path, object? body = null)
        {
            var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = body as HttpContent ?? JsonContent.Create(body);
            }

            var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var operation = _document["paths"]![template]![method.Method.ToLowerInvariant()]!;

            // A body the route took names only fields its documented request schema names. Names only:
            // a partial update sends what it changes, and the update bodies of other routes still list
            // every field as required (PUT /capacity/{id}'s is checked on its own below).
            if (response.IsSuccessStatusCode && body is not null and not HttpContent)
            {
                var requestSchema = operation["requestBody"]?["content"]?["application/json"]?["schema"];
                Assert.True(requestSchema is not null, $"{method} {template} took a JSON body it does not document");
                AssertMatches(JsonSerializer.SerializeToNode(body, JsonSerializerOptions.Web)!, requestSchema!, $"{method} {template} request", checkRequired: false);
            }

            var documented = operation["responses"]![status];
            Assert.True(documented is not null, $"{method} {template} answered {status}, which is not documented: {text}");
            var content = documented!["content"]?.AsObject();
            if (content is not null && text.Length > 0)
            {
                var media = response.Content.Headers.ContentType!.MediaType!;
                var schema = content[media]?["schema"];
                Assert.True(schema is not null, $"{method} {template} {status} answered {media}, documented as {string.Join(", ", content.Select(c => c.Key))}");
                AssertMatches(JsonNode.Parse(text)!, schema!, $"{method} {template} {status}");
            }

            checkedCount++;
            return text.Length > 0 && text[0] == '{' ? JsonNode.Parse(text)!.AsObject() : [];
        }

        using var admin = _app.Admin();
        // Elevated, so that the scenario can reclaim an expired hold below.
        var tenant = await Call(admin, HttpMethod.Post, "/admin/tenants", "/admin/tenants", new { name = "Docs", key = new { name = "Scenario", scope = "elevated" } });
        var t = _app.WithToken(tenant["api_key"]!.GetValue<string>());
        var tenantId = tenant["tenant_id"]!.GetValue<string>();
        var second = await Call(admin, HttpMethod.Post, "/admin/tenants/{id}/keys", $"/admin/tenants/{tenantId}/keys");
        var reader = await Call(admin, HttpMethod.Post, "/admin/tenants/{id}/keys", $"/admin/tenants/{tenantId}/keys", new { name = "Reader", scope = "read", expires_at = DateTimeOffset.UtcNow.AddDays(30) });
        await Call(admin, HttpMethod.Post, "/admin/tenants/{id}/keys", $"/admin/tenants/{tenantId}/keys", new { scope = "owner" });
        await Call(admin, HttpMethod.Post, "/admin/tenants/{id}/keys", $"/admin/tenants/{Guid.NewGuid()}/keys");
        await Call(admin, HttpMethod.Get, "/admin/tenants/{id}/keys", $"/admin/tenants/{tenantId}/keys");
        Assert.Equal(400, (await Call(admin, HttpMethod.Get, "/admin/tenants/{id}/keys", $"/admin/tenants/{tenantId}/keys?limit=0"))["status"]!.GetValue<int>());
        await Call(admin, HttpMethod.Get, "/admin/tenants/{id}/keys", $"/admin/tenants/{Guid.NewGuid()}/keys");
        await Call(admin, HttpMethod.Delete, "/admin/tenants/{id}/keys/{keyId}", $"/admin/tenants/{tenantId}/keys/{second["key"]!["id"]}");
        await Call(admin, HttpMethod.Delete, "/admin/tenants/{id}/keys/{keyId}", $"/admin/tenants/{tenantId}/keys/{Guid.NewGuid()}");
        var other = await Call(admin, HttpMethod.Post, "/admin/tenants", "/admin/tenants", new { name = "Paused" });
        await Call(admin, HttpMethod.Post, "/admin/tenants/{id}/disable", $"/admin/tenants/{other["tenant_id"]}/disable");
        await Call(_app.WithToken(other["api_key"]!.GetValue<string>()), HttpMethod.Get, "/events", "/events");
        await Call(admin, HttpMethod.Post, "/admin/tenants/{id}/enable", $"/admin/tenants/{other["tenant_id"]}/enable");
        await Call(admin, HttpMethod.Post, "/admin/tenants/{id}/enable", $"/admin/tenants/{Guid.NewGuid()}/enable");
        await Call(admin, HttpMethod.Get, "/admin/verify", "/admin/verify");
        await Call(t, HttpMethod.Get, "/admin/verify", "/admin/verify");

        var pool = (await Call(t, HttpMethod.Post, "/events/{eventId}/capacity", "/events/docs/capacity", new { section_name = "Pool", total_capacity = 10 }))["id"]!.GetValue<string>();
        var child = (await Call(t, HttpMethod.Post, "/events/{eventId}/capacity", "/events/docs/capacity", new { section_name = "Child", parent_ids = new[] { pool } }))["id"]!.GetValue<string>();
        await Call(t, HttpMethod.Post, "/events/{eventId}/capacity", "/events/docs/capacity", new { section_name = "X", unknown = 1 });
        await Call(t, HttpMethod.Get, "/events/{eventId}/capacity", "/events/docs/capacity");
        await Call(_app.WithToken(reader["api_key"]!.GetValue<string>()), HttpMethod.Post, "/events/{eventId}/capacity", "/events/docs/capacity", new { section_name = "Read only", total_capacity = 1 });
        await Call(t, HttpMethod.Get, "/events/{eventId}/capacity/total", "/events/docs/capacity/total");
        await Call(t, HttpMethod.Get, "/events", "/events");
        Assert.Equal(400, (await Call(t, HttpMethod.Get, "/events", "/events?limit=many"))["status"]!.GetValue<int>());
        await Call(_app.WithToken(reader["api_key"]!.GetValue<string>()), HttpMethod.Get, "/credential", "/credential");
        await Call(t, HttpMethod.Get, "/capacity/{id}", $"/capacity/{child}");
        await Call(t, HttpMethod.Get, "/capacity/{id}", $"/capacity/{Guid.NewGuid()}");
        await Call(t, HttpMethod.Put, "/capacity/{id}", $"/capacity/{pool}", new { total_capacity = 12 });
        var first = (await Call(t, HttpMethod.Post, "/events/{eventId}/capacity", "/events/docs/capacity", new { section_name = "First release", total_capacity = 5 }))["id"]!.GetValue<string>();
        var release = (await Call(t, HttpMethod.Post, "/events/{eventId}/capacity", "/events/docs/capacity", new { section_name = "Second", total_capacity = 5 }))["id"]!.GetValue<string>();
        var now = _app.Clock!.GetUtcNow();
        var every = await Call(t, HttpMethod.Put, "/capacity/{id}", $"/capacity/{release}", new
        {
            section_name = "Second release", section_code = "R2", total_capacity = 6, is_active = true, sale_starts_at = now.AddDays(-1), sale_ends_at = now.AddDays(30),
            opens_after_sold_out_of = first, close_when_sold_out = true, overbook_limit = 1, low_watermark = 2, waitlist = new { enabled = true, offer_minutes = 20, policy = "first_fit" },
        });
        Assert.Equal((first, "first_fit", 2), (every["opens_after_sold_out_of"]!.GetValue<string>(), every["waitlist"]!["policy"]!.GetValue<string>(), every["low_watermark"]!.GetValue<int>()));
        await Call(t, HttpMethod.Post, "/capacity/{id}/check", $"/capacity/{child}/check", new { quantity = 2 });
        Assert.Equal("SALE_NOT_OPEN", (await Call(t, HttpMethod.Post, "/capacity/{id}/check", $"/capacity/{release}/check", new { quantity = 2 }))["code"]!.GetValue<string>());
        var price = (await Call(t, HttpMethod.Post, "/capacity/{id}/pricing", $"/capacity/{child}/pricing", new { name = "Std", base_price = 10.5m, currency = "EUR" }))["id"]!.GetValue<string>();
        await Call(t, HttpMethod.Get, "/capacity/{id}/pricing", $"/capacity/{child}/pricing");
        Assert.Equal(400, (await Call(t, HttpMethod.Get, "/capacity/{id}/pricing", $"/capacity/{child}/pricing?limit=0"))["status"]!.GetValue<int>());
        await Call(t, HttpMethod.Get, "/pricing/{id}", $"/pricing/{price}");
        await Call(t, HttpMethod.Put, "/pricing/{id}", $"/pricing/{price}", new { current_price = 11m });
        var hold = (await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{child}/reserve", new { quantity = 2, pricing_id = price }))["reservation"]!["id"]!.GetValue<string>();
        await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{child}/reserve", new { quantity = 50 });
        await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{child}/reserve", new { quantity = 0 });
        var cart = (await Call(t, HttpMethod.Post, "/reservations", "/reservations", new { items = new[] { new { capacity_id = child, quantity = 1 } } }))["id"]!.GetValue<string>();
        await Call(t, HttpMethod.Get, "/reservations/{id}", $"/reservations/{hold}");
        await Call(t, HttpMethod.Post, "/reservations/{id}/extend", $"/reservations/{hold}/extend", new { minutes = 20 });
        await Call(t, HttpMethod.Post, "/reservations/{id}/confirm", $"/reservations/{hold}/confirm");
        await Call(t, HttpMethod.Post, "/reservations/{id}/release", $"/reservations/{hold}/release");
        await Call(t, HttpMethod.Post, "/reservations/{id}/cancel", $"/reservations/{hold}/cancel");
        await Call(t, HttpMethod.Post, "/reservations/{id}/release", $"/reservations/{cart}/release");

        // Holds changed in part: a new target, a partial confirm, a partial refund, a reclaim refused with its shortfall.
        var late = (await Call(t, HttpMethod.Post, "/events/{eventId}/capacity", "/events/docs/capacity", new { section_name = "Late", total_capacity = 4 }))["id"]!.GetValue<string>();
        var changing = (await Call(t, HttpMethod.Post, "/reservations", "/reservations", new { items = new[] { new { capacity_id = late, quantity = 1 } } }))["id"]!.GetValue<string>();
        await Call(t, HttpMethod.Patch, "/reservations/{id}", $"/reservations/{changing}", new { items = new[] { new { capacity_id = late, quantity = 3 } } });
        await Call(t, HttpMethod.Patch, "/reservations/{id}", $"/reservations/{changing}", new { items = new[] { new { capacity_id = late, quantity = 9 } } });
        await Call(t, HttpMethod.Patch, "/reservations/{id}", $"/reservations/{changing}", new { items = new[] { new { capacity_id = late, quantity = -1 } } });
        await Call(t, HttpMethod.Patch, "/reservations/{id}", $"/reservations/{Guid.NewGuid()}", new { items = new[] { new { capacity_id = late, quantity = 1 } } });
        await Call(t, HttpMethod.Post, "/reservations/{id}/confirm", $"/reservations/{changing}/confirm", new { items = new[] { new { capacity_id = late, quantity = 2 } } });
        await Call(t, HttpMethod.Post, "/reservations/{id}/cancel", $"/reservations/{changing}/cancel", new { items = new[] { new { capacity_id = late, quantity = 1 } } });
        await Call(t, HttpMethod.Get, "/reservations/{id}", $"/reservations/{changing}");
        var lapsed = (await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{late}/reserve", new { quantity = 3, reservation_minutes = 1 }))["reservation"]!["id"]!.GetValue<string>();
        _app.Clock!.Advance(TimeSpan.FromMinutes(2));
        await _app.Sweeper.SweepOnceAsync(CancellationToken.None);
        await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{late}/reserve", new { quantity = 2 });
        await Call(t, HttpMethod.Post, "/reservations/{id}/confirm", $"/reservations/{lapsed}/confirm", new { on_expired = "reclaim" });
        await Call(t, HttpMethod.Post, "/reservations/{id}/confirm", $"/reservations/{lapsed}/confirm", new { on_expired = "later" });
        await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{late}/reserve", new { quantity = 1 });
        await Call(t, HttpMethod.Post, "/reservations/{id}/confirm", $"/reservations/{lapsed}/confirm", new { items = new[] { new { capacity_id = late, quantity = 1 } }, on_expired = "reclaim" });
        await Call(t, HttpMethod.Post, "/reservations/{id}/confirm", $"/reservations/{lapsed}/confirm", new StringContent("{}", System.Text.Encoding.UTF8, "text/plain"));

        var box = (await Call(t, HttpMethod.Post, "/capacity/{id}/allocations", $"/capacity/{child}/allocations", new { name = "Box", quantity = 3, expires_at = DateTimeOffset.UtcNow.AddDays(1) }))["id"]!.GetValue<string>();
        await Call(t, HttpMethod.Post, "/capacity/{id}/allocations", $"/capacity/{child}/allocations", new { name = "Too big", quantity = 50 });
        await Call(t, HttpMethod.Post, "/capacity/{id}/allocations", $"/capacity/{child}/allocations", new { name = "None", quantity = 0 });
        await Call(t, HttpMethod.Post, "/capacity/{id}/allocations", $"/capacity/{Guid.NewGuid()}/allocations", new { name = "Nowhere", quantity = 1 });
        await Call(t, HttpMethod.Post, "/capacity/{id}/allocations", $"/capacity/{child}/allocations", new StringContent("{}", System.Text.Encoding.UTF8, "text/plain"));
        await Call(t, HttpMethod.Get, "/capacity/{id}/allocations", $"/capacity/{child}/allocations");
        Assert.Equal(400, (await Call(t, HttpMethod.Get, "/capacity/{id}/allocations", $"/capacity/{child}/allocations?after=nothing"))["status"]!.GetValue<int>());
        await Call(t, HttpMethod.Get, "/capacity/{id}/allocations", $"/capacity/{Guid.NewGuid()}/allocations");
        await Call(t, HttpMethod.Get, "/capacity/{id}", $"/capacity/{child}");
        await Call(t, HttpMethod.Get, "/events/{eventId}/capacity", "/events/docs/capacity");
        var fromBox = (await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{child}/reserve", new { quantity = 2, allocation_id = box }))["reservation"]!["id"]!.GetValue<string>();
        await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{child}/reserve", new { quantity = 2, allocation_id = box });
        await Call(t, HttpMethod.Post, "/reservations", "/reservations", new { items = new object[] { new { capacity_id = child, quantity = 1, allocation_id = box }, new { capacity_id = child, quantity = 1 } } });
        await Call(t, HttpMethod.Get, "/reservations/{id}", $"/reservations/{fromBox}");
        await Call(t, HttpMethod.Patch, "/reservations/{id}", $"/reservations/{fromBox}", new { items = new[] { new { capacity_id = child, quantity = 1 } } });
        await Call(t, HttpMethod.Get, "/allocations/{id}", $"/allocations/{box}");
        await Call(t, HttpMethod.Get, "/allocations/{id}", $"/allocations/{Guid.NewGuid()}");
        await Call(t, HttpMethod.Put, "/allocations/{id}", $"/allocations/{box}", new { quantity = 4, name = "Box office" });
        await Call(t, HttpMethod.Put, "/allocations/{id}", $"/allocations/{box}", new { quantity = 1 });
        await Call(t, HttpMethod.Put, "/allocations/{id}", $"/allocations/{box}", new { colour = "red" });
        await Call(t, HttpMethod.Post, "/allocations/{id}/release", $"/allocations/{box}/release", new { quantity = 1 });
        await Call(t, HttpMethod.Post, "/allocations/{id}/release", $"/allocations/{box}/release", new { quantity = 9 });
        await Call(t, HttpMethod.Post, "/allocations/{id}/close", $"/allocations/{box}/close");
        await Call(t, HttpMethod.Post, "/allocations/{id}/close", $"/allocations/{box}/close", new { reason = "done" });
        await Call(t, HttpMethod.Post, "/allocations/{id}/release", $"/allocations/{box}/release", new { quantity = 1 });
        await Call(t, HttpMethod.Put, "/allocations/{id}", $"/allocations/{box}", new { name = "Again" });
        await Call(t, HttpMethod.Post, "/capacity/{id}/reserve", $"/capacity/{child}/reserve", new { quantity = 1, allocation_id = box });
        await Call(t, HttpMethod.Get, "/events/{eventId}/ledger", "/events/docs/ledger?limit=5");
        await Call(t, HttpMethod.Get, "/events/{eventId}/ledger", "/events/docs/ledger?limit=0");
        await Call(t, HttpMethod.Get, "/events/{eventId}/stats", "/events/docs/stats");
        var stats = await Call(t, HttpMethod.Get, "/events/{eventId}/stats", $"/events/docs/stats?capacity_id={child}&bucket=5m");
        Assert.True(stats["totals"]!["confirmed"]!.GetValue<long>() > 0, stats.ToJsonString());
        Assert.Equal(400, (await Call(t, HttpMethod.Get, "/events/{eventId}/stats", "/events/docs/stats?bucket=2m"))["status"]!.GetValue<int>());
        Assert.Equal(400, (await Call(t, HttpMethod.Get, "/events/{eventId}/stats", "/events/docs/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"))["status"]!.GetValue<int>());
        Assert.Equal(404, (await Call(t, HttpMethod.Get, "/events/{eventId}/stats", $"/events/docs/stats?capacity_id={Guid.NewGuid()}"))["status"]!.GetValue<int>());
        using var anonymous = _app.CreateClient();
        await Call(anonymous, HttpMethod.Get, "/capacity/{id}", $"/capacity/{pool}");
        await Call(anonymous, HttpMethod.Get, "/healthz", "/healthz");
        await Call(anonymous, HttpMethod.Get, "/readyz", "/readyz");

        Assert.True(checkedCount >= 30);
    }

    [Fact]
    public async Task The_capacity_update_body_documents_every_field_a_put_takes_all_optional_typed_as_at_creation_and_nullable_where_null_is_taken()
    {
        var update = Resolve(_document["paths"]!["/capacity/{id}"]!["put"]!["requestBody"]!["content"]!["application/json"]!["schema"]!);
        var create = Resolve(_document["paths"]!["/events/{eventId}/capacity"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!);
        var fields = update["properties"]!.AsObject();
        Assert.Equal(
            ["close_when_sold_out", "is_active", "low_watermark", "opens_after_sold_out_of", "overbook_limit", "sale_ends_at", "sale_starts_at", "section_code", "section_name", "total_capacity", "waitlist"],
            fields.Select(f => f.Key).Order(StringComparer.Ordinal));
        Assert.Empty(update["required"]?.AsArray() ?? []);
        foreach (var (name, field) in fields.Where(f => create["properties"]![f.Key] is not null))
        {
            var created = create["properties"]![name]!;
            Assert.True(
                (Types(created).Except(["null"]).Single(), created["format"]?.GetValue<string>()) == (Types(field!).Except(["null"]).Single(), field!["format"]?.GetValue<string>()),
                $"{name} is {field!.ToJsonString()} on update but {created.ToJsonString()} at creation");
        }

        var waitlist = Resolve(fields["waitlist"]!);
        Assert.Equal(["enabled", "offer_minutes", "policy"], waitlist["properties"]!.AsObject().Select(f => f.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["fifo", "first_fit"], waitlist["properties"]!["policy"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));

        // Null clears a value exactly where the document allows it, and is refused, naming the field, elsewhere.
        var t = (await _app.NewTenantAsync()).Client;
        foreach (var (name, field) in fields)
        {
            var capacity = await t.CreateCapacityAsync("nulls", "Pool", 10);
            var response = await t.PutAsync($"/capacity/{capacity}", Api.Json($$"""{"{{name}}":null}"""));
            if (Types(field!).Contains("null"))
            {
                await Api.ReadAsync(response, 200);
            }
            else
            {
                Assert.True((await Api.ProblemAsync(response, 400, "VALIDATION_ERROR"))["errors"]!.AsObject().ContainsKey(name), $"null {name} was not refused by name");
            }
        }

        await _app.AssertInvariantsAsync();

        static string[] Types(JsonNode schema) => schema["type"] switch
        {
            JsonArray many => [.. many.Select(t => t!.GetValue<string>())],
            JsonValue one => [one.GetValue<string>()],
            _ => ["object"],
        };
    }

    /// <summary>
    /// Every PUT changes only the fields it sends, so none of its body's fields is required, and the fields
    /// are the ones its handler reads (each handler names the updatable fields when it refuses another).
    /// </summary>
    [Theory]
    [InlineData("/capacity/{id}", "close_when_sold_out,is_active,low_watermark,opens_after_sold_out_of,overbook_limit,sale_ends_at,sale_starts_at,section_code,section_name,total_capacity,waitlist")]
    [InlineData("/pricing/{id}", "base_price,currency,current_price,facility_fee,name,service_fee,tax_rate")]
    [InlineData("/allocations/{id}", "expires_at,name,quantity")]
    [InlineData("/limits/{id}", "name,per_buyer_max,require_buyer_key")]
    [InlineData("/webhooks/{id}", "description,enabled,events,url")]
    public void Every_partial_update_documents_its_fields_and_requires_none(string path, string fields)
    {
        var puts = _document["paths"]!.AsObject().Where(p => p.Value!["put"] is not null).Select(p => p.Key).Order(StringComparer.Ordinal);
        Assert.Equal(["/allocations/{id}", "/capacity/{id}", "/limits/{id}", "/pricing/{id}", "/webhooks/{id}"], puts);
        var body = Resolve(_document["paths"]![path]!["put"]!["requestBody"]!["content"]!["application/json"]!["schema"]!);
        Assert.Equal(fields.Split(','), body["properties"]!.AsObject().Select(f => f.Key).Order(StringComparer.Ordinal));
        Assert.Empty(body["required"]?.AsArray() ?? []);
    }

    /// <summary>Object fields must be exactly the schema's properties; arrays and references are followed.</summary>
    private void AssertMatches(JsonNode value, JsonNode schema, string where, bool checkRequired = true)
    {
        schema = Resolve(schema);
        if (schema["oneOf"] is JsonArray oneOf || schema["anyOf"] is JsonArray anyOf && (oneOf = anyOf) is not null)
        {
            var candidates = oneOf.Select(s => Resolve(s!)).Where(s => s["properties"] is not null || s["items"] is not null).ToList();
            if (candidates.Count == 1)
            {
                AssertMatches(value, candidates[0], where, checkRequired);
            }

            return;
        }

        switch (value)
        {
            case JsonObject obj when schema["properties"] is JsonObject properties:
                var allowsMore = schema["additionalProperties"] is JsonObject or JsonValue { } && schema["additionalProperties"]!.ToJsonString() != "false";
                foreach (var (name, child) in obj)
                {
                    if (properties[name] is not { } propertySchema)
                    {
                        Assert.True(allowsMore, $"{where}: field '{name}' is not in the documented schema");
                        continue;
                    }

                    if (child is not null)
                    {
                        AssertMatches(child, propertySchema, $"{where}.{name}", checkRequired);
                    }
                }

                foreach (var required in checkRequired ? schema["required"]?.AsArray().Select(r => r!.GetValue<string>()) ?? [] : [])
                {
                    Assert.True(obj.ContainsKey(required), $"{where}: required field '{required}' is missing");
                }

                break;
            case JsonArray array when schema["items"] is { } items:
                foreach (var item in array.Where(i => i is not null))
                {
                    AssertMatches(item!, items, where + "[]", checkRequired);
                }

                break;
        }
    }

    private JsonNode Resolve(JsonNode schema)
    {
        while (schema["$ref"]?.GetValue<string>() is { } reference)
        {
            var name = reference.Split('/')[^1];
            schema = _document["components"]!["schemas"]![name]!;
        }

        return schema;
    }
}

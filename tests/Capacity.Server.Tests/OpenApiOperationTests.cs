using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capacity.Server.Docs;
using Capacity.Server.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Capacity.Server.Tests;

/// <summary>
/// What a generated client and a reader of the document rely on: every operation has its own
/// operationId, the routes open to anyone say so, and every problem's <c>type</c> is a page that
/// explains it.
/// </summary>
public sealed class OpenApiOperationTests : IAsyncLifetime
{
    private readonly CapacityApp _app = new();
    private JsonObject _document = null!;

    public async ValueTask InitializeAsync()
    {
        using var anonymous = _app.CreateClient();
        _document = await Api.ReadAsync(await anonymous.GetAsync("/openapi/v1.json"), 200);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private IEnumerable<(string Method, string Path, JsonObject Operation)> Operations() =>
        _document["paths"]!.AsObject().SelectMany(path => path.Value!.AsObject()
            .Where(m => m.Key is "get" or "post" or "put" or "delete" or "patch")
            .Select(m => (m.Key.ToUpperInvariant(), path.Key, m.Value!.AsObject())));

    [Fact]
    public async Task The_document_reads_back_without_errors_or_rule_violations_as_a_client_generator_would_read_it()
    {
        using var anonymous = _app.CreateClient();
        var text = await anonymous.GetStringAsync("/openapi/v1.json");
        var read = Microsoft.OpenApi.Reader.OpenApiModelFactory.Parse(text, "json", new Microsoft.OpenApi.Reader.OpenApiReaderSettings());
        Assert.NotNull(read.Document);
        Assert.Empty(read.Diagnostic!.Errors);
        var violations = Microsoft.OpenApi.OpenApiElementExtensions.Validate(read.Document!, Microsoft.OpenApi.ValidationRuleSet.GetDefaultRuleSet())!.Select(e => $"{e.Pointer}: {e.Message}");
        Assert.Empty(violations);
        Assert.True(read.Document.Paths.Count > 30);
    }

    [Fact]
    public void Closed_sets_of_values_are_enums_and_an_unlimited_total_is_an_integer_or_null()
    {
        JsonNode Property(string schema, string name) => _document["components"]!["schemas"]![schema]!["properties"]![name]!;
        string[] Values(JsonNode property) => [.. property["enum"]!.AsArray().Select(v => v!.GetValue<string>())];

        Assert.Equal(["active", "confirmed", "released", "expired", "cancelled"], Values(Property("ReservationResponse", "status")));
        Assert.Equal(["capped", "own", "shared", "unlimited"], Values(Property("CapacityResponse", "mode")).Order());
        Assert.Equal(["waiting", "offered", "accepted", "lapsed", "left"], Values(Property("WaitlistEntryResponse", "status")));
        // Absent unless lapsed: its enum allows null too.
        Assert.Equal(["offer_expired", "offer_released", "too_large", "sale_ended", "buyer_key_required", null],
            Property("WaitlistEntryResponse", "lapsed_reason")["enum"]!.AsArray().Select(v => v?.GetValue<string>()));
        Assert.Equal(["open", "closed"], Values(Property("AllocationResponse", "status")));
        Assert.Equal(["fifo", "first_fit"], Values(Property("WaitlistSettingsResponse", "policy")));
        Assert.Contains("reclaim", Values(Property("LedgerEntryResponse", "kind")));

        var total = Property("CapacityResponse", "total_capacity")["type"]!;
        Assert.Equal(["integer", "null"], total is JsonArray types ? types.Select(t => t!.GetValue<string>()).Order().ToArray() : [total.GetValue<string>()]);

        var code = Property("ProblemDetails", "code")["anyOf"]!.AsArray();
        Assert.Equal(ApiErrors.Kinds.Select(k => k.Code), code[0]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal("^HTTP_[0-9]{3}$", code[1]!["pattern"]!.GetValue<string>());
    }

    [Fact]
    public void Every_operation_has_an_operation_id_and_no_two_share_one()
    {
        var ids = Operations().Select(o => (o.Method, o.Path, Id: o.Operation["operationId"]?.GetValue<string>())).ToList();
        Assert.True(ids.Count > 30);
        Assert.All(ids, o => Assert.False(string.IsNullOrEmpty(o.Id), $"{o.Method} {o.Path} has no operationId"));
        var shared = ids.GroupBy(o => o.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(o => $"{o.Method} {o.Path}"))}");
        Assert.Empty(shared);
    }

    [Fact]
    public void Every_paged_list_documents_the_400_that_a_bad_limit_or_after_answers()
    {
        var paged = Operations()
            .Where(o => o.Operation["parameters"]?.AsArray().Any(p => p!["in"]!.GetValue<string>() == "query" && p["name"]!.GetValue<string>() is "limit" or "after") == true)
            .ToList();
        Assert.True(paged.Count >= 10, $"only {paged.Count} paged lists found");
        var undocumented = paged.Where(o => o.Operation["responses"]!["400"] is null).Select(o => $"{o.Method} {o.Path} takes limit or after but documents no 400");
        Assert.True(!undocumented.Any(), string.Join(Environment.NewLine, undocumented));
    }

    /// <summary>
    /// A POST or DELETE that takes no body still reads one, and refuses it: anything but nothing or <c>{}</c>
    /// (400), a body without a Content-Type (415), one past the size limit (413). Each is sent to every such
    /// route, with ids that name nothing, since the body is looked at before the ids.
    /// </summary>
    [Fact]
    public async Task Every_post_or_delete_without_a_body_documents_and_answers_the_400_413_and_415_a_body_gets()
    {
        var tenant = (await _app.NewTenantAsync()).Client;
        using var admin = _app.Admin();
        var tooLarge = _app.Services.GetRequiredService<ServerOptions>().MaxBodyBytes + 1;
        var bodiless = Operations().Where(o => o.Method is "POST" or "DELETE" && o.Operation["requestBody"] is null).ToList();
        Assert.True(bodiless.Count >= 10, $"only {bodiless.Count} routes without a body found");
        var wrong = new List<string>();
        foreach (var (method, path, operation) in bodiless)
        {
            var client = path.StartsWith("/admin/", StringComparison.Ordinal) ? admin : tenant;
            var url = Regex.Replace(path, "{[^}]+}", _ => Guid.NewGuid().ToString());
            foreach (var (status, body) in new (int, Func<HttpContent>)[]
            {
                (400, () => Api.Json("""{"reason":"because"}""")),
                (415, () => new ByteArrayContent("{}"u8.ToArray())),
                (413, () => Api.Json(new string(' ', (int)tooLarge - 2) + "{}")),
            })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = body() };
                var answer = await client.SendAsync(request);
                if ((int)answer.StatusCode != status)
                {
                    wrong.Add($"{method} {path} answered {(int)answer.StatusCode} to a body that should get {status}: {await answer.Content.ReadAsStringAsync()}");
                }

                if (operation["responses"]![status.ToString(CultureInfo.InvariantCulture)] is null)
                {
                    wrong.Add($"{method} {path} answers {status} to a body, which it does not document");
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join(Environment.NewLine, wrong));
    }

    [Fact]
    public async Task A_check_validates_an_idempotency_key_but_applies_no_contract_and_its_operation_says_so()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("ev", "Pool", 5);
        async Task<HttpResponseMessage> Check(int quantity, string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/capacity/{pool}/check") { Content = Api.Json(new { quantity }) };
            request.Headers.TryAddWithoutValidation(Writes.IdempotencyHeader, key);
            return await t.SendAsync(request);
        }

        // The same key with another body is answered afresh: nothing was recorded, so nothing is replayed or refused.
        var first = await Check(2, "check-1");
        var other = await Check(9, "check-1");
        Assert.True((await Api.ReadAsync(first, 200))["available"]!.GetValue<bool>());
        Assert.False((await Api.ReadAsync(other, 200))["available"]!.GetValue<bool>());
        Assert.False(first.Headers.Contains(Writes.ReplayedHeader) || other.Headers.Contains(Writes.ReplayedHeader));
        await Api.ProblemAsync(await Check(1, "not\u0001printable"), 400, "VALIDATION_ERROR");

        string KeyDoc(string method, string path) => _document["paths"]![path]![method]!["parameters"]!.AsArray()
            .Single(p => p!["name"]!.GetValue<string>() == Writes.IdempotencyHeader)!["description"]!.GetValue<string>();
        Assert.DoesNotContain(Writes.ReplayedHeader, KeyDoc("post", "/capacity/{id}/check"), StringComparison.Ordinal);
        Assert.Contains(Writes.ReplayedHeader, KeyDoc("post", "/capacity/{id}/reserve"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "", "getIndex")]
    [InlineData("GET", "events/{eventId}/capacity/stream", "getEventsCapacityStream")]
    [InlineData("DELETE", "limits/{id}", "deleteLimitsById")]
    [InlineData("POST", "admin/tenants/{id}/keys", "postAdminTenantsKeys")]
    [InlineData("GET", "problems/{name}", "getProblemsByName")]
    public void An_operation_id_is_made_from_the_method_and_the_route(string method, string path, string id)
    {
        Assert.Equal(id, ApiDocs.OperationId(method, path));
    }

    [Fact]
    public void Health_readiness_metrics_the_index_and_the_error_pages_need_no_credentials_and_the_rest_need_the_bearer_scheme()
    {
        Assert.Equal("bearer", _document["security"]![0]!.AsObject().Single().Key);
        var open = new[] { "/healthz", "/readyz", "/", "/problems", "/problems/{name}" };
        foreach (var (method, path, operation) in Operations())
        {
            var security = operation["security"]?.AsArray();
            if (path == "/metrics")
            {
                // Open unless Metrics:Key is set, then the bearer key: either requirement, and its refusals.
                Assert.Equal(["", "bearer"], security!.Select(r => r!.AsObject().SingleOrDefault().Key ?? ""));
                Assert.Equal(["200", "401", "429"], operation["responses"]!.AsObject().Select(r => r.Key).Order());
            }
            else if (open.Contains(path))
            {
                Assert.True(security is { Count: 0 }, $"{method} {path} should say it needs no credentials (security: [])");
            }
            else
            {
                Assert.True(security is null, $"{method} {path} overrides the document's bearer requirement");
            }
        }
    }

    [Fact]
    public void A_nullable_field_with_a_closed_set_of_values_lists_null_among_them()
    {
        // JSON Schema checks enum on its own: without null there, every answer where the field is null
        // (a webhook's disabled_reason while it is enabled) fails a strict validator.
        var checkedFields = new List<string>();
        foreach (var (name, schema) in _document["components"]!["schemas"]!.AsObject())
        {
            foreach (var (field, property) in schema!["properties"]?.AsObject() ?? [])
            {
                if (property?["enum"] is JsonArray values && property["type"] is JsonArray types && types.Any(t => t!.GetValue<string>() == "null"))
                {
                    Assert.True(values.Any(v => v is null), $"{name}.{field} may be null but its enum does not list null");
                    checkedFields.Add($"{name}.{field}");
                }
            }
        }

        Assert.Contains("WebhookResponse.disabled_reason", checkedFields);
        Assert.Contains("CapacityResponse.closed_reason", checkedFields);
    }

    [Fact]
    public async Task Every_kind_of_error_has_a_page_that_explains_it_without_credentials()
    {
        using var anonymous = _app.CreateClient();
        Assert.True(ApiErrors.Kinds.Count >= 25);
        foreach (var kind in ApiErrors.Kinds)
        {
            var response = await anonymous.GetAsync(kind.Type);
            var page = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{kind.Type} answered {(int)response.StatusCode}");
            Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
            Assert.Contains($"<code>{kind.Code}</code>", page, StringComparison.Ordinal);
            Assert.Contains($"<strong>{kind.Status}</strong>", page, StringComparison.Ordinal);
            Assert.Contains(System.Net.WebUtility.HtmlEncode(kind.Title), page, StringComparison.Ordinal);
            Assert.Contains(System.Net.WebUtility.HtmlEncode(kind.Explanation.Split('`')[0]), page, StringComparison.Ordinal);
        }

        var index = await (await anonymous.GetAsync("/problems")).Content.ReadAsStringAsync();
        Assert.All(ApiErrors.Kinds, kind => Assert.Contains($"href=\"{kind.Type}\"", index, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_type_of_real_answers_links_to_their_page_and_an_unknown_page_is_a_404_problem()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("ev", "Pool", 1);
        using var anonymous = _app.CreateClient();
        var answers = new[]
        {
            await t.ReserveAsync(pool, 2),
            await t.ReserveAsync(pool, 0),
            await t.GetAsync($"/capacity/{Guid.NewGuid()}"),
            await anonymous.GetAsync("/events"),
            await t.DeleteAsync("/events"),
            await t.PostAsync($"/capacity/{pool}/reserve", new StringContent("{}", System.Text.Encoding.UTF8, "text/plain")),
        };
        foreach (var answer in answers)
        {
            var type = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["type"]!.GetValue<string>();
            var page = await anonymous.GetAsync(type);
            Assert.True(page.StatusCode == HttpStatusCode.OK, $"{type} answered {(int)page.StatusCode}");
        }

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/problems/http-502")).StatusCode);
        await Api.ProblemAsync(await anonymous.GetAsync("/problems/no-such-error"), 404, "NOT_FOUND");
    }
}

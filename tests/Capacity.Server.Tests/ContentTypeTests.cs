using System.Net;

namespace Capacity.Server.Tests;

/// <summary>A body must say it is UTF-8 JSON: one without a Content-Type, or another, is refused with 415 and changes nothing; a route whose body is optional still takes none.</summary>
public sealed class ContentTypeTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json-patch+json")]
    [InlineData("application/merge-patch+json")]
    [InlineData("application/problem+json")]
    public async Task A_body_without_a_content_type_or_of_another_charset_or_json_type_is_refused_with_415_and_changes_nothing(string? contentType)
    {
        await using var app = new CapacityApp();
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 10);
        var hold = await t.HoldAsync(pool, 1);
        var before = StateSnapshot.OfDatabase(app);

        foreach (var (method, path, body) in new[]
        {
            (HttpMethod.Post, "/events/e/capacity", """{"section_name":"Café","total_capacity":3}"""),
            (HttpMethod.Post, $"/capacity/{pool}/reserve", """{"quantity":1}"""),
            (HttpMethod.Put, $"/capacity/{pool}", """{"total_capacity":20}"""),
            (HttpMethod.Post, $"/reservations/{hold}/confirm", "{}"),
        })
        {
            using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(body)) };
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }

            Assert.Equal(contentType, request.Content.Headers.ContentType?.ToString());
            var problem = await Api.ProblemAsync(await t.SendAsync(request), 415, "UNSUPPORTED_MEDIA_TYPE");
            Assert.Contains("UTF-8", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Equal(before, StateSnapshot.OfDatabase(app));

        // A route whose body is optional takes a request with none at all.
        Assert.Equal(HttpStatusCode.OK, (await t.PostAsync($"/reservations/{hold}/confirm", null)).StatusCode);
        await app.AssertInvariantsAsync();
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("APPLICATION/JSON")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json;charset=UTF-8")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=utf8")]
    public async Task A_json_body_in_utf_8_is_taken_however_its_type_is_spelled(string contentType)
    {
        await using var app = new CapacityApp();
        var t = (await app.NewTenantAsync()).Client;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/events/e/capacity")
        {
            Content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes("""{"section_name":"Café","total_capacity":3}""")),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        Assert.Equal("Café", (await Api.ReadAsync(await t.SendAsync(request), 201))["section_name"]!.GetValue<string>());
        await app.AssertInvariantsAsync();
    }
}

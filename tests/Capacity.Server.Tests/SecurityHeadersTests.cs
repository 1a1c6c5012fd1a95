namespace Capacity.Server.Tests;

/// <summary>Every answer, page, file, API answer and error alike, carries the browser-facing security headers.</summary>
public sealed class SecurityHeadersTests : IAsyncLifetime
{
    private readonly CapacityApp _app = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/dashboard/")]
    [InlineData("/dashboard/dashboard.js")]
    [InlineData("/problems")]
    [InlineData("/problems/insufficient-capacity")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/docs/index.html")]
    [InlineData("/events/x/capacity")]
    [InlineData("/no-such-route")]
    public async Task An_answer_forbids_inline_script_framing_sniffing_and_referrers(string path)
    {
        using var anonymous = _app.CreateClient();
        var response = await anonymous.GetAsync(path);
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("'unsafe-inline'; img", policy.Replace("style-src 'self' 'unsafe-inline'; img", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    [Theory]
    [InlineData("/dashboard", "/dashboard/")]
    [InlineData("/dashboard?event=night-1", "/dashboard/?event=night-1")]
    [InlineData("/docs", "/docs/index.html")]
    [InlineData("/docs/", "/docs/index.html")]
    [InlineData("/DOCS", "/docs/index.html")]
    public async Task Redirects_name_a_path_never_the_requests_host(string path, string location)
    {
        using var client = _app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = "evil.example";
        var response = await client.SendAsync(request);
        Assert.True(response.Headers.Location is not null, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(location, response.Headers.Location!.OriginalString);
    }
}

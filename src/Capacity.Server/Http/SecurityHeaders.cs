using Microsoft.Extensions.Primitives;

namespace Capacity.Server.Http;

/// <summary>
/// The headers every answer carries, so that a browser showing the dashboard, the docs or an error
/// page never runs a script the server did not send as a file, never frames it, never sniffs a JSON
/// answer into something executable, and never leaks a URL in a Referer. Inline styles stay allowed:
/// the dashboard's bars set their widths in a style attribute, and a style cannot run code.
/// </summary>
internal static class SecurityHeaders
{
    private static readonly StringValues Policy = new(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");

    private static readonly StringValues NoSniff = new("nosniff");
    private static readonly StringValues Deny = new("DENY");
    private static readonly StringValues NoReferrer = new("no-referrer");

    public static Task ApplyAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = Policy;
        headers.XContentTypeOptions = NoSniff;
        headers.XFrameOptions = Deny;
        headers["Referrer-Policy"] = NoReferrer;
        return next(context);
    }
}

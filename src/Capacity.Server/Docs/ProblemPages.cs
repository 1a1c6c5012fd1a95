using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Docs;

/// <summary>
/// The pages a problem's <c>type</c> links to (<c>/problems/insufficient-capacity</c>), and their index
/// at <c>/problems</c>: what the error means and what to do, written from the error catalog
/// (<see cref="ApiErrors.Kinds"/>), so an answer and its page cannot disagree. Plain HTML, no
/// credentials: whoever holds an answer may read what it means.
/// </summary>
internal static partial class ProblemPages
{
    private const string Html = "text/html; charset=utf-8";

    private static readonly Dictionary<string, string> Pages = ApiErrors.Kinds.ToDictionary(k => k.Type, Page, StringComparer.OrdinalIgnoreCase);

    private static readonly string Index = Layout("Errors", new StringBuilder()
        .Append("<h1>Errors</h1><p>Every error is <code>application/problem+json</code> with a stable <code>code</code> to branch on; its <code>type</code> links here.</p><table><tr><th>Status</th><th>Code</th><th>Title</th></tr>")
        .AppendJoin("", ApiErrors.Kinds.Select(k => $"<tr><td>{k.Status}</td><td><a href=\"{k.Type}\"><code>{k.Code}</code></a></td><td>{Encode(k.Title)}</td></tr>"))
        .Append("</table>")
        .ToString());

    public static void MapProblemPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/problems", () => TypedResults.Content(Index, Html))
            .RequireAccess(Access.Anonymous)
            .WithTags("Errors")
            .Produces<string>(200, "text/html")
            .WithSummary("Every error the API answers")
            .WithDescription("An HTML page listing each error's status, code and title, linked to its page. No credentials needed.");
        app.MapGet("/problems/{name}", Get)
            .RequireAccess(Access.Anonymous)
            .WithTags("Errors")
            .Produces<string>(200, "text/html")
            .ProducesProblem(404)
            .WithSummary("What an error means")
            .WithDescription("The page a problem's `type` links to: its status, code, title, and what it means and what to do, as HTML. No credentials needed.");
    }

    private static Results<ContentHttpResult, ProblemHttpResult> Get(string name)
    {
        if (Pages.TryGetValue("/problems/" + name, out var page))
        {
            return TypedResults.Content(page, Html);
        }

        // Statuses the framework answers by itself (HTTP_502, …) have pages made on demand.
        return ApiErrors.Find(name) is { } other ? TypedResults.Content(Page(other), Html) : ApiErrors.NotFound($"No error is called {name}; /problems lists them all.");
    }

    private static string Page(ErrorKind kind) => Layout(kind.Code, $"""
        <p><a href="/problems">Errors</a></p>
        <h1><code>{kind.Code}</code></h1>
        <p><strong>{kind.Status}</strong> · {Encode(kind.Title)}</p>
        <p>{Encode(kind.Explanation)}</p>
        <p>The answer's <code>detail</code> says what happened in this case. The API's routes are documented at <a href="/docs">/docs</a>.</p>
        """);

    private static string Layout(string title, string body) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{{Encode(title)}} · Capacity</title>
        <style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}td,th{text-align:left;padding:.2rem .8rem .2rem 0}</style>
        </head><body>
        {{body}}
        </body></html>
        """;

    /// <summary>HTML-encoded, with the catalog's `backticks` shown as code.</summary>
    private static string Encode(string text) => Code().Replace(WebUtility.HtmlEncode(text), "<code>$1</code>");

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Code();
}

using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Http;

/// <summary>
/// An answer that leaves the pipeline as a bare error status (no route matched: 404; the route has no
/// such method: 405; the body was too large or of the wrong type: 413, 415) goes out as a problem
/// document like every other error, with its stable code.
/// <para>
/// What <c>UseStatusCodePages</c> did, without its feature: that middleware set a feature of its own
/// on every request (an allocation and a slot in the request's feature collection), for a switch that
/// no route of ours turns off. Measured with the request scope in docs/performance.md.
/// </para>
/// </summary>
internal static class StatusProblems
{
    public static async Task ApplyAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);

        // Only an answer with nothing of its own yet: a body, a length or a type means it said what it meant.
        var response = context.Response;
        if (response.HasStarted || response.StatusCode is < 400 or >= 600 || response.ContentLength.HasValue || !string.IsNullOrEmpty(response.ContentType))
        {
            return;
        }

        ProblemHttpResult problem = response.StatusCode switch
        {
            404 => ApiErrors.NotFound($"No route matches {context.Request.Path}."),
            405 => ApiErrors.MethodNotAllowed($"{context.Request.Method} is not allowed on {context.Request.Path}."),
            413 => ApiErrors.PayloadTooLarge(context.RequestServices.GetRequiredService<ServerOptions>().MaxBodyBytes),
            415 => ApiErrors.UnsupportedMediaType(),
            _ => ApiErrors.Status(response.StatusCode),
        };
        await problem.ExecuteAsync(context);
    }
}

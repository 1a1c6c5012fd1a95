namespace Capacity.Server.Http;

/// <summary>
/// A query parameter given twice is refused (400 naming it), on every route. Bound to a string, two
/// values arrive joined by a comma: <c>buyer_key=a&amp;buyer_key=b</c> read as the buyer "a,b", a legal
/// key, and answered that buyer's usage. A request without a query string (every hold) costs one check.
/// </summary>
internal static class RepeatedQuery
{
    public static Task RefuseAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.QueryString.HasValue)
        {
            foreach (var (name, values) in context.Request.Query)
            {
                if (values.Count > 1)
                {
                    return ApiErrors.Validation(name, $"{name} is given {values.Count} times; send it once.").ExecuteAsync(context);
                }
            }
        }

        return next(context);
    }
}

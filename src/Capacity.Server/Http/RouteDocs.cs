namespace Capacity.Server.Http;

/// <summary>Documentation helpers for route builders, so each route states its summary and failures in one line.</summary>
internal static class RouteDocs
{
    /// <summary>A summary, a description and the problem statuses the route can answer.</summary>
    public static RouteHandlerBuilder Doc(this RouteHandlerBuilder builder, string summary, string description, params int[] problems)
    {
        builder.WithSummary(summary).WithDescription(description);
        foreach (var status in problems)
        {
            builder.ProducesProblem(status);
        }

        return builder;
    }

    /// <summary>
    /// The JSON body a route reads by hand (bodies are read raw for the idempotency hash). Routing
    /// refuses another Content-Type with 415, which is documented here too.
    /// </summary>
    public static RouteHandlerBuilder Body<T>(this RouteHandlerBuilder builder)
        where T : notnull => builder.Accepts<T>("application/json").ProducesProblem(415);

    /// <summary>
    /// A JSON body the route may also go without (nothing, or <c>{}</c>, is its plain form). A body sent
    /// with another Content-Type is refused with 415 as on every route that reads JSON; a request with no
    /// Content-Type is not.
    /// </summary>
    public static RouteHandlerBuilder OptionalBody<T>(this RouteHandlerBuilder builder)
        where T : notnull => builder.Accepts<T>(isOptional: true, "application/json").ProducesProblem(415);
}

namespace Capacity.Server.Http;

/// <summary>
/// Route groups with their access level, tag and the failures every route of the group can answer, set
/// once per group. A credential's route is also its tenant's rate limit: <see cref="AuthMiddleware"/>
/// charges <see cref="RateLimits"/> once it knows the caller.
/// </summary>
internal static class RouteGroups
{
    /// <summary>A group of tenant routes: tenant credentials, the per-tenant rate limit, and the failures every such route can answer.</summary>
    public static RouteGroupBuilder MapTenantGroup(this IEndpointRouteBuilder app, string tag) => app.MapGroup("").Secured(Access.Tenant, tag);

    public static RouteGroupBuilder Secured(this RouteGroupBuilder group, Access access, string tag) =>
        group.RequireAccess(access)
            .WithTags(tag)
            .ProducesProblem(401)
            .ProducesProblem(403)
            .ProducesProblem(429)
            .ProducesProblem(503);
}

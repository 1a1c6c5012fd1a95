using Capacity.Core;
using Capacity.Server.Http;

namespace Capacity.Server.Credentials;

/// <summary>The credential a request carries: whose it is and what it may do.</summary>
internal sealed record CredentialResponse(Guid TenantId, [property: OneOf(typeof(KeyScope))] string Scope);

/// <summary>
/// Lets a client ask what its own credential may do before it offers an action: the dashboard shows a
/// read key everything and its write actions disabled, instead of letting each one fail with 403.
/// Answers the same for an API key and a JWT, from what authentication already resolved.
/// </summary>
internal static class CredentialApi
{
    public static RouteGroupBuilder MapCredential(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Credentials");
        group.MapGet("/credential", Get).Doc(
            "Describe your credential",
            "The tenant of the key or JWT that sent this request and its scope: `read`, `write` or `elevated`.");
        return group;
    }

    private static JsonOk<CredentialResponse> Get(TenantCaller caller) =>
        JsonResults.Ok(new CredentialResponse(caller.TenantId, caller.Scope.ApiName()));
}

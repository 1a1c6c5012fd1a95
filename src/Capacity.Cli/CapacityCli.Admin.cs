using System.CommandLine;
using System.CommandLine.Parsing;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>The <c>admin</c> commands (admin key): a tenant's API keys, and disabling or enabling a tenant.</summary>
public static partial class CapacityCli
{
    private static Command AdminCommands(Host host)
    {
        var list = OnTenant(host, "list", "List a tenant's keys: prefix, name, scope, status, created, last used, expiry; never their text",
            CliJson.Default.ApiKeyList, l => Views.Keys(l.Keys),
            async (_, client, tenantId, ct) => new ApiKeyList(tenantId, await client.ListKeysAsync(tenantId, ct)));

        var name = new Option<string?>("--name", "-n") { Description = "What the key is for, such as \"box office\"" };
        var scope = ScopeOption();
        var expires = ExpiresOption();
        var issue = host.OneWrite(OnTenant(host, "issue", "Issue another API key for a tenant; its text is printed once", CliJson.Default.TenantKey, Views.Tenant,
            (p, client, tenantId, ct) => client.IssueKeyAsync(
                tenantId, new IssueKeyRequest { Name = p.GetValue(name), Scope = p.GetValue(scope), ExpiresAt = p.GetValue(expires) }, host.IdempotencyKeyOf(p), ct),
            name, scope, expires));

        var keyId = new Argument<Guid>("key-id") { Description = "The key (its id, from admin keys list)" };
        var revoke = host.OneWrite(OnTenant(host, "revoke", "Revoke a key: refused at once by the node that answers, within seconds by the others", CliJson.Default.ApiKeyInfo, Views.Key,
            (p, client, tenantId, ct) => client.RevokeKeyAsync(tenantId, p.GetValue(keyId), host.IdempotencyKeyOf(p), ct)));
        revoke.Arguments.Add(keyId);

        var disable = host.OneWrite(OnTenant(host, "disable", "Disable a tenant: every key and JWT of it is refused (403 TENANT_DISABLED); nothing is deleted",
            CliJson.Default.TenantInfo, Views.TenantState, (p, client, tenantId, ct) => client.DisableTenantAsync(tenantId, host.IdempotencyKeyOf(p), ct)));
        var enable = host.OneWrite(OnTenant(host, "enable", "Enable a disabled tenant: its keys and JWTs work again (revoked and expired keys stay refused)",
            CliJson.Default.TenantInfo, Views.TenantState, (p, client, tenantId, ct) => client.EnableTenantAsync(tenantId, host.IdempotencyKeyOf(p), ct)));

        var tenants = new Command("list", "List every tenant, oldest first: name, id, created, and whether it is disabled");
        tenants.SetAction((p, ct) => Run(host, p, admin: true, ct, async (c, client) =>
        {
            var all = new TenantList(await client.ListTenantsAsync(ct));
            c.Write(all, CliJson.Default.TenantList, () => Views.Tenants(all.Tenants));
            return ExitCodes.Ok;
        }));

        return new Command("admin", "Operator commands (admin key): tenants' API keys, and listing, disabling or enabling tenants")
        {
            new Command("keys", "A tenant's API keys: list, issue, revoke") { list, issue, revoke },
            new Command("tenants", "List, disable or enable tenants") { tenants, disable, enable },
        };
    }

    /// <summary>An admin command on one tenant that makes one call and prints what the service answers.</summary>
    private static Command OnTenant<T>(
        Host host,
        string name,
        string description,
        System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type,
        Func<T, Spectre.Console.Rendering.IRenderable> view,
        Func<ParseResult, CapacityClient, Guid, CancellationToken, Task<T>> call,
        params Option[] options)
    {
        var tenantId = new Argument<Guid>("tenant-id") { Description = "The tenant" };
        var command = new Command(name, description) { tenantId };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.SetAction((p, ct) => Run(host, p, admin: true, ct, async (c, client) =>
        {
            var result = await call(p, client, p.GetValue(tenantId), ct);
            c.Write(result, type, () => view(result));
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>A key's <c>--scope</c>, for <c>admin keys issue</c> and a tenant's first key in <c>tenants create</c>.</summary>
    private static Option<ApiKeyScope?> ScopeOption() => new("--scope")
    {
        Description = "What the key may do: read (reads and streams only), write (everything a tenant does) or elevated (write, and reclaiming expired holds) [default: write]",
        HelpName = "read|write|elevated",

        // The API's names: the default enum parsing would take "Read" or "0".
        CustomParser = ScopeOf,
    };

    /// <summary>A key's <c>--expires</c>, for <c>admin keys issue</c> and <c>tenants create</c>.</summary>
    private static Option<DateTimeOffset?> ExpiresOption() => new("--expires")
    {
        Description = "When the key stops working by itself, such as 2030-05-01T18:00:00Z (a time without an offset is local) [default: never]",
    };

    private static ApiKeyScope? ScopeOf(ArgumentResult result)
    {
        switch (result.Tokens.Single().Value)
        {
            case "read": return ApiKeyScope.Read;
            case "write": return ApiKeyScope.Write;
            case "elevated": return ApiKeyScope.Elevated;
            case var other:
                result.AddError($"--scope must be read, write or elevated, not '{other}'.");
                return null;
        }
    }
}

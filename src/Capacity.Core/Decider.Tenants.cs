namespace Capacity.Core;

// Tenants and their API keys. Off the hot path: an operator's few commands, and a node's record of key
// use about once a minute. Authentication reads what these write; it never decides anything itself
// beyond comparing a key's expiry and revocation with the clock.
public static partial class Decider
{
    private static Outcome CreateTenant(WorkingSet set, CreateTenant command, DateTimeOffset now, CoreLimits limits)
    {
        if (!Rules.IsValidName(command.Name, limits.MaxNameLength))
        {
            return Outcome.Invalid("name", Rules.NameRule("name", limits.MaxNameLength, command.Name));
        }

        if (InvalidKey(command.Key, now, limits, "key.") is { } invalid)
        {
            return invalid;
        }

        var tenant = new Tenant(command.Id, command.Name, now);
        set.AddNew(tenant);
        var key = NewKey(command.Key, command.Id, now);
        set.AddNew(key);
        return new Outcome(OutcomeCode.Ok) { Tenant = tenant, Key = key };
    }

    private static Outcome AddApiKey(WorkingSet set, AddApiKey command, DateTimeOffset now, CoreLimits limits)
    {
        var tenant = set.FindTenant(command.TenantId);
        if (tenant is null)
        {
            return TenantNotFound(command.TenantId);
        }

        if (InvalidKey(command.Key, now, limits, "") is { } invalid)
        {
            return invalid;
        }

        // Counted in the batch, on every key of the tenant that is not revoked (loaded once its row is
        // locked) and the batch's own: keys issued at once cannot pass the bound. Revoked and expired
        // keys do not count.
        if (command.MaxUsable < int.MaxValue)
        {
            var usable = set.UsableKeys(command.TenantId, now)
                ?? throw new MissingRowException($"The keys of tenant {command.TenantId} were not loaded.");
            if (usable >= command.MaxUsable)
            {
                return Outcome.TooManyKeys(command.TenantId, command.MaxUsable);
            }
        }

        // A disabled tenant may still be given keys: an operator rotating keys before enabling it again
        // should not have to enable it first. The keys are refused like the others until then.
        var key = NewKey(command.Key, command.TenantId, now);
        set.AddNew(key);
        return new Outcome(OutcomeCode.Ok) { Tenant = tenant, Key = key };
    }

    private static Outcome RevokeApiKey(WorkingSet set, RevokeApiKey command, DateTimeOffset now)
    {
        var tenant = set.FindTenant(command.TenantId);
        if (tenant is null)
        {
            return TenantNotFound(command.TenantId);
        }

        // Another tenant's key answers exactly like a key that does not exist.
        if (set.FindKey(command.KeyId) is not { } key || key.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"API key {command.KeyId} of tenant {command.TenantId} was not found.");
        }

        if (key.RevokedAt is not null)
        {
            return new Outcome(OutcomeCode.Unchanged) { Tenant = tenant, Key = key };
        }

        var revoked = key with { RevokedAt = now };
        set.Replace(revoked);
        return new Outcome(OutcomeCode.Ok) { Tenant = tenant, Key = revoked };
    }

    private static Outcome SetTenantDisabled(WorkingSet set, SetTenantDisabled command, DateTimeOffset now)
    {
        var tenant = set.FindTenant(command.TenantId);
        if (tenant is null)
        {
            return TenantNotFound(command.TenantId);
        }

        // Disabling a disabled tenant keeps when it was first disabled.
        if (tenant.DisabledAt is not null == command.Disabled)
        {
            return new Outcome(OutcomeCode.Unchanged) { Tenant = tenant };
        }

        var changed = tenant with { DisabledAt = command.Disabled ? now : null };
        set.Replace(changed);
        return new Outcome(OutcomeCode.Ok) { Tenant = changed };
    }

    /// <summary>
    /// Moves each named key's <see cref="ApiKey.LastUsedAt"/> forward to the use, never back. A key that
    /// is not loaded does not exist (keys are never deleted), and is passed over. <see cref="Outcome.Count"/>
    /// is how many keys moved.
    /// </summary>
    private static Outcome RecordKeyUse(WorkingSet set, RecordKeyUse command)
    {
        var moved = 0;
        foreach (var use in command.Uses)
        {
            if (set.FindKey(use.KeyId) is { } key && (key.LastUsedAt is not { } last || last < use.At))
            {
                set.Replace(key with { LastUsedAt = use.At });
                moved++;
            }
        }

        return new Outcome(moved > 0 ? OutcomeCode.Ok : OutcomeCode.Unchanged) { Count = moved };
    }

    private static ApiKey NewKey(NewApiKey key, Guid tenantId, DateTimeOffset now) =>
        new(key.Id, key.KeyHash, tenantId, key.Prefix, key.Name, key.Scope, now, key.ExpiresAt);

    /// <summary>The refusal of a key's name, scope or expiry, with its field under <paramref name="prefix"/>; null when it is fine.</summary>
    private static Outcome? InvalidKey(NewApiKey key, DateTimeOffset now, CoreLimits limits, string prefix)
    {
        if (key.Name is not null && !Rules.IsValidName(key.Name, limits.MaxNameLength))
        {
            return Outcome.Invalid(prefix + "name", Rules.NameRule("name", limits.MaxNameLength, key.Name));
        }

        if (!Enum.IsDefined(key.Scope))
        {
            return Outcome.Invalid(prefix + "scope", "scope must be read, write or elevated.");
        }

        if (key.ExpiresAt is { } expires && expires <= now)
        {
            return Outcome.Invalid(prefix + "expires_at", "expires_at must be in the future.");
        }

        CoreAssert.That(key.KeyHash.Length == 32, "An API key is kept as its SHA-256 hash, 32 bytes.");
        return null;
    }

    private static Outcome TenantNotFound(Guid tenantId) => Outcome.NotFound($"Tenant {tenantId} was not found.");
}

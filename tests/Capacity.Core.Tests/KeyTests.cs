namespace Capacity.Core.Tests;

/// <summary>Tenants and their API keys as the core decides them: issue, revoke, disable, and the record of use.</summary>
public sealed class KeyTests
{
    private static NewApiKey Key(Scenario s, string? name = null, KeyScope scope = KeyScope.Write, DateTimeOffset? expiresAt = null) =>
        new(s.NewId(), new byte[32], "cap_AbCdEfGh", name, scope, expiresAt);

    private static Guid NewTenant(Scenario s, out Guid firstKey)
    {
        var key = Key(s);
        var tenant = s.NewId();
        Assert.Equal(OutcomeCode.Ok, s.Do(new CreateTenant(tenant, "Arena", key)).Code);
        firstKey = key.Id;
        return tenant;
    }

    [Fact]
    public void A_tenant_is_created_with_its_first_key_as_asked_and_a_bad_first_key_creates_nothing()
    {
        var s = new Scenario();
        var key = Key(s, "Box office", KeyScope.Elevated, Scenario.Start.AddDays(1));
        var created = s.Do(new CreateTenant(s.NewId(), "Arena", key));
        Assert.Equal(OutcomeCode.Ok, created.Code);
        Assert.Equal((key.Id, "Box office", KeyScope.Elevated, Scenario.Start.AddDays(1), Scenario.Start, (DateTimeOffset?)null),
            (created.Key!.Id, created.Key.Name, created.Key.Scope, created.Key.ExpiresAt, created.Key.CreatedAt, created.Key.RevokedAt));

        var refused = new[]
        {
            (new CreateTenant(s.NewId(), "Late", Key(s, expiresAt: Scenario.Start)), "key.expires_at"),
            (new CreateTenant(s.NewId(), "Named", Key(s, name: "box\u200Boffice")), "key.name"),
            (new CreateTenant(s.NewId(), "Scoped", Key(s, scope: (KeyScope)7)), "key.scope"),
            (new CreateTenant(s.NewId(), " ", Key(s)), "name"),
        };
        foreach (var (command, field) in refused)
        {
            var outcome = Decider.Decide(s.Ws, command, s.Now, s.Limits);
            Assert.Equal((OutcomeCode.Invalid, field), (outcome.Code, outcome.Field));
            Assert.Null(s.Ws.FindTenant(command.Id));
            Assert.Null(s.Ws.FindKey(command.Key.Id));
        }

        Assert.Empty(s.Ws.NewTenants);
        Assert.Empty(s.Ws.NewKeys);
    }

    [Fact]
    public void A_key_is_issued_only_for_a_tenant_that_exists_with_a_valid_name_and_a_future_expiry()
    {
        var s = new Scenario();
        var tenant = NewTenant(s, out _);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new AddApiKey(s.NewId(), Key(s))).Code);
        Assert.Equal((OutcomeCode.Invalid, "expires_at"), Pair(s.Do(new AddApiKey(tenant, Key(s, expiresAt: Scenario.Start.AddSeconds(-1))))));
        Assert.Equal((OutcomeCode.Invalid, "name"), Pair(s.Do(new AddApiKey(tenant, Key(s, name: "  ")))));
        var issued = s.Do(new AddApiKey(tenant, Key(s, "Reader", KeyScope.Read)));
        Assert.Equal((OutcomeCode.Ok, KeyScope.Read, tenant), (issued.Code, issued.Key!.Scope, issued.Key.TenantId));
    }

    [Fact]
    public void A_bounded_issue_counts_the_usable_keys_loaded_and_issued_since_not_revoked_or_expired_ones()
    {
        var s = new Scenario();
        var tenant = NewTenant(s, out var first);
        s.Ws.LoadedKeysOf(tenant);
        Assert.Equal(OutcomeCode.Ok, s.Do(new AddApiKey(tenant, Key(s, expiresAt: Scenario.Start.AddMinutes(5)), MaxUsable: 3)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Do(new AddApiKey(tenant, Key(s), MaxUsable: 3)).Code);

        var refused = s.Do(new AddApiKey(tenant, Key(s), MaxUsable: 3));
        Assert.Equal((OutcomeCode.TooManyKeys, 3), (refused.Code, refused.Count));
        Assert.Equal($"Tenant {tenant} has 3 usable keys, the most it may.", refused.Detail);

        // A revoked key and an expired one leave room.
        Assert.Equal(OutcomeCode.Ok, s.Do(new RevokeApiKey(tenant, first)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Do(new AddApiKey(tenant, Key(s), MaxUsable: 3)).Code);
        s.AdvanceMinutes(6);
        Assert.Equal(OutcomeCode.Ok, s.Do(new AddApiKey(tenant, Key(s), MaxUsable: 3)).Code);
        Assert.Equal(OutcomeCode.TooManyKeys, s.Do(new AddApiKey(tenant, Key(s), MaxUsable: 3)).Code);
    }

    [Fact]
    public void A_bounded_issue_whose_tenants_keys_were_not_loaded_is_a_store_bug_not_a_pass()
    {
        var s = new Scenario();
        var tenant = NewTenant(s, out _);
        var command = new AddApiKey(tenant, Key(s), MaxUsable: 3);

        Assert.Throws<MissingRowException>(() => s.Do(command));

        var keys = new LoadKeys();
        command.CollectKeys(keys);
        Assert.Equal([tenant], keys.TenantKeys);
    }

    [Fact]
    public void Revoking_a_key_stamps_it_once_and_another_tenants_key_is_not_found()
    {
        var s = new Scenario();
        var tenant = NewTenant(s, out var key);
        var other = NewTenant(s, out var otherKey);
        s.AdvanceMinutes(5);

        var revoked = s.Do(new RevokeApiKey(tenant, key));
        Assert.Equal((OutcomeCode.Ok, s.Now), (revoked.Code, revoked.Key!.RevokedAt));
        Assert.False(revoked.Key.IsUsableAt(s.Now));
        s.AdvanceMinutes(5);
        var again = s.Do(new RevokeApiKey(tenant, key));
        Assert.Equal((OutcomeCode.Unchanged, Scenario.Start.AddMinutes(5)), (again.Code, again.Key!.RevokedAt));
        Assert.Empty(s.Ws.ChangedKeys);

        Assert.Equal(OutcomeCode.NotFound, s.Do(new RevokeApiKey(tenant, otherKey)).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new RevokeApiKey(other, key)).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new RevokeApiKey(tenant, s.NewId())).Code);
        Assert.Null(s.Ws.FindKey(otherKey)!.RevokedAt);
    }

    [Fact]
    public void A_key_issued_and_revoked_in_one_batch_is_written_once_revoked()
    {
        var s = new Scenario();
        var tenant = NewTenant(s, out _);
        var key = Key(s);
        Assert.Equal(OutcomeCode.Ok, Decider.Decide(s.Ws, new AddApiKey(tenant, key), s.Now, s.Limits).Code);
        Assert.Equal(OutcomeCode.Ok, Decider.Decide(s.Ws, new RevokeApiKey(tenant, key.Id), s.Now, s.Limits).Code);
        Assert.Equal(s.Now, Assert.Single(s.Ws.NewKeys).RevokedAt);
        Assert.Empty(s.Ws.ChangedKeys);
    }

    [Fact]
    public void Disabling_keeps_when_it_was_first_disabled_and_enabling_clears_it()
    {
        var s = new Scenario();
        var tenant = NewTenant(s, out _);
        var disabled = s.Do(new SetTenantDisabled(tenant, true));
        Assert.Equal((OutcomeCode.Ok, Scenario.Start), (disabled.Code, disabled.Tenant!.DisabledAt));
        s.AdvanceMinutes(1);
        Assert.Equal((OutcomeCode.Unchanged, Scenario.Start), (s.Do(new SetTenantDisabled(tenant, true)).Code, s.Ws.FindTenant(tenant)!.DisabledAt));

        // A disabled tenant may still be given keys and have them revoked.
        Assert.Equal(OutcomeCode.Ok, s.Do(new AddApiKey(tenant, Key(s))).Code);
        var enabled = s.Do(new SetTenantDisabled(tenant, false));
        Assert.Equal((OutcomeCode.Ok, (DateTimeOffset?)null), (enabled.Code, enabled.Tenant!.DisabledAt));
        Assert.Equal(OutcomeCode.Unchanged, s.Do(new SetTenantDisabled(tenant, false)).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new SetTenantDisabled(s.NewId(), true)).Code);
    }

    [Fact]
    public void Recorded_use_only_moves_a_key_forward_and_passes_over_keys_that_do_not_exist()
    {
        var s = new Scenario();
        _ = NewTenant(s, out var key);
        var first = s.Do(new RecordKeyUse([new KeyUse(key, Scenario.Start.AddMinutes(2)), new KeyUse(s.NewId(), Scenario.Start)]));
        Assert.Equal((OutcomeCode.Ok, 1), (first.Code, first.Count));
        Assert.Equal(Scenario.Start.AddMinutes(2), s.Ws.FindKey(key)!.LastUsedAt);

        // Another node's older report changes nothing.
        var older = s.Do(new RecordKeyUse([new KeyUse(key, Scenario.Start.AddMinutes(1))]));
        Assert.Equal((OutcomeCode.Unchanged, 0), (older.Code, older.Count));
        Assert.Equal(Scenario.Start.AddMinutes(2), s.Ws.FindKey(key)!.LastUsedAt);
    }

    [Fact]
    public void A_key_is_usable_until_its_expiry_and_never_once_revoked()
    {
        var key = new ApiKey(Guid.NewGuid(), new byte[32], Guid.NewGuid(), "cap_x", null, KeyScope.Write, Scenario.Start, Scenario.Start.AddHours(1));
        Assert.True(key.IsUsableAt(Scenario.Start.AddMinutes(59)));
        Assert.False(key.IsUsableAt(Scenario.Start.AddHours(1)));
        Assert.False((key with { ExpiresAt = null, RevokedAt = Scenario.Start }).IsUsableAt(Scenario.Start));
        Assert.True((key with { ExpiresAt = null }).IsUsableAt(DateTimeOffset.MaxValue));
    }

    private static (OutcomeCode, string?) Pair(Outcome o) => (o.Code, o.Field);
}

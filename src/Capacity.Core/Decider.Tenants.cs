namespace Capacity.Core;

public static partial class Decider
{
    private static Outcome CreateTenant(WorkingSet set, CreateTenant command, DateTimeOffset now, CoreLimits limits)
    {
        if (!Rules.IsValidName(command.Name, limits.MaxNameLength))
        {
            return Outcome.Invalid("name", $"name must be 1 to {limits.MaxNameLength} characters, not blank, without control or invisible characters (zero-width, direction marks).");
        }

        var tenant = new Tenant(command.Id, command.Name, now);
        set.AddNew(tenant);
        set.AddNew(new ApiKey(command.KeyHash, command.Id, now));
        return new Outcome(OutcomeCode.Ok) { Tenant = tenant };
    }

    private static Outcome AddApiKey(WorkingSet set, AddApiKey command, DateTimeOffset now)
    {
        var tenant = set.FindTenant(command.TenantId);
        if (tenant is null)
        {
            return Outcome.NotFound($"Tenant {command.TenantId} was not found.");
        }

        set.AddNew(new ApiKey(command.KeyHash, command.TenantId, now));
        return new Outcome(OutcomeCode.Ok) { Tenant = tenant };
    }
}

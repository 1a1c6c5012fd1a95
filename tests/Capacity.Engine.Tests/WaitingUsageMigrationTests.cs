using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class WaitingUsageMigrationTests_on_sqlite() : WaitingUsageMigrationTests(StoreKind.Sqlite);

public sealed class WaitingUsageMigrationTests_on_postgres() : WaitingUsageMigrationTests(StoreKind.Postgres);

/// <summary>
/// Migration 019: before it, a buyer's usage counted live holds and sales only, so a buyer could queue
/// for 4 under a limit of 4 and then hold 4 elsewhere. The entries already waiting when it runs are
/// added to their buyers' usage, on capacities a limit covers and on the others alike.
/// </summary>
public abstract class WaitingUsageMigrationTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task Entries_waiting_before_019_count_against_their_buyers_limits_after_it_and_the_audit_agrees()
    {
        var h = await EngineHarness.OpenAsync(kind);
        try
        {
            var stalls = await h.CreateAsync("Stalls", 4);
            var circle = await h.CreateAsync("Circle", 10);
            var box = await h.CreateAsync("Box", 1);
            foreach (var capacity in new[] { stalls, box })
            {
                Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new UpdateCapacity(
                    Tenant, capacity, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, new WaitlistPatch(true, 30, WaitlistPolicy.Fifo)))).Outcome?.Code);
                Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(capacity, capacity == box ? 1 : 4)).Outcome?.Code);
            }

            var limit = Guid.CreateVersion7();
            Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new CreateBuyerLimit(Tenant, limit, "e1", "Four each", [stalls, circle], 4, false))).Outcome?.Code);
            Assert.Equal(OutcomeCode.Ok, (await Join(h, stalls, 3, "fan")).Outcome?.Code);
            Assert.Equal(OutcomeCode.Ok, (await Join(h, box, 1, "fan")).Outcome?.Code);
            Assert.Equal(OutcomeCode.Ok, (await Join(h, stalls, 1, null)).Outcome?.Code);
            Assert.Equal(3, await h.Store.GetBuyerUsageAsync(Tenant, [stalls, circle], "fan", CancellationToken.None));
            await h.AssertAuditCleanAsync();

            // The database as the version before 019 left it: the fan has no holds, so nothing in usage (a
            // store keeps a change in a buyer's row or appends it to the capacity's usage log; either goes).
            await h.CloseAsync();
            await h.SqlAsync("DELETE FROM buyer_usage WHERE buyer_key = 'fan'; DELETE FROM buyer_usage_log WHERE buyer_key = 'fan'; DELETE FROM schema_migrations WHERE version = 19");

            h = await h.ReopenAsync();
            Assert.Equal(3, await h.Store.GetBuyerUsageAsync(Tenant, [stalls, circle], "fan", CancellationToken.None));
            Assert.Equal(1, await h.Store.GetBuyerUsageAsync(Tenant, [box], "fan", CancellationToken.None));
            await h.AssertAuditCleanAsync();

            // 3 waited for + 2 would pass the limit of 4; + 1 does not.
            var refused = await Hold(h, circle, 2, "fan");
            Assert.Equal(OutcomeCode.BuyerLimitExceeded, refused.Outcome?.Code);
            Assert.Equal((3L, 2L), (refused.Outcome!.Value.LimitExcess!.Used, refused.Outcome.Value.LimitExcess.Requested));
            Assert.Equal(OutcomeCode.Ok, (await Hold(h, circle, 1, "fan")).Outcome?.Code);
            await h.AssertAuditCleanAsync();
        }
        finally
        {
            await h.DisposeAsync();
        }
    }

    private static Task<EngineResult> Join(EngineHarness h, Guid capacity, int quantity, string? buyer) =>
        h.Engine.SubmitAsync(new JoinWaitlist(Tenant, Guid.CreateVersion7(), [new WaitlistItem(capacity, quantity)], buyer, null));

    private static Task<EngineResult> Hold(EngineHarness h, Guid capacity, int quantity, string buyer) =>
        h.Engine.SubmitAsync(new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capacity, quantity, null)], 15, buyer));
}

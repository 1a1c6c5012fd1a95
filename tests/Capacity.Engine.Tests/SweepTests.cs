using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class SweepTests_on_sqlite() : SweepTests(StoreKind.Sqlite);

public sealed class SweepTests_on_postgres() : SweepTests(StoreKind.Postgres);

/// <summary>The sweeper pages through due holds by (expiry, id) and reads the next page while the engine applies the current one.</summary>
public abstract class SweepTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    [Fact]
    public async Task Pages_of_due_holds_that_share_one_expiry_cover_each_hold_exactly_once()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 1000);
        // Submitted together, so they land in one batch and share one expiry to the millisecond.
        var holds = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => h.HoldAsync(pool, 1, minutes: 1)));
        h.Clock.Advance(TimeSpan.FromMinutes(2));

        var seen = new List<Guid>();
        DueHold? after = null;
        while (true)
        {
            var page = await h.Store.GetDueReservationsAsync(h.Clock.GetUtcNow(), 7, after, CancellationToken.None);
            seen.AddRange(page.Select(d => d.Id));
            if (page.Count < 7)
            {
                break;
            }

            after = page[^1];
        }

        Assert.Equal(holds.Select(r => r.Outcome!.Value.Reservation!.Value.Id).Order(), seen.Order());
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Fact]
    public async Task A_sweep_over_many_pages_expires_every_due_hold_once_and_nothing_else()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var pool = await h.CreateAsync("Pool", 1000);
        var due = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => h.HoldAsync(pool, 2, minutes: 1)));
        var confirmed = due[0].Outcome!.Value.Reservation!.Value.Id;
        Assert.Equal(OutcomeCode.Ok, (await h.Engine.SubmitAsync(new TransitionReservation(Tenant, confirmed, Transition.Confirm))).Outcome?.Code);
        var later = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => h.HoldAsync(pool, 1, minutes: 30)));
        h.Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.All(later, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        var expired = await h.Sweeper(batchSize: 7).SweepOnceAsync(CancellationToken.None);

        Assert.Equal(49, expired);
        var node = await h.NodeAsync(pool);
        Assert.Equal(10, node.Reserved);
        Assert.Equal(2, node.Sold);
        Assert.Equal(0, await h.Sweeper().SweepOnceAsync(CancellationToken.None));
        await h.AssertAuditCleanAsync();
    }
}

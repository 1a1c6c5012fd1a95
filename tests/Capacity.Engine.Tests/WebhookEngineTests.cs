using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class WebhookEngineTests_on_sqlite() : WebhookEngineTests(StoreKind.Sqlite);

public sealed class WebhookEngineTests_on_postgres() : WebhookEngineTests(StoreKind.Postgres);

/// <summary>Webhook endpoints as the writer loads them into a batch.</summary>
public abstract class WebhookEngineTests(StoreKind kind)
{
    private static readonly Guid Tenant = EngineHarness.TenantA;

    /// <summary>
    /// A batch that touches a watched tenant reads all its endpoints by tenant, and a command joining
    /// the batch later changes the instance already loaded, which the store then writes back whole: so
    /// every field must come back as stored, the ones a hold never looks at included.
    /// </summary>
    [Fact]
    public async Task A_batch_loads_its_tenant_s_endpoints_with_every_field_as_stored()
    {
        await using var h = await EngineHarness.OpenAsync(kind);
        var ct = CancellationToken.None;
        var pool = await h.CreateAsync("Pool", 10);
        var endpointId = Guid.NewGuid();
        var created = await h.Engine.SubmitAsync(new CreateWebhook(
            Tenant, endpointId, "https://hooks.example/capacity?x=1", Topics.ReservationReleased | Topics.CapacitySoldOut, "box office", "whsec_c2VjcmV0LWZvci10aGUtdGVzdA=="));
        Assert.Equal(OutcomeCode.Ok, created.Outcome?.Code);
        var hold = await h.HoldAsync(pool, 1);
        var released = await h.Engine.SubmitAsync(new TransitionReservation(Tenant, hold.Outcome!.Value.Reservation!.Value.Id, Transition.Release));
        Assert.Equal(OutcomeCode.Ok, released.Outcome?.Code);
        var delivery = Assert.Single(await h.Store.GetDeliveriesAsync(Tenant, endpointId, 0, 10, ct));

        // Failing for longer than the policy allows: failing since the first attempt, then disabled with its reason.
        await FailAsync(h, endpointId, delivery.Sequence);
        h.Clock.Advance(DeliveryPolicy.DisableAfter + TimeSpan.FromMinutes(1));
        await FailAsync(h, endpointId, delivery.Sequence);
        var stored = await h.Store.GetWebhookAsync(Tenant, endpointId, ct);
        Assert.NotNull(stored);
        Assert.False(stored.Enabled);
        Assert.Equal(DeliveryPolicy.FailingReason, stored.DisabledReason);
        Assert.NotNull(stored.FailingSince);
        Assert.NotEqual(stored.CreatedAt, stored.UpdatedAt);

        var keys = new LoadKeys();
        keys.WebhookTenants.Add(Tenant);
        var ws = new WorkingSet();
        await using (var tx = await h.Store.BeginWriteAsync(ct))
        {
            await tx.LoadAsync(keys, ws, ct);
        }

        var loaded = Assert.Single(ws.EndpointsOf(Tenant));
        Assert.Equivalent(stored, loaded, strict: true);
        await h.AssertAuditCleanAsync();
    }

    private static async Task FailAsync(EngineHarness h, Guid endpointId, long sequence)
    {
        var attempt = await h.Engine.SubmitAsync(new RecordDeliveryAttempt(Tenant, endpointId, sequence, 503, "unavailable", 12, 0.5));
        Assert.Equal(OutcomeCode.Ok, attempt.Outcome?.Code);
    }
}

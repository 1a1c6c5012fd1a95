using Capacity.Core;
using Capacity.Engine;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class ReservationSearchTests_on_sqlite() : ReservationSearchTests(StoreKind.Sqlite);

public sealed class ReservationSearchTests_on_postgres() : ReservationSearchTests(StoreKind.Postgres);

/// <summary>The store's side of <c>GET /reservations</c>: what migration 008 fills in for holds made before it.</summary>
public abstract class ReservationSearchTests(StoreKind kind)
{
    [Fact]
    public async Task Migration_008_lists_holds_made_before_it_under_their_events_a_cart_across_events_under_each()
    {
        var location = await EngineHarness.NewLocationAsync(kind);
        var before = await EngineHarness.OpenExistingAsync(kind, location);
        var day1 = await before.CreateAsync("Day 1", 10);
        var day2Id = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await before.Engine.SubmitAsync(
            new CreateCapacity(EngineHarness.TenantA, day2Id, "e2", null, "Day 2", null, 10, [], true, null))).Outcome?.Code);
        var single = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await before.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, single, [new HoldItem(day1, 1, null)], 15))).Outcome?.Code);
        var cart = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await before.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, cart, [new HoldItem(day1, 1, null), new HoldItem(day2Id, 2, null)], 15))).Outcome?.Code);
        await before.Engine.DisposeAsync();
        await before.Store.DisposeAsync();

        // Back to the schema as it was before 008, these rows in it (and without 013's index, which needs 008's column).
        await RunAsync(location, kind == StoreKind.Sqlite
            ? "DROP INDEX reservations_event_live; DROP INDEX reservations_event; DROP INDEX reservations_external_ref; DROP TABLE reservation_events; "
              + "ALTER TABLE reservations DROP COLUMN event_id; ALTER TABLE reservations DROP COLUMN external_ref; ALTER TABLE reservations DROP COLUMN metadata; "
              + "DELETE FROM schema_migrations WHERE version IN (8, 13);"
            : "DROP TABLE reservation_events; ALTER TABLE reservations DROP COLUMN event_id, DROP COLUMN external_ref, DROP COLUMN metadata; "
              + "DELETE FROM schema_migrations WHERE version IN (8, 13);");

        await using var after = await EngineHarness.OpenExistingAsync(kind, location);
        Assert.True(await after.Store.IsReadyAsync(CancellationToken.None));
        Assert.Equal(new[] { cart, single }, await ListAsync(after, "e1"));
        Assert.Equal(new[] { cart }, await ListAsync(after, "e2"));

        // And the writer lists a new cart across events the same way.
        var newer = TimeOrderedIds.New();
        Assert.Equal(OutcomeCode.Ok, (await after.Engine.SubmitAsync(
            new PlaceHold(EngineHarness.TenantA, newer, [new HoldItem(day2Id, 1, null), new HoldItem(day1, 1, null)], 15))).Outcome?.Code);
        Assert.Equal(new[] { newer, cart, single }, await ListAsync(after, "e1"));
        Assert.Equal(new[] { newer, cart }, await ListAsync(after, "e2"));
        await after.AssertAuditCleanAsync();
    }

    private static async Task<Guid[]> ListAsync(EngineHarness h, string eventId) =>
        [.. (await h.Store.ListReservationsAsync(
            new ReservationQuery(EngineHarness.TenantA, eventId, null, null, null, h.Clock.GetUtcNow(), null, 100), CancellationToken.None)).Select(r => r.Id)];

    private async Task RunAsync(string location, string sql)
    {
        if (kind == StoreKind.Sqlite)
        {
            await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={location};Pooling=False");
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            await cmd.ExecuteNonQueryAsync();
        }
        else
        {
            await using var c = new Npgsql.NpgsqlConnection(location);
            await c.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand(sql, c);
            await cmd.ExecuteNonQueryAsync();
        }
    }
}

using System.Text.Json;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;

namespace Capacity.Server.Views;

/// <summary>A capacity row as a read loaded it, with its effective availability.</summary>
internal readonly record struct LoadedCapacity(CapacityNode Node, CapacityView View);

/// <summary>Reads of one capacity as last committed, for every feature that names a capacity in its route.</summary>
internal static class CapacityReads
{
    /// <summary>The capacity with its effective availability, or null when the id is not a capacity of this tenant.</summary>
    public static async Task<CapacityView?> Load(string id, Guid tenantId, IReadStore store, CancellationToken ct) =>
        (await Find(id, tenantId, store, ct))?.View;

    /// <summary>The row and its view, or null when the id is not a capacity of this tenant.</summary>
    public static async Task<LoadedCapacity?> Find(string id, Guid tenantId, IReadStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var capacityId))
        {
            return null;
        }

        var nodes = await store.GetCapacitiesAsync(tenantId, [capacityId], ct);
        var node = nodes.FirstOrDefault(n => n.Id == capacityId);
        return node is null ? null : new LoadedCapacity(node, Graph.View(node, new NodeLookup(nodes)));
    }

    /// <summary>
    /// The capacity as its own route shows it: with its allocations when it has had any, which is the
    /// only case that reads them.
    /// </summary>
    public static async Task<CapacityResponse?> Show(string id, Guid tenantId, IReadStore store, DateTimeOffset now, CancellationToken ct)
    {
        if (await Find(id, tenantId, store, ct) is not { } loaded)
        {
            return null;
        }

        var allocations = loaded.Node.AllocationCount > 0 ? await store.GetAllocationsAsync(tenantId, loaded.Node.Id, ct) : null;
        return CapacityResponse.From(loaded.View, allocations, now);
    }
}

/// <summary>
/// <c>GET /capacity/{id}</c> answered from the committed rows a store keeps in memory (<see cref="ICommittedRows"/>),
/// the hottest read there is: a buyer's page polls it. Each request thread remembers its last few
/// answers, body bytes and all, with the row objects they were worked out from; a commit replaces a
/// row's object, so finding the same objects again means the same answer, sent without building or
/// serializing it again, up to the next edge of a sale window on those rows (the <c>state</c> changes
/// with the clock there). A capacity with allocations is not remembered: they are read from the store.
/// </summary>
internal static class ShownCapacities
{
    private const int Remembered = 8;

    // Per thread, as the engine's early refusal keeps its own: nothing here awaits.
    [ThreadStatic]
    private static Scratch? t_scratch;

    /// <summary>The answer, or null when the rows are not all in memory, or not this tenant's, or the answer needs more than the rows.</summary>
    public static JsonOk<CapacityResponse>? TryShow(ICommittedRows committed, Guid tenantId, Guid id, JsonSerializerOptions options, DateTimeOffset now)
    {
        var scratch = t_scratch ??= new Scratch();
        var rows = scratch.Rows;
        scratch.Id[0] = id;
        if (!committed.TryGetCommittedCapacities(scratch.Id, rows))
        {
            return null;
        }

        try
        {
            // The asked row comes first, its ancestors after it.
            var node = rows[0];
            if (node.TenantId != tenantId || node.AllocationCount > 0)
            {
                return null;
            }

            foreach (var shown in scratch.Shown)
            {
                if (shown is not null && shown.Options == options && now < shown.Until && CommittedRows.Same(shown.Rows, rows))
                {
                    return JsonResults.Ok(shown.Response, shown.Body);
                }
            }

            // The kept rows are only read here, never changed.
            var response = CapacityResponse.From(Graph.View(node, new NodeLookup(rows)), now);
            var body = JsonResults.ToUtf8Bytes(response, options);
            scratch.Shown[scratch.Next] = new Shown(options, [.. rows], response, body, SaleRulesOf.SteadyUntil(rows, now));
            scratch.Next = (scratch.Next + 1) % Remembered;
            return JsonResults.Ok(response, body);
        }
        finally
        {
            rows.Clear();
        }
    }

    /// <summary>An answer as sent, with the options it was written with (a test process hosts several servers), the rows it came from, and until when the clock leaves it standing.</summary>
    private sealed record Shown(JsonSerializerOptions Options, CapacityNode[] Rows, CapacityResponse Response, byte[] Body, DateTimeOffset Until);

    private sealed class Scratch
    {
        public readonly Guid[] Id = new Guid[1];
        public readonly List<CapacityNode> Rows = [];
        public readonly Shown?[] Shown = new Shown?[Remembered];
        public int Next;
    }
}

/// <summary>A lookup over rows a read loaded.</summary>
internal sealed class NodeLookup(IEnumerable<CapacityNode> nodes) : ICapacityLookup
{
    private readonly Dictionary<Guid, CapacityNode> _byId = nodes.ToDictionary(n => n.Id);

    public CapacityNode? FindCapacity(Guid id) => _byId.GetValueOrDefault(id);
}

using System.Buffers;
using System.Text.Json;
using Capacity.Core;

namespace Capacity.Storage;

/// <summary>
/// The ledger as it is stored: one row ("chunk") per event per batch, holding that batch's entries
/// for the event in order, rather than one row per entry. An on-sale batch of 500 holds on a pool
/// with a child writes one row instead of a thousand; per-row B-tree and index work was most of
/// the cost of a durable hold (docs/performance.md).
/// <para>
/// A chunk's entries take the sequence numbers <c>last_seq - count + 1 .. last_seq</c> of its event (each
/// tenant's event numbers its own entries 1, 2, 3…, migration 014), so every entry keeps its own sequence
/// number and paging by <c>after</c> works as it did with one row per entry.
/// The payload is JSON so that a migration can build it in SQL from older rows:
/// <c>{"c":[capacity ids],"e":[[capacity index, reservation id, kind, reserved delta, sold delta, at(, allocation id or null(, true))], ...]}</c>.
/// The allocation id is written only for an entry that has one, and the trailing <c>true</c> only for an
/// entry of a waiting-list offer (whose waitlist id is its reservation id), so other chunks are as before.
/// </para>
/// </summary>
public static class LedgerChunks
{
    /// <summary>Most entries in one chunk; a bigger group is split. Far above what one batch writes to one event.</summary>
    public const int MaxEntries = 65_536;

    public readonly record struct Chunk(Guid TenantId, string EventId, int Count, byte[] Entries);

    /// <summary>
    /// For the audit, per event whose chunks do not number its entries 1, 2, 3… without a gap or an
    /// overlap: its tenant and id, how many chunks do not start right after the one before (the first
    /// must start at 1), and the last number of the first of them.
    /// </summary>
    public const string AuditNumbering =
        "SELECT tenant_id, event_id, COUNT(*), MIN(last_seq) FROM (SELECT tenant_id, event_id, last_seq, count, "
        + "COALESCE(LAG(last_seq) OVER (PARTITION BY tenant_id, event_id ORDER BY last_seq), 0) AS previous FROM ledger_chunks) AS c "
        + "WHERE last_seq - count <> previous GROUP BY tenant_id, event_id";

    /// <summary>Groups a batch's entries by event, keeping their order within each event.</summary>
    public static List<Chunk> Encode(IReadOnlyList<LedgerEntry> entries)
    {
        var chunks = new List<Chunk>();
        if (entries.Count == 0)
        {
            return chunks;
        }

        var buffer = new ArrayBufferWriter<byte>(4096);
        var capacities = new List<Guid>();
        foreach (var (tenant, eventId, indexes) in GroupByEvent(entries))
        {
            for (var start = 0; start < indexes.Count; start += MaxEntries)
            {
                var count = Math.Min(MaxEntries, indexes.Count - start);
                WritePayload(entries, indexes, start, count, buffer, capacities);
                chunks.Add(new Chunk(tenant, eventId, count, buffer.WrittenSpan.ToArray()));
            }
        }

        return chunks;
    }

    /// <summary>The indexes of each event's entries, events in order of first appearance.</summary>
    private static List<(Guid Tenant, string Event, List<int> Indexes)> GroupByEvent(IReadOnlyList<LedgerEntry> entries)
    {
        // Almost every batch touches one event, so a linear scan over the groups beats a dictionary,
        // starting from the group of the entry before (a hold's entries come together).
        var groups = new List<(Guid Tenant, string Event, List<int> Indexes)>();
        var last = -1;
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var g = last >= 0 && SameEvent(groups[last], e) ? last : -1;
            for (var k = 0; g < 0 && k < groups.Count; k++)
            {
                g = SameEvent(groups[k], e) ? k : -1;
            }

            if (g < 0)
            {
                g = groups.Count;
                groups.Add((e.TenantId, e.EventId, new List<int>(groups.Count == 0 ? entries.Count : 16)));
            }

            groups[g].Indexes.Add(i);
            last = g;
        }

        return groups;
    }

    /// <summary>Writes one chunk's payload (<c>count</c> entries from <c>start</c>) into <paramref name="buffer"/>, emptied first.</summary>
    private static void WritePayload(
        IReadOnlyList<LedgerEntry> entries, List<int> indexes, int start, int count, ArrayBufferWriter<byte> buffer, List<Guid> capacities)
    {
        buffer.ResetWrittenCount();
        capacities.Clear();
        using var w = new Utf8JsonWriter(buffer);
        w.WriteStartObject();
        w.WriteStartArray("e");
        for (var k = start; k < start + count; k++)
        {
            var e = entries[indexes[k]];
            var ci = capacities.IndexOf(e.CapacityId);
            if (ci < 0)
            {
                ci = capacities.Count;
                capacities.Add(e.CapacityId);
            }

            w.WriteStartArray();
            w.WriteNumberValue(ci);
            w.WriteStringValue(e.ReservationId);
            w.WriteNumberValue((int)e.Kind);
            w.WriteNumberValue(e.ReservedDelta);
            w.WriteNumberValue(e.SoldDelta);
            w.WriteNumberValue(e.At.ToUnixTimeMilliseconds());
            if (e.AllocationId is { } allocationId)
            {
                w.WriteStringValue(allocationId);
            }
            else if (e.WaitlistId is not null)
            {
                w.WriteNullValue();
            }

            if (e.WaitlistId is not null)
            {
                w.WriteBooleanValue(true);
            }

            w.WriteEndArray();
        }

        w.WriteEndArray();
        w.WriteStartArray("c");
        foreach (var id in capacities)
        {
            w.WriteStringValue(id);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static bool SameEvent((Guid Tenant, string Event, List<int> Indexes) group, LedgerEntry e) =>
        group.Tenant == e.TenantId && string.Equals(group.Event, e.EventId, StringComparison.Ordinal);

    /// <summary>
    /// Appends the chunk's entries with a sequence above <paramref name="after"/> to <paramref name="into"/>,
    /// until it holds <paramref name="limit"/> rows; <paramref name="row"/> makes a row of an entry and its
    /// sequence number (the row type belongs to the storage port, which this project does not reference).
    /// </summary>
    public static void Decode<TRow>(
        Guid tenantId, string eventId, long lastSeq, int count, ReadOnlySpan<byte> json, long after, int limit, List<TRow> into, Func<long, LedgerEntry, TRow> row)
    {
        var first = lastSeq - count + 1;
        var i = 0;
        Read(json, (capacityId, reservationId, kind, reserved, sold, at, allocationId, offer) =>
        {
            var seq = first + i++;
            if (seq > after && into.Count < limit)
            {
                into.Add(row(seq, new LedgerEntry(kind, tenantId, eventId, capacityId, reservationId, reserved, sold, at, allocationId, offer ? reservationId : null)));
            }
        });
        if (i != count)
        {
            throw new InvalidDataException($"Ledger chunk {lastSeq} holds {i} entries, not {count}.");
        }
    }

    /// <summary>Adds each entry's deltas to its capacity's sums (for the audit).</summary>
    public static void Sum(ReadOnlySpan<byte> json, Dictionary<Guid, (long Reserved, long Sold)> sums) =>
        Read(json, (capacityId, _, _, reserved, sold, _, _, _) =>
        {
            var (r, s) = sums.GetValueOrDefault(capacityId);
            sums[capacityId] = (r + reserved, s + sold);
        });

    private delegate void EntryVisitor(Guid capacityId, Guid reservationId, LedgerKind kind, long reserved, long sold, DateTimeOffset at, Guid? allocationId, bool offer);

    private static void Read(ReadOnlySpan<byte> json, EntryVisitor visit)
    {
        try
        {
            ReadEntries(json, visit);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentOutOfRangeException or InvalidOperationException)
        {
            throw new InvalidDataException("A ledger chunk is not valid.", ex);
        }
    }

    private static void ReadEntries(ReadOnlySpan<byte> json, EntryVisitor visit)
    {
        // Two passes: the capacity table follows the entries, and entries refer to it by index.
        var capacities = new List<Guid>();
        var r = new Utf8JsonReader(json);
        Expect(ref r, JsonTokenType.StartObject);
        while (Next(ref r) == JsonTokenType.PropertyName)
        {
            var isCapacities = r.ValueTextEquals("c"u8);
            if (isCapacities)
            {
                Expect(ref r, JsonTokenType.StartArray);
                while (Next(ref r) == JsonTokenType.String)
                {
                    capacities.Add(r.GetGuid());
                }
            }
            else
            {
                Next(ref r);
                r.Skip();
            }
        }

        r = new Utf8JsonReader(json);
        Expect(ref r, JsonTokenType.StartObject);
        while (Next(ref r) == JsonTokenType.PropertyName)
        {
            if (!r.ValueTextEquals("e"u8))
            {
                Next(ref r);
                r.Skip();
                continue;
            }

            Expect(ref r, JsonTokenType.StartArray);
            while (Next(ref r) == JsonTokenType.StartArray)
            {
                Expect(ref r, JsonTokenType.Number);
                var capacity = capacities[r.GetInt32()];
                Expect(ref r, JsonTokenType.String);
                var reservation = r.GetGuid();
                Expect(ref r, JsonTokenType.Number);
                var kind = (LedgerKind)r.GetInt32();
                Expect(ref r, JsonTokenType.Number);
                var reserved = r.GetInt64();
                Expect(ref r, JsonTokenType.Number);
                var sold = r.GetInt64();
                Expect(ref r, JsonTokenType.Number);
                var at = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64());
                Guid? allocation = null;
                var offer = false;
                if (Next(ref r) is JsonTokenType.String or JsonTokenType.Null)
                {
                    allocation = r.TokenType == JsonTokenType.String ? r.GetGuid() : null;
                    if (Next(ref r) == JsonTokenType.True)
                    {
                        offer = true;
                        Next(ref r);
                    }
                }

                if (r.TokenType != JsonTokenType.EndArray)
                {
                    throw new InvalidDataException("A ledger entry has more fields than it should.");
                }

                visit(capacity, reservation, kind, reserved, sold, at, allocation, offer);
            }
        }
    }

    private static JsonTokenType Next(ref Utf8JsonReader r) =>
        r.Read() ? r.TokenType : throw new InvalidDataException("A ledger chunk ends early.");

    private static void Expect(ref Utf8JsonReader r, JsonTokenType type)
    {
        if (Next(ref r) != type)
        {
            throw new InvalidDataException($"A ledger chunk has {r.TokenType} where {type} belongs.");
        }
    }
}

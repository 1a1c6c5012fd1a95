using Capacity.Core;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// The capacity rows as last committed, kept in memory by the store that is their only writer.
/// An availability read (<c>GET /capacity/{id}</c>) is then a dictionary lookup instead of two SQLite
/// queries, which were three quarters of its cost; the engine's batches skip the capacity load too.
/// <para>
/// It stays exact because every change to a capacity goes through this process's writer: after each
/// commit the writer publishes the rows the batch changed, overwriting what is here. A reader that
/// missed reads SQLite and offers what it read, which is only added if nothing was published for
/// that row meanwhile (a publish is never older than a read that started before it). When a commit
/// fails in a way that leaves its outcome unknown, everything is dropped and read again. A row kept
/// here is never changed: a publish puts a new copy in its place. Readers and batches get copies; the
/// engine's look before it queues a hold and the server's remembered availability reads get the kept
/// rows themselves (<see cref="TryGetCommitted"/>), to read only.
/// </para>
/// <para>
/// It holds at most <c>maxRows</c> rows (about 300 bytes each): once full, rows already here are still
/// kept up to date but no new ones are added, and those are read from SQLite as before. Capacities
/// outlive their events, so without a bound a long-lived server would keep every one it ever saw.
/// </para>
/// </summary>
internal sealed class CommittedCapacities(int maxRows = 100_000)
{
    private readonly Dictionary<Guid, CapacityNode> _nodes = [];
    private readonly Lock _gate = new();
    private long _generation;

    /// <summary>Taken before reading SQLite, and handed back with what was read (<see cref="Offer"/>).</summary>
    public long Generation
    {
        get
        {
            lock (_gate)
            {
                return _generation;
            }
        }
    }

    /// <summary>
    /// Copies of these capacities and all their ancestors, if every one is here; capacities of another
    /// tenant are left out, as the query does (<paramref name="tenantId"/> null: any tenant).
    /// </summary>
    public bool TryGetClosure(Guid? tenantId, IEnumerable<Guid> ids, out List<CapacityNode> nodes)
    {
        nodes = [];
        var seen = new HashSet<Guid>();
        var pending = new Stack<Guid>();
        lock (_gate)
        {
            foreach (var id in ids)
            {
                if (!_nodes.TryGetValue(id, out var node))
                {
                    return false;
                }

                if ((tenantId is null || node.TenantId == tenantId) && seen.Add(id))
                {
                    nodes.Add(node.Clone());
                    foreach (var parent in node.ParentIds)
                    {
                        pending.Push(parent);
                    }
                }
            }

            while (pending.TryPop(out var id))
            {
                if (!seen.Add(id))
                {
                    continue;
                }

                if (!_nodes.TryGetValue(id, out var node))
                {
                    return false;
                }

                nodes.Add(node.Clone());
                foreach (var parent in node.ParentIds)
                {
                    pending.Push(parent);
                }
            }
        }

        return true;
    }

    /// <summary>
    /// These capacities and all their ancestors, each once, as the objects kept here: never changed
    /// once kept (<see cref="Publish"/> replaces a row with a copy), so a caller may read them without
    /// the lock, and must not change them. For what runs on every request (the engine's look before it
    /// queues a hold, an availability read): no copy, and nothing allocated but what <paramref name="rows"/> grows by. A
    /// closure is a handful of rows, so the list itself is the set of rows already seen.
    /// </summary>
    public bool TryGetCommitted(IReadOnlyList<Guid> ids, List<CapacityNode> rows)
    {
        rows.Clear();
        lock (_gate)
        {
            for (var i = 0; i < ids.Count; i++)
            {
                if (!TryAddRow(ids[i], rows))
                {
                    rows.Clear();
                    return false;
                }
            }

            // Breadth first over the rows added so far: each one's parents join the list once.
            for (var i = 0; i < rows.Count; i++)
            {
                foreach (var parent in rows[i].ParentIds)
                {
                    if (!TryAddRow(parent, rows))
                    {
                        rows.Clear();
                        return false;
                    }
                }
            }
        }

        return true;
    }

    private bool TryAddRow(Guid id, List<CapacityNode> rows)
    {
        foreach (var row in rows)
        {
            if (row.Id == id)
            {
                return true;
            }
        }

        if (!_nodes.TryGetValue(id, out var node))
        {
            return false;
        }

        rows.Add(node);
        return true;
    }

    /// <summary>Rows a reader found in SQLite; kept only where nothing newer was published since <paramref name="generation"/>.</summary>
    public void Offer(IEnumerable<CapacityNode> nodes, long generation)
    {
        lock (_gate)
        {
            if (generation != _generation)
            {
                return;
            }

            foreach (var node in nodes)
            {
                if (_nodes.Count < maxRows)
                {
                    _nodes.TryAdd(node.Id, node.Clone());
                }
            }
        }
    }

    /// <summary>Rows the writer has just committed.</summary>
    public void Publish(IReadOnlyList<CapacityNode> nodes)
    {
        if (nodes.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var node in nodes)
            {
                // A row not kept is read from SQLite next time; a row kept must never fall behind.
                if (_nodes.Count < maxRows || _nodes.ContainsKey(node.Id))
                {
                    _nodes[node.Id] = node.Clone();
                }
            }
        }
    }

    /// <summary>After a commit whose outcome is unknown: forget everything, and refuse what readers read before.</summary>
    public void Invalidate()
    {
        lock (_gate)
        {
            _generation++;
            _nodes.Clear();
        }
    }
}

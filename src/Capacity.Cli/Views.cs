using System.Globalization;
using Capacity.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Capacity.Cli;

/// <summary>How the human (non-<c>--json</c>) output looks.</summary>
internal static class Views
{
    private const int BarWidth = 20;

    public const string Legend = "█ sold  ▒ reserved  ░ available  · held back by a parent pool";

    public const string WaitlistLegend = "Waiting: tickets the capacity's waiting list asks for; Offered: tickets held by its offers (counted in Reserved)";

    public const string AllocationLegend = "◇ allocation of the capacity above: Total is its size, Reserved its held, Available its idle (for holds that name it)";

    public const string SaleLegend = "Sale: where each capacity stands for buyers and when that changes next; +N after a total is its overbooking allowance (counted in Available)";

    /// <summary>
    /// An event's capacities as a tree by parent_ids, each with its counters and a bar, then the totals; as wide as
    /// <paramref name="console"/> allows.
    /// </summary>
    public static IRenderable Event(string eventId, IReadOnlyList<CapacityDetails> capacity, CapacityTotals totals, IAnsiConsole console, HoldSummary? holds = null)
    {
        // Only an event with sale rules, or with a capacity not on sale (closed, or under a pool that is), gets the Sale
        // column, and one with a waiting list its columns: the others read as they always did.
        var sale = capacity.Any(c => HasSaleRules(c) || c.State is not (SaleState.OnSale or SaleState.SoldOut));
        var queues = capacity.Any(c => c.Waitlist is not null);

        // A console narrower than the table would squeeze every column, wrapping each bar over several lines and breaking
        // names mid-word. Words wrap well, ids and bars do not: so the Id column goes first, and the bars only after it.
        var bars = true;
        var table = EventTable(eventId, capacity, sale, queues, ids: true, bars);
        if (!Fits(table, console))
        {
            table = EventTable(eventId, capacity, sale, queues, ids: false, bars);
            if (!Fits(table, console))
            {
                bars = false;
                table = EventTable(eventId, capacity, sale, queues, ids: false, bars);
            }
        }

        var rows = new List<IRenderable> { table };
        if (bars)
        {
            rows.Add(new Markup($"[grey]{Legend}[/]"));
        }

        if (capacity.Any(c => c.Allocations is { Count: > 0 }))
        {
            rows.Add(new Markup($"[grey]{AllocationLegend}[/]"));
        }

        if (sale)
        {
            rows.Add(new Markup($"[grey]{SaleLegend}[/]"));
        }

        if (queues)
        {
            rows.Add(new Markup($"[grey]{WaitlistLegend}[/]"));
        }

        rows.Add(new Markup(
                $"Totals over the roots: [bold]{Number(totals.TotalCapacity)}[/] total, [green]{Number(totals.AvailableCapacity)}[/] available, " +
                $"[yellow]{Number(totals.ReservedCapacity)}[/] reserved, [red]{Number(totals.SoldCount)}[/] sold" +
                (totals.HasUnlimited ? ", plus unlimited capacity" : "")));

        if (holds is not null)
        {
            rows.Add(new Markup($"Active holds: [bold]{Number(holds.Active)}[/]"));
            foreach (var hold in holds.Expiring)
            {
                rows.Add(new Markup($"  {hold.ReservationId} × {hold.Quantity} expires {Time(hold.ExpiresAt)}"));
            }
        }

        return new Rows(rows);
    }

    /// <summary>
    /// Whether <paramref name="table"/> fits the console with every column at least as wide as its widest word, id or bar:
    /// narrower, the console would cut those too. Measured without a limit, which would cap the answer at the console's width.
    /// </summary>
    private static bool Fits(Table table, IAnsiConsole console) =>
        ((IRenderable)table).Measure(RenderOptions.Create(console), int.MaxValue / 2).Min <= console.Profile.Width;

    /// <summary>The event's table, with or without the Id column and the bars.</summary>
    private static Table EventTable(string eventId, IReadOnlyList<CapacityDetails> capacity, bool sale, bool queues, bool ids, bool bars)
    {
        var table = new Table { Border = TableBorder.Rounded, Title = new TableTitle($"Event {Markup.Escape(eventId)}") };
        table.AddColumn("Section");
        if (ids)
        {
            // An id cut in two cannot be copied.
            table.AddColumn(new TableColumn("Id").NoWrap());
        }

        table.AddColumn("Mode");
        table.AddColumn(new TableColumn("Total").RightAligned());
        table.AddColumn(new TableColumn("Sold").RightAligned());
        table.AddColumn(new TableColumn("Reserved").RightAligned());
        table.AddColumn(new TableColumn("Available").RightAligned());
        if (bars)
        {
            table.AddColumn("");
        }

        if (sale)
        {
            table.AddColumn("Sale");
        }

        if (queues)
        {
            table.AddColumns(Counts("Waiting", "Offered"));
        }

        var byId = capacity.ToDictionary(c => c.Id);
        foreach (var (node, allocation, label) in Tree(capacity))
        {
            var cells = new List<string>();
            if (allocation is { } block)
            {
                cells.Add(Markup.Escape(label));
                if (ids)
                {
                    cells.Add(block.Id.ToString());
                }

                cells.AddRange(["allocation", Number(block.Size), Number(block.Sold), Number(block.Held), Number(block.Idle)]);
                if (bars)
                {
                    // Said where the bar would be, rather than after the name: a name that wraps would carry it to a line
                    // of its own, outside the tree. And a bar of nothing would read as tickets held back by a pool.
                    cells.Add(block.Status == AllocationStatus.Open ? Bar(block.Size, block.Sold, block.Held, block.Idle) : "[grey]closed[/]");
                }
            }
            else
            {
                // The Sale column says "closed" and why, so the label need not say it too.
                cells.Add(Markup.Escape(label) + (node.IsActive || sale ? "" : " [grey](inactive)[/]"));
                if (ids)
                {
                    cells.Add(node.Id.ToString());
                }

                cells.AddRange(
                [
                    Mode(node.Mode),
                    (node.TotalCapacity is { } total ? Number(total) : "∞") + (node.OverbookLimit is > 0 and var allowance ? $" +{Number(allowance)}" : ""),
                    Number(node.SoldCount),
                    Number(node.ReservedCapacity),
                    node.AvailableCapacity is { } a ? Number(a) : "∞",
                ]);
                if (bars)
                {
                    cells.Add(Bar(node));
                }
            }

            if (sale)
            {
                cells.Add(allocation is null ? SaleCell(node, byId) : "");
            }

            if (queues)
            {
                cells.AddRange(Queue(allocation is null ? node.Waitlist : null));
            }

            table.AddRow([.. cells]);
        }

        return table;
    }

    /// <summary>
    /// Whether the capacity has a sale rule in force: a window, a tier, closing when sold out, or an overbooking allowance.
    /// Not whether <c>close_when_sold_out</c> and <c>overbook_limit</c> are shown: the server shows them (false, 0) on a
    /// capacity given any rule or a low watermark, and goes on showing them once the rules are cleared.
    /// </summary>
    private static bool HasSaleRules(CapacityDetails c) =>
        c.SaleStartsAt is not null || c.SaleEndsAt is not null || c.OpensAfterSoldOutOf is not null || c.CloseWhenSoldOut == true || c.OverbookLimit > 0;

    /// <summary>
    /// A capacity's state, and under it the pool that keeps it from sale when one does ("pool Venue is deactivated"),
    /// what changes it next ("opens …", "after Early bird", "until …") and how far past its total it is: one line each,
    /// so the column stays narrow. A tier it opens after is named when it is in the event.
    /// </summary>
    private static string SaleCell(CapacityDetails c, IReadOnlyDictionary<Guid, CapacityDetails> byId)
    {
        var (state, pool) = CapacityState(c, byId);
        var lines = new List<string> { state };
        if (pool is not null)
        {
            lines.Add($"[grey]{pool}[/]");
        }

        switch (c)
        {
            case { State: SaleState.Scheduled, NextChangeAt: { } at }:
                lines.Add($"opens {Time(at)}");
                break;
            case { State: SaleState.Scheduled, OpensAfterSoldOutOf: { } earlier } when !TierOpen(c, byId, DateTimeOffset.UtcNow):
                lines.Add($"after {Markup.Escape(byId.GetValueOrDefault(earlier)?.SectionName ?? earlier.ToString())}");
                break;
            case { NextChangeAt: { } at }:
                lines.Add($"until {Time(at)}");
                break;
        }

        if (c.OverbookedBy is > 0 and var past)
        {
            lines.Add($"{Number(past)} past total");
        }

        return string.Join("\n", lines);
    }

    /// <summary>
    /// The state as a word, with the capacity's own reason when it is closed by its own settings; and apart, when a pool
    /// above is why it is not on sale, that pool's reason. The state counts the pools a capacity draws from, where
    /// <c>is_active</c>, <c>closed_reason</c>, the window and the tier are its own: when its own settings do not explain
    /// the state, a pool above it does. Given the event's capacities (<paramref name="byId"/>), that pool is named: the
    /// nearest whose own settings explain it; otherwise (<c>capacities show</c>, or a pool of another event) it is "a pool above".
    /// </summary>
    private static (string State, string? Pool) CapacityState(CapacityDetails c, IReadOnlyDictionary<Guid, CapacityDetails>? byId = null)
    {
        var now = DateTimeOffset.UtcNow;
        switch (c.State)
        {
            case SaleState.OnSale:
                return ("[green]on sale[/]", null);
            case SaleState.SoldOut:
                return ("[yellow]sold out[/]", null);
            case SaleState.Scheduled:
                if (NotOpenYet(c, byId, now))
                {
                    return ("[blue]scheduled[/]", null);
                }

                return ("[blue]scheduled[/]", PoolAbove(c, byId, p => NotOpenYet(p, byId, now)) is { } later
                    ? $"pool {Markup.Escape(later.SectionName)} is not on sale yet"
                    : "a pool above is not on sale yet");
            default:
                if (OwnClosure(c, now) is { } own)
                {
                    return ($"[grey]closed ({own})[/]", null);
                }

                return ("[grey]closed[/]", PoolAbove(c, byId, p => OwnClosure(p, now) is not null) is { } pool
                    ? PoolClosure(pool, OwnClosure(pool, now)!)
                    : "a pool above is closed");
        }
    }

    /// <summary>Why the capacity's own settings close it: its sold-out rule, a deactivation, or the end of its window; null when they do not.</summary>
    private static string? OwnClosure(CapacityDetails c, DateTimeOffset now) =>
        c.ClosedReason == ClosedReason.SoldOut ? "sold out"
        : !c.IsActive ? "deactivated"
        : c.SaleEndsAt <= now ? "sale ended"
        : null;

    /// <summary>A pool's own reason, said of it from a capacity below: "pool Venue is deactivated", as the dashboard says it.</summary>
    private static string PoolClosure(CapacityDetails pool, string reason)
    {
        var name = Markup.Escape(pool.SectionName);
        return reason switch
        {
            "sold out" => $"pool {name} closed when it sold out",
            "deactivated" => $"pool {name} is deactivated",
            _ => $"pool {name}'s sale has ended",
        };
    }

    /// <summary>Whether the capacity's own settings keep it from sale for now: a window not started, or a tier not yet open.</summary>
    private static bool NotOpenYet(CapacityDetails c, IReadOnlyDictionary<Guid, CapacityDetails>? byId, DateTimeOffset now) =>
        c.SaleStartsAt > now || (c.OpensAfterSoldOutOf is not null && !TierOpen(c, byId, now));

    /// <summary>
    /// Whether a tier is known to have opened: the capacity it opens after was closed by selling out, or its own sale window
    /// has ended, either of which opens it. The answer says no more; unknown (the earlier one reopened by hand since, or
    /// not at hand) counts as not open.
    /// </summary>
    private static bool TierOpen(CapacityDetails c, IReadOnlyDictionary<Guid, CapacityDetails>? byId, DateTimeOffset now) =>
        c.OpensAfterSoldOutOf is { } earlier && byId?.GetValueOrDefault(earlier) is { } e && (e.ClosedReason == ClosedReason.SoldOut || e.SaleEndsAt <= now);

    /// <summary>The nearest pool above <paramref name="c"/> in the event (breadth first) for which <paramref name="explains"/> holds, or null.</summary>
    private static CapacityDetails? PoolAbove(CapacityDetails c, IReadOnlyDictionary<Guid, CapacityDetails>? byId, Func<CapacityDetails, bool> explains)
    {
        if (byId is null)
        {
            return null;
        }

        var seen = new HashSet<Guid>();
        var queue = new Queue<Guid>(c.ParentIds);
        while (queue.TryDequeue(out var id))
        {
            if (!seen.Add(id) || byId.GetValueOrDefault(id) is not { } pool)
            {
                continue;
            }

            if (explains(pool))
            {
                return pool;
            }

            foreach (var parent in pool.ParentIds)
            {
                queue.Enqueue(parent);
            }
        }

        return null;
    }

    /// <summary>One capacity with its counters, where it stands for sale, and its sale rules (each only when it has it).</summary>
    public static IRenderable Capacity(CapacityDetails c)
    {
        var grid = Pairs(
            ("Capacity", c.Id.ToString()),
            ("Name", Markup.Escape(c.SectionName)),
            ("Event", Markup.Escape(c.EventId)),
            ("Mode", Mode(c.Mode)),
            ("Total", c.TotalCapacity is { } total ? Number(total) : "∞"),
            ("Counters", $"{Number(c.SoldCount)} sold, {Number(c.ReservedCapacity)} reserved, [green]{(c.AvailableCapacity is { } a ? Number(a) : "∞")}[/] available"));
        if (c.ParentIds.Count > 0)
        {
            grid.AddRow("Parents", string.Join("\n", c.ParentIds));
        }

        if (c.SectionCode is { } code)
        {
            grid.AddRow("Code", Markup.Escape(code));
        }

        if (c.ScheduleId is { } schedule)
        {
            grid.AddRow("Schedule", Markup.Escape(schedule));
        }

        var (state, pool) = CapacityState(c);
        grid.AddRow("State", pool is null ? state : $"{state} [grey]({pool})[/]");
        if (c.NextChangeAt is { } next)
        {
            grid.AddRow("Next change", Time(next));
        }

        var window = (c.SaleStartsAt, c.SaleEndsAt) switch
        {
            ({ } from, { } until) => $"{Time(from)} to {Time(until)}",
            ({ } from, null) => $"from {Time(from)}",
            (null, { } until) => $"until {Time(until)}",
            _ => null,
        };
        if (window is not null)
        {
            grid.AddRow("Sale window", window);
        }

        if (c.OpensAfterSoldOutOf is { } earlier)
        {
            grid.AddRow("Opens after", $"{earlier} sells out");
        }

        if (c.CloseWhenSoldOut == true)
        {
            grid.AddRow("When sold out", "closes [grey](until reopened with --active)[/]");
        }

        if (c.OverbookLimit is > 0 and var allowance)
        {
            grid.AddRow("Overbooking", $"up to {Number(allowance)} past total, {Number(c.OverbookedBy ?? 0)} used");
        }

        if (c.LowWatermark is { } low)
        {
            grid.AddRow("Low watermark", $"{Number(low)} [grey](webhooks are told capacity.low when available falls to it)[/]");
        }

        return grid;
    }

    /// <summary><c>capacities check</c>: whether the tickets could be held now, and why not when they could not.</summary>
    public static IRenderable Check(CapacityCheck c) => Pairs(
        ("Quantity", Number(c.Quantity)),
        ("Available", c.Available ? "[green]yes[/] [grey](advice: only a hold takes them)[/]" : c.IsActive ? "[red]no[/]" : c.ClosedReason == "sold_out" ? "[red]no[/] [grey](closed: sold out)[/]" : "[red]no[/] [grey](inactive)[/]"),
        ("Free now", c.AvailableCapacity is { } a ? Number(a) : "∞"));

    /// <summary>A capacity's waiting-list cells: blank without a list, and a closed list says so.</summary>
    private static string[] Queue(WaitlistSettings? w) => w is null
        ? ["", ""]
        : [Number(w.Waiting) + (w.Enabled ? "" : " [grey](closed)[/]"), Number(w.Offered)];

    /// <summary>
    /// Rows in tree order: each root, then its children under it, indented. A capacity drawing from
    /// several pools appears under each of them. Parents outside this event (a weekend pass drawing
    /// from each day's event) make it a root here. A capacity's allocations come first under it, as
    /// rows with <c>Allocation</c> set: they are part of it, not pools below it.
    /// </summary>
    public static List<(CapacityDetails Node, AllocationSummary? Allocation, string Label)> Tree(IReadOnlyList<CapacityDetails> capacity)
    {
        var ids = capacity.Select(c => c.Id).ToHashSet();
        var children = capacity.ToDictionary(c => c.Id, _ => new List<CapacityDetails>());
        var roots = new List<CapacityDetails>();
        foreach (var c in capacity)
        {
            var parents = c.ParentIds.Where(ids.Contains).ToList();
            if (parents.Count == 0)
            {
                roots.Add(c);
            }

            foreach (var p in parents)
            {
                children[p].Add(c);
            }
        }

        var rows = new List<(CapacityDetails, AllocationSummary?, string)>();
        foreach (var root in roots)
        {
            rows.Add((root, null, root.SectionName));
            Walk(root, "", [root.Id]);
        }

        return rows;

        void Walk(CapacityDetails node, string indent, HashSet<Guid> path)
        {
            var allocations = node.Allocations ?? [];
            var kids = children[node.Id];
            for (var i = 0; i < allocations.Count; i++)
            {
                var last = i == allocations.Count - 1 && kids.Count == 0;
                rows.Add((node, allocations[i], indent + (last ? "└─ " : "├─ ") + "◇ " + allocations[i].Name));
            }

            for (var i = 0; i < kids.Count; i++)
            {
                var kid = kids[i];
                var last = i == kids.Count - 1;

                // The server refuses cycles; the guard keeps a bad answer from looping forever.
                if (!path.Add(kid.Id))
                {
                    continue;
                }

                rows.Add((kid, null, indent + (last ? "└─ " : "├─ ") + kid.SectionName));
                Walk(kid, indent + (last ? "   " : "│  "), path);
                path.Remove(kid.Id);
            }
        }
    }

    /// <summary>
    /// Sold, reserved and available as shares of the capacity's own total; what is left is held
    /// back because a parent pool has less to give.
    /// </summary>
    public static string Bar(CapacityDetails c) => c.TotalCapacity is { } total
        ? Bar(total, c.SoldCount, c.ReservedCapacity, c.AvailableCapacity ?? 0)
        : c.Mode == CapacityMode.Shared ? "[grey]draws from its pools[/]" : "[grey]unlimited[/]";

    /// <summary>The bar of a limited capacity, or of an allocation (whose sold, held and idle always fill its size).</summary>
    private static string Bar(long total, long soldCount, long reservedCount, long available)
    {
        if (total == 0)
        {
            // Nothing to draw: a row of '·' would say that tickets are held back by a pool.
            return "[grey]empty[/]";
        }

        var sold = Cells(soldCount, total);
        var reserved = Cells(soldCount + reservedCount, total) - sold;
        var free = Cells(soldCount + reservedCount + available, total) - sold - reserved;
        var blocked = BarWidth - sold - reserved - free;
        return $"[red]{new string('█', sold)}[/][yellow]{new string('▒', reserved)}[/][green]{new string('░', free)}[/][grey]{new string('·', blocked)}[/]";
    }

    // Rounds cumulative edges rather than each share, so the shares always add up to the width.
    private static int Cells(long value, long total) => (int)Math.Clamp(Math.Round((double)value * BarWidth / total), 0, BarWidth);

    public static IRenderable Tenant(TenantKey key)
    {
        var grid = Pairs(("Tenant", Markup.Escape(key.Name)), ("Tenant id", key.TenantId.ToString()));
        grid.AddRow("API key", key.ApiKey is null
            ? "[grey](not shown: this answer was a replay)[/]"
            : $"[bold]{Markup.Escape(key.ApiKey)}[/] [grey](shown once: store it now)[/]");
        if (key.Key is { } k)
        {
            grid.AddRow("Key id", k.Id.ToString());
            grid.AddRow("Key name", k.Name is null ? "[grey]none[/]" : Markup.Escape(k.Name));
            grid.AddRow("Scope", Scope(k.Scope));
            grid.AddRow("Expires", Expiry(k.ExpiresAt));
        }

        return grid;
    }

    public static IRenderable Key(ApiKeyInfo k) => Pairs(
        ("Key id", k.Id.ToString()),
        ("Tenant id", k.TenantId.ToString()),
        ("Prefix", k.Prefix is null ? "[grey]not kept[/]" : Markup.Escape(k.Prefix) + "…"),
        ("Name", k.Name is null ? "[grey]none[/]" : Markup.Escape(k.Name)),
        ("Scope", Scope(k.Scope)),
        ("Status", KeyState(k.Status)),
        ("Created", Time(k.CreatedAt)),
        ("Last used", k.LastUsedAt is { } used ? Time(used) : "[grey]never[/]"),
        ("Expires", Expiry(k.ExpiresAt)),
        ("Revoked", k.RevokedAt is { } revoked ? Time(revoked) : "[grey]no[/]"));

    public static IRenderable Keys(IReadOnlyList<ApiKeyInfo> keys)
    {
        if (keys.Count == 0)
        {
            return new Markup("[grey]No keys.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }.AddColumns("Prefix", "Name", "Id", "Scope", "Status", "Created", "Last used", "Expires");
        foreach (var k in keys)
        {
            table.AddRow(
                k.Prefix is null ? "[grey]?[/]" : Markup.Escape(k.Prefix) + "…", k.Name is null ? "" : Markup.Escape(k.Name), k.Id.ToString(),
                Scope(k.Scope), KeyState(k.Status), Time(k.CreatedAt), k.LastUsedAt is { } used ? Time(used) : "[grey]never[/]", Expiry(k.ExpiresAt));
        }

        return table;
    }

    /// <summary><c>admin tenants list</c>: one row per tenant, oldest first.</summary>
    public static IRenderable Tenants(IReadOnlyList<TenantInfo> tenants)
    {
        if (tenants.Count == 0)
        {
            return new Markup("[grey]No tenants.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }.AddColumns("Tenant", "Id", "Created", "State");
        foreach (var t in tenants)
        {
            table.AddRow(Markup.Escape(t.Name), t.TenantId.ToString(), Time(t.CreatedAt), t.DisabledAt is { } since ? $"[red]disabled[/] since {Time(since)}" : "[green]enabled[/]");
        }

        return table;
    }

    public static IRenderable TenantState(TenantInfo t) => Pairs(
        ("Tenant", Markup.Escape(t.Name)),
        ("Tenant id", t.TenantId.ToString()),
        ("Created", Time(t.CreatedAt)),
        ("State", t.DisabledAt is { } since ? $"[red]disabled[/] since {Time(since)}: every key and JWT is refused" : "[green]enabled[/]"));

    /// <summary><c>whoami</c>: the tenant the key acts for and what it may do.</summary>
    public static IRenderable Credential(CredentialInfo c) => Pairs(
        ("Tenant id", c.TenantId.ToString()),
        ("Scope", Scope(c.Scope) + c.Scope switch
        {
            ApiKeyScope.Read => " [grey](reads and live streams; every change is refused)[/]",
            ApiKeyScope.Elevated => " [grey](everything a tenant does, and reclaiming expired holds)[/]",
            _ => " [grey](everything a tenant does)[/]",
        }));

    private static string Scope(ApiKeyScope scope) => scope switch
    {
        ApiKeyScope.Read => "read",
        ApiKeyScope.Elevated => "[yellow]elevated[/]",
        _ => "write",
    };

    private static string KeyState(ApiKeyStatus status) => status switch
    {
        ApiKeyStatus.Active => "[green]active[/]",
        ApiKeyStatus.Expired => "[grey]expired[/]",
        _ => "[red]revoked[/]",
    };

    public static IRenderable Events(IReadOnlyList<EventSummary> events)
    {
        if (events.Count == 0)
        {
            return new Markup("[grey]No events yet.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded };
        table.AddColumn("Event");
        table.AddColumn(new TableColumn("Capacities").RightAligned());
        table.AddColumn("Created");
        foreach (var e in events)
        {
            table.AddRow(Markup.Escape(e.EventId), Number(e.Capacities), Time(e.CreatedAt));
        }

        return table;
    }

    public static IRenderable Reservation(Reservation r, CapacityDetails? capacity = null)
    {
        var grid = Pairs(("Reservation", r.Id.ToString()), ("Status", Status(r.Status)));
        if (r.BuyerKey is { } buyer)
        {
            grid.AddRow("Buyer", Markup.Escape(buyer));
        }

        if (r.WaitlistId is { } entry)
        {
            grid.AddRow("Offer to", $"waiting-list entry {entry}");
        }

        if (r.ExternalRef is { } reference)
        {
            grid.AddRow("Ref", Markup.Escape(reference));
        }

        foreach (var (key, value) in r.Metadata ?? new Dictionary<string, string>())
        {
            grid.AddRow("Meta", Markup.Escape($"{key}={value}"));
        }

        if (r.Reclaimed)
        {
            grid.AddRow("Reclaimed", "[green]yes[/] [grey](it had expired; its tickets were still free)[/]");
        }

        foreach (var item in r.Items)
        {
            var price = item.LockedPrice is { } p
                ? $" at {Money(p.UnitPrice, p.Currency)} ({Markup.Escape(p.Name)})"
                : "";
            var allocation = item.AllocationId is { } a ? $" from allocation {a}" : "";
            grid.AddRow("Item", $"{Item(item)}{allocation}{price}");
        }

        foreach (var t in r.Totals)
        {
            grid.AddRow("Total", $"{Money(t.Total, t.Currency)} [grey]({Money(t.Subtotal, t.Currency)} + fees {Money(t.Fees, t.Currency)} + tax {Money(t.Tax, t.Currency)})[/]");
        }

        grid.AddRow(r.Status == ReservationStatus.Active ? "Expires" : "Expiry was", Time(r.ExpiresAt));
        if (r.ConfirmedAt is { } confirmed)
        {
            grid.AddRow("Confirmed", Time(confirmed));
        }

        if (r.EndedAt is { } ended)
        {
            grid.AddRow("Ended", Time(ended));
        }

        if (capacity is not null)
        {
            grid.AddRow("Now available", $"{(capacity.AvailableCapacity is { } a ? Number(a) : "∞")} in {Markup.Escape(capacity.SectionName)}");
        }

        return grid;
    }

    /// <summary>A page of reservations; when there are more, how to ask for them.</summary>
    public static IRenderable Reservations(ReservationPage page)
    {
        if (page.Reservations.Count == 0)
        {
            return new Markup("[grey]No reservations.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }.AddColumns("Reservation", "Status", "Items", "Buyer", "Ref", "Created");
        foreach (var r in page.Reservations)
        {
            table.AddRow(
                r.Id.ToString(), Status(r.Status), string.Join("\n", r.Items.Select(Item)),
                Markup.Escape(r.BuyerKey ?? ""), Markup.Escape(r.ExternalRef ?? ""), Time(r.CreatedAt));
        }

        return page.NextAfter is { } next
            ? new Rows(table, new Markup($"[grey]More: --after {Markup.Escape(next)}, or --all[/]"))
            : table;
    }

    /// <summary>A page of the ledger, oldest first, each change signed; when there are more, how to ask for them.</summary>
    public static IRenderable Ledger(LedgerPage page)
    {
        if (page.Entries.Count == 0)
        {
            return new Markup(page.NextAfter is null ? "[grey]No entries.[/]" : $"[grey]No entries. More: --after {page.NextAfter.Value.ToString(CultureInfo.InvariantCulture)}, or --all[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }
            .AddColumns(Counts("Seq"))
            .AddColumns("Kind", "Capacity", "Reservation")
            .AddColumns(Counts("Reserved", "Sold"))
            .AddColumns("At");

        // Only a ledger with allocations or waiting-list offers gets the column that names them.
        var via = page.Entries.Any(e => e.AllocationId is not null || e.WaitlistId is not null);
        if (via)
        {
            table.AddColumn("Via");
        }

        foreach (var e in page.Entries)
        {
            string[] cells =
            [
                Number(e.Sequence), e.Kind.ToString().ToLowerInvariant(), e.CapacityId.ToString(), e.ReservationId?.ToString() ?? "",
                e.ReservedDelta == 0 ? "" : Signed(e.ReservedDelta), e.SoldDelta == 0 ? "" : Signed(e.SoldDelta), Time(e.At),
            ];
            table.AddRow(via ? [.. cells, e.AllocationId is { } a ? $"allocation {a}" : e.WaitlistId is { } w ? $"waiting list {w}" : ""] : cells);
        }

        return page.NextAfter is { } next
            ? new Rows(table, new Markup($"[grey]More: --after {next.ToString(CultureInfo.InvariantCulture)}, or --all[/]"))
            : table;
    }

    /// <summary>A change of a counter: "+2", "-2", or "0".</summary>
    private static string Signed(long delta) => delta switch
    {
        0 => "0",
        > 0 => "+" + Number(delta),
        _ => "-" + Number(-delta),
    };

    /// <summary>An item's tickets, with those refunded from it when there are any.</summary>
    private static string Item(ReservationItem item) =>
        $"{Number(item.Quantity)} × {item.CapacityId}" + (item.CancelledQuantity > 0 ? $" [grey]({Number(item.CancelledQuantity)} refunded)[/]" : "");

    /// <summary>A price entry: what a hold would lock now, and what that is made of.</summary>
    public static IRenderable Pricing(PricingDetails p) => Pairs(
        ("Pricing", p.Id.ToString()),
        ("Name", Markup.Escape(p.Name)),
        ("Capacity", p.CapacityId.ToString()),
        ("Unit price", $"[bold]{Money(p.UnitPrice, p.Currency)}[/] [grey](what a hold locks now: {(p.CurrentPrice is null ? "the list price" : "the current price")})[/]"),
        ("List price", Money(p.BasePrice, p.Currency)),
        ("Current price", p.CurrentPrice is { } current ? Money(current, p.Currency) : "[grey]none[/]"),
        ("Fees", $"{Money(p.ServiceFee, p.Currency)} service, {Money(p.FacilityFee, p.Currency)} facility, per ticket"),
        ("Tax rate", TaxRate(p.TaxRate)),
        ("Updated", Time(p.UpdatedAt)));

    public static IRenderable Prices(IReadOnlyList<PricingDetails> prices)
    {
        if (prices.Count == 0)
        {
            return new Markup("[grey]No price entries.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }
            .AddColumns("Pricing", "Id")
            .AddColumns(Counts("Unit price", "List price", "Current price", "Service fee", "Facility fee", "Tax rate"));
        foreach (var p in prices)
        {
            table.AddRow(
                Markup.Escape(p.Name), p.Id.ToString(), Money(p.UnitPrice, p.Currency), Money(p.BasePrice, p.Currency),
                p.CurrentPrice is { } current ? Money(current, p.Currency) : "", Money(p.ServiceFee, p.Currency), Money(p.FacilityFee, p.Currency), TaxRate(p.TaxRate));
        }

        return table;
    }

    /// <summary>A tax rate as given, and as a percentage: "0.2 (20%)".</summary>
    private static string TaxRate(decimal rate) =>
        $"{rate.ToString(CultureInfo.InvariantCulture)} ({(rate * 100).ToString("0.##", CultureInfo.InvariantCulture)}%)";

    public static IRenderable Allocation(AllocationDetails a) => Pairs(
        ("Allocation", a.Id.ToString()),
        ("Name", Markup.Escape(a.Name)),
        ("Status", AllocationState(a.Status)),
        ("Capacity", $"{a.CapacityId} [grey](event {Markup.Escape(a.EventId)})[/]"),
        ("Size", $"[bold]{Number(a.Size)}[/]: {Number(a.Held)} held, {Number(a.Sold)} sold, [green]{Number(a.Idle)}[/] idle"),
        ("Expires", Expiry(a.ExpiresAt)));

    public static IRenderable Allocations(IReadOnlyList<AllocationDetails> allocations)
    {
        if (allocations.Count == 0)
        {
            return new Markup("[grey]No allocations.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }
            .AddColumns("Allocation", "Id", "Status")
            .AddColumns(Counts("Size", "Held", "Sold", "Idle"))
            .AddColumns("Expires");
        foreach (var a in allocations)
        {
            table.AddRow(
                Markup.Escape(a.Name), a.Id.ToString(), AllocationState(a.Status),
                Number(a.Size), Number(a.Held), Number(a.Sold), Number(a.Idle), Expiry(a.ExpiresAt));
        }

        return table;
    }

    public static IRenderable Limit(LimitDetails l) => Pairs(
        ("Limit", l.Id.ToString()),
        ("Name", Markup.Escape(l.Name)),
        ("Event", Markup.Escape(l.EventId)),
        ("Per buyer", $"at most [bold]{Tickets(l.PerBuyerMax)}[/]"),
        ("Buyer key", BuyerKeyRule(l.RequireBuyerKey)),
        ("Capacities", string.Join("\n", l.CapacityIds)));

    public static IRenderable Limits(IReadOnlyList<LimitDetails> limits)
    {
        if (limits.Count == 0)
        {
            return new Markup("[grey]No limits.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }
            .AddColumns("Limit", "Id")
            .AddColumns(Counts("Per buyer"))
            .AddColumns("Buyer key", "Capacities");
        foreach (var l in limits)
        {
            table.AddRow(Markup.Escape(l.Name), l.Id.ToString(), Number(l.PerBuyerMax), BuyerKeyRule(l.RequireBuyerKey), string.Join("\n", l.CapacityIds));
        }

        return table;
    }

    /// <summary>Why an entry lapsed, in words; a reason this CLI does not know is shown as the server sent it.</summary>
    public static string LapseReason(string reason) => reason switch
    {
        WaitlistLapseReasons.OfferExpired => "its offer expired unconfirmed",
        WaitlistLapseReasons.OfferReleased => "its offer was released",
        WaitlistLapseReasons.TooLarge => "a pool it draws from became smaller than what it asks",
        WaitlistLapseReasons.SaleEnded => "the sale window of a capacity it reaches ended",
        WaitlistLapseReasons.BuyerKeyRequired => "it names no buyer, and a limit now requires a buyer key",
        _ => Markup.Escape(reason),
    };

    public static IRenderable Usage(LimitUsage u) => Pairs(
        ("Limit", u.LimitId.ToString()),
        ("Buyer", Markup.Escape(u.BuyerKey)),
        ("Used", u.Waiting == 0
            ? $"[bold]{Number(u.Used)}[/] of {Number(u.PerBuyerMax)} [grey](active holds and sales)[/]"
            : $"[bold]{Number(u.Used)}[/] of {Number(u.PerBuyerMax)} [grey](active holds and sales, and {Number(u.Waiting)} waited for on waiting lists)[/]"),
        ("Left", Number(Math.Max(0, u.PerBuyerMax - u.Used))));

    public static IRenderable WaitlistEntry(WaitlistEntry e)
    {
        var grid = Pairs(("Entry", e.Id.ToString()), ("Status", WaitlistState(e.Status)), ("Event", Markup.Escape(e.EventId)));
        if (e.LapsedReason is { } reason)
        {
            grid.AddRow("Why", LapseReason(reason));
        }

        if (e.Position is { } position)
        {
            grid.AddRow("Position", $"[bold]{Number(position)}[/] in line");
        }

        if (e.HeldBackByLimitId is { } limit)
        {
            grid.AddRow("Held back", $"its buyer is past limit {limit}: passed over until the buyer has room again");
        }

        if (e.OfferReservationId is { } offer)
        {
            grid.AddRow("Offer", $"reservation {offer}" + (e.Status == WaitlistStatus.Offered ? " [grey](confirm or release it like any hold)[/]" : ""));
        }

        foreach (var item in e.Items)
        {
            grid.AddRow("Item", $"{item.Quantity} × {item.CapacityId}");
        }

        if (e.BuyerKey is { } buyer)
        {
            grid.AddRow("Buyer", Markup.Escape(buyer));
        }

        if (e.ExternalRef is { } reference)
        {
            grid.AddRow("Ref", Markup.Escape(reference));
        }

        grid.AddRow("Joined", Time(e.CreatedAt));
        grid.AddRow("Updated", Time(e.UpdatedAt));
        return grid;
    }

    /// <summary>A page of a capacity's entries; when there are more, how to ask for them.</summary>
    public static IRenderable Waitlist(WaitlistPage page)
    {
        if (page.Entries.Count == 0)
        {
            return new Markup("[grey]No entries.[/]");
        }

        // No position column: the list does not count places in line (show an entry for its position).
        var table = new Table { Border = TableBorder.Rounded }.AddColumns("Entry", "Status", "Items", "Buyer", "Ref", "Joined");
        foreach (var e in page.Entries)
        {
            table.AddRow(
                e.Id.ToString(), WaitlistState(e.Status),
                string.Join("\n", e.Items.Select(i => $"{i.Quantity} × {i.CapacityId}")),
                Markup.Escape(e.BuyerKey ?? ""), Markup.Escape(e.ExternalRef ?? ""), Time(e.CreatedAt));
        }

        return page.NextAfter is { } next
            ? new Rows(table, new Markup($"[grey]More: --after {next.ToString(CultureInfo.InvariantCulture)}, or --all[/]"))
            : table;
    }

    /// <summary>A capacity's waiting list as the capacity shows it: settings, and what is waiting and offered.</summary>
    public static IRenderable WaitlistSettings(CapacityDetails c)
    {
        var grid = Pairs(("Capacity", $"{c.Id} [grey]({Markup.Escape(c.SectionName)}, event {Markup.Escape(c.EventId)})[/]"));
        if (c.Waitlist is not { } w)
        {
            grid.AddRow("Waiting list", "[grey]none[/]");
            return grid;
        }

        grid.AddRow("Waiting list", w.Enabled ? "[green]open[/]" : "[grey]closed[/] [grey](refuses new entries; serves those in it)[/]");
        grid.AddRow("Policy", w.Policy == WaitlistPolicy.Fifo ? "fifo" : "first_fit");
        grid.AddRow("Offers last", $"{Number(w.OfferMinutes)} {(w.OfferMinutes == 1 ? "minute" : "minutes")}");
        grid.AddRow("Waiting", Tickets(w.Waiting));
        grid.AddRow("Offered", Tickets(w.Offered));
        if (c.WaitlistDemand is { } owed)
        {
            grid.AddRow("Owed", $"{Tickets(owed)} [grey](to waiting entries here and below: public holds cannot take them)[/]");
        }

        return grid;
    }

    /// <summary>An endpoint, without its secret (only creating it and rotating the secret show one).</summary>
    public static IRenderable Webhook(WebhookDetails w) => WebhookPairs(w);

    /// <summary>An endpoint with the secret its answer shows once, as a tenant's first key is shown.</summary>
    public static IRenderable WebhookWithSecret(WebhookDetails w)
    {
        var grid = WebhookPairs(w);
        grid.AddRow("Secret", w.Secret is null
            ? "[grey](not shown: this answer was a replay)[/]"
            : $"[bold]{Markup.Escape(w.Secret)}[/] [grey](shown once: store it now)[/]");
        return grid;
    }

    /// <summary><c>webhooks show</c>: the endpoint, then its newest deliveries.</summary>
    public static IRenderable Webhook(WebhookDetails w, IReadOnlyList<WebhookDelivery> recent) => new Rows(
        WebhookPairs(w),
        new Markup(recent.Count == 0 ? "[grey]No deliveries yet.[/]" : "Newest deliveries [grey](every one: webhooks deliveries)[/]:"),
        recent.Count == 0 ? Text.Empty : DeliveryTable(recent));

    private static Grid WebhookPairs(WebhookDetails w)
    {
        var grid = Pairs(("Webhook", w.Id.ToString()), ("Url", Markup.Escape(w.Url)), ("Events", Markup.Escape(string.Join("\n", w.Events))));
        if (w.Description is { } description)
        {
            grid.AddRow("Description", Markup.Escape(description));
        }

        grid.AddRow("Status", WebhookState(w) + (w.DisabledReason is null ? "" : " [grey](webhooks update --enable turns it on again)[/]"));
        if (w.FailingSince is { } since)
        {
            grid.AddRow("Failing since", Time(since));
        }

        grid.AddRow("Created", Time(w.CreatedAt));
        return grid;
    }

    public static IRenderable Webhooks(IReadOnlyList<WebhookDetails> webhooks)
    {
        if (webhooks.Count == 0)
        {
            return new Markup("[grey]No webhooks.[/]");
        }

        var table = new Table { Border = TableBorder.Rounded }.AddColumns(new TableColumn("Webhook").NoWrap(), new TableColumn("Url"), new TableColumn("Events"), new TableColumn("Status"), new TableColumn("Failing since"));
        foreach (var w in webhooks)
        {
            table.AddRow(
                w.Id.ToString(), Markup.Escape(w.Url), Markup.Escape(string.Join("\n", w.Events)), WebhookState(w),
                w.FailingSince is { } since ? Time(since) : "");
        }

        return table;
    }

    /// <summary>A page of an endpoint's deliveries; when there are more, how to ask for them.</summary>
    public static IRenderable Deliveries(WebhookDeliveryPage page)
    {
        if (page.Deliveries.Count == 0)
        {
            return new Markup("[grey]No deliveries.[/]");
        }

        var table = DeliveryTable(page.Deliveries);
        return page.NextAfter is { } next
            ? new Rows(table, new Markup($"[grey]More: --after {next.ToString(CultureInfo.InvariantCulture)}, or --all[/]"))
            : table;
    }

    /// <summary>Deliveries with what their last attempt got (a status code, or why there was none) and, while pending, when the next one is due.</summary>
    private static Table DeliveryTable(IReadOnlyList<WebhookDelivery> deliveries)
    {
        var table = new Table { Border = TableBorder.Rounded }
            .AddColumns(Counts("Delivery"))
            .AddColumns("Type", "Event", "Status")
            .AddColumns(Counts("Attempts"))
            .AddColumns("Last answer", "Next attempt");
        foreach (var d in deliveries)
        {
            var last = d.LastStatusCode is { } code ? code.ToString(CultureInfo.InvariantCulture) : Markup.Escape(d.LastError ?? "");
            table.AddRow(
                d.Id.ToString(CultureInfo.InvariantCulture), Markup.Escape(d.Type), Markup.Escape(d.EventId ?? ""), DeliveryState(d.Status),
                Number(d.Attempts), last, d.NextAttemptAt is { } at ? Time(at) : "");
        }

        return table;
    }

    public static IRenderable Retry(Guid webhookId, DeliveryRetry r) => Pairs(
        ("Webhook", webhookId.ToString()),
        ("Delivery", r.Id.ToString(CultureInfo.InvariantCulture)),
        ("Status", DeliveryState(r.Status) + " [grey](sent again with the same webhook-id)[/]"),
        ("Next attempt", r.NextAttemptAt is { } at ? Time(at) : "[grey]none[/]"));

    /// <summary><c>bench</c>: what ran, throughput, latency by operation, what went wrong, and the checks.</summary>
    public static IRenderable Bench(BenchReport r)
    {
        var what = r.Scenario switch
        {
            "mix" => $"holds of {Number(r.Quantity)} {(r.Quantity == 1 ? "ticket" : "tickets")} on {Number(r.CapacityIds.Count)} {(r.CapacityIds.Count == 1 ? "capacity" : "capacities")}, " +
                $"{r.ConfirmPercent}% confirmed and the rest released",
            "soldout" => $"single-ticket holds on 2 sections of a pool of {Number(CapacityCli.SoldOutPool)} sold out first",
            "reads" => $"reads of 2 sections of a pool of {Number(CapacityCli.BenchPool)}",
            "rules" => $"single-ticket holds on 2 sections of a pool of {Number(CapacityCli.BenchPool)} with an allocation of " +
                $"{Number(CapacityCli.RulesAllocation)}, waiting lists and a limit of {CapacityCli.PerBuyer} a buyer, left to expire",
            _ => $"single-ticket holds on 2 sections of a pool of {Number(CapacityCli.BenchPool)}, left to expire",
        };
        var rows = new List<IRenderable>
        {
            new Markup(
                $"Bench{(r.Scenario == "mix" ? "" : " " + r.Scenario)} of event [bold]{Markup.Escape(r.EventId)}[/]: {Number(r.Workers)} workers for " +
                $"{r.Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s, {what}" + (r.Interrupted ? " [yellow](interrupted)[/]" : "")),
            new Markup($"Throughput: [bold]{Rate(r.RequestsPerSecond)}[/] requests/s ({Number(r.Requests)} requests" +
                (r.Scenario == "reads" ? ")" : $", {Number(r.Cycles)} holds tried)")),
        };

        var table = new Table { Border = TableBorder.Rounded }
            .AddColumns("Operation")
            .AddColumns(Counts("Requests", "Ok", "Refused (409)", "Failed", "p50 ms", "p90 ms", "p99 ms", "max ms"));
        foreach (var o in r.Operations)
        {
            table.AddRow(o.Name, Number(o.Requests), Number(o.Ok), Number(o.Refused), Number(o.Failed), Ms(o.P50Ms), Ms(o.P90Ms), Ms(o.P99Ms), Ms(o.MaxMs));
        }

        rows.Add(table);
        if (r.Errors.Count > 0)
        {
            rows.Add(new Markup("Errors: " + string.Join(", ", r.Errors.Select(e => $"{Markup.Escape(e.Key)} × {Number(e.Value)}"))));
        }

        if (r.Expected is { } e)
        {
            rows.Add(new Markup($"Expected: {e.Rule}: " + (e.Ok ? "[green]yes[/]" : "[red]NO[/]") + $" ({Number(e.Met)} of {Number(e.Of)})"));
        }

        var c = r.Counters;
        var moved = $"sold {Signed(c.Sold)}, reserved {Signed(c.Reserved)}";
        var where = r.Scenario == "mix" ? "on the capacities held from" : "on the pool";
        rows.Add(new Markup("Counters: " + (!c.Compared
            ? $"[yellow]not compared[/]: {Number(c.Ambiguous)} requests ended without a definite answer, so they may or may not have taken effect"
            : c.Ok
                ? $"[green]as acknowledged[/] ({moved} {where})"
                : $"[red]DIFFERENT[/]: {moved} {where}, where the service acknowledged sold {Signed(c.ExpectedSold)}, reserved {Signed(c.ExpectedReserved)} " +
                  "[grey](another client selling on the event at the same time also moves them)[/]")));
        rows.Add(r.PastLimits.Count == 0
            ? new Markup("Limits: [green]kept[/] (no capacity of the event negative, or held and sold past its total)")
            : new Rows([new Markup($"Limits: [red]BROKEN[/] on {Number(r.PastLimits.Count)} {(r.PastLimits.Count == 1 ? "capacity" : "capacities")}:"), .. r.PastLimits.Select(p => new Markup("  " + Markup.Escape(p)))]));
        rows.Add(r.Verify is { } v
            ? new Rows(new Markup("Audit:"), Verify(v))
            : new Markup("Audit: [grey]skipped (give --admin-key or set CAPACITY_ADMIN_KEY to run GET /admin/verify)[/]"));
        return new Rows(rows);

        static string Ms(double ms) => ms.ToString("0.000", CultureInfo.InvariantCulture);
    }

    public static IRenderable Verify(VerifyReport report)
    {
        var summary = $"{Number(report.Capacities)} capacities, {Number(report.LiveReservations)} live reservations";
        if (report.Ok)
        {
            return new Markup($"[green]OK[/]: every counter agrees with the ledger ({summary}).");
        }

        var rows = new List<IRenderable> { new Markup($"[red]{report.Violations.Count} violation(s)[/] ({summary}):") };
        rows.AddRange(report.Violations.Select(v => new Markup("  " + Markup.Escape(v))));
        return new Rows(rows);
    }

    /// <summary>
    /// <c>stats</c>: the range, tickets sold per bucket as a sparkline, what each kind of change moved, the levels at
    /// the end, conversion, time to confirm, and the forecast.
    /// </summary>
    public static IRenderable Stats(EventStats s)
    {
        var grid = Pairs(("Event", Markup.Escape(s.EventId) + (s.CapacityId is { } c ? $" [grey](capacity {c} and everything below it)[/]" : "")));
        grid.AddRow("Range", $"{Time(s.From)} to {Time(s.To)}, {Number(s.Buckets.Count)} buckets of {Markup.Escape(s.Bucket)}");
        grid.AddRow(SoldPer(s.Bucket), Sparkline(s.Buckets.Select(b => b.NetSold).ToList(), SparklineWidth));
        grid.AddRow("Held", Number(s.Totals.Held));
        grid.AddRow("Confirmed", Number(s.Totals.Confirmed));
        grid.AddRow("Released", Number(s.Totals.Released));
        grid.AddRow("Expired", Number(s.Totals.Expired));
        grid.AddRow("Cancelled", Number(s.Totals.Cancelled));
        grid.AddRow("Reclaimed", Number(s.Totals.Reclaimed));
        grid.AddRow("Net sold", $"[bold]{Number(s.Totals.NetSold)}[/]");
        if (s.Buckets.Count > 0)
        {
            grid.AddRow("At the end", $"{Number(s.Buckets[^1].Holding)} in holds, {Number(s.Buckets[^1].Sold)} sold");
        }

        grid.AddRow("Peak", $"{Rate(s.PeakSoldPerMinute)} sold in a minute");
        grid.AddRow("Conversion", s.Conversion is { } share
            ? $"{Percent(share)} [grey](of the tickets whose holds ended, those confirmed rather than released or expired)[/]"
            : "[grey]no hold ended[/]");
        var wait = s.TimeToConfirm;
        grid.AddRow("Time to confirm", wait is { MedianSeconds: { } median, P95Seconds: { } p95 }
            ? $"median {Duration(median)}, 95th percentile {Duration(p95)} [grey]({Number(wait.Confirms)} confirms; the service keeps these times to within about 9%)[/]"
            : "[grey]no confirms[/]");
        grid.AddRow("Rate", $"{Rate(s.Forecast.TakenPerMinute)} {TicketsWord(s.Forecast.TakenPerMinute)} taken a minute");
        grid.AddRow("Available", s.Forecast.Available is { } available ? Number(available) : "∞");
        grid.AddRow("Sells out", SellOut(s.Forecast));
        return grid;
    }

    /// <summary>
    /// <c>watch</c>'s lines under the table, as markup: the rate, the availability and the forecast, then the last
    /// hour's sparkline; or, while the first figures are on their way or when they cannot be had, why not.
    /// </summary>
    public static string SalesLine(EventStats? s, string? unavailable) => s is null
        ? $"[grey]Sales: {Markup.Escape(unavailable ?? "reading…")}[/]"
        : $"Sales: [bold]{Rate(s.Forecast.TakenPerMinute)}[/] {TicketsWord(s.Forecast.TakenPerMinute)} taken a minute, " +
          $"{(s.Forecast.Available is { } a ? Number(a) : "∞")} available, {SellOutClause(s.Forecast)}\n" +
          $"{SoldPer(s.Bucket)} since {Time(s.From)}: {Sparkline(s.Buckets.Select(b => b.NetSold).ToList(), SparklineWidth)}";

    private static string SoldPer(string bucket) => bucket == "1m" ? "Sold per minute" : $"Sold per {Markup.Escape(bucket)}";

    /// <summary>
    /// When it sells out, in the dashboard's words: a time at this rate; sold out (nothing left); not before the sale ends
    /// (selling, but its last window closes first, when the service gives no time); not selling (nothing taken lately).
    /// </summary>
    private static string SellOut(SalesForecast f) => f switch
    {
        { SellOutAt: { } at } => $"{Time(at)} [grey](at this rate)[/]",
        { Available: null } => "[grey]never (unlimited)[/]",
        { Available: 0 } => "[yellow]sold out[/]",
        { TakenPerMinute: > 0 } => "[grey]not before the sale ends[/]",
        _ => "[grey]not selling[/]",
    };

    /// <summary><c>watch</c>'s forecast after the availability: "sells out" and <see cref="SellOut"/>, but "sold out" and "not selling" alone.</summary>
    private static string SellOutClause(SalesForecast f) => f switch
    {
        { SellOutAt: null, Available: 0 } => "[yellow]sold out[/]",
        { SellOutAt: null, Available: not null, TakenPerMinute: <= 0 } => "[grey]not selling[/]",
        _ => "sells out " + SellOut(f),
    };

    private const int SparklineWidth = 120;

    private const string Levels = "▁▂▃▄▅▆▇█";

    /// <summary>
    /// One character per value, its height proportional to the largest: nothing (or less, after refunds) is the
    /// lowest bar, and anything above nothing is at least the second, so a slow minute never looks like an empty
    /// one. More values than <paramref name="width"/> are summed in runs of equal length, so the line fits.
    /// </summary>
    public static string Sparkline(IReadOnlyList<long> values, int width)
    {
        var run = Math.Max(1, (values.Count + width - 1) / width);
        var columns = new long[(values.Count + run - 1) / run];
        for (var i = 0; i < values.Count; i++)
        {
            columns[i / run] += values[i];
        }

        var max = columns.Length == 0 ? 0 : columns.Max();
        var line = new char[columns.Length];
        for (var i = 0; i < columns.Length; i++)
        {
            line[i] = columns[i] <= 0 ? Levels[0] : Levels[1 + (int)Math.Round((double)columns[i] / max * (Levels.Length - 2))];
        }

        return new string(line);
    }

    private static string Rate(double perMinute) => perMinute.ToString("#,0.#", CultureInfo.InvariantCulture);

    // As the rate is printed: 0.96 reads "1", so it takes the singular too.
    private static string TicketsWord(double perMinute) => Rate(perMinute) == "1" ? "ticket" : "tickets";

    private static string Percent(double share) => share.ToString("0%", CultureInfo.InvariantCulture);

    /// <summary>Seconds as people read them: <c>41.5 s</c>, <c>3 min 05 s</c>, <c>2 h 10 min</c>.</summary>
    private static string Duration(double seconds) => seconds switch
    {
        < 60 => $"{seconds.ToString("0.#", CultureInfo.InvariantCulture)} s",
        < 3600 => FormattableString.Invariant($"{(int)(seconds / 60)} min {(int)(seconds % 60):00} s"),
        _ => FormattableString.Invariant($"{(int)(seconds / 3600)} h {(int)(seconds % 3600 / 60):00} min"),
    };

    private static Grid Pairs(params (string Name, string Value)[] pairs)
    {
        var grid = new Grid();
        grid.AddColumn(new GridColumn().NoWrap());
        grid.AddColumn();
        foreach (var (name, value) in pairs)
        {
            grid.AddRow($"[grey]{name}[/]", value);
        }

        return grid;
    }

    private static string Mode(CapacityMode mode) => mode.ToString().ToLowerInvariant();

    private static string Status(ReservationStatus status) => status switch
    {
        ReservationStatus.Active => "[yellow]active[/]",
        ReservationStatus.Confirmed => "[green]confirmed[/]",
        _ => $"[grey]{status.ToString().ToLowerInvariant()}[/]",
    };

    /// <summary>Columns of numbers, right-aligned so that the digits line up.</summary>
    private static TableColumn[] Counts(params string[] names) => [.. names.Select(n => new TableColumn(n).RightAligned())];

    private static string AllocationState(AllocationStatus status) =>
        status == AllocationStatus.Open ? "[green]open[/]" : "[grey]closed[/]";

    private static string WaitlistState(WaitlistStatus status) => status switch
    {
        WaitlistStatus.Waiting => "[yellow]waiting[/]",
        WaitlistStatus.Offered => "[blue]offered[/]",
        WaitlistStatus.Accepted => "[green]accepted[/]",
        _ => $"[grey]{status.ToString().ToLowerInvariant()}[/]",
    };

    /// <summary>On, off by hand, or off because the service gave up on it.</summary>
    private static string WebhookState(WebhookDetails w) => (w.Enabled, w.DisabledReason) switch
    {
        (true, _) => "[green]enabled[/]",
        (false, WebhookDisabledReason.Failing) => "[red]disabled (failing)[/]",
        _ => "[grey]disabled[/]",
    };

    private static string DeliveryState(DeliveryStatus status) => status switch
    {
        DeliveryStatus.Pending => "[yellow]pending[/]",
        DeliveryStatus.Delivered => "[green]delivered[/]",
        _ => "[red]failed[/]",
    };

    private static string Expiry(DateTimeOffset? at) => at is { } e ? Time(e) : "[grey]never[/]";

    private static string BuyerKeyRule(bool required) => required ? "required" : "optional";

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A count of tickets in words: <c>1 ticket</c>, <c>1,000 tickets</c>.</summary>
    private static string Tickets(long count) => $"{Number(count)} {(count == 1 ? "ticket" : "tickets")}";

    // As the server wrote it: with the currency's digits (1500 JPY, 40.00 EUR, 1.235 BHD), which the
    // decimal keeps from the JSON; a fixed two places would have shown yen with cents and cut dinars.
    private static string Money(decimal amount, string currency) =>
        Markup.Escape($"{amount.ToString(CultureInfo.InvariantCulture)} {currency}");

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

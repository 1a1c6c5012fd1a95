using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;

namespace Capacity.Core.Tests;

/// <summary>
/// Model-based tests: FsCheck generates scripts of abstract steps (random small graphs with diamonds,
/// carts, transitions, extensions, expiry, time passing, resizes, deactivation, prices, wrong
/// tenants, allocations and carts drawing from them, per-buyer limits and holds naming a buyer, waiting
/// lists switched on and off, joined, left and offered, holds changed in part: new targets, partial
/// confirms, confirms after expiry and partial refunds, sale rules set at creation and by PUTs: windows
/// the clock crosses, tiers that open when the capacity before them sells out, closing when sold out,
/// overbooking); each script is run against the real core, settled as the engine settles it, and
/// against <see cref="ReferenceModel"/>, and after every step
/// the two must agree on the outcome, the counters of every capacity and allocation, availability,
/// reservation states (offers included), locked prices, the ledger entries (kinds and allocation ids
/// included), every limit and the limits each capacity names, every buyer's usage of every capacity,
/// every waiting-list entry's status and offer, every capacity's list settings and waiting, owed
/// and offered units, and every capacity's sale rules, what became of them (tier open, sold out, closed
/// by rule, the tiers after it) and its state and next change; a limit's refusal must carry the same
/// numbers, a refused reclaim the same shortfall, a sale rule's refusal the same capacity; and the
/// core's own invariants must hold, nothing held and sold past a total and its allowance.
/// </summary>
/// <remarks>
/// Runs are deterministic: FsCheck starts from a fixed seed, printed with any failure. To explore
/// other sequences, set CAPACITY_MODEL_SEED to any unsigned number; to run more, CAPACITY_MODEL_TESTS.
/// A failure is shrunk to a short script, printed step by step with what the core answered.
/// </remarks>
public sealed class ModelTests
{
    private const ulong DefaultSeed = 20_300_101;

    [Fact]
    public void Random_command_sequences_agree_with_the_reference_model() =>
        CheckScripts(Scripts.Mixed, seedOffset: 0, defaultCount: 300);

    [Fact]
    public void Contended_carts_on_a_fixed_diamond_agree_with_the_reference_model() =>
        CheckScripts(Scripts.Contended, seedOffset: 1, defaultCount: 150);

    [Fact]
    public void Carts_drawing_from_allocations_agree_with_the_reference_model() =>
        CheckScripts(Scripts.Blocks, seedOffset: 2, defaultCount: 150);

    [Fact]
    public void Waiting_lists_offering_freed_units_in_order_agree_with_the_reference_model() =>
        CheckScripts(Scripts.Waitlists, seedOffset: 4, defaultCount: 150, [(OutcomeCode.WaitlistDisabled, 3)],
        [
            // About half the rarest rate seen over several seeds. An entry passed over for its buyer's
            // limit is too rare here to guard (a seed or two in ten see it once): the units it waits for
            // count against the buyer, so only a limit lowered or created since can hold it back. Nor is
            // a hold or join refused for the units its buyer waits for (1 to 5 per hundred scripts), nor
            // an entry lapsed by a resize that left it larger than a pool (a few in 150 scripts).
            // WaitlistTests covers each by hand.
            (WaitlistEvent.OfferedOnJoining, 80),
            (WaitlistEvent.Waited, 100),
            (WaitlistEvent.OfferedLater, 25),
            (WaitlistEvent.Accepted, 25),
            (WaitlistEvent.Lapsed, 40),
            (WaitlistEvent.LeftWaiting, 15),
            (WaitlistEvent.LeftWithOffer, 10),
            (WaitlistEvent.HeldBackByFifo, 8),
            (WaitlistEvent.OvertookUnderFirstFit, 10),
        ]);

    /// <param name="atLeast">Answers the scripts must give at least so many times per hundred scripts (checked from 100 scripts on), so that a generator that stops reaching them fails.</param>
    private static void CheckScripts(Arbitrary<Script> scripts, ulong seedOffset, int defaultCount, params (OutcomeCode Code, int PerHundred)[] atLeast) =>
        CheckScripts(scripts, seedOffset, defaultCount, atLeast, []);

    /// <param name="eventsAtLeast">Likewise, what must happen to waiting lists, as the model counts it.</param>
    /// <param name="changesAtLeast">Likewise, what changes in part must do, as the model counts it.</param>
    /// <param name="salesAtLeast">Likewise, what sale rules must do, as the model counts it.</param>
    private static void CheckScripts(
        Arbitrary<Script> scripts,
        ulong seedOffset,
        int defaultCount,
        (OutcomeCode Code, int PerHundred)[] atLeast,
        (WaitlistEvent Event, int PerHundred)[] eventsAtLeast,
        (ChangeEvent Event, int PerHundred)[]? changesAtLeast = null,
        (SaleEvent Event, int PerHundred)[]? salesAtLeast = null)
    {
        var codes = new Dictionary<OutcomeCode, int>();
        var events = new Dictionary<WaitlistEvent, int>();
        var changes = new Dictionary<ChangeEvent, int>();
        var sales = new Dictionary<SaleEvent, int>();
        var seed = EnvNumber("CAPACITY_MODEL_SEED") ?? DefaultSeed;
        var count = (int)(EnvNumber("CAPACITY_MODEL_TESTS") ?? (ulong)defaultCount);
        var config = Config.QuickThrowOnFailure
            .WithMaxTest(count)
            .WithQuietOnSuccess(true)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(seed + seedOffset), FSharpOption<int>.None)));
        try
        {
            Check.One(config, Prop.ForAll(scripts, script => ModelRun.Execute(script, codes, events, changes, sales)));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Assert.Fail($"Model test failed; FsCheck seed {seed + seedOffset} (rerun with CAPACITY_MODEL_SEED={seed}).{Environment.NewLine}{ex.Message}");
        }

        foreach (var (code, perHundred) in atLeast)
        {
            var seen = codes.GetValueOrDefault(code);
            Assert.True(count < 100 || seen * 100L >= perHundred * (long)count, $"{count} scripts answered {code} {seen} times; expected at least {perHundred} per hundred scripts");
        }

        foreach (var (what, perHundred) in eventsAtLeast)
        {
            var seen = events.GetValueOrDefault(what);
            Assert.True(count < 100 || seen * 100L >= perHundred * (long)count, $"{count} scripts saw {what} {seen} times; expected at least {perHundred} per hundred scripts");
        }

        foreach (var (what, perHundred) in changesAtLeast ?? [])
        {
            var seen = changes.GetValueOrDefault(what);
            Assert.True(count < 100 || seen * 100L >= perHundred * (long)count, $"{count} scripts saw {what} {seen} times; expected at least {perHundred} per hundred scripts");
        }

        foreach (var (what, perHundred) in salesAtLeast ?? [])
        {
            var seen = sales.GetValueOrDefault(what);
            Assert.True(count < 100 || seen * 100L >= perHundred * (long)count, $"{count} scripts saw {what} {seen} times; expected at least {perHundred} per hundred scripts");
        }
    }

    private static ulong? EnvNumber(string name) =>
        ulong.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    [Fact]
    public void Holds_changed_confirmed_in_part_reclaimed_and_refunded_in_part_agree_with_the_reference_model() =>
        CheckScripts(Scripts.Changes, seedOffset: 5, defaultCount: 300, [(OutcomeCode.NotChangeable, 10), (OutcomeCode.ExtensionLimit, 4)], [],
        [
            // About half the rarest rate seen over several seeds.
            (ChangeEvent.Lowered, 20),
            (ChangeEvent.Raised, 20),
            (ChangeEvent.Added, 7),
            (ChangeEvent.ReleasedByChange, 6),
            (ChangeEvent.ConfirmedPart, 12),
            (ChangeEvent.Reclaimed, 18),
            (ChangeEvent.ReclaimShort, 6),
            (ChangeEvent.RefundedPart, 14),
            (ChangeEvent.RefundedLast, 8),
        ]);

    [Fact]
    public void Sale_windows_tiers_sold_out_rules_and_overbooking_agree_with_the_reference_model() =>
        CheckScripts(Scripts.Sales, seedOffset: 6, defaultCount: 150, [(OutcomeCode.SaleNotOpen, 100), (OutcomeCode.SaleClosed, 10)],
        [
            // Entries waiting past the end of a window they reach (the box's) lapse: rare, 2 to 6 in 150
            // scripts over several seeds, so guarded at 1 per hundred. Offers of units a sell-out closed to
            // the public, to entries that waited there before: 14 to 19 in 150.
            (WaitlistEvent.LapsedClosed, 1),
            (WaitlistEvent.OfferedWhileClosed, 5),
        ],
        [],
        [
            // About half the rarest rate seen over several seeds. A tier set on a capacity that sold out
            // before (it opens at once) is too rare here to guard, as is one set on a capacity with nothing
            // available (which sells it out there and then, and is common in the mixed scripts), or a window
            // that opens on an early tier its blocks and queue left nothing (0 to 3 in 300 scripts):
            // SaleRulesTests has each.
            (SaleEvent.TierOpened, 20),
            (SaleEvent.ClosedForNextTier, 20),
            (SaleEvent.ClosedWhenSoldOut, 9),
            (SaleEvent.Reopened, 3),
            (SaleEvent.Overbooked, 50),
            (SaleEvent.SoldOutByUpdate, 5),

            // An early tier's window ending before it sold out (by the clock or a PUT) opens the next:
            // 9 to 15 in 300 scripts over seeds 1 to 3.
            (SaleEvent.TierOpenedAsWindowEnded, 1),
        ]);

    [Fact]
    public void Buyers_holding_under_per_buyer_limits_agree_with_the_reference_model() =>
        CheckScripts(Scripts.Limits, seedOffset: 3, defaultCount: 150, (OutcomeCode.BuyerLimitExceeded, 40), (OutcomeCode.BuyerKeyRequired, 10));

    [Fact]
    public void The_runner_catches_a_core_that_disagrees_with_the_model()
    {
        // Guards the oracle against being vacuous: a script whose second hold must be refused passes,
        // and the same script against a corrupted working set fails.
        var script = new Script(
        [
            new CreateOp(false, 5, [], CreateTwist.None, true),
            new HoldOp(false, [new ItemPick(0, 3, -1)], 10),
            new HoldOp(false, [new ItemPick(0, 3, -1)], 10),
            new TransitionOp(false, 0, Transition.Confirm),
        ]);
        ModelRun.Execute(script);

        var failure = Record.Exception(() => ModelRun.Execute(script, corruptAfterStep: 1));
        Assert.NotNull(failure);
        Assert.Contains("step 2", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_runner_catches_a_core_whose_allocation_counters_disagree_with_the_model()
    {
        // An allocation of 4, a hold of all 4 from it, then a hold of 1 more that must be refused. If the
        // core's allocation silently grows by one after the first hold, it takes the second: step 3 fails.
        var script = new Script(
        [
            new CreateOp(false, 10, [], CreateTwist.None, true),
            new AllocateOp(0, 4, null, AllocationTwist.None),
            new HoldOp(false, [new ItemPick(0, 4, -1, 0)], 10),
            new HoldOp(false, [new ItemPick(0, 1, -1, 0)], 10),
            new TransitionOp(false, 0, Transition.Confirm),
        ]);
        ModelRun.Execute(script);

        var failure = Record.Exception(() => ModelRun.Execute(script, corruptAfterStep: 2, Corruption.AllocationSize));
        Assert.NotNull(failure);
        Assert.Contains("step 3", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Corruption.UsageRow)]
    [InlineData(Corruption.LimitMax)]
    public void The_runner_catches_a_core_whose_buyer_limits_disagree_with_the_model(Corruption corruption)
    {
        // A limit of 2 per buyer, buyer a holds 2, then asks for 1 more, which must be refused. If the
        // core forgets one of a's tickets, or its limit silently allows one more, it takes it: step 3 fails.
        var script = new Script(
        [
            new CreateOp(false, 10, [], CreateTwist.None, true),
            new CreateLimitOp(0, [], 2, false, LimitTwist.None),
            new HoldOp(false, [new ItemPick(0, 2, -1)], 10, "a"),
            new HoldOp(false, [new ItemPick(0, 1, -1)], 10, "a"),
            new HoldOp(false, [new ItemPick(0, 2, -1)], 10, "b"),
        ]);
        ModelRun.Execute(script);

        var failure = Record.Exception(() => ModelRun.Execute(script, corruptAfterStep: 2, corruption));
        Assert.NotNull(failure);
        Assert.Contains("step 3", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_runner_catches_a_core_that_lets_the_public_take_what_a_waiting_list_is_owed()
    {
        // A pool of 3 with a list, 2 held, a buyer waiting for 2, then a public hold of 1, which must be
        // refused: the free unit is owed to the queue. If the core forgets what the queue is owed, it
        // takes the hold, jumping the queue: step 4 fails. Then the release offers the 2 to the buyer.
        var script = new Script(
        [
            new CreateOp(false, 3, [], CreateTwist.None, true),
            new WaitlistOp(false, 0, true, 10, WaitlistPolicy.Fifo),
            new HoldOp(false, [new ItemPick(0, 2, -1)], 10),
            new JoinOp([new JoinItem(0, 2)], "a", false, JoinTwist.None),
            new HoldOp(false, [new ItemPick(0, 1, -1)], 10),
            new TransitionOp(false, 1, Transition.Release),
        ]);
        ModelRun.Execute(script);

        var failure = Record.Exception(() => ModelRun.Execute(script, corruptAfterStep: 3, Corruption.QueueDemand));
        Assert.NotNull(failure);
        Assert.Contains("step 4", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_runner_catches_a_core_that_opens_a_tier_before_the_one_before_sells_out()
    {
        // An early bird of 2, a regular tier after it, a hold of 1 on each: the second must be refused.
        // If the core opens the tier by itself, it takes that hold: step 3 fails. Then the early bird's
        // last ticket opens the regular tier, which takes a hold.
        var script = new Script(
        [
            new CreateOp(false, 2, [], CreateTwist.None, true),
            new CreateOp(false, 5, [], CreateTwist.None, true, new SaleSpec(null, null, TierPick.Earlier, 0, false, 0)),
            new HoldOp(false, [new ItemPick(1, 1, -1)], 10),
            new HoldOp(false, [new ItemPick(0, 1, -1)], 10),
            new HoldOp(false, [new ItemPick(1, 1, -1)], 10),
            new HoldOp(false, [new ItemPick(0, 1, -1)], 10),
        ]);
        ModelRun.Execute(script);

        var failure = Record.Exception(() => ModelRun.Execute(script, corruptAfterStep: 2, Corruption.TierOpen));
        Assert.NotNull(failure);
        Assert.Contains("step 3", failure.Message, StringComparison.Ordinal);
    }
}

/// <summary>What the self-test corrupts in the core's working set.</summary>
public enum Corruption
{
    /// <summary>The first capacity forgets one reserved ticket.</summary>
    NodeReserved,
    /// <summary>The first allocation grows by one unit, unseen by the nodes and the ledger.</summary>
    AllocationSize,
    /// <summary>The first buyer usage row the core created forgets one ticket.</summary>
    UsageRow,
    /// <summary>The first limit allows one ticket more per buyer.</summary>
    LimitMax,
    /// <summary>The first capacity forgets what waiting entries are owed on it.</summary>
    QueueDemand,
    /// <summary>The first tier opens by itself, though the capacity before it has not sold out.</summary>
    TierOpen,
}

// ---------------------------------------------------------------- scripts

internal enum CreateTwist
{
    None,
    ExplicitMode,
    WrongMode,
    DuplicateParent,
    MissingParent,
    ForeignParent,
    DeepChain,
    ReuseId,
    /// <summary>On another event of the same tenant: a limit over the tenant's usual event cannot name it.</summary>
    OtherEvent,
    /// <summary>Under a bound on the event's capacities at, or one above, what the event has: refused or the last one in.</summary>
    Bounded,
}

internal enum ResizeKind
{
    Unlimited,
    RelativeToCommitted,
    Absolute,
}

/// <summary>
/// A step, in terms independent of concrete ids: a pick n names the (n mod count)-th most recent
/// row of its kind, <see cref="Scripts.Unknown"/> an id that exists nowhere. That keeps every
/// script meaningful after shrinking removes steps.
/// </summary>
internal abstract record Op;

/// <summary>A capacity; with <paramref name="Sale"/>, its sale rules (none when null).</summary>
internal sealed record CreateOp(bool OtherTenant, int? Total, int[] ParentPicks, CreateTwist Twist, bool Active, SaleSpec? Sale = null) : Op
{
    public override string ToString() =>
        $"Create(total {Total?.ToString(CultureInfo.InvariantCulture) ?? "∞"}, parents [{string.Join(",", ParentPicks)}], {Twist}{(Active ? "" : ", inactive")}{(OtherTenant ? ", tenant B" : "")}{(Sale is null ? "" : $", {Sale}")})";
}

/// <summary>How a tier names the capacity it opens after.</summary>
internal enum TierPick
{
    /// <summary>None on a create; kept as it is on an update.</summary>
    None,
    /// <summary>A pick among the other capacities of its tenant and event.</summary>
    Earlier,
    /// <summary>A pick among those a tier follows already (allowed: two tiers may follow one), else as <see cref="Earlier"/>.</summary>
    Followed,
    Unknown,
    /// <summary>A capacity of another event of the tenant (or of the other tenant, or an unknown one, when there is none).</summary>
    OtherEvent,
    /// <summary>The capacity itself; on a create its new id, which does not exist yet.</summary>
    Itself,
    /// <summary>On an update, none: refused once a tier is set.</summary>
    Clear,
}

/// <summary>
/// Sale rules of a new capacity: a window in minutes from the script's start (either edge may be
/// absent, past or to come), a tier (<paramref name="TierIndex"/> picks among the candidates), a
/// sold-out rule and an overbooking allowance.
/// </summary>
internal sealed record SaleSpec(int? StartMinutes, int? EndMinutes, TierPick Tier, int TierIndex, bool CloseWhenSoldOut, int Overbook)
{
    public override string ToString() =>
        $"sale({(StartMinutes is { } s ? $"from {s:+0;-0;0}m" : "")}{(EndMinutes is { } e ? $" until {e:+0;-0;0}m" : "")}{(Tier == TierPick.None ? "" : $" after {Tier}{TierIndex}")}"
        + $"{(CloseWhenSoldOut ? " close-when-sold-out" : "")}{(Overbook == 0 ? "" : $" overbook {Overbook}")})";
}

/// <summary>What an update does to one edge of a window.</summary>
internal enum Edge
{
    Keep,
    Clear,
    /// <summary>Set to so many minutes from now.</summary>
    Set,
}

/// <summary>
/// A PUT of a capacity's sale rules: each edge of the window kept, cleared or moved (in minutes from
/// now), maybe a tier, close_when_sold_out, an allowance and is_active (null keeps each), and maybe
/// a new total, <paramref name="Committed"/> more than it holds and sells.
/// </summary>
internal sealed record SaleOp(
    bool WrongTenant, int Capacity, Edge Start, int StartMinutes, Edge End, int EndMinutes, TierPick Tier, int TierIndex,
    bool? Close, int? Overbook, bool? Active, int? Committed) : Op
{
    public override string ToString() =>
        $"Sale(cap{Capacity}{Show("start", Start, StartMinutes)}{Show("end", End, EndMinutes)}{(Tier == TierPick.None ? "" : $", after {Tier}{TierIndex}")}"
        + $"{(Close is { } c ? $", close-when-sold-out {c}" : "")}{(Overbook is { } o ? $", overbook {o}" : "")}{(Active is { } a ? $", active {a}" : "")}"
        + $"{(Committed is { } t ? $", total committed{t:+0;-0;+0}" : "")}{(WrongTenant ? ", wrong tenant" : "")})";

    private static string Show(string name, Edge edge, int minutes) => edge switch
    {
        Edge.Clear => $", no {name}",
        Edge.Set => $", {name} {minutes:+0;-0;0}m",
        _ => "",
    };
}

/// <summary>How an item that draws from an allocation names it.</summary>
internal enum DrawTwist
{
    /// <summary>A picked allocation, on its own capacity (the item's capacity pick is ignored).</summary>
    None,
    /// <summary>A picked allocation, on the item's picked capacity, mostly not the allocation's.</summary>
    OtherCapacity,
    /// <summary>A picked closed allocation, on its own capacity.</summary>
    Closed,
    /// <summary>An allocation that exists nowhere.</summary>
    Unknown,
}

/// <summary>
/// An item of a cart; <paramref name="Allocation"/> is a pick of the allocation it draws from, or -1 for
/// the public pool. With a <paramref name="Limit"/> pick (not -1), the item is on a capacity of that
/// limit (the <paramref name="Capacity"/> pick among the limit's capacities) while the limit is live.
/// </summary>
internal readonly record struct ItemPick(int Capacity, int Quantity, int Price, int Allocation = -1, DrawTwist Draw = DrawTwist.None, int Limit = -1)
{
    public override string ToString() =>
        $"{Quantity}×{(Limit >= 0 ? $"limit{Limit}." : "")}cap{Capacity}{(Price >= 0 ? $"@price{Price}" : "")}{(Allocation >= 0 ? $" from alloc{Allocation}{(Draw == DrawTwist.None ? "" : $" ({Draw})")}" : "")}";
}

/// <summary>A cart; <paramref name="BuyerKey"/> names the buyer (or none when null), now and then an invalid key.</summary>
internal sealed record HoldOp(bool WrongTenant, ItemPick[] Items, int Minutes, string? BuyerKey = null) : Op
{
    public override string ToString() =>
        $"Hold([{string.Join(", ", Items)}], {Minutes} min{(BuyerKey is null ? "" : $", buyer {Show(BuyerKey)}")}{(WrongTenant ? ", wrong tenant" : "")})";

    /// <summary>A key as it can be read in a trace: long ones by length, invisible characters escaped.</summary>
    public static string Show(string key) =>
        key.Length > 10 ? $"'{key[0]}'×{key.Length}"
        : "'" + string.Concat(key.Select(ch => char.IsControl(ch) || char.IsWhiteSpace(ch) || ch > '~' ? $"\\u{(int)ch:x4}" : ch.ToString())) + "'";
}

internal sealed record TransitionOp(bool WrongTenant, int Reservation, Transition Transition) : Op
{
    public override string ToString() => $"{Transition}(res{Reservation}{(WrongTenant ? ", wrong tenant" : "")})";
}

internal sealed record ExtendOp(bool WrongTenant, int Reservation, int Minutes) : Op
{
    public override string ToString() => $"Extend(res{Reservation}, {Minutes} min{(WrongTenant ? ", wrong tenant" : "")})";
}

internal sealed record ExpireOp(bool All, int[] Reservations) : Op
{
    public override string ToString() => All ? "ExpireDue(all)" : $"ExpireDue([{string.Join(",", Reservations)}])";
}

internal sealed record AdvanceOp(int Seconds) : Op
{
    public override string ToString() => $"Advance({Seconds / 60}m{Seconds % 60}s)";
}

internal sealed record ResizeOp(bool WrongTenant, int Capacity, ResizeKind Kind, int Value) : Op;

internal sealed record ActivateOp(bool WrongTenant, int Capacity, bool Active) : Op;

internal sealed record PriceOp(bool WrongTenant, int Capacity, decimal Base, decimal? Current, string Currency) : Op;

internal sealed record RepriceOp(bool WrongTenant, int Price, decimal? Current) : Op;

internal enum AllocationTwist
{
    None,
    OtherTenant,
    BlankName,
    ReuseId,
    PastExpiry,
}

/// <summary>Sets aside a block of a capacity; <paramref name="ExpiryMinutes"/> from now (before now with <see cref="AllocationTwist.PastExpiry"/>).</summary>
internal sealed record AllocateOp(int Capacity, int Size, int? ExpiryMinutes, AllocationTwist Twist) : Op
{
    public override string ToString() =>
        $"Allocate(cap{Capacity}, {Size}{(ExpiryMinutes is { } m ? $", expires {(Twist == AllocationTwist.PastExpiry ? -m : m)} min" : "")}{(Twist == AllocationTwist.None ? "" : $", {Twist}")})";
}

/// <summary>Resizes an allocation to <paramref name="Value"/>, or to its held + sold + <paramref name="Value"/> when relative.</summary>
internal sealed record ResizeAllocationOp(bool WrongTenant, int Allocation, bool Relative, int Value) : Op
{
    public override string ToString() =>
        $"ResizeAllocation(alloc{Allocation}, {(Relative ? $"committed{Value:+0;-0;+0}" : Value.ToString(CultureInfo.InvariantCulture))}{(WrongTenant ? ", wrong tenant" : "")})";
}

/// <summary>Gives units of an allocation back: <paramref name="Value"/>, or its idle + <paramref name="Value"/> when relative.</summary>
internal sealed record ReleaseAllocationOp(bool WrongTenant, int Allocation, bool Relative, int Value) : Op
{
    public override string ToString() =>
        $"ReleaseAllocation(alloc{Allocation}, {(Relative ? $"idle{Value:+0;-0;+0}" : Value.ToString(CultureInfo.InvariantCulture))}{(WrongTenant ? ", wrong tenant" : "")})";
}

internal sealed record CloseAllocationOp(bool WrongTenant, int Allocation) : Op
{
    public override string ToString() => $"CloseAllocation(alloc{Allocation}{(WrongTenant ? ", wrong tenant" : "")})";
}

/// <summary>Time passes to a picked allocation's expiry, <paramref name="Seconds"/> off (not at all if it has none or it is past).</summary>
internal sealed record AdvanceToExpiryOp(int Allocation, int Seconds) : Op
{
    public override string ToString() => $"AdvanceToExpiry(alloc{Allocation}{(Seconds == 0 ? "" : $", {Seconds:+0;-0}s")})";
}

internal sealed record CloseDueOp(bool All, int[] Allocations) : Op
{
    public override string ToString() => All ? "CloseDueAllocations(all)" : $"CloseDueAllocations([{string.Join(",", Allocations)}])";
}

/// <summary>How a limit's creation goes wrong, if it does.</summary>
internal enum LimitTwist
{
    None,
    /// <summary>One capacity is another tenant's.</summary>
    ForeignCapacity,
    /// <summary>One capacity is of another event of the tenant (or, if it has none, the limit is on another event).</summary>
    OtherEvent,
    DuplicateCapacity,
    UnknownCapacity,
    NoCapacities,
    /// <summary>101 capacities (the tenant's, repeated).</summary>
    TooManyCapacities,
    BlankName,
    BadEvent,
    ReuseId,
}

/// <summary>
/// A limit over the picked capacity's event and tenant: that capacity and up to a few more of the same
/// tenant and event, <paramref name="Max"/> per buyer, maybe requiring a buyer key.
/// </summary>
internal sealed record CreateLimitOp(int Capacity, int[] MorePicks, int Max, bool RequireKey, LimitTwist Twist) : Op
{
    public override string ToString() =>
        $"CreateLimit(cap{Capacity}{string.Concat(MorePicks.Select(p => $", cap{p}"))}, max {Max}{(RequireKey ? ", key required" : "")}{(Twist == LimitTwist.None ? "" : $", {Twist}")})";
}

/// <summary>Changes a limit: its maximum (to <paramref name="Max"/>, or by it when relative; kept when null), toggles requiring a key, maybe blanks its name.</summary>
internal sealed record UpdateLimitOp(bool WrongTenant, int Limit, bool Relative, int? Max, bool ToggleRequire, bool BlankName) : Op
{
    public override string ToString() =>
        $"UpdateLimit(limit{Limit}{(Max is not { } m ? "" : Relative ? $", max{m:+0;-0;+0}" : $", max {m}")}{(ToggleRequire ? ", toggle key" : "")}{(BlankName ? ", blank name" : "")}{(WrongTenant ? ", wrong tenant" : "")})";
}

internal sealed record DeleteLimitOp(bool WrongTenant, int Limit) : Op
{
    public override string ToString() => $"DeleteLimit(limit{Limit}{(WrongTenant ? ", wrong tenant" : "")})";
}

/// <summary>
/// Sets a capacity's waiting list: on or off, and its offer minutes and policy, each kept as it is (or,
/// for a capacity that never had a list, 30 minutes and fifo) when null.
/// </summary>
internal sealed record WaitlistOp(bool WrongTenant, int Capacity, bool Enabled, int? OfferMinutes, WaitlistPolicy? Policy) : Op
{
    public override string ToString() =>
        $"Waitlist(cap{Capacity}, {(Enabled ? "on" : "off")}, {OfferMinutes?.ToString(CultureInfo.InvariantCulture) ?? "same"} min, {Policy?.ToString() ?? "same policy"}{(WrongTenant ? ", wrong tenant" : "")})";
}

/// <summary>How a join goes wrong, if it does.</summary>
internal enum JoinTwist
{
    None,
    /// <summary>Its capacities are picked among all, not among those with an open list: often a closed list, another event or another tenant.</summary>
    AnyCapacity,
    DuplicateCapacity,
    ReuseId,
    WrongTenant,
    BadExternalRef,
    NoItems,
}

/// <summary>A line of a join: a pick among the capacities with an open list (the first line's event's, after the first), and a quantity.</summary>
internal readonly record struct JoinItem(int Capacity, int Quantity)
{
    public override string ToString() => $"{Quantity}×cap{Capacity}";
}

internal sealed record JoinOp(JoinItem[] Items, string? BuyerKey, bool WithRef, JoinTwist Twist) : Op
{
    public override string ToString() =>
        $"Join([{string.Join(", ", Items)}]{(BuyerKey is null ? "" : $", buyer {HoldOp.Show(BuyerKey)}")}{(WithRef ? ", ref" : "")}{(Twist == JoinTwist.None ? "" : $", {Twist}")})";
}

internal sealed record LeaveOp(bool WrongTenant, int Entry) : Op
{
    public override string ToString() => $"Leave(entry{Entry}{(WrongTenant ? ", wrong tenant" : "")})";
}

/// <summary>A buyer answers an offer: a pick among the live offers (none is an unknown id), confirmed or released.</summary>
internal sealed record AnswerOp(int Offer, bool Accept) : Op
{
    public override string ToString() => $"{(Accept ? "Accept" : "Decline")}(offer{Offer})";
}

/// <summary>
/// A capacity and quantity named by a change, a partial confirm or a refund: <paramref name="Capacity"/>
/// picks among the reservation's own capacities (shifted by the line's place, so lines mostly differ),
/// or among all capacities when <paramref name="Other"/>; the quantity is absolute, or what the
/// reservation has there plus <paramref name="Quantity"/> when <paramref name="Relative"/>;
/// <paramref name="Price"/> picks a price of that capacity (-1 none).
/// </summary>
internal readonly record struct TargetPick(int Capacity, bool Other, int Quantity, bool Relative, int Price = -1)
{
    public override string ToString() =>
        $"{(Relative ? $"has{Quantity:+0;-0;+0}" : Quantity.ToString(CultureInfo.InvariantCulture))}×{(Other ? "cap" : "own")}{Capacity}{(Price >= 0 ? $"@price{Price}" : "")}";
}

/// <summary>New targets for a hold (mostly an active one), maybe with new minutes.</summary>
internal sealed record ChangeOp(bool WrongTenant, int Reservation, TargetPick[] Targets, int? Minutes) : Op
{
    public override string ToString() =>
        $"Change(res{Reservation}, [{string.Join(", ", Targets)}]{(Minutes is { } m ? $", {m} min" : "")}{(WrongTenant ? ", wrong tenant" : "")})";
}

/// <summary>A confirm naming quantities (or none), maybe reclaiming: of an expired or due hold when reclaiming, else mostly of an active one.</summary>
internal sealed record ConfirmPartOp(bool WrongTenant, int Reservation, TargetPick[]? Parts, bool Reclaim) : Op
{
    public override string ToString() =>
        $"Confirm(res{Reservation}{(Parts is null ? "" : $", [{string.Join(", ", Parts)}]")}{(Reclaim ? ", reclaim" : "")}{(WrongTenant ? ", wrong tenant" : "")})";
}

/// <summary>A refund of part of a sale (mostly a confirmed one).</summary>
internal sealed record CancelPartOp(bool WrongTenant, int Reservation, TargetPick[] Parts) : Op
{
    public override string ToString() => $"Refund(res{Reservation}, [{string.Join(", ", Parts)}]{(WrongTenant ? ", wrong tenant" : "")})";
}

internal sealed record Script(Op[] Ops)
{
    public override string ToString() =>
        $"{Ops.Length} steps:" + string.Concat(Ops.Select((op, i) => $"{Environment.NewLine}    {i}: {op}"));
}

internal static class Scripts
{
    public const int Unknown = 1000;

    private static Gen<bool> Chance(int percent) => Gen.Choose(1, 100).Select(x => x <= percent);

    /// <summary>Mostly the last few rows, sometimes any, rarely one that does not exist.</summary>
    private static readonly Gen<int> Pick = Gen.Frequency(
        (6, Gen.Choose(0, 3)),
        (3, Gen.Choose(0, 30)),
        (1, Gen.Constant(Unknown)));

    /// <summary>Like <see cref="Pick"/>, with fewer unknown ids: most transitions should find their hold.</summary>
    private static readonly Gen<int> ReservationPick = Gen.Frequency(
        (12, Gen.Choose(0, 3)),
        (6, Gen.Choose(0, 30)),
        (1, Gen.Constant(Unknown)));

    private static readonly Gen<int?> Total = Gen.Frequency(
        (3, Gen.Constant<int?>(null)),
        (6, Gen.Choose(0, 25).Select(x => (int?)x)),
        (1, Gen.Choose(50, 200).Select(x => (int?)x)));

    /// <summary>Mostly absent; else an edge already past or still to come.</summary>
    private static readonly Gen<int?> StartMinutes = Gen.Frequency(
        (4, Gen.Constant<int?>(null)),
        (1, Gen.Choose(-60, -1).Select(m => (int?)m)),
        (3, Gen.Choose(1, 90).Select(m => (int?)m)));

    /// <summary>Mostly absent; else an end already past (or now), or to come: now and then before the start.</summary>
    private static readonly Gen<int?> EndMinutes = Gen.Frequency(
        (4, Gen.Constant<int?>(null)),
        (1, Gen.Choose(-30, 0).Select(m => (int?)m)),
        (3, Gen.Choose(5, 240).Select(m => (int?)m)));

    /// <summary>Mostly 0 or a few; now and then out of range, or the largest allowed.</summary>
    private static readonly Gen<int> Overbook = Gen.Frequency(
        (6, Gen.Constant(0)),
        (3, Gen.Choose(1, 5)),
        (1, Gen.Elements(-1, 1_000_000, 1_000_001)));

    private static Gen<TierPick> Tier(int none) => Gen.Frequency(
        (none, Gen.Constant(TierPick.None)),
        (4, Gen.Constant(TierPick.Earlier)),
        (1, Gen.Constant(TierPick.Followed)),
        (1, Gen.Elements(TierPick.Unknown, TierPick.OtherEvent, TierPick.Itself)));

    /// <summary>Sale rules of a new capacity, each part often absent; see <see cref="SaleSpec"/>.</summary>
    private static readonly Gen<SaleSpec> Sale =
        from start in StartMinutes
        from end in EndMinutes
        from tier in Tier(6)
        from tierIndex in Gen.Choose(0, 3)
        from close in Chance(30)
        from overbook in Overbook
        select new SaleSpec(start, end, tier, tierIndex, close, overbook);

    /// <summary>A capacity in four has sale rules.</summary>
    private static readonly Gen<SaleSpec?> SomeSale = Gen.Frequency(
        (3, Gen.Constant<SaleSpec?>(null)),
        (1, Sale.Select(s => (SaleSpec?)s)));

    private static readonly Gen<Op> Create =
        from otherTenant in Chance(10)
        from total in Total
        from parentCount in Gen.Frequency((4, Gen.Constant(0)), (4, Gen.Constant(1)), (2, Gen.Constant(2)), (1, Gen.Constant(3)))
        from parents in Gen.ArrayOf(Pick, parentCount)
        from twist in Gen.Frequency(
            (12, Gen.Constant(CreateTwist.None)),
            (2, Gen.Constant(CreateTwist.ExplicitMode)),
            (1, Gen.Constant(CreateTwist.WrongMode)),
            (1, Gen.Constant(CreateTwist.DuplicateParent)),
            (1, Gen.Constant(CreateTwist.MissingParent)),
            (1, Gen.Constant(CreateTwist.ForeignParent)),
            (6, Gen.Constant(CreateTwist.DeepChain)),
            (1, Gen.Constant(CreateTwist.ReuseId)),
            (1, Gen.Constant(CreateTwist.OtherEvent)),
            (2, Gen.Constant(CreateTwist.Bounded)))
        from active in Chance(92)
        from sale in SomeSale
        select (Op)new CreateOp(otherTenant, total, parents, twist, active, sale);

    private static readonly Gen<int> Quantity = Gen.Frequency(
        (12, Gen.Choose(1, 6)),
        (1, Gen.Choose(7, 30)),
        (1, Gen.Elements(0, -2, 100, 101)));

    private static readonly Gen<int> HoldMinutes = Gen.Frequency(
        (8, Gen.Choose(1, 30)),
        (1, Gen.Choose(31, 120)),
        (1, Gen.Elements(0, -1, 120, 121)));

    /// <summary>The public pool or an allocation, in these proportions; now and then a wrong allocation.</summary>
    private static Gen<(int Pick, DrawTwist Twist)> Draw(int plain, int drawn) => Gen.Frequency(
        (plain, Gen.Constant((-1, DrawTwist.None))),
        (drawn, Gen.Choose(0, 3).Select(p => (p, DrawTwist.None))),
        (1, Gen.Elements(DrawTwist.OtherCapacity, DrawTwist.Closed, DrawTwist.Unknown).Select(t => (0, t))));

    /// <summary>Where the allocations are only part of the story: about one item in four draws from one.</summary>
    private static readonly Gen<(int Pick, DrawTwist Twist)> SomeDraws = Draw(14, 4);

    /// <summary>Where the fight is for the public pool: about one item in nine draws from an allocation.</summary>
    private static readonly Gen<(int Pick, DrawTwist Twist)> FewDraws = Draw(24, 2);

    /// <summary>Allocations are small blocks: an item drawn from one asks for a few units, sometimes a wrong quantity.</summary>
    private static readonly Gen<int> DrawnQuantity = Gen.Frequency(
        (10, Gen.Choose(1, 3)),
        (3, Gen.Choose(4, 8)),
        (1, Gen.Elements(0, 101)));

    private static Gen<ItemPick> Item(Gen<int> capacity, Gen<(int Pick, DrawTwist Twist)> draws) =>
        from cap in capacity
        from draw in draws
        from quantity in draw.Pick >= 0 ? DrawnQuantity : Quantity
        from price in Gen.Frequency((6, Gen.Constant(-1)), (1, Pick))
        select new ItemPick(cap, quantity, price, draw.Pick, draw.Twist);

    private static Gen<Op> Hold(Gen<int> capacity, Gen<(int Pick, DrawTwist Twist)> draws, Gen<string?> keys) =>
        from wrongTenant in Chance(5)
        from count in Gen.Frequency((12, Gen.Constant(1)), (6, Gen.Choose(2, 3)), (2, Gen.Choose(4, 6)), (1, Gen.Elements(0, 51)))
        from items in Gen.ArrayOf(Item(capacity, draws), count)
        from minutes in HoldMinutes
        from key in keys
        select (Op)new HoldOp(wrongTenant, items, minutes, key);

    /// <summary>Keys that are refused: blank, too long, a control or an invisible format character; and the longest that is not.</summary>
    private static readonly Gen<string?> OddKey = Gen.Elements<string?>("", "  ", new string('k', 129), "tab\there", "zero\u200bwidth", new string('k', 128));

    /// <summary>A few buyers, so that they meet their limits; a hold names none in these proportions; rarely an odd key.</summary>
    private static Gen<string?> Keys(int none) => Gen.Frequency(
        (none, Gen.Constant<string?>(null)),
        (12, Gen.Elements<string?>("a", "b", "c")),
        (1, OddKey));

    /// <summary>Where limits are part of the story: half the holds name a buyer.</summary>
    private static readonly Gen<string?> SomeKeys = Keys(12);

    /// <summary>Mostly small maxima, so that a buyer reaches them; now and then one out of range, or the largest allowed.</summary>
    private static readonly Gen<int> PerBuyerMax = Gen.Frequency(
        (12, Gen.Choose(1, 6)),
        (2, Gen.Choose(7, 20)),
        (1, Gen.Elements(0, -1, 1_000_000, 1_000_001)));

    private static readonly Gen<int> FewMore = Gen.Frequency((5, Gen.Constant(0)), (3, Gen.Constant(1)), (2, Gen.Constant(2)));

    private static Gen<Op> CreateLimit(Gen<int> capacity) => CreateLimit(capacity, FewMore);

    /// <summary>A limit over a picked capacity and <paramref name="moreCounts"/> more picks (duplicates dropped).</summary>
    private static Gen<Op> CreateLimit(Gen<int> capacity, Gen<int> moreCounts) =>
        from cap in capacity
        from moreCount in moreCounts
        from more in Gen.ArrayOf(capacity, moreCount)
        from max in PerBuyerMax
        from requireKey in Chance(25)
        from twist in Gen.Frequency(
            (24, Gen.Constant(LimitTwist.None)),
            (1, Gen.Constant(LimitTwist.ForeignCapacity)),
            (2, Gen.Constant(LimitTwist.OtherEvent)),
            (1, Gen.Constant(LimitTwist.DuplicateCapacity)),
            (1, Gen.Constant(LimitTwist.UnknownCapacity)),
            (1, Gen.Elements(LimitTwist.NoCapacities, LimitTwist.TooManyCapacities)),
            (1, Gen.Constant(LimitTwist.BlankName)),
            (1, Gen.Constant(LimitTwist.BadEvent)),
            (1, Gen.Constant(LimitTwist.ReuseId)))
        select (Op)new CreateLimitOp(cap, more, max, requireKey, twist);

    private static readonly Gen<Op> UpdateLimit =
        from wrongTenant in Chance(5)
        from limit in Pick
        from change in Gen.Frequency(
            (6, Gen.Choose(-3, 2).Select(d => (Relative: true, Max: (int?)d))),
            (2, PerBuyerMax.Select(m => (Relative: false, Max: (int?)m))),
            (2, Gen.Constant((Relative: false, Max: (int?)null))))
        from toggle in Chance(35)
        from blankName in Chance(4)
        select (Op)new UpdateLimitOp(wrongTenant, limit, change.Relative, change.Max, toggle, blankName);

    private static readonly Gen<Op> DeleteLimit =
        from wrongTenant in Chance(5)
        from limit in Pick
        select (Op)new DeleteLimitOp(wrongTenant, limit);

    /// <summary>The steps on an existing limit, sharing one weight.</summary>
    private static readonly Gen<Op> LimitStep = Gen.Frequency(
        (3, UpdateLimit),
        (1, DeleteLimit));

    private static readonly Gen<Op> Transit = Transitions(confirm: 3, release: 2, cancel: 2);

    private static Gen<Op> Transitions(int confirm, int release, int cancel) =>
        from wrongTenant in Chance(5)
        from reservation in ReservationPick
        from transition in Gen.Frequency((confirm, Gen.Constant(Transition.Confirm)), (release, Gen.Constant(Transition.Release)), (cancel, Gen.Constant(Transition.Cancel)))
        select (Op)new TransitionOp(wrongTenant, reservation, transition);

    private static readonly Gen<Op> Extend =
        from wrongTenant in Chance(5)
        from reservation in ReservationPick
        from minutes in Gen.Frequency((5, Gen.Choose(1, 40)), (3, Gen.Choose(41, 120)), (1, Gen.Elements(0, 121)))
        select (Op)new ExtendOp(wrongTenant, reservation, minutes);

    private static readonly Gen<Op> Expire =
        from all in Chance(60)
        from count in Gen.Choose(1, 4)
        from picks in Gen.ArrayOf(ReservationPick, count)
        select (Op)new ExpireOp(all, picks);

    private static readonly Gen<Op> Advance = Gen.Frequency(
        (5, Gen.Choose(1, 10).Select(m => m * 60)),
        (2, Gen.Choose(1, 59)),
        (2, Gen.Choose(10, 60).Select(m => m * 60)),
        (1, Gen.Constant(0))).Select(s => (Op)new AdvanceOp(s));

    /// <summary>
    /// As <see cref="Advance"/>, and now and then an hour to five: across sale windows' edges (and past
    /// every hold's expiry). Kept apart so that the scripts whose rates are guarded keep their clock.
    /// </summary>
    private static readonly Gen<Op> ClockStep = Gen.Frequency(
        (10, Advance),
        (1, Gen.Choose(61, 300).Select(m => (Op)new AdvanceOp(m * 60))));

    private static Gen<Op> Resize(Gen<int> capacity) =>
        from wrongTenant in Chance(5)
        from cap in capacity
        from kind in Gen.Frequency((1, Gen.Constant(ResizeKind.Unlimited)), (5, Gen.Constant(ResizeKind.RelativeToCommitted)), (2, Gen.Constant(ResizeKind.Absolute)))
        from value in Gen.Choose(-4, 8)
        select (Op)new ResizeOp(wrongTenant, cap, kind, kind == ResizeKind.Absolute ? Math.Abs(value) * 3 : value);

    private static readonly Gen<Edge> Edges = Gen.Frequency((5, Gen.Constant(Edge.Keep)), (1, Gen.Constant(Edge.Clear)), (2, Gen.Constant(Edge.Set)));

    /// <summary>A PUT of sale rules: mostly one or two of them changed, often re-activating; see <see cref="SaleOp"/>.</summary>
    private static Gen<Op> UpdateSale(Gen<int> capacity) =>
        from wrongTenant in Chance(4)
        from cap in capacity
        from start in Edges
        from startMinutes in Gen.Choose(-30, 60)
        from end in Edges
        from endMinutes in Gen.Choose(-10, 180)
        from tier in Gen.Frequency((8, Gen.Constant(TierPick.None)), (3, Tier(0)), (1, Gen.Constant(TierPick.Clear)))
        from tierIndex in Gen.Choose(0, 3)
        from close in Gen.Frequency((3, Gen.Constant<bool?>(null)), (1, Gen.Constant<bool?>(true)), (1, Gen.Constant<bool?>(false)))
        from overbook in Gen.Frequency((3, Gen.Constant<int?>(null)), (2, Overbook.Select(o => (int?)o)))
        from active in Gen.Frequency((4, Gen.Constant<bool?>(null)), (2, Gen.Constant<bool?>(true)), (1, Gen.Constant<bool?>(false)))
        from committed in Gen.Frequency((5, Gen.Constant<int?>(null)), (1, Gen.Choose(-3, 3).Select(t => (int?)t)))
        select (Op)new SaleOp(wrongTenant, cap, start, startMinutes, end, endMinutes, tier, tierIndex, close, overbook, active, committed);

    private static Gen<Op> Activate(Gen<int> capacity) =>
        from wrongTenant in Chance(5)
        from cap in capacity
        from active in Chance(65)
        select (Op)new ActivateOp(wrongTenant, cap, active);

    private static Gen<Op> Price(Gen<int> capacity) =>
        from wrongTenant in Chance(5)
        from cap in capacity
        from basePrice in Gen.Elements(0m, 9.99m, 25m, 100m)
        from current in Gen.Frequency((2, Gen.Constant<decimal?>(null)), (1, Gen.Elements<decimal?>(0m, 5m, 12.5m)))
        from currency in Gen.Elements("EUR", "USD")
        select (Op)new PriceOp(wrongTenant, cap, basePrice, current, currency);

    private static readonly Gen<Op> Reprice =
        from wrongTenant in Chance(5)
        from price in Pick
        from current in Gen.Elements<decimal?>(null, 0m, 7m, 30m)
        select (Op)new RepriceOp(wrongTenant, price, current);

    private static Gen<Op> Allocate(Gen<int> capacity) =>
        from cap in capacity
        from size in Gen.Frequency(
            (12, Gen.Choose(1, 8)),
            (2, Gen.Choose(9, 30)),
            (1, Gen.Elements(0, -1, 1_000_000, 1_000_001)))
        from expiry in Gen.Frequency((6, Gen.Constant<int?>(null)), (1, Gen.Choose(1, 3).Select(m => (int?)m)), (1, Gen.Choose(4, 10).Select(m => (int?)m)))
        from twist in Gen.Frequency(
            (16, Gen.Constant(AllocationTwist.None)),
            (1, Gen.Constant(AllocationTwist.OtherTenant)),
            (1, Gen.Constant(AllocationTwist.BlankName)),
            (1, Gen.Constant(AllocationTwist.ReuseId)),
            (1, Gen.Constant(AllocationTwist.PastExpiry)))
        select (Op)new AllocateOp(cap, size, twist == AllocationTwist.PastExpiry ? (expiry ?? 1) % 2 : expiry, twist);

    private static readonly Gen<Op> ResizeAllocation =
        from wrongTenant in Chance(5)
        from allocation in Pick
        from relative in Chance(75)
        from value in relative ? Gen.Choose(-2, 6) : Gen.Frequency((6, Gen.Choose(0, 12)), (1, Gen.Elements(-1, 1_000_001)))
        select (Op)new ResizeAllocationOp(wrongTenant, allocation, relative, value);

    private static readonly Gen<Op> ReleaseAllocation =
        from wrongTenant in Chance(5)
        from allocation in Pick
        from relative in Chance(40)
        from value in relative ? Gen.Choose(-1, 1) : Gen.Frequency((8, Gen.Choose(1, 4)), (1, Gen.Elements(0, -1, 1_000_001)))
        select (Op)new ReleaseAllocationOp(wrongTenant, allocation, relative, value);

    private static readonly Gen<Op> CloseAllocation =
        from wrongTenant in Chance(5)
        from allocation in Pick
        select (Op)new CloseAllocationOp(wrongTenant, allocation);

    private static readonly Gen<Op> AdvanceToExpiry =
        from allocation in Gen.Choose(0, 3)
        from seconds in Gen.Elements(-1, 0, 0, 1)
        select (Op)new AdvanceToExpiryOp(allocation, seconds);

    private static readonly Gen<Op> CloseDue =
        from all in Chance(60)
        from count in Gen.Choose(1, 3)
        from picks in Gen.ArrayOf(Pick, count)
        select (Op)new CloseDueOp(all, picks);

    /// <summary>The steps on an existing allocation, sharing one weight so they do not crowd out the rest.</summary>
    private static readonly Gen<Op> AllocationStep = Gen.Frequency(
        (2, ResizeAllocation),
        (2, ReleaseAllocation),
        (1, CloseAllocation),
        (1, CloseDue));

    /// <summary>Mostly short offers, so that time passing lets them lapse; now and then one out of range, or the longest allowed.</summary>
    private static readonly Gen<int> OfferMinutes = Gen.Frequency(
        (10, Gen.Choose(1, 10)),
        (3, Gen.Choose(11, 40)),
        (1, Gen.Elements(0, -1, 120, 121)));

    private static readonly Gen<WaitlistPolicy> Policy = Gen.Elements(WaitlistPolicy.Fifo, WaitlistPolicy.FirstFit);

    private static Gen<Op> Waitlist(Gen<int> capacity) =>
        from wrongTenant in Chance(4)
        from cap in capacity
        from enabled in Chance(85)
        from minutes in Gen.Frequency((3, OfferMinutes.Select(m => (int?)m)), (1, Gen.Constant<int?>(null)))
        from policy in Gen.Frequency((4, Policy.Select(p => (WaitlistPolicy?)p)), (1, Gen.Constant<WaitlistPolicy?>(null)))
        select (Op)new WaitlistOp(wrongTenant, cap, enabled, minutes, policy);

    /// <summary>Mostly small groups, often one bigger than what comes free at once, now and then more than a small pool holds, rarely a wrong quantity.</summary>
    private static readonly Gen<int> JoinQuantity = Gen.Frequency(
        (12, Gen.Choose(1, 2)),
        (4, Gen.Choose(3, 4)),
        (1, Gen.Choose(5, 10)),
        (1, Gen.Elements(0, 101)));

    private static Gen<Op> Join(Gen<int> capacity, Gen<string?> keys) =>
        from count in Gen.Frequency((3, Gen.Constant(1)), (1, Gen.Constant(2)))
        from items in Gen.ArrayOf(
            from cap in capacity
            from quantity in JoinQuantity
            select new JoinItem(cap, quantity),
            count)
        from key in keys
        from withRef in Chance(30)
        from twist in Gen.Frequency(
            (30, Gen.Constant(JoinTwist.None)),
            (3, Gen.Constant(JoinTwist.AnyCapacity)),
            (1, Gen.Constant(JoinTwist.DuplicateCapacity)),
            (1, Gen.Constant(JoinTwist.ReuseId)),
            (1, Gen.Constant(JoinTwist.WrongTenant)),
            (1, Gen.Elements(JoinTwist.BadExternalRef, JoinTwist.NoItems)))
        select (Op)new JoinOp(items, key, withRef, twist);

    private static readonly Gen<Op> Leave =
        from wrongTenant in Chance(5)
        from entry in ReservationPick
        select (Op)new LeaveOp(wrongTenant, entry);

    private static readonly Gen<Op> Answer =
        from offer in Gen.Choose(0, 3)
        from accept in Chance(60)
        select (Op)new AnswerOp(offer, accept);

    private static Gen<Op> Step(Gen<int> capacity, int createWeight, Gen<(int Pick, DrawTwist Twist)> draws) => Gen.Frequency(new (int, Gen<Op>)[]
    {
        (createWeight, Create),
        (8, Hold(capacity, draws, SomeKeys)),
        (6, Transit),
        (3, Extend),
        (2, Expire),
        (4, ClockStep),
        (2, Resize(capacity)),
        (1, Activate(capacity)),
        (2, UpdateSale(capacity)),
        (1, Price(capacity)),
        (1, Reprice),
        (2, Allocate(capacity)),
        (2, AllocationStep),
        (1, CreateLimit(capacity)),
        (1, LimitStep),
        (2, Waitlist(capacity)),
        (2, Join(capacity, SomeKeys)),
        (1, Leave),
    }.Where(w => w.Item1 > 0));

    /// <summary>Starts with a few capacities, maybe allocations, and holds, then up to about 70 steps of everything.</summary>
    public static Arbitrary<Script> Mixed { get; } = Arb.From(
        from prefixLength in Gen.Choose(2, 6)
        from prefix in Gen.ArrayOf(Create, prefixLength)
        from allocationCount in Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Choose(1, 2)))
        from allocations in Gen.ArrayOf(Allocate(Pick), allocationCount)
        from holdCount in Gen.Choose(1, 3)
        from holds in Gen.ArrayOf(Hold(Pick, SomeDraws, SomeKeys), holdCount)
        from length in Gen.Choose(1, 64)
        from body in Gen.ArrayOf(Step(Pick, 4, SomeDraws), length)
        select new Script([.. prefix, .. allocations, .. holds, .. body]),
        Shrink);

    /// <summary>
    /// A venue of 12 over two capped days and a weekend pass drawing from both, then many small carts
    /// against it: most holds end in a fight for the last tickets (sometimes with a block set aside).
    /// </summary>
    public static Arbitrary<Script> Contended { get; } = Arb.From(
        from venue in Gen.Choose(4, 16)
        from day in Gen.Choose(2, 10)
        from allocationCount in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Constant(1)))
        from allocations in Gen.ArrayOf(Allocate(Gen.Choose(0, 3)), allocationCount)
        from length in Gen.Choose(10, 74)
        from body in Gen.ArrayOf(Step(Gen.Choose(0, 3), 0, FewDraws), length)
        select new Script(
        [
            new CreateOp(false, venue, [], CreateTwist.None, true),
            new CreateOp(false, day, [0], CreateTwist.None, true),
            new CreateOp(false, day, [1], CreateTwist.None, true),
            new CreateOp(false, null, [0, 1], CreateTwist.None, true),
            .. allocations,
            .. body,
        ]),
        Shrink);

    /// <summary>
    /// Blocks set aside in a small venue (a capped section, a shared one, a pass over both) and carts
    /// drawing mostly from them while blocks are resized, given back and closed: the ways an allocated
    /// hold ends (into an open block or a closed one, sold, cancelled) are rare in the other scripts.
    /// </summary>
    public static Arbitrary<Script> Blocks { get; } = Arb.From(
        from venue in Gen.Choose(8, 30)
        from section in Gen.Choose(3, 12)
        from allocationCount in Gen.Choose(1, 3)
        from allocations in Gen.ArrayOf(Allocate(Gen.Choose(0, 3)), allocationCount)
        from length in Gen.Choose(10, 50)
        from body in Gen.ArrayOf(BlockStep, length)
        select new Script(
        [
            new CreateOp(false, venue, [], CreateTwist.None, true),
            new CreateOp(false, section, [0], CreateTwist.None, true),
            new CreateOp(false, null, [1], CreateTwist.None, true),
            new CreateOp(false, null, [1, 2], CreateTwist.None, true),
            .. allocations,
            .. body,
        ]),
        Shrink);

    private static readonly Gen<Op> BlockStep = Gen.Frequency(
        (8, Hold(Gen.Choose(0, 3), Draw(3, 6), SomeKeys)),
        (7, Transit),
        (2, Extend),
        (2, Expire),
        (4, Advance),
        (1, Resize(Gen.Choose(0, 3))),
        (1, Activate(Gen.Choose(0, 3))),
        (3, Allocate(Gen.Choose(0, 3))),
        (4, AllocationStep),
        (2, CloseAllocation),
        (2, AdvanceToExpiry),
        (2, CloseDue),
        (2, CreateLimit(Gen.Choose(0, 3))),
        (1, LimitStep));

    /// <summary>Small carts: a buyer reaches a small maximum in a few holds.</summary>
    private static readonly Gen<int> SmallQuantity = Gen.Frequency(
        (12, Gen.Choose(1, 2)),
        (4, Gen.Choose(3, 4)),
        (1, Gen.Choose(5, 8)),
        (1, Gen.Elements(0, 101)));

    /// <summary>Tenant A's capacities, now and then tenant B's.</summary>
    private static readonly Gen<int> LimitsCapacity = Gen.Frequency((10, Gen.Choose(0, 4)), (1, Gen.Constant(5)));

    /// <summary>Where they are the story: most holds name a buyer.</summary>
    private static readonly Gen<string?> MostKeys = Keys(4);

    private static readonly Gen<Op> KeyedHold =
        from wrongTenant in Chance(3)
        from count in Gen.Frequency((10, Gen.Constant(1)), (5, Gen.Choose(2, 3)), (1, Gen.Choose(4, 6)))
        from items in Gen.ArrayOf(
            from cap in LimitsCapacity
            from limit in Gen.Frequency((1, Gen.Constant(-1)), (1, Gen.Choose(0, 3)))
            from draw in Draw(20, 3)
            from quantity in SmallQuantity
            select new ItemPick(cap, quantity, -1, draw.Pick, draw.Twist, limit),
            count)
        from minutes in HoldMinutes
        from key in MostKeys
        select (Op)new HoldOp(wrongTenant, items, minutes, key);

    private static readonly Gen<Op> LimitsStep = Gen.Frequency(
        (12, KeyedHold),
        (7, Transit),
        (1, Extend),
        (2, Expire),
        (3, Advance),
        (1, Resize(LimitsCapacity)),
        (1, Activate(LimitsCapacity)),
        (1, Allocate(LimitsCapacity)),
        (1, AllocationStep),
        (2, CreateLimit(LimitsCapacity, Gen.Choose(0, 3))),
        (4, LimitStep));

    /// <summary>
    /// Buyers against limits: a venue with two capped sections and a pass over both, a section of
    /// another event and one of another tenant, one to three limits over them, then mostly small keyed
    /// carts (now and then from a block) while holds are confirmed, released, cancelled and expire and
    /// limits are raised, lowered, made to require a key and deleted: BuyerLimitExceeded and
    /// BuyerKeyRequired are everyday answers here, and rare elsewhere.
    /// </summary>
    public static Arbitrary<Script> Limits { get; } = Arb.From(
        from venue in Gen.Frequency((3, Gen.Choose(10, 40)), (1, Gen.Constant(0)))
        from section in Gen.Choose(4, 15)
        from limitCount in Gen.Choose(1, 3)
        from limits in Gen.ArrayOf(CreateLimit(LimitsCapacity, Gen.Choose(0, 3)), limitCount)
        from allocationCount in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Constant(1)))
        from allocations in Gen.ArrayOf(Allocate(LimitsCapacity), allocationCount)
        from length in Gen.Choose(10, 60)
        from body in Gen.ArrayOf(LimitsStep, length)
        select new Script(
        [
            // Picks 0 to 5 then name: the other event's section, the pass, the sections, the venue, tenant B's.
            new CreateOp(true, 20, [], CreateTwist.None, true),
            new CreateOp(false, venue == 0 ? null : venue, [], CreateTwist.None, true),
            new CreateOp(false, section, [0], CreateTwist.None, true),
            new CreateOp(false, section, [1], CreateTwist.None, true),
            new CreateOp(false, null, [0, 1], CreateTwist.None, true),
            new CreateOp(false, 20, [], CreateTwist.OtherEvent, true),
            .. limits,
            .. allocations,
            .. body,
        ]),
        Shrink);

    /// <summary>
    /// Carts of a line or two of a few tickets, mostly naming a buyer: they fill small pools a few at a
    /// time and free them as they end, and take buyers who wait towards their limits.
    /// </summary>
    private static readonly Gen<Op> SmallHold =
        from wrongTenant in Chance(3)
        from count in Gen.Frequency((6, Gen.Constant(1)), (2, Gen.Constant(2)))
        from items in Gen.ArrayOf(
            from cap in Gen.Choose(0, 4)
            from draw in Draw(24, 2)
            from quantity in SmallQuantity
            select new ItemPick(cap, quantity, -1, draw.Pick, draw.Twist),
            count)
        from minutes in HoldMinutes
        from key in Keys(6)
        select (Op)new HoldOp(wrongTenant, items, minutes, key);

    /// <summary>
    /// Where the waiting lists are the story: holds, joins and leaves, holds and offers ending every
    /// way, time passing, resizes, lists switched and their policies changed, a few blocks and limits,
    /// on small pools that sell out (so that joins wait) and come free again (so that waits end in offers).
    /// </summary>
    private static readonly Gen<Op> WaitlistStep = Gen.Frequency(
        (12, SmallHold),
        (8, Join(Gen.Choose(0, 4), Keys(6))),
        (2, Leave),
        (3, Answer),

        // More releases and refunds than elsewhere: units that come free are what a waiting list is for.
        (9, Transitions(confirm: 3, release: 4, cancel: 2)),
        (1, Extend),
        (4, Expire),
        (4, Advance),
        (2, Resize(Gen.Choose(0, 4))),
        (1, Activate(Gen.Choose(0, 4))),
        (2, Waitlist(Gen.Choose(0, 4))),
        (1, Allocate(Gen.Choose(0, 4))),
        (1, AllocationStep),
        (1, CreateLimit(Gen.Choose(0, 4))),
        (1, LimitStep));

    /// <summary>
    /// A venue with two capped sections and a pass over both (as in <see cref="Contended"/>), and a
    /// separate small box; most of them with a list open (fifo or first_fit, short offers), in
    /// some scripts a limit per buyer over up to three of them, a few holds, then <see cref="WaitlistStep"/>s.
    /// </summary>
    public static Arbitrary<Script> Waitlists { get; } = Arb.From(
        from venue in Gen.Choose(5, 16)
        from section in Gen.Choose(2, 8)
        from box in Gen.Choose(1, 6)
        from open in Gen.ArrayOf(Chance(80), 5)
        from minutes in Gen.ArrayOf(OfferMinutes, 5)
        from policies in Gen.ArrayOf(Policy, 5)
        from limitCount in Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Constant(1)))
        from limits in Gen.ArrayOf(
            from cap in Gen.Choose(0, 4)
            from more in Gen.ArrayOf(Gen.Choose(0, 4), 2)
            from max in Gen.Choose(2, 4)
            select (Op)new CreateLimitOp(cap, more, max, false, LimitTwist.None),
            limitCount)
        from holdCount in Gen.Choose(2, 6)
        from holds in Gen.ArrayOf(SmallHold, holdCount)
        from length in Gen.Choose(10, 70)
        from body in Gen.ArrayOf(WaitlistStep, length)
        select new Script(
        [
            // Picks 0 to 4 then name: the box, the pass, the circle, the stalls, the venue.
            new CreateOp(false, venue, [], CreateTwist.None, true),
            new CreateOp(false, section, [0], CreateTwist.None, true),
            new CreateOp(false, section, [1], CreateTwist.None, true),
            new CreateOp(false, null, [0, 1], CreateTwist.None, true),
            new CreateOp(false, box, [], CreateTwist.None, true),
            .. Enumerable.Range(0, 5).Where(i => open[i]).Select(i => new WaitlistOp(false, i, true, Math.Clamp(minutes[i], 1, 120), policies[i])),
            .. limits,
            .. holds,
            .. body,
        ]),
        Shrink);

    /// <summary>A change's target: mostly near what the hold has, sometimes another capacity, now and then out of range.</summary>
    private static readonly Gen<TargetPick> Target =
        from cap in Gen.Choose(0, 3)
        from other in Chance(10)
        from relative in Chance(70)
        from quantity in relative
            ? Gen.Frequency((8, Gen.Choose(-2, 2)), (2, Gen.Choose(-6, 6)))
            : Gen.Frequency((8, Gen.Choose(0, 6)), (1, Gen.Elements(-1, 100, 101)))
        from price in Gen.Frequency((5, Gen.Constant(-1)), (1, Pick))
        select new TargetPick(cap, other, quantity, relative, price);

    private static readonly Gen<Op> Change =
        from wrongTenant in Chance(4)
        from reservation in ReservationPick
        from count in Gen.Frequency((8, Gen.Constant(1)), (4, Gen.Constant(2)), (1, Gen.Constant(3)), (1, Gen.Elements(0, 51)))
        from targets in Gen.ArrayOf(Target, count)
        from minutes in Gen.Frequency((6, Gen.Constant<int?>(null)), (2, Gen.Choose(1, 40).Select(m => (int?)m)), (2, Gen.Elements<int?>(0, 110, 120, 120, 121)))
        select (Op)new ChangeOp(wrongTenant, reservation, targets, minutes);

    /// <summary>A part to keep or refund: mostly what the reservation has or a little less, now and then more or out of range.</summary>
    private static readonly Gen<TargetPick> Part =
        from cap in Gen.Choose(0, 3)
        from other in Chance(4)
        from relative in Chance(85)
        from quantity in relative ? Gen.Frequency((8, Gen.Choose(-3, 0)), (1, Gen.Elements(1, -10))) : Gen.Frequency((4, Gen.Choose(0, 4)), (1, Gen.Elements(-1, 101)))
        select new TargetPick(cap, other, quantity, relative);

    private static readonly Gen<Op> ConfirmPart =
        from wrongTenant in Chance(4)
        from reservation in ReservationPick
        from reclaim in Chance(60)
        from count in Gen.Frequency((3, Gen.Constant(-1)), (6, Gen.Constant(1)), (3, Gen.Constant(2)), (1, Gen.Constant(0)))
        from parts in Gen.ArrayOf(Part, Math.Max(0, count))
        select (Op)new ConfirmPartOp(wrongTenant, reservation, count < 0 ? null : parts, reclaim);

    private static readonly Gen<Op> CancelPart =
        from wrongTenant in Chance(4)
        from reservation in ReservationPick
        from count in Gen.Frequency((8, Gen.Constant(1)), (3, Gen.Constant(2)), (1, Gen.Constant(0)))
        from parts in Gen.ArrayOf(Part, count)
        select (Op)new CancelPartOp(wrongTenant, reservation, parts);

    /// <summary>Mostly a few minutes: holds live long enough to be changed, and some lapse to be reclaimed.</summary>
    private static readonly Gen<Op> ShortAdvance = Gen.Frequency(
        (5, Gen.Choose(1, 5).Select(m => m * 60)),
        (3, Gen.Choose(1, 59)),
        (1, Gen.Choose(10, 30).Select(m => m * 60))).Select(s => (Op)new AdvanceOp(s));

    /// <summary>Holds naming prices now and then (so that changes lock today's), some keyed, a few from blocks.</summary>
    private static readonly Gen<Op> PricedHold = Hold(Gen.Choose(0, 4), Draw(24, 2), Keys(10));

    /// <summary>
    /// Where holds change in part: changes, partial confirms, reclaims and refunds among holds placed,
    /// repriced, confirmed, released, expiring and swept, on small pools with queues, limits and blocks.
    /// </summary>
    private static readonly Gen<Op> ChangeStep = Gen.Frequency(
        (10, PricedHold),
        (10, Change),
        (7, ConfirmPart),
        (5, CancelPart),
        (4, Transit),
        (1, Extend),
        (3, Expire),
        (5, ShortAdvance),
        (2, Reprice),
        (1, Price(Gen.Choose(0, 4))),
        (1, Resize(Gen.Choose(0, 4))),
        (1, Activate(Gen.Choose(0, 4))),
        (1, Allocate(Gen.Choose(0, 4))),
        (1, AllocationStep),
        (1, Waitlist(Gen.Choose(0, 4))),
        (2, Join(Gen.Choose(0, 4), Keys(6))),
        (1, Answer),
        (1, CreateLimit(Gen.Choose(0, 4))),
        (1, LimitStep));

    /// <summary>
    /// A venue with two capped days and a pass over both, and a box on its own, as in <see cref="Waitlists"/>;
    /// prices on some of them, maybe a list on the box, a limit, a block; a few holds; then <see cref="ChangeStep"/>s.
    /// </summary>
    public static Arbitrary<Script> Changes { get; } = Arb.From(
        from venue in Gen.Choose(6, 20)
        from day in Gen.Choose(3, 12)
        from box in Gen.Choose(2, 8)
        from prices in Gen.ArrayOf(Price(Gen.Choose(0, 4)), 3)
        from listed in Chance(40)
        from limitCount in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Constant(1)))
        from limits in Gen.ArrayOf(CreateLimit(Gen.Choose(0, 4), Gen.Choose(0, 2)), limitCount)
        from allocationCount in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Constant(1)))
        from allocations in Gen.ArrayOf(Allocate(Gen.Choose(0, 4)), allocationCount)
        from holdCount in Gen.Choose(2, 5)
        from holds in Gen.ArrayOf(PricedHold, holdCount)
        from late in Chance(50)
        from lapsed in Gen.Choose(1, 4)
        from taken in Gen.Choose(0, 8)
        from length in Gen.Choose(10, 60)
        from body in Gen.ArrayOf(ChangeStep, length)
        select new Script(
        [
            // Picks 0 to 4 then name: the box, the pass, the second day, the first day, the venue.
            new CreateOp(false, venue, [], CreateTwist.None, true),
            new CreateOp(false, day, [0], CreateTwist.None, true),
            new CreateOp(false, day, [1], CreateTwist.None, true),
            new CreateOp(false, null, [0, 1], CreateTwist.None, true),
            new CreateOp(false, box, [], CreateTwist.None, true),
            .. prices,
            .. listed ? new Op[] { new WaitlistOp(false, 0, true, 5, WaitlistPolicy.Fifo) } : [],
            .. limits,
            .. allocations,
            .. holds,

            // In some scripts a hold on the box lapses, others may take its tickets, and it is reclaimed.
            .. late
                ? new Op[]
                {
                    new HoldOp(false, [new ItemPick(0, lapsed, -1)], 1),
                    new AdvanceOp(90),
                    new ExpireOp(true, []),
                    new HoldOp(false, [new ItemPick(0, taken, -1)], 30),
                    new ConfirmPartOp(false, 0, null, true),
                }
                : [],
            .. body,
        ]),
        Shrink);

    /// <summary>The early bird and the regular tier most, then the venue, the box and the rest.</summary>
    private static readonly Gen<int> SaleCapacity = Gen.Frequency(
        (3, Gen.Constant(4)),
        (3, Gen.Constant(3)),
        (2, Gen.Constant(2)),
        (2, Gen.Constant(1)),
        (1, Gen.Constant(0)),
        (1, Gen.Constant(5)),
        (1, Gen.Choose(0, 30)));

    /// <summary>Small carts on the tiers, the box and the floor, some naming a buyer, now and then from a block.</summary>
    private static readonly Gen<Op> SaleHold =
        from wrongTenant in Chance(3)
        from count in Gen.Frequency((8, Gen.Constant(1)), (3, Gen.Constant(2)))
        from items in Gen.ArrayOf(
            from cap in SaleCapacity
            from draw in Draw(24, 2)
            from quantity in SmallQuantity
            select new ItemPick(cap, quantity, -1, draw.Pick, draw.Twist),
            count)
        from minutes in HoldMinutes
        from key in Keys(10)
        select (Op)new HoldOp(wrongTenant, items, minutes, key);

    /// <summary>
    /// Where sale rules are the story: holds that sell tiers out, tickets coming back, the clock crossing
    /// windows, rules and totals changed by PUTs, capacities reopened by hand, a few queues, blocks and changes.
    /// </summary>
    private static readonly Gen<Op> SaleStep = SaleSteps(joins: 2);

    /// <summary>Sale steps with more joins, for the scripts whose early bird and box queue from the start.</summary>
    private static readonly Gen<Op> QueuedSaleStep = SaleSteps(joins: 6);

    private static Gen<Op> SaleSteps(int joins) => Gen.Frequency(
        (14, SaleHold),
        (9, Transitions(confirm: 3, release: 4, cancel: 2)),
        (1, Extend),
        (3, Expire),
        (5, ClockStep),
        (5, UpdateSale(SaleCapacity)),
        (2, Resize(SaleCapacity)),
        (3, Activate(SaleCapacity)),
        (1, Waitlist(SaleCapacity)),
        (joins, Join(SaleCapacity, Keys(6))),
        (1, Answer),
        (1, Allocate(SaleCapacity)),
        (1, AllocationStep),
        (2, Change),
        (1, ConfirmPart),
        (1, from create in Create from sale in Sale select create is CreateOp c ? (Op)(c with { Sale = sale }) : create));

    /// <summary>
    /// A venue (sometimes overbooked) with an early bird, a regular tier after it and, in some scripts, a
    /// late tier after that; a box on its own with a window (sometimes closing when sold out and
    /// overbooked); and a floor drawing from the venue, sometimes with a window of its own; in half the
    /// scripts waiting lists on the early bird and the box; then <see cref="SaleStep"/>s. The tiers are
    /// small, so that they sell out and open the next.
    /// </summary>
    public static Arbitrary<Script> Sales { get; } = Arb.From(
        from venue in Gen.Choose(6, 20)
        from venueOverbook in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(1, 4)))
        from early in Gen.Choose(1, 4)
        from regular in Gen.Choose(2, 8)
        from regularCloses in Chance(30)
        from late in Gen.Frequency((1, Gen.Constant<int?>(null)), (1, Gen.Choose(2, 6).Select(t => (int?)t)))
        from box in Gen.Choose(1, 6)
        from boxStart in Gen.Frequency((2, Gen.Choose(-5, 0)), (1, Gen.Choose(1, 30)))
        from boxEnd in Gen.Choose(20, 150)
        from boxCloses in Chance(50)
        from boxOverbook in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(1, 3)))
        from floorWindow in Gen.Frequency((1, Gen.Constant<(int?, int?)>((null, null))), (1, Gen.Choose(0, 20).Select(m => ((int?)m, (int?)(m + 60)))))
        from queues in Chance(50)
        from holdCount in Gen.Choose(1, 4)
        from holds in Gen.ArrayOf(SaleHold, holdCount)
        from length in Gen.Choose(10, 60)
        from body in Gen.ArrayOf(queues ? QueuedSaleStep : SaleStep, length)
        select new Script(
        [
            // Picks 0 to 5 then name: the floor, the box, the late tier (or a plain section), the regular tier, the early bird, the venue.
            new CreateOp(false, venue, [], CreateTwist.None, true, new SaleSpec(null, null, TierPick.None, 0, false, venueOverbook)),
            new CreateOp(false, early, [0], CreateTwist.None, true),
            new CreateOp(false, regular, [1], CreateTwist.None, true, new SaleSpec(null, null, TierPick.Earlier, 0, regularCloses, 0)),
            late is { } lateTotal
                ? new CreateOp(false, lateTotal, [2], CreateTwist.None, true, new SaleSpec(null, null, TierPick.Earlier, 0, false, 0))
                : new CreateOp(false, 3, [2], CreateTwist.None, true),
            new CreateOp(false, box, [], CreateTwist.None, true, new SaleSpec(boxStart, boxEnd, TierPick.None, 0, boxCloses, boxOverbook)),
            new CreateOp(false, null, [4], CreateTwist.None, true, new SaleSpec(floorWindow.Item1, floorWindow.Item2, TierPick.None, 0, false, 0)),

            // In some scripts the early bird and the box queue from the start, so that entries wait there when they close for good.
            .. (Op[])(queues ? [new WaitlistOp(false, 4, true, 30, WaitlistPolicy.Fifo), new WaitlistOp(false, 1, true, 30, WaitlistPolicy.FirstFit)] : []),
            .. holds,
            .. body,
        ]),
        Shrink);

    /// <summary>Removes runs of steps, longest first; picks adapt, so every shorter script still runs.</summary>
    private static IEnumerable<Script> Shrink(Script script)
    {
        var ops = script.Ops;
        for (var size = ops.Length / 2; size >= 1; size /= 2)
        {
            for (var start = 0; start + size <= ops.Length; start += size)
            {
                yield return new Script([.. ops[..start], .. ops[(start + size)..]]);
            }
        }
    }
}

// ---------------------------------------------------------------- runner

/// <summary>Runs one script against the core and the model side by side, checking everything after every step.</summary>
internal sealed class ModelRun
{
    private readonly ReferenceModel _model = new();
    private readonly WorkingSet _ws = new();
    private readonly Dictionary<Guid, (long Reserved, long Sold)> _ledgerSums = [];
    private readonly Dictionary<Guid, SalesFlows> _sales = [];
    private readonly List<Guid> _refusedHolds = [];
    private readonly List<Guid> _refusedAllocations = [];
    private readonly List<Guid> _refusedLimits = [];
    private readonly List<Guid> _refusedEntries = [];
    private readonly List<BuyerUsage> _usage = [];
    private readonly StringBuilder _trace = new();
    private readonly Dictionary<OutcomeCode, int>? _codes;
    private DateTimeOffset _now = Scenario.Start;
    private int _nextId;
    private int _step;

    private ModelRun(Dictionary<OutcomeCode, int>? codes)
    {
        _codes = codes;

        // The store loads an event's waiting list with its capacities; here every event the scripts
        // create capacities in has its list, empty to begin with, kept across steps as the store keeps it.
        foreach (var (tenant, eventId) in new[] { (Scenario.TenantA, "evt-a"), (Scenario.TenantA, "evt-a2"), (Scenario.TenantB, "evt-b"), (Scenario.TenantB, "evt-b2") })
        {
            _ws.LoadWaitlist(tenant, eventId, []);
        }

        // Tenant A has a webhook endpoint that wants everything; tenant B has none. Every step's notices
        // are checked against what the model says happened (CheckNotices).
        Decider.Decide(_ws, new CreateWebhook(Scenario.TenantA, new Guid(0x0e, 0x0b, 0x0e, 0, 0, 0, 0, 0, 0, 0, 1), "https://hooks.example/in", Topics.All, null, "whsec_AA=="), Scenario.Start, CoreLimits.Default);
        _ws.AcceptChanges();
    }

    public static void Execute(Script script) => Execute(script, corruptAfterStep: -1);

    /// <summary>
    /// Runs a script, counting the core's answers into <paramref name="codes"/>, what happened to waiting
    /// lists into <paramref name="events"/> and what changes in part did into <paramref name="changes"/>.
    /// </summary>
    public static void Execute(
        Script script, Dictionary<OutcomeCode, int> codes, Dictionary<WaitlistEvent, int>? events = null, Dictionary<ChangeEvent, int>? changes = null, Dictionary<SaleEvent, int>? sales = null) =>
        Execute(script, -1, Corruption.NodeReserved, codes, events, changes, sales);

    public static void Execute(
        Script script,
        int corruptAfterStep,
        Corruption corruption = Corruption.NodeReserved,
        Dictionary<OutcomeCode, int>? codes = null,
        Dictionary<WaitlistEvent, int>? events = null,
        Dictionary<ChangeEvent, int>? changes = null,
        Dictionary<SaleEvent, int>? sales = null)
    {
        var run = new ModelRun(codes);
        for (run._step = 0; run._step < script.Ops.Length; run._step++)
        {
            run.Step(script.Ops[run._step]);
            if (run._step != corruptAfterStep)
            {
                continue;
            }

            // Only for the self-test.
            if (corruption == Corruption.NodeReserved && run._model.CapOrder.Count > 0)
            {
                // The core forgets one ticket, unseen by the ledger.
                var node = run._ws.FindCapacity(run._model.CapOrder[0])!;
                node.Reserved = Math.Max(0, node.Reserved - 1);
            }
            else if (corruption == Corruption.AllocationSize && run._model.AllocOrder.Count > 0)
            {
                run._ws.FindAllocation(run._model.AllocOrder[0])!.Size++;
            }
            else if (corruption == Corruption.UsageRow && run._usage.Count > 0)
            {
                run._usage[0].Used--;
            }
            else if (corruption == Corruption.LimitMax && run._model.LimitOrder.Count > 0)
            {
                run._ws.FindLimit(run._model.LimitOrder[0])!.PerBuyerMax++;
            }
            else if (corruption == Corruption.QueueDemand && run._model.CapOrder.Count > 0)
            {
                run._ws.FindCapacity(run._model.CapOrder[0])!.QueueDemand = 0;
            }
            else if (corruption == Corruption.TierOpen && run._model.CapOrder.FirstOrDefault(id => run._model.Caps[id].OpensAfter is not null) is var tier && tier != Guid.Empty)
            {
                var node = run._ws.FindCapacity(tier)!;
                node.Sale = node.Sale! with { TierOpen = true };
            }
        }

        foreach (var (what, count) in run._model.WaitlistEvents)
        {
            events?[what] = events.GetValueOrDefault(what) + count;
        }

        foreach (var (what, count) in run._model.ChangeEvents)
        {
            changes?[what] = changes.GetValueOrDefault(what) + count;
        }

        foreach (var (what, count) in run._model.SaleEvents)
        {
            sales?[what] = sales.GetValueOrDefault(what) + count;
        }
    }

    private Guid NewId() => new(++_nextId, 0x0d, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0);

    private static Guid OtherTenant(Guid tenant) => tenant == Scenario.TenantA ? Scenario.TenantB : Scenario.TenantA;

    private static Guid Choose(IReadOnlyList<Guid> ids, int pick, Func<Guid> unknown) =>
        pick == Scripts.Unknown || ids.Count == 0 ? unknown() : ids[ids.Count - 1 - (pick % ids.Count)];

    private Guid PickCapacity(int pick) => Choose(_model.CapOrder, pick, NewId);

    private Guid PickReservation(int pick) => Choose(_model.ResOrder, pick, NewId);

    private Guid PickAllocation(int pick) => Choose(_model.AllocOrder, pick, NewId);

    private Guid PickLimit(int pick) => Choose(_model.LimitOrder, pick, NewId);

    private Guid PickEntry(int pick) => Choose(_model.EntryOrder, pick, NewId);

    private Guid OwnerOfLimit(Guid id, bool wrong)
    {
        var owner = _model.Limits.TryGetValue(id, out var l) ? l.Tenant : Scenario.TenantA;
        return wrong ? OtherTenant(owner) : owner;
    }

    private Guid OwnerOfAllocation(Guid id, bool wrong)
    {
        var owner = _model.Allocations.TryGetValue(id, out var a) ? a.Tenant : Scenario.TenantA;
        return wrong ? OtherTenant(owner) : owner;
    }

    private Guid OwnerOfCapacity(Guid id, bool wrong)
    {
        var owner = _model.Caps.TryGetValue(id, out var c) ? c.Tenant : Scenario.TenantA;
        return wrong ? OtherTenant(owner) : owner;
    }

    private Guid OwnerOfReservation(Guid id, bool wrong)
    {
        var owner = _model.Reservations.TryGetValue(id, out var r) ? r.Tenant : Scenario.TenantA;
        return wrong ? OtherTenant(owner) : owner;
    }

    /// <summary>Turns an abstract step into a concrete command against the current state; null for the passage of time.</summary>
    private Command? Build(Op op)
    {
        switch (op)
        {
            case AdvanceOp or AdvanceToExpiryOp:
                return null;
            case CreateOp c:
            {
                var tenant = c.OtherTenant ? Scenario.TenantB : Scenario.TenantA;
                var mine = _model.CapOrder.Where(id => _model.Caps[id].Tenant == tenant).ToList();
                var theirs = _model.CapOrder.Where(id => _model.Caps[id].Tenant != tenant).ToList();
                List<Guid> parents = c.Twist == CreateTwist.DeepChain && mine.Count > 0
                    ? [mine.OrderByDescending(_model.Depth).First()]
                    : mine.Count == 0 ? [] : c.ParentPicks.Select(p => Choose(mine, p, NewId)).Distinct().ToList();
                switch (c.Twist)
                {
                    case CreateTwist.DuplicateParent when parents.Count > 0:
                        parents.Add(parents[0]);
                        break;
                    case CreateTwist.MissingParent:
                        parents.Insert(parents.Count / 2, NewId());
                        break;
                    case CreateTwist.ForeignParent:
                        parents.Add(Choose(theirs, c.ParentPicks.FirstOrDefault(), NewId));
                        break;
                }

                var derived = (c.Total is null, parents.Count == 0) switch
                {
                    (false, true) => CapacityMode.Own,
                    (false, false) => CapacityMode.Capped,
                    (true, false) => CapacityMode.Shared,
                    (true, true) => CapacityMode.Unlimited,
                };
                CapacityMode? mode = c.Twist switch
                {
                    CreateTwist.ExplicitMode => derived,
                    CreateTwist.WrongMode => (CapacityMode)(((int)derived + 1 + (c.Total ?? 0) % 3) % 4),
                    _ => null,
                };
                var id = c.Twist == CreateTwist.ReuseId && _model.CapOrder.Count > 0 ? PickCapacity(c.ParentPicks.FirstOrDefault()) : NewId();
                var eventId = (tenant == Scenario.TenantA ? "evt-a" : "evt-b") + (c.Twist == CreateTwist.OtherEvent ? "2" : "");
                var sale = c.Sale is not { } spec ? null : new SaleRules(
                    spec.StartMinutes is { } starts ? Scenario.Start.AddMinutes(starts) : null,
                    spec.EndMinutes is { } ends ? Scenario.Start.AddMinutes(ends) : null,
                    TierTarget(spec.Tier, spec.TierIndex, id, tenant, eventId),
                    spec.CloseWhenSoldOut,
                    spec.Overbook);
                var bound = int.MaxValue;
                if (c.Twist == CreateTwist.Bounded)
                {
                    // As the store counts for the batch: the event's capacities as they stand.
                    var size = _model.Caps.Values.Count(x => x.Tenant == tenant && x.EventId == eventId);
                    _ws.LoadEventSize(tenant, eventId, size);
                    bound = size + (c.Total ?? 0) % 2;
                }

                return new CreateCapacity(tenant, id, eventId, null, $"Section {_nextId}", null, c.Total, [.. parents], c.Active, mode, sale, bound);
            }

            case SaleOp so:
            {
                var id = PickCapacity(so.Capacity);
                var known = _model.Caps.GetValueOrDefault(id);
                Change<DateTimeOffset?> Edit(Edge edge, int minutes) => edge switch
                {
                    Edge.Clear => Change<DateTimeOffset?>.To(null),
                    Edge.Set => Change<DateTimeOffset?>.To(_now.AddMinutes(minutes)),
                    _ => Change<DateTimeOffset?>.Keep,
                };
                var after = so.Tier switch
                {
                    TierPick.None => Change<Guid?>.Keep,
                    TierPick.Clear => Change<Guid?>.To(null),
                    _ => Change<Guid?>.To(TierTarget(so.Tier, so.TierIndex, id, known?.Tenant ?? Scenario.TenantA, known?.EventId ?? "evt-a")),
                };
                var patch = new SalePatch(
                    Edit(so.Start, so.StartMinutes),
                    Edit(so.End, so.EndMinutes),
                    after,
                    so.Close is { } close ? Change<bool>.To(close) : Change<bool>.Keep,
                    so.Overbook is { } overbook ? Change<int>.To(overbook) : Change<int>.Keep);
                var total = so.Committed is not { } more ? Change<int?>.Keep
                    : Change<int?>.To(known is null ? more : (int)Math.Max(0, _model.Used(id).Reserved + _model.Used(id).Sold + more));
                var active = so.Active is { } a ? Change<bool>.To(a) : Change<bool>.Keep;
                return new UpdateCapacity(OwnerOfCapacity(id, so.WrongTenant), id, Change<string>.Keep, Change<string?>.Keep, total, active, null, patch);
            }

            case HoldOp h:
            {
                var items = new HoldItem[h.Items.Length];
                for (var i = 0; i < items.Length; i++)
                {
                    var pick = h.Items[i];
                    var capacity = PickCapacity(pick.Capacity);
                    var live = _model.LimitOrder.Where(l => !_model.Limits[l].Deleted).ToList();
                    if (pick.Limit >= 0 && live.Count > 0)
                    {
                        capacity = Choose(_model.Limits[Choose(live, pick.Limit, NewId)].Capacities, pick.Capacity, NewId);
                    }

                    Guid? allocation = null;
                    if (pick.Allocation >= 0)
                    {
                        // The allocation is picked first and the item goes to its capacity, unless the twist says otherwise.
                        List<Guid> pool = pick.Draw == DrawTwist.Closed
                            ? [.. _model.AllocOrder.Where(a => _model.Allocations[a].Status == AllocationStatus.Closed)]
                            : _model.AllocOrder;
                        if (pick.Draw == DrawTwist.Unknown)
                        {
                            allocation = NewId();
                        }
                        else if (pool.Count > 0)
                        {
                            allocation = Choose(pool, pick.Allocation, NewId);
                            if (pick.Draw != DrawTwist.OtherCapacity)
                            {
                                capacity = _model.Allocations[allocation.Value].Capacity;
                            }
                        }
                    }

                    Guid? pricing = null;
                    if (pick.Price == Scripts.Unknown)
                    {
                        pricing = NewId();
                    }
                    else if (pick.Price >= 0)
                    {
                        // Mostly a price of this capacity (none if it has none), sometimes any price at all.
                        var pool = pick.Price % 4 == 3 ? _model.PriceOrder : [.. _model.PriceOrder.Where(p => _model.Prices[p].Capacity == capacity)];
                        pricing = pool.Count > 0 ? Choose(pool, pick.Price, NewId) : null;
                    }

                    items[i] = new HoldItem(capacity, pick.Quantity, pricing, allocation);
                }

                var tenant = items.Length > 0 ? OwnerOfCapacity(items[0].CapacityId, h.WrongTenant) : Scenario.TenantA;
                return new PlaceHold(tenant, NewId(), items, h.Minutes, h.BuyerKey);
            }

            case TransitionOp t:
            {
                var id = PickReservation(t.Reservation);
                return new TransitionReservation(OwnerOfReservation(id, t.WrongTenant), id, t.Transition);
            }

            case ExtendOp e:
            {
                var id = PickReservation(e.Reservation);
                return new ExtendReservation(OwnerOfReservation(id, e.WrongTenant), id, e.Minutes);
            }

            case ExpireOp x:
                return new ExpireDue(x.All ? [.. _model.ResOrder] : [.. x.Reservations.Select(PickReservation)]);
            case ResizeOp r:
            {
                var id = PickCapacity(r.Capacity);
                int? total = r.Kind switch
                {
                    ResizeKind.Unlimited => null,
                    ResizeKind.Absolute => r.Value,
                    _ => _model.Caps.ContainsKey(id) ? (int)Math.Max(0, _model.Used(id).Reserved + _model.Used(id).Sold + r.Value) : r.Value,
                };
                return new UpdateCapacity(OwnerOfCapacity(id, r.WrongTenant), id, Change<string>.Keep, Change<string?>.Keep, Change<int?>.To(total), Change<bool>.Keep);
            }

            case ActivateOp a:
            {
                var id = PickCapacity(a.Capacity);
                return new UpdateCapacity(OwnerOfCapacity(id, a.WrongTenant), id, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.To(a.Active));
            }

            case PriceOp p:
            {
                var capacity = PickCapacity(p.Capacity);
                return new CreatePrice(OwnerOfCapacity(capacity, p.WrongTenant), NewId(), capacity, "Standard", p.Base, p.Current, 0.5m, 0.25m, 0.07m, p.Currency);
            }

            case RepriceOp rp:
            {
                var id = Choose(_model.PriceOrder, rp.Price, NewId);
                var owner = _model.Prices.TryGetValue(id, out var price) ? price.Tenant : Scenario.TenantA;
                return new UpdatePrice(rp.WrongTenant ? OtherTenant(owner) : owner, id, Change<string>.Keep, Change<decimal>.Keep, Change<decimal?>.To(rp.Current),
                    Change<decimal>.Keep, Change<decimal>.Keep, Change<decimal>.Keep, Change<string>.Keep);
            }

            case AllocateOp a:
            {
                var capacity = PickCapacity(a.Capacity);
                var id = a.Twist == AllocationTwist.ReuseId && _model.AllocOrder.Count > 0 ? PickAllocation(a.Capacity) : NewId();
                var name = a.Twist == AllocationTwist.BlankName ? "  " : $"Block {_nextId}";
                DateTimeOffset? expiresAt = a.ExpiryMinutes is not { } minutes ? null
                    : a.Twist == AllocationTwist.PastExpiry ? _now.AddMinutes(-minutes)
                    : _now.AddMinutes(minutes);
                return new CreateAllocation(OwnerOfCapacity(capacity, a.Twist == AllocationTwist.OtherTenant), id, capacity, name, a.Size, expiresAt);
            }

            case ResizeAllocationOp ra:
            {
                var id = PickAllocation(ra.Allocation);
                var (held, sold) = _model.Allocations.ContainsKey(id) ? _model.HeldSold(id) : (0, 0);
                var size = ra.Relative ? (int)Math.Max(0, held + sold + ra.Value) : ra.Value;
                return new UpdateAllocation(OwnerOfAllocation(id, ra.WrongTenant), id, Change<string>.Keep, Change<int>.To(size), Change<DateTimeOffset?>.Keep);
            }

            case ReleaseAllocationOp rl:
            {
                var id = PickAllocation(rl.Allocation);
                var idle = _model.Allocations.TryGetValue(id, out var known) ? known.Idle : 0;
                var quantity = rl.Relative ? (int)(idle + rl.Value) : rl.Value;
                return new ReleaseAllocation(OwnerOfAllocation(id, rl.WrongTenant), id, quantity);
            }

            case CloseAllocationOp ca:
            {
                var id = PickAllocation(ca.Allocation);
                return new CloseAllocation(OwnerOfAllocation(id, ca.WrongTenant), id);
            }

            case CloseDueOp cd:
                return new CloseDueAllocations(cd.All ? [.. _model.AllocOrder] : [.. cd.Allocations.Select(PickAllocation)]);
            case WaitlistOp w:
            {
                var id = PickCapacity(w.Capacity);
                return new UpdateCapacity(OwnerOfCapacity(id, w.WrongTenant), id, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep,
                    new WaitlistPatch(w.Enabled, w.OfferMinutes, w.Policy));
            }

            case JoinOp j:
                return BuildJoin(j);
            case AnswerOp a:
            {
                var offers = _model.ResOrder.Where(id => _model.Reservations[id] is { WaitlistId: not null, Status: ReservationStatus.Active }).ToList();
                var id = Choose(offers, a.Offer, NewId);
                return new TransitionReservation(OwnerOfReservation(id, false), id, a.Accept ? Transition.Confirm : Transition.Release);
            }

            case LeaveOp l:
            {
                var id = PickEntry(l.Entry);
                var owner = _model.Entries.TryGetValue(id, out var entry) ? entry.Tenant : Scenario.TenantA;
                return new LeaveWaitlist(l.WrongTenant ? OtherTenant(owner) : owner, id);
            }

            case ChangeOp ch:
            {
                var id = PickWhere(ch.Reservation, r => r.Status == ReservationStatus.Active && r.ExpiresAt > _now);
                var targets = ch.Targets.Select((t, i) => Target(id, t, i)).Select(t => new HoldItem(t.Capacity, t.Quantity, t.Pricing)).ToArray();
                return new ChangeHold(OwnerOfReservation(id, ch.WrongTenant), id, targets, ch.Minutes);
            }

            case ConfirmPartOp cp:
            {
                var id = cp.Reclaim
                    ? PickWhere(cp.Reservation, r => r.Status == ReservationStatus.Expired || (r.Status == ReservationStatus.Active && r.ExpiresAt <= _now))
                    : PickWhere(cp.Reservation, r => r.Status == ReservationStatus.Active && r.ExpiresAt > _now);
                ItemQuantity[]? parts = cp.Parts?.Select((t, i) => Target(id, t, i)).Select(t => new ItemQuantity(t.Capacity, t.Quantity)).ToArray();
                return new ConfirmHold(OwnerOfReservation(id, cp.WrongTenant), id, parts, cp.Reclaim);
            }

            case CancelPartOp cs:
            {
                var id = PickWhere(cs.Reservation, r => r.Status == ReservationStatus.Confirmed);
                var parts = cs.Parts.Select((t, i) => Target(id, t, i)).Select(t => new ItemQuantity(t.Capacity, t.Quantity)).ToArray();
                return new CancelSale(OwnerOfReservation(id, cs.WrongTenant), id, parts);
            }

            case CreateLimitOp cl:
                return BuildLimit(cl);
            case UpdateLimitOp ul:
            {
                var id = PickLimit(ul.Limit);
                var known = _model.Limits.GetValueOrDefault(id);
                var max = ul.Max is not { } m ? Change<int>.Keep
                    : ul.Relative ? Change<int>.To((known?.Max ?? 1) + m)
                    : Change<int>.To(m);
                var require = ul.ToggleRequire ? Change<bool>.To(!(known?.RequireKey ?? false)) : Change<bool>.Keep;
                var name = ul.BlankName ? Change<string>.To(" ") : Change<string>.Keep;
                return new UpdateBuyerLimit(OwnerOfLimit(id, ul.WrongTenant), id, name, max, require);
            }

            case DeleteLimitOp dl:
            {
                var id = PickLimit(dl.Limit);
                return new DeleteBuyerLimit(OwnerOfLimit(id, dl.WrongTenant), id);
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    /// <summary>The capacity a tier names; see <see cref="TierPick"/>. Null for none (and for <see cref="TierPick.Clear"/>).</summary>
    private Guid? TierTarget(TierPick pick, int index, Guid self, Guid tenant, string eventId)
    {
        List<Guid> Others(Func<ReferenceModel.Cap, bool> fits) => [.. _model.CapOrder.Where(id => id != self && fits(_model.Caps[id]))];
        var same = Others(c => c.Tenant == tenant && c.EventId == eventId);
        switch (pick)
        {
            case TierPick.Earlier:
                return Choose(same, index, NewId);
            case TierPick.Followed:
                var followed = same.Where(id => _model.Caps[id].Followers.Count > 0).ToList();
                return Choose(followed.Count > 0 ? followed : same, index, NewId);
            case TierPick.Unknown:
                return NewId();
            case TierPick.OtherEvent:
                var elsewhere = Others(c => c.Tenant == tenant && c.EventId != eventId);
                return Choose(elsewhere.Count > 0 ? elsewhere : Others(c => c.Tenant != tenant), index, NewId);
            case TierPick.Itself:
                return self;
            default:
                return null;
        }
    }

    /// <summary>Mostly a reservation that fits the step (the pick among those), else any; an unknown id for <see cref="Scripts.Unknown"/>.</summary>
    private Guid PickWhere(int pick, Func<ReferenceModel.Res, bool> fits)
    {
        if (pick == Scripts.Unknown)
        {
            return NewId();
        }

        var pool = _model.ResOrder.Where(id => fits(_model.Reservations[id])).ToList();
        return pool.Count > 0 && pick % 5 != 4 ? Choose(pool, pick, NewId) : PickReservation(pick);
    }

    /// <summary>A line of a change, partial confirm or refund against the reservation as the model has it; see <see cref="TargetPick"/>.</summary>
    private (Guid Capacity, int Quantity, Guid? Pricing) Target(Guid reservation, TargetPick t, int line)
    {
        var own = _model.Reservations.TryGetValue(reservation, out var r) ? r.Items.Select(i => i.Capacity).Distinct().ToList() : [];
        var capacity = t.Other || line >= own.Count ? PickCapacity(t.Capacity) : own[(t.Capacity + line) % own.Count];
        var held = r?.Items.Where(i => i.Capacity == capacity).Sum(i => i.Quantity) ?? 0;
        Guid? pricing = t.Price == Scripts.Unknown ? NewId()
            : t.Price < 0 ? null
            : _model.PriceOrder.Where(p => _model.Prices[p].Capacity == capacity).ToList() is { Count: > 0 } prices ? Choose(prices, t.Price, NewId)
            : null;
        return (capacity, t.Relative ? held + t.Quantity : t.Quantity, pricing);
    }

    /// <summary>
    /// A join: the first line on a picked capacity with an open list, each further line on another of
    /// the same tenant and event (dropped when there is none), then the twist. Without any open list,
    /// or with <see cref="JoinTwist.AnyCapacity"/>, the lines pick among all capacities.
    /// </summary>
    private JoinWaitlist BuildJoin(JoinOp j)
    {
        var open = _model.CapOrder.Where(id => _model.Caps[id].Waitlist is { Enabled: true }).ToList();
        var anywhere = j.Twist == JoinTwist.AnyCapacity || open.Count == 0;
        var items = new List<WaitlistItem>();
        foreach (var pick in j.Items)
        {
            if (anywhere)
            {
                items.Add(new WaitlistItem(PickCapacity(pick.Capacity), pick.Quantity));
                continue;
            }

            // After an unknown first capacity, any open list that is not named yet.
            var first = items.Count == 0 ? null : _model.Caps.GetValueOrDefault(items[0].CapacityId);
            var pool = items.Count == 0 ? open
                : [.. open.Where(id => (first is null || (_model.Caps[id].Tenant == first.Tenant && _model.Caps[id].EventId == first.EventId)) && items.All(i => i.CapacityId != id))];
            if (pool.Count > 0)
            {
                items.Add(new WaitlistItem(Choose(pool, pick.Capacity, NewId), pick.Quantity));
            }
        }

        switch (j.Twist)
        {
            case JoinTwist.DuplicateCapacity when items.Count > 0:
                items.Add(items[0] with { Quantity = 1 });
                break;
            case JoinTwist.NoItems:
                items.Clear();
                break;
        }

        var tenant = items.Count > 0 ? OwnerOfCapacity(items[0].CapacityId, j.Twist == JoinTwist.WrongTenant) : Scenario.TenantA;
        var id = j.Twist == JoinTwist.ReuseId && _model.EntryOrder.Count > 0 ? PickEntry(j.Items[0].Capacity) : NewId();
        var reference = j.Twist == JoinTwist.BadExternalRef ? " " : j.WithRef ? $"order-{_nextId}" : null;
        return new JoinWaitlist(tenant, id, [.. items], j.BuyerKey, reference);
    }

    /// <summary>
    /// A limit over the picked capacity's tenant and event: that capacity, then the other picks among
    /// the capacities of the same tenant and event (each once), then the twist.
    /// </summary>
    private CreateBuyerLimit BuildLimit(CreateLimitOp cl)
    {
        var first = PickCapacity(cl.Capacity);
        var (tenant, eventId) = _model.Caps.TryGetValue(first, out var cap) ? (cap.Tenant, cap.EventId) : (Scenario.TenantA, "evt-a");
        var same = _model.CapOrder.Where(id => _model.Caps[id].Tenant == tenant && _model.Caps[id].EventId == eventId).ToList();
        var capacities = new List<Guid> { first };
        capacities.AddRange(cl.MorePicks.Select(p => Choose(same, p, NewId)));
        capacities = [.. capacities.Distinct()];
        var name = $"Per buyer {_nextId}";
        var id = NewId();
        switch (cl.Twist)
        {
            case LimitTwist.ForeignCapacity:
                capacities.Insert(capacities.Count / 2, Choose([.. _model.CapOrder.Where(c => _model.Caps[c].Tenant != tenant)], cl.Capacity, NewId));
                break;
            case LimitTwist.OtherEvent:
                var elsewhere = _model.CapOrder.Where(c => _model.Caps[c].Tenant == tenant && _model.Caps[c].EventId != eventId).ToList();
                if (elsewhere.Count > 0)
                {
                    capacities.Add(Choose(elsewhere, cl.Capacity, NewId));
                }
                else
                {
                    eventId += "-other";
                }

                break;
            case LimitTwist.DuplicateCapacity:
                capacities.Add(capacities[0]);
                break;
            case LimitTwist.UnknownCapacity:
                capacities.Insert(capacities.Count / 2, NewId());
                break;
            case LimitTwist.NoCapacities:
                capacities.Clear();
                break;
            case LimitTwist.TooManyCapacities:
                capacities = [.. Enumerable.Range(0, 101).Select(i => capacities[i % capacities.Count])];
                break;
            case LimitTwist.BlankName:
                name = "   ";
                break;
            case LimitTwist.BadEvent:
                // Sometimes with a blank name too: the event is checked first.
                eventId = cl.Max % 2 == 0 ? "" : "evt a";
                name = cl.MorePicks.Length > 0 ? " " : name;
                break;
            case LimitTwist.ReuseId when _model.LimitOrder.Count > 0:
                // Sometimes with a capacity named twice too: the capacities are checked before the id.
                id = PickLimit(cl.Capacity);
                if (cl.MorePicks.Length > 0)
                {
                    capacities.Add(capacities[^1]);
                }

                break;
        }

        return new CreateBuyerLimit(tenant, id, eventId, name, [.. capacities], cl.Max, cl.RequireKey);
    }

    private void Step(Op op)
    {
        var command = Build(op);
        if (command is null)
        {
            _now = _now.AddSeconds(op switch
            {
                AdvanceOp a => a.Seconds,
                AdvanceToExpiryOp t => SecondsToExpiry(t),
                _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
            });
            _trace.AppendLine(CultureInfo.InvariantCulture, $"  step {_step}: {op} -> now {_now:HH:mm:ss}");
            CheckState();

            // Then the sweep, as the server runs it every second: sale windows whose edge the clock passed
            // open their waiting lists (the model settles every list after every command anyway).
            command = new PassSaleEdges([.. _model.CapOrder]);
        }

        var expectedMoves = new List<ReferenceModel.Move>();
        var usedBefore = _model.UsedAll();
        var ceilingsBefore = _model.Caps.ToDictionary(c => c.Key, c => c.Value.Ceiling);
        var before = _model.EntryOrder.Select(id => _model.Entries[id].Status).ToList();
        var expected = _model.Decide(command, _now, expectedMoves);
        Outcome actual;
        try
        {
            actual = Decider.Decide(_ws, command, _now, CoreLimits.Default);

            // As the engine does: units that came free become offers in the same batch, whatever the command answered.
            Decider.AfterCommand(_ws, _now);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _trace.AppendLine(CultureInfo.InvariantCulture, $"  step {_step}: {op} -> threw");
            throw Failure($"the core threw on {Describe(command)}: {ex.GetType().Name}: {ex.Message}");
        }

        _trace.AppendLine(CultureInfo.InvariantCulture, $"  step {_step}: {op} -> {actual.Code}{(actual.Code == expected ? "" : $" (model: {expected})")}{EntriesChanged(before)}");
        if (actual.Code != expected)
        {
            throw Failure($"{Describe(command)} answered {actual.Code} ({actual.Field}: {actual.Detail}); the model expects {expected}");
        }

        CheckNotices(command, expectedMoves, usedBefore, ceilingsBefore);
        CheckLedger(command, expectedMoves);
        CheckOutcome(command, actual);
        if (_codes is not null)
        {
            _codes[actual.Code] = _codes.GetValueOrDefault(actual.Code) + 1;
        }

        if (command is PlaceHold { } refused && actual.Code != OutcomeCode.Ok)
        {
            _refusedHolds.Add(refused.ReservationId);
        }

        if (command is CreateAllocation { } refusedAllocation && actual.Code != OutcomeCode.Ok)
        {
            _refusedAllocations.Add(refusedAllocation.Id);
        }

        if (command is CreateBuyerLimit { } refusedLimit && actual.Code != OutcomeCode.Ok)
        {
            _refusedLimits.Add(refusedLimit.Id);
        }

        if (command is JoinWaitlist { } refusedJoin && actual.Code != OutcomeCode.Ok)
        {
            _refusedEntries.Add(refusedJoin.Id);
        }

        CheckState();
    }

    /// <summary>For the trace: the entries the model says this step added or moved, with their new status.</summary>
    private string EntriesChanged(List<WaitlistStatus> before)
    {
        var changed = _model.EntryOrder.Select((id, i) => (Id: id, Status: _model.Entries[id].Status, Was: i < before.Count ? before[i] : (WaitlistStatus?)null))
            .Where(e => e.Status != e.Was)
            .Select(e => $"{Name(e.Id)} {e.Status}")
            .ToList();
        return changed.Count == 0 ? "" : $"; model: {string.Join(", ", changed)}";
    }

    /// <summary>Seconds from now to the picked allocation's expiry and the twist, never negative; 0 if it has none.</summary>
    private double SecondsToExpiry(AdvanceToExpiryOp t)
    {
        var id = PickAllocation(t.Allocation);
        return _model.Allocations.TryGetValue(id, out var a) && a.ExpiresAt is { } at
            ? Math.Max(0, (at - _now).TotalSeconds + t.Seconds)
            : 0;
    }

    /// <summary>
    /// The step's webhook notices, all of them tenant A's: one per hold the model ended or refunded (by
    /// what the hold became: released, expired, confirmed, or a refund), and one per limited capacity of
    /// tenant A whose own room (ceiling − reserved − sold) the step took to 0 or brought back from 0.
    /// </summary>
    private void CheckNotices(
        Command command, List<ReferenceModel.Move> expectedMoves, Dictionary<Guid, (long Reserved, long Sold)> usedBefore, Dictionary<Guid, long?> ceilingsBefore)
    {
        if (_ws.Notices.FirstOrDefault(n => n.TenantId != Scenario.TenantA) is { } stray)
        {
            throw Failure($"{Describe(command)} told tenant {stray.TenantId}, which has no endpoint, of {stray.Topic}");
        }

        Topics Ended(LedgerKind kind, ReservationStatus status) => (kind, status) switch
        {
            (LedgerKind.Release, ReservationStatus.Released) => Topics.ReservationReleased,
            (LedgerKind.Expire, ReservationStatus.Expired) => Topics.ReservationExpired,
            (LedgerKind.Cancel, _) => Topics.ReservationCancelled,
            (LedgerKind.Confirm or LedgerKind.Reclaim, ReservationStatus.Confirmed) => Topics.ReservationConfirmed,
            _ => Topics.None,
        };
        const Topics Holds = Topics.ReservationConfirmed | Topics.ReservationReleased | Topics.ReservationExpired | Topics.ReservationCancelled;
        var expectedHolds = expectedMoves
            .Where(m => _model.Reservations.TryGetValue(m.Reservation, out var r) && r.Tenant == Scenario.TenantA)
            .Select(m => (m.Reservation, Topic: Ended(m.Kind, _model.Reservations[m.Reservation].Status)))
            .Where(x => x.Topic != Topics.None)
            .Distinct().Order().ToList();
        var toldHolds = _ws.Notices.Where(n => (n.Topic & Holds) != 0).Select(n => (((Reservation)n.Subject).Id, n.Topic)).Order().ToList();
        if (!toldHolds.SequenceEqual(expectedHolds))
        {
            throw Failure($"{Describe(command)} told of holds [{string.Join(", ", toldHolds)}]; the model expects [{string.Join(", ", expectedHolds)}]");
        }

        var usedAfter = _model.UsedAll();
        var expectedCrossings = new List<(Guid, Topics)>();
        foreach (var (id, cap) in _model.Caps)
        {
            if (cap.Tenant != Scenario.TenantA || cap.Ceiling is not { } after || ceilingsBefore.GetValueOrDefault(id) is not { } beforeCeiling || !usedBefore.ContainsKey(id))
            {
                continue;
            }

            var (r0, s0) = usedBefore[id];
            var (r1, s1) = usedAfter[id];
            var (freeBefore, freeAfter) = (Math.Max(0, beforeCeiling - r0 - s0), Math.Max(0, after - r1 - s1));
            if (freeBefore > 0 && freeAfter == 0)
            {
                expectedCrossings.Add((id, Topics.CapacitySoldOut));
            }
            else if (freeBefore == 0 && freeAfter > 0)
            {
                expectedCrossings.Add((id, Topics.CapacityAvailable));
            }
        }

        var toldCrossings = _ws.Notices.Where(n => n.Topic is Topics.CapacitySoldOut or Topics.CapacityAvailable)
            .Select(n => (((CapacityView)n.Subject).Id, n.Topic)).Order().ToList();
        if (!toldCrossings.SequenceEqual(expectedCrossings.Order()))
        {
            throw Failure($"{Describe(command)} told of capacities [{string.Join(", ", toldCrossings)}]; the model expects [{string.Join(", ", expectedCrossings.Order())}]");
        }
    }

    private void CheckLedger(Command command, List<ReferenceModel.Move> expectedMoves)
    {
        var actual = InOrder(_ws.Ledger.Select(e => new ReferenceModel.Move(e.Kind, e.ReservationId, e.CapacityId, e.ReservedDelta, e.SoldDelta, e.AllocationId)));
        var expected = InOrder(expectedMoves);
        if (!actual.SequenceEqual(expected))
        {
            throw Failure($"{Describe(command)} wrote the ledger{Environment.NewLine}      [{string.Join(", ", actual)}]{Environment.NewLine}    the model expects{Environment.NewLine}      [{string.Join(", ", expected)}]");
        }

        foreach (var e in _ws.Ledger)
        {
            var node = _ws.FindCapacity(e.CapacityId)!;
            if (e.TenantId != node.TenantId || e.EventId != node.EventId || e.At != _now)
            {
                throw Failure($"ledger entry {e} does not match its node (tenant {node.TenantId}, event {node.EventId}) or the time {_now:O}");
            }

            var (r, s) = _ledgerSums.GetValueOrDefault(e.CapacityId);
            _ledgerSums[e.CapacityId] = (r + e.ReservedDelta, s + e.SoldDelta);
        }

        // The sales figures this step added, at its minute: checked against every hold below (CheckSales).
        foreach (var m in _ws.SalesMinutes)
        {
            if (m.Minute != SalesStats.MinuteOf(_now) || _ws.FindCapacity(m.CapacityId) is not { } node || (node.TenantId, node.EventId) != (m.TenantId, m.EventId))
            {
                throw Failure($"{Describe(command)} tallied {m.Flows} on capacity {m.CapacityId} at minute {m.Minute}, not its own tenant, event and minute {SalesStats.MinuteOf(_now)}");
            }

            _sales[m.CapacityId] = _sales.GetValueOrDefault(m.CapacityId) + m.Flows;
        }

        try
        {
            _ws.AssertBatchConsistent();
        }
        catch (InvariantViolationException ex)
        {
            throw Failure($"{Describe(command)} left the batch inconsistent: {ex.Message}");
        }

        // The usage rows the core created, as the store would write them: CheckUsage audits them all.
        _usage.AddRange(_ws.NewUsage);
        _ws.AcceptChanges();
    }

    /// <summary>Entries in a canonical order: the spec says which entries a step appends, not in which order.</summary>
    private static List<ReferenceModel.Move> InOrder(IEnumerable<ReferenceModel.Move> moves) =>
    [
        .. moves.OrderBy(m => m.Reservation).ThenBy(m => m.Capacity).ThenBy(m => m.Kind)
            .ThenBy(m => m.Allocation ?? Guid.Empty).ThenBy(m => m.Reserved).ThenBy(m => m.Sold),
    ];

    private void CheckOutcome(Command command, Outcome actual)
    {
        switch (command)
        {
            case ExpireDue when actual.Count != _model.LastExpiredCount:
                throw Failure($"{Describe(command)} counted {actual.Count} expired holds; the model expired {_model.LastExpiredCount}");
            case PlaceHold h when actual.Code == OutcomeCode.Ok:
            {
                var available = _model.HeldAvailable;
                if (actual.Capacity?.Available != available || actual.Reservation?.Id != h.ReservationId)
                {
                    throw Failure($"{Describe(command)} reported availability {actual.Capacity?.Available}; the model has {available}");
                }

                break;
            }

            case PlaceHold or CreateAllocation or UpdateAllocation when actual.Code == OutcomeCode.InsufficientCapacity && actual.Available is null:
                throw Failure($"{Describe(command)} was refused for capacity without saying what is available");
            case CloseDueAllocations when actual.Count != _model.LastClosedCount:
                throw Failure($"{Describe(command)} counted {actual.Count} closed allocations; the model closed {_model.LastClosedCount}");
            case CreateAllocation c when actual.Code == OutcomeCode.Ok && actual.Allocation?.Id != c.Id:
                throw Failure($"{Describe(command)} answered allocation {actual.Allocation?.Id}, not {c.Id}");
            case CreateAllocation or UpdateAllocation or ReleaseAllocation or CloseAllocation when actual.Succeeded && actual.Allocation is null:
                throw Failure($"{Describe(command)} answered {actual.Code} without the allocation");
            case TransitionReservation or ExtendReservation when actual.Code is not (OutcomeCode.NotFound or OutcomeCode.Invalid) && actual.Reservation is null:
                throw Failure($"{Describe(command)} answered {actual.Code} without the reservation");

            // A change in part answers with the reservation as it now stands.
            case ChangeHold or ConfirmHold or CancelSale when actual.Succeeded:
            {
                var id = command switch { ChangeHold ch => ch.ReservationId, ConfirmHold cp => cp.ReservationId, _ => ((CancelSale)command).ReservationId };
                var m = _model.Reservations[id];
                if (actual.Reservation is not { } r || r.Id != id || r.Status != m.Status || r.Items.Length != m.Items.Length)
                {
                    throw Failure($"{Describe(command)} answered {actual.Code} with {(actual.Reservation is { } a ? $"{Name(a.Id)} {a.Status}" : "no reservation")}; the model has {Name(id)} {m.Status}");
                }

                break;
            }

            // A join answers with its entry as settled (offered at once, or waiting), a leave with the entry as it now stands.
            case JoinWaitlist or LeaveWaitlist when actual.Succeeded:
            {
                var id = command is JoinWaitlist j ? j.Id : ((LeaveWaitlist)command).Id;
                if (actual.Entry?.Id != id || actual.Entry.Status != _model.Entries[id].Status)
                {
                    throw Failure($"{Describe(command)} answered {actual.Code} with entry {(actual.Entry is { } e ? $"{Name(e.Id)} {e.Status}" : "none")}; the model has {Name(id)} {_model.Entries[id].Status}");
                }

                break;
            }
        }

        // A refusal by a sale rule names the first capacity met that is not on sale.
        if (actual.Code is OutcomeCode.SaleNotOpen or OutcomeCode.SaleClosed && actual.Capacity?.Id != _model.LastNotOnSale)
        {
            throw Failure($"{Describe(command)} answered {actual.Code} naming {(actual.Capacity is { } refusing ? Name(refusing.Id) : "no capacity")}; the model expects {Name(_model.LastNotOnSale ?? Guid.Empty)}");
        }

        if (_model.LastField is { } field && actual.Field != field)
        {
            throw Failure($"{Describe(command)} answered {actual.Code} on field {actual.Field ?? "null"} ({actual.Detail}); the model expects {field}");
        }

        if (actual.LimitExcess != _model.LastExcess)
        {
            throw Failure($"{Describe(command)} answered {actual.Code} with {Show(actual.LimitExcess)}; the model expects {Show(_model.LastExcess)}");
        }

        if (actual.Code is OutcomeCode.BuyerKeyRequired or OutcomeCode.BuyerLimitExceeded && actual.Limit?.Id != _model.LastLimit)
        {
            throw Failure($"{Describe(command)} answered {actual.Code} naming limit {(actual.Limit is { } l ? Name(l.Id) : "none")}; the model expects {Name(_model.LastLimit ?? Guid.Empty)}");
        }

        // A limit command that succeeded answers with the limit as it now stands.
        if (command is CreateBuyerLimit or UpdateBuyerLimit or DeleteBuyerLimit && actual.Succeeded)
        {
            var m = _model.Limits[_model.LastLimit!.Value];
            if (actual.Limit is not { } limitView || limitView.Id != m.Id || limitView.PerBuyerMax != m.Max || limitView.RequireBuyerKey != m.RequireKey
                || limitView.Name != m.Name || limitView.EventId != m.EventId || !limitView.CapacityIds.SequenceEqual(m.Capacities))
            {
                throw Failure($"{Describe(command)} answered {actual.Code} with limit {actual.Limit}; the model has {Name(m.Id)} max {m.Max} key required {m.RequireKey}");
            }
        }

        if (!(actual.Shortfall ?? []).SequenceEqual(_model.LastShortfall ?? []))
        {
            throw Failure($"{Describe(command)} answered {actual.Code} with shortfall [{string.Join(", ", (actual.Shortfall ?? []).Select(Show))}]; "
                + $"the model expects [{string.Join(", ", (_model.LastShortfall ?? []).Select(Show))}]");
        }

        if (actual.Reclaimed != _model.LastReclaimed)
        {
            throw Failure($"{Describe(command)} answered {actual.Code}, reclaimed {actual.Reclaimed}; the model expects reclaimed {_model.LastReclaimed}");
        }

        if (_model.LastAvailable is { } expectedAvailable && actual.Available != expectedAvailable)
        {
            throw Failure($"{Describe(command)} answered {actual.Code} with available {actual.Available?.ToString(CultureInfo.InvariantCulture) ?? "null"}; the model expects {expectedAvailable}");
        }

        // An answer that carries an allocation carries it as it now stands.
        if (actual.Allocation is { } view)
        {
            var (size, held, sold, status) = _model.Allocations.TryGetValue(view.Id, out var m)
                ? (_model.SizeOf(view.Id), _model.HeldSold(view.Id).Held, _model.HeldSold(view.Id).Sold, m.Status)
                : throw Failure($"{Describe(command)} answered with allocation {view.Id}, which the model does not have");
            if ((view.Size, view.Held, view.Sold, view.Idle, view.Status, view.CapacityId) != (size, held, sold, m.Idle, status, m.Capacity))
            {
                throw Failure($"{Describe(command)} answered allocation {Name(view.Id)} as size {view.Size} held {view.Held} sold {view.Sold} idle {view.Idle} {view.Status}; "
                    + $"the model has size {size} held {held} sold {sold} idle {m.Idle} {status}");
            }
        }
    }

    private void CheckState()
    {
        if (_ws.CapacityCount != _model.Caps.Count)
        {
            throw Failure($"the core holds {_ws.CapacityCount} capacities; the model {_model.Caps.Count}");
        }

        var used = _model.UsedAll();
        var owed = _model.Owed();
        var nodes = new List<CapacityNode>();
        foreach (var id in _model.CapOrder)
        {
            var cap = _model.Caps[id];
            var node = _ws.FindCapacity(id) ?? throw Failure($"capacity {id} is missing from the core");
            nodes.Add(node);
            var (reserved, sold) = used[id];
            if (node.Reserved != reserved || node.Sold != sold || node.Total != cap.Total || node.IsActive != cap.Active || node.TenantId != cap.Tenant)
            {
                throw Failure($"capacity {Name(id)}: core total {node.Total} reserved {node.Reserved} sold {node.Sold} active {node.IsActive}; "
                    + $"model total {cap.Total} reserved {reserved} sold {sold} active {cap.Active}");
            }

            // Past its total only by its allowance.
            if (cap.Ceiling is { } ceiling && node.Reserved + node.Sold > ceiling)
            {
                throw Failure($"capacity {Name(id)} is oversold: {node.Reserved} + {node.Sold} > {node.Total} + overbook {cap.Overbook}");
            }

            CheckSale(node, cap, used);

            var offered = _model.Offered(id);
            if (node.Waitlist != cap.Waitlist || node.WaitingUnits != owed[id].Own || node.QueueDemand != owed[id].Below || node.OfferedUnits != offered)
            {
                throw Failure($"capacity {Name(id)}: core waiting list {Show(node.Waitlist)}, waiting {node.WaitingUnits}, owed {node.QueueDemand}, offered {node.OfferedUnits}; "
                    + $"model {Show(cap.Waitlist)}, waiting {owed[id].Own}, owed {owed[id].Below}, offered {offered}");
            }

            var limitsOn = _model.LimitsOn(id).Select(l => l.Id).ToList();
            if (!node.LimitIds.SequenceEqual(limitsOn))
            {
                throw Failure($"capacity {Name(id)} names limits [{string.Join(", ", node.LimitIds.Select(Name))}]; the model has [{string.Join(", ", limitsOn.Select(Name))}]");
            }

            var available = Graph.Available(node, _ws);
            var expected = _model.Available(id, used);
            if (available != expected)
            {
                throw Failure($"capacity {Name(id)}: core available {available?.ToString(CultureInfo.InvariantCulture) ?? "null"}; model {expected?.ToString(CultureInfo.InvariantCulture) ?? "null"}");
            }
        }

        var reservations = new List<Reservation>();
        foreach (var id in _model.ResOrder)
        {
            var m = _model.Reservations[id];
            var r = _ws.FindReservation(id) ?? throw Failure($"reservation {id} is missing from the core");
            reservations.Add(r);
            if (r.Status != m.Status || r.ExpiresAt != m.ExpiresAt || r.TenantId != m.Tenant || r.Items.Length != m.Items.Length || r.BuyerKey != m.BuyerKey || r.WaitlistId != m.WaitlistId)
            {
                throw Failure($"reservation {Name(id)}: core {r.Status} until {r.ExpiresAt:HH:mm:ss}{(r.WaitlistId is null ? "" : " (an offer)")} with {r.Items.Length} items; "
                    + $"model {m.Status} until {m.ExpiresAt:HH:mm:ss}{(m.WaitlistId is null ? "" : " (an offer)")} with {m.Items.Length} items");
            }

            for (var i = 0; i < r.Items.Length; i++)
            {
                var lockNow = r.Items[i].LockedPrice is { } p ? new ReferenceModel.Lock(p.PricingId, p.UnitPrice, p.Currency) : null;
                if (r.Items[i].CapacityId != m.Items[i].Capacity || r.Items[i].Quantity != m.Items[i].Quantity || lockNow != m.Items[i].Lock
                    || r.Items[i].AllocationId != m.Items[i].Allocation || r.Items[i].CancelledQuantity != m.Items[i].Cancelled)
                {
                    throw Failure($"reservation {Name(id)} item {i}: core {r.Items[i]}; model {m.Items[i]}");
                }
            }
        }

        foreach (var id in _refusedHolds)
        {
            if (_ws.FindReservation(id) is not null && !_model.Reservations.ContainsKey(id))
            {
                throw Failure($"refused hold {id} exists in the core");
            }
        }

        foreach (var id in _model.PriceOrder)
        {
            var m = _model.Prices[id];
            var p = _ws.FindPrice(id) ?? throw Failure($"price {id} is missing from the core");
            if (p.UnitPrice != (m.Current ?? m.Base) || p.Currency != m.Currency)
            {
                throw Failure($"price {id}: core {p.UnitPrice} {p.Currency}; model {m.Current ?? m.Base} {m.Currency}");
            }
        }

        var allocations = new List<Allocation>();
        foreach (var id in _model.AllocOrder)
        {
            var m = _model.Allocations[id];
            var a = _ws.FindAllocation(id) ?? throw Failure($"allocation {Name(id)} is missing from the core");
            allocations.Add(a);
            var (held, sold) = _model.HeldSold(id);
            var size = m.Idle + held + sold;
            if (a.Size != size || a.Held != held || a.Sold != sold || a.Status != m.Status || a.TenantId != m.Tenant || a.CapacityId != m.Capacity || a.ExpiresAt != m.ExpiresAt)
            {
                throw Failure($"allocation {Name(id)}: core size {a.Size} held {a.Held} sold {a.Sold} {a.Status}; "
                    + $"model size {size} held {held} sold {sold} (idle {m.Idle}) {m.Status}");
            }
        }

        foreach (var id in _refusedAllocations)
        {
            if (_ws.FindAllocation(id) is not null && !_model.Allocations.ContainsKey(id))
            {
                throw Failure($"refused allocation {id} exists in the core");
            }
        }

        CheckLimits();
        var live = CheckEntries();
        var sums = new HoldSums();
        foreach (var r in reservations)
        {
            sums.Add(r);
        }

        var violations = Invariants.Check(nodes, reservations, allocations);
        violations.AddRange(Invariants.CheckLedger(nodes, _ledgerSums));
        violations.AddRange(Invariants.CheckSales(sums, _sales));
        violations.AddRange(Invariants.CheckUsage(_usage.Tally(), sums, live));
        if (_model.EntryOrder.Count > 0)
        {
            // The waiting lists' invariants too, among them that no entry waits while it fits, which the
            // core checks by settling copies of the rows: a second opinion beside the model's own settling.
            var offers = reservations.Where(r => r.WaitlistId is not null).ToDictionary(r => r.Id, r => r.Status);
            var limits = _model.LimitOrder.Select(id => _ws.FindLimit(id)!).Where(l => !l.Deleted).ToList();
            violations.AddRange(Invariants.CheckWaitlists(nodes, live, offers, sums, limits, _usage.Tally(), _now));
        }
        if (violations.Count > 0)
        {
            throw Failure("invariants: " + string.Join("; ", violations));
        }
    }

    /// <summary>
    /// A capacity's sale rules and what became of them (tier open, first sold out, closed by its rule,
    /// the tiers that follow it, in order) as the model has them, and its state and next change now.
    /// </summary>
    private void CheckSale(CapacityNode node, ReferenceModel.Cap cap, Dictionary<Guid, (long Reserved, long Sold)> used)
    {
        var rules = node.Sale ?? new SaleRules();
        if (rules.StartsAt != cap.SaleStarts || rules.EndsAt != cap.SaleEnds || rules.OpensAfter != cap.OpensAfter || rules.CloseWhenSoldOut != cap.CloseWhenSoldOut
            || rules.OverbookLimit != cap.Overbook || rules.TierOpen != cap.TierOpen || rules.SoldOutAt != cap.SoldOutAt
            || rules.ClosedReason != (cap.ClosedBySellOut ? SaleRules.SoldOutReason : null) || !(rules.Successors ?? []).SequenceEqual(cap.Followers))
        {
            throw Failure($"capacity {Name(node.Id)}: core {Show(rules)}; model {Show(cap)}");
        }

        var (state, next) = SaleRulesOf.State(node.Sale, node.IsActive, Graph.Available(node, _ws), _now);
        var expected = _model.State(node.Id, _now, used);
        if ((state, next) != expected)
        {
            throw Failure($"capacity {Name(node.Id)} is {state} (next change {At(next)}) in the core; the model has {expected.State} (next change {At(expected.Next)})");
        }
    }

    private static string At(DateTimeOffset? at) => at is { } t ? t.ToString("HH:mm:ss", CultureInfo.InvariantCulture) : "none";

    private string Show(SaleRules r) =>
        $"window {At(r.StartsAt)}..{At(r.EndsAt)}, after {(r.OpensAfter is { } a ? Name(a) : "none")}{(r.TierOpen ? " (open)" : "")}, close-when-sold-out {r.CloseWhenSoldOut}, "
        + $"overbook {r.OverbookLimit}, sold out {At(r.SoldOutAt)}, closed reason {r.ClosedReason ?? "none"}, followers [{string.Join(", ", (r.Successors ?? []).Select(Name))}]";

    private string Show(ReferenceModel.Cap c) =>
        $"window {At(c.SaleStarts)}..{At(c.SaleEnds)}, after {(c.OpensAfter is { } a ? Name(a) : "none")}{(c.TierOpen ? " (open)" : "")}, close-when-sold-out {c.CloseWhenSoldOut}, "
        + $"overbook {c.Overbook}, sold out {At(c.SoldOutAt)}, closed reason {(c.ClosedBySellOut ? SaleRules.SoldOutReason : "none")}, followers [{string.Join(", ", c.Followers.Select(Name))}]";

    private string Show(SalePatch p) =>
        string.Join(", ", new[]
        {
            p.StartsAt.IsSet ? $"starts {At(p.StartsAt.Value)}" : null,
            p.EndsAt.IsSet ? $"ends {At(p.EndsAt.Value)}" : null,
            p.OpensAfter.IsSet ? $"after {(p.OpensAfter.Value is { } a ? Name(a) : "none")}" : null,
            p.CloseWhenSoldOut.IsSet ? $"close-when-sold-out {p.CloseWhenSoldOut.Value}" : null,
            p.OverbookLimit.IsSet ? $"overbook {p.OverbookLimit.Value}" : null,
        }.OfType<string>());

    /// <summary>
    /// Every entry as the model has it: status, offer, tenant, event, buyer and lines; an event's
    /// entries in the order they joined; no refused join left an entry. Returns the core's waiting and
    /// offered entries, for the invariants.
    /// </summary>
    private List<WaitlistEntry> CheckEntries()
    {
        var live = new List<WaitlistEntry>();
        var last = new Dictionary<(Guid, string), long>();
        foreach (var id in _model.EntryOrder)
        {
            var m = _model.Entries[id];
            var e = _ws.FindEntry(id) ?? throw Failure($"entry {Name(id)} is missing from the core");
            if (e.Status != m.Status || e.OfferReservationId != m.Offer || e.TenantId != m.Tenant || e.EventId != m.EventId || e.BuyerKey != m.BuyerKey
                || !e.Items.SequenceEqual(m.Items.Select(i => new WaitlistItem(i.Capacity, i.Quantity))) || e.LapsedReason != m.Lapse)
            {
                throw Failure($"entry {Name(id)}: core {e.Status}{(e.OfferReservationId is { } o ? $" offer {Name(o)}" : "")}{(e.LapsedReason is { } lr ? $" ({lr})" : "")}; "
                    + $"model {m.Status}{(m.Offer is { } mo ? $" offer {Name(mo)}" : "")}{(m.Lapse is { } ml ? $" ({ml})" : "")}");
            }

            if (last.TryGetValue((e.TenantId, e.EventId), out var before) && e.Sequence <= before)
            {
                throw Failure($"entry {Name(id)} joined after an entry of its event, yet its sequence {e.Sequence} is not after {before}");
            }

            last[(e.TenantId, e.EventId)] = e.Sequence;
            if (e.Status is WaitlistStatus.Waiting or WaitlistStatus.Offered)
            {
                live.Add(e);
            }
        }

        foreach (var id in _refusedEntries)
        {
            if (_ws.FindEntry(id) is not null && !_model.Entries.ContainsKey(id))
            {
                throw Failure($"refused entry {id} exists in the core");
            }
        }

        return live;
    }

    private static string Show(WaitlistSettings? settings) =>
        settings is { } w ? $"{(w.Enabled ? "on" : "off")}/{w.OfferMinutes} min/{w.Policy}" : "none";

    /// <summary>Every limit as the model has it (deleted ones marked), and every buyer's tickets on every capacity, summed from the live holds.</summary>
    private void CheckLimits()
    {
        foreach (var id in _model.LimitOrder)
        {
            var m = _model.Limits[id];
            var l = _ws.FindLimit(id) ?? throw Failure($"limit {Name(id)} is missing from the core");
            if (l.TenantId != m.Tenant || l.EventId != m.EventId || !l.CapacityIds.SequenceEqual(m.Capacities) || l.PerBuyerMax != m.Max
                || l.RequireBuyerKey != m.RequireKey || l.Deleted != m.Deleted || l.Name != m.Name)
            {
                throw Failure($"limit {Name(id)}: core max {l.PerBuyerMax} key required {l.RequireBuyerKey} deleted {l.Deleted} over [{string.Join(", ", l.CapacityIds.Select(Name))}]; "
                    + $"model max {m.Max} key required {m.RequireKey} deleted {m.Deleted} over [{string.Join(", ", m.Capacities.Select(Name))}]");
            }
        }

        foreach (var id in _refusedLimits)
        {
            if (_ws.FindLimit(id) is not null && !_model.Limits.ContainsKey(id))
            {
                throw Failure($"refused limit {id} exists in the core");
            }
        }

        var buyers = _model.Reservations.Values.Select(r => r.BuyerKey).OfType<string>().Concat(["a", "b", "c"]).Distinct().ToList();
        foreach (var capacity in _model.CapOrder)
        {
            var tenant = _model.Caps[capacity].Tenant;
            foreach (var buyer in buyers)
            {
                var expected = _model.BuyerHas(tenant, buyer, [capacity]);
                var actual = _ws.UsageOf(capacity, buyer);
                if (actual != expected)
                {
                    throw Failure($"buyer {HoldOp.Show(buyer)} has {actual} tickets on capacity {Name(capacity)} in the core; the model counts {expected}");
                }
            }
        }
    }

    private string Show(ShortfallItem s) => $"{Name(s.CapacityId)}: {s.Requested} asked, {s.Available} available";

    private string Show(BuyerLimitExcess? excess) =>
        excess is { } e ? $"excess(limit {Name(e.LimitId)}, used {e.Used}, requested {e.Requested}, max {e.PerBuyerMax})" : "no excess";

    private string Name(Guid id) =>
        _model.CapOrder.IndexOf(id) is var c and >= 0 ? $"cap#{c}"
        : _model.ResOrder.IndexOf(id) is var r and >= 0 ? $"res#{r}{(_model.Reservations[id].WaitlistId is null ? "" : $"=offer of entry#{_model.EntryOrder.IndexOf(id)}")}"
        : _model.AllocOrder.IndexOf(id) is var a and >= 0 ? $"alloc#{a}"
        : _model.LimitOrder.IndexOf(id) is var l and >= 0 ? $"limit#{l}"
        : _model.EntryOrder.IndexOf(id) is var w and >= 0 ? $"entry#{w}"
        : id.ToString();

    private string Describe(Command command) => command switch
    {
        PlaceHold h => $"PlaceHold({string.Join(", ", h.Items.Select(i => $"{i.Quantity}×{Name(i.CapacityId)}{(i.AllocationId is { } a ? $" from {Name(a)}" : "")}"))}, {h.Minutes} min{(h.BuyerKey is { } k ? $", buyer {HoldOp.Show(k)}" : "")})",
        CreateBuyerLimit l => $"CreateBuyerLimit({Name(l.Id)}, '{l.EventId}', [{string.Join(", ", l.CapacityIds.Select(Name))}], max {l.PerBuyerMax}{(l.RequireBuyerKey ? ", key required" : "")}, '{l.Name}')",
        UpdateBuyerLimit u => $"UpdateBuyerLimit({Name(u.Id)}{(u.PerBuyerMax.IsSet ? $", max {u.PerBuyerMax.Value}" : "")}{(u.RequireBuyerKey.IsSet ? $", key required {u.RequireBuyerKey.Value}" : "")}{(u.Name.IsSet ? $", name '{u.Name.Value}'" : "")})",
        DeleteBuyerLimit d => $"DeleteBuyerLimit({Name(d.Id)})",
        CreateAllocation a => $"CreateAllocation({Name(a.Id)}, {Name(a.CapacityId)}, size {a.Size}, '{a.Name}'{(a.ExpiresAt is { } at ? $", expires {at:HH:mm:ss}" : "")})",
        UpdateAllocation u => $"ResizeAllocation({Name(u.Id)}, {u.Size.Value})",
        ReleaseAllocation rl => $"ReleaseAllocation({Name(rl.Id)}, {rl.Quantity})",
        CloseAllocation ca => $"CloseAllocation({Name(ca.Id)})",
        CloseDueAllocations cd => $"CloseDueAllocations([{string.Join(", ", cd.AllocationIds.Select(Name))}])",
        TransitionReservation t => $"{t.Transition}({Name(t.ReservationId)})",
        ExtendReservation e => $"Extend({Name(e.ReservationId)}, {e.Minutes} min)",
        CreateCapacity c => $"CreateCapacity({Name(c.Id)}, total {c.Total}, parents [{string.Join(", ", c.ParentIds.Select(Name))}], mode {c.Mode}{(c.Sale is { } r ? $", {Show(r)}" : "")})",
        UpdateCapacity u when u.Waitlist is { } patch => $"UpdateCapacity({Name(u.Id)}, waiting list {patch})",
        UpdateCapacity u => $"UpdateCapacity({Name(u.Id)}{(u.Sale is { } sale ? $", sale [{Show(sale)}]" : "")}{(u.Total.IsSet ? $", total {u.Total.Value?.ToString(CultureInfo.InvariantCulture) ?? "∞"}" : "")}{(u.IsActive.IsSet ? $", active {u.IsActive.Value}" : "")})",
        JoinWaitlist j => $"JoinWaitlist({Name(j.Id)}, [{string.Join(", ", j.Items.Select(i => $"{i.Quantity}×{Name(i.CapacityId)}"))}]{(j.BuyerKey is { } k ? $", buyer {HoldOp.Show(k)}" : "")})",
        LeaveWaitlist l => $"LeaveWaitlist({Name(l.Id)})",
        ChangeHold ch => $"ChangeHold({Name(ch.ReservationId)}, [{string.Join(", ", ch.Items.Select(i => $"{i.Quantity}×{Name(i.CapacityId)}{(i.PricingId is { } p ? $"@{p}" : "")}"))}]{(ch.Minutes is { } m ? $", {m} min" : "")})",
        ConfirmHold cp => $"ConfirmHold({Name(cp.ReservationId)}{(cp.Items is { } parts ? $", [{string.Join(", ", parts.Select(i => $"{i.Quantity}×{Name(i.CapacityId)}"))}]" : "")}{(cp.Reclaim ? ", reclaim" : "")})",
        CancelSale cs => $"CancelSale({Name(cs.ReservationId)}, [{string.Join(", ", cs.Items.Select(i => $"{i.Quantity}×{Name(i.CapacityId)}"))}])",
        _ => command.GetType().Name,
    };

    private InvalidOperationException Failure(string message) =>
        new($"step {_step}: {message}{Environment.NewLine}  at {_now:HH:mm:ss}, after:{Environment.NewLine}{_trace}");
}

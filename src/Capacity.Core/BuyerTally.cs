using System.Runtime.InteropServices;

namespace Capacity.Core;

/// <summary>
/// Tickets per capacity and buyer key, for the audit: the sums of the live holds (<see cref="HoldSums.ByBuyer"/>)
/// and the usage rows the store keeps (<see cref="Invariants.CheckUsage"/>). A large on-sale has hundreds of
/// thousands of buyers, and the audit keeps both sides until it compares them. Kept as a string and an
/// entry per buyer they were what the collector copied and promoted while the audit ran beside the writer
/// (the process stalled for 28–52 ms at 125,000 buyers, docs/performance.md, "An audit's pauses"); here the
/// keys' characters share one array and the entries hold no references, so there is nothing per buyer for
/// the collector to trace. Keys compare exactly, character by character.
/// </summary>
public sealed class BuyerTally
{
    private readonly Dictionary<Slot, long> _tickets;
    private char[] _chars = new char[256];
    private int _used;

    public BuyerTally() => _tickets = new Dictionary<Slot, long>(new SlotComparer(this));

    /// <summary>How many capacity and buyer pairs have a sum (zero sums included).</summary>
    public int Count => _tickets.Count;

    /// <summary>Adds <paramref name="tickets"/> to the buyer's sum on the capacity, starting it at zero when new.</summary>
    public void Add(Guid capacityId, ReadOnlySpan<char> buyerKey, long tickets)
    {
        ref var sum = ref CollectionsMarshal.GetValueRefOrAddDefault(_tickets, Probe(capacityId, buyerKey), out var existed);
        if (!existed)
        {
            // The probe's characters become the key's: keep them.
            _used += buyerKey.Length;
        }

        sum += tickets;
    }

    /// <summary>The buyer's sum on the capacity, or null when nothing was added for it.</summary>
    public long? Find(Guid capacityId, ReadOnlySpan<char> buyerKey) =>
        _tickets.TryGetValue(Probe(capacityId, buyerKey), out var sum) ? sum : null;

    public Enumerator GetEnumerator() => new(this);

    /// <summary>
    /// A slot for the key, its characters written after the ones kept: a lookup compares them in place, and
    /// <see cref="Add"/> keeps them by moving the end past them when the key is new.
    /// </summary>
    private Slot Probe(Guid capacityId, ReadOnlySpan<char> buyerKey)
    {
        if (_chars.Length - _used < buyerKey.Length)
        {
            Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _used + buyerKey.Length));
        }

        buyerKey.CopyTo(_chars.AsSpan(_used));
        return new Slot(capacityId, _used, buyerKey.Length);
    }

    private ReadOnlySpan<char> KeyOf(Slot slot) => _chars.AsSpan(slot.Start, slot.Length);

    private readonly record struct Slot(Guid CapacityId, int Start, int Length);

    private sealed class SlotComparer(BuyerTally owner) : IEqualityComparer<Slot>
    {
        public bool Equals(Slot x, Slot y) =>
            x.CapacityId == y.CapacityId && owner.KeyOf(x).SequenceEqual(owner.KeyOf(y));

        public int GetHashCode(Slot slot) => HashCode.Combine(slot.CapacityId, string.GetHashCode(owner.KeyOf(slot)));
    }

    /// <summary>One capacity and buyer with its sum; the key is read in place and valid until the next <see cref="Add"/>.</summary>
    public readonly ref struct Entry(Guid capacityId, ReadOnlySpan<char> buyerKey, long tickets)
    {
        public Guid CapacityId { get; } = capacityId;
        public ReadOnlySpan<char> BuyerKey { get; } = buyerKey;
        public long Tickets { get; } = tickets;
    }

    public struct Enumerator(BuyerTally owner)
    {
        private Dictionary<Slot, long>.Enumerator _inner = owner._tickets.GetEnumerator();

        public bool MoveNext() => _inner.MoveNext();

        public Entry Current => new(_inner.Current.Key.CapacityId, owner.KeyOf(_inner.Current.Key), _inner.Current.Value);
    }
}

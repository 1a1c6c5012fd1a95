using System.Security.Cryptography;

namespace Capacity.Engine;

/// <summary>
/// UUIDv7 ids that increase strictly in the order this process hands them out, as RFC 9562 §6.2 (method 2)
/// describes. <see cref="Guid.CreateVersion7()"/> fills the 74 bits after the millisecond at random, so two ids
/// made in the same millisecond sort either way; lists ordered by id ("newest first") would then disagree with the
/// order the caller made them in. Here an id in the same millisecond as the last takes the last one's counter
/// plus one, and a new millisecond starts from a random counter with its top bit clear, so it has room to count.
/// </summary>
public sealed class TimeOrderedIds
{
    private const int CounterBits = 74; // 12 bits of rand_a and 62 of rand_b
    private static readonly UInt128 CounterMask = (UInt128.One << CounterBits) - 1;
    private static readonly TimeOrderedIds Shared = new();
    private readonly Lock gate = new();
    private long lastMs = -1;
    private UInt128 counter;

    /// <summary>The next id of this process, at the current time.</summary>
    public static Guid New() => Shared.Next(DateTimeOffset.UtcNow);

    public Guid Next(DateTimeOffset now)
    {
        var ms = now.ToUnixTimeMilliseconds();
        long stamp;
        UInt128 count;
        lock (gate)
        {
            if (ms > lastMs)
            {
                lastMs = ms;
                counter = Random() & (CounterMask >> 1);
            }
            else if (++counter > CounterMask)
            {
                // 2^73 ids in one millisecond cannot happen; a clock stepping back can leave us counting on the
                // last millisecond, and running out of it moves on to the next rather than repeating an id.
                lastMs++;
                counter = Random() & (CounterMask >> 1);
            }

            stamp = lastMs;
            count = counter;
        }

        // Big-endian layout: 48 bits of milliseconds, version 7, 12 bits of counter, variant 10, 62 bits of counter.
        var high = ((ulong)stamp << 16) | 0x7000UL | (ulong)(count >> 62);
        var low = 0x8000_0000_0000_0000UL | (ulong)(count & ((UInt128.One << 62) - 1));
        Span<byte> bytes = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, high);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], low);
        return new Guid(bytes, bigEndian: true);
    }

    private static UInt128 Random()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(bytes) & CounterMask;
    }
}

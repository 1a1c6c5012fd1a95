using Capacity.Server.Admin;

namespace Capacity.Server.Tests;

/// <summary>An audit of a large store is followed by a background full collection; a small store's is not.</summary>
/// <remarks>
/// Alone, with no other test class beside it: a neighbour's allocations could start a full collection
/// of their own during the first fact, which would then pass whether or not the audit started one.
/// </remarks>
[Collection(nameof(AloneCollection))]
public sealed class AuditCollectionTests
{
    [Fact]
    public void An_audit_of_a_large_store_is_followed_by_a_full_collection()
    {
        var before = GC.CollectionCount(GC.MaxGeneration);

        Assert.True(AuditCollection.After(AuditCollection.Floor));

        Assert.True(GC.CollectionCount(GC.MaxGeneration) > before);
    }

    [Fact]
    public void An_audit_of_a_small_store_starts_no_collection() =>
        Assert.False(AuditCollection.After(AuditCollection.Floor - 1));
}

namespace Capacity.Testing;

/// <summary>The stores every storage and API suite runs against, once each.</summary>
public enum StoreKind
{
    Sqlite,
    Postgres,
}

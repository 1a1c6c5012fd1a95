namespace Capacity.Client;

/// <summary>A tenant and one of its API keys.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Name">The tenant's name.</param>
/// <param name="ApiKey">
/// The new key, shown this once; null when the answer was replayed for a repeated Idempotency-Key,
/// because the server keeps only the key's hash.
/// </param>
public sealed record TenantKey(Guid TenantId, string Name, string? ApiKey);

internal sealed record CreateTenantRequest(string Name);

/// <summary>The ledger audit: every counter checked against the ledger and the live holds.</summary>
/// <param name="Ok">True when nothing is wrong.</param>
/// <param name="Capacities">How many capacities were checked.</param>
/// <param name="LiveReservations">How many active holds were checked.</param>
/// <param name="Violations">One line per inconsistency found.</param>
public sealed record VerifyReport(bool Ok, int Capacities, int LiveReservations, IReadOnlyList<string> Violations);

/// <summary>The answer of <c>/healthz</c> ("ok") or <c>/readyz</c> ("ready").</summary>
/// <param name="Status">The state reported.</param>
public sealed record HealthStatus(string Status);

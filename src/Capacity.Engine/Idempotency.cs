namespace Capacity.Engine;

/// <summary>What a request carrying an Idempotency-Key asks for, besides its command.</summary>
public sealed record IdempotencyRequest(Guid TenantId, string Key, string Method, string Path, byte[] RequestHash);

/// <summary>A response as it is stored for replay.</summary>
public sealed record StoredResponse(int Status, byte[] Body, string? Location);

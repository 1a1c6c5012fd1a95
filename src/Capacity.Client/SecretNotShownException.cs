namespace Capacity.Client;

/// <summary>
/// A call that shows a secret once (<see cref="CapacityClient.CreateTenantAsync(CreateTenantRequest, string?, CancellationToken)"/>,
/// <see cref="CapacityClient.IssueKeyAsync(Guid, IssueKeyRequest, string?, CancellationToken)"/>, <see cref="CapacityClient.CreateWebhookAsync"/>,
/// <see cref="CapacityClient.RotateWebhookSecretAsync"/>) was answered with a replay (<c>Idempotent-Replayed: true</c>) of an
/// earlier answer to its Idempotency-Key. What the first request created exists, but the replay cannot carry its secret: the
/// server keeps only a hash of a key, and shows a webhook's secret once. So the secret was in the first answer only, and if
/// that answer was lost (a reset connection the client retried after, or a caller that ran the call again with its own key)
/// nobody has it.
/// </summary>
/// <remarks>
/// Not a <see cref="CapacityApiException"/>: the service answered with success, and an error answer is what that type is.
/// Thrown rather than returned with a null secret, because a null stored as the secret fails only later, and far away
/// (every webhook delivery fails verification; a key nobody knows stays active).
/// </remarks>
public sealed class SecretNotShownException : Exception
{
    private SecretNotShownException(string message, Guid? tenantId, Guid? keyId, Guid? webhookId)
        : base(message)
    {
        TenantId = tenantId;
        KeyId = keyId;
        WebhookId = webhookId;
    }

    /// <summary>For a tenant created or a key issued: the tenant. Null for a webhook.</summary>
    public Guid? TenantId { get; }

    /// <summary>
    /// For a tenant created or a key issued: the key whose text was lost, to revoke once another is issued. Null for a webhook,
    /// and from a server too old to say which key it issued.
    /// </summary>
    public Guid? KeyId { get; }

    /// <summary>For a webhook created or its secret rotated: the endpoint, whose secret to rotate. Null for a key.</summary>
    public Guid? WebhookId { get; }

    internal static SecretNotShownException TenantCreated(TenantKey answer) => new(
        $"Tenant {answer.TenantId} ('{answer.Name}') was created with its first API key{KeyIdText(answer)}, but this answer is a replay " +
        "of an earlier one to the same Idempotency-Key, and a replay never carries the key's text, which only the first answer " +
        $"showed. If that text is lost, issue another key for tenant {answer.TenantId} and revoke{KeyToRevoke(answer)}.",
        answer.TenantId, answer.Key?.Id, null);

    internal static SecretNotShownException KeyIssued(TenantKey answer) => new(
        $"An API key{KeyIdText(answer)} was issued for tenant {answer.TenantId}, but this answer is a replay of an earlier one to the " +
        "same Idempotency-Key, and a replay never carries the key's text, which only the first answer showed. If that text is " +
        $"lost, issue another key and revoke{KeyToRevoke(answer)}.",
        answer.TenantId, answer.Key?.Id, null);

    internal static SecretNotShownException WebhookCreated(WebhookDetails answer) => new(
        $"Webhook {answer.Id} was created, but this answer is a replay of an earlier one to the same Idempotency-Key, and a replay " +
        "never carries the signing secret, which only the first answer showed. If that secret is lost, rotate the webhook's " +
        $"secret (RotateWebhookSecretAsync({answer.Id}), with a new Idempotency-Key) for a new one.",
        null, null, answer.Id);

    internal static SecretNotShownException SecretRotated(WebhookDetails answer) => new(
        $"The secret of webhook {answer.Id} was rotated, but this answer is a replay of an earlier one to the same Idempotency-Key, " +
        "and a replay never carries the new secret, which only the first answer showed. If that secret is lost, rotate the " +
        "secret again, with a new Idempotency-Key.",
        null, null, answer.Id);

    private static string KeyIdText(TenantKey answer) => answer.Key is { } key ? $" (key id {key.Id})" : "";

    // A server too old to name the key leaves the caller to find it in the tenant's list of keys.
    private static string KeyToRevoke(TenantKey answer) => answer.Key is { } key
        ? $" key {key.Id}, whose text was lost"
        : " the key whose text was lost";
}

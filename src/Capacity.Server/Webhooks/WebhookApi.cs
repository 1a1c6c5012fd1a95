using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Webhooks;

/// <summary>
/// Webhook endpoints and their deliveries. A notice is decided by the core in the batch of the change
/// and written as an outbox row in the same transaction; <see cref="WebhookDispatcher"/> sends it.
/// </summary>
internal static class WebhookApi
{
    private const string EventsDoc =
        "`events` names one or more of: capacity.sold_out, capacity.available, capacity.low, capacity.state_changed, reservation.confirmed, "
        + "reservation.released, reservation.expired, reservation.cancelled, allocation.closed, waitlist.offered, waitlist.lapsed.";

    public static RouteGroupBuilder MapWebhooks(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Webhooks");
        group.MapPost("/webhooks", Create).Body<CreateWebhookRequest>().Doc(
            "Subscribe an endpoint",
            "Answers the endpoint with its `secret`, shown once (as API keys are): every delivery is signed with it (Standard Webhooks: `webhook-id`, "
            + "`webhook-timestamp`, `webhook-signature`). " + EventsDoc + " A loopback, link-local or private address is 400 WEBHOOK_URL_NOT_ALLOWED "
            + "unless the operator allows them. At most 20 endpoints per tenant (409 TOO_MANY_WEBHOOKS, with `limit`).",
            400, 409, 413, 422);
        group.MapGet("/webhooks", List).HeavyRead().Doc("List the endpoints", "Oldest first, without their secrets.");
        group.MapGet("/webhooks/{id}", Get).Doc(
            "Get an endpoint", "Without its secret. `enabled` false with `disabled_reason: \"failing\"` means it failed for 24 hours and was turned off; a PUT with `enabled: true` turns it on again.", 404);
        group.MapPut("/webhooks/{id}", Update).Body<UpdateWebhookRequest>().Doc(
            "Change an endpoint", "Send only the fields to change: `url`, `events`, `description`, `enabled`. Deliveries already written keep going to the endpoint, in order.", 400, 404, 413, 422);
        group.MapDelete("/webhooks/{id}", Delete).Doc("Delete an endpoint", "With every delivery it still has: nothing more is sent to it.", 404, 422);
        group.MapPost("/webhooks/{id}/rotate-secret", Rotate).Doc(
            "Replace an endpoint's secret", "At once: deliveries sent from now on are signed with the new secret, shown once here.", 404, 422);
        group.MapGet("/webhooks/{id}/deliveries", Deliveries).HeavyRead().Doc(
            "An endpoint's deliveries",
            "In the endpoint's order (`id` is the sequence number), after `after`, each with every attempt: status code or error, duration, and the next retry.",
            400, 404);
        group.MapPost("/webhooks/{id}/deliveries/{deliveryId}/retry", Retry).Doc(
            "Send a delivery again", "Whatever its state: it becomes pending and due now, with a fresh 24-hour retry window. The receiver sees the same `webhook-id`.", 404, 422);
        return group;
    }

    private static async Task<Results<JsonCreated<WebhookResponse>, ProblemHttpResult, StoredResult>> Create(
        TenantCaller caller, JsonRequest<CreateWebhookRequest> body, HttpContext context, Writes writes, WebhookOptions options)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        var r = body.Value;
        if (ReadTopics(r.Events) is not { } topics)
        {
            return ApiErrors.Validation("events", "events must name at least one known event type, each once. " + EventsDoc);
        }

        if (WebhookAddress.RefusalOf(r.Url, options) is { } refusal)
        {
            return ApiErrors.WebhookUrlNotAllowed(refusal);
        }

        var command = new CreateWebhook(caller.TenantId, TimeOrderedIds.New(), r.Url, topics, r.Description, WebhookSigner.NewSecret());
        return await writes.ExecuteAsync(
            context, caller.TenantId, body.Bytes, command, o => Created(o, withSecret: true), o => Created(o, withSecret: false));
    }

    private static Results<JsonCreated<WebhookResponse>, ProblemHttpResult> Created(Outcome o, bool withSecret) => o.Succeeded
        ? JsonResults.Created($"/webhooks/{o.Webhook!.Id}", WebhookResponse.From(o.Webhook, withSecret))
        : ApiErrors.FromOutcome(o);

    private static async Task<JsonOk<WebhookListResponse>> List(TenantCaller caller, IWebhookStore store, CancellationToken ct)
    {
        var endpoints = await store.GetWebhooksAsync(caller.TenantId, ct);
        return JsonResults.Ok(new WebhookListResponse([.. endpoints.Select(WebhookResponse.From)]));
    }

    private static async Task<Results<JsonOk<WebhookResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, IWebhookStore store, CancellationToken ct) =>
        await Find(id, caller, store, ct) is { } endpoint ? JsonResults.Ok(WebhookResponse.From(endpoint)) : ApiErrors.WebhookNotFound(id);

    private static async Task<Results<JsonOk<WebhookResponse>, ProblemHttpResult, StoredResult>> Update(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes, WebhookOptions options)
    {
        if (body.Unread is { } unread)
        {
            return unread;
        }

        if (!Guid.TryParse(id, out var webhookId))
        {
            return ApiErrors.WebhookNotFound(id);
        }

        if (!PatchReader.TryOpen(body.Bytes, out var document, out var error))
        {
            return ApiErrors.Validation("body", error!);
        }

        using (document)
        {
            var reader = new PatchReader();
            Change<string> url = default;
            Change<Topics> topics = default;
            Change<string?> description = default;
            Change<bool> enabled = default;
            foreach (var p in document!.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "url": url = reader.String(p); break;
                    case "description": description = reader.NullableString(p); break;
                    case "enabled": enabled = reader.Bool(p); break;
                    case "events":
                        if (p.Value.ValueKind != System.Text.Json.JsonValueKind.Array
                            || p.Value.EnumerateArray().Any(e => e.ValueKind != System.Text.Json.JsonValueKind.String)
                            || ReadTopics([.. p.Value.EnumerateArray().Select(e => e.GetString()!)]) is not { } read)
                        {
                            reader.Fail("events", "events must be an array naming at least one known event type, each once. " + EventsDoc);
                        }
                        else
                        {
                            topics = Change<Topics>.To(read);
                        }

                        break;
                    default: reader.Fail(p.Name, $"{p.Name} cannot be updated; updatable fields are url, events, description and enabled."); break;
                }
            }

            if (reader.Errors.Count > 0)
            {
                return ApiErrors.Validation(reader.Errors);
            }

            if (url.IsSet && WebhookAddress.RefusalOf(url.Value, options) is { } refusal)
            {
                return ApiErrors.WebhookUrlNotAllowed(refusal);
            }

            var command = new UpdateWebhook(caller.TenantId, webhookId, url, topics, description, enabled);
            return await writes.ExecuteAsync(context, caller.TenantId, body.Bytes, command, Answer);
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult, StoredResult>> Delete(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var webhookId))
        {
            return ApiErrors.WebhookNotFound(id);
        }

        return await writes.ExecuteAsync<NoContent>(context, caller.TenantId, body.Bytes, new DeleteWebhook(caller.TenantId, webhookId), o => o.Succeeded
            ? TypedResults.NoContent()
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<WebhookResponse>, ProblemHttpResult, StoredResult>> Rotate(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var webhookId))
        {
            return ApiErrors.WebhookNotFound(id);
        }

        var command = new RotateWebhookSecret(caller.TenantId, webhookId, WebhookSigner.NewSecret());
        return await writes.ExecuteAsync<JsonOk<WebhookResponse>>(
            context, caller.TenantId, body.Bytes, command,
            o => o.Succeeded ? JsonResults.Ok(WebhookResponse.From(o.Webhook!, withSecret: true)) : ApiErrors.FromOutcome(o),
            o => o.Succeeded ? JsonResults.Ok(WebhookResponse.From(o.Webhook!)) : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<DeliveryListResponse>, ProblemHttpResult>> Deliveries(
        string id, [FromQuery] string? after, [FromQuery] string? limit, TenantCaller caller, IWebhookStore store, ServerOptions options, CancellationToken ct)
    {
        if (Paging.TryRead(after, limit, options, out var paging) is { } invalid)
        {
            return invalid;
        }

        if (await Find(id, caller, store, ct) is not { } endpoint)
        {
            return ApiErrors.WebhookNotFound(id);
        }

        var page = await store.GetDeliveriesAsync(caller.TenantId, endpoint.Id, paging.After, paging.Limit, ct);
        return JsonResults.Ok(new DeliveryListResponse(
            [.. page.Select(DeliveryResponse.From)], paging.Next(page.Count, page.Count > 0 ? page[^1].Sequence : 0)));
    }

    private static async Task<Results<JsonOk<RetryResponse>, ProblemHttpResult, StoredResult>> Retry(
        string id, string deliveryId, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.UnlessEmpty() is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var webhookId) || !long.TryParse(deliveryId, out var sequence) || sequence < 1)
        {
            return ApiErrors.DeliveryNotFound(id, deliveryId);
        }

        return await writes.ExecuteAsync<JsonOk<RetryResponse>>(context, caller.TenantId, body.Bytes, new RetryDelivery(caller.TenantId, webhookId, sequence), o => o.Succeeded
            ? JsonResults.Ok(new RetryResponse(o.Delivery!.Sequence, DeliveryResponse.Snake(o.Delivery.Status), o.Delivery.NextAttemptAt))
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<WebhookEndpoint?> Find(string id, TenantCaller caller, IWebhookStore store, CancellationToken ct) =>
        Guid.TryParse(id, out var webhookId) ? await store.GetWebhookAsync(caller.TenantId, webhookId, ct) : null;

    private static Results<JsonOk<WebhookResponse>, ProblemHttpResult> Answer(Outcome o) =>
        o.Succeeded ? JsonResults.Ok(WebhookResponse.From(o.Webhook!)) : ApiErrors.FromOutcome(o);

    /// <summary>The topics named, or null when one is unknown, repeated, or there are none.</summary>
    private static Topics? ReadTopics(string[] names)
    {
        var topics = Topics.None;
        foreach (var name in names)
        {
            if (!TopicNames.TryParse(name, out var topic) || (topics & topic) != 0)
            {
                return null;
            }

            topics |= topic;
        }

        return topics == Topics.None ? null : topics;
    }
}

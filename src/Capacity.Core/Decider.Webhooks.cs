namespace Capacity.Core;

// Webhooks: the endpoints (cold commands, written plainly), the fate of each delivery attempt, and
// the notices a command gives rise to. Notices are found after each command from what it appended to
// the ledger, so that no path that moves a counter or ends a hold can forget one, and only when a
// tenant of the batch has an endpoint: a batch without one never looks.
public static partial class Decider
{
    private static Outcome CreateWebhook(WorkingSet set, CreateWebhook command, DateTimeOffset now, CoreLimits limits)
    {
        if (CheckWebhook(command.Url, command.Topics, command.Description, null, limits) is { } invalid)
        {
            return invalid;
        }

        if (set.FindEndpoint(command.Id) is not null)
        {
            return Outcome.Invalid("id", $"Webhook {command.Id} already exists.");
        }

        if (set.EndpointsOf(command.TenantId).Count(e => !e.Deleted) >= limits.MaxWebhooks)
        {
            return Outcome.TooManyWebhooks(command.TenantId, limits.MaxWebhooks);
        }

        // Notices start with the commands after this one: nothing that happened before it existed is sent to it.
        set.MarkNoticed();
        var endpoint = new WebhookEndpoint
        {
            Id = command.Id,
            TenantId = command.TenantId,
            Url = command.Url,
            Topics = command.Topics,
            Description = command.Description,
            Secret = command.Secret,
            CreatedAt = now,
            UpdatedAt = now,
        };
        set.AddNew(endpoint);
        return new Outcome(OutcomeCode.Ok) { Webhook = WebhookView.Of(endpoint, withSecret: true) };
    }

    private static Outcome UpdateWebhook(WorkingSet set, UpdateWebhook command, DateTimeOffset now, CoreLimits limits)
    {
        if (FindEndpoint(set, command.TenantId, command.Id) is not { } endpoint)
        {
            return Outcome.NotFound($"Webhook {command.Id} was not found.");
        }

        var url = command.Url.Or(endpoint.Url);
        var topics = command.Topics.Or(endpoint.Topics);
        var description = command.Description.Or(endpoint.Description);
        if (CheckWebhook(url, topics, description, endpoint.Description, limits) is { } invalid)
        {
            return invalid;
        }

        var enabled = command.Enabled.Or(endpoint.Enabled);
        if (url == endpoint.Url && topics == endpoint.Topics && description == endpoint.Description && enabled == endpoint.Enabled)
        {
            return new Outcome(OutcomeCode.Unchanged) { Webhook = WebhookView.Of(endpoint) };
        }

        set.MarkNoticed();
        if (enabled && !endpoint.Enabled)
        {
            // Turned back on: it starts healthy, and what failed meanwhile can be retried by hand.
            (endpoint.DisabledReason, endpoint.FailingSince) = (null, null);
        }

        (endpoint.Url, endpoint.Topics, endpoint.Description, endpoint.Enabled, endpoint.UpdatedAt) = (url, topics, description, enabled, now);
        set.Touch(endpoint);
        return new Outcome(OutcomeCode.Ok) { Webhook = WebhookView.Of(endpoint) };
    }

    private static Outcome DeleteWebhook(WorkingSet set, DeleteWebhook command)
    {
        if (FindEndpoint(set, command.TenantId, command.Id) is not { } endpoint)
        {
            return Outcome.NotFound($"Webhook {command.Id} was not found.");
        }

        endpoint.Deleted = true;
        set.Touch(endpoint);
        return new Outcome(OutcomeCode.Ok);
    }

    private static Outcome RotateWebhookSecret(WorkingSet set, RotateWebhookSecret command, DateTimeOffset now)
    {
        if (FindEndpoint(set, command.TenantId, command.Id) is not { } endpoint)
        {
            return Outcome.NotFound($"Webhook {command.Id} was not found.");
        }

        (endpoint.Secret, endpoint.UpdatedAt) = (command.Secret, now);
        set.Touch(endpoint);
        return new Outcome(OutcomeCode.Ok) { Webhook = WebhookView.Of(endpoint, withSecret: true) };
    }

    private static Outcome RecordDeliveryAttempt(WorkingSet set, RecordDeliveryAttempt command, DateTimeOffset now)
    {
        if (FindEndpoint(set, command.TenantId, command.EndpointId) is not { } endpoint
            || set.FindDelivery(command.EndpointId, command.Sequence) is not { } delivery)
        {
            // Deleted while it was being sent: nothing is left to record.
            return Outcome.NotFound($"Delivery {command.Sequence} of webhook {command.EndpointId} was not found.");
        }

        if (delivery.Status != DeliveryStatus.Pending)
        {
            // A second sender after a lease ran out (at least once): the first answer stands.
            return new Outcome(OutcomeCode.Unchanged) { Delivery = DeliveryView.Of(delivery) };
        }

        delivery.Attempts++;
        (delivery.LastStatusCode, delivery.LastError) = (command.StatusCode, command.Error);
        set.Add(new WebhookAttempt(endpoint.Id, delivery.Sequence, delivery.Attempts, now, command.StatusCode, command.Error, command.DurationMs));
        if (command.Succeeded)
        {
            (delivery.Status, delivery.DeliveredAt, delivery.NextAttemptAt) = (DeliveryStatus.Delivered, now, null);
            if (endpoint.FailingSince is not null)
            {
                endpoint.FailingSince = null;
                set.Touch(endpoint);
            }
        }
        else
        {
            if (now - delivery.RetryingSince >= DeliveryPolicy.RetryWindow)
            {
                (delivery.Status, delivery.NextAttemptAt) = (DeliveryStatus.Failed, null);
            }
            else
            {
                delivery.NextAttemptAt = now + DeliveryPolicy.Backoff(delivery.Attempts, command.Jitter);
            }

            endpoint.FailingSince ??= now;
            if (endpoint.Enabled && now - endpoint.FailingSince >= DeliveryPolicy.DisableAfter)
            {
                (endpoint.Enabled, endpoint.DisabledReason, endpoint.UpdatedAt) = (false, DeliveryPolicy.FailingReason, now);
            }

            set.Touch(endpoint);
        }

        set.Touch(delivery);
        return new Outcome(OutcomeCode.Ok) { Delivery = DeliveryView.Of(delivery) };
    }

    private static Outcome RetryDelivery(WorkingSet set, RetryDelivery command, DateTimeOffset now)
    {
        if (FindEndpoint(set, command.TenantId, command.EndpointId) is null
            || set.FindDelivery(command.EndpointId, command.Sequence) is not { } delivery)
        {
            return Outcome.NotFound($"Delivery {command.Sequence} of webhook {command.EndpointId} was not found.");
        }

        (delivery.Status, delivery.NextAttemptAt, delivery.RetryingSince) = (DeliveryStatus.Pending, now, now);
        set.Touch(delivery);
        return new Outcome(OutcomeCode.Ok) { Delivery = DeliveryView.Of(delivery) };
    }

    private static WebhookEndpoint? FindEndpoint(WorkingSet set, Guid tenantId, Guid id) =>
        set.FindEndpoint(id) is { Deleted: false } endpoint && endpoint.TenantId == tenantId ? endpoint : null;

    // storedDescription: the endpoint's description as stored, for an update; not judged again.
    private static Outcome? CheckWebhook(string url, Topics topics, string? description, string? storedDescription, CoreLimits limits)
    {
        if (!Rules.IsValidWebhookUrl(url, limits.MaxWebhookUrlLength))
        {
            return Outcome.Invalid("url", $"url must be an absolute http or https URL of at most {limits.MaxWebhookUrlLength} characters, without user information or a fragment.");
        }

        if (topics == Topics.None || (topics & ~Topics.All) != 0)
        {
            return Outcome.Invalid("events", "events must name at least one event type: " + string.Join(", ", TopicNames.All) + ".");
        }

        if (description is not null && !Rules.IsValidNameChange(description, storedDescription, limits.MaxNameLength))
        {
            return Outcome.Invalid("description", Rules.NameRule("description", limits.MaxNameLength, description));
        }

        return null;
    }

    /// <summary>
    /// The notices of the command just decided, from the ledger entries it appended: holds that ended
    /// (confirmed, released, expired, refunded), tiers that opened and capacities that closed, and each
    /// limited capacity whose own availability crossed 0 or its low watermark. A capacity's crossing is
    /// judged on the command's net movement, so a command that takes and gives back the same units says nothing.
    /// </summary>
    internal static void CollectNotices(WorkingSet set, DateTimeOffset now)
    {
        var (from, to) = set.UnnoticedLedger();
        if (from == to && set.FreeAtStart.Count == 0)
        {
            return;
        }

        var ledger = set.LedgerEntries;
        var moved = set.NoticeScratch;
        moved.Clear();
        var lastReservation = Guid.Empty;
        var lastKind = (LedgerKind)(-1);
        // A command's entries are nearly always one tenant's: one lookup of what it watches, not one per entry.
        Guid? tenant = null;
        var watched = false;
        for (var i = from; i < to; i++)
        {
            var node = ledger.NodeAt(i);
            if (node.TenantId != tenant)
            {
                (tenant, watched) = (node.TenantId, set.Watches(node.TenantId, Topics.All));
            }

            if (!watched)
            {
                continue;
            }

            var charge = ledger.ChargeAt(i);

            if (node.Total is not null && charge.ReservedDelta + charge.SoldDelta != 0)
            {
                moved[node] = moved.GetValueOrDefault(node) + charge.ReservedDelta + charge.SoldDelta;
            }

            // A hold's entries come together, one per node it charges: one notice per hold and kind.
            // Entries of no hold (a tier opening, a capacity closing) are each a notice of their own.
            if (charge.ReservationId == lastReservation && charge.Kind == lastKind && charge.ReservationId != Guid.Empty)
            {
                continue;
            }

            (lastReservation, lastKind) = (charge.ReservationId, charge.Kind);
            NoticeEntry(set, node, charge, now);
        }

        // Where the command changed a capacity's total or allowance, its room before is what the update
        // found; elsewhere the command's net movement says it.
        var start = set.FreeAtStart;
        foreach (var (node, net) in moved)
        {
            start.TryAdd(node, Math.Max(0, node.Ceiling!.Value - (node.Reserved + node.Sold - net)));
        }

        foreach (var (node, freeBefore) in start)
        {
            if (freeBefore is { } before)
            {
                NoticeCrossing(set, node, before, now);
            }
        }

        moved.Clear();
        start.Clear();
        set.MarkNoticed();
    }

    private static void NoticeEntry(WorkingSet set, CapacityNode node, in LedgerCharge charge, DateTimeOffset now)
    {
        switch (charge.Kind)
        {
            case LedgerKind.Confirm or LedgerKind.Reclaim or LedgerKind.Release or LedgerKind.Expire or LedgerKind.Cancel:
                if (set.FindReservation(charge.ReservationId) is not { } r)
                {
                    return;
                }

                // By what the hold became: units given back by a change, or the rest of a partial
                // confirm, are released on the ledger while the hold lives on. A refund in part is told.
                var topic = (charge.Kind, r.Status) switch
                {
                    (LedgerKind.Release, ReservationStatus.Released) => Topics.ReservationReleased,
                    (LedgerKind.Expire, ReservationStatus.Expired) => Topics.ReservationExpired,
                    (LedgerKind.Cancel, _) => Topics.ReservationCancelled,
                    (LedgerKind.Confirm or LedgerKind.Reclaim, ReservationStatus.Confirmed) => Topics.ReservationConfirmed,
                    _ => Topics.None,
                };
                if (topic == Topics.None)
                {
                    return;
                }

                // An offer that ends without a sale is told as lapsed whoever ended it: it ran out, its
                // hold was released, or its buyer left the list (the entry's status says which).
                set.Notify(topic, r.TenantId, node.EventId, r, now);
                if (r.WaitlistId is { } entryId && topic is Topics.ReservationReleased or Topics.ReservationExpired
                    && set.FindEntry(entryId) is { Status: WaitlistStatus.Lapsed or WaitlistStatus.Left } lapsed)
                {
                    set.Notify(Topics.WaitlistLapsed, r.TenantId, node.EventId, WaitlistEntryView.Of(lapsed), now);
                }

                return;
            case LedgerKind.Hold when charge.Offer:
                if (set.FindEntry(charge.ReservationId) is { } offered)
                {
                    set.Notify(Topics.WaitlistOffered, node.TenantId, node.EventId, WaitlistEntryView.Of(offered), now);
                }

                return;
            case LedgerKind.Open:
                NoticeState(set, node, "tier_opened", now);
                return;
            case LedgerKind.Close:
                NoticeState(set, node, node.Sale?.ClosedReason ?? "closed", now);
                return;
            default:
                return;
        }
    }

    /// <summary>A capacity's own availability went from <paramref name="freeBefore"/> to what it is now: sold out, back, or low.</summary>
    internal static void NoticeCrossing(WorkingSet set, CapacityNode node, long freeBefore, DateTimeOffset now)
    {
        // Nearly every command crosses no line: the lines are looked at before what the tenant watches.
        if (node.Free is not { } freeAfter)
        {
            return;
        }

        var low = node.Sale?.LowWatermark is { } watermark && freeBefore > watermark && freeAfter <= watermark;
        var soldOut = freeBefore > 0 && freeAfter == 0;
        var back = freeBefore == 0 && freeAfter > 0;
        if (!(low || soldOut || back) || !set.Watches(node.TenantId, Topics.CapacitySoldOut | Topics.CapacityAvailable | Topics.CapacityLow))
        {
            return;
        }

        if (low)
        {
            set.Notify(Topics.CapacityLow, node.TenantId, node.EventId, Graph.View(node, set), now);
        }

        if (soldOut)
        {
            set.Notify(Topics.CapacitySoldOut, node.TenantId, node.EventId, Graph.View(node, set), now);
        }
        else if (back)
        {
            set.Notify(Topics.CapacityAvailable, node.TenantId, node.EventId, Graph.View(node, set), now);
        }
    }

    internal static void NoticeState(WorkingSet set, CapacityNode node, string reason, DateTimeOffset now) =>
        set.Notify(Topics.CapacityStateChanged, node.TenantId, node.EventId, Graph.View(node, set), now, reason);
}

using System.CommandLine;
using System.CommandLine.Parsing;
using Capacity.Client;
using Spectre.Console;

namespace Capacity.Cli;

/// <summary>The <c>webhooks</c> commands: endpoints the service tells of changes, and the log of what it sent them.</summary>
public static partial class CapacityCli
{
    /// <summary>How many of an endpoint's newest deliveries <c>webhooks show</c> lists.</summary>
    private const int RecentDeliveries = 10;

    private static Command WebhookCommands(Host host)
    {
        // The endpoint's address is an argument, and --webhook-url in an update, because --url is the service's
        // own address on every command: a second --url would send the request somewhere else if misplaced.
        var url = new Argument<string>("endpoint-url") { Description = "Where to POST the deliveries: http or https, and a public address unless the service allows private ones" };
        var events = EventsOption(required: true);
        var description = new Option<string?>("--description", "-d") { Description = "A note for people, such as \"Box office notifications\"" };
        var create = new Command("create", "Subscribe an endpoint to event types; prints its signing secret, shown once") { url, events, description };
        host.OneWrite(create);
        create.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var webhook = await client.CreateWebhookAsync(
                new CreateWebhookRequest { Url = p.GetRequiredValue(url), Events = p.GetRequiredValue(events), Description = p.GetValue(description) },
                host.IdempotencyKeyOf(p),
                ct);
            c.Write(webhook, CliJson.Default.WebhookDetails, () => Views.WebhookWithSecret(webhook));
            return ExitCodes.Ok;
        }));

        var list = new Command("list", "List the endpoints: where they point, what they are sent, and whether they are failing");
        list.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var webhooks = await client.ListWebhooksAsync(ct);
            c.Write(new WebhookList(webhooks), CliJson.Default.WebhookList, () => Views.Webhooks(webhooks));
            return ExitCodes.Ok;
        }));

        var showId = WebhookArgument();
        var show = new Command("show", $"Show an endpoint and its {RecentDeliveries} newest deliveries") { showId };
        show.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var id = p.GetValue(showId);
            var webhook = await client.GetWebhookAsync(id, ct);
            var recent = await NewestDeliveriesAsync(client, id, RecentDeliveries, ct);
            c.Write(new WebhookView(webhook, recent), CliJson.Default.WebhookView, () => Views.Webhook(webhook, recent));
            return ExitCodes.Ok;
        }));

        var newUrl = new Option<string>("--webhook-url") { Description = "A new address for the endpoint; deliveries already written go there, in order" };
        var newEvents = EventsOption(required: false);
        var newDescription = new Option<string?>("--description", "-d") { Description = "A new note" };
        var noDescription = new Option<bool>("--no-description") { Description = "Remove the note" };
        var enable = new Option<bool>("--enable") { Description = "Turn it on, also after the service turned it off for failing" };
        var disable = new Option<bool>("--disable") { Description = "Turn it off: nothing is written for it while it is off" };
        var update = host.OneWrite(Call(host, "update", "Change an endpoint's address, event types or note, or turn it on or off",
            WebhookArgument(), CliJson.Default.WebhookDetails, Views.Webhook, (p, client, id, ct) =>
            client.UpdateWebhookAsync(id, new UpdateWebhookRequest
            {
                Url = Given(p, newUrl),
                Events = IsGiven(p.GetResult(newEvents)) ? new Optional<IReadOnlyList<string>>(p.GetRequiredValue(newEvents)) : default,
                Description = p.GetValue(noDescription) ? new Optional<string?>(null) : Given(p, newDescription),
                Enabled = p.GetValue(enable) ? true : p.GetValue(disable) ? false : default(Optional<bool>),
            }, host.IdempotencyKeyOf(p), ct),
            newUrl, newEvents, newDescription, noDescription, enable, disable));
        RequireAny(update, newUrl, newEvents, newDescription, noDescription, enable, disable);
        update.Validators.Add(result =>
        {
            if (IsGiven(result.GetResult(enable)) && IsGiven(result.GetResult(disable)))
            {
                result.AddError("Give --enable or --disable, not both.");
            }

            if (IsGiven(result.GetResult(newDescription)) && IsGiven(result.GetResult(noDescription)))
            {
                result.AddError("Give --description or --no-description, not both.");
            }
        });

        var deleteId = WebhookArgument();
        var delete = new Command("delete", "Delete an endpoint with every delivery it still has: nothing more is sent to it") { deleteId };
        host.OneWrite(delete);
        delete.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var id = p.GetValue(deleteId);
            await client.DeleteWebhookAsync(id, host.IdempotencyKeyOf(p), ct);

            // The service answers 204 with no document, so --json prints nothing: the exit code says it worked.
            if (!c.Json)
            {
                c.Console.MarkupLine($"Deleted webhook {id}.");
            }

            return ExitCodes.Ok;
        }));

        var rotate = host.OneWrite(Call(host, "rotate-secret", "Replace an endpoint's signing secret at once; prints the new one, shown once",
            WebhookArgument(), CliJson.Default.WebhookDetails, Views.WebhookWithSecret,
            (p, client, id, ct) => client.RotateWebhookSecretAsync(id, host.IdempotencyKeyOf(p), ct)));

        var after = new Option<long?>("--after") { Description = "Start after this delivery: the next_after of the previous page" };
        var limit = new Option<int?>("--limit") { Description = "Deliveries per page, 1 to 1000 (the service's default: 100)" };
        var all = new Option<bool>("--all") { Description = "Read every page, --limit deliveries at a time, and print them together" };
        var deliveries = Call(host, "deliveries", "List an endpoint's deliveries in its order, oldest first, each with its attempts",
            WebhookArgument(), CliJson.Default.WebhookDeliveryPage, Views.Deliveries,
            (p, client, id, ct) => p.GetValue(all)
                ? ReadAllDeliveriesAsync(client, id, p.GetValue(after), p.GetValue(limit), ct)
                : client.ListWebhookDeliveriesAsync(id, p.GetValue(after), p.GetValue(limit), ct),
            after, limit, all);

        var retryId = WebhookArgument();
        var deliveryId = new Argument<long>("delivery-id") { Description = "The delivery, as webhooks deliveries numbers it" };
        var retry = new Command("retry", "Send a delivery again, whatever its state, with the same webhook-id; due now") { retryId, deliveryId };
        host.OneWrite(retry);
        retry.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var id = p.GetValue(retryId);
            var retried = await client.RetryWebhookDeliveryAsync(id, p.GetValue(deliveryId), host.IdempotencyKeyOf(p), ct);
            c.Write(retried, CliJson.Default.DeliveryRetry, () => Views.Retry(id, retried));
            return ExitCodes.Ok;
        }));

        return new Command("webhooks", "Webhooks: endpoints told of sell-outs, returns, holds and offers, signed, and the log of each delivery")
        {
            list, create, show, update, delete, rotate, deliveries, retry,
        };
    }

    /// <summary>
    /// <c>--events a,b</c>, or <c>--events a --events b</c>. The names are left to the service to check, so that
    /// a type a newer service adds can be subscribed to with this command.
    /// </summary>
    private static Option<string[]> EventsOption(bool required) => new("--events", "-e")
    {
        Description = "Event types, comma-separated: " + string.Join(", ", WebhookEventTypes.All),
        HelpName = "type,type",
        Required = required,
        Arity = ArgumentArity.OneOrMore,
        CustomParser = EventsOf,
    };

    private static string[] EventsOf(ArgumentResult result)
    {
        string[] events = [.. result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
        if (events.Length == 0)
        {
            result.AddError("--events needs at least one event type, such as capacity.sold_out.");
        }

        return events;
    }

    /// <summary>
    /// The endpoint's newest <paramref name="count"/> deliveries, oldest first. The API pages forward only, from the
    /// first delivery, and reading every page would fetch an endpoint's whole history with its attempt logs. Instead
    /// pages of one ask "is there a delivery from id n on?", which is true up to the newest id and false after it,
    /// so doubling n and then halving the gap finds the newest in about 2·log2(deliveries) small reads.
    /// </summary>
    private static async Task<IReadOnlyList<WebhookDelivery>> NewestDeliveriesAsync(CapacityClient client, Guid webhookId, int count, CancellationToken ct)
    {
        // Deliveries from id `last` on exist (or `last` is 0); none from `beyond` on.
        long last = 0, beyond = 1;
        while (await AnyFromAsync(beyond))
        {
            (last, beyond) = (beyond, beyond * 2);
        }

        while (beyond - last > 1)
        {
            var middle = last + ((beyond - last) / 2);
            if (await AnyFromAsync(middle))
            {
                last = middle;
            }
            else
            {
                beyond = middle;
            }
        }

        return last == 0 ? [] : (await client.ListWebhookDeliveriesAsync(webhookId, Math.Max(0, last - count), count, ct)).Deliveries;

        async Task<bool> AnyFromAsync(long id) => (await client.ListWebhookDeliveriesAsync(webhookId, id - 1, 1, ct)).Deliveries.Count > 0;
    }

    /// <summary>Every page from <paramref name="after"/> on, as one page: the last one read says there is no next.</summary>
    private static async Task<WebhookDeliveryPage> ReadAllDeliveriesAsync(CapacityClient client, Guid webhookId, long? after, int? limit, CancellationToken ct)
    {
        var deliveries = new List<WebhookDelivery>();
        WebhookDeliveryPage page;
        do
        {
            page = await client.ListWebhookDeliveriesAsync(webhookId, after, limit, ct);
            deliveries.AddRange(page.Deliveries);
            after = page.NextAfter;
        }
        while (after is not null);

        return page with { Deliveries = deliveries };
    }

    private static Argument<Guid> WebhookArgument() => new("webhook-id") { Description = "The webhook endpoint" };
}

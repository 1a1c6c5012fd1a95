using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;

namespace Capacity.Server.Webhooks;

/// <summary>
/// Sends the outbox. Each round claims endpoints whose next pending delivery is due (on PostgreSQL a
/// lease that keeps other nodes off them), and starts a sender for each that sends its deliveries in
/// order and stops at its first failure, so a receiver sees an endpoint's notices in sequence. Rounds
/// do not wait for senders: an endpoint that answers slowly (up to <c>TimeoutMs</c> an attempt) keeps
/// nobody else's notices waiting, since the next commit's round claims the other endpoints meanwhile
/// (leaving out those this node is sending to). Every attempt's result goes
/// through the engine (<see cref="RecordDeliveryAttempt"/>), where the core decides the next retry, when
/// to give up, and when to disable the endpoint. A commit that wrote deliveries wakes it; retries come
/// due by the clock and are found by polling. Delivery is at least once: a node that dies after a send
/// and before recording it leaves the delivery pending, and it is sent again with the same
/// <c>webhook-id</c>, by which receivers drop the repeat.
/// </summary>
internal sealed class WebhookDispatcher : BackgroundService
{
    private const int EndpointsPerRound = 16;
    private const int DeliveriesPerClaim = 20;
    private const int MaxErrorLength = 200;
    private const int RecordTries = 6;

    private readonly IWebhookStore _store;
    private readonly CommandEngine _engine;
    private readonly TimeProvider _time;
    private readonly WebhookOptions _options;
    private readonly OutageLog _outage;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _wake = new(0, 1);

    // Endpoints this node's senders are working on: not claimed again until their sender ends.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, byte> _sending = new();
    private readonly string _node = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    public WebhookDispatcher(IWebhookStore store, CommandEngine engine, TimeProvider time, WebhookOptions options, OutageLog outage, ILogger<WebhookDispatcher> logger)
    {
        (_store, _engine, _time, _options, _outage, _logger) = (store, engine, time, options, outage, logger);
        _http = new HttpClient(Handler(options)) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Capacity-Webhooks/1");
        engine.OutboxChanged += Wake;
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Woken already.
            }
        }
    }

    /// <summary>
    /// No redirects (a 3xx is a failed delivery, never a second request somewhere else), no cookies, no
    /// proxy from the environment, and a connection only to the addresses <see cref="WebhookAddress"/>
    /// allows, checked after DNS so that a name cannot point the server at its own network.
    /// </summary>
    private static SocketsHttpHandler Handler(WebhookOptions options) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, ct) =>
        {
            // Refused by its name, not left to the resolver: what "localhost." or "a.localhost" resolves
            // to, if anything, differs from one machine to the next.
            var host = context.DnsEndPoint.Host;
            if (!options.AllowPrivateNetworks && WebhookAddress.IsLocalName(host))
            {
                throw new HttpRequestException($"{host} is this machine; webhooks are sent only to public addresses.");
            }

            IPAddress[] addresses;
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, ct).ConfigureAwait(false);
            }
            catch (SocketException) when (!options.AllowPrivateNetworks)
            {
                // Said as a name that points inward is said: otherwise the delivery log would tell a
                // tenant which names the server's own network knows.
                addresses = [];
            }

            var allowed = options.AllowPrivateNetworks ? addresses : [.. addresses.Where(WebhookAddress.IsPublic)];
            if (allowed.Length == 0)
            {
                throw new HttpRequestException($"{host} has no public address (it does not resolve, or only to private ones); webhooks are sent only to public addresses.");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Dispatch)
        {
            return;
        }

        var poll = TimeSpan.FromMilliseconds(_options.PollIntervalMs);
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = 0;
            try
            {
                started = await RoundAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Report(ex);
            }

            // Senders started may leave more behind, or free a place: go again at once; otherwise wait
            // for a commit, a sender that ends, or the poll.
            if (started == 0)
            {
                try
                {
                    await _wake.WaitAsync(poll, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Report(Exception ex)
    {
        if (OutageLog.IsStoreFailure(ex))
        {
            _outage.Failed("webhook dispatch", ex);
        }
        else
        {
            _logger.LogWarning(ex, "Webhook dispatch round failed; retrying");
        }
    }

    /// <summary>
    /// One claim: starts a sender for each endpoint claimed, up to <see cref="EndpointsPerRound"/>
    /// senders at once on this node, and returns how many it started without waiting for them.
    /// </summary>
    internal async Task<int> RoundAsync(CancellationToken ct)
    {
        var room = EndpointsPerRound - _sending.Count;
        if (room <= 0)
        {
            return 0;
        }

        // A lease is short, so that the endpoints of a node that died are taken up again within
        // seconds; a sender stops before a send that could outlast it (SendEndpointAsync).
        var now = _time.GetUtcNow();
        var leaseUntil = now + TimeSpan.FromMilliseconds(2L * _options.TimeoutMs + 5_000);
        var work = await _store.ClaimDeliveriesAsync(_node, now, leaseUntil, room, DeliveriesPerClaim, [.. _sending.Keys], ct);
        var started = 0;
        foreach (var endpoint in work)
        {
            // Marked before it starts, so that the sender's end always comes after (and removes it).
            if (_sending.TryAdd(endpoint.EndpointId, 0))
            {
                _ = SendThenWakeAsync(endpoint, leaseUntil, ct);
                started++;
            }
        }

        return started;
    }

    /// <summary>An endpoint's sender, apart from the round that started it; its end wakes the loop, which claims what it left.</summary>
    private async Task SendThenWakeAsync(OutboxWork work, DateTimeOffset leaseUntil, CancellationToken ct)
    {
        try
        {
            await Task.Yield();
            await SendEndpointAsync(work, leaseUntil, ct);
        }
        catch (Exception ex)
        {
            // Not awaited by anyone: what goes wrong is said here (nothing, when the node is stopping).
            if (!ct.IsCancellationRequested)
            {
                Report(ex);
            }
        }
        finally
        {
            _sending.TryRemove(work.EndpointId, out _);
            Wake();
        }
    }

    private async Task SendEndpointAsync(OutboxWork work, DateTimeOffset leaseUntil, CancellationToken ct)
    {
        try
        {
            foreach (var message in work.Messages)
            {
                // In order: one waiting for its retry holds back every later one. And no send that
                // could end after the lease, when another node may take the endpoint over.
                var now = _time.GetUtcNow();
                if (message.NextAttemptAt is { } next && next > now || now + TimeSpan.FromMilliseconds(_options.TimeoutMs) > leaseUntil)
                {
                    break;
                }

                var (status, error, elapsed) = await SendAsync(work, message, ct);
                var result = await RecordAsync(new RecordDeliveryAttempt(
                    work.TenantId, work.EndpointId, message.Sequence, status, error, (int)Math.Min(int.MaxValue, elapsed.TotalMilliseconds), Random.Shared.NextDouble()), ct);
                if (result.Status != EngineStatus.Decided || status is not (>= 200 and < 300))
                {
                    break;
                }
            }
        }
        finally
        {
            try
            {
                await _store.ReleaseClaimAsync(_node, work.EndpointId, CancellationToken.None);
            }
            catch (Exception ex)
            {
                // The lease runs out by itself; another round or node takes the endpoint then.
                _logger.LogDebug(ex, "Could not release the claim on webhook {Endpoint}", work.EndpointId);
            }
        }

    }

    /// <summary>
    /// The send has happened: an attempt left unrecorded is sent again by the next round, a second
    /// copy the receiver has to drop. What fails a batch (a store error, a lock wait given up, a lost
    /// connection) and a full queue usually pass within moments, so the answer is submitted again a
    /// few times before that. Again is safe: a batch that failed applied nothing, and one whose answer
    /// alone was lost left the delivery settled if it succeeded (the core then changes nothing); only a
    /// failed send recorded twice that way counts one attempt too many.
    /// </summary>
    private async Task<EngineResult> RecordAsync(RecordDeliveryAttempt attempt, CancellationToken ct)
    {
        for (var tries = 1; ; tries++)
        {
            var result = await _engine.SubmitAsync(attempt);
            if (result.Status is not (EngineStatus.Unavailable or EngineStatus.Overloaded) || tries == RecordTries)
            {
                return result;
            }

            // Wall-clock pauses, doubling from 50 ms (about 1.5 s in all, well inside the lease): they
            // wait for the store, not for anything the domain's clock decides. A stop ends them.
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 << (tries - 1)), ct);
            }
            catch (OperationCanceledException)
            {
                return result;
            }
        }
    }

    private async Task<(int? Status, string? Error, TimeSpan Elapsed)> SendAsync(OutboxWork work, OutboxMessage message, CancellationToken ct)
    {
        var body = WebhookPayload.Envelope(message);
        var id = message.MessageId.ToString();
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        var signature = WebhookSigner.Sign(work.Secret, id, timestamp, body);
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.TimeoutMs);
        for (var send = 1; ; send++)
        {
            // A request message is sent once; a second send is a new one with the same bytes.
            using var request = new HttpRequestMessage(HttpMethod.Post, work.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Add("webhook-id", id);
            request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", signature);
            try
            {
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var status = (int)response.StatusCode;
                return (status, status is >= 200 and < 300 ? null : $"HTTP {status}", Stopwatch.GetElapsedTime(started));
            }
            catch (HttpRequestException ex) when (send == 1 && ex.HttpRequestError == HttpRequestError.ResponseEnded)
            {
                // The connection ended before a byte of an answer: nearly always a kept-alive connection
                // the receiver closed as this request went out on it (its idle timeout, or an HTTP/1.0
                // server closing after each answer without saying so), which HttpClient does not send
                // again for a POST. Sent again at once, on a new connection, inside the same timeout; a
                // receiver that did see it gets the same webhook-id twice, as on any retry.
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return (null, $"timed out after {_options.TimeoutMs} ms", Stopwatch.GetElapsedTime(started));
            }
            catch (HttpRequestException ex)
            {
                var text = FailureText(ex);
                return (null, text.Length > MaxErrorLength ? text[..MaxErrorLength] : text, Stopwatch.GetElapsedTime(started));
            }
        }
    }

    /// <summary>
    /// What went wrong, for the attempt's log: HttpClient's own message says only that sending failed,
    /// so the innermost cause follows it ("the response ended prematurely", a socket's error code).
    /// </summary>
    internal static string FailureText(HttpRequestException ex)
    {
        Exception cause = ex;
        while (cause.InnerException is { } inner)
        {
            cause = inner;
        }

        return cause switch
        {
            // HttpClient's own message already carries it (a refusal thrown as the connection opens).
            _ when ReferenceEquals(cause, ex) || ex.Message.Contains(cause.Message, StringComparison.Ordinal) => ex.Message,
            SocketException socket => $"{ex.Message} ({socket.SocketErrorCode}: {socket.Message})",
            _ => $"{ex.Message} ({cause.Message})",
        };
    }

    public override void Dispose()
    {
        _engine.OutboxChanged -= Wake;
        _http.Dispose();
        _wake.Dispose();
        base.Dispose();
    }
}

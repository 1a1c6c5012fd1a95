using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// What a test can see of the service's state: the API's answers about one tenant's event, and every
/// row of the database but the idempotency records (a refused request with a key keeps its answer there,
/// by design, so a retry gets the same refusal).
/// </summary>
public static class StateSnapshot
{
    // A key's last_used_at is left out: it moves by itself, about once a minute while the key is in use
    // (KeyUseFlush), a record of use rather than a change any request makes.
    private static readonly (string Table, string Key)[] Tables =
    [
        ("tenants", "id"), ("api_keys", "key_hash"), ("capacities", "id"), ("pricing", "id"), ("reservations", "id"), ("allocations", "id"),
        ("ledger_chunks", "tenant_id, event_id, last_seq"), ("buyer_limits", "id"), (BuyerUsage, "capacity_id, buyer_key"),
        ("waitlist_entries", "id"), ("waitlist_lines", "capacity_id, sequence, entry_id"),
    ];

    // A buyer's usage is its row plus its entries in the usage log, which an idle node folds into the
    // row whenever it likes (UsageFoldService): what a request may change is the sum, so that is what
    // is compared. A buyer whose sum is 0 is left out (a fold of +1 and -1 writes no row).
    private const string BuyerUsage =
        "(SELECT capacity_id, buyer_key, tenant_id, SUM(used) AS used FROM (SELECT capacity_id, buyer_key, tenant_id, used FROM buyer_usage "
        + "UNION ALL SELECT capacity_id, buyer_key, tenant_id, delta FROM buyer_usage_log) u GROUP BY capacity_id, buyer_key, tenant_id HAVING SUM(used) <> 0) usage";

    /// <param name="capacities">Capacities to read, each with its prices, allocations and waiting list.</param>
    /// <param name="limits">Buyer limits to read, each with its usage by every one of <paramref name="buyers"/>.</param>
    /// <param name="entries">Waiting-list entries to read (with their position while they wait).</param>
    public static async Task<string> OfEventAsync(
        HttpClient client,
        string eventId,
        IEnumerable<string> capacities,
        IEnumerable<string> reservations,
        IEnumerable<string> prices,
        IEnumerable<string>? allocations = null,
        IEnumerable<string>? limits = null,
        IReadOnlyCollection<string>? buyers = null,
        IEnumerable<string>? entries = null)
    {
        var paths = new List<string>
        {
            $"/events/{eventId}/capacity", $"/events/{eventId}/capacity/total", $"/events/{eventId}/ledger?limit=1000", $"/events/{eventId}/limits",
        };
        foreach (var c in capacities)
        {
            paths.Add($"/capacity/{c}");
            paths.Add($"/capacity/{c}/pricing");
            paths.Add($"/capacity/{c}/allocations");
            paths.Add($"/capacity/{c}/waitlist?limit=1000");
        }

        paths.AddRange((allocations ?? []).Select(a => $"/allocations/{a}"));

        paths.AddRange(reservations.Select(r => $"/reservations/{r}"));
        paths.AddRange(prices.Select(p => $"/pricing/{p}"));
        paths.AddRange((entries ?? []).Select(e => $"/waitlist/{e}"));
        foreach (var limit in limits ?? [])
        {
            paths.Add($"/limits/{limit}");
            paths.AddRange((buyers ?? []).Select(b => $"/limits/{limit}/usage?buyer_key={Uri.EscapeDataString(b)}"));
        }

        // All at once: they only read, and one at a time they were most of a PostgreSQL test's time
        // (a round trip or two each, two snapshots of about forty reads per test). The text keeps the
        // order of the paths.
        var answers = await Task.WhenAll(paths.Select(async path =>
        {
            using var response = await client.GetAsync(path);
            return $"{path} -> {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
        }));
        var text = new StringBuilder();
        foreach (var answer in answers)
        {
            text.AppendLine(answer);
        }

        return text.ToString();
    }

    /// <summary>Every row of every table that holds tenants, keys, capacities, prices, reservations, the ledger, buyer limits and their usage, or waiting lists, on either store.</summary>
    public static string OfDatabase(CapacityApp app)
    {
        if (app.Kind == StoreKind.Sqlite)
        {
            using var file = Open(app);
            return OfDatabase(file);
        }

        // The app's own connection, kept open across its tests' snapshots (which run one at a time).
        var connection = app.SnapshotConnection();
        lock (connection)
        {
            return OfDatabase(connection);
        }
    }

    private static string OfDatabase(System.Data.Common.DbConnection connection)
    {
        var text = new StringBuilder();
        foreach (var (table, key) in Tables)
        {
            text.Append("# ").AppendLine(table == BuyerUsage ? "buyer usage" : table);
            using var command = connection.CreateCommand();
            var columns = table == "api_keys" ? "id, key_hash, tenant_id, prefix, name, scope, created_at, expires_at, revoked_at" : "*";
            command.CommandText = $"SELECT {columns} FROM {table} ORDER BY {key}";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    text.Append(reader.GetValue(i) switch
                    {
                        byte[] bytes => Convert.ToHexString(bytes),
                        Array array => string.Join(',', array.Cast<object>()),
                        var value => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture),
                    }).Append('|');
                }

                text.AppendLine();
            }
        }

        return text.ToString();
    }

    /// <summary>A read-only, unpooled connection to the app's SQLite file, so nothing stays open after the test.</summary>
    public static SqliteConnection Open(CapacityApp app)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(app.Directory, "capacity.db"),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }
}

/// <summary>
/// One tenant's event, seeded once for the whole class: a pool, a capped child, a price on each, an
/// active hold on the child, a confirmed sale on the pool, an open allocation of 10 on the child with
/// a hold of 2 drawn from it, and a closed allocation on the pool; a buyer limit of 4 over the child
/// that requires a buyer key, with a hold of 3 by <see cref="Buyer"/>, and a limit that was deleted.
/// Waiting lists: a sold-out capacity whose list is open, with one entry waiting and one that left; a
/// capacity whose list was opened and closed again; the child's list open (so a join meets its buyer
/// limit); and an open list in another event.
/// Every test sends something bad and checks that it was refused with the right problem and that this
/// state did not move.
/// </summary>
public sealed class BadInputWorldOnSqlite() : BadInputWorld(StoreKind.Sqlite);

public sealed class BadInputWorldOnPostgres() : BadInputWorld(StoreKind.Postgres);

public abstract class BadInputWorld(StoreKind kind) : IAsyncLifetime
{
    public const string Event = "bad-ev";

    /// <summary>The buyer of the keyed hold: 3 of the 4 tickets the limit allows.</summary>
    public const string Buyer = "fan";

    /// <summary>An event of its own for <see cref="Elsewhere"/>: one waiting-list entry cannot span two events.</summary>
    public const string OtherEvent = "bad-ev-wl";

    /// <summary>The buyer of the waiting entry.</summary>
    public const string QueueBuyer = "queuer";

    public CapacityApp App { get; private set; } = null!;

    public Tenant Tenant { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public string Pool { get; private set; } = "";

    public string Child { get; private set; } = "";

    public string PoolPrice { get; private set; } = "";

    public string ChildPrice { get; private set; } = "";

    public string Hold { get; private set; } = "";

    public string Sold { get; private set; } = "";

    /// <summary>An open allocation of 10 on the child: 2 held, 8 idle.</summary>
    public string Allocation { get; private set; } = "";

    public string AllocationHold { get; private set; } = "";

    /// <summary>A closed allocation on the pool.</summary>
    public string ClosedAllocation { get; private set; } = "";

    /// <summary>At most 4 tickets of the child per buyer, and a hold on the child must name its buyer.</summary>
    public string Limit { get; private set; } = "";

    /// <summary><see cref="Buyer"/>'s hold of 3 on the child.</summary>
    public string KeyedHold { get; private set; } = "";

    /// <summary>A limit over the pool, created and deleted: its id names nothing any more.</summary>
    public string DeletedLimit { get; private set; } = "";

    /// <summary>A capacity of 2, both held by <see cref="QueueHold"/>, with its waiting list open (fifo, offers of 10 minutes).</summary>
    public string Queue { get; private set; } = "";

    public string QueueHold { get; private set; } = "";

    /// <summary><see cref="QueueBuyer"/>'s entry for 2 of the queue, waiting first in line, with an external_ref.</summary>
    public string Entry { get; private set; } = "";

    /// <summary>An entry for 1 of the queue that left while it waited.</summary>
    public string LeftEntry { get; private set; } = "";

    /// <summary>A capacity of 5 whose waiting list was opened (first_fit) and closed again.</summary>
    public string ClosedList { get; private set; } = "";

    /// <summary>A capacity of 5 in <see cref="OtherEvent"/> with its waiting list open.</summary>
    public string Elsewhere { get; private set; } = "";

    /// <summary>Set while a request is being tried, cleared when it is proven to have changed nothing.</summary>
    private bool _dirty;

    /// <summary>
    /// The state as the last passing <see cref="AssertRefusedAsync"/> left it, which is the next one's
    /// starting state unless something else ran in between: anything sent through the world, a
    /// re-seed or <see cref="MarkChanged"/> drops it. Reusing it halves the snapshots taken (on
    /// PostgreSQL they were most of this class's minutes). A stale one can only fail a test, since
    /// the state after the request is read afresh.
    /// </summary>
    private string? _unchanged;

    public async ValueTask InitializeAsync()
    {
        App = await CapacityApp.CreateAsync(kind);
        Admin = App.Admin();
        await SeedAsync();
    }

    /// <summary>For a test that changes the seeded state on purpose: the next test starts from a fresh tenant.</summary>
    public void MarkChanged() => (_dirty, _unchanged) = (true, null);

    /// <summary>
    /// After a test that failed (a bad request that did change something), the next test starts
    /// from a fresh tenant, so one server bug fails one test rather than every test after it.
    /// </summary>
    public async Task EnsureCleanAsync()
    {
        _unchanged = null;
        if (_dirty)
        {
            await SeedAsync();
            _dirty = false;
        }
    }

    private async Task SeedAsync()
    {
        Tenant = await App.NewTenantAsync("Bad input");
        var t = Tenant.Client;
        Pool = await t.CreateCapacityAsync(Event, "Pool", 100);
        Child = await t.CreateCapacityAsync(Event, "Child", 50, Pool);
        PoolPrice = await PriceAsync(Pool, "Standard");
        ChildPrice = await PriceAsync(Child, "Reduced");
        Hold = await t.HoldAsync(Child, 2, 60);
        Sold = await t.HoldAsync(Pool, 3, 60);
        await Api.ReadAsync(await t.TransitAsync(Sold, "confirm"), 200);
        Allocation = await t.AllocateAsync(Child, "Box office", 10, DateTimeOffset.UtcNow.AddDays(7));
        AllocationHold = (await Api.ReadAsync(await t.ReserveFromAsync(Child, 2, Allocation, 60), 201))["reservation"]!["id"]!.GetValue<string>();
        ClosedAllocation = await t.AllocateAsync(Pool, "Closed", 5);
        await Api.ReadAsync(await t.PostAsync($"/allocations/{ClosedAllocation}/close", null), 200);

        // The limit comes after the unkeyed holds above, which it lets stand.
        Limit = await t.CreateLimitAsync(Event, "Four per person", 4, requireKey: true, Child);
        KeyedHold = (await Api.ReadAsync(await t.ReserveAsBuyerAsync(Child, 3, Buyer, 60), 201))["reservation"]!["id"]!.GetValue<string>();
        DeletedLimit = await t.CreateLimitAsync(Event, "Gone", 1, Pool);
        Assert.Equal(HttpStatusCode.NoContent, (await t.DeleteAsync($"/limits/{DeletedLimit}")).StatusCode);

        // Sold out before its list opens, so the entries wait rather than being offered at once.
        Queue = await t.CreateCapacityAsync(Event, "Queue", 2);
        QueueHold = await t.HoldAsync(Queue, 2, 60);
        await t.EnableWaitlistAsync(Queue, "fifo", offerMinutes: 10);
        var entry = await Api.ReadAsync(await t.PostAsync("/waitlist", Api.Json(new { items = new[] { new { capacity_id = Queue, quantity = 2 } }, buyer_key = QueueBuyer, external_ref = "order-1" })), 201);
        Assert.Equal("waiting", entry["status"]!.GetValue<string>());
        Entry = entry["id"]!.GetValue<string>();
        LeftEntry = (await t.JoinOkAsync(null, (Queue, 1)))["id"]!.GetValue<string>();
        Assert.Equal("left", (await Api.ReadAsync(await t.DeleteAsync($"/waitlist/{LeftEntry}"), 200))["status"]!.GetValue<string>());
        ClosedList = await t.CreateCapacityAsync(Event, "Closed list", 5);
        await t.EnableWaitlistAsync(ClosedList, "first_fit");
        await Api.ReadAsync(await t.PutAsync($"/capacity/{ClosedList}", Api.Json("{\"waitlist\":{\"enabled\":false}}")), 200);
        Elsewhere = await t.CreateCapacityAsync(OtherEvent, "Elsewhere", 5);
        await t.EnableWaitlistAsync(Elsewhere, "fifo");
        await t.EnableWaitlistAsync(Child, "first_fit", offerMinutes: 15);
    }

    private async Task<string> PriceAsync(string capacity, string name)
    {
        var response = await Tenant.Client.PostAsync($"/capacity/{capacity}/pricing", Api.Json(new { name, base_price = 40.5m, service_fee = 2m, tax_rate = 0.2m, currency = "EUR" }));
        return (await Api.ReadAsync(response, 201))["id"]!.GetValue<string>();
    }

    public async ValueTask DisposeAsync()
    {
        Admin?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }
    }

    /// <summary>
    /// The state, with the usage of the seeded buyer and of a buyer no hold names (whom refused holds
    /// must not count), and every capacity's waiting list, the other event's included.
    /// </summary>
    public async Task<string> SnapshotAsync() =>
        await StateSnapshot.OfEventAsync(
            Tenant.Client,
            Event,
            [Pool, Child, Queue, ClosedList, Elsewhere],
            [Hold, Sold, AllocationHold, KeyedHold, QueueHold],
            [PoolPrice, ChildPrice],
            [Allocation, ClosedAllocation],
            [Limit],
            [Buyer, "newcomer", QueueBuyer],
            [Entry, LeftEntry])
        + StateSnapshot.OfDatabase(App);

    /// <summary>
    /// Turns a template into text: <c>'</c> becomes <c>"</c> (so JSON fits in an attribute) and
    /// <c>{name}</c> tokens become the seeded ids or generated values.
    /// </summary>
    public string Fill(string template)
    {
        var text = template.Replace('\'', '"');
        if (!text.Contains('{', StringComparison.Ordinal))
        {
            return text;
        }

        return text
            .Replace("{ev}", Event, StringComparison.Ordinal)
            .Replace("{pool}", Pool, StringComparison.Ordinal)
            .Replace("{child}", Child, StringComparison.Ordinal)
            .Replace("{pool_price}", PoolPrice, StringComparison.Ordinal)
            .Replace("{child_price}", ChildPrice, StringComparison.Ordinal)
            .Replace("{hold}", Hold, StringComparison.Ordinal)
            .Replace("{sold}", Sold, StringComparison.Ordinal)
            .Replace("{alloc}", Allocation, StringComparison.Ordinal)
            .Replace("{closed_alloc}", ClosedAllocation, StringComparison.Ordinal)
            .Replace("{limit}", Limit, StringComparison.Ordinal)
            .Replace("{deleted_limit}", DeletedLimit, StringComparison.Ordinal)
            .Replace("{keyed_hold}", KeyedHold, StringComparison.Ordinal)
            .Replace("{queue}", Queue, StringComparison.Ordinal)
            .Replace("{queue_hold}", QueueHold, StringComparison.Ordinal)
            .Replace("{left_entry}", LeftEntry, StringComparison.Ordinal)
            .Replace("{entry}", Entry, StringComparison.Ordinal)
            .Replace("{closed_list}", ClosedList, StringComparison.Ordinal)
            .Replace("{elsewhere}", Elsewhere, StringComparison.Ordinal)
            .Replace("{tenant}", Tenant.Id.ToString(), StringComparison.Ordinal)
            .Replace("{random}", Guid.NewGuid().ToString(), StringComparison.Ordinal)
            .Replace("{x10k}", new string('x', 10_000), StringComparison.Ordinal)
            .Replace("{x201}", new string('x', 201), StringComparison.Ordinal)
            .Replace("{x65}", new string('x', 65), StringComparison.Ordinal)
            .Replace("{x129}", new string('x', 129), StringComparison.Ordinal)
            .Replace("{101ids}", RandomIds(101), StringComparison.Ordinal)
            .Replace("{17parents}", RandomIds(17), StringComparison.Ordinal)
            .Replace("{51items}", "[" + string.Join(",", Enumerable.Range(0, 51).Select(_ => $"{{\"capacity_id\":\"{Child}\",\"quantity\":1}}")) + "]", StringComparison.Ordinal)
            .Replace("{nested}", new string('[', 500) + new string(']', 500), StringComparison.Ordinal);
    }

    /// <summary>A JSON array of <paramref name="count"/> GUIDs that name nothing.</summary>
    private static string RandomIds(int count) => "[" + string.Join(",", Enumerable.Range(0, count).Select(_ => $"\"{Guid.NewGuid()}\"")) + "]";

    public Task<HttpResponseMessage> SendAsync(string method, string path, string? body, Action<HttpRequestMessage>? configure = null, bool admin = false) =>
        SendAsync(method, path, body is null ? null : Encoding.UTF8.GetBytes(Fill(body)), configure, admin);

    public async Task<HttpResponseMessage> SendAsync(string method, string path, byte[]? body, Action<HttpRequestMessage>? configure = null, bool admin = false)
    {
        _unchanged = null;
        using var request = new HttpRequestMessage(new HttpMethod(method), Fill(path));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        configure?.Invoke(request);
        return await (admin ? Admin : Tenant.Client).SendAsync(request);
    }

    /// <summary>
    /// Sends straight into the pipeline, below HttpClient, which drops a header whose value is empty
    /// (Kestrel delivers <c>Idempotency-Key:</c> with no value as an empty string).
    /// </summary>
    public async Task<HttpResponseMessage> SendRawAsync(string method, string path, string? body, string header, string value, bool admin = false)
    {
        _unchanged = null;
        var filled = Fill(path);
        var bytes = body is null ? [] : Encoding.UTF8.GetBytes(Fill(body));
        var context = await App.Server.SendAsync(c =>
        {
            c.Request.Method = method;
            var query = filled.IndexOf('?', StringComparison.Ordinal);
            c.Request.Path = query < 0 ? filled : filled[..query];
            c.Request.QueryString = query < 0 ? default : new Microsoft.AspNetCore.Http.QueryString(filled[query..]);
            c.Request.Headers.Authorization = "Bearer " + (admin ? CapacityApp.AdminKey : Tenant.Key);
            c.Request.Headers[header] = value;
            c.Request.ContentType = "application/json";
            c.Request.ContentLength = bytes.Length;
            c.Request.Body = new MemoryStream(bytes);
        });
        using var answer = new MemoryStream();
        await context.Response.Body.CopyToAsync(answer);
        var response = new HttpResponseMessage((HttpStatusCode)context.Response.StatusCode) { Content = new ByteArrayContent(answer.ToArray()) };
        if (context.Response.ContentType is { } type)
        {
            response.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
        }

        return response;
    }

    /// <summary>
    /// Sends the request, asserts the problem (and, for a validation error, its <c>errors</c> object
    /// naming <paramref name="field"/>), then asserts that nothing changed and the ledger still adds up.
    /// </summary>
    public async Task<JsonObject> AssertRefusedAsync(Func<Task<HttpResponseMessage>> send, int status, string code, string? field = null)
    {
        var before = _unchanged;
        await EnsureCleanAsync();
        before ??= await SnapshotAsync();
        _dirty = true;
        using var response = await send();
        var problem = await Api.ProblemAsync(response, status, code);
        if (code == "VALIDATION_ERROR")
        {
            var errors = Assert.IsType<JsonObject>(problem["errors"]);
            Assert.NotEmpty(errors);
            if (field is not null)
            {
                Assert.True(errors.ContainsKey(field), $"Expected an error for '{field}', got: {errors.ToJsonString()}");
            }
        }

        var after = await SnapshotAsync();
        Assert.Equal(before, after);
        await App.AssertInvariantsAsync();
        (_dirty, _unchanged) = (false, after);
        return problem;
    }

    public Task<JsonObject> AssertRefusedAsync(string method, string path, string? body, int status, string code, string? field = null, bool admin = false) =>
        AssertRefusedAsync(() => SendAsync(method, path, body, null, admin), status, code, field);
}

/// <summary>
/// Every route that takes input refuses bad input with a stable problem code, never a 5xx, and
/// refuses it whole: nothing about the event, its prices, its holds or its ledger changes.
/// </summary>
public sealed class BadInputTests_on_sqlite(BadInputWorldOnSqlite world) : BadInputTests<BadInputWorldOnSqlite>(world);

public sealed class BadInputTests_on_postgres(BadInputWorldOnPostgres world) : BadInputTests<BadInputWorldOnPostgres>(world);

public abstract class BadInputTests<TWorld>(TWorld world) : IClassFixture<TWorld>
    where TWorld : BadInputWorld
{
    private const string Create = "/events/{ev}/capacity";

    [Theory]
    // Not JSON, or not an object.
    [InlineData(null, "body")]
    [InlineData("", "body")]
    [InlineData("   ", "body")]
    [InlineData("{'section_name':", null)]
    [InlineData("{'section_name':'A','total_capacity':10", null)]
    [InlineData("{'section_name':'A'}}", null)]
    [InlineData("not json", null)]
    [InlineData("[]", "body")]
    [InlineData("[{'section_name':'A'}]", "body")]
    [InlineData("42", "body")]
    [InlineData("'a string'", "body")]
    [InlineData("null", "body")]
    [InlineData("true", "body")]
    [InlineData("{nested}", "body")]
    // Unknown fields, counters, missing and null required fields.
    [InlineData("{'section_name':'A','total_capacity':10,'colour':'red'}", "colour")]
    [InlineData("{'section_name':'A','total_capacity':10,'available_capacity':5}", "available_capacity")]
    [InlineData("{'section_name':'A','total_capacity':10,'id':'{random}'}", "id")]
    [InlineData("{}", "section_name")]
    [InlineData("{'total_capacity':10}", "section_name")]
    [InlineData("{'section_name':null,'total_capacity':10}", "section_name")]
    // Wrong types.
    [InlineData("{'section_name':123,'total_capacity':10}", "section_name")]
    [InlineData("{'section_name':['A'],'total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'A','total_capacity':true}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':'10'}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':10.5}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':{}}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':10,'is_active':'yes'}", "is_active")]
    [InlineData("{'section_name':'A','total_capacity':10,'section_code':7}", "section_code")]
    [InlineData("{'section_name':'A','total_capacity':10,'mode':1}", "mode")]
    [InlineData("{'section_name':'A','parent_ids':'{pool}'}", "parent_ids")]
    // Out of range and overflow.
    [InlineData("{'section_name':'A','total_capacity':-1}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':1000001}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':2147483647}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':99999999999}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':-99999999999}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':1e40}", "total_capacity")]
    [InlineData("{'section_name':'A','total_capacity':1e3}", "total_capacity")]
    // Names: too long, blank, control characters.
    [InlineData("{'section_name':'{x10k}','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'{x201}','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'   ','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'A\\u0000B','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'A\\u001bB','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'A\\nB','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'A\\u007fB','total_capacity':10}", "section_name")]
    [InlineData("{'section_name':'A\tB','total_capacity':10}", null)]
    [InlineData("{'section_name':'A','section_code':'','total_capacity':10}", "section_code")]
    [InlineData("{'section_name':'A','section_code':'{x65}','total_capacity':10}", "section_code")]
    [InlineData("{'section_name':'A','section_code':'C\\u0007','total_capacity':10}", "section_code")]
    [InlineData("{'section_name':'A','schedule_id':'a b','total_capacity':10}", "schedule_id")]
    [InlineData("{'section_name':'A','schedule_id':'{x65}','total_capacity':10}", "schedule_id")]
    [InlineData("{'section_name':'A','schedule_id':'','total_capacity':10}", "schedule_id")]
    // Parents: not GUIDs, unknown, repeated, too many.
    [InlineData("{'section_name':'A','parent_ids':['not-a-guid']}", "parent_ids[0]")]
    [InlineData("{'section_name':'A','parent_ids':[null]}", "parent_ids[0]")]
    [InlineData("{'section_name':'A','parent_ids':[42]}", "parent_ids[0]")]
    [InlineData("{'section_name':'A','parent_ids':['{random}']}", "parent_ids[0]")]
    [InlineData("{'section_name':'A','parent_ids':['{pool}','{random}']}", "parent_ids[1]")]
    [InlineData("{'section_name':'A','parent_ids':['{pool}','{pool}']}", "parent_ids[1]")]
    [InlineData("{'section_name':'A','parent_ids':{17parents}}", "parent_ids")]
    // Modes that do not exist or disagree with the fields.
    [InlineData("{'section_name':'A','mode':'bogus'}", "mode")]
    [InlineData("{'section_name':'A','mode':'1'}", "mode")]
    [InlineData("{'section_name':'A','mode':''}", "mode")]
    [InlineData("{'section_name':'A','total_capacity':10,'mode':'shared'}", "mode")]
    [InlineData("{'section_name':'A','mode':'capped,shared'}", "mode")]
    public async Task Creating_a_capacity_with_a_bad_body_is_a_validation_error_that_creates_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("POST", Create, body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData("POST", Create, "{'section_name':'A','section_name':'B','total_capacity':10}")]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'quantity':2}")]
    [InlineData("POST", "/capacity/{child}/pricing", "{'name':'P','base_price':1,'base_price':0,'currency':'EUR'}")]
    [InlineData("POST", "/events/{ev}/limits", "{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'per_buyer_max':400}")]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'buyer_key':'fan','buyer_key':'someone-else'}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':'fan','buyer_key':'someone-else'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'items':[{'capacity_id':'{queue}','quantity':2}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1,'quantity':2}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','capacity_id':'{child}','quantity':1}],'buyer_key':'fan'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'buyer_key':'fan','buyer_key':'someone-else'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'external_ref':'a','external_ref':'b'}")]
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'enabled':false,'enabled':false}}")]
    [InlineData("PUT", "/capacity/{pool}", "{'waitlist':{'enabled':true},'waitlist':{'enabled':true}}")]
    public async Task A_repeated_field_in_a_create_body_is_a_validation_error_as_it_is_in_an_update(string method, string path, string body) =>
        await world.AssertRefusedAsync(method, path, body, 400, "VALIDATION_ERROR");

    [Theory]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'quantity':2}", "quantity", "quantity appears twice.")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1,'quantity':2}]}", "items[0].quantity", "items[0].quantity appears twice.")]
    [InlineData("POST", Create, "{'section_name':'\\ud800','total_capacity':10}", "section_name", "section_name is not valid text (a lone surrogate or invalid UTF-8).")]
    [InlineData("POST", "/capacity/{child}/allocations", "{'name':'B','quantity':1,'expires_at':'9999-12-31T23:59:59-14:00'}", "expires_at", "expires_at is an RFC 3339 date-time, but its instant in UTC falls outside the years 0001 to 9999.")]
    [InlineData("POST", "/capacity/{child}/allocations", "{'name':'B','quantity':1,'expires_at':'2030-01-01T00:00:00+15:00'}", "expires_at", "expires_at must be an RFC 3339 date-time with an offset, e.g. 2030-05-01T18:00:00Z.")]
    [InlineData("PUT", "/allocations/{alloc}", "{'expires_at':'0001-01-01T00:00:00+14:00'}", "expires_at", "expires_at is an RFC 3339 date-time, but its instant in UTC falls outside the years 0001 to 9999.")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1,'pricing_id':'01a250ae-0000-7000-8000-000000000001'}]}", "items[0].pricing_id", "Pricing 01a250ae-0000-7000-8000-000000000001 does not exist.")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{pool}','quantity':1,'pricing_id':'{child_price}'}]}", "items[0].pricing_id", "Pricing {child_price} does not belong to capacity {pool}.")]
    public async Task A_refused_field_is_told_what_is_wrong_with_it(string method, string path, string body, string field, string message)
    {
        var problem = await world.AssertRefusedAsync(method, path, body, 400, "VALIDATION_ERROR", field);
        Assert.Equal(world.Fill(message), problem["errors"]![field]![0]!.GetValue<string>());
    }

    [Theory]
    [InlineData("POST", Create, "{'section_name':'\\ud800','total_capacity':10}")]
    [InlineData("POST", Create, "{'section_name':'A','section_code':'\\udc00'}")]
    [InlineData("POST", "/capacity/{child}/pricing", "{'name':'\\ud800','base_price':1,'currency':'EUR'}")]
    [InlineData("POST", "/capacity/{child}/pricing", "{'name':'P','base_price':1,'currency':'EU\\udfff'}")]
    [InlineData("POST", "/reservations/{hold}/confirm", "{'\\ud800':1}")]
    [InlineData("PUT", "/capacity/{pool}", "{'section_name':'\\ud800'}")]
    [InlineData("PUT", "/capacity/{pool}", "{'section_code':'\\udfff'}")]
    [InlineData("PUT", "/capacity/{pool}", "{'\\ud800':1}")]
    [InlineData("PUT", "/pricing/{child_price}", "{'name':'\\ud800'}")]
    [InlineData("PUT", "/pricing/{child_price}", "{'currency':'EU\\udc00'}")]
    [InlineData("POST", "/capacity/{child}/allocations", "{'name':'\\ud800','quantity':1}")]
    [InlineData("POST", "/capacity/{child}/allocations", "{'name':'B','quantity':1,'expires_at':'2030-01-01T00:00:00Z\\ud800'}")]
    [InlineData("PUT", "/allocations/{alloc}", "{'name':'\\ud800'}")]
    [InlineData("PUT", "/allocations/{alloc}", "{'expires_at':'\\udc00'}")]
    [InlineData("PUT", "/allocations/{alloc}", "{'\\ud800':1}")]
    [InlineData("POST", "/allocations/{alloc}/close", "{'\\ud800':1}")]
    [InlineData("POST", "/events/{ev}/limits", "{'name':'\\ud800','capacity_ids':['{child}'],'per_buyer_max':4}")]
    [InlineData("POST", "/events/{ev}/limits", "{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'\\ud800':1}")]
    [InlineData("PUT", "/limits/{limit}", "{'name':'Four \\udfff'}")]
    [InlineData("PUT", "/limits/{limit}", "{'\\ud800':1}")]
    [InlineData("DELETE", "/limits/{limit}", "{'\\ud800':1}")]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'buyer_key':'\\ud800'}")]
    [InlineData("POST", "/capacity/{pool}/reserve", "{'quantity':1,'buyer_key':'fan\\udc00'}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':'\\udfff'}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{pool}','quantity':1}],'buyer_key':'\\udc00\\ud800'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'buyer_key':'\\ud800'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'external_ref':'\\udc00'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'external_ref':'order \\udfff'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'\\ud800':1}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1,'\\ud800':1}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'\\ud800','quantity':1}]}")]
    // A policy is compared with its escapes decoded, and a name inside the list is read as text: both must refuse a lone surrogate.
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'policy':'\\ud800'}}")]
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'policy':'fifo\\udc00'}}")]
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'policy':'first_fit\\udfff'}}")]
    [InlineData("PUT", "/capacity/{pool}", "{'waitlist':{'\\ud800':true}}")]
    [InlineData("PUT", "/capacity/{queue}", "{'section_name':'Renamed','waitlist':{'enabled':false,'\\udc00':1}}")]
    [InlineData("DELETE", "/waitlist/{entry}", "{'\\ud800':1}")]
    public async Task A_string_with_a_lone_surrogate_is_a_validation_error(string method, string path, string body) =>
        await world.AssertRefusedAsync(method, path, body, 400, "VALIDATION_ERROR");

    [Fact]
    public async Task A_lone_surrogate_in_a_tenant_name_is_a_validation_error() =>
        await world.AssertRefusedAsync("POST", "/admin/tenants", "{'name':'T\\ud800'}", 400, "VALIDATION_ERROR", admin: true);

    [Theory]
    [InlineData("a%20b")]
    [InlineData("a+b")]
    [InlineData("%01")]
    [InlineData("ev%1F")]
    [InlineData("ev%7F")]
    [InlineData("caf%C3%A9")]
    [InlineData("a%2Fb")]
    [InlineData("a%0Ab")]
    [InlineData("%E2%80%8B")]
    [InlineData("ev!")]
    [InlineData("ev%22%3B")]
    [InlineData("{x65}")]
    public async Task Creating_under_a_bad_event_id_is_a_validation_error_that_creates_nothing(string eventId) =>
        await world.AssertRefusedAsync("POST", $"/events/{eventId}/capacity", "{'section_name':'A','total_capacity':10}", 400, "VALIDATION_ERROR", "event_id");

    [Theory]
    [InlineData("/events/{0}/capacity", "a%20b")]
    [InlineData("/events/{0}/capacity", "%01")]
    [InlineData("/events/{0}/capacity", "{x65}")]
    [InlineData("/events/{0}/capacity/total", "a%20b")]
    [InlineData("/events/{0}/capacity/total", "%1F")]
    [InlineData("/events/{0}/capacity/total", "{x65}")]
    [InlineData("/events/{0}/ledger", "a%20b")]
    [InlineData("/events/{0}/ledger", "%7F")]
    [InlineData("/events/{0}/ledger", "{x65}")]
    [InlineData("/events/{0}/ledger?limit=10", "caf%C3%A9")]
    [InlineData("/events/{0}/capacity/stream", "a%20b")]
    [InlineData("/events/{0}/capacity/stream", "{x65}")]
    [InlineData("/events/{0}/limits", "a%20b")]
    [InlineData("/events/{0}/limits", "%01")]
    [InlineData("/events/{0}/limits", "caf%C3%A9")]
    [InlineData("/events/{0}/limits", "{x65}")]
    public async Task Reading_an_event_with_a_bad_event_id_is_a_validation_error(string route, string eventId) =>
        await world.AssertRefusedAsync("GET", string.Format(System.Globalization.CultureInfo.InvariantCulture, route, eventId), null, 400, "VALIDATION_ERROR", "event_id");

    [Fact]
    public async Task The_longest_valid_event_id_is_accepted_on_reads()
    {
        var id = new string('e', 64);
        var list = await Api.ReadAsync(await world.Tenant.Client.GetAsync($"/events/{id}/capacity"), 200);
        Assert.Empty(list["capacity"]!.AsArray());
    }

    [Theory]
    [InlineData("{pool}", null, "body")]
    [InlineData("{pool}", "", "body")]
    [InlineData("{pool}", "{'section_name':", "body")]
    [InlineData("{pool}", "{'section_name':'A'", "body")]
    [InlineData("{pool}", "not json", "body")]
    [InlineData("{pool}", "[]", "body")]
    [InlineData("{pool}", "[{'section_name':'A'}]", "body")]
    [InlineData("{pool}", "42", "body")]
    [InlineData("{pool}", "'a string'", "body")]
    [InlineData("{pool}", "null", "body")]
    [InlineData("{pool}", "{nested}", "body")]
    [InlineData("{pool}", "{'colour':'red'}", "colour")]
    [InlineData("{pool}", "{'id':'{random}'}", "id")]
    [InlineData("{pool}", "{'event_id':'other'}", "event_id")]
    [InlineData("{pool}", "{'parent_ids':[]}", "parent_ids")]
    [InlineData("{pool}", "{'mode':'own'}", "mode")]
    [InlineData("{pool}", "{'available_capacity':1000}", "available_capacity")]
    [InlineData("{pool}", "{'reserved_capacity':0}", "reserved_capacity")]
    [InlineData("{pool}", "{'sold_count':0}", "sold_count")]
    [InlineData("{pool}", "{'section_name':123}", "section_name")]
    [InlineData("{pool}", "{'section_name':null}", "section_name")]
    [InlineData("{pool}", "{'total_capacity':true}", "total_capacity")]
    [InlineData("{pool}", "{'total_capacity':'10'}", "total_capacity")]
    [InlineData("{pool}", "{'total_capacity':10.5}", "total_capacity")]
    [InlineData("{pool}", "{'total_capacity':99999999999}", "total_capacity")]
    [InlineData("{pool}", "{'total_capacity':1e40}", "total_capacity")]
    [InlineData("{pool}", "{'total_capacity':-1}", "total_capacity")]
    [InlineData("{pool}", "{'total_capacity':1000001}", "total_capacity")]
    [InlineData("{pool}", "{'is_active':'no'}", "is_active")]
    [InlineData("{pool}", "{'is_active':null}", "is_active")]
    [InlineData("{pool}", "{'section_name':'{x10k}'}", "section_name")]
    [InlineData("{pool}", "{'section_name':'A\\u0000B'}", "section_name")]
    [InlineData("{pool}", "{'section_name':'   '}", "section_name")]
    [InlineData("{pool}", "{'section_code':''}", "section_code")]
    [InlineData("{pool}", "{'section_code':'{x65}'}", "section_code")]
    [InlineData("{child}", "{'section_name':'Renamed','total_capacity':-5}", "total_capacity")]
    [InlineData("{pool}", "{'section_name':'A','section_name':'B'}", "body")]
    [InlineData("{pool}", "{'total_capacity':1,'total_capacity':null}", "body")]
    public async Task Updating_a_capacity_with_a_bad_body_is_a_validation_error_that_changes_nothing(string id, string? body, string? field) =>
        await world.AssertRefusedAsync("PUT", "/capacity/" + id, body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData("POST", "/events/{ev}/capacity", "{\"section_name\":\"", "\",\"total_capacity\":10}")]
    [InlineData("PUT", "/capacity/{pool}", "{\"section_name\":\"", "\"}")]
    [InlineData("PUT", "/capacity/{pool}", "{\"", "\":1}")]
    [InlineData("POST", "/capacity/{pool}/pricing", "{\"name\":\"", "\",\"base_price\":1,\"currency\":\"EUR\"}")]
    [InlineData("PUT", "/pricing/{pool_price}", "{\"name\":\"", "\"}")]
    [InlineData("POST", "/capacity/{child}/allocations", "{\"name\":\"", "\",\"quantity\":1}")]
    [InlineData("POST", "/capacity/{child}/allocations", "{\"name\":\"B\",\"quantity\":1,\"expires_at\":\"", "\"}")]
    [InlineData("PUT", "/allocations/{alloc}", "{\"name\":\"", "\"}")]
    [InlineData("PUT", "/allocations/{alloc}", "{\"expires_at\":\"", "\"}")]
    [InlineData("POST", "/reservations/{hold}/confirm", "{\"", "\":1}")]
    [InlineData("POST", "/events/{ev}/limits", "{\"name\":\"", "\",\"capacity_ids\":[\"{child}\"],\"per_buyer_max\":4}")]
    [InlineData("PUT", "/limits/{limit}", "{\"name\":\"", "\"}")]
    [InlineData("PUT", "/limits/{limit}", "{\"", "\":1}")]
    [InlineData("DELETE", "/limits/{limit}", "{\"", "\":1}")]
    [InlineData("POST", "/capacity/{child}/reserve", "{\"quantity\":1,\"buyer_key\":\"", "\"}")]
    [InlineData("POST", "/reservations", "{\"items\":[{\"capacity_id\":\"{child}\",\"quantity\":1}],\"buyer_key\":\"", "\"}")]
    [InlineData("POST", "/waitlist", "{\"items\":[{\"capacity_id\":\"{queue}\",\"quantity\":1}],\"buyer_key\":\"", "\"}")]
    [InlineData("POST", "/waitlist", "{\"items\":[{\"capacity_id\":\"{queue}\",\"quantity\":1}],\"external_ref\":\"", "\"}")]
    [InlineData("POST", "/waitlist", "{\"items\":[{\"capacity_id\":\"{queue}\",\"quantity\":1,\"", "\":1}]}")]
    [InlineData("PUT", "/capacity/{queue}", "{\"waitlist\":{\"policy\":\"", "\"}}")]
    [InlineData("PUT", "/capacity/{queue}", "{\"waitlist\":{\"policy\":\"fifo", "\"}}")]
    [InlineData("PUT", "/capacity/{pool}", "{\"waitlist\":{\"", "\":true}}")]
    [InlineData("PUT", "/capacity/{queue}", "{\"section_name\":\"Renamed\",\"waitlist\":{\"enabled\":false,\"", "\":1}}")]
    [InlineData("DELETE", "/waitlist/{entry}", "{\"", "\":1}")]
    [InlineData("POST", "/admin/tenants", "{\"name\":\"", "\"}")]
    public async Task A_body_that_is_not_valid_utf8_is_a_validation_error(string method, string path, string head, string tail)
    {
        // Filled when sent (after any reseeding), so that the bytes are the only thing wrong with the body.
        byte[] Body() => [.. Encoding.UTF8.GetBytes(world.Fill(head)), 0xFF, 0xFE, 0xC3, (byte)'x', .. Encoding.UTF8.GetBytes(world.Fill(tail))];
        await world.AssertRefusedAsync(() => world.SendAsync(method, path, Body(), admin: path.StartsWith("/admin", StringComparison.Ordinal)), 400, "VALIDATION_ERROR");
    }

    [Theory]
    [InlineData("/capacity/{child}", "{'total_capacity':1}")]
    [InlineData("/capacity/{pool}", "{'total_capacity':4}")]
    [InlineData("/capacity/{pool}", "{'total_capacity':0}")]
    [InlineData("/capacity/{queue}", "{'total_capacity':1,'waitlist':{'enabled':false}}")]
    [InlineData("/capacity/{queue}", "{'waitlist':{'policy':'first_fit','offer_minutes':60},'total_capacity':0}")]
    public async Task Shrinking_a_capacity_below_what_is_held_and_sold_is_refused_and_changes_nothing(string path, string body) =>
        await world.AssertRefusedAsync("PUT", path, body, 409, "CAPACITY_BELOW_COMMITTED");

    [Theory]
    [InlineData("PUT", "/capacity/not-a-guid", "{'section_name':'A'}")]
    [InlineData("PUT", "/capacity/{random}", "{'section_name':'A'}")]
    [InlineData("PUT", "/capacity/{pool_price}", "{'section_name':'A'}")]
    [InlineData("PUT", "/capacity/{hold}", "{'section_name':'A'}")]
    [InlineData("GET", "/capacity/not-a-guid", null)]
    [InlineData("GET", "/capacity/{random}", null)]
    [InlineData("GET", "/capacity/%01", null)]
    [InlineData("GET", "/capacity/{x65}", null)]
    [InlineData("GET", "/capacity/{pool_price}", null)]
    [InlineData("POST", "/capacity/not-a-guid/check", "{'quantity':1}")]
    [InlineData("POST", "/capacity/{random}/check", "{'quantity':1}")]
    [InlineData("POST", "/capacity/{hold}/check", "{'quantity':1}")]
    [InlineData("POST", "/capacity/not-a-guid/reserve", "{'quantity':1}")]
    [InlineData("POST", "/capacity/{random}/reserve", "{'quantity':1}")]
    [InlineData("POST", "/capacity/{pool_price}/reserve", "{'quantity':1}")]
    [InlineData("POST", "/capacity/not-a-guid/pricing", "{'name':'P','base_price':1,'currency':'EUR'}")]
    [InlineData("POST", "/capacity/{random}/pricing", "{'name':'P','base_price':1,'currency':'EUR'}")]
    [InlineData("GET", "/capacity/not-a-guid/pricing", null)]
    [InlineData("GET", "/capacity/{random}/pricing", null)]
    [InlineData("GET", "/pricing/not-a-guid", null)]
    [InlineData("GET", "/pricing/{random}", null)]
    [InlineData("GET", "/pricing/{pool}", null)]
    [InlineData("PUT", "/pricing/not-a-guid", "{'name':'P'}")]
    [InlineData("PUT", "/pricing/{random}", "{'name':'P'}")]
    [InlineData("PUT", "/pricing/{pool}", "{'name':'P'}")]
    [InlineData("GET", "/reservations/not-a-guid", null)]
    [InlineData("GET", "/reservations/{random}", null)]
    [InlineData("GET", "/reservations/{pool}", null)]
    [InlineData("POST", "/reservations/not-a-guid/confirm", null)]
    [InlineData("POST", "/reservations/{random}/confirm", null)]
    [InlineData("POST", "/reservations/{pool}/confirm", "{}")]
    [InlineData("POST", "/reservations/not-a-guid/release", null)]
    [InlineData("POST", "/reservations/{random}/release", "{}")]
    [InlineData("POST", "/reservations/not-a-guid/cancel", null)]
    [InlineData("POST", "/reservations/{random}/cancel", null)]
    [InlineData("POST", "/reservations/not-a-guid/extend", "{'minutes':10}")]
    [InlineData("POST", "/reservations/{random}/extend", "{'minutes':10}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{random}','quantity':1}]}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1},{'capacity_id':'{random}','quantity':1}]}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{pool_price}','quantity':1}]}")]
    [InlineData("GET", "/allocations/not-a-guid", null)]
    [InlineData("GET", "/allocations/{random}", null)]
    [InlineData("GET", "/allocations/{pool}", null)]
    [InlineData("GET", "/allocations/{hold}", null)]
    [InlineData("GET", "/allocations/%01", null)]
    [InlineData("PUT", "/allocations/not-a-guid", "{'name':'A'}")]
    [InlineData("PUT", "/allocations/{random}", "{'name':'A'}")]
    [InlineData("PUT", "/allocations/{child}", "{'quantity':1}")]
    [InlineData("POST", "/allocations/not-a-guid/release", "{'quantity':1}")]
    [InlineData("POST", "/allocations/{random}/release", "{'quantity':1}")]
    [InlineData("POST", "/allocations/{hold}/release", "{'quantity':1}")]
    [InlineData("POST", "/allocations/not-a-guid/close", null)]
    [InlineData("POST", "/allocations/{random}/close", "{}")]
    [InlineData("POST", "/allocations/{child}/close", null)]
    [InlineData("GET", "/capacity/not-a-guid/allocations", null)]
    [InlineData("GET", "/capacity/{random}/allocations", null)]
    [InlineData("GET", "/capacity/{alloc}/allocations", null)]
    [InlineData("POST", "/capacity/not-a-guid/allocations", "{'name':'B','quantity':1}")]
    [InlineData("POST", "/capacity/{random}/allocations", "{'name':'B','quantity':1}")]
    [InlineData("POST", "/capacity/{alloc}/allocations", "{'name':'B','quantity':1}")]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'allocation_id':'{random}'}")]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'allocation_id':'{hold}'}")]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'allocation_id':'{child}'}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1},{'capacity_id':'{child}','quantity':1,'allocation_id':'{random}'}]}")]
    [InlineData("GET", "/limits/not-a-guid", null)]
    [InlineData("GET", "/limits/{random}", null)]
    [InlineData("GET", "/limits/{deleted_limit}", null)]
    [InlineData("GET", "/limits/{child}", null)]
    [InlineData("GET", "/limits/{keyed_hold}", null)]
    [InlineData("GET", "/limits/{alloc}", null)]
    [InlineData("GET", "/limits/{child_price}", null)]
    [InlineData("GET", "/limits/%01", null)]
    [InlineData("GET", "/limits/{x65}", null)]
    [InlineData("PUT", "/limits/not-a-guid", "{'name':'A'}")]
    [InlineData("PUT", "/limits/{random}", "{'per_buyer_max':10}")]
    [InlineData("PUT", "/limits/{deleted_limit}", "{'per_buyer_max':10}")]
    [InlineData("PUT", "/limits/{child}", "{'per_buyer_max':10}")]
    [InlineData("PUT", "/limits/{keyed_hold}", "{'name':'A'}")]
    [InlineData("DELETE", "/limits/not-a-guid", null)]
    [InlineData("DELETE", "/limits/{random}", null)]
    [InlineData("DELETE", "/limits/{deleted_limit}", null)]
    [InlineData("DELETE", "/limits/{deleted_limit}", "{}")]
    [InlineData("DELETE", "/limits/{pool}", null)]
    [InlineData("DELETE", "/limits/{keyed_hold}", null)]
    [InlineData("DELETE", "/limits/{alloc}", null)]
    [InlineData("GET", "/limits/not-a-guid/usage?buyer_key=fan", null)]
    [InlineData("GET", "/limits/{random}/usage?buyer_key=fan", null)]
    [InlineData("GET", "/limits/{deleted_limit}/usage?buyer_key=fan", null)]
    [InlineData("GET", "/limits/{child}/usage?buyer_key=fan", null)]
    [InlineData("GET", "/limits/{keyed_hold}/usage?buyer_key=fan", null)]
    [InlineData("GET", "/limits/{random}/usage", null)]
    [InlineData("GET", "/capacity/{limit}", null)]
    [InlineData("POST", "/capacity/{limit}/reserve", "{'quantity':1,'buyer_key':'fan'}")]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{limit}','quantity':1}],'buyer_key':'fan'}")]
    [InlineData("GET", "/reservations/{limit}", null)]
    [InlineData("POST", "/reservations/{limit}/release", null)]
    [InlineData("GET", "/allocations/{limit}", null)]
    [InlineData("GET", "/pricing/{limit}", null)]
    [InlineData("GET", "/waitlist/not-a-guid", null)]
    [InlineData("GET", "/waitlist/{random}", null)]
    [InlineData("GET", "/waitlist/{queue}", null)]
    [InlineData("GET", "/waitlist/{queue_hold}", null)]
    [InlineData("GET", "/waitlist/{keyed_hold}", null)]
    [InlineData("GET", "/waitlist/{limit}", null)]
    [InlineData("GET", "/waitlist/{alloc}", null)]
    [InlineData("GET", "/waitlist/%01", null)]
    [InlineData("GET", "/waitlist/{x65}", null)]
    [InlineData("GET", "/waitlist/{entry}x", null)]
    [InlineData("DELETE", "/waitlist/not-a-guid", null)]
    [InlineData("DELETE", "/waitlist/{random}", null)]
    [InlineData("DELETE", "/waitlist/{random}", "{}")]
    [InlineData("DELETE", "/waitlist/{queue}", null)]
    [InlineData("DELETE", "/waitlist/{queue_hold}", null)]
    [InlineData("DELETE", "/waitlist/{hold}", null)]
    [InlineData("DELETE", "/waitlist/{limit}", null)]
    [InlineData("DELETE", "/waitlist/%01", null)]
    [InlineData("GET", "/capacity/not-a-guid/waitlist", null)]
    [InlineData("GET", "/capacity/{random}/waitlist", null)]
    [InlineData("GET", "/capacity/{entry}/waitlist", null)]
    [InlineData("GET", "/capacity/{queue_hold}/waitlist", null)]
    [InlineData("GET", "/capacity/{limit}/waitlist", null)]
    [InlineData("GET", "/capacity/%01/waitlist", null)]
    [InlineData("GET", "/capacity/{x65}/waitlist", null)]
    [InlineData("GET", "/capacity/{random}/waitlist?limit=0", null)]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{random}','quantity':1}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{random}','quantity':1}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{entry}','quantity':1}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue_hold}','quantity':1}],'buyer_key':'fan'}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{pool_price}','quantity':1}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{limit}','quantity':1}]}")]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{alloc}','quantity':1}],'external_ref':'order-2'}")]
    [InlineData("PUT", "/capacity/not-a-guid", "{'waitlist':{'enabled':true}}")]
    [InlineData("PUT", "/capacity/{random}", "{'waitlist':{'enabled':true}}")]
    [InlineData("PUT", "/capacity/{random}", "{'waitlist':{'offer_minutes':0}}")]
    [InlineData("PUT", "/capacity/{entry}", "{'waitlist':{'enabled':false}}")]
    [InlineData("GET", "/capacity/{entry}", null)]
    [InlineData("POST", "/capacity/{entry}/reserve", "{'quantity':1}")]
    [InlineData("GET", "/reservations/{entry}", null)]
    [InlineData("POST", "/reservations/{entry}/confirm", null)]
    [InlineData("POST", "/reservations/{left_entry}/release", null)]
    [InlineData("GET", "/limits/{entry}", null)]
    [InlineData("GET", "/allocations/{entry}", null)]
    [InlineData("GET", "/pricing/{entry}", null)]
    [InlineData("GET", "/waitlist/{entry}/nothing-here", null)]
    [InlineData("GET", "/events/{ev}/limits/nothing-here", null)]
    [InlineData("GET", "/nothing-here", null)]
    [InlineData("POST", "/events/{ev}/capacity/nothing-here", "{}")]
    [InlineData("GET", "/reservations/{hold}/nothing-here", null)]
    public async Task An_id_that_names_nothing_is_not_found_and_changes_nothing(string method, string path, string? body) =>
        await world.AssertRefusedAsync(method, path, body, 404, "NOT_FOUND");

    [Theory]
    [InlineData(null, "VALIDATION_ERROR", "body")]
    [InlineData("{'quantity':", "VALIDATION_ERROR", null)]
    [InlineData("{'quantity':1", "VALIDATION_ERROR", null)]
    [InlineData("[]", "VALIDATION_ERROR", "body")]
    [InlineData("1", "VALIDATION_ERROR", "body")]
    [InlineData("'1'", "VALIDATION_ERROR", "body")]
    [InlineData("null", "VALIDATION_ERROR", "body")]
    [InlineData("{}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':null}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':'1'}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':1.5}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':true}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':99999999999}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':1e40}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':1,'reservation_minutes':10}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'quantity':0}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':-1}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':-2147483648}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':101}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':2147483647}", "INVALID_QUANTITY", null)]
    public async Task Checking_with_a_bad_body_is_refused(string? body, string code, string? field) =>
        await world.AssertRefusedAsync("POST", "/capacity/{child}/check", body, 400, code, field);

    [Theory]
    [InlineData(null, "VALIDATION_ERROR", "body")]
    [InlineData("", "VALIDATION_ERROR", "body")]
    [InlineData("{'quantity':", "VALIDATION_ERROR", null)]
    [InlineData("{'quantity':1", "VALIDATION_ERROR", null)]
    [InlineData("not json", "VALIDATION_ERROR", null)]
    [InlineData("[]", "VALIDATION_ERROR", "body")]
    [InlineData("[{'quantity':1}]", "VALIDATION_ERROR", "body")]
    [InlineData("1", "VALIDATION_ERROR", "body")]
    [InlineData("'1'", "VALIDATION_ERROR", "body")]
    [InlineData("null", "VALIDATION_ERROR", "body")]
    [InlineData("{nested}", "VALIDATION_ERROR", "body")]
    [InlineData("{}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'reservation_minutes':10}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':1,'colour':'red'}", "VALIDATION_ERROR", "colour")]
    [InlineData("{'quantity':1,'capacity_id':'{child}'}", "VALIDATION_ERROR", "capacity_id")]
    [InlineData("{'quantity':null}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':'1'}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':1.5}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':[1]}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':99999999999}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':-99999999999}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':1e40}", "VALIDATION_ERROR", "quantity")]
    [InlineData("{'quantity':0}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':-1}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':101}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':2147483647}", "INVALID_QUANTITY", null)]
    [InlineData("{'quantity':1,'reservation_minutes':0}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'quantity':1,'reservation_minutes':-5}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'quantity':1,'reservation_minutes':121}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'quantity':1,'reservation_minutes':2147483647}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'quantity':1,'reservation_minutes':99999999999}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'quantity':1,'reservation_minutes':'15'}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'quantity':1,'pricing_id':'not-a-guid'}", "VALIDATION_ERROR", "pricing_id")]
    [InlineData("{'quantity':1,'pricing_id':42}", "VALIDATION_ERROR", "pricing_id")]
    [InlineData("{'quantity':1,'pricing_id':''}", "VALIDATION_ERROR", "pricing_id")]
    [InlineData("{'quantity':1,'pricing_id':'{random}'}", "VALIDATION_ERROR", "pricing_id")]
    [InlineData("{'quantity':1,'pricing_id':'{pool_price}'}", "VALIDATION_ERROR", "pricing_id")]
    [InlineData("{'quantity':1,'pricing_id':'{child}'}", "VALIDATION_ERROR", "pricing_id")]
    [InlineData("{'quantity':1,'allocation_id':'nope'}", "VALIDATION_ERROR", "allocation_id")]
    [InlineData("{'quantity':1,'allocation_id':42}", "VALIDATION_ERROR", "allocation_id")]
    [InlineData("{'quantity':1,'allocation_id':''}", "VALIDATION_ERROR", "allocation_id")]
    [InlineData("{'quantity':1,'allocation_id':['{alloc}']}", "VALIDATION_ERROR", "allocation_id")]
    [InlineData("{'quantity':1,'allocation_id':'{closed_alloc}'}", "VALIDATION_ERROR", "allocation_id")]
    [InlineData("{'quantity':0,'allocation_id':'{alloc}'}", "INVALID_QUANTITY", null)]
    public async Task Reserving_with_a_bad_body_is_refused_and_holds_nothing(string? body, string code, string? field) =>
        await world.AssertRefusedAsync("POST", "/capacity/{child}/reserve", body, 400, code, field);

    [Theory]
    [InlineData("/capacity/{child}/reserve", "{'quantity':49}")]
    [InlineData("/capacity/{child}/reserve", "{'quantity':100}")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':40},{'capacity_id':'{pool}','quantity':60}]}")]
    // Refused for capacity before the buyer limit is looked at.
    [InlineData("/capacity/{child}/reserve", "{'quantity':49,'buyer_key':'fan'}")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':40},{'capacity_id':'{pool}','quantity':60}],'buyer_key':'newcomer'}")]
    public async Task Reserving_more_than_is_left_is_refused_and_holds_nothing(string path, string body) =>
        await world.AssertRefusedAsync("POST", path, body, 409, "INSUFFICIENT_CAPACITY");

    [Theory]
    [InlineData("/capacity/{child}/reserve", "{'quantity':9,'allocation_id':'{alloc}'}", "ALLOCATION_INSUFFICIENT")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':5,'allocation_id':'{alloc}'},{'capacity_id':'{child}','quantity':4,'allocation_id':'{alloc}'}]}", "ALLOCATION_INSUFFICIENT")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{pool}','quantity':1},{'capacity_id':'{child}','quantity':9,'allocation_id':'{alloc}'}]}", "ALLOCATION_INSUFFICIENT")]
    [InlineData("/capacity/{pool}/reserve", "{'quantity':1,'allocation_id':'{closed_alloc}'}", "ALLOCATION_CLOSED")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':'{alloc}'},{'capacity_id':'{pool}','quantity':1,'allocation_id':'{closed_alloc}'}]}", "ALLOCATION_CLOSED")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':'{alloc}'},{'capacity_id':'{pool}','quantity':86}]}", "INSUFFICIENT_CAPACITY")]
    public async Task Reserving_from_an_allocation_that_cannot_give_it_is_refused_and_holds_nothing(string path, string body, string code)
    {
        var problem = await world.AssertRefusedAsync("POST", path, body, 409, code);
        if (code == "ALLOCATION_INSUFFICIENT")
        {
            Assert.Equal(8, problem["idle"]!.GetValue<long>());
            Assert.Equal(world.Allocation, problem["allocation_id"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData(null, "VALIDATION_ERROR", "body")]
    [InlineData("{'items':", "VALIDATION_ERROR", null)]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1}]", "VALIDATION_ERROR", null)]
    [InlineData("not json", "VALIDATION_ERROR", null)]
    [InlineData("[]", "VALIDATION_ERROR", "body")]
    [InlineData("[{'capacity_id':'{child}','quantity':1}]", "VALIDATION_ERROR", "body")]
    [InlineData("7", "VALIDATION_ERROR", "body")]
    [InlineData("'items'", "VALIDATION_ERROR", "body")]
    [InlineData("null", "VALIDATION_ERROR", "body")]
    [InlineData("{}", "VALIDATION_ERROR", "items")]
    [InlineData("{'items':null}", "VALIDATION_ERROR", "items")]
    [InlineData("{'items':'{child}'}", "VALIDATION_ERROR", "items")]
    [InlineData("{'items':{'capacity_id':'{child}','quantity':1}}", "VALIDATION_ERROR", "items")]
    [InlineData("{'items':[]}", "VALIDATION_ERROR", "items")]
    [InlineData("{'items':{51items}}", "VALIDATION_ERROR", "items")]
    [InlineData("{'items':[null]}", "VALIDATION_ERROR", "items[0]")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1},null]}", "VALIDATION_ERROR", "items[1]")]
    [InlineData("{'items':[1]}", "VALIDATION_ERROR", "items[0]")]
    [InlineData("{'items':[{nested}]}", "VALIDATION_ERROR", null)]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1}],'colour':'red'}", "VALIDATION_ERROR", "colour")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'colour':'red'}]}", "VALIDATION_ERROR", "items[0].colour")]
    [InlineData("{'items':[{'quantity':1}]}", "VALIDATION_ERROR", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{child}'}]}", "VALIDATION_ERROR", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':null,'quantity':1}]}", "VALIDATION_ERROR", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'not-a-guid','quantity':1}]}", "VALIDATION_ERROR", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{child}x','quantity':1}]}", "VALIDATION_ERROR", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':42,'quantity':1}]}", "VALIDATION_ERROR", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':'1'}]}", "VALIDATION_ERROR", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':99999999999}]}", "VALIDATION_ERROR", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1e40}]}", "VALIDATION_ERROR", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'pricing_id':'nope'}]}", "VALIDATION_ERROR", "items[0].pricing_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'pricing_id':'{pool_price}'}]}", "VALIDATION_ERROR", "items[0].pricing_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1},{'capacity_id':'{pool}','quantity':1,'pricing_id':'{child_price}'}]}", "VALIDATION_ERROR", "items[1].pricing_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'pricing_id':'{random}'}]}", "VALIDATION_ERROR", "items[0].pricing_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':'nope'}]}", "VALIDATION_ERROR", "items[0].allocation_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':7}]}", "VALIDATION_ERROR", "items[0].allocation_id")]
    [InlineData("{'items':[{'capacity_id':'{pool}','quantity':1,'allocation_id':'{alloc}'}]}", "VALIDATION_ERROR", "items[0].allocation_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1},{'capacity_id':'{child}','quantity':1,'allocation_id':'{closed_alloc}'}]}", "VALIDATION_ERROR", "items[1].allocation_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1}],'reservation_minutes':0}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1}],'reservation_minutes':121}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1}],'reservation_minutes':'5'}", "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':0}]}", "INVALID_QUANTITY", null)]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':-3}]}", "INVALID_QUANTITY", null)]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':101}]}", "INVALID_QUANTITY", null)]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1},{'capacity_id':'{pool}','quantity':0}]}", "INVALID_QUANTITY", null)]
    public async Task Placing_a_reservation_with_a_bad_body_is_refused_and_holds_nothing(string? body, string code, string? field) =>
        await world.AssertRefusedAsync("POST", "/reservations", body, 400, code, field);

    [Theory]
    [InlineData("confirm", "{hold}", "[]", "body")]
    [InlineData("confirm", "{hold}", "{'a':1}", "a")]
    [InlineData("confirm", "{hold}", "{'minutes':10}", "minutes")]
    [InlineData("confirm", "{hold}", "null", "body")]
    [InlineData("confirm", "{hold}", "0", "body")]
    [InlineData("confirm", "{hold}", "'confirm'", "body")]
    [InlineData("confirm", "{hold}", "{", "body")]
    [InlineData("confirm", "{hold}", "{}}", "body")]
    [InlineData("confirm", "{hold}", "{nested}", "body")]
    [InlineData("confirm", "{hold}", "   ", "body")]
    [InlineData("release", "{hold}", "[]", "body")]
    [InlineData("release", "{hold}", "{'reason':'changed my mind'}", "body")]
    [InlineData("release", "{hold}", "null", "body")]
    [InlineData("release", "{hold}", "not json", "body")]
    [InlineData("cancel", "{sold}", "[]", "body")]
    [InlineData("cancel", "{sold}", "{'refund':true}", "refund")]
    [InlineData("cancel", "{sold}", "false", "body")]
    [InlineData("cancel", "{sold}", "{'", "body")]
    public async Task A_lifecycle_step_with_a_body_other_than_nothing_or_an_empty_object_or_its_own_fields_is_refused(string action, string reservation, string body, string field) =>
        await world.AssertRefusedAsync("POST", $"/reservations/{reservation}/{action}", body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData("cancel", "{hold}", "RESERVATION_NOT_ACTIVE")]
    [InlineData("release", "{sold}", "RESERVATION_NOT_ACTIVE")]
    public async Task A_lifecycle_step_that_does_not_apply_is_refused_and_changes_nothing(string action, string reservation, string code) =>
        await world.AssertRefusedAsync("POST", $"/reservations/{reservation}/{action}", null, 409, code);

    [Theory]
    [InlineData("{hold}", null, 400, "VALIDATION_ERROR", "body")]
    [InlineData("{hold}", "", 400, "VALIDATION_ERROR", "body")]
    [InlineData("{hold}", "{'minutes':", 400, "VALIDATION_ERROR", null)]
    [InlineData("{hold}", "{'minutes':10", 400, "VALIDATION_ERROR", null)]
    [InlineData("{hold}", "[]", 400, "VALIDATION_ERROR", "body")]
    [InlineData("{hold}", "10", 400, "VALIDATION_ERROR", "body")]
    [InlineData("{hold}", "null", 400, "VALIDATION_ERROR", "body")]
    [InlineData("{hold}", "{}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':null}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':'10'}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':10.5}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':99999999999}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':1e40}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':10,'colour':'red'}", 400, "VALIDATION_ERROR", "colour")]
    [InlineData("{hold}", "{'reservation_minutes':10}", 400, "VALIDATION_ERROR", "reservation_minutes")]
    [InlineData("{hold}", "{'minutes':0}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':-1}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':121}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':2147483647}", 400, "VALIDATION_ERROR", "minutes")]
    [InlineData("{hold}", "{'minutes':120}", 409, "RESERVATION_EXTENSION_LIMIT", null)]
    [InlineData("{sold}", "{'minutes':10}", 409, "RESERVATION_NOT_ACTIVE", null)]
    public async Task Extending_with_bad_input_is_refused_and_keeps_the_expiry(string reservation, string? body, int status, string code, string? field) =>
        await world.AssertRefusedAsync("POST", $"/reservations/{reservation}/extend", body, status, code, field);

    [Theory]
    [InlineData(null, "body")]
    [InlineData("{'name':", null)]
    [InlineData("{'name':'P','base_price':1,'currency':'EUR'", null)]
    [InlineData("not json", null)]
    [InlineData("[]", "body")]
    [InlineData("1", "body")]
    [InlineData("'P'", "body")]
    [InlineData("null", "body")]
    [InlineData("{nested}", "body")]
    [InlineData("{}", null)]
    [InlineData("{'base_price':1,'currency':'EUR'}", "name")]
    [InlineData("{'name':'P','currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':1}", "currency")]
    [InlineData("{'name':null,'base_price':1,'currency':'EUR'}", "name")]
    [InlineData("{'name':'P','base_price':null,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':1,'currency':'EUR','colour':'red'}", "colour")]
    [InlineData("{'name':'P','base_price':1,'currency':'EUR','unit_price':1}", "unit_price")]
    [InlineData("{'name':'P','base_price':1,'currency':'EUR','capacity_id':'{child}'}", "capacity_id")]
    [InlineData("{'name':7,'base_price':1,'currency':'EUR'}", "name")]
    [InlineData("{'name':'P','base_price':'10','currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':true,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':1,'currency':978}", "currency")]
    [InlineData("{'name':'P','base_price':1e40,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':-1,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':-0.01,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':1.00001,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':0.00000000000000000000000000001,'currency':'EUR'}", "base_price")] // 29 places: the parser would round it to 0
    [InlineData("{'name':'P','base_price':0.99999999999999999999999999999,'currency':'EUR'}", "base_price")] // and this to 1
    [InlineData("{'name':'P','base_price':1e-29,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':1,'tax_rate':0.100000000000000000000000000001,'currency':'EUR'}", "tax_rate")]
    [InlineData("{'name':'P','base_price':1000000001,'currency':'EUR'}", "base_price")]
    [InlineData("{'name':'P','base_price':1,'current_price':-1,'currency':'EUR'}", "current_price")]
    [InlineData("{'name':'P','base_price':1,'current_price':0.123456,'currency':'EUR'}", "current_price")]
    [InlineData("{'name':'P','base_price':1,'service_fee':-0.5,'currency':'EUR'}", "service_fee")]
    [InlineData("{'name':'P','base_price':1,'service_fee':0.00001,'currency':'EUR'}", "service_fee")]
    [InlineData("{'name':'P','base_price':1,'facility_fee':-2,'currency':'EUR'}", "facility_fee")]
    [InlineData("{'name':'P','base_price':1,'facility_fee':1e12,'currency':'EUR'}", "facility_fee")]
    [InlineData("{'name':'P','base_price':1,'tax_rate':1.5,'currency':'EUR'}", "tax_rate")]
    [InlineData("{'name':'P','base_price':1,'tax_rate':1.0000001,'currency':'EUR'}", "tax_rate")]
    [InlineData("{'name':'P','base_price':1,'tax_rate':-0.1,'currency':'EUR'}", "tax_rate")]
    [InlineData("{'name':'P','base_price':1,'tax_rate':0.1234567,'currency':'EUR'}", "tax_rate")]
    [InlineData("{'name':'P','base_price':1,'currency':'eur'}", "currency")]
    [InlineData("{'name':'P','base_price':1,'currency':'EURO'}", "currency")]
    [InlineData("{'name':'P','base_price':1,'currency':'EU'}", "currency")]
    [InlineData("{'name':'P','base_price':1,'currency':''}", "currency")]
    [InlineData("{'name':'P','base_price':1,'currency':'E1R'}", "currency")]
    [InlineData("{'name':'P','base_price':1,'currency':'ÉUR'}", "currency")]
    [InlineData("{'name':'','base_price':1,'currency':'EUR'}", "name")]
    [InlineData("{'name':'  ','base_price':1,'currency':'EUR'}", "name")]
    [InlineData("{'name':'{x10k}','base_price':1,'currency':'EUR'}", "name")]
    [InlineData("{'name':'P\\u0000','base_price':1,'currency':'EUR'}", "name")]
    public async Task Creating_a_price_with_a_bad_body_is_a_validation_error_that_creates_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("POST", "/capacity/{child}/pricing", body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData(null, "body")]
    [InlineData("", "body")]
    [InlineData("{'name':", "body")]
    [InlineData("not json", "body")]
    [InlineData("[]", "body")]
    [InlineData("1", "body")]
    [InlineData("null", "body")]
    [InlineData("{nested}", "body")]
    [InlineData("{'name':'A','name':'B'}", "body")]
    [InlineData("{'colour':'red'}", "colour")]
    [InlineData("{'id':'{random}'}", "id")]
    [InlineData("{'capacity_id':'{pool}'}", "capacity_id")]
    [InlineData("{'unit_price':1}", "unit_price")]
    [InlineData("{'name':null}", "name")]
    [InlineData("{'name':7}", "name")]
    [InlineData("{'name':''}", "name")]
    [InlineData("{'name':'{x10k}'}", "name")]
    [InlineData("{'name':'P\\u0001'}", "name")]
    [InlineData("{'base_price':null}", "base_price")]
    [InlineData("{'base_price':'10'}", "base_price")]
    [InlineData("{'base_price':-1}", "base_price")]
    [InlineData("{'base_price':1.00001}", "base_price")]
    [InlineData("{'base_price':0.99999999999999999999999999999}", "base_price")]
    [InlineData("{'current_price':1e-40}", "current_price")]
    [InlineData("{'base_price':1e40}", "base_price")]
    [InlineData("{'base_price':1000000001}", "base_price")]
    [InlineData("{'current_price':'x'}", "current_price")]
    [InlineData("{'current_price':-3}", "current_price")]
    [InlineData("{'service_fee':null}", "service_fee")]
    [InlineData("{'service_fee':-1}", "service_fee")]
    [InlineData("{'facility_fee':0.00001}", "facility_fee")]
    [InlineData("{'tax_rate':1.01}", "tax_rate")]
    [InlineData("{'tax_rate':-0.5}", "tax_rate")]
    [InlineData("{'tax_rate':'0.2'}", "tax_rate")]
    [InlineData("{'currency':'eur'}", "currency")]
    [InlineData("{'currency':'EURO'}", "currency")]
    [InlineData("{'currency':null}", "currency")]
    [InlineData("{'currency':978}", "currency")]
    [InlineData("{'name':'Renamed','tax_rate':2}", "tax_rate")]
    public async Task Updating_a_price_with_a_bad_body_is_a_validation_error_that_changes_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("PUT", "/pricing/{child_price}", body, 400, "VALIDATION_ERROR", field);

    [Theory]
    // Not JSON, or not an object.
    [InlineData(null, "body")]
    [InlineData("", "body")]
    [InlineData("{'name':", null)]
    [InlineData("{'name':'B','quantity':1", null)]
    [InlineData("not json", null)]
    [InlineData("[]", "body")]
    [InlineData("42", "body")]
    [InlineData("null", "body")]
    [InlineData("{nested}", "body")]
    // Unknown fields, counters, missing, repeated and null required fields.
    [InlineData("{'name':'B','quantity':5,'colour':'red'}", "colour")]
    [InlineData("{'name':'B','quantity':5,'id':'{random}'}", "id")]
    [InlineData("{'name':'B','quantity':5,'capacity_id':'{pool}'}", "capacity_id")]
    [InlineData("{'name':'B','quantity':5,'size':5}", "size")]
    [InlineData("{'name':'B','quantity':5,'held':0}", "held")]
    [InlineData("{'name':'B','quantity':5,'status':'open'}", "status")]
    [InlineData("{}", "name")]
    [InlineData("{'quantity':5}", "name")]
    [InlineData("{'name':'B'}", "quantity")]
    [InlineData("{'name':'B','quantity':5,'name':'C'}", null)]
    [InlineData("{'name':null,'quantity':5}", "name")]
    [InlineData("{'name':'B','quantity':null}", "quantity")]
    // Wrong types and overflow.
    [InlineData("{'name':7,'quantity':5}", "name")]
    [InlineData("{'name':['B'],'quantity':5}", "name")]
    [InlineData("{'name':'B','quantity':'5'}", "quantity")]
    [InlineData("{'name':'B','quantity':5.5}", "quantity")]
    [InlineData("{'name':'B','quantity':true}", "quantity")]
    [InlineData("{'name':'B','quantity':[5]}", "quantity")]
    [InlineData("{'name':'B','quantity':99999999999}", "quantity")]
    [InlineData("{'name':'B','quantity':-99999999999}", "quantity")]
    [InlineData("{'name':'B','quantity':1e40}", "quantity")]
    // Names: blank, too long, control characters.
    [InlineData("{'name':'','quantity':5}", "name")]
    [InlineData("{'name':'   ','quantity':5}", "name")]
    [InlineData("{'name':'{x201}','quantity':5}", "name")]
    [InlineData("{'name':'{x10k}','quantity':5}", "name")]
    [InlineData("{'name':'B\\u0000','quantity':5}", "name")]
    [InlineData("{'name':'B\\nC','quantity':5}", "name")]
    [InlineData("{'name':'B\\u007f','quantity':5}", "name")]
    // Dates: not RFC 3339 with an offset, impossible, out of range, in the past.
    [InlineData("{'name':'B','quantity':5,'expires_at':'tomorrow'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':''}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2030-01-01T00:00:00'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2030-01-01'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2030-01-01 00:00:00Z'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2030-13-01T00:00:00Z'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2030-02-30T00:00:00Z'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2030-01-01T25:00:00Z'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2030-01-01T00:00:00+25:00'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'0001-01-01T00:00:00+01:00'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':'2000-01-01T00:00:00Z'}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':1893456000}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':{}}", "expires_at")]
    [InlineData("{'name':'B','quantity':5,'expires_at':true}", "expires_at")]
    public async Task Creating_an_allocation_with_a_bad_body_is_a_validation_error_that_sets_nothing_aside(string? body, string? field) =>
        await world.AssertRefusedAsync("POST", "/capacity/{child}/allocations", body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData("/capacity/{child}/allocations", "{'name':'B','quantity':0}", 400, "INVALID_QUANTITY")]
    [InlineData("/capacity/{child}/allocations", "{'name':'B','quantity':-1}", 400, "INVALID_QUANTITY")]
    [InlineData("/capacity/{child}/allocations", "{'name':'B','quantity':-2147483648}", 400, "INVALID_QUANTITY")]
    [InlineData("/capacity/{child}/allocations", "{'name':'B','quantity':1000001}", 400, "INVALID_QUANTITY")]
    [InlineData("/capacity/{child}/allocations", "{'name':'B','quantity':2147483647}", 400, "INVALID_QUANTITY")]
    [InlineData("/capacity/{child}/allocations", "{'name':'B','quantity':39}", 409, "INSUFFICIENT_CAPACITY")]
    [InlineData("/capacity/{pool}/allocations", "{'name':'B','quantity':86}", 409, "INSUFFICIENT_CAPACITY")]
    [InlineData("/allocations/{alloc}/release", "{'quantity':0}", 400, "INVALID_QUANTITY")]
    [InlineData("/allocations/{alloc}/release", "{'quantity':-1}", 400, "INVALID_QUANTITY")]
    [InlineData("/allocations/{alloc}/release", "{'quantity':2147483647}", 400, "INVALID_QUANTITY")]
    [InlineData("/allocations/{alloc}/release", "{'quantity':9}", 409, "ALLOCATION_INSUFFICIENT")]
    [InlineData("/allocations/{alloc}/release", "{'quantity':1000000}", 409, "ALLOCATION_INSUFFICIENT")]
    [InlineData("/allocations/{closed_alloc}/release", "{'quantity':1}", 409, "ALLOCATION_CLOSED")]
    public async Task Setting_aside_or_giving_back_a_quantity_that_cannot_be_is_refused_and_changes_nothing(string path, string body, int status, string code)
    {
        var problem = await world.AssertRefusedAsync("POST", path, body, status, code);
        if (code == "INSUFFICIENT_CAPACITY")
        {
            Assert.NotNull(problem["available_capacity"]);
        }
        else if (code == "ALLOCATION_INSUFFICIENT")
        {
            Assert.Equal(8, problem["idle"]!.GetValue<long>());
        }
    }

    [Theory]
    [InlineData(null, "body")]
    [InlineData("", "body")]
    [InlineData("{'quantity':", null)]
    [InlineData("not json", null)]
    [InlineData("[]", "body")]
    [InlineData("1", "body")]
    [InlineData("null", "body")]
    [InlineData("{nested}", "body")]
    [InlineData("{}", "quantity")]
    [InlineData("{'quantity':null}", "quantity")]
    [InlineData("{'quantity':'1'}", "quantity")]
    [InlineData("{'quantity':1.5}", "quantity")]
    [InlineData("{'quantity':true}", "quantity")]
    [InlineData("{'quantity':99999999999}", "quantity")]
    [InlineData("{'quantity':1e40}", "quantity")]
    [InlineData("{'quantity':1,'colour':'red'}", "colour")]
    [InlineData("{'quantity':1,'allocation_id':'{alloc}'}", "allocation_id")]
    [InlineData("{'quantity':1,'quantity':2}", null)]
    public async Task Releasing_from_an_allocation_with_a_bad_body_is_a_validation_error_that_changes_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("POST", "/allocations/{alloc}/release", body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData(null, "body")]
    [InlineData("", "body")]
    [InlineData("{'name':", "body")]
    [InlineData("not json", "body")]
    [InlineData("[]", "body")]
    [InlineData("1", "body")]
    [InlineData("null", "body")]
    [InlineData("{nested}", "body")]
    [InlineData("{'name':'A','name':'B'}", "body")]
    [InlineData("{'colour':'red'}", "colour")]
    [InlineData("{'id':'{random}'}", "id")]
    [InlineData("{'capacity_id':'{pool}'}", "capacity_id")]
    [InlineData("{'event_id':'other'}", "event_id")]
    [InlineData("{'status':'closed'}", "status")]
    [InlineData("{'size':5}", "size")]
    [InlineData("{'held':0}", "held")]
    [InlineData("{'sold':0}", "sold")]
    [InlineData("{'idle':100}", "idle")]
    [MemberData(nameof(BadNamesInAnUpdate))]
    [InlineData("{'quantity':null}", "quantity")]
    [InlineData("{'quantity':'5'}", "quantity")]
    [InlineData("{'quantity':5.5}", "quantity")]
    [InlineData("{'quantity':true}", "quantity")]
    [InlineData("{'quantity':99999999999}", "quantity")]
    [InlineData("{'quantity':1e40}", "quantity")]
    [InlineData("{'expires_at':'soon'}", "expires_at")]
    [InlineData("{'expires_at':''}", "expires_at")]
    [InlineData("{'expires_at':'2030-01-01T00:00:00'}", "expires_at")]
    [InlineData("{'expires_at':'2030-02-30T00:00:00Z'}", "expires_at")]
    [InlineData("{'expires_at':'2000-01-01T00:00:00Z'}", "expires_at")]
    [InlineData("{'expires_at':1}", "expires_at")]
    [InlineData("{'expires_at':false}", "expires_at")]
    [InlineData("{'name':'Renamed','quantity':'x'}", "quantity")]
    public async Task Updating_an_allocation_with_a_bad_body_is_a_validation_error_that_changes_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("PUT", "/allocations/{alloc}", body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData("{alloc}", "{'quantity':-1}", 400, "INVALID_QUANTITY")]
    [InlineData("{alloc}", "{'quantity':1000001}", 400, "INVALID_QUANTITY")]
    [InlineData("{alloc}", "{'quantity':0}", 409, "ALLOCATION_BELOW_COMMITTED")]
    [InlineData("{alloc}", "{'quantity':1}", 409, "ALLOCATION_BELOW_COMMITTED")]
    [InlineData("{alloc}", "{'quantity':49}", 409, "INSUFFICIENT_CAPACITY")]
    [InlineData("{alloc}", "{'name':'Renamed','quantity':1000000}", 409, "INSUFFICIENT_CAPACITY")]
    [InlineData("{closed_alloc}", "{'name':'Reopened'}", 409, "ALLOCATION_CLOSED")]
    [InlineData("{closed_alloc}", "{'quantity':5}", 409, "ALLOCATION_CLOSED")]
    [InlineData("{closed_alloc}", "{'expires_at':null}", 409, "ALLOCATION_CLOSED")]
    public async Task Resizing_an_allocation_beyond_what_it_may_be_is_refused_and_changes_nothing(string allocation, string body, int status, string code) =>
        await world.AssertRefusedAsync("PUT", "/allocations/" + allocation, body, status, code);

    /// <summary>Every body but none and <c>{}</c>, for a route that takes no fields.</summary>
    public static TheoryData<string, string, string> BodiesOtherThanNothing(string method, string path)
    {
        var data = new TheoryData<string, string, string>();
        foreach (var body in new[] { "[]", "{'a':1}", "{'quantity':1}", "{'per_buyer_max':1}", "null", "0", "   ", "{", "not json", "{nested}" })
        {
            data.Add(method, path, body);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BodiesOtherThanNothing), "POST", "/allocations/{alloc}/close")]
    [MemberData(nameof(BodiesOtherThanNothing), "DELETE", "/limits/{limit}")]
    [MemberData(nameof(BodiesOtherThanNothing), "DELETE", "/waitlist/{entry}")]
    [MemberData(nameof(BodiesOtherThanNothing), "DELETE", "/waitlist/{left_entry}")]
    public async Task Closing_an_allocation_deleting_a_limit_or_leaving_a_waiting_list_with_a_body_other_than_nothing_or_an_empty_object_is_refused(string method, string path, string body) =>
        await world.AssertRefusedAsync(method, path, body, 400, "VALIDATION_ERROR", "body");

    private const string CreateLimit = "/events/{ev}/limits";

    /// <summary>
    /// Bodies that are not a JSON object, with the field the refusal names (null where it depends on
    /// where the parser stopped), for both the create, parsed whole, and the PUT, read field by field.
    /// </summary>
    public static TheoryData<string?, string?> NotAJsonObject() => new()
    {
        { null, "body" },
        { "", "body" },
        { "   ", "body" },
        { "{'name':", null },
        { "{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4", null },
        { "{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4}}", null },
        { "not json", null },
        { "[]", "body" },
        { "[{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4}]", "body" },
        { "42", "body" },
        { "'L'", "body" },
        { "null", "body" },
        { "true", "body" },
        { "{nested}", "body" },
    };

    /// <summary>Names a PUT refuses: not a string, blank, too long, control characters.</summary>
    public static TheoryData<string?, string?> BadNamesInAnUpdate() => new()
    {
        { "{'name':null}", "name" },
        { "{'name':7}", "name" },
        { "{'name':['A']}", "name" },
        { "{'name':''}", "name" },
        { "{'name':'   '}", "name" },
        { "{'name':'{x201}'}", "name" },
        { "{'name':'A\\u0001'}", "name" },
        { "{'name':'A\\u007f'}", "name" },
    };

    [Theory]
    [MemberData(nameof(NotAJsonObject))]
    // Unknown fields, fields the server sets, missing and null required fields.
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'colour':'red'}", "colour")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'id':'{random}'}", "id")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'event_id':'{ev}'}", "event_id")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'created_at':'2030-01-01T00:00:00Z'}", "created_at")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'used':0}", "used")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'buyer_key':'fan'}", "buyer_key")]
    [InlineData("{'name':'L','capacity_id':'{child}','capacity_ids':['{child}'],'per_buyer_max':4}", "capacity_id")]
    [InlineData("{}", "name")]
    [InlineData("{'capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'L','per_buyer_max':4}", "capacity_ids")]
    [InlineData("{'name':'L','capacity_ids':['{child}']}", "per_buyer_max")]
    [InlineData("{'name':null,'capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'L','capacity_ids':null,'per_buyer_max':4}", "capacity_ids")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':null}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'require_buyer_key':null}", "require_buyer_key")]
    // Wrong types.
    [InlineData("{'name':7,'capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':['L'],'capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'L','capacity_ids':'{child}','per_buyer_max':4}", "capacity_ids")]
    [InlineData("{'name':'L','capacity_ids':{'id':'{child}'},'per_buyer_max':4}", "capacity_ids")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':'4'}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4.5}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':true}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':[4]}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'require_buyer_key':'true'}", "require_buyer_key")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4,'require_buyer_key':1}", "require_buyer_key")]
    // Out of range and overflow.
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':0}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':-1}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':-2147483648}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':1000001}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':2147483647}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':99999999999}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':-99999999999}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':1e40}", "per_buyer_max")]
    [InlineData("{'name':'L','capacity_ids':['{child}'],'per_buyer_max':1e3}", "per_buyer_max")]
    // Names: blank, too long, control characters.
    [InlineData("{'name':'','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'   ','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'{x201}','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'{x10k}','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'L\\u0000','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'A\\nB','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'A\\u001bB','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'A\\u007f','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    [InlineData("{'name':'A\\u0085','capacity_ids':['{child}'],'per_buyer_max':4}", "name")]
    // Capacities: none, too many, not GUIDs, null, unknown, another kind's id, named twice.
    [InlineData("{'name':'L','capacity_ids':[],'per_buyer_max':4}", "capacity_ids")]
    [InlineData("{'name':'L','capacity_ids':{101ids},'per_buyer_max':4}", "capacity_ids")]
    [InlineData("{'name':'L','capacity_ids':['not-a-guid'],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':[''],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':['{child}x'],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':[42],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':[['{child}']],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':[null],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':['{child}',null],'per_buyer_max':4}", "capacity_ids[1]")]
    [InlineData("{'name':'L','capacity_ids':['{random}'],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':['{child}','{random}'],'per_buyer_max':4}", "capacity_ids[1]")]
    [InlineData("{'name':'L','capacity_ids':['{child_price}'],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':['{keyed_hold}'],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':['{alloc}'],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':['{limit}'],'per_buyer_max':4}", "capacity_ids[0]")]
    [InlineData("{'name':'L','capacity_ids':['{child}','{child}'],'per_buyer_max':4}", "capacity_ids[1]")]
    [InlineData("{'name':'L','capacity_ids':['{pool}','{child}','{pool}'],'per_buyer_max':4}", "capacity_ids[2]")]
    public async Task Creating_a_limit_with_a_bad_body_is_a_validation_error_that_creates_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("POST", CreateLimit, body, 400, "VALIDATION_ERROR", field);

    [Theory]
    // The capacities belong to another event: event ids are compared exactly.
    [InlineData("other-ev", "capacity_ids[0]")]
    [InlineData("BAD-EV", "capacity_ids[0]")]
    [InlineData("bad-ev-2", "capacity_ids[0]")]
    // The event id itself is not one.
    [InlineData("a%20b", "event_id")]
    [InlineData("%01", "event_id")]
    [InlineData("caf%C3%A9", "event_id")]
    [InlineData("a%2Fb", "event_id")]
    [InlineData("ev!", "event_id")]
    [InlineData("{x65}", "event_id")]
    public async Task Creating_a_limit_under_another_or_an_invalid_event_id_is_a_validation_error_that_creates_nothing(string eventId, string field) =>
        await world.AssertRefusedAsync("POST", $"/events/{eventId}/limits", "{'name':'L','capacity_ids':['{child}'],'per_buyer_max':4}", 400, "VALIDATION_ERROR", field);

    [Theory]
    [MemberData(nameof(NotAJsonObject))]
    [InlineData("{'name':'A','name':'B'}", "body")]
    // The capacities are fixed; other fields are not the client's to set.
    [InlineData("{'capacity_ids':['{child}']}", "capacity_ids")]
    [InlineData("{'capacity_ids':[]}", "capacity_ids")]
    [InlineData("{'capacity_ids':null}", "capacity_ids")]
    [InlineData("{'name':'Renamed','capacity_ids':['{pool}']}", "capacity_ids")]
    [InlineData("{'colour':'red'}", "colour")]
    [InlineData("{'id':'{random}'}", "id")]
    [InlineData("{'event_id':'other'}", "event_id")]
    [InlineData("{'created_at':'2030-01-01T00:00:00Z'}", "created_at")]
    [InlineData("{'buyer_key':'fan'}", "buyer_key")]
    [InlineData("{'used':0}", "used")]
    [InlineData("{'require_buyer_key':false,'colour':'red'}", "colour")]
    [MemberData(nameof(BadNamesInAnUpdate))]
    // The maximum: out of range, overflow, wrong types.
    [InlineData("{'per_buyer_max':0}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':-1}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':-2147483648}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':1000001}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':2147483647}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':99999999999}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':1e40}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':4.5}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':'4'}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':null}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':true}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':[4]}", "per_buyer_max")]
    [InlineData("{'require_buyer_key':null}", "require_buyer_key")]
    [InlineData("{'require_buyer_key':'true'}", "require_buyer_key")]
    [InlineData("{'require_buyer_key':0}", "require_buyer_key")]
    // One bad field refuses the good ones with it.
    [InlineData("{'name':'Renamed','per_buyer_max':0}", "per_buyer_max")]
    [InlineData("{'per_buyer_max':10,'require_buyer_key':'no'}", "require_buyer_key")]
    [InlineData("{'name':'','require_buyer_key':false}", "name")]
    public async Task Updating_a_limit_with_a_bad_body_is_a_validation_error_that_changes_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("PUT", "/limits/{limit}", body, 400, "VALIDATION_ERROR", field);

    /// <summary>buyer_key values every route that takes one refuses, as JSON (with <c>'</c> for <c>"</c>).</summary>
    public static TheoryData<string> BadBuyerKeys() =>
    [
        // Blank, too long.
        "''",
        "'   '",
        "'\\t'",
        "'\\u00a0'",
        "'\\u2028'",
        "'{x129}'",
        // Control and format characters.
        "'a\\u0000b'",
        "'a\\u0001'",
        "'a\\nb'",
        "'a\\u001b'",
        "'a\\u007f'",
        "'a\\u0085'",
        "'a\\u200bb'",
        "'a\\ufeff'",
        "'\\u202efan'",
        // Not a string.
        "7",
        "0",
        "true",
        "['fan']",
        "{'key':'fan'}",
    ];

    [Theory]
    [MemberData(nameof(BadBuyerKeys))]
    public async Task A_bad_buyer_key_on_a_hold_or_a_cart_is_a_validation_error_that_holds_nothing(string key)
    {
        // On the limited child and on the pool no limit covers: a key is checked whether or not a limit counts it.
        (string Path, string Body)[] requests =
        [
            ("/capacity/{child}/reserve", "{'quantity':1,'buyer_key':KEY}"),
            ("/capacity/{pool}/reserve", "{'quantity':1,'buyer_key':KEY}"),
            ("/reservations", "{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':KEY}"),
            ("/reservations", "{'buyer_key':KEY,'items':[{'capacity_id':'{pool}','quantity':1},{'capacity_id':'{child}','quantity':1,'allocation_id':'{alloc}'}]}"),
        ];
        foreach (var (path, body) in requests)
        {
            await world.AssertRefusedAsync("POST", path, body.Replace("KEY", key, StringComparison.Ordinal), 400, "VALIDATION_ERROR", "buyer_key");
        }
    }

    [Theory]
    // A null key is no key; a price, an allocation or another item in the cart does not stand in for one.
    [InlineData("/capacity/{child}/reserve", "{'quantity':1}")]
    [InlineData("/capacity/{child}/reserve", "{'quantity':1,'buyer_key':null}")]
    [InlineData("/capacity/{child}/reserve", "{'quantity':1,'pricing_id':'{child_price}','reservation_minutes':5}")]
    [InlineData("/capacity/{child}/reserve", "{'quantity':1,'allocation_id':'{alloc}'}")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':1}]}")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{pool}','quantity':1},{'capacity_id':'{child}','quantity':1}]}")]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':'{alloc}'}],'buyer_key':null}")]
    public async Task A_hold_without_a_buyer_key_on_a_capacity_whose_limit_requires_one_is_refused_and_holds_nothing(string path, string body)
    {
        var problem = await world.AssertRefusedAsync("POST", path, body, 400, "BUYER_KEY_REQUIRED");
        Assert.Equal(world.Limit, problem["limit_id"]!.GetValue<string>());
    }

    [Theory]
    // The seeded buyer has 3 of 4; a newcomer has none. Pool items count towards no limit; allocation items count like any other.
    [InlineData("/capacity/{child}/reserve", "{'quantity':2,'buyer_key':'fan'}", 3, 2)]
    [InlineData("/capacity/{child}/reserve", "{'quantity':2,'buyer_key':'fan','pricing_id':'{child_price}'}", 3, 2)]
    [InlineData("/capacity/{child}/reserve", "{'quantity':2,'buyer_key':'fan','allocation_id':'{alloc}'}", 3, 2)]
    [InlineData("/capacity/{child}/reserve", "{'quantity':5,'buyer_key':'newcomer'}", 0, 5)]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':1},{'capacity_id':'{child}','quantity':1}],'buyer_key':'fan'}", 3, 2)]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{pool}','quantity':10},{'capacity_id':'{child}','quantity':2}],'buyer_key':'fan'}", 3, 2)]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':'{alloc}'},{'capacity_id':'{child}','quantity':1}],'buyer_key':'fan'}", 3, 2)]
    [InlineData("/reservations", "{'items':[{'capacity_id':'{child}','quantity':3},{'capacity_id':'{child}','quantity':2}],'buyer_key':'newcomer'}", 0, 5)]
    public async Task A_hold_that_would_take_its_buyer_past_the_limit_is_refused_whole_and_holds_nothing(string path, string body, long used, long requested)
    {
        var problem = await world.AssertRefusedAsync("POST", path, body, 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal("/problems/buyer-limit-exceeded", problem["type"]!.GetValue<string>());
        Assert.Equal(world.Limit, problem["limit_id"]!.GetValue<string>());
        Assert.Equal((used, requested, 4L), (problem["used"]!.GetValue<long>(), problem["requested"]!.GetValue<long>(), problem["per_buyer_max"]!.GetValue<long>()));
    }

    private const string Join = "/waitlist";

    [Theory]
    [MemberData(nameof(NotAJsonObject))]
    [InlineData("[{'capacity_id':'{queue}','quantity':1}]", "body")]
    // Unknown fields, and fields the server sets: an entry's id, place and state are not the client's.
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'colour':'red'}", "colour")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'id':'{random}'}", "id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'status':'offered'}", "status")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'position':1}", "position")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'sequence':0}", "sequence")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'offer_reservation_id':'{hold}'}", "offer_reservation_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'event_id':'{ev}'}", "event_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'tenant_id':'{tenant}'}", "tenant_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'created_at':'2030-01-01T00:00:00Z'}", "created_at")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'updated_at':'2030-01-01T00:00:00Z'}", "updated_at")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'offer_minutes':5}", "offer_minutes")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1}],'reservation_minutes':5}", "reservation_minutes")]
    [InlineData("{'capacity_id':'{queue}','quantity':1}", "capacity_id")]
    // An item takes a capacity and a quantity, nothing else: no price, no allocation.
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1,'colour':'red'}]}", "items[0].colour")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'pricing_id':'{child_price}'}]}", "items[0].pricing_id")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1,'allocation_id':'{alloc}'}]}", "items[0].allocation_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1,'status':'waiting'}]}", "items[0].status")]
    // Items: missing, null, not an array, none, too many, null or not objects.
    [InlineData("{}", "items")]
    [InlineData("{'buyer_key':'fan'}", "items")]
    [InlineData("{'items':null}", "items")]
    [InlineData("{'items':'{queue}'}", "items")]
    [InlineData("{'items':7}", "items")]
    [InlineData("{'items':{'capacity_id':'{queue}','quantity':1}}", "items")]
    [InlineData("{'items':[]}", "items")]
    [InlineData("{'items':[],'buyer_key':''}", "items")]
    [InlineData("{'items':{51items}}", "items")]
    [InlineData("{'items':[null]}", "items[0]")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},null]}", "items[1]")]
    [InlineData("{'items':[1]}", "items[0]")]
    [InlineData("{'items':['{queue}']}", "items[0]")]
    [InlineData("{'items':[[{'capacity_id':'{queue}','quantity':1}]]}", "items[0]")]
    [InlineData("{'items':[{nested}]}", null)]
    // An item's fields: missing, null, wrong types, overflow.
    [InlineData("{'items':[{'quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}'}]}", "items[0].quantity")]
    [InlineData("{'items':[{}]}", null)]
    [InlineData("{'items':[{'capacity_id':null,'quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':null}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':'1'}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1.5}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':true}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':[1]}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':{}}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':99999999999}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':-99999999999}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':2147483648}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1e40}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1e3}]}", "items[0].quantity")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{child}','quantity':'2'}]}", "items[1].quantity")]
    // Capacity ids that are not GUIDs.
    [InlineData("{'items':[{'capacity_id':'not-a-guid','quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'','quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}x','quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':42,'quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':true,'quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':['{queue}'],'quantity':1}]}", "items[0].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'nope','quantity':1}]}", "items[1].capacity_id")]
    // One event per entry, each capacity once.
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{elsewhere}','quantity':1}]}", "items[1].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{elsewhere}','quantity':1},{'capacity_id':'{queue}','quantity':1}]}", "items[1].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{queue}','quantity':1}]}", "items[1].capacity_id")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':2},{'capacity_id':'{child}','quantity':1},{'capacity_id':'{queue}','quantity':1}],'buyer_key':'fan'}", "items[2].capacity_id")]
    public async Task Joining_a_waiting_list_with_a_bad_body_is_a_validation_error_that_queues_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("POST", Join, body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':0}]}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':-1}]}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':-2147483648}]}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':101}]}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':2147483647}]}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{child}','quantity':0}],'buyer_key':'fan'}")]
    // The quantity is refused before the capacity is looked up.
    [InlineData("{'items':[{'capacity_id':'{random}','quantity':0}]}")]
    [InlineData("{'items':[{'capacity_id':'{pool}','quantity':-5}]}")]
    public async Task Joining_for_a_quantity_a_hold_could_not_have_is_refused_and_queues_nothing(string body) =>
        await world.AssertRefusedAsync("POST", Join, body, 400, "INVALID_QUANTITY");

    [Theory]
    [MemberData(nameof(BadBuyerKeys))]
    public async Task A_bad_buyer_key_on_a_join_is_a_validation_error_that_queues_nothing(string key)
    {
        // On a list no limit covers and on the limited child: a key is checked whether or not a limit counts it.
        string[] bodies =
        [
            "{'items':[{'capacity_id':'{queue}','quantity':1}],'buyer_key':KEY}",
            "{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':KEY}",
            "{'buyer_key':KEY,'external_ref':'order-2','items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{child}','quantity':1}]}",
        ];
        foreach (var body in bodies)
        {
            await world.AssertRefusedAsync("POST", Join, body.Replace("KEY", key, StringComparison.Ordinal), 400, "VALIDATION_ERROR", "buyer_key");
        }
    }

    [Theory]
    // Blank (white space of any kind), too long.
    [InlineData("''")]
    [InlineData("' '")]
    [InlineData("'   '")]
    [InlineData("'\\t'")]
    [InlineData("'\\u00a0'")]
    [InlineData("'\\u2028'")]
    [InlineData("'{x129}'")]
    [InlineData("'{x10k}'")]
    // Control characters (Rules.IsValidName refuses char.IsControl: C0, DEL and C1).
    [InlineData("'a\\u0000b'")]
    [InlineData("'a\\u0001'")]
    [InlineData("'a\\nb'")]
    [InlineData("'a\\rb'")]
    [InlineData("'order\\tone'")]
    [InlineData("'a\\u001b'")]
    [InlineData("'a\\u007f'")]
    [InlineData("'a\\u0085'")]
    [InlineData("'a\\u009f'")]
    // Not a string.
    [InlineData("7")]
    [InlineData("true")]
    [InlineData("['order-1']")]
    [InlineData("{'id':'order-1'}")]
    public async Task A_bad_external_ref_is_a_validation_error_that_queues_nothing(string reference) =>
        await world.AssertRefusedAsync("POST", Join, "{'items':[{'capacity_id':'{queue}','quantity':1}],'external_ref':" + reference + "}", 400, "VALIDATION_ERROR", "external_ref");

    [Fact]
    public async Task Joining_at_the_edges_of_the_buyer_key_and_external_ref_rules_works()
    {
        await world.EnsureCleanAsync();
        world.MarkChanged();

        // external_ref follows the rule of names: any script, kept as sent, up to 128 characters.
        foreach (var (key, reference) in new[] { (new string('k', 128), new string('r', 128)), ("FAN", "Bestellung-Ä2-注文"), (BadInputWorld.QueueBuyer, "o") })
        {
            var body = Api.Json(new { items = new[] { new { capacity_id = world.Queue, quantity = 1 } }, buyer_key = key, external_ref = reference });
            var entry = await Api.ReadAsync(await world.Tenant.Client.PostAsync(Join, body), 201);
            Assert.Equal(("waiting", key, reference), (entry["status"]!.GetValue<string>(), entry["buyer_key"]!.GetValue<string>(), entry["external_ref"]!.GetValue<string>()));
            Assert.Equal(reference, (await world.Tenant.Client.EntryAsync(entry["id"]!.GetValue<string>()))["external_ref"]!.GetValue<string>());
        }

        // Invisible characters (zero-width, bidi override, byte-order mark) make two references look alike: refused.
        var hidden = Api.Json(new { items = new[] { new { capacity_id = world.Queue, quantity = 1 } }, buyer_key = "FAN", external_ref = "order\u200b\u202e-2\ufeff" });
        await Api.ProblemAsync(await world.Tenant.Client.PostAsync(Join, hidden), 400, "VALIDATION_ERROR");

        await world.App.AssertInvariantsAsync();
    }

    [Theory]
    // No list, a closed list, and either among open ones: the entry is refused whole.
    [InlineData("{'items':[{'capacity_id':'{pool}','quantity':1}]}", "{pool}")]
    [InlineData("{'items':[{'capacity_id':'{closed_list}','quantity':1}]}", "{closed_list}")]
    [InlineData("{'items':[{'capacity_id':'{closed_list}','quantity':1}],'buyer_key':'fan','external_ref':'order-2'}", "{closed_list}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{pool}','quantity':1}]}", "{pool}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{closed_list}','quantity':1}]}", "{closed_list}")]
    [InlineData("{'items':[{'capacity_id':'{pool}','quantity':1},{'capacity_id':'{queue}','quantity':1}]}", "{pool}")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1},{'capacity_id':'{closed_list}','quantity':5}],'buyer_key':'newcomer'}", "{closed_list}")]
    public async Task Joining_a_capacity_whose_waiting_list_is_not_open_is_refused_and_queues_nothing(string body, string capacity)
    {
        var problem = await world.AssertRefusedAsync("POST", Join, body, 409, "WAITLIST_DISABLED");
        Assert.Equal("/problems/waitlist-disabled", problem["type"]!.GetValue<string>());
        Assert.Contains(world.Fill(capacity), problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(world.Fill(capacity), problem["capacity_id"]!.GetValue<string>());
    }

    [Theory]
    // A null key is no key; another item in the entry does not stand in for one.
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1}]}")]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':null}")]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':1},{'capacity_id':'{child}','quantity':1}],'external_ref':'order-2'}")]
    public async Task Joining_a_list_whose_capacity_has_a_limit_that_requires_a_key_without_one_is_refused_and_queues_nothing(string body)
    {
        var problem = await world.AssertRefusedAsync("POST", Join, body, 400, "BUYER_KEY_REQUIRED");
        Assert.Equal(world.Limit, problem["limit_id"]!.GetValue<string>());
    }

    [Theory]
    // The seeded buyer holds 3 of 4; a buyer cannot queue for more than the limit would let them hold.
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':2}],'buyer_key':'fan'}", 3, 2)]
    [InlineData("{'items':[{'capacity_id':'{queue}','quantity':2},{'capacity_id':'{child}','quantity':2}],'buyer_key':'fan'}", 3, 2)]
    [InlineData("{'items':[{'capacity_id':'{child}','quantity':5}],'buyer_key':'newcomer'}", 0, 5)]
    public async Task Joining_for_more_than_a_buyer_limit_allows_is_refused_and_queues_nothing(string body, long used, long requested)
    {
        var problem = await world.AssertRefusedAsync("POST", Join, body, 409, "BUYER_LIMIT_EXCEEDED");
        Assert.Equal(world.Limit, problem["limit_id"]!.GetValue<string>());
        Assert.Equal((used, requested, 4L), (problem["used"]!.GetValue<long>(), problem["requested"]!.GetValue<long>(), problem["per_buyer_max"]!.GetValue<long>()));
    }

    [Theory]
    // Not an object.
    [InlineData("{queue}", "{'waitlist':null}", "waitlist")]
    [InlineData("{queue}", "{'waitlist':true}", "waitlist")]
    [InlineData("{queue}", "{'waitlist':false}", "waitlist")]
    [InlineData("{queue}", "{'waitlist':'fifo'}", "waitlist")]
    [InlineData("{queue}", "{'waitlist':30}", "waitlist")]
    [InlineData("{queue}", "{'waitlist':[]}", "waitlist")]
    [InlineData("{pool}", "{'waitlist':[{'enabled':true}]}", "waitlist")]
    // Unknown fields, the list's counters, names in another case.
    [InlineData("{queue}", "{'waitlist':{'size':3}}", "waitlist.size")]
    [InlineData("{queue}", "{'waitlist':{'waiting':0}}", "waitlist.waiting")]
    [InlineData("{queue}", "{'waitlist':{'offered':0}}", "waitlist.offered")]
    [InlineData("{queue}", "{'waitlist':{'Enabled':false}}", "waitlist.Enabled")]
    [InlineData("{queue}", "{'waitlist':{'offerMinutes':5}}", "waitlist.offerMinutes")]
    [InlineData("{pool}", "{'waitlist':{'enabled':true,'colour':'red'}}", "waitlist.colour")]
    [InlineData("{pool}", "{'waitlist_demand':0}", "waitlist_demand")]
    [InlineData("{pool}", "{'enabled':true}", "enabled")]
    // enabled: true or false only.
    [InlineData("{queue}", "{'waitlist':{'enabled':null}}", "waitlist.enabled")]
    [InlineData("{queue}", "{'waitlist':{'enabled':'false'}}", "waitlist.enabled")]
    [InlineData("{queue}", "{'waitlist':{'enabled':0}}", "waitlist.enabled")]
    [InlineData("{pool}", "{'waitlist':{'enabled':1}}", "waitlist.enabled")]
    [InlineData("{pool}", "{'waitlist':{'enabled':[true]}}", "waitlist.enabled")]
    // offer_minutes: a whole number of minutes, 1 to 120.
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':0}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':121}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':-1}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':-2147483648}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':2147483647}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':2147483648}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':99999999999}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':-99999999999}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':1e40}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':1e1}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':15.5}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':'15'}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':null}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':true}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'offer_minutes':[15]}}", "waitlist.offer_minutes")]
    [InlineData("{pool}", "{'waitlist':{'offer_minutes':0}}", "waitlist.offer_minutes")]
    [InlineData("{pool}", "{'waitlist':{'enabled':false,'offer_minutes':121}}", "waitlist.offer_minutes")]
    [InlineData("{closed_list}", "{'waitlist':{'enabled':true,'offer_minutes':0}}", "waitlist.offer_minutes")]
    // policy: fifo or first_fit, exactly.
    [InlineData("{queue}", "{'waitlist':{'policy':'lifo'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':'FIFO'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':'Fifo'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':'first-fit'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':'firstFit'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':'FirstFit'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':' fifo'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':'fifo '}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':''}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':'fifo\\u0000'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':0}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':1}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':null}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':true}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'policy':['fifo']}}", "waitlist.policy")]
    [InlineData("{pool}", "{'waitlist':{'policy':'lifo'}}", "waitlist.policy")]
    // A field twice, inside the list or the list itself.
    [InlineData("{queue}", "{'waitlist':{'enabled':true,'enabled':false}}", "waitlist.enabled")]
    [InlineData("{queue}", "{'waitlist':{'policy':'fifo','offer_minutes':5,'policy':'first_fit'}}", "waitlist.policy")]
    [InlineData("{pool}", "{'waitlist':{'offer_minutes':5,'offer_minutes':6}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'enabled':false},'waitlist':{'enabled':true}}", "body")]
    // One bad field refuses the good ones with it, whichever side of the list it is on.
    [InlineData("{queue}", "{'waitlist':{'enabled':false,'policy':'lifo'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'waitlist':{'enabled':false,'offer_minutes':0}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'policy':'first_fit','colour':'red'}}", "waitlist.colour")]
    [InlineData("{queue}", "{'section_name':'Renamed','waitlist':{'policy':'lifo'}}", "waitlist.policy")]
    [InlineData("{queue}", "{'section_name':'Renamed','section_code':'Q','is_active':false,'waitlist':{'enabled':false,'offer_minutes':121}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'total_capacity':20,'waitlist':{'offer_minutes':'5'}}", "waitlist.offer_minutes")]
    [InlineData("{pool}", "{'section_name':'Renamed','waitlist':{'enabled':true,'offer_minutes':0}}", "waitlist.offer_minutes")]
    [InlineData("{queue}", "{'waitlist':{'enabled':false},'total_capacity':-1}", "total_capacity")]
    [InlineData("{queue}", "{'waitlist':{'enabled':false},'section_name':''}", "section_name")]
    [InlineData("{queue}", "{'waitlist':{'enabled':false},'colour':'red'}", "colour")]
    [InlineData("{pool}", "{'waitlist':{'enabled':true},'total_capacity':'100'}", "total_capacity")]
    public async Task Updating_a_waiting_list_with_bad_settings_is_a_validation_error_that_changes_nothing_of_the_update(string id, string body, string field) =>
        await world.AssertRefusedAsync("PUT", "/capacity/" + id, body, 400, "VALIDATION_ERROR", field);

    [Theory]
    [InlineData("after=-1", "after")]
    [InlineData("after=abc", "after")]
    [InlineData("after=1.5", "after")]
    [InlineData("after=", "after")]
    [InlineData("after=1e3", "after")]
    [InlineData("after=99999999999999999999", "after")]
    [InlineData("after=-9223372036854775808", "after")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=", "limit")]
    [InlineData("limit=1.0", "limit")]
    [InlineData("limit=1e3", "limit")]
    [InlineData("limit=99999999999", "limit")]
    [InlineData("after=0&limit=0", "limit")]
    [InlineData("after=x&limit=10", "after")]
    // Given twice: one value or the other would be a guess.
    [InlineData("after=0&after=1", "after")]
    [InlineData("limit=1&limit=2", "limit")]
    public async Task Reading_a_waiting_list_with_a_bad_page_is_a_validation_error(string query, string field)
    {
        // On a list with entries, on a list nobody joined and on a capacity that never had one: the page is checked alike.
        foreach (var capacity in new[] { "{queue}", "{closed_list}", "{pool}" })
        {
            await world.AssertRefusedAsync("GET", $"/capacity/{capacity}/waitlist?" + query, null, 400, "VALIDATION_ERROR", field);
        }
    }

    [Fact]
    public async Task Reading_a_waiting_list_at_the_edges_of_its_bounds_works()
    {
        await world.EnsureCleanAsync();
        var t = world.Tenant.Client;
        var all = await Api.ReadAsync(await t.GetAsync($"/capacity/{world.Queue}/waitlist?after=0&limit=1000"), 200);
        Assert.Equal([world.Entry, world.LeftEntry], all["entries"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()));
        Assert.Null(all["next_after"]);
        var one = await Api.ReadAsync(await t.GetAsync($"/capacity/{world.Queue}/waitlist?limit=1"), 200);
        Assert.Equal(world.Entry, Assert.Single(one["entries"]!.AsArray())!["id"]!.GetValue<string>());
        var rest = await Api.ReadAsync(await t.GetAsync($"/capacity/{world.Queue}/waitlist?limit=1&after={one["next_after"]!.GetValue<long>()}"), 200);
        Assert.Equal(world.LeftEntry, Assert.Single(rest["entries"]!.AsArray())!["id"]!.GetValue<string>());
        var beyond = await Api.ReadAsync(await t.GetAsync($"/capacity/{world.Queue}/waitlist?after={long.MaxValue}"), 200);
        Assert.Empty(beyond["entries"]!.AsArray());
        Assert.Empty((await Api.ReadAsync(await t.GetAsync($"/capacity/{world.Pool}/waitlist"), 200))["entries"]!.AsArray());
    }

    [Theory]
    [InlineData("")]
    [InlineData("?buyer_key=")]
    [InlineData("?buyer_key")]
    [InlineData("?buyer_key=%20")]
    [InlineData("?buyer_key=+++")]
    [InlineData("?buyer_key=%09")]
    [InlineData("?buyer_key=%C2%A0")]
    [InlineData("?buyer_key={x129}")]
    [InlineData("?buyer_key=a%00b")]
    [InlineData("?buyer_key=%01")]
    [InlineData("?buyer_key=a%0Ab")]
    [InlineData("?buyer_key=%7F")]
    [InlineData("?buyer_key=a%C2%85")]
    [InlineData("?buyer_key=a%E2%80%8Bb")]
    [InlineData("?buyerkey=fan")]
    [InlineData("?key=fan")]
    public async Task Reading_usage_with_a_missing_blank_or_bad_buyer_key_is_a_validation_error(string query) =>
        await world.AssertRefusedAsync("GET", "/limits/{limit}/usage" + query, null, 400, "VALIDATION_ERROR", "buyer_key");

    [Fact]
    public async Task Reading_usage_at_the_edges_of_the_buyer_key_rule_works()
    {
        await world.EnsureCleanAsync();
        var t = world.Tenant.Client;
        Assert.Equal(3, await t.UsageAsync(world.Limit, BadInputWorld.Buyer));
        Assert.Equal(0, await t.UsageAsync(world.Limit, new string('k', 128)));
        Assert.Equal(0, await t.UsageAsync(world.Limit, "FAN"));
    }

    [Theory]
    [InlineData("after=-1", "after")]
    [InlineData("after=abc", "after")]
    [InlineData("after=1.5", "after")]
    [InlineData("after=", "after")]
    [InlineData("after=99999999999999999999", "after")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=", "limit")]
    [InlineData("limit=1e3", "limit")]
    [InlineData("limit=99999999999", "limit")]
    [InlineData("after=0&limit=0", "limit")]
    public async Task Reading_the_ledger_with_a_bad_page_is_a_validation_error(string query, string field) =>
        await world.AssertRefusedAsync("GET", "/events/{ev}/ledger?" + query, null, 400, "VALIDATION_ERROR", field);

    [Fact]
    public async Task Reading_the_ledger_at_the_edges_of_its_bounds_works()
    {
        await world.EnsureCleanAsync();
        var all = await Api.ReadAsync(await world.Tenant.Client.GetAsync($"/events/{BadInputWorld.Event}/ledger?after=0&limit=1000"), 200);
        Assert.NotEmpty(all["entries"]!.AsArray());
        var one = await Api.ReadAsync(await world.Tenant.Client.GetAsync($"/events/{BadInputWorld.Event}/ledger?limit=1"), 200);
        Assert.Single(one["entries"]!.AsArray());
        var beyond = await Api.ReadAsync(await world.Tenant.Client.GetAsync($"/events/{BadInputWorld.Event}/ledger?after={long.MaxValue}"), 200);
        Assert.Empty(beyond["entries"]!.AsArray());
    }

    [Theory]
    [InlineData(null, "body")]
    [InlineData("", "body")]
    [InlineData("{'name':", null)]
    [InlineData("{'name':'T'", null)]
    [InlineData("[]", "body")]
    [InlineData("'T'", "body")]
    [InlineData("null", "body")]
    [InlineData("{}", "name")]
    [InlineData("{'name':null}", "name")]
    [InlineData("{'name':7}", "name")]
    [InlineData("{'name':'T','colour':'red'}", "colour")]
    [InlineData("{'name':'T','api_key':'cap_mine'}", "api_key")]
    [InlineData("{'name':''}", "name")]
    [InlineData("{'name':'   '}", "name")]
    [InlineData("{'name':'{x10k}'}", "name")]
    [InlineData("{'name':'T\\u0000'}", "name")]
    [InlineData("{'name':'T\\u0085'}", "name")]
    public async Task Creating_a_tenant_with_a_bad_body_is_a_validation_error_that_creates_nothing(string? body, string? field) =>
        await world.AssertRefusedAsync("POST", "/admin/tenants", body, 400, "VALIDATION_ERROR", field, admin: true);

    [Theory]
    [InlineData("/admin/tenants/{tenant}/keys", "[]", 400, "VALIDATION_ERROR")]
    [InlineData("/admin/tenants/{tenant}/keys", "{'colour':'red'}", 400, "VALIDATION_ERROR")]
    [InlineData("/admin/tenants/{tenant}/keys", "null", 400, "VALIDATION_ERROR")]
    [InlineData("/admin/tenants/{tenant}/keys", "{", 400, "VALIDATION_ERROR")]
    [InlineData("/admin/tenants/not-a-guid/keys", null, 404, "NOT_FOUND")]
    [InlineData("/admin/tenants/{random}/keys", null, 404, "NOT_FOUND")]
    [InlineData("/admin/tenants/{random}/keys", "{}", 404, "NOT_FOUND")]
    [InlineData("/admin/tenants/{pool}/keys", null, 404, "NOT_FOUND")]
    public async Task Issuing_a_key_with_bad_input_is_refused_and_issues_nothing(string path, string? body, int status, string code) =>
        await world.AssertRefusedAsync("POST", path, body, status, code, admin: true);

    [Theory]
    [InlineData("DELETE", "/capacity/{pool}", false)]
    [InlineData("PATCH", "/capacity/{pool}", false)]
    [InlineData("POST", "/capacity/{pool}", false)]
    [InlineData("GET", "/capacity/{pool}/check", false)]
    [InlineData("GET", "/capacity/{pool}/reserve", false)]
    [InlineData("PUT", "/events/{ev}/capacity", false)]
    [InlineData("DELETE", "/events/{ev}/capacity", false)]
    [InlineData("POST", "/events/{ev}/capacity/total", false)]
    [InlineData("POST", "/events/{ev}/ledger", false)]
    [InlineData("PUT", "/reservations", false)]
    [InlineData("DELETE", "/reservations", false)]
    [InlineData("DELETE", "/reservations/{hold}", false)]
    [InlineData("PUT", "/reservations/{hold}", false)]
    [InlineData("GET", "/reservations/{hold}/confirm", false)]
    [InlineData("PUT", "/reservations/{hold}/release", false)]
    [InlineData("DELETE", "/reservations/{sold}/cancel", false)]
    [InlineData("GET", "/reservations/{hold}/extend", false)]
    [InlineData("DELETE", "/pricing/{pool_price}", false)]
    [InlineData("POST", "/pricing/{pool_price}", false)]
    [InlineData("DELETE", "/capacity/{pool}/pricing", false)]
    [InlineData("DELETE", "/allocations/{alloc}", false)]
    [InlineData("PATCH", "/allocations/{alloc}", false)]
    [InlineData("POST", "/allocations/{alloc}", false)]
    [InlineData("GET", "/allocations/{alloc}/release", false)]
    [InlineData("PUT", "/allocations/{alloc}/close", false)]
    [InlineData("DELETE", "/capacity/{pool}/allocations", false)]
    [InlineData("PUT", "/capacity/{pool}/allocations", false)]
    [InlineData("PUT", "/events/{ev}/limits", false)]
    [InlineData("DELETE", "/events/{ev}/limits", false)]
    [InlineData("POST", "/limits/{limit}", false)]
    [InlineData("PATCH", "/limits/{limit}", false)]
    [InlineData("POST", "/limits/{limit}/usage", false)]
    [InlineData("DELETE", "/limits/{limit}/usage", false)]
    [InlineData("GET", "/waitlist", false)]
    [InlineData("PUT", "/waitlist", false)]
    [InlineData("DELETE", "/waitlist", false)]
    [InlineData("POST", "/waitlist/{entry}", false)]
    [InlineData("PUT", "/waitlist/{entry}", false)]
    [InlineData("PATCH", "/waitlist/{entry}", false)]
    [InlineData("POST", "/capacity/{queue}/waitlist", false)]
    [InlineData("PUT", "/capacity/{queue}/waitlist", false)]
    [InlineData("DELETE", "/capacity/{queue}/waitlist", false)]
    [InlineData("DELETE", "/admin/tenants", true)]
    [InlineData("DELETE", "/admin/tenants/{tenant}/keys", true)]
    [InlineData("POST", "/admin/verify", true)]
    [InlineData("POST", "/healthz", false)]
    [InlineData("DELETE", "/readyz", false)]
    public async Task A_method_a_route_does_not_take_is_method_not_allowed(string method, string path, bool admin) =>
        await world.AssertRefusedAsync(method, path, method is "GET" or "DELETE" ? null : "{}", 405, "METHOD_NOT_ALLOWED", admin: admin);

    [Theory]
    [InlineData("POST", "/events/{ev}/capacity", false)]
    [InlineData("PUT", "/capacity/{pool}", false)]
    [InlineData("PUT", "/capacity/not-a-guid", false)]
    [InlineData("POST", "/capacity/{child}/check", false)]
    [InlineData("POST", "/capacity/{child}/reserve", false)]
    [InlineData("POST", "/reservations", false)]
    [InlineData("POST", "/reservations/{hold}/confirm", false)]
    [InlineData("POST", "/reservations/{hold}/release", false)]
    [InlineData("POST", "/reservations/{sold}/cancel", false)]
    [InlineData("POST", "/reservations/{hold}/extend", false)]
    [InlineData("POST", "/capacity/{child}/pricing", false)]
    [InlineData("PUT", "/pricing/{child_price}", false)]
    [InlineData("POST", "/capacity/{child}/allocations", false)]
    [InlineData("PUT", "/allocations/{alloc}", false)]
    [InlineData("POST", "/allocations/{alloc}/release", false)]
    [InlineData("POST", "/allocations/{alloc}/close", false)]
    [InlineData("POST", "/events/{ev}/limits", false)]
    [InlineData("PUT", "/limits/{limit}", false)]
    [InlineData("PUT", "/limits/not-a-guid", false)]
    [InlineData("DELETE", "/limits/{limit}", false)]
    [InlineData("POST", "/waitlist", false)]
    [InlineData("DELETE", "/waitlist/{entry}", false)]
    [InlineData("DELETE", "/waitlist/not-a-guid", false)]
    [InlineData("PUT", "/capacity/{queue}", false)]
    [InlineData("POST", "/admin/tenants", true)]
    [InlineData("POST", "/admin/tenants/{tenant}/keys", true)]
    public async Task A_body_over_64_KiB_is_payload_too_large_whether_its_length_is_declared_or_not(string method, string path, bool admin)
    {
        // Valid JSON padded past the limit: only its size is wrong.
        var json = Encoding.UTF8.GetBytes("{\"section_name\":\"" + new string('x', 64 * 1024) + "\"}");
        await world.AssertRefusedAsync(() => world.SendAsync(method, path, json, admin: admin), 413, "PAYLOAD_TOO_LARGE");
        await world.AssertRefusedAsync(
            () => world.SendAsync(method, path, (byte[]?)null, r => r.Content = new UnsizedContent(json), admin),
            413,
            "PAYLOAD_TOO_LARGE");
    }

    [Fact]
    public async Task A_body_of_exactly_64_KiB_is_read_and_one_byte_more_is_payload_too_large()
    {
        await world.EnsureCleanAsync();
        var json = "{\"quantity\":1}";
        var exact = Encoding.UTF8.GetBytes(json + new string(' ', (64 * 1024) - json.Length));
        Assert.Equal(65536, exact.Length);
        using var ok = await world.SendAsync("POST", "/capacity/{child}/check", exact);
        Assert.True((await Api.ReadAsync(ok, 200))["available"]!.GetValue<bool>());

        byte[] over = [.. exact, (byte)' '];
        await world.AssertRefusedAsync(() => world.SendAsync("POST", "/capacity/{child}/check", over), 413, "PAYLOAD_TOO_LARGE");
    }

    [Theory]
    [InlineData("POST", "/events/{ev}/capacity", "{'section_name':'Keyed','total_capacity':5}", false)]
    [InlineData("PUT", "/capacity/{pool}", "{'section_name':'Renamed'}", false)]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'buyer_key':'other-fan'}", false)]
    [InlineData("POST", "/reservations", "{'items':[{'capacity_id':'{child}','quantity':1}],'buyer_key':'other-fan'}", false)]
    [InlineData("POST", "/reservations/{hold}/confirm", null, false)]
    [InlineData("POST", "/reservations/{hold}/release", "{}", false)]
    [InlineData("POST", "/reservations/{sold}/cancel", null, false)]
    [InlineData("POST", "/reservations/{hold}/extend", "{'minutes':30}", false)]
    [InlineData("POST", "/capacity/{child}/pricing", "{'name':'Keyed','base_price':1,'currency':'EUR'}", false)]
    [InlineData("PUT", "/pricing/{child_price}", "{'base_price':99}", false)]
    [InlineData("POST", "/capacity/{child}/allocations", "{'name':'Keyed','quantity':1}", false)]
    [InlineData("PUT", "/allocations/{alloc}", "{'name':'Keyed'}", false)]
    [InlineData("POST", "/allocations/{alloc}/release", "{'quantity':1}", false)]
    [InlineData("POST", "/allocations/{alloc}/close", null, false)]
    [InlineData("POST", "/capacity/{child}/reserve", "{'quantity':1,'allocation_id':'{alloc}','buyer_key':'other-fan'}", false)]
    [InlineData("POST", "/events/{ev}/limits", "{'name':'Keyed','capacity_ids':['{pool}'],'per_buyer_max':2}", false)]
    [InlineData("PUT", "/limits/{limit}", "{'per_buyer_max':10}", false)]
    [InlineData("DELETE", "/limits/{limit}", null, false)]
    [InlineData("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}],'buyer_key':'other-fan','external_ref':'keyed'}", false)]
    [InlineData("DELETE", "/waitlist/{entry}", null, false)]
    [InlineData("PUT", "/capacity/{queue}", "{'waitlist':{'enabled':false,'offer_minutes':5,'policy':'first_fit'}}", false)]
    [InlineData("POST", "/admin/tenants", "{'name':'Keyed'}", true)]
    [InlineData("POST", "/admin/tenants/{tenant}/keys", null, true)]
    public async Task A_bad_idempotency_key_refuses_an_otherwise_good_write(string method, string path, string? body, bool admin)
    {
        await world.AssertRefusedAsync(() => world.SendRawAsync(method, path, body, "Idempotency-Key", "", admin), 400, "VALIDATION_ERROR", "Idempotency-Key");

        string[][] keys =
        [
            [new string('k', 256)],
            ["clé-1"],
            ["key\u00a0one"],
            ["key-\u4e00"],
            ["first", "second"],
        ];
        foreach (var values in keys)
        {
            await world.AssertRefusedAsync(
                () => world.SendAsync(method, path, body, r => r.Headers.TryAddWithoutValidation("Idempotency-Key", values), admin),
                400,
                "VALIDATION_ERROR",
                "Idempotency-Key");
        }
    }

    [Fact]
    public async Task An_idempotency_key_reused_for_another_request_is_refused_and_changes_nothing()
    {
        await world.EnsureCleanAsync();
        var key = "reuse-" + Guid.NewGuid().ToString("N");
        void Keyed(HttpRequestMessage r) => r.Headers.Add("Idempotency-Key", key);
        using (var first = await world.SendAsync("POST", "/capacity/{child}/reserve", "{'quantity':1,'buyer_key':'other-fan'}", Keyed))
        {
            await Api.ReadAsync(first, 201);
        }

        // Same key: another path, another method, another body on the same path.
        await world.AssertRefusedAsync(() => world.SendAsync("POST", "/reservations/{hold}/confirm", (string?)null, Keyed), 422, "IDEMPOTENCY_KEY_REUSED");
        await world.AssertRefusedAsync(() => world.SendAsync("PUT", "/capacity/{child}", "{'section_name':'Reused'}", Keyed), 422, "IDEMPOTENCY_KEY_REUSED");
        await world.AssertRefusedAsync(() => world.SendAsync("POST", "/capacity/{child}/reserve", "{'quantity':2,'buyer_key':'other-fan'}", Keyed), 422, "IDEMPOTENCY_KEY_REUSED");
        await world.AssertRefusedAsync(() => world.SendAsync("POST", "/capacity/{pool}/reserve", "{'quantity':1}", Keyed), 422, "IDEMPOTENCY_KEY_REUSED");
        await world.AssertRefusedAsync(() => world.SendAsync("DELETE", "/limits/{limit}", (string?)null, Keyed), 422, "IDEMPOTENCY_KEY_REUSED");
        await world.AssertRefusedAsync(() => world.SendAsync("DELETE", "/waitlist/{entry}", (string?)null, Keyed), 422, "IDEMPOTENCY_KEY_REUSED");
        await world.AssertRefusedAsync(() => world.SendAsync("POST", "/waitlist", "{'items':[{'capacity_id':'{queue}','quantity':1}]}", Keyed), 422, "IDEMPOTENCY_KEY_REUSED");
        world.MarkChanged();
    }

    /// <summary>
    /// A request refused before it reaches the writer applied nothing, so its key is not spent: the same
    /// key with the request put right takes effect, once. A refusal the writer decided is that key's
    /// answer from then on, as a success would be (docs/api.md, "Idempotency").
    /// </summary>
    [Fact]
    public async Task A_key_refused_before_the_writer_is_not_spent_and_a_refusal_the_writer_decided_is_replayed()
    {
        await world.EnsureCleanAsync();
        var key = "fixed-" + Guid.NewGuid().ToString("N");
        void Keyed(HttpRequestMessage r) => r.Headers.Add("Idempotency-Key", key);
        await world.AssertRefusedAsync(() => world.SendAsync("POST", "/capacity/{pool}/reserve", "{'quantity':'one'}", Keyed), 400, "VALIDATION_ERROR", "quantity");
        world.MarkChanged();
        string id;
        using (var first = await world.SendAsync("POST", "/capacity/{pool}/reserve", "{'quantity':1}", Keyed))
        {
            Assert.False(first.Headers.Contains("Idempotent-Replayed"));
            id = (await Api.ReadAsync(first, 201))["reservation"]!["id"]!.GetValue<string>();
        }

        using (var again = await world.SendAsync("POST", "/capacity/{pool}/reserve", "{'quantity':1}", Keyed))
        {
            Assert.Equal("true", Assert.Single(again.Headers.GetValues("Idempotent-Replayed")));
            Assert.Equal(id, (await Api.ReadAsync(again, 201))["reservation"]!["id"]!.GetValue<string>());
        }

        var refused = "refused-" + Guid.NewGuid().ToString("N");
        void RefusedKey(HttpRequestMessage r) => r.Headers.Add("Idempotency-Key", refused);
        foreach (var replayed in new[] { false, true })
        {
            using var answer = await world.SendAsync("POST", "/capacity/{pool}/reserve", "{'quantity':99}", RefusedKey);
            Assert.Equal(replayed, answer.Headers.Contains("Idempotent-Replayed"));
            await Api.ProblemAsync(answer, 409, "INSUFFICIENT_CAPACITY");
        }

        using var reused = await world.SendAsync("POST", "/capacity/{pool}/reserve", "{'quantity':1}", RefusedKey);
        await Api.ProblemAsync(reused, 422, "IDEMPOTENCY_KEY_REUSED");
        await world.App.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Refusals_name_what_is_wrong_in_words_a_client_can_act_on_and_echo_a_long_field_name_only_in_part()
    {
        // A field name of 60,000 characters comes back cut to 100 (and an ellipsis), not three times whole.
        var name = new string('k', 60_000);
        var unknown = await world.AssertRefusedAsync("POST", "/capacity/{pool}/reserve", $"{{'quantity':1,'{name}':1}}", 400, "VALIDATION_ERROR");
        Assert.True(unknown.ToJsonString().Length < 2_000, $"The answer has {unknown.ToJsonString().Length} characters.");
        Assert.Equal(new string('k', 100) + "… is not a field of this request.", unknown["detail"]!.GetValue<string>());
        var emoji = await world.AssertRefusedAsync("POST", "/capacity/{pool}/reserve", $"{{'quantity':1,'{new string('k', 99)}🎟{name}':1}}", 400, "VALIDATION_ERROR");
        Assert.Equal(new string('k', 99) + "… is not a field of this request.", emoji["detail"]!.GetValue<string>());

        // A null where a list is needed is said as such, not as JSON that does not parse.
        foreach (var (path, body, field) in new[]
        {
            ("/reservations", "{'items':null}", "items"),
            ("/waitlist", "{'items':null}", "items"),
            ("/events/{ev}/limits", "{'name':'Four','per_buyer_max':4,'capacity_ids':null}", "capacity_ids"),
        })
        {
            var refused = await world.AssertRefusedAsync("POST", path, body, 400, "VALIDATION_ERROR", field);
            Assert.Equal($"{field} may not be null.", refused["detail"]!.GetValue<string>());
        }

        // A partial confirm or refund is bounded by what the reservation has, which is what the refusal says.
        var confirm = await world.AssertRefusedAsync("POST", "/reservations/{hold}/confirm", "{'items':[{'capacity_id':'{child}','quantity':-1}]}", 400, "INVALID_QUANTITY");
        Assert.Equal("items[0].quantity must be between 0 and what the reservation has of that capacity.", confirm["detail"]!.GetValue<string>());
        var refund = await world.AssertRefusedAsync("POST", "/reservations/{sold}/cancel", "{'items':[{'capacity_id':'{pool}','quantity':0}]}", 400, "INVALID_QUANTITY");
        Assert.Equal("items[0].quantity must be between 1 and what the reservation has of that capacity.", refund["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Refused_requests_answer_problem_json_even_when_the_client_accepts_only_json() =>
        await world.AssertRefusedAsync(
            () => world.SendAsync("POST", Create, "[]", r => r.Headers.Accept.ParseAdd("application/json")),
            400,
            "VALIDATION_ERROR",
            "body");

    /// <summary>A body whose length is not declared, so the server must count while it reads.</summary>
    private sealed class UnsizedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes, 0, bytes.Length);

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}

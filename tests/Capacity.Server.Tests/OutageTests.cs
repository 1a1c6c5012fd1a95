using System.Diagnostics;
using System.Net;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>The database goes away under load and comes back; nothing acknowledged is lost.</summary>
public sealed class OutageTests
{
    [Fact]
    public async Task Stopping_and_restarting_postgres_under_load_fails_fast_recovers_and_loses_nothing()
    {
        await PostgresServer.SharedAsync(); // skips or fails with the reason when PostgreSQL is missing
        await using var pg = await PostgresServer.StartPrivateAsync();
        var schema = await pg.NewSchemaAsync();
        await using var app = new CapacityApp(new()
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:Postgres:ConnectionString"] = schema,
        });
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("e", "Pool", 100_000);

        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
        var failures = new System.Collections.Concurrent.ConcurrentBag<TimeSpan>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 16).Select(async worker =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var request = new HttpRequestMessage(HttpMethod.Post, $"/capacity/{pool}/reserve") { Content = Api.Json(new { quantity = 1 }) };
                request.Headers.Add("Idempotency-Key", $"w{worker}-{n++}");
                var started = Stopwatch.StartNew();
                var response = await t.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    acknowledged.Add((await Api.ReadAsync(response, 201))["reservation"]!["id"]!.GetValue<string>());
                }
                else
                {
                    await Api.ProblemAsync(response, 503, "SERVICE_UNAVAILABLE");
                    failures.Add(started.Elapsed);
                    await Task.Delay(20);
                }
            }
        }).ToList();

        await Task.Delay(500);
        await pg.StopAsync();
        await Task.Delay(1500);
        await Api.ProblemAsync(await t.GetAsync("/readyz"), 503, "SERVICE_UNAVAILABLE");
        await pg.RestartAsync();

        // Recovery by itself: new holds succeed again without a restart of the service.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var countAtRestart = acknowledged.Count;
        while (acknowledged.Count < countAtRestart + 50 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.True(acknowledged.Count >= countAtRestart + 50, "the service did not recover after the database came back");
        Assert.NotEmpty(failures);
        Assert.True(failures.Order().ElementAt(failures.Count / 2) < TimeSpan.FromSeconds(1.5), $"failures were slow: median {failures.Order().ElementAt(failures.Count / 2)}");
        Assert.Equal(HttpStatusCode.OK, (await t.GetAsync("/readyz")).StatusCode);

        foreach (var id in acknowledged)
        {
            var r = await Api.ReadAsync(await t.GetAsync($"/reservations/{id}"), 200);
            Assert.Equal("active", r["status"]!.GetValue<string>());
        }

        var p = await t.GetCapacityAsync(pool);
        Assert.True(p["reserved_capacity"]!.GetValue<long>() >= acknowledged.Count);
        await app.AssertInvariantsAsync();
    }
}

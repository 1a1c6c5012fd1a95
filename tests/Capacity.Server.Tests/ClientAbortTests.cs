using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>Clients that vanish mid-request, against a real server process (Kestrel, not the test host).</summary>
public sealed class ClientAbortTests
{
    [Fact]
    public async Task A_client_that_closes_the_connection_mid_body_or_before_its_answer_is_not_logged_as_a_server_error_and_changes_nothing()
    {
        var directory = Path.Combine(Path.GetTempPath(), "capacity-tests", Guid.NewGuid().ToString("N"));
        await using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = directory,
            ["Auth:AdminKey"] = CapacityApp.AdminKey,
        });
        string key;
        using (var admin = server.Client(CapacityApp.AdminKey))
        {
            key = (await Api.ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "Abort" }), 201))["api_key"]!.GetValue<string>();
        }

        using var client = server.Client(key);
        var pool = (await Api.ReadAsync(await client.PostAsJsonAsync("/events/abort/capacity", new { section_name = "Pool", total_capacity = 10 }), 201))["id"]!.GetValue<string>();

        var uri = new Uri(server.Url);
        for (var i = 0; i < 20; i++)
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(uri.Host, uri.Port);
            var stream = socket.GetStream();
            var head = $"POST /capacity/{pool}/reserve HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {key}\r\n"
                + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"quantity\":";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.FlushAsync();
        }

        // And clients that send a whole request that is refused (more than the pool holds), then close
        // before reading: the problem body goes to a closed connection.
        for (var i = 0; i < 20; i++)
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(uri.Host, uri.Port);
            var body = "{\"quantity\":11}";
            var request = $"POST /capacity/{pool}/reserve HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {key}\r\n"
                + $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}";
            await socket.GetStream().WriteAsync(Encoding.ASCII.GetBytes(request));
            socket.Client.Shutdown(SocketShutdown.Both);
        }

        // The sockets are closed; give the server a moment to notice, then check it is still well.
        await Task.Delay(500);
        var node = await Api.ReadAsync(await client.GetAsync($"/capacity/{pool}"), 200);
        Assert.Equal(0, node["reserved_capacity"]!.GetValue<long>());
        Assert.DoesNotContain("unhandled exception", server.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\"LogLevel\":\"Error\"", server.Output, StringComparison.Ordinal);
    }
}

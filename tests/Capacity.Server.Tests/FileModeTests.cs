using System.Net.Http.Headers;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>What the server writes to disk is its user's alone: the data directory 0700, every file 0600 from the moment it exists.</summary>
public sealed class FileModeTests
{
    [Fact]
    public async Task A_fresh_data_directory_its_database_files_and_the_generated_admin_key_are_readable_by_the_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var root = Path.Combine(Path.GetTempPath(), "capacity-modes", Guid.NewGuid().ToString("N"));
        var data = Path.Combine(root, "data");
        try
        {
            await using (var server = await ServerProcess.StartAsync(new Dictionary<string, string> { ["Storage:DataDirectory"] = data }))
            {
                // A write, so that the -wal and -shm files exist too.
                using var admin = new HttpClient { BaseAddress = new Uri(server.Url) };
                admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(Path.Combine(data, "admin.key")).Trim());
                Assert.True((await admin.PostAsync("/admin/tenants", Api.Json(new { name = "Modes" }))).IsSuccessStatusCode);

                const UnixFileMode ownerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                Assert.Equal(ownerFile | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
                foreach (var name in new[] { "admin.key", "capacity.db", "capacity.db-wal", "capacity.db-shm", "capacity.db.lock" })
                {
                    var file = Path.Combine(data, name);
                    Assert.True(File.Exists(file), $"{name} does not exist");
                    Assert.True(File.GetUnixFileMode(file) == ownerFile, $"{name} is {File.GetUnixFileMode(file)}");
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

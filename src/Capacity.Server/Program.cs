using Capacity.Engine;
using Capacity.Server.Http;

// The web root (the dashboard) is looked up next to the binary, not in the working directory, which
// `dotnet run` sets to wherever it was typed.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
});
builder.AddCapacity();

var app = builder.Build();

// Schema first: the engine's writer must never see an old schema.
await app.Services.GetRequiredService<ICapacityStore>().MigrateAsync(CancellationToken.None);
app.UseCapacity();
await app.RunAsync();

/// <summary>Visible to WebApplicationFactory, which hosts the real pipeline in the tests.</summary>
public partial class Program;

using Capacity.Engine;
using Capacity.Server.Http;

var builder = WebApplication.CreateBuilder(args);
builder.AddCapacity();

var app = builder.Build();

// Schema first: the engine's writer must never see an old schema.
await app.Services.GetRequiredService<ICapacityStore>().MigrateAsync(CancellationToken.None);
app.UseCapacity();
await app.RunAsync();

/// <summary>Visible to WebApplicationFactory, which hosts the real pipeline in the tests.</summary>
public partial class Program;

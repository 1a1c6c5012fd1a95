using System.Globalization;
using System.Reflection;

namespace Capacity.Storage;

/// <summary>
/// A store's versioned schema scripts, embedded in its assembly as <c>Migrations/NNN_name.sql</c> and
/// applied in version order. Each store applies them in its own way (and, on PostgreSQL, under a lock).
/// </summary>
public static class MigrationScripts
{
    public static IReadOnlyList<(int Version, string Name, string Sql)> Load(Assembly assembly)
    {
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var file = resource.Split('.')[^2];
            var version = int.Parse(file.AsSpan(0, file.IndexOf('_', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
            using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
            scripts.Add((version, file, reader.ReadToEnd()));
        }

        return scripts;
    }
}

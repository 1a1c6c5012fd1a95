using System.Globalization;
using System.Reflection;

namespace Capacity.Storage;

/// <summary>
/// A store's versioned schema scripts, embedded in its assembly as <c>Migrations/NNN_name.sql</c> and
/// applied in version order. Each store applies them in its own way (and, on PostgreSQL, under a lock).
/// A released script is never edited: a database that already ran it would never see the change
/// (018 had to repair four such edits). A change goes in a new script; MigrationHashTests pins them.
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

    /// <summary>
    /// Refuses a database whose newest recorded migration (<paramref name="recorded"/>, null for none) is
    /// newer than any this build knows: its schema may hold what this build would misread or overwrite,
    /// so nothing is written to it. Called before a store applies anything.
    /// </summary>
    public static void RefuseNewer(long? recorded, int known)
    {
        if (recorded > known)
        {
            throw new NewerSchemaException((int)recorded.Value, known);
        }
    }
}

/// <summary>The database was migrated by a newer version of Capacity than this one; see <see cref="MigrationScripts.RefuseNewer"/>.</summary>
public sealed class NewerSchemaException(int recorded, int known) : InvalidOperationException(
    $"The database was migrated by a newer version of Capacity (migration {recorded}; this one knows up to {known}): run that version or restore the backup taken before the upgrade.")
{
    public int Recorded { get; } = recorded;

    public int Known { get; } = known;
}

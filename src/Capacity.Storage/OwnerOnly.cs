namespace Capacity.Storage;

/// <summary>
/// Files and directories that hold tickets, holds and keys are the server's user's alone: directories
/// 0700, files 0600, set when they are created (not chmod-ed afterwards, which leaves a moment in which
/// another user can open them). Existing ones keep the modes an operator gave them. Windows has ACLs
/// instead, and keeps its defaults.
/// </summary>
public static class OwnerOnly
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    /// <summary>Creates an empty file unless it exists (an empty file is a valid new SQLite database).</summary>
    public static void CreateFile(string path)
    {
        if (!File.Exists(path))
        {
            using var created = new FileStream(path, Options(FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite));
        }
    }

    /// <summary>Writes a new file's text, readable by its owner only from its first byte.</summary>
    public static void WriteNew(string path, string text)
    {
        using var file = new FileStream(path, Options(FileMode.CreateNew, FileAccess.Write, FileShare.None));
        using var writer = new StreamWriter(file);
        writer.Write(text);
    }

    /// <summary>
    /// The mode of an existing file or directory that other users of the machine may read or enter (its
    /// group or others bits), or null when only its owner may, it does not exist, or on Windows. The
    /// server keeps such modes (an operator may mean them) and says so at start.
    /// </summary>
    public static UnixFileMode? OpenToOthers(string path)
    {
        if (OperatingSystem.IsWindows() || !Path.Exists(path))
        {
            return null;
        }

        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        var mode = File.GetUnixFileMode(path);
        return (mode & others) != 0 ? mode : null;
    }

    /// <summary>A mode as <c>chmod</c> writes it: 0644.</summary>
    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);

    public static FileStreamOptions Options(FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode600;
        }

        return options;
    }
}

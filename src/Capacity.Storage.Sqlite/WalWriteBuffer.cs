using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// A VFS that wraps SQLite's own ("unix") and changes one thing: the writes a connection makes to its
/// WAL file are gathered in memory and handed to the file in one write when SQLite syncs it, which
/// at <c>synchronous=FULL</c> it does at the end of every commit, before the commit counts.
/// <para>
/// Why: SQLite writes each frame of a commit as two writes (its 24-byte header, then the page), so a
/// batch of holds, about 25 pages, was 50 <c>pwrite</c> calls before its <c>fsync</c>. Each call
/// costs a system call's entry and exit, dear under a hypervisor, and the file system's work per
/// write: on the host this was measured on, a probe writing the same bytes as 50 writes or as one,
/// then syncing, took 131–156 against 64–67 µs of CPU a commit (docs/performance.md, "The WAL
/// written in one piece").
/// </para>
/// <para>
/// Nothing durable changes. SQLite makes a commit visible to other connections (in the WAL index)
/// only after its sync returns, and the sync here first writes what was gathered, then syncs; a
/// crash before it loses frames no commit had counted on, as a crash between SQLite's own writes
/// would. Reads of the WAL that reach gathered bytes (SQLite reading back a frame it wrote in the
/// same transaction) write them first, and so do truncating, asking the size and closing.
/// </para>
/// <para>
/// Only the store's writer opens through this VFS (by the <c>vfs</c> parameter of its URI), and only
/// its WAL file is wrapped: the database file, the shared-memory index and every reader's files are
/// SQLite's own, with no call through managed code. It relies on the writer's <c>synchronous=FULL</c>:
/// with NORMAL or OFF, SQLite would publish frames in the WAL index without a sync, so before they
/// are written. <see cref="SkipSyncs"/> is the one way the store measures without the flush.
/// </para>
/// </summary>
internal static unsafe class WalWriteBuffer
{
    /// <summary>The name the writer's URI names.</summary>
    public const string VfsName = "capacity-wal";

    /// <summary>
    /// Gathered bytes past which a write goes to the file before more are gathered, so a large batch's
    /// commit is written in pieces this size: the unix VFS writes at most 128 KiB − 1 in one call
    /// (its <c>seekAndWriteFd</c> keeps 17 bits of the length), and this is 31 frames of 4 KiB pages.
    /// </summary>
    public const int Capacity = 0x1FFFF;

    private const int SqliteOk = 0;
    private const int SqliteOpenWal = 0x00080000;
    private const int SqliteFcntlJournalPointer = 28;

    private static readonly Sqlite3Vfs* Unix;
    private static readonly IoMethods* Methods;
    private static readonly int RealOffset = (sizeof(BufferedFile) + 7) & ~7;

    static WalWriteBuffer()
    {
        // Finding a VFS initializes SQLite, after which the process's settings are refused.
        SqliteProcess.Configure();
        Unix = sqlite3_vfs_find(null);
        if (Unix == null)
        {
            throw new InvalidOperationException("SQLite has no default VFS to wrap.");
        }

        var methods = (IoMethods*)NativeMemory.AllocZeroed((nuint)sizeof(IoMethods));
        methods->Version = 1; // no shared memory or memory mapping: SQLite asks those of the database file, never of the WAL
        methods->Close = &Close;
        methods->Read = &Read;
        methods->Write = &Write;
        methods->Truncate = &Truncate;
        methods->Sync = &Sync;
        methods->FileSize = &FileSize;
        methods->Lock = &Lock;
        methods->Unlock = &Unlock;
        methods->CheckReservedLock = &CheckReservedLock;
        methods->FileControl = &FileControl;
        methods->SectorSize = &SectorSize;
        methods->DeviceCharacteristics = &DeviceCharacteristics;
        Methods = methods;

        // The VFS is SQLite's own with a larger file object and its own open: every other method
        // (delete, access, full path, randomness, time…) is the unix VFS's, called as is.
        var vfs = (Sqlite3Vfs*)NativeMemory.Alloc((nuint)sizeof(Sqlite3Vfs));
        *vfs = *Unix;
        vfs->Next = null;
        vfs->Name = (byte*)Marshal.StringToCoTaskMemUTF8(VfsName);
        vfs->FileSize = RealOffset + Unix->FileSize;
        vfs->Open = &Open;
        var rc = sqlite3_vfs_register(vfs, 0);
        if (rc != SqliteOk)
        {
            throw new InvalidOperationException($"SQLite refused the {VfsName} VFS (error {rc}).");
        }
    }

    /// <summary>Registers the VFS (once per process) before a connection names it.</summary>
    private static void Register() => RuntimeHelpers.RunClassConstructor(typeof(WalWriteBuffer).TypeHandle);

    /// <summary>
    /// The URI that opens <paramref name="path"/> through this VFS. SQLite's URIs take a path with
    /// <c>%</c>, <c>?</c> and <c>#</c> escaped; everything else is as the file system spells it.
    /// </summary>
    public static string Uri(string path)
    {
        Register();
        var escaped = path.Replace("%", "%25", StringComparison.Ordinal).Replace("?", "%3f", StringComparison.Ordinal).Replace("#", "%23", StringComparison.Ordinal);
        return $"file:{escaped}?vfs={VfsName}";
    }

    /// <summary>
    /// For EngineBench's batch-size sweep only: the connection's WAL syncs write what was gathered and
    /// return without the flush, so the fixed CPU of a commit is measured without the disk's. False
    /// when the WAL is not (yet) open through this VFS.
    /// </summary>
    public static bool SkipSyncs(SqliteConnection connection)
    {
        var file = Find(connection);
        if (file == null)
        {
            return false;
        }

        file->SkipSync = 1;
        return true;
    }

    /// <summary>For tests: writes SQLite made to the connection's WAL, and writes that reached the file, or null when its WAL is not open through this VFS.</summary>
    public static (long Gathered, long Written)? Counts(SqliteConnection connection) =>
        Find(connection) is var file && file != null ? (file->Gathered, file->Written) : null;

    private static BufferedFile* Find(SqliteConnection connection)
    {
        var db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        BufferedFile* file = null;
        var rc = sqlite3_file_control(db.DangerousGetHandle(), null, SqliteFcntlJournalPointer, &file);
        return rc == SqliteOk && file != null && file->Methods == (void*)Methods ? file : null;
    }

    [UnmanagedCallersOnly]
    private static int Open(Sqlite3Vfs* vfs, byte* name, void* opened, int flags, int* outFlags)
    {
        if ((flags & SqliteOpenWal) == 0)
        {
            // Not the WAL: SQLite's own file object, in the first bytes of the larger one allocated.
            return Unix->Open(Unix, name, opened, flags, outFlags);
        }

        var file = (BufferedFile*)opened;
        *file = default;
        var real = Real(file);
        var rc = Unix->Open(Unix, name, real, flags, outFlags);

        // SQLite closes a file whose open failed only when its methods are set: mirror the unix file's.
        if (real->Methods != null)
        {
            file->Methods = Methods;
        }

        return rc;
    }

    [UnmanagedCallersOnly]
    private static int Write(SqliteFile* wrapped, byte* data, int amount, long offset)
    {
        var file = (BufferedFile*)wrapped;
        file->Gathered++;
        if (file->Length > 0)
        {
            if (offset == file->Start + file->Length && file->Length + amount <= Capacity)
            {
                Buffer.MemoryCopy(data, file->Data + file->Length, Capacity - file->Length, amount);
                file->Length += amount;
                return SqliteOk;
            }

            // Anywhere else (a frame this transaction spilled, written again; the WAL's header after a
            // restart): what is gathered goes first, so the file sees the writes in SQLite's order.
            if (Flush(file) is var rc and not SqliteOk)
            {
                return rc;
            }
        }

        if (file->Data == null && amount <= Capacity)
        {
            try
            {
                file->Data = (byte*)NativeMemory.Alloc(Capacity);
            }
            catch (OutOfMemoryException)
            {
                // Written as SQLite would have written it; the next write tries again.
            }
        }

        if (amount > Capacity || file->Data == null)
        {
            file->Written++;
            var real = Real(file);
            return real->Methods->Write(real, data, amount, offset);
        }

        Buffer.MemoryCopy(data, file->Data, Capacity, amount);
        file->Start = offset;
        file->Length = amount;
        return SqliteOk;
    }

    [UnmanagedCallersOnly]
    private static int Read(SqliteFile* wrapped, byte* data, int amount, long offset)
    {
        var file = (BufferedFile*)wrapped;
        if (file->Length > 0 && offset < file->Start + file->Length && offset + amount > file->Start && Flush(file) is var rc and not SqliteOk)
        {
            return rc;
        }

        var real = Real(file);
        return real->Methods->Read(real, data, amount, offset);
    }

    [UnmanagedCallersOnly]
    private static int Sync(SqliteFile* wrapped, int flags)
    {
        var file = (BufferedFile*)wrapped;
        if (Flush(file) is var rc and not SqliteOk)
        {
            return rc;
        }

        var real = Real(file);
        return file->SkipSync != 0 ? SqliteOk : real->Methods->Sync(real, flags);
    }

    [UnmanagedCallersOnly]
    private static int Truncate(SqliteFile* wrapped, long size)
    {
        var file = (BufferedFile*)wrapped;
        if (Flush(file) is var rc and not SqliteOk)
        {
            return rc;
        }

        var real = Real(file);
        return real->Methods->Truncate(real, size);
    }

    [UnmanagedCallersOnly]
    private static int FileSize(SqliteFile* wrapped, long* size)
    {
        var file = (BufferedFile*)wrapped;
        if (Flush(file) is var rc and not SqliteOk)
        {
            return rc;
        }

        var real = Real(file);
        return real->Methods->FileSize(real, size);
    }

    [UnmanagedCallersOnly]
    private static int Close(SqliteFile* wrapped)
    {
        var file = (BufferedFile*)wrapped;
        // A connection closes its WAL after its last commit's sync, so nothing is gathered by then;
        // written anyway rather than dropped, should SQLite ever close with frames unsynced.
        var flushed = Flush(file);
        NativeMemory.Free(file->Data);
        file->Data = null;
        var real = Real(file);
        var rc = real->Methods->Close(real);
        return flushed != SqliteOk ? flushed : rc;
    }

    [UnmanagedCallersOnly]
    private static int Lock(SqliteFile* file, int level) => Real(file)->Methods->Lock(Real(file), level);

    [UnmanagedCallersOnly]
    private static int Unlock(SqliteFile* file, int level) => Real(file)->Methods->Unlock(Real(file), level);

    [UnmanagedCallersOnly]
    private static int CheckReservedLock(SqliteFile* file, int* result) => Real(file)->Methods->CheckReservedLock(Real(file), result);

    [UnmanagedCallersOnly]
    private static int FileControl(SqliteFile* file, int op, void* arg) => Real(file)->Methods->FileControl(Real(file), op, arg);

    [UnmanagedCallersOnly]
    private static int SectorSize(SqliteFile* file) => Real(file)->Methods->SectorSize(Real(file));

    [UnmanagedCallersOnly]
    private static int DeviceCharacteristics(SqliteFile* file) => Real(file)->Methods->DeviceCharacteristics(Real(file));

    /// <summary>Writes what is gathered, in one write at its offset; on failure it is dropped, as SQLite then fails the transaction.</summary>
    private static int Flush(BufferedFile* file)
    {
        if (file->Length == 0)
        {
            return SqliteOk;
        }

        var (start, length) = (file->Start, file->Length);
        file->Length = 0;
        file->Written++;
        var real = Real(file);
        return real->Methods->Write(real, file->Data, length, start);
    }

    private static SqliteFile* Real(SqliteFile* file) => (SqliteFile*)((byte*)file + RealOffset);

    private static SqliteFile* Real(BufferedFile* file) => Real((SqliteFile*)file);

    /// <summary>The start of <c>sqlite3_file</c>, which every VFS's file object begins with.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SqliteFile
    {
        public IoMethods* Methods;
    }

    /// <summary>The wrapped WAL's file object: <c>sqlite3_file</c>'s methods, then what is gathered, then (at <see cref="RealOffset"/>) the unix VFS's own file object.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct BufferedFile
    {
        public void* Methods;
        public byte* Data;
        public long Start;
        public int Length;
        public int SkipSync;
        public long Gathered;
        public long Written;
    }

    /// <summary><c>sqlite3_io_methods</c> (version 3 layout; this VFS fills version 1's).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct IoMethods
    {
        public int Version;
        public delegate* unmanaged<SqliteFile*, int> Close;
        public delegate* unmanaged<SqliteFile*, byte*, int, long, int> Read;
        public delegate* unmanaged<SqliteFile*, byte*, int, long, int> Write;
        public delegate* unmanaged<SqliteFile*, long, int> Truncate;
        public delegate* unmanaged<SqliteFile*, int, int> Sync;
        public delegate* unmanaged<SqliteFile*, long*, int> FileSize;
        public delegate* unmanaged<SqliteFile*, int, int> Lock;
        public delegate* unmanaged<SqliteFile*, int, int> Unlock;
        public delegate* unmanaged<SqliteFile*, int*, int> CheckReservedLock;
        public delegate* unmanaged<SqliteFile*, int, void*, int> FileControl;
        public delegate* unmanaged<SqliteFile*, int> SectorSize;
        public delegate* unmanaged<SqliteFile*, int> DeviceCharacteristics;
        public nint ShmMap, ShmLock, ShmBarrier, ShmUnmap, Fetch, Unfetch;
    }

    /// <summary><c>sqlite3_vfs</c>, version 3.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Sqlite3Vfs
    {
        public int Version;
        public int FileSize;
        public int MaxPathname;
        public Sqlite3Vfs* Next;
        public byte* Name;
        public void* AppData;
        public delegate* unmanaged<Sqlite3Vfs*, byte*, void*, int, int*, int> Open;
        public nint Delete, Access, FullPathname, DlOpen, DlError, DlSym, DlClose, Randomness, Sleep, CurrentTime, GetLastError;
        public nint CurrentTimeInt64;
        public nint SetSystemCall, GetSystemCall, NextSystemCall;
    }

    // The library Microsoft.Data.Sqlite's provider loads (SQLitePCLRaw's e_sqlite3), found by the same name.
    [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
    private static extern Sqlite3Vfs* sqlite3_vfs_find(byte* name);

    [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
    private static extern int sqlite3_vfs_register(Sqlite3Vfs* vfs, int makeDefault);

    [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
    private static extern int sqlite3_file_control(nint db, byte* name, int op, void* arg);
}

using System.Runtime.InteropServices;

namespace Capacity.Engine;

/// <summary>
/// The scheduling priority of the engine's writer thread. Every write waits on that one thread, and
/// on cores that are busy with requests it is scheduled as one thread among dozens: over HTTP a batch
/// took twice as long as the same batch in process, the difference spent waiting for a core. Raising
/// the writer's priority lets it take a core when it has work; the request threads it preempts are
/// the ones waiting for its answers. Measured: 1.14× holds per second over HTTP (docs/performance.md).
/// Linux only (a thread's nice value); raising it needs CAP_SYS_NICE or an RLIMIT_NICE that allows
/// the value, and without either the writer runs as the process does.
/// </summary>
public static class WriterPriority
{
    private const int PriorityProcess = 0; // PRIO_PROCESS: with a thread id, that one thread.
    private const int SchedOther = 0; // SCHED_OTHER, the normal time-sharing policy
    private const int SchedResetOnFork = 0x40000000; // SCHED_RESET_ON_FORK

    /// <summary>
    /// Sets the calling thread's nice value. Null when it was set or already had it; otherwise why it
    /// was not (the system's error text, or that this platform has no per-thread nice value).
    /// </summary>
    public static string? TrySetCurrentThread(int nice)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "this platform has no per-thread nice value";
        }

        try
        {
            var tid = GetThreadId();
            Marshal.SetLastPInvokeError(0);
            // getpriority can return -1 as a value: errno tells it from a failure.
            var current = GetPriority(PriorityProcess, tid);
            if (current == nice && Marshal.GetLastPInvokeError() == 0)
            {
                return null;
            }

            if (SetPriority(PriorityProcess, tid, nice) != 0)
            {
                return Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            }

            // A thread inherits its creator's nice value, and the writer creates threads now and then
            // (the thread pool adds a worker from the thread that queued work when it is short of them):
            // without this, the writer's priority would spread to request threads. The flag resets a
            // raised priority in the threads it creates; setting it needs no privilege.
            var normal = 0;
            if (nice < 0 && SchedSetScheduler(0, SchedOther | SchedResetOnFork, ref normal) != 0)
            {
                var error = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
                SetPriority(PriorityProcess, tid, current);
                return "its threads would inherit it: " + error;
            }

            return null;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // A C library without gettid (glibc before 2.30), or none found under the name "libc".
            return "the C library offers no gettid: " + ex.Message;
        }
    }

    /// <summary>The calling thread's nice value on Linux; null elsewhere.</summary>
    public static int? OfCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return GetPriority(PriorityProcess, GetThreadId());
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int prio);

    [DllImport("libc", EntryPoint = "getpriority", SetLastError = true)]
    private static extern int GetPriority(int which, int who);

    /// <summary>sched_setscheduler; the parameter is the one field of struct sched_param (0 for SCHED_OTHER).</summary>
    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int SchedSetScheduler(int pid, int policy, ref int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}

using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// A Linux pipe that payload passes through on its way from one socket to another without entering the process's
/// memory (splice(2)): the kernel moves references to the received pages into the pipe and from it into the other
/// socket. The middle lends one per RELAY frame's payload (Lstp.Middle's PayloadSplice); a plaintext end's channel
/// holds one while it receives bulk SERVICE_DATA (<see cref="Link.LinkSplice"/>). Pipes are kept in a small pool; a pipe goes back only
/// empty. No library wraps splice(2) for .NET: these are the few libc calls it needs.
/// </summary>
public sealed class KernelPipe : IDisposable
{
    /// <summary>What one pipe holds (64 pages): a whole 64 KiB frame even when it arrived in many pieces.</summary>
    public const int Size = 256 * 1024;

    /// <summary>Pipes kept for reuse at most; more in use at once are made and closed as needed.</summary>
    private const int Kept = 64;

    private const int NonBlocking = 0x800; // O_NONBLOCK
    private const int CloseOnExec = 0x80000; // O_CLOEXEC
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int GetFlags = 3; // F_GETFL

    /// <summary>Pipes kept for reuse, by the size they were asked for: the middle's and an end's differ, and may share a process.</summary>
    private static readonly ConcurrentDictionary<int, ConcurrentBag<KernelPipe>> Pools = new();

    private const int GetPipeSize = 1032; // F_GETPIPE_SZ

    private readonly ConcurrentBag<KernelPipe> _pool;

    private KernelPipe(int readEnd, int writeEnd, int capacity, ConcurrentBag<KernelPipe> pool)
    {
        _pool = pool;
        ReadEnd = readEnd;
        WriteEnd = writeEnd;
        Capacity = capacity;
    }

    /// <summary>What this pipe holds at most: the size <see cref="Rent"/> asked for, or the system's default where it refused that.</summary>
    public int Capacity { get; }

    public int ReadEnd { get; }

    public int WriteEnd { get; }

    private int _held;

    /// <summary>
    /// Bytes in the pipe now (moved in, not yet out). The middle moves in and out on one thread; an end's channel
    /// moves in from its tunnel's reader and out from its downlink, so those use <see cref="Filled"/> and <see cref="Drained"/>.
    /// </summary>
    public int Held { get => Volatile.Read(ref _held); set => Volatile.Write(ref _held, value); }

    /// <summary>Room left in the pipe now; only grows while the one writer is not writing.</summary>
    public int Room => Capacity - Held;

    /// <summary>Counts bytes moved into the pipe (by a writer other than the reader's thread).</summary>
    public void Filled(int count) => Interlocked.Add(ref _held, count);

    /// <summary>Counts bytes moved out of the pipe (by a reader other than the writer's thread).</summary>
    public void Drained(int count) => Interlocked.Add(ref _held, -count);

    /// <summary>
    /// A pipe of <paramref name="size"/> from the pool, or a new one; null when none can be made (out of descriptors).
    /// </summary>
    public static KernelPipe? Rent(int size = Size)
    {
        var pool = Pools.GetOrAdd(size, _ => []);
        if (pool.TryTake(out var pipe)) return pipe;
        var ends = new int[2];
        if (Native.Pipe2(ends, NonBlocking | CloseOnExec) != 0) return null;
        // A smaller pipe (the system's limit, or a failed resize) only means more rounds per frame.
        _ = Native.Fcntl(ends[1], SetPipeSize, size);
        var capacity = Native.Fcntl(ends[1], GetPipeSize, 0);
        return new KernelPipe(ends[0], ends[1], capacity > 0 ? capacity : 4096, pool);
    }

    /// <summary>Gives an empty pipe back; one that still holds bytes (a relay that failed midway) is closed instead.</summary>
    public void Return()
    {
        if (Held == 0 && _pool.Count < Kept) _pool.Add(this);
        else Dispose();
    }

    public void Dispose()
    {
        _ = Native.Close(ReadEnd);
        _ = Native.Close(WriteEnd);
    }

    /// <summary>True when <paramref name="fd"/> is in non-blocking mode (a socket .NET has used asynchronously is).</summary>
    public static bool IsNonBlocking(int fd) => (Native.Fcntl(fd, GetFlags, 0) & NonBlocking) != 0;

    /// <summary>The libc calls. DllImport, not LibraryImport: the source-generated form needs unsafe code in the project.</summary>
    internal static class Native
    {
        public const uint SpliceNonBlocking = 2; // SPLICE_F_NONBLOCK
        public const uint SpliceMore = 4; // SPLICE_F_MORE

        [DllImport("libc", EntryPoint = "splice", SetLastError = true)]
        public static extern nint Splice(int fdIn, IntPtr offsetIn, int fdOut, IntPtr offsetOut, nuint length, uint flags);

        [DllImport("libc", EntryPoint = "pipe2", SetLastError = true)]
        public static extern int Pipe2([Out] int[] ends, int flags);

        [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
        public static extern int Fcntl(int fd, int command, int argument);

        [DllImport("libc", EntryPoint = "read", SetLastError = true)]
        public static extern nint Read(int fd, ref byte buffer, nuint count);

        [DllImport("libc", EntryPoint = "write", SetLastError = true)]
        public static extern nint Write(int fd, in byte buffer, nuint count);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        public static extern int Close(int fd);
    }
}

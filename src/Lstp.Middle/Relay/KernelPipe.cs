using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Lstp.Middle.Relay;

/// <summary>
/// A Linux pipe that RELAY payload passes through on its way from one link's socket to its peer's (splice(2), see
/// <see cref="PayloadSplice"/>): the kernel moves references to the received pages into the pipe and from it into
/// the peer's socket, so the middle copies none of those bytes. Pipes are kept in a small pool and lent for one
/// frame's payload at a time; a pipe goes back only empty, so an idle tunnel holds none. No library wraps
/// splice(2) for .NET: these are the four libc calls it needs.
/// </summary>
internal sealed class KernelPipe : IDisposable
{
    /// <summary>What one pipe holds (64 pages): a whole 64 KiB frame even when it arrived in many pieces.</summary>
    public const int Size = 256 * 1024;

    /// <summary>Pipes kept for reuse at most; more in use at once are made and closed as needed.</summary>
    private const int Kept = 64;

    private const int NonBlocking = 0x800; // O_NONBLOCK
    private const int CloseOnExec = 0x80000; // O_CLOEXEC
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int GetFlags = 3; // F_GETFL

    private static readonly ConcurrentBag<KernelPipe> Pool = [];

    private const int GetPipeSize = 1032; // F_GETPIPE_SZ

    private KernelPipe(int readEnd, int writeEnd, int capacity)
    {
        ReadEnd = readEnd;
        WriteEnd = writeEnd;
        Capacity = capacity;
    }

    /// <summary>What this pipe holds at most: <see cref="Size"/>, or the system's default where it refused that.</summary>
    public int Capacity { get; }

    public int ReadEnd { get; }

    public int WriteEnd { get; }

    /// <summary>Bytes in the pipe now (moved in, not yet out).</summary>
    public int Held { get; set; }

    /// <summary>A pipe from the pool, or a new one; null when none can be made (out of descriptors).</summary>
    public static KernelPipe? Rent()
    {
        if (Pool.TryTake(out var pipe)) return pipe;
        var ends = new int[2];
        if (Native.Pipe2(ends, NonBlocking | CloseOnExec) != 0) return null;
        // A smaller pipe (the system's limit, or a failed resize) only means more rounds per frame.
        _ = Native.Fcntl(ends[1], SetPipeSize, Size);
        var capacity = Native.Fcntl(ends[1], GetPipeSize, 0);
        return new KernelPipe(ends[0], ends[1], capacity > 0 ? capacity : 4096);
    }

    /// <summary>Gives an empty pipe back; one that still holds bytes (a relay that failed midway) is closed instead.</summary>
    public void Return()
    {
        if (Held == 0 && Pool.Count < Kept) Pool.Add(this);
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

using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// The non-blocking moves of a plaintext end's receive path through a channel's <see cref="KernelPipe"/>: from its
/// link's socket into the pipe (splice(2)), from the pipe into the application's socket (splice(2)), and the few
/// bytes already read into memory into the pipe (write(2)), so that a large SERVICE_DATA payload goes from the link
/// to the application without being copied into the end and out again. Each call takes the descriptors for the
/// call only and updates the pipe's <see cref="KernelPipe.Held"/>. No library wraps splice(2) for .NET (see
/// <see cref="KernelPipe"/>); the middle's own moves (Lstp.Middle's PayloadSplice) wait differently and stay there.
/// </summary>
internal static class SocketSplice
{
    /// <summary>
    /// The least SERVICE_DATA payload that goes through a pipe: below it, the two extra calls per frame (the header
    /// read alone, the splice out) cost more than the copies saved.
    /// </summary>
    public const int Least = 32 * 1024;

    /// <summary>An end's channel pipe: the pause threshold (<see cref="Channels.FlowThresholds.Default"/>), so an honest peer's bulk never outgrows it.</summary>
    public const int PipeSize = 1024 * 1024;

    /// <summary><see cref="FromSocket"/>: the socket has nothing to read now.</summary>
    public const int Dry = 0;

    /// <summary><see cref="FromSocket"/>: the pipe has no room now, although the socket has bytes.</summary>
    public const int PipeFull = -1;

    /// <summary><see cref="FromSocket"/>: this kernel refuses splice(2) here; nothing was moved.</summary>
    public const int Refused = -2;

    public const int Interrupted = 4; // EINTR
    public const int WouldBlock = 11; // EAGAIN
    private static readonly int[] Unsupported = [22, 38, 95]; // EINVAL, ENOSYS, EOPNOTSUPP

    private static volatile bool _refused;

    /// <summary>
    /// False once this kernel refused a splice, the end's or the middle's (then every channel and relay of the process
    /// copies); false off Linux.
    /// </summary>
    public static bool Available => OperatingSystem.IsLinux() && !_refused;

    /// <summary>
    /// A splice failed with <paramref name="cause"/>: true (and splice is no longer <see cref="Available"/>) when that
    /// error says the kernel cannot splice here at all, not that one socket failed.
    /// </summary>
    public static bool Refuses(int cause)
    {
        if (Array.IndexOf(Unsupported, cause) < 0) return false;
        _refused = true;
        return true;
    }

    /// <summary>True when <paramref name="socket"/> is open and in non-blocking mode (a socket .NET has used asynchronously is).</summary>
    public static bool NonBlocking(Socket socket)
    {
        var added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            return KernelPipe.IsNonBlocking((int)socket.SafeHandle.DangerousGetHandle());
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added) socket.SafeHandle.DangerousRelease();
        }
    }

    /// <summary>
    /// Moves up to <paramref name="max"/> bytes (at most the pipe's room) from <paramref name="socket"/> into the pipe.
    /// Returns the count moved, or <see cref="Dry"/>, <see cref="PipeFull"/> or <see cref="Refused"/>. Throws
    /// <see cref="EndOfStreamException"/> when the socket's peer closed (the caller wanted <paramref name="max"/> more)
    /// and <see cref="IOException"/> when the socket failed.
    /// </summary>
    public static int FromSocket(Socket socket, KernelPipe pipe, int max)
    {
        var room = Math.Min(max, pipe.Room);
        if (room <= 0) return PipeFull;
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            while (true)
            {
                var moved = KernelPipe.Native.Splice(fd, IntPtr.Zero, pipe.WriteEnd, IntPtr.Zero, (nuint)room, KernelPipe.Native.SpliceNonBlocking | KernelPipe.Native.SpliceMore);
                if (moved > 0)
                {
                    pipe.Filled((int)moved);
                    return (int)moved;
                }
                if (moved == 0) throw new EndOfStreamException("the peer closed in the middle of a frame");
                var cause = Marshal.GetLastPInvokeError();
                if (cause == Interrupted) continue;
                // Would block: on the socket's side (nothing to read) or the pipe's (its pages are part-filled, so it
                // holds less than its size); the socket's queue says which.
                if (cause == WouldBlock) return socket.Available > 0 ? PipeFull : Dry;
                if (Refuses(cause)) return Refused;
                throw Failed("from the link", cause);
            }
        }
        catch (ObjectDisposedException ex)
        {
            throw new IOException("the link closed", ex);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Copies <paramref name="bytes"/> (at most the pipe's room) into the pipe; returns how many it took.</summary>
    public static int Write(KernelPipe pipe, ReadOnlySpan<byte> bytes)
    {
        var total = 0;
        bytes = bytes[..Math.Min(bytes.Length, pipe.Room)];
        while (!bytes.IsEmpty)
        {
            var written = KernelPipe.Native.Write(pipe.WriteEnd, in bytes[0], (nuint)bytes.Length);
            if (written > 0)
            {
                pipe.Filled((int)written);
                total += (int)written;
                bytes = bytes[(int)written..];
                continue;
            }
            var cause = Marshal.GetLastPInvokeError();
            if (written < 0 && cause == Interrupted) continue;
            if (written < 0 && cause == WouldBlock) break; // part-filled pages: the rest is the caller's to copy
            throw Failed("into a channel's pipe", cause);
        }
        return total;
    }

    /// <summary>
    /// Moves up to <paramref name="max"/> bytes from the pipe into <paramref name="socket"/>; 0 when the socket has no
    /// room now. <paramref name="more"/>: more follows at once (the kernel may hold a part-filled segment).
    /// </summary>
    public static int ToSocket(KernelPipe pipe, Socket socket, int max, bool more)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            var flags = KernelPipe.Native.SpliceNonBlocking | (more ? KernelPipe.Native.SpliceMore : 0);
            while (true)
            {
                var moved = KernelPipe.Native.Splice(pipe.ReadEnd, IntPtr.Zero, fd, IntPtr.Zero, (nuint)max, flags);
                if (moved > 0)
                {
                    pipe.Drained((int)moved);
                    return (int)moved;
                }
                var cause = Marshal.GetLastPInvokeError();
                if (moved < 0 && cause == Interrupted) continue;
                if (moved < 0 && cause == WouldBlock) return 0;
                throw new SocketException(moved == 0 ? 32 : cause); // EPIPE: an empty pipe here is our own fault, as a broken socket would be
            }
        }
        catch (ObjectDisposedException ex)
        {
            throw new SocketException(9, ex.Message); // EBADF: the channel closed its socket
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Reads up to <paramref name="into"/>'s length out of the pipe (for a plain send that waits for room).</summary>
    public static int Read(KernelPipe pipe, Span<byte> into)
    {
        while (true)
        {
            var read = KernelPipe.Native.Read(pipe.ReadEnd, ref into[0], (nuint)into.Length);
            if (read > 0)
            {
                pipe.Drained((int)read);
                return (int)read;
            }
            var cause = Marshal.GetLastPInvokeError();
            if (read < 0 && cause == Interrupted) continue;
            throw Failed("out of a channel's pipe", read == 0 ? 32 : cause);
        }
    }

    private static IOException Failed(string where, int error) => new($"moving payload {where} failed: {Marshal.GetPInvokeErrorMessage(error)}");
}

using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lstp.Protocol;
using Lstp.Tunnel.Streams;

namespace Lstp.Middle.Relay;

/// <summary>
/// Moves the rest of a RELAY frame's payload from one link's socket to its peer's without bringing it into the
/// middle's memory: splice(2) from the socket into a <see cref="KernelPipe"/>, and from the pipe into the peer's
/// socket. <see cref="RelayFrames"/> reads a frame's header and first bytes as usual, writes them, and leaves the
/// rest of a large frame to this; the payload is opaque to the middle (end-to-end encrypted, or the ends' own), so
/// nothing is lost by not looking at it. Linux only, on links with no TLS at the middle; a kernel that refuses
/// splice(2) leaves every relay on the copying path (nothing is moved before that is known).
/// </summary>
internal sealed class PayloadSplice
{
    /// <summary>
    /// The least payload worth splicing: below it two copies cost less than the pipe's extra calls.
    /// </summary>
    public const int Least = 8 * 1024;

    /// <summary>What a wait for room in the peer's socket takes out of the pipe and writes with a plain send.</summary>
    private const int RoomProbe = 16 * 1024;

    private const int Interrupted = SocketSplice.Interrupted;
    private const int WouldBlock = SocketSplice.WouldBlock;

    /// <summary>A splice from a link has moved bytes in this process: from then on a frame's head may go into the pipe first.</summary>
    private static volatile bool _proven;

    private readonly Socket _from;
    private readonly NetworkStream _to;
    private readonly TimeSpan _idleTimeout;
    private readonly Telemetry.MiddleMetrics _metrics;
    private KernelPipe? _pipe;
    private Waiting _waiting;
    private ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _input;
    private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _room;
    private byte[]? _probe;

    /// <summary>The pipe holds bytes the relay read itself (<see cref="TryPrepend"/>): past that, failing is no longer "refused".</summary>
    private bool _prepended;

    private PayloadSplice(Socket from, NetworkStream to, TimeSpan idleTimeout, Telemetry.MiddleMetrics metrics)
    {
        _from = from;
        _to = to;
        _idleTimeout = idleTimeout;
        _metrics = metrics;
    }

    /// <summary>
    /// This system's kernel refused splice(2) (here or at an end of the same process, <see cref="SocketSplice.Refuses"/>),
    /// or it is not Linux: every relay copies, also those that made a splice before it was found.
    /// </summary>
    public static bool Refused => !SocketSplice.Available;

    /// <summary>What <see cref="Move"/> found.</summary>
    public enum Outcome : byte
    {
        /// <summary>All of the payload asked for is in the peer's socket.</summary>
        Done,

        /// <summary>The link's input ended (its FIN) before the payload did; everything read is in the peer's socket.</summary>
        InputEnded,

        /// <summary>Nothing was moved and nothing will be: the caller relays the payload by copying.</summary>
        Refused,

        /// <summary>A wait did not complete at once: the continuation runs when it does; then <see cref="Resumed"/>, and Move again.</summary>
        Waiting,
    }

    private enum Waiting : byte
    {
        Nothing,
        Input,
        Room,
    }

    /// <summary>
    /// A splice from <paramref name="from"/> to <paramref name="to"/>'s socket, or null when this system or either
    /// socket cannot do it (not Linux, splice refused before, a socket in blocking mode).
    /// </summary>
    public static PayloadSplice? Between(NetworkStream from, NetworkStream to, TimeSpan idleTimeout, Telemetry.MiddleMetrics metrics)
    {
        if (Refused) return null;
        try
        {
            return SocketSplice.NonBlocking(from.Socket) && SocketSplice.NonBlocking(to.Socket) ? new PayloadSplice(from.Socket, to, idleTimeout, metrics) : null;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Moves payload until <paramref name="remaining"/> is 0 (counting down by what was taken from the link) or a
    /// wait does not complete at once, in which case <paramref name="continuation"/> runs when it does.
    /// <paramref name="taken"/> says how much was taken from the link in this call. Throws when either socket fails.
    /// </summary>
    public Outcome Move(ref long remaining, CancellationToken cancellation, Action continuation, out long taken)
    {
        taken = 0;
        var from = _from.SafeHandle;
        var to = _to.Socket.SafeHandle;
        var fromAdded = false;
        var toAdded = false;
        try
        {
            from.DangerousAddRef(ref fromAdded);
            to.DangerousAddRef(ref toAdded);
            var fromFd = (int)from.DangerousGetHandle();
            var toFd = (int)to.DangerousGetHandle();
            if ((_pipe ??= KernelPipe.Rent()) is not { } pipe) return Outcome.Refused;
            // Take all the link has (up to the pipe's room) before giving to the peer: the peer then gets the frame in
            // as few pieces as it arrived in, not a wake-up per page.
            var dry = false;
            var ended = false;
            while (true)
            {
                if (remaining > 0 && !dry && !ended && pipe.Held < pipe.Capacity)
                {
                    var length = (nuint)Math.Min(remaining, pipe.Capacity - pipe.Held);
                    var received = KernelPipe.Native.Splice(fromFd, IntPtr.Zero, pipe.WriteEnd, IntPtr.Zero, length, KernelPipe.Native.SpliceNonBlocking | KernelPipe.Native.SpliceMore);
                    if (received > 0)
                    {
                        _proven = true;
                        pipe.Held += (int)received;
                        remaining -= received;
                        taken += received;
                        continue;
                    }
                    if (received == 0)
                    {
                        ended = true;
                        continue;
                    }
                    var cause = Marshal.GetLastPInvokeError();
                    if (cause == Interrupted) continue;
                    if (cause == WouldBlock)
                    {
                        dry = true;
                        continue;
                    }
                    if (pipe.Held == 0 && taken == 0 && !_prepended && SocketSplice.Refuses(cause))
                    {
                        // Nothing is in the pipe, so nothing is half-moved: this frame and every later one go by copying.
                        Release();
                        return Outcome.Refused;
                    }
                    throw Failed("from its link", cause);
                }
                if (pipe.Held > 0)
                {
                    // More to come (the frame's rest, or what the link has not yet sent): the kernel may hold a part-filled segment.
                    var flags = KernelPipe.Native.SpliceNonBlocking | (remaining > 0 && !ended ? KernelPipe.Native.SpliceMore : 0);
                    var sent = KernelPipe.Native.Splice(pipe.ReadEnd, IntPtr.Zero, toFd, IntPtr.Zero, (nuint)pipe.Held, flags);
                    if (sent > 0)
                    {
                        pipe.Held -= (int)sent;
                        continue;
                    }
                    var error = Marshal.GetLastPInvokeError();
                    if (sent < 0 && error == Interrupted) continue;
                    if (sent < 0 && error == WouldBlock)
                    {
                        if (WaitForRoom(pipe, cancellation, continuation)) continue;
                        return Outcome.Waiting;
                    }
                    throw Failed("to its peer", error);
                }
                if (remaining == 0 || ended)
                {
                    Release();
                    return remaining == 0 ? Outcome.Done : Outcome.InputEnded;
                }
                dry = false;
                if (!WaitForInput(cancellation, continuation)) return Outcome.Waiting;
            }
        }
        finally
        {
            if (fromAdded) from.DangerousRelease();
            if (toAdded) to.DangerousRelease();
        }
    }

    /// <summary>
    /// <see cref="Move"/> for an async loop (a published port's data link): moves up to <paramref name="remaining"/>
    /// bytes, awaiting each wait, and returns how many it took from the link. Fewer when the link's input ended (the
    /// caller's next read finds that) or splice(2) was refused (its next reads carry the rest).
    /// </summary>
    public async Task<long> MoveAsync(long remaining, CancellationToken cancellation)
    {
        var total = 0L;
        while (true)
        {
            var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var outcome = Move(ref remaining, cancellation, () => resumed.SetResult(), out var taken);
            total += taken;
            if (outcome != Outcome.Waiting) return total;
            await resumed.Task.ConfigureAwait(false);
            Resumed();
        }
    }

    /// <summary>
    /// Puts what the relay read of the frame (its header and first bytes, and anything before them in the same read)
    /// into the pipe ahead of the payload, so that the peer gets the frame in one piece rather than a small one and
    /// then the rest: a copy of those few bytes, as writing them to the socket would be. False when no pipe can be had
    /// (the caller writes them itself), and until a splice has worked in this process: bytes put in the pipe could not
    /// be taken back out on a kernel that then refused to splice.
    /// </summary>
    public bool TryPrepend(List<ReadOnlyMemory<byte>> pieces)
    {
        if (!_proven) return false;
        var total = 0L;
        foreach (var piece in pieces) total += piece.Length;
        if ((_pipe ??= KernelPipe.Rent()) is not { Held: 0 } pipe || total > pipe.Capacity) return false;
        foreach (var piece in pieces)
        {
            var span = piece.Span;
            while (!span.IsEmpty)
            {
                var written = KernelPipe.Native.Write(pipe.WriteEnd, in span[0], (nuint)span.Length);
                if (written < 0 && Marshal.GetLastPInvokeError() == Interrupted) continue;
                // An empty pipe with room for all of it takes all of it: anything else is a fault, and the relay fails.
                if (written <= 0) throw Failed("into its pipe", Marshal.GetLastPInvokeError());
                pipe.Held += (int)written;
                span = span[(int)written..];
            }
        }
        _prepended = total > 0;
        return true;
    }

    /// <summary>The wait <see cref="Move"/> returned <see cref="Outcome.Waiting"/> for is over: throws if it failed.</summary>
    public void Resumed()
    {
        var what = _waiting;
        _waiting = Waiting.Nothing;
        if (what == Waiting.Input)
        {
            try
            {
                _input.GetResult();
            }
            catch (OperationCanceledException)
            {
                throw new ProtocolException(ErrorCode.KeepaliveTimeout, $"no traffic for {_idleTimeout.TotalSeconds:0} s");
            }
        }
        else if (what == Waiting.Room)
        {
            try
            {
                _room.GetResult();
            }
            finally
            {
                ReturnProbe();
            }
        }
    }

    /// <summary>Gives the pipe back (closed if a failure left bytes in it). The relay's direction stopped, or its frame is done.</summary>
    public void Release()
    {
        _pipe?.Return();
        _pipe = null;
        _prepended = false;
    }

    /// <summary>Waits for the link to have bytes again (.NET's zero-byte receive: a readiness wait, nothing read).</summary>
    private bool WaitForInput(CancellationToken cancellation, Action continuation)
    {
        _input = _from.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellation).ConfigureAwait(false).GetAwaiter();
        if (_input.IsCompleted)
        {
            _input.GetResult();
            return true;
        }
        _waiting = Waiting.Input;
        _input.UnsafeOnCompleted(continuation);
        return false;
    }

    /// <summary>
    /// The peer's socket is full. .NET offers no wait for room alone, so the head of the pipe goes out with a plain
    /// send, which waits for room as any does (its bytes are copied: only when the peer is the bottleneck anyway).
    /// </summary>
    private bool WaitForRoom(KernelPipe pipe, CancellationToken cancellation, Action continuation)
    {
        _probe ??= ArrayPool<byte>.Shared.Rent(RoomProbe);
        var read = KernelPipe.Native.Read(pipe.ReadEnd, ref _probe[0], (nuint)Math.Min(pipe.Held, RoomProbe));
        if (read <= 0)
        {
            ReturnProbe();
            throw Failed("out of its pipe", Marshal.GetLastPInvokeError());
        }
        pipe.Held -= (int)read;
        _metrics.SpliceWaitedForRoom();
        _room = _to.WriteAsync(_probe.AsMemory(0, (int)read), cancellation).ConfigureAwait(false).GetAwaiter();
        if (_room.IsCompleted)
        {
            try
            {
                _room.GetResult();
            }
            finally
            {
                ReturnProbe();
            }
            return true;
        }
        _waiting = Waiting.Room;
        _room.UnsafeOnCompleted(continuation);
        return false;
    }

    private void ReturnProbe()
    {
        if (_probe is null) return;
        ArrayPool<byte>.Shared.Return(_probe);
        _probe = null;
    }

    private static IOException Failed(string where, int error) => new($"relaying a frame {where} failed: {Marshal.GetPInvokeErrorMessage(error)}");
}

using System.Net.Sockets;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Link;

// The link's side of a plaintext end's splicing (docs/architecture.md, "How bytes move"): its RELAY payload moved
// into a channel's pipe without entering the end's memory, for ResumableStream.MoveIntoAsync.
public sealed partial class RelayStream
{
    /// <summary>
    /// Set while the tunnel above moves bulk SERVICE_DATA into its channels' pipes (<see cref="MoveInto"/>): every
    /// header is read alone and nothing is read ahead, so the payload stays in the socket for splice(2).
    /// </summary>
    public bool Splicing { get; set; }

    private bool? _spliceable;

    /// <summary>The link's socket, when its payload can be spliced: a plain TCP link (no TLS to the middle), in non-blocking mode.</summary>
    private Socket? SpliceSocket
    {
        get
        {
            if (ReadByTls || !SocketSplice.Available || _link is not NetworkStream network) return null;
            // Once non-blocking, .NET never puts a socket back: the answer is kept once it is yes.
            if (_spliceable is not true) _spliceable = SocketSplice.NonBlocking(network.Socket);
            return _spliceable is true ? network.Socket : null;
        }
    }

    /// <summary>Whether <see cref="MoveInto"/> can splice from this link.</summary>
    public bool CanSplice => SpliceSocket is not null;

    /// <summary>
    /// Waits until a byte of RELAY payload can be taken without waiting (<see cref="MoveInto"/>): reads the link
    /// frames before it as <see cref="ReadAsync"/> does, then waits for the socket to have bytes unless some are
    /// buffered already. False at the end of the stream.
    /// </summary>
    public async ValueTask<bool> AwaitPayloadAsync(CancellationToken cancellationToken)
    {
        var linked = ReadToken(cancellationToken);
        try
        {
            if (!await NextPayloadAsync(linked).ConfigureAwait(false)) return false;
            if (_reader.Buffered > 0 || SpliceSocket is not { } socket) return true;
            // .NET's zero-byte receive: a wait for the socket to have bytes, nothing read.
            await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, linked).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw Silent();
        }
    }

    /// <summary>
    /// Moves up to <paramref name="max"/> bytes of the current RELAY payload into <paramref name="pipe"/> without
    /// waiting: what the link's reader has buffered by copying it in, the rest by splice(2) from the socket. Returns
    /// the count moved, or a <see cref="SocketSplice"/> code (<see cref="SocketSplice.Dry"/>, <see cref="SocketSplice.PipeFull"/>,
    /// <see cref="SocketSplice.Refused"/>, the latter also when this link cannot splice).
    /// </summary>
    public int MoveInto(KernelPipe pipe, int max)
    {
        var want = Math.Min(max, _relayRemaining);
        if (want <= 0) return SocketSplice.Dry;
        int moved;
        if (_reader.Buffered > 0) moved = _reader.CopyBufferedInto(pipe, want);
        else if (SpliceSocket is { } socket) moved = SocketSplice.FromSocket(socket, pipe, want);
        else return SocketSplice.Refused;
        if (moved == 0) return _reader.Buffered > 0 ? SocketSplice.PipeFull : SocketSplice.Dry;
        if (moved < 0) return moved;
        _relayRemaining -= moved;
        BytesReceived += moved;
        Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        return moved;
    }
}

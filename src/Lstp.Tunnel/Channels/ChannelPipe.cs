using Lstp.Tunnel.Link;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// The pipes a plaintext channel's bulk SERVICE_DATA goes through on its way from the link to the application
/// (<see cref="SocketSplice"/>): the tunnel's reader moves a payload into one, the channel queues a record that says
/// how many bytes wait in which pipe (<see cref="Chunk.InPipe"/>), and the downlink moves them out to the application
/// in the records' order. Each pipe is first in, first out, so records spread over several pipes still arrive in
/// order. A pipe holds at most 1 MiB (the system's limit without privileges), the pause threshold: what a peer sends
/// before our PAUSE reaches it lands on top, so a channel takes up to <see cref="MostPipes"/> before the rest of a
/// payload is copied as usual. Rented at the channel's first bulk frame and kept until its downlink ends, so a
/// channel that never carries bulk data holds none.
/// </summary>
internal sealed class ChannelPipe
{
    /// <summary>
    /// Pipes one channel holds at most (4 MiB at the usual limit). Measured under plaintext iperf3: with one pipe 37 %
    /// of the bulk bytes went through it and the rest overflowed into copies; with four, 86 %.
    /// </summary>
    public const int MostPipes = 4;

    private readonly Lock _lock = new();
    private readonly List<PipeLease> _leases = [];
    private bool _ended;

    /// <summary>
    /// Moves up to <paramref name="length"/> bytes of the payload <paramref name="reader"/> is at into the channel's
    /// pipes, handing each pipe's share to <paramref name="queue"/> as it is moved; returns the count moved. Fewer than
    /// asked (0 included) when the pipes are full, none can be had (the channel ended, no descriptors) or splice(2) is
    /// refused: the caller reads the rest as usual. A failure of the tunnel's stream propagates; what was moved but not
    /// yet queued stays in its pipe, which closes with the channel (the tunnel is ending anyway).
    /// </summary>
    public async ValueTask<int> MoveAsync(FrameStreamReader reader, int length, Action<Chunk> queue, CancellationToken cancellationToken)
    {
        var moved = 0;
        var tried = 0; // the pipes of this payload that filled (bits by index): each is tried once
        while (moved < length && Roomiest(length - moved, ref tried) is { } lease)
        {
            if (!lease.TryUse()) break;
            var into = 0;
            var full = false;
            try
            {
                while (moved + into < length)
                {
                    var n = await reader.MovePayloadAsync(lease.Pipe, length - moved - into, cancellationToken).ConfigureAwait(false);
                    if (n == SocketSplice.PipeFull)
                    {
                        full = true;
                        break;
                    }
                    if (n <= 0) break;
                    into += n;
                }
            }
            finally
            {
                lease.Done();
            }
            if (into > 0) queue(Chunk.InPipe(lease, into));
            moved += into;
            if (!full) break;
        }
        return moved;
    }

    /// <summary>
    /// The untried pipe with the most room, or a new one if those are fuller than <paramref name="wanted"/> and the
    /// channel may have more; null when none has room. A pipe can be full with room left by its count of bytes (its
    /// pages part-filled), so the one returned is marked in <paramref name="tried"/> and not offered again for this payload.
    /// </summary>
    private PipeLease? Roomiest(int wanted, ref int tried)
    {
        lock (_lock)
        {
            if (_ended) return null;
            var best = -1;
            for (var i = 0; i < _leases.Count; i++)
            {
                if ((tried & (1 << i)) == 0 && (best < 0 || _leases[i].Pipe.Room > _leases[best].Pipe.Room)) best = i;
            }
            if ((best < 0 || _leases[best].Pipe.Room < wanted) && _leases.Count < MostPipes && KernelPipe.Rent(SocketSplice.PipeSize) is { } pipe)
            {
                _leases.Add(new PipeLease(pipe));
                best = _leases.Count - 1;
            }
            if (best < 0 || _leases[best].Pipe.Room < SocketSplice.Least / 2) return null;
            tried |= 1 << best;
            return _leases[best];
        }
    }

    /// <summary>The downlink is done: each pipe goes back (or is closed, with what it still held) once no one is using it.</summary>
    public void End()
    {
        PipeLease[] leases;
        lock (_lock)
        {
            _ended = true;
            leases = [.. _leases];
        }
        foreach (var lease in leases) lease.End();
    }
}

using System.Runtime.ExceptionServices;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Resumption;

// The tunnel's side of a plaintext end's splicing (docs/architecture.md, "How bytes move"): the end-to-end stream's
// next bytes moved into a channel's pipe from whichever link carries them.
public sealed partial class ResumableStream : IPipeSource
{
    private bool _splicing;

    /// <summary>
    /// Set while the tunnel's reader moves bulk SERVICE_DATA into its channels' pipes: the link (and every link that
    /// replaces it) then reads nothing ahead (<see cref="RelayStream.Splicing"/>).
    /// </summary>
    public bool Splicing
    {
        get => _splicing;
        set
        {
            lock (_gate)
            {
                _splicing = value;
                if (_current is RelayStream relay) relay.Splicing = value;
            }
        }
    }

    /// <summary>Whether the current link can splice its payload (<see cref="MoveIntoAsync"/>): a plaintext tunnel on a plain TCP link.</summary>
    public bool CanSplice
    {
        get { lock (_gate) return _current is RelayStream { CanSplice: true }; }
    }

    /// <summary>
    /// <see cref="IPipeSource.MoveIntoAsync"/>, as <see cref="ReadAsync"/> reads: across a break the bytes come from the
    /// next link. Each move happens under the lock with the check that its link is still the current one and is counted
    /// there, so a byte moved into a pipe is one the resume offer counts as received (the peer does not send it again).
    /// </summary>
    public async ValueTask<int> MoveIntoAsync(KernelPipe pipe, int max, CancellationToken cancellationToken)
    {
        while (true)
        {
            var link = await LinkAsync(cancellationToken).ConfigureAwait(false);
            if (link is null)
            {
                lock (_gate)
                {
                    var pending = Pending(max);
                    if (pending.IsEmpty) continue;
                    var n = SocketSplice.Write(pipe, pending);
                    return n == 0 ? SocketSplice.PipeFull : TookPending(n);
                }
            }
            if (link is not RelayStream relay) return SocketSplice.Refused;
            Exception? error = null;
            var ready = false;
            try
            {
                ready = await relay.AwaitPayloadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                error = ex;
            }
            if (ready)
            {
                lock (_gate)
                {
                    if (!ReferenceEquals(_current, link)) continue;
                    try
                    {
                        var moved = relay.MoveInto(pipe, max);
                        if (moved > 0) _received += moved;
                        if (moved != SocketSplice.Dry) return moved;
                        continue; // woken with nothing to take after all
                    }
                    catch (Exception ex)
                    {
                        error = ex;
                    }
                }
            }
            if (Break(link, error)) continue;
            if (error is null) return 0;
            ExceptionDispatchInfo.Throw(error);
        }
    }
}

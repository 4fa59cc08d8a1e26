using System.Threading.Channels;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Resumption;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Session;

/// <summary>
/// The one writer of a tunnel's end-to-end stream (never two concurrent writes on an SslStream). Channels
/// hand it whole frames; data frames need a credit, so at most <see cref="DataCredits"/> of them wait here and
/// a fast channel is backpressured instead of growing memory, while control frames (PAUSE, ACKs, FREE) never
/// wait behind credits. The stream is flushed whenever the queue runs empty.
/// <para>
/// Over a resumable stream, data also waits for the replay window (what the peer has not acknowledged); a STREAM_ACK
/// this end owes may overtake that wait, since it only counts what arrived the other way. Without that, two ends whose
/// windows are both full would each wait for the other's acknowledgement, queued behind the waiting data.
/// </para>
/// </summary>
public sealed class TunnelWriter
{
    /// <summary>16 × 64 KiB = 1 MiB queued at most: enough to keep a 10 Gbit/s link busy between wake-ups.</summary>
    public const int DataCredits = 16;

    /// <summary>
    /// What one credit stands for: a data frame takes one credit per 64 KiB of application bytes it carries (a bulk
    /// 256 KiB SERVICE_DATA takes four), so the queue holds about 1 MiB of data whatever the frames' sizes.
    /// </summary>
    private const int CreditBytes = Lstp.Protocol.ProtocolLimits.ServiceDataChunk + 64;

    private readonly Channel<OutboundFrame> _queue = Channel.CreateUnbounded<OutboundFrame>(new UnboundedChannelOptions { SingleReader = true });
    /// <summary>
    /// Control frames queued and not yet written past which the peer is cut: it sends requests (PING, CONNECTION_REQUEST)
    /// faster than it reads the answers, and each answer would otherwise wait here for good.
    /// </summary>
    public const int MaxControlQueued = 4096;

    private readonly SemaphoreSlim _credits = new(DataCredits, DataCredits);
    private readonly SemaphoreSlim _multiCredit = new(1, 1);
    /// <summary>In the queue, a wake-up for a STREAM_ACK; its value is taken when it is written.</summary>
    private static readonly OutboundFrame AckDue = new(null!, 0, Pooled: false);
    private int _ackWanted;
    private TaskCompletionSource _ackSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _bytesWritten;
    private int _controlQueued;

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Control frames queued and not yet written.</summary>
    public int ControlQueued => Volatile.Read(ref _controlQueued);

    /// <summary>Queues a data frame written into a buffer rented from <see cref="Chunk.Pool"/>; the writer returns it.</summary>
    public async ValueTask SendDataAsync(byte[] rented, int length, CancellationToken cancellationToken)
    {
        var credits = CreditsFor(length);
        if (credits == 1) await _credits.WaitAsync(cancellationToken).ConfigureAwait(false);
        else await TakeCreditsAsync(credits, cancellationToken).ConfigureAwait(false);
        if (!_queue.Writer.TryWrite(new OutboundFrame(rented, length, Pooled: true)))
        {
            _credits.Release(credits);
            Chunk.Pool.Return(rented);
            throw new ObjectDisposedException(nameof(TunnelWriter), "the tunnel is closed");
        }
    }

    /// <summary>
    /// Takes several credits one by one, one such taker at a time: two frames each holding part of what they need could
    /// otherwise hold every credit between them with nothing queued to give any back. A frame that needs one credit
    /// never holds part of its need, so it does not queue here.
    /// </summary>
    private async ValueTask TakeCreditsAsync(int credits, CancellationToken cancellationToken)
    {
        await _multiCredit.WaitAsync(cancellationToken).ConfigureAwait(false);
        var taken = 0;
        try
        {
            for (; taken < credits; taken++) await _credits.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (taken > 0) _credits.Release(taken);
            throw;
        }
        finally
        {
            _multiCredit.Release();
        }
    }

    /// <summary>The credits a data frame of <paramref name="length"/> bytes takes: one per 64 KiB, at least one, at most all.</summary>
    internal static int CreditsFor(int length) => Math.Clamp((length + CreditBytes - 1) / CreditBytes, 1, DataCredits);

    /// <summary>Queues a control message; false when the tunnel is already closed.</summary>
    public bool SendControl(Message message)
    {
        var frame = message.ToFrame();
        if (!_queue.Writer.TryWrite(new OutboundFrame(frame, frame.Length, Pooled: false))) return false;
        Interlocked.Increment(ref _controlQueued);
        return true;
    }

    /// <summary>Asks for a STREAM_ACK with what has arrived by the time it is written (several requests make one).</summary>
    public void RequestAck()
    {
        if (Interlocked.Exchange(ref _ackWanted, 1) == 1) return;
        _queue.Writer.TryWrite(AckDue);
        Volatile.Read(ref _ackSignal).TrySetResult();
    }

    /// <summary>Stops accepting frames; the writer loop ends after writing what is queued.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    public async Task RunAsync(Stream stream, CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        var link = stream as ResumableStream;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    if (ReferenceEquals(frame.Buffer, null))
                    {
                        if (link is not null) await WriteAckAsync(stream, link, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    var handedOver = false;
                    try
                    {
                        if (frame.Pooled && link is not null && !link.HasWindow(frame.Length)) await WaitForWindowAsync(stream, link, frame.Length, cancellationToken).ConfigureAwait(false);
                        if (frame.Pooled && link is not null)
                        {
                            // The stream takes the array: a large frame's is kept for replay as it is, not copied.
                            handedOver = true;
                            await link.WriteRentedAsync(frame.Buffer, frame.Length, cancellationToken).ConfigureAwait(false);
                        }
                        else await stream.WriteAsync(frame.Buffer.AsMemory(0, frame.Length), cancellationToken).ConfigureAwait(false);
                        Interlocked.Add(ref _bytesWritten, frame.Length);
                    }
                    finally
                    {
                        Release(frame, returnArray: !handedOver);
                    }
                }
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _queue.Writer.TryComplete();
            while (reader.TryRead(out var frame))
            {
                if (!ReferenceEquals(frame.Buffer, null)) Release(frame, returnArray: true);
            }
        }
    }

    /// <summary>Waits until the peer acknowledges enough for <paramref name="length"/> more bytes, sending the acknowledgements this end owes meanwhile.</summary>
    private async Task WaitForWindowAsync(Stream stream, ResumableStream link, int length, CancellationToken cancellationToken)
    {
        while (!link.HasWindow(length))
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _ackSignal, signal);
            if (await WriteAckAsync(stream, link, cancellationToken).ConfigureAwait(false)) await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            await Task.WhenAny(link.WindowChanged, signal.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> WriteAckAsync(Stream stream, ResumableStream link, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _ackWanted, 0) == 0) return false;
        var ack = new StreamAck((ulong)link.TakeAck()).ToFrame();
        await stream.WriteAsync(ack, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _bytesWritten, ack.Length);
        return true;
    }

    private void Release(OutboundFrame frame, bool returnArray)
    {
        if (!frame.Pooled)
        {
            Interlocked.Decrement(ref _controlQueued);
            return;
        }
        if (returnArray) Chunk.Pool.Return(frame.Buffer);
        _credits.Release(CreditsFor(frame.Length));
    }

    private readonly record struct OutboundFrame(byte[] Buffer, int Length, bool Pooled);
}

using System.IO.Pipelines;
using Lstp.Protocol.Messages;
using Microsoft.AspNetCore.Connections;

namespace Lstp.Middle.Relay;

/// <summary>
/// The write side of one link at the middle. Several may write to it (its own relay, for PONG, its setup and its
/// ERROR, and its peer's relay), so every write holds the lock: one writer at a time, frames never interleave.
/// Every write through <see cref="Writer"/> is flushed before the lock is released, so a holder of the lock may
/// also write to <see cref="Plain"/> directly and nothing overtakes anything.
/// </summary>
public sealed class LinkOutput(PipeWriter writer, System.Net.Sockets.NetworkStream? plain = null)
{
    /// <summary>How long completing waits for a writer that holds the lock (a flush stuck on a full link).</summary>
    private static readonly TimeSpan CompleteWait = TimeSpan.FromSeconds(5);

    public SemaphoreSlim Lock { get; } = new(1, 1);

    public PipeWriter Writer => writer;

    /// <summary>
    /// The link's socket (as a stream: a write returns once all of it is sent) when no TLS sits over it: the relay
    /// writes RELAY frames to it from the buffer it read them into, without a copy (<see cref="RelayFrames"/>).
    /// </summary>
    public System.Net.Sockets.NetworkStream? Plain => plain;

    /// <summary>
    /// True once the link's own handler has ended and completed this output. Read it while holding
    /// <see cref="Lock"/>: a peer's relay then drops what it would have forwarded here, instead of
    /// failing on a completed writer and taking its own link (and the bytes still queued for it) down.
    /// </summary>
    public bool Completed { get; private set; }

    /// <summary>
    /// Set (holding <see cref="Lock"/>) when the relay that wrote a RELAY frame here stopped before the frame's last
    /// byte: its link died mid-frame. Nothing may follow on this output, since the end would read it as the rest of
    /// that frame's payload (an ERROR counted as tunnel bytes breaks a resume); the link is reset instead, which its
    /// end takes as a lost link and resumes from the bytes it really received.
    /// </summary>
    public bool CutMidFrame { get; set; }

    public async ValueTask SendAsync(Message message, CancellationToken cancellationToken)
    {
        await SendAsync(message.ToFrame(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes and flushes a whole frame; <see cref="ConnectionAbortedException"/> when the link has already closed.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Completed) throw new ConnectionAbortedException("the link has closed");
            if (CutMidFrame) throw new FrameCutException();
            await writer.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Lock.Release();
        }
    }

    /// <summary>Completes the output (the link closes after what is queued); false when a writer held the lock too long.</summary>
    public async Task<bool> CompleteAsync()
    {
        if (!await Lock.WaitAsync(CompleteWait).ConfigureAwait(false)) return false;
        try
        {
            Completed = true;
            await writer.CompleteAsync().ConfigureAwait(false);
            return true;
        }
        finally
        {
            Lock.Release();
        }
    }
}

/// <summary>A write found its link's output cut inside a RELAY frame (<see cref="LinkOutput.CutMidFrame"/>): the link must be reset.</summary>
public sealed class FrameCutException() : ConnectionAbortedException("a RELAY frame to this link was cut short by its peer's link ending");

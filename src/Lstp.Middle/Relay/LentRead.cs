using System.Buffers;

namespace Lstp.Middle.Relay;

/// <summary>
/// One direction of a tunnel's relay graph, what its two stages share: the pipe read <see cref="LinkReads"/> lends
/// to <see cref="RelayFrames"/> (this one object travels with every read, so an element costs no allocation and
/// nothing is copied), the idle timer both wait under, and why the direction stopped, reported to the link's
/// actor (<see cref="LinkSession.RelayEnded"/>) once both stages have stopped and the pipe is no longer read.
/// </summary>
internal sealed class LentRead(LinkSession from, MiddleNode node)
{
    private int _stagesRunning = 2;
    private Exception? _failure;

    /// <summary>The link this direction reads; its peer is the one it writes to.</summary>
    public LinkSession From { get; } = from;

    public MiddleNode Node { get; } = node;

    /// <summary>What the read returned; <see cref="RelayFrames"/> moves <see cref="Consumed"/> past the frames it handled.</summary>
    public ReadOnlySequence<byte> Buffer;

    public SequencePosition Consumed;

    /// <summary>The read was the link's last (the end closed its side).</summary>
    public bool IsCompleted;

    /// <summary>
    /// Restarted at every read: a link silent for the idle timeout fails with KeepaliveTimeout, and a write to a
    /// peer that stopped reading gives up with it (as the relay loop's does). Made by <see cref="LinkReads"/> as it starts.
    /// </summary>
    public CancellationTokenSource Idle = null!;

    /// <summary>Why a stage failed (the first reason wins).</summary>
    public void Fail(Exception error) => _failure ??= error;

    /// <summary>A stage stopped (on the graph's thread); after the second, the link's actor hears how the reading ended.</summary>
    public void Stopped()
    {
        if (--_stagesRunning > 0) return;
        Idle?.Dispose();
        From.RelayEnded(_failure);
    }
}

using System.IO.Pipelines;
using Lstp.Protocol.Messages;

namespace Lstp.Middle.Relay;

/// <summary>
/// The write side of one link at the middle. Two loops may write to it (its own, for PONG and setup, and its
/// peer's relay loop), so every write holds the lock: one writer at a time, frames never interleave.
/// </summary>
public sealed class LinkOutput(PipeWriter writer)
{
    public SemaphoreSlim Lock { get; } = new(1, 1);

    public PipeWriter Writer => writer;

    public async ValueTask SendAsync(Message message, CancellationToken cancellationToken)
    {
        await SendAsync(message.ToFrame(), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await writer.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Lock.Release();
        }
    }
}

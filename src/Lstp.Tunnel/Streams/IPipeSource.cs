namespace Lstp.Tunnel.Streams;

/// <summary>A byte stream that can move its next bytes into a <see cref="KernelPipe"/> without reading them into memory.</summary>
public interface IPipeSource
{
    /// <summary>
    /// Moves at least one and up to <paramref name="max"/> of the stream's next bytes into <paramref name="pipe"/>,
    /// waiting for them if need be. Returns the count moved; 0 at the end of the stream; <see cref="SocketSplice.PipeFull"/>
    /// or <see cref="SocketSplice.Refused"/> when none can be moved that way now (the caller reads them as usual).
    /// </summary>
    ValueTask<int> MoveIntoAsync(KernelPipe pipe, int max, CancellationToken cancellationToken);
}

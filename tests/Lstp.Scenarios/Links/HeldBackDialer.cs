using System.Net.Sockets;
using Lstp.Transport;
using Lstp.Transport.Dialing;

namespace Lstp.Scenarios.Links;

/// <summary>Dials the middle; the first large write on the link sends its first part, then the rest only once released.</summary>
internal sealed class HeldBackDialer(int firstPart) : IDialer
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NetworkStream? _link;

    public void Release() => _released.TrySetResult();

    /// <summary>Resets the dialled link (RST), as a crashed end's kernel does.</summary>
    public void Reset()
    {
        var socket = _link!.Socket;
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
        Release(); // the held write then fails on the closed socket
    }

    public async ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken)
    {
        _link = (NetworkStream)await TcpDialer.Instance.DialAsync(target, cancellationToken);
        return new HeldBack(_link, firstPart, _released.Task);
    }
}

internal sealed class HeldBack(Stream inner, int firstPart, Task released) : Stream
{
    private bool _heldOnce;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_heldOnce || buffer.Length <= 2 * firstPart)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            return;
        }
        _heldOnce = true;
        await inner.WriteAsync(buffer[..firstPart], cancellationToken);
        await inner.FlushAsync(cancellationToken);
        await released.WaitAsync(cancellationToken);
        await inner.WriteAsync(buffer[firstPart..], cancellationToken);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}

namespace Lstp.Bench.Micro.Support;

/// <summary>
/// An in-memory link that always has data: reads return <c>content</c> over and over (so a whole number of frames
/// becomes an endless frame stream, as a busy socket is), writes are dropped. Reads complete synchronously, like a
/// socket read that finds bytes already queued, so a benchmark measures the reader and not the wait.
/// </summary>
public sealed class LoopingStream(byte[] content) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Copies up to the end of <c>content</c> (a short read, as a socket returns), then starts it again.</summary>
    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, content.Length - _position);
        content.AsSpan(_position, n).CopyTo(buffer);
        _position = (_position + n) % content.Length;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => new(Read(buffer.Span));

    public override void Write(ReadOnlySpan<byte> buffer) { }
    public override void Write(byte[] buffer, int offset, int count) { }
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

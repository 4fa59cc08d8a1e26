using System.IO.Compression;

namespace Lstp.Tunnel.Compression;

/// <summary>Raw Deflate at zlib level <see cref="CompressionLimits.DeflateLevel"/>, sync-flushed per frame (each frame ends in 00 00 ff ff).</summary>
public sealed class DeflateFrameCompressor : FrameCompressor
{
    private readonly FrameSink _sink = new();
    private readonly DeflateStream _deflate;

    public DeflateFrameCompressor()
    {
        _deflate = new DeflateStream(_sink, new ZLibCompressionOptions { CompressionLevel = CompressionLimits.DeflateLevel }, leaveOpen: true);
    }

    public override int Compress(ReadOnlySpan<byte> input, Memory<byte> output)
    {
        _sink.Reset(output);
        try
        {
            _deflate.Write(input);
            // DeflateStream.Flush is Z_SYNC_FLUSH: the frame ends on a byte boundary with all its input decodable.
            _deflate.Flush();
            return _sink.Overflowed ? -1 : _sink.Written;
        }
        finally
        {
            // The caller returns the buffer to its pool: nothing may write into it later.
            _sink.Detach();
        }
    }

    /// <summary>Disposing writes Deflate's final block; it goes nowhere (regression: it used to land in the last frame's pooled buffer).</summary>
    public override void Dispose()
    {
        _sink.Detach();
        _deflate.Dispose();
    }

    /// <summary>Where DeflateStream writes: the caller's output buffer, noting when it would overflow.</summary>
    private sealed class FrameSink : Stream
    {
        private Memory<byte> _target;

        public int Written { get; private set; }
        public bool Overflowed { get; private set; }

        public void Reset(Memory<byte> target)
        {
            _target = target;
            Written = 0;
            Overflowed = false;
        }

        /// <summary>Forgets the caller's buffer; what is written until the next <see cref="Reset"/> is dropped.</summary>
        public void Detach()
        {
            _target = Memory<byte>.Empty;
            Written = 0;
            Overflowed = true;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Overflowed || buffer.Length > _target.Length - Written)
            {
                Overflowed = true;
                return;
            }
            buffer.CopyTo(_target.Span[Written..]);
            Written += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

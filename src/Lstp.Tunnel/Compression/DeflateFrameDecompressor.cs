using System.IO.Compression;

namespace Lstp.Tunnel.Compression;

/// <summary>Raw Deflate decoding of one direction; Deflate's 32 KiB window bounds its memory by the format itself.</summary>
public sealed class DeflateFrameDecompressor : FrameDecompressor
{
    private readonly FrameSource _source = new();
    private readonly DeflateStream _inflate;

    public DeflateFrameDecompressor()
    {
        _inflate = new DeflateStream(_source, CompressionMode.Decompress, leaveOpen: true);
    }

    public override int Decompress(ReadOnlyMemory<byte> input, Span<byte> output)
    {
        if (input.IsEmpty) return 0;
        _source.Set(input);
        var total = 0;
        try
        {
            // DeflateStream reads the source until it runs dry (Read returns 0), then returns 0 itself; it reads on
            // when the next frame's bytes are set, so one stream spans many frames.
            while (total < output.Length)
            {
                var n = _inflate.Read(output[total..]);
                if (n == 0) break;
                total += n;
            }
            if (total == output.Length)
            {
                Span<byte> probe = stackalloc byte[1];
                if (_inflate.Read(probe) > 0) throw Malformed($"the frame decompresses to more than {output.Length} bytes");
            }
        }
        catch (InvalidDataException ex)
        {
            throw Malformed($"not a valid Deflate stream ({ex.Message})");
        }
        // A stream that ended (a final block) reads no more: this frame's bytes were left untouched, or left over.
        var ended = _source.Remaining > 0 || (total == 0 && _source.BytesRead == 0);
        _source.Set(ReadOnlyMemory<byte>.Empty); // the caller's buffer goes back to its pool
        if (ended) throw Malformed("data after the end of the Deflate stream");
        return total;
    }

    public override void Dispose() => _inflate.Dispose();

    /// <summary>What DeflateStream reads: the current frame's bytes, then "end" until the next frame arrives.</summary>
    private sealed class FrameSource : Stream
    {
        private ReadOnlyMemory<byte> _data;

        public int Remaining => _data.Length;

        /// <summary>How much of the current frame DeflateStream has taken.</summary>
        public int BytesRead { get; private set; }

        public void Set(ReadOnlyMemory<byte> data)
        {
            _data = data;
            BytesRead = 0;
        }

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, _data.Length);
            _data.Span[..n].CopyTo(buffer);
            _data = _data[n..];
            BytesRead += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

namespace Lstp.Tunnel.Compression;

/// <summary>
/// One direction's compressed stream: each call compresses one frame's bytes and flushes, so the peer can
/// decompress all of them from this frame alone (interactive traffic never waits for a full block). The
/// stream's history carries over from frame to frame.
/// </summary>
public abstract class FrameCompressor : IDisposable
{
    public static FrameCompressor Create(CompressionMethod method) => method switch
    {
        CompressionMethod.Brotli => new BrotliFrameCompressor(),
        CompressionMethod.Deflate => new DeflateFrameCompressor(),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "no compressor for this method"),
    };

    /// <summary>
    /// Compresses and flushes <paramref name="input"/> into <paramref name="output"/>; the bytes written, or -1
    /// when they did not fit. After -1 the stream is out of step with the peer's and this compressor must be
    /// dropped.
    /// </summary>
    public abstract int Compress(ReadOnlySpan<byte> input, Memory<byte> output);

    public abstract void Dispose();
}

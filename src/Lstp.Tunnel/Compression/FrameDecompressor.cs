using Lstp.Protocol;

namespace Lstp.Tunnel.Compression;

/// <summary>
/// The receiving side of one direction's compressed stream: each call decompresses one frame into at most
/// <c>output.Length</c> bytes. Bytes that are not a valid stream, or that decompress to more than that (a
/// decompression bomb), throw Malformed: the peer is wrong.
/// </summary>
public abstract class FrameDecompressor : IDisposable
{
    public static FrameDecompressor Create(CompressionMethod method) => method switch
    {
        CompressionMethod.Brotli => new BrotliFrameDecompressor(),
        CompressionMethod.Deflate => new DeflateFrameDecompressor(),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "no decompressor for this method"),
    };

    public abstract int Decompress(ReadOnlyMemory<byte> input, Span<byte> output);

    public abstract void Dispose();

    protected static ProtocolException Malformed(string why) => new(ErrorCode.Malformed, $"malformed SERVICE_DATA_COMPRESSED: {why}");
}

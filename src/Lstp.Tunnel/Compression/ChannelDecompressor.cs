using Lstp.Protocol;
using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Compression;

/// <summary>
/// The receiving half of one channel's compression, used by its downlink alone as it writes records to the
/// application. A frame flagged <see cref="CompressedFlags.NewStream"/> replaces the decompression state; raw
/// SERVICE_DATA frames do not touch it. Memory: one decompressor's state (about 45 KiB for Deflate's 32 KiB
/// window, about 120 KiB for Brotli's 64 KiB one), from the first compressed frame to the channel's end.
/// </summary>
public sealed class ChannelDecompressor(CompressionMethod method) : IDisposable
{
    private FrameDecompressor? _stream;

    public CompressionMethod Method => method;

    /// <summary>True while decompression state is held (its memory is in use).</summary>
    public bool HoldsState => _stream is not null;

    /// <summary>Decompresses one frame into <paramref name="output"/>; the bytes written. Bad input throws Malformed <see cref="ProtocolException"/>.</summary>
    public int Decompress(CompressedFlags flags, ReadOnlyMemory<byte> data, Span<byte> output)
    {
        if (flags.HasFlag(CompressedFlags.NewStream))
        {
            _stream?.Dispose();
            _stream = FrameDecompressor.Create(method);
        }
        else if (_stream is null)
        {
            throw new ProtocolException(ErrorCode.Malformed, "malformed SERVICE_DATA_COMPRESSED: it continues a compressed stream that never started (no NewStream flag)");
        }
        return _stream.Decompress(data, output);
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
    }
}

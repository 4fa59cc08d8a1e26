using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Compression;

/// <summary>
/// One channel's compression at one end: the tunnel's method (the receiver decompresses whenever there is one),
/// this end's mode for what it sends, and, for an opener, the options its SERVICE_BEGIN_REQUEST carries.
/// </summary>
public sealed record ChannelCompression(CompressionMethod Method, CompressMode Mode, BeginOptions BeginOptions)
{
    public static readonly ChannelCompression None = new(CompressionMethod.None, CompressMode.Off, BeginOptions.None);

    /// <summary>Whether this end compresses what it sends on the channel.</summary>
    public bool Sends => Method != CompressionMethod.None && Mode != CompressMode.Off;

    /// <summary>The sending half, or null when this end sends raw.</summary>
    public ChannelCompressor? CreateCompressor(CompressionCounters? counters = null) => Sends ? new ChannelCompressor(Method, Mode, counters) : null;

    /// <summary>The receiving half, or null when the tunnel agreed on no compression (compressed data is then a violation).</summary>
    public ChannelDecompressor? CreateDecompressor() => Method == CompressionMethod.None ? null : new ChannelDecompressor(Method);
}

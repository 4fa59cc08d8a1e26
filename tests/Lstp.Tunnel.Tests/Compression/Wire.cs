using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Compression;

namespace Lstp.Tunnel.Tests.Compression;

/// <summary>
/// One channel direction without sockets: frames go through a <see cref="ChannelCompressor"/> as the uplink
/// sends them, and through a <see cref="ChannelDecompressor"/> as the downlink writes them, recording each frame
/// (and what arrived, unless <c>keep</c> is false).
/// </summary>
public sealed class Wire(CompressionMethod method, CompressMode mode, bool keep = true) : IDisposable
{
    private readonly byte[] _output = new byte[ProtocolLimits.ServiceDataChunk];
    private readonly byte[] _back = new byte[ProtocolLimits.ServiceDataChunk];
    private readonly MemoryStream _received = new();

    /// <summary>The wire's own buffers, which a memory measurement leaves out.</summary>
    public const int BufferBytes = 2 * ProtocolLimits.ServiceDataChunk;

    public ChannelCompressor Sender { get; } = new(method, mode);
    public ChannelDecompressor Receiver { get; } = new(method);

    public List<(bool Compressed, CompressedFlags Flags, int Size)> Frames { get; } = [];
    public byte[] Received => _received.ToArray();

    /// <summary>Sends one frame; true when it went compressed.</summary>
    public bool Send(ReadOnlySpan<byte> data)
    {
        if (Sender.TryCompress(data, _output.AsMemory(0, data.Length), out var written, out var flags))
        {
            Frames.Add((true, flags, written));
            var n = Receiver.Decompress(flags, _output.AsMemory(0, written), _back);
            if (keep) _received.Write(_back, 0, n);
            return true;
        }
        Frames.Add((false, CompressedFlags.None, data.Length));
        if (keep) _received.Write(data);
        return false;
    }

    public void SendAll(byte[] data, int frame = ProtocolLimits.ServiceDataChunk)
    {
        foreach (var piece in Corpora.Frames(data, frame)) Send(piece.Span);
    }

    public void Dispose()
    {
        Sender.Dispose();
        Receiver.Dispose();
    }
}

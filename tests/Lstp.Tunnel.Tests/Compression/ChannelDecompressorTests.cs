using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Compression;
using Xunit;

namespace Lstp.Tunnel.Tests.Compression;

public sealed class ChannelDecompressorTests
{
    [Fact]
    public void A_frame_that_continues_a_stream_that_never_started_is_malformed()
    {
        using var decompressor = new ChannelDecompressor(CompressionMethod.Brotli);

        var ex = Assert.Throws<ProtocolException>(() => decompressor.Decompress(CompressedFlags.None, new byte[] { 0x10 }, new byte[100]));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void NewStream_drops_the_old_state_and_decodes_a_fresh_stream()
    {
        using var wire = new Wire(CompressionMethod.Brotli, CompressMode.On);
        wire.Send(Corpora.Text(1000));
        var decompressor = wire.Receiver;
        using var fresh = new BrotliFrameCompressor();
        var output = new byte[2000];
        var n = fresh.Compress(Corpora.Text(1000, seed: 5), output);
        var back = new byte[2000];

        var m = decompressor.Decompress(CompressedFlags.NewStream, output.AsMemory(0, n), back);

        Assert.Equal(Corpora.Text(1000, seed: 5), back[..m]);
    }

    [Fact]
    public void Its_state_is_released_on_dispose()
    {
        var decompressor = new ChannelDecompressor(CompressionMethod.Deflate);
        using var compressor = new DeflateFrameCompressor();
        var output = new byte[2000];
        var n = compressor.Compress(Corpora.Text(1000), output);
        decompressor.Decompress(CompressedFlags.NewStream, output.AsMemory(0, n), new byte[2000]);
        Assert.True(decompressor.HoldsState);

        decompressor.Dispose();

        Assert.False(decompressor.HoldsState);
    }
}

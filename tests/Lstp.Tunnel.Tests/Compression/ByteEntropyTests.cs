using System.IO.Compression;
using System.Text;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Compression;
using Xunit;

namespace Lstp.Tunnel.Tests.Compression;

/// <summary>The cheap look auto compression takes before it compresses a frame: what it calls incompressible.</summary>
public sealed class ByteEntropyTests
{
    [Theory]
    [InlineData(1024)]
    [InlineData(4096)]
    [InlineData(64 * 1024)]
    public void Random_and_already_compressed_bytes_look_incompressible(int size)
    {
        Assert.True(ByteEntropy.LooksIncompressible(Corpora.Random(size)));
        // The first KiB of a gzip stream holds its header and code tables, which sample lower: compressed and judged as usual.
        if (size >= 4096) Assert.True(ByteEntropy.LooksIncompressible(Corpora.Gzipped(size)));
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(64 * 1024)]
    public void Text_json_base64_and_zeros_do_not(int size)
    {
        var json = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, size / 20 + 1).Select(i => $"{{\"id\":{i},\"ok\":true}},")))[..size];
        var base64 = Encoding.ASCII.GetBytes(Convert.ToBase64String(Corpora.Random(size)))[..size];

        Assert.False(ByteEntropy.LooksIncompressible(Corpora.Text(size)));
        Assert.False(ByteEntropy.LooksIncompressible(json));
        Assert.False(ByteEntropy.LooksIncompressible(base64));
        Assert.False(ByteEntropy.LooksIncompressible(new byte[size]));
    }

    [Fact]
    public void What_it_calls_incompressible_does_not_shrink_below_the_poor_ratio()
    {
        // The claim the shortcut rests on: data above the threshold would have been judged poor anyway.
        foreach (var data in new[] { Corpora.Random(1024), Corpora.Random(64 * 1024), Corpora.Gzipped(64 * 1024) })
        {
            Assert.True(ByteEntropy.LooksIncompressible(data));
            var deflated = new MemoryStream();
            using (var deflate = new DeflateStream(deflated, new ZLibCompressionOptions { CompressionLevel = CompressionLimits.DeflateLevel }, leaveOpen: true)) deflate.Write(data);
            Assert.True(deflated.Length > data.Length * CompressionLimits.PoorRatio, $"{data.Length} bytes deflated to {deflated.Length}");
        }
    }

    [Fact]
    public void A_long_frame_is_judged_by_samples_spread_over_it()
    {
        // Text with random bytes only at its start: the sample sees mostly text.
        var frame = Corpora.Text(64 * 1024);
        Corpora.Random(2048).CopyTo(frame, 0);

        Assert.InRange(ByteEntropy.BitsPerByte(frame), 4, 7.5);
        Assert.InRange(ByteEntropy.BitsPerByte(Corpora.Random(64 * 1024)), 7.9, 8);
        Assert.Equal(0, ByteEntropy.BitsPerByte([]));
    }
}

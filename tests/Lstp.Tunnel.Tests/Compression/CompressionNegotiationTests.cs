using Lstp.Tunnel.Compression;
using Xunit;

namespace Lstp.Tunnel.Tests.Compression;

public sealed class CompressionNegotiationTests
{
    [Fact]
    public void The_masters_preference_order_wins()
    {
        Assert.Equal(CompressionMethod.Deflate, CompressionNegotiation.Agree(["deflate", "br"], ["br", "deflate"]));
        Assert.Equal(CompressionMethod.Brotli, CompressionNegotiation.Agree(["br", "deflate"], ["deflate", "br"]));
    }

    [Fact]
    public void None_if_either_end_says_none()
    {
        Assert.Equal(CompressionMethod.None, CompressionNegotiation.Agree(["none"], ["br", "deflate"]));
        Assert.Equal(CompressionMethod.None, CompressionNegotiation.Agree(["br", "deflate"], ["none"]));
        Assert.Equal(CompressionMethod.None, CompressionNegotiation.Agree(["br", "none"], ["br"]));
    }

    [Fact]
    public void None_with_a_peer_that_announces_nothing()
    {
        // An end built before compression sends no `compression` key at all.
        Assert.Equal(CompressionMethod.None, CompressionNegotiation.Agree(["br", "deflate"], []));
        Assert.Equal(CompressionMethod.None, CompressionNegotiation.Agree([], ["br", "deflate"]));
    }

    [Fact]
    public void None_when_the_lists_share_no_method()
    {
        Assert.Equal(CompressionMethod.None, CompressionNegotiation.Agree(["br"], ["deflate"]));
    }

    [Fact]
    public void Methods_this_build_does_not_know_are_skipped()
    {
        Assert.Equal(CompressionMethod.Brotli, CompressionNegotiation.Agree(["zstd", "br"], ["br", "zstd"]));
    }

    [Fact]
    public void Both_ends_reach_the_same_method_for_every_combination_of_settings()
    {
        string[][] modes = [["auto"], ["on"], ["off"], ["off", "svc=on"]];
        IReadOnlyList<CompressionMethod>[] orders = [[CompressionMethod.Brotli, CompressionMethod.Deflate], [CompressionMethod.Deflate, CompressionMethod.Brotli], [CompressionMethod.Deflate], []];
        var settings = modes.SelectMany(m => orders.Select(o => CompressionSettings.Parse(m) with { Methods = o })).ToList();
        foreach (var master in settings)
        {
            foreach (var other in settings)
            {
                var atMaster = TunnelCompression.Agree(master, other.Announce(), iAmMaster: true).Method;
                var atOther = TunnelCompression.Agree(other, master.Announce(), iAmMaster: false).Method;
                Assert.Equal(atMaster, atOther);
                var anyOff = master.Announce().Contains("none") || other.Announce().Contains("none");
                if (anyOff) Assert.Equal(CompressionMethod.None, atMaster);
            }
        }
    }
}

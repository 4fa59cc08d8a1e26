using Lstp.Protocol.Messages;
using Lstp.Tunnel.Compression;
using Xunit;

namespace Lstp.Tunnel.Tests.Compression;

public sealed class TunnelCompressionTests
{
    private static readonly string[] Both = ["deflate", "br"];

    [Fact]
    public void An_opener_that_says_off_for_a_service_asks_the_acceptor_not_to_compress_either()
    {
        var opener = TunnelCompression.Agree(CompressionSettings.Parse(["auto", "db=off"]), Both, iAmMaster: true);
        var acceptor = TunnelCompression.Agree(CompressionSettings.Parse(["on"]), Both, iAmMaster: false);

        var mine = opener.ForOpener(TargetKind.Service, "db");
        var theirs = acceptor.ForAcceptor(new ServiceBeginRequest(1, TargetKind.Service, "db", 0, mine.BeginOptions));

        Assert.Equal(BeginOptions.NoCompression, mine.BeginOptions);
        Assert.False(mine.Sends);
        Assert.False(theirs.Sends);
        Assert.Equal(CompressionMethod.Deflate, theirs.Method); // it still accepts compressed frames
    }

    [Fact]
    public void Otherwise_each_end_compresses_what_it_sends_by_its_own_mode()
    {
        var opener = TunnelCompression.Agree(CompressionSettings.Parse(["on"]), Both, iAmMaster: true);
        var acceptor = TunnelCompression.Agree(CompressionSettings.Parse(["auto", "web=off"]), Both, iAmMaster: false);

        var mine = opener.ForOpener(TargetKind.Service, "web");
        var theirs = acceptor.ForAcceptor(new ServiceBeginRequest(1, TargetKind.Service, "web", 0, mine.BeginOptions));

        Assert.Equal(BeginOptions.None, mine.BeginOptions);
        Assert.Equal(CompressMode.On, mine.Mode);
        Assert.Equal(CompressMode.Off, theirs.Mode);
    }

    [Fact]
    public void Socks_and_connect_destinations_follow_the_tunnel_mode()
    {
        var end = TunnelCompression.Agree(CompressionSettings.Parse(["on", "example.com=off"]), Both, iAmMaster: true);

        Assert.Equal(CompressMode.On, end.ForOpener(TargetKind.Destination, "example.com").Mode);
        Assert.Equal(CompressMode.On, end.ForAcceptor(new ServiceBeginRequest(2, TargetKind.Destination, "example.com", 443)).Mode);
    }

    [Fact]
    public void A_tunnel_without_a_method_neither_compresses_nor_accepts_compressed_data()
    {
        var end = TunnelCompression.Agree(CompressionSettings.Parse(["on"]), ["none"], iAmMaster: true);
        var channel = end.ForOpener(TargetKind.Service, "web");

        Assert.False(end.Enabled);
        Assert.Equal(BeginOptions.None, channel.BeginOptions);
        Assert.Null(channel.CreateCompressor());
        Assert.Null(channel.CreateDecompressor());
    }
}

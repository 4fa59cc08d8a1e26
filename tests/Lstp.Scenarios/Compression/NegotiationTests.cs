using Lstp.Testing;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Compression;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Compression;

/// <summary>What two ends agree on, and what that does to the frames, for matching and mismatched settings (docs/protocol.md §7.3).</summary>
public sealed class NegotiationTests(ITestOutputHelper output)
{
    private static readonly byte[] Text = Corpora.Text(1 << 20);

    private CompressionSettings _client = CompressionSettings.Default;
    private CompressionSettings _server = CompressionSettings.Default;

    private async Task<(Tunnel.Session.Tunnel Client, Tunnel.Session.Tunnel Server, TunnelRig Rig, EchoServer Echo)> StartAsync(CompressionSettings client, CompressionSettings server, params string[] services)
    {
        _client = client;
        _server = server;
        var echo = new EchoServer();
        var rig = await TunnelRig.StartAsync(new TestLog(output, LogLevel.Warning), (services.Length == 0 ? ["echo"] : services).ToDictionary(s => s, _ => echo.Address),
            client: o => o with { Compression = client }, server: o => o with { Compression = server });
        var (c, s) = await rig.OpenAsync();
        return (c, s, rig, echo);
    }

    [Fact]
    public async Task An_end_that_is_off_means_nothing_is_compressed_either_way()
    {
        var (client, server, rig, echo) = await StartAsync(CompressionSettings.Parse(["on"]), CompressionSettings.Parse(["off"]));
        await using var _ = rig;
        await using var __ = echo;

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("echo"), Text));

        Assert.Equal(["none"], client.Session.PeerProperties.Compression);
        Assert.Equal(["deflate", "br"], server.Session.PeerProperties.Compression);
        Assert.Equal(CompressionMethod.None, Agreement.Of(client, _client));
        Assert.Equal(CompressionMethod.None, Agreement.Of(server, _server));
        Assert.Equal(0, client.Counters.Compression.FramesCompressed + server.Counters.Compression.FramesCompressed);
    }

    [Fact]
    public async Task An_end_without_compression_support_means_nothing_is_compressed()
    {
        // An end with no methods announces none, exactly as an end built before compression announces nothing.
        var (client, server, rig, echo) = await StartAsync(CompressionSettings.Default, CompressionSettings.Default with { Methods = [] });
        await using var _ = rig;
        await using var __ = echo;

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("echo"), Text));

        Assert.Equal(CompressionMethod.None, Agreement.Of(client, _client));
        Assert.Equal(CompressionMethod.None, Agreement.Of(server, _server));
        Assert.Equal(0, client.Counters.Compression.FramesCompressed + server.Counters.Compression.FramesCompressed);
    }

    [Fact]
    public async Task On_at_one_end_and_auto_at_the_other_compress_both_directions()
    {
        var (client, server, rig, echo) = await StartAsync(CompressionSettings.Parse(["on"]), CompressionSettings.Parse(["auto"]));
        await using var _ = rig;
        await using var __ = echo;

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("echo"), Text));

        Assert.True(client.Counters.Compression.FramesCompressed > 0);
        Assert.True(server.Counters.Compression.FramesCompressed > 0);
    }

    [Fact]
    public async Task The_masters_preference_decides_the_method()
    {
        var prefersBrotli = CompressionSettings.Default with { Methods = [CompressionMethod.Brotli, CompressionMethod.Deflate] };
        var (client, server, rig, echo) = await StartAsync(prefersBrotli, CompressionSettings.Default);
        await using var _ = rig;
        await using var __ = echo;

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("echo"), Text));

        var expected = client.Session.IsMaster ? CompressionMethod.Brotli : CompressionMethod.Deflate;
        Assert.Equal(expected, Agreement.Of(client, _client));
        Assert.Equal(expected, Agreement.Of(server, _server));
        Assert.True(server.Counters.Compression.FramesDecompressed > 0);
    }

    [Fact]
    public async Task A_peer_with_brotli_only_gets_brotli_and_the_data_arrives_intact()
    {
        var (client, server, rig, echo) = await StartAsync(CompressionSettings.Default, CompressionSettings.Default with { Methods = [CompressionMethod.Brotli] });
        await using var _ = rig;
        await using var __ = echo;

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("echo"), Text));

        Assert.Equal(CompressionMethod.Brotli, Agreement.Of(client, _client));
        Assert.Equal(CompressionMethod.Brotli, Agreement.Of(server, _server));
        Assert.True(client.Counters.Compression.BytesAfterCompression * 2 < client.Counters.Compression.BytesBeforeCompression);
    }

    [Fact]
    public async Task A_forward_set_off_is_uncompressed_both_ways_while_the_others_compress()
    {
        var (client, server, rig, echo) = await StartAsync(CompressionSettings.Parse(["auto", "secret=off"]), CompressionSettings.Parse(["on"]), "secret", "plain");
        await using var _ = rig;
        await using var __ = echo;

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("secret"), Text));
        Assert.Equal(0, client.Counters.Compression.FramesCompressed);
        Assert.Equal(0, server.Counters.Compression.FramesCompressed);

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("plain"), Text));
        Assert.True(client.Counters.Compression.FramesCompressed > 0);
        Assert.True(server.Counters.Compression.FramesCompressed > 0);
    }

    [Fact]
    public async Task A_service_set_off_at_the_server_end_is_uncompressed_in_what_the_server_sends()
    {
        var (client, server, rig, echo) = await StartAsync(CompressionSettings.Parse(["auto"]), CompressionSettings.Parse(["auto", "secret=off"]), "secret");
        await using var _ = rig;
        await using var __ = echo;

        Assert.Equal(Text, await Echo.RoundTripAsync(rig.ForwardPort("secret"), Text));

        Assert.Equal(0, server.Counters.Compression.FramesCompressed);
        Assert.True(client.Counters.Compression.FramesCompressed > 0);
    }
}

using System.Net.Sockets;
using Lstp.Admin;
using Lstp.Middle;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Scenarios.Links;
using Lstp.Scenarios.Security;
using Lstp.Testing;
using Lstp.Testing.Security;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>Cascaded middles: ends behind different middles meet at an upstream one, and both see the whole path.</summary>
public sealed class CascadeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_source_behind_a_downstream_middle_cannot_lock_out_the_other_ends_behind_it()
    {
        // Both middles allow 2 waiting ends per source. Source .21 fills its budget through the downstream; before
        // the upstream learned each end's own source (ORIGIN), it counted them all as the downstream's, and the end
        // from .22 was refused with TooManyWaiting too.
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var upstream = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "up", MaxWaitingPerSource = 2 }, log);
        await using var downstream = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "down", MaxWaitingPerSource = 2, Upstream = upstream.LinkAddress }, log);

        var links = new List<RawLink>();
        try
        {
            async Task<LinkAnswer> RegisterAsync(int source, string name)
            {
                var link = await RawLink.ConnectAsync(downstream.LinkAddress, SecurityKit.Source(source));
                links.Add(link);
                await link.SendAsync(RawSetup.Bytes(RawSetup.End(name)));
                return (await link.ReadSetupAnswerAsync(TimeSpan.FromSeconds(10))).Answer;
            }
            for (var i = 0; i < 2; i++) Assert.Contains((await RegisterAsync(21, $"busy-{i}")).Messages, m => m is Waiting);

            // The downstream applies its own limit to the busy source...
            Assert.Equal(ErrorCode.TooManyWaiting, (await RegisterAsync(21, "busy-2")).ErrorCode);
            // ...and the upstream counts each end against its own source, so the others behind the downstream still wait.
            Assert.Contains((await RegisterAsync(22, "other-0")).Messages, m => m is Waiting);
            Assert.Contains((await RegisterAsync(22, "other-1")).Messages, m => m is Waiting);
            Assert.Equal(4, upstream.Node.Registry.Snapshot().Count);
            Assert.Equal(["127.0.0.21 via 127.0.0.1", "127.0.0.22 via 127.0.0.1"], upstream.Node.Registry.Snapshot().Select(w => w.Link.BudgetSource).Distinct().Order());
        }
        finally
        {
            foreach (var link in links) await link.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_downstream_middle_admitted_by_token_is_not_held_to_one_source_s_connection_rate()
    {
        // Every end the downstream hands on is a new node link from the downstream's one address. The upstream allows
        // 3 new links per second per source; a neighbour that presented the upstream's token is not counted.
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var upstream = await MiddleHost.StartAsync(new MiddleOptions
        {
            Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "up", MaxConnectionsPerSecondPerSource = 3, Tokens = ["neighbour token"],
        }, log);
        await using var downstream = await MiddleHost.StartAsync(new MiddleOptions
        {
            Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "down", Upstream = upstream.LinkAddress, UpstreamToken = "neighbour token",
        }, log);
        var links = new List<RawLink>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var link = await RawLink.ConnectAsync(downstream.LinkAddress, SecurityKit.Source(30 + i));
                links.Add(link);
                await link.SendAsync(RawSetup.Bytes(RawSetup.End($"end-{i}")));
                var answer = (await link.ReadSetupAnswerAsync(TimeSpan.FromSeconds(10))).Answer;
                Assert.True(answer.Messages.Any(m => m is Waiting), $"end {i}: {string.Join(", ", answer.Messages)}");
            }
            Assert.Equal(10, upstream.Node.Registry.Snapshot().Count);
        }
        finally
        {
            foreach (var link in links) await link.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_cascade_of_three_middles_carries_a_tunnel_and_the_path_lists_all_three()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        // The ends dial middles A and C; both hand their ends on to B, which pairs them.
        await using var b = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "mid-b" }, log);
        await using var a = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "mid-a", Upstream = b.LinkAddress }, log);
        await using var c = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "mid-c", Upstream = b.LinkAddress }, log);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Middles = [a.LinkAddress] },
            server: o => o with { Middles = [c.LinkAddress] },
            existingMiddle: b);

        var (clientTunnel, serverTunnel) = await rig.OpenAsync();

        Assert.Equal(["client-end", "mid-a", "mid-b", "mid-c", "server-end"], clientTunnel.Session.Pairing.Path.Select(e => e.Name));
        Assert.Equal(["server-end", "mid-c", "mid-b", "mid-a", "client-end"], serverTunnel.Session.Pairing.Path.Select(e => e.Name));
        foreach (var middle in new[] { a, b, c })
        {
            var tunnel = Assert.Single(middle.Node.Tunnels.Snapshot());
            Assert.Equal(5, tunnel.Path.Count);
        }

        using var socket = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        var send = Task.Run(async () => { await socket.SendAsync(payload, SocketFlags.None); socket.Shutdown(SocketShutdown.Send); });
        var back = await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(30));
        await send;
        Assert.True(payload.AsSpan().SequenceEqual(back));
    }

    [Fact]
    public async Task A_link_that_dies_inside_a_frame_resets_the_far_end_s_link_through_the_cascade()
    {
        // The downstream relays a handed-on end's link with its own loop. When that link died inside a frame, the
        // loop's peer (the link to the upstream) got ERROR(PeerGone) after the frame's first part, which the upstream
        // relayed to the far end as the rest of the frame's payload. The link to the upstream is reset instead, and the
        // upstream resets the far end's link as it does for a link of its own.
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var upstream = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "up" }, log);
        await using var downstream = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "down", Upstream = upstream.LinkAddress }, log);
        var held = new HeldBackDialer(firstPart: 24 * 1024);
        var secret = TunnelSecret.FromPassphrase("cascade cut");
        var a = new EndSetup(secret, "sender", "u", Plaintext: true);
        var b = new EndSetup(secret, "receiver", "u", Plaintext: true);
        var registerSender = MiddleLink.RegisterAsync(held, downstream.LinkAddress, a.Info(), a.Topology("a"), null, LinkTimings.Default, TimeProvider.System, null, CancellationToken.None);
        var (receiver, _) = await MiddleLink.RegisterAsync(TcpDialer.Instance, upstream.LinkAddress, b.Info(), b.Topology("b"), null, LinkTimings.Default, TimeProvider.System, null, CancellationToken.None);
        var (sender, _) = await registerSender.WaitAsync(TimeSpan.FromSeconds(10));

        var frame = System.Security.Cryptography.RandomNumberGenerator.GetBytes(200 * 1024);
        var send = Task.Run(async () =>
        {
            await sender.WriteAsync(frame);
            await sender.FlushAsync();
        });
        var received = new byte[frame.Length];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // The frame's first part crosses both middles; its rest is held back, then the sender's link is reset.
        var got = await receiver.ReadAsync(received, deadline.Token);
        held.Reset();
        var ended = await Record.ExceptionAsync(async () =>
        {
            int n;
            while ((n = await receiver.ReadAsync(received.AsMemory(got), deadline.Token)) > 0) got += n;
        });

        Assert.True(ended is IOException or ProtocolException, $"the receiver's link ended with {ended?.GetType().Name ?? "a clean end of stream"}: {ended?.Message}");
        Assert.Null(receiver.PeerLeft);
        Assert.InRange(got, 1, frame.Length - 1);
        Assert.True(frame.AsSpan(0, got).SequenceEqual(received.AsSpan(0, got)), "what the receiver read is not the frame's own bytes");
        await Eventually.TrueAsync(() => upstream.Node.Tunnels.Count == 0 && downstream.Node.Tunnels.Count == 0, "both middles drop the tunnel");
        Assert.NotNull(await Record.ExceptionAsync(() => send.WaitAsync(TimeSpan.FromSeconds(10))));
    }
}

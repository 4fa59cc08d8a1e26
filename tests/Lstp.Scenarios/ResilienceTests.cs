using System.Net.Sockets;
using Lstp.Admin;
using Lstp.EndProxy;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Lstp.Tunnel.Link;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>What happens when parts die: the peer, the path, the middle.</summary>
public sealed class ResilienceTests(ITestOutputHelper output)
{
    private static async Task AssertEchoAsync(TunnelRig rig, byte value)
    {
        using var client = await Net.ConnectAsync(rig.ForwardPort("echo"));
        await client.SendAsync(new[] { value, value, value }, SocketFlags.None);
        Assert.Equal(new[] { value, value, value }, await Net.ReadExactlyAsync(client, 3).WaitAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task With_resumption_off_peer_death_is_noticed_and_the_survivor_repairs_when_the_peer_returns()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        await using var serverPath = new ChaosProxy(middle.LinkAddress.Port);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            server: o => o with { Middles = [new HostPort("127.0.0.1", serverPath.Port)], ResumeGrace = TimeSpan.Zero },
            client: o => o with { Middles = [middle.LinkAddress], ResumeGrace = TimeSpan.Zero },
            existingMiddle: middle);
        var (clientTunnel, _) = await rig.OpenAsync();
        await AssertEchoAsync(rig, 1);

        // The server end's connection dies without a SHUTDOWN (reset), and it cannot come back yet.
        serverPath.Kill();
        await clientTunnel.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == EndProxy.Connect.TunnelPhase.Waiting, "the survivor registers again and waits");

        // The peer returns: the survivor pairs again and data flows.
        serverPath.Revive();
        var (again, _) = await rig.OpenAsync(TimeSpan.FromSeconds(30));
        Assert.NotSame(clientTunnel, again);
        await AssertEchoAsync(rig, 2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_silent_path_is_detected_by_keepalive_and_the_tunnel_replaced_or_resumed(bool resume)
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        await using var path = new ChaosProxy(middle.LinkAddress.Port);
        var fast = new LinkTimings { KeepaliveInterval = TimeSpan.FromMilliseconds(500), DeadAfter = TimeSpan.FromSeconds(3) };
        var grace = resume ? new EndOptions().ResumeGrace : TimeSpan.Zero;
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            server: o => o with { Timings = fast, ResumeGrace = grace },
            client: o => o with { Middles = [new HostPort("127.0.0.1", path.Port)], Timings = fast, ResumeGrace = grace },
            existingMiddle: middle);
        var (clientTunnel, _) = await rig.OpenAsync();
        using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));
        await application.SendAsync(new byte[] { 7 }, SocketFlags.None);
        Assert.Equal(new byte[] { 7 }, await Net.ReadExactlyAsync(application, 1).WaitAsync(TimeSpan.FromSeconds(15)));

        path.Freeze(); // a blackhole: no FIN, no RST, just silence
        await application.SendAsync(new byte[] { 8, 9 }, SocketFlags.None); // written into the blackhole
        if (!resume)
        {
            var reason = await clientTunnel.Completion.WaitAsync(TimeSpan.FromSeconds(20));
            output.WriteLine($"tunnel ended: {reason}");
            // Either this end's keepalive gave up on the silent link, or the server end's did first and the middle
            // reset this end's side: both are the blackhole being detected without any FIN or RST from the path.
            Assert.True(reason.Why.Contains("silent", StringComparison.Ordinal) || reason.Why.Contains("reset", StringComparison.OrdinalIgnoreCase), reason.Why);
            path.Revive();
            await rig.OpenAsync(TimeSpan.FromSeconds(30));
            await AssertEchoAsync(rig, 3);
            return;
        }
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == EndProxy.Connect.TunnelPhase.Resuming, "the silence is noticed", TimeSpan.FromSeconds(20));
        path.Revive();
        // The bytes written into the blackhole arrive after all, and the tunnel is the same.
        Assert.Equal(new byte[] { 8, 9 }, await Net.ReadExactlyAsync(application, 2).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(clientTunnel.Completion.IsCompleted);
        Assert.Same(clientTunnel, rig.Client.Supervisor.Current);
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State is { Phase: EndProxy.Connect.TunnelPhase.Open, Resumptions: >= 1 }, "the keeper counts the resumption");
    }

    [Fact]
    public async Task Middle_restart_brings_both_ends_back()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address });
        var (before, _) = await rig.OpenAsync();
        await AssertEchoAsync(rig, 4);
        var port = rig.Middle.LinkAddress.Port;

        await rig.Middle.DisposeAsync();
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == EndProxy.Connect.TunnelPhase.Resuming, "the client end resumes");
        await rig.ReplaceMiddleAsync(await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", port), Admin = null, Name = "m2" }, log));

        // Within the resume grace: the same tunnel carries on over the restarted middle.
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State is { Phase: EndProxy.Connect.TunnelPhase.Open, Resumptions: 1 }, "the tunnel resumes", TimeSpan.FromSeconds(30));
        var (after, _) = await rig.OpenAsync(TimeSpan.FromSeconds(30));
        Assert.Same(before, after);
        Assert.False(before.Completion.IsCompleted);
        Assert.Equal(["client-end", "m2", "server-end"], after.Session.Pairing.Path.Select(e => e.Name));
        await AssertEchoAsync(rig, 5);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_tunnel_that_dies_resets_its_applications_instead_of_ending_them_cleanly(int resumeGraceSeconds)
    {
        // Resumption off: the broken link ends the tunnel at once. On, with a 1 s grace: the tunnel waits for the
        // server end, which cannot come back, and ends when the grace runs out. Either way: a reset, never a FIN.
        var grace = TimeSpan.FromSeconds(resumeGraceSeconds);
        // A service that says hello and holds the connection: an application without its own framing would take a
        // clean end of stream here for "that was everything".
        using var service = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        service.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        service.Listen(1);
        var held = service.AcceptAsync().ContinueWith(async accepted =>
        {
            var socket = await accepted;
            await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);
            return socket;
        }, TaskScheduler.Default).Unwrap();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        await using var serverPath = new ChaosProxy(middle.LinkAddress.Port);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["hello"] = $"127.0.0.1:{((System.Net.IPEndPoint)service.LocalEndPoint!).Port}" },
            server: o => o with { Middles = [new HostPort("127.0.0.1", serverPath.Port)], ResumeGrace = grace },
            client: o => o with { Middles = [middle.LinkAddress], ResumeGrace = grace },
            existingMiddle: middle);
        var (clientTunnel, _) = await rig.OpenAsync();
        using var application = await Net.ConnectAsync(rig.ForwardPort("hello"));
        Assert.Equal("hello"u8.ToArray(), await Net.ReadExactlyAsync(application, 5).WaitAsync(TimeSpan.FromSeconds(15)));
        using var _ = await held;

        serverPath.Kill(); // the server end's link is reset: no SHUTDOWN, no SERVICE_FREE
        var ended = await clientTunnel.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(ended.IsFault, ended.Why);
        if (resumeGraceSeconds > 0) Assert.Contains("did not resume within 1 s", ended.Why, StringComparison.Ordinal);

        var reset = await Assert.ThrowsAsync<SocketException>(() => Net.ReadToEndAsync(application).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_forward_that_finds_no_tunnel_resets_its_local_connection_instead_of_ending_it_cleanly(bool dedicated)
    {
        // The two ends never pair (different secrets): the forward waits its second for a tunnel and gives up.
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            server: o => o with { Secret = "another secret" },
            client: o => o with
            {
                WaitForTunnel = TimeSpan.FromSeconds(1),
                Forwards = [.. o.Forwards.Select(f => f with { Dedicated = dedicated })],
            });

        using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var reset = await Assert.ThrowsAsync<SocketException>(() => Net.ReadToEndAsync(application).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        Assert.Equal(0, echo.Accepted);
    }
}

using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Admin;
using Lstp.EndProxy.Connect;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>
/// A tunnel whose link breaks without SHUTDOWN resumes over a new link with its channels: the applications see
/// every byte once and in order, and no reset (docs/protocol.md §6.7).
/// </summary>
public sealed class ResumptionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Streams <paramref name="total"/> random bytes through the echo forward, checking every byte comes back.</summary>
    private static async Task EchoStreamAsync(Socket client, int total, Func<long, Task>? atHalf = null)
    {
        var data = RandomNumberGenerator.GetBytes(total);
        var sending = Task.Run(async () =>
        {
            var sent = 0;
            while (sent < total)
            {
                var n = Math.Min(16 * 1024, total - sent);
                sent += await client.SendAsync(data.AsMemory(sent, n), SocketFlags.None);
            }
        });
        var back = new byte[total];
        var got = 0;
        var half = false;
        while (got < total)
        {
            var n = await client.ReceiveAsync(back.AsMemory(got), SocketFlags.None).AsTask().WaitAsync(Patience);
            Assert.True(n > 0, $"the echo ended after {got} of {total} bytes");
            got += n;
            if (!half && got >= total / 2 && atHalf is not null)
            {
                half = true;
                await atHalf(got);
            }
        }
        await sending;
        Assert.True(data.AsSpan().SequenceEqual(back), "the echoed bytes differ from what was sent");
    }

    [Fact]
    public async Task A_link_cut_mid_stream_resumes_and_the_stream_arrives_whole()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        await using var clientPath = new ChaosProxy(middle.LinkAddress.Port);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Middles = [new HostPort("127.0.0.1", clientPath.Port)] },
            existingMiddle: middle);
        var (clientTunnel, serverTunnel) = await rig.OpenAsync();
        using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));

        await EchoStreamAsync(application, 16 * 1024 * 1024, async _ =>
        {
            clientPath.Kill(); // reset, no SHUTDOWN
            await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == TunnelPhase.Resuming, "the client end resumes");
            clientPath.Revive();
        });

        Assert.False(clientTunnel.Completion.IsCompleted);
        Assert.False(serverTunnel.Completion.IsCompleted);
        Assert.Same(clientTunnel, rig.Client.Supervisor.Current);
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State is { Phase: TunnelPhase.Open, Resumptions: >= 1 }, "the keeper counts the resumption");
        var state = rig.Client.Supervisor.State;
        output.WriteLine($"resumed after {state.LastResumeTook?.TotalMilliseconds:0} ms");
    }

    /// <summary>A rig whose client end reaches the middle through a path the test can cut; its server end goes direct.</summary>
    private async Task<(TunnelRig Rig, ChaosProxy Path, IAsyncDisposable[] Owned)> CuttableRigAsync(EchoServer echo)
    {
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        var path = new ChaosProxy(middle.LinkAddress.Port);
        var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Middles = [new HostPort("127.0.0.1", path.Port)] },
            existingMiddle: middle);
        await rig.OpenAsync();
        return (rig, path, [rig, path, middle]);
    }

    private static async Task CutAsync(TunnelRig rig, ChaosProxy path)
    {
        path.Kill();
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == TunnelPhase.Resuming, "the client end resumes");
    }

    private static async Task ResumedAsync(TunnelRig rig, Tunnel.Session.Tunnel tunnel)
    {
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == TunnelPhase.Open, "the tunnel resumes", Patience);
        Assert.Same(tunnel, rig.Client.Supervisor.Current);
        Assert.False(tunnel.Completion.IsCompleted);
    }

    private static async Task DisposeAllAsync(IAsyncDisposable[] owned)
    {
        foreach (var item in owned) await item.DisposeAsync();
    }

    [Fact]
    public async Task A_channel_whose_open_is_lost_with_the_link_opens_when_the_tunnel_resumes()
    {
        await using var echo = new EchoServer();
        var (rig, path, owned) = await CuttableRigAsync(echo);
        try
        {
            var tunnel = rig.Client.Supervisor.Current!;
            // The open goes out (CONNECTION_REQUEST, SERVICE_BEGIN_REQUEST, the first data) into a link that stalls
            // and is then cut with them in it: only the replay can deliver them.
            path.Freeze();
            using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));
            await application.SendAsync("opened during the break"u8.ToArray(), SocketFlags.None);
            await Eventually.TrueAsync(() => tunnel.ChannelCount == 1, "the channel is opening");
            await CutAsync(rig, path);
            path.Revive();

            Assert.Equal("opened during the break"u8.ToArray(), await Net.ReadExactlyAsync(application, 23).WaitAsync(Patience));
            await ResumedAsync(rig, tunnel);
        }
        finally
        {
            await DisposeAllAsync(owned);
        }
    }

    [Fact]
    public async Task A_half_close_in_flight_at_the_break_arrives_after_the_resume_and_ends_the_channel_cleanly()
    {
        await using var echo = new EchoServer();
        var (rig, path, owned) = await CuttableRigAsync(echo);
        try
        {
            var tunnel = rig.Client.Supervisor.Current!;
            using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));
            await application.SendAsync(new byte[] { 1 }, SocketFlags.None);
            Assert.Equal(new byte[] { 1 }, await Net.ReadExactlyAsync(application, 1).WaitAsync(Patience));

            // The last data and the half-close (SERVICE_FREE_REQUEST) leave into a link that stalls and is then cut
            // with them in it.
            path.Freeze();
            var data = RandomNumberGenerator.GetBytes(256 * 1024);
            await application.SendAsync(data, SocketFlags.None);
            application.Shutdown(SocketShutdown.Send);
            await Eventually.TrueAsync(() => tunnel.Link.Held >= data.Length, "the data and the half-close are sent (and kept for replay)");
            await CutAsync(rig, path);
            path.Revive();

            // Everything echoed, then the echo server's own half-close: a clean end, not a reset.
            var back = await Net.ReadToEndAsync(application).WaitAsync(Patience);
            Assert.True(data.AsSpan().SequenceEqual(back), $"got {back.Length} of {data.Length} bytes back, or other bytes");
            await ResumedAsync(rig, tunnel);
            await Eventually.TrueAsync(() => tunnel.ChannelCount == 0, "the channel is released at both ends of the half-close");
        }
        finally
        {
            await DisposeAllAsync(owned);
        }
    }

    [Fact]
    public async Task A_paused_channel_is_cut_resumed_and_then_delivers_everything_in_order()
    {
        await using var echo = new EchoServer();
        var (rig, path, owned) = await CuttableRigAsync(echo);
        try
        {
            var tunnel = rig.Client.Supervisor.Current!;
            using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));
            // The application sends 8 MiB and reads nothing yet: the echo fills its channel's buffer past the pause
            // threshold, so the client end has sent SERVICE_DATA_PAUSE when the link is cut.
            var data = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
            var sending = Task.Run(() => application.SendAsync(data, SocketFlags.None));
            await Eventually.TrueAsync(() => tunnel.Channels.Any(c => c.Flow.IsPaused), "the channel pauses its sender", Patience);
            await CutAsync(rig, path);
            path.Revive();
            await ResumedAsync(rig, tunnel);

            var back = await Net.ReadExactlyAsync(application, data.Length).WaitAsync(Patience);
            await sending.WaitAsync(Patience);
            Assert.True(data.AsSpan().SequenceEqual(back), "the echoed bytes differ from what was sent");
        }
        finally
        {
            await DisposeAllAsync(owned);
        }
    }

    [Fact]
    public async Task A_64_MiB_echo_stream_survives_kill_9_of_its_middle_when_the_ends_list_two()
    {
        await using var echo = new EchoServer();
        var first = Net.FreePort();
        var second = Net.FreePort();
        var forwardPort = Net.FreePort();
        var middles = $"127.0.0.1:{first},127.0.0.1:{second}";
        await using var m1 = LstpProcess.Start("middle", "--listen", $"127.0.0.1:{first}", "--admin", "off", "--name", "m1");
        await using var m2 = LstpProcess.Start("middle", "--listen", $"127.0.0.1:{second}", "--admin", "off", "--name", "m2");
        await m1.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        await m2.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        await using var server = LstpProcess.Start("end", "--middle", middles, "--secret", "resume test", "--name", "server", "--service", $"echo={echo.Address}");
        await using var client = LstpProcess.Start("end", "--middle", middles, "--secret", "resume test", "--name", "client", "--forward", $"{forwardPort}=echo");
        await client.WaitForLineAsync(l => l.Contains("tunnel to server open via client -> m1", StringComparison.Ordinal));
        try
        {
            using var application = await Net.ConnectAsync(forwardPort);
            await EchoStreamAsync(application, 64 * 1024 * 1024, async _ =>
            {
                m1.Kill(); // SIGKILL: no SHUTDOWN, no drain; both links die at once
                await client.WaitForLineAsync(l => l.Contains("resuming over a new link", StringComparison.Ordinal));
            });
            await client.WaitForLineAsync(l => l.Contains("tunnel to server resumed via client -> m2 -> server", StringComparison.Ordinal));
            await server.WaitForLineAsync(l => l.Contains("tunnel to client resumed via server -> m2 -> client", StringComparison.Ordinal));
            Assert.DoesNotContain(client.Lines, l => l.Contains("tunnel to server closed", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var line in client.Lines.Concat(server.Lines).Concat(m2.Lines)) output.WriteLine(line);
        }
    }
}

using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Admin;
using Lstp.EndProxy;
using Lstp.EndProxy.Connect;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Lstp.Tunnel.Channels;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>
/// A plaintext end moves bulk SERVICE_DATA from its link to the application through the channel's pipe (splice(2)),
/// never through its memory: every byte still arrives once and in order, past a full application socket, a full
/// pipe and a resumed link.
/// </summary>
public sealed class SpliceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static EndOptions Plaintext(EndOptions options) => options with { Plaintext = true };

    [Fact]
    public async Task A_plaintext_tunnel_splices_bulk_data_both_ways_and_every_byte_arrives_in_order()
    {
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string> { ["echo"] = echo.Address }, client: Plaintext, server: Plaintext);
        var (clientTunnel, serverTunnel) = await rig.OpenAsync();

        var payload = RandomNumberGenerator.GetBytes(32 * 1024 * 1024);
        using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var send = Task.Run(async () => { await application.SendAsync(payload, SocketFlags.None); application.Shutdown(SocketShutdown.Send); });
        var back = await Net.ReadToEndAsync(application).WaitAsync(Patience);
        await send;

        Assert.Equal(payload.Length, back.Length);
        Assert.True(payload.AsSpan().SequenceEqual(back), "the echoed bytes differ from what was sent");
        // Each end received the 32 MiB once (the server end from the client, the client end back from the echo),
        // all of it in bulk frames: through pipes, but for what overflowed them while an application was slow (about
        // a quarter here on an idle machine; a loaded machine's slower applications overflow more, hence the low bar).
        output.WriteLine($"spliced: server end {serverTunnel.Counters.BytesSpliced}, client end {clientTunnel.Counters.BytesSpliced}");
        Assert.InRange(serverTunnel.Counters.BytesSpliced, payload.Length / 8, payload.Length);
        Assert.InRange(clientTunnel.Counters.BytesSpliced, payload.Length / 8, payload.Length);

        // Small messages after the bulk, one at a time (the ends stop splicing after a few small frames; until then
        // each header is read alone): each comes back whole, and none went through a pipe.
        var spliced = (serverTunnel.Counters.BytesSpliced, clientTunnel.Counters.BytesSpliced);
        using var interactive = await Net.ConnectAsync(rig.ForwardPort("echo"));
        for (var i = 0; i < 50; i++)
        {
            var message = RandomNumberGenerator.GetBytes(100 + i);
            await interactive.SendAsync(message, SocketFlags.None);
            Assert.Equal(message, await Net.ReadExactlyAsync(interactive, message.Length).WaitAsync(Patience));
        }
        Assert.Equal(spliced, (serverTunnel.Counters.BytesSpliced, clientTunnel.Counters.BytesSpliced));
    }

    [Fact]
    public async Task An_application_that_stops_reading_gets_every_spliced_byte_when_it_reads_again()
    {
        var payload = RandomNumberGenerator.GetBytes(24 * 1024 * 1024);
        await using var source = TestService.Source(payload);
        await using var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string> { ["source"] = source.Address }, client: Plaintext, server: Plaintext);
        var (clientTunnel, _) = await rig.OpenAsync();

        // The application reads nothing until its channel has paused the peer: its socket is full, so the downlink's
        // splices find no room and the channel's pipe fills behind them.
        using var application = await Net.ConnectAsync(rig.ForwardPort("source"));
        ServiceChannel? Channel() => clientTunnel.Channels.FirstOrDefault();
        await Eventually.TrueAsync(() => Channel()?.Flow.IsPaused == true, "the client end pauses the channel", Patience);
        Assert.True(clientTunnel.Counters.BytesSpliced > 0, "nothing went through the channel's pipe before it paused");

        var got = await Net.ReadToEndAsync(application).WaitAsync(Patience);
        Assert.Equal(payload.Length, got.Length);
        Assert.True(payload.AsSpan().SequenceEqual(got), "the bytes differ from what the service sent");
        output.WriteLine($"spliced: {clientTunnel.Counters.BytesSpliced} of {payload.Length}");
    }

    [Fact]
    public async Task A_link_cut_while_splicing_resumes_and_the_stream_arrives_whole()
    {
        var payload = RandomNumberGenerator.GetBytes(48 * 1024 * 1024);
        await using var source = TestService.Source(payload);
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        await using var clientPath = new ChaosProxy(middle.LinkAddress.Port);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["source"] = source.Address },
            client: o => Plaintext(o) with { Middles = [new HostPort("127.0.0.1", clientPath.Port)] }, server: Plaintext, existingMiddle: middle);
        var (clientTunnel, _) = await rig.OpenAsync();

        using var application = await Net.ConnectAsync(rig.ForwardPort("source"));
        var got = new byte[payload.Length];
        var read = 0;
        var cut = false;
        while (true)
        {
            var n = await application.ReceiveAsync(got.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(Patience);
            if (n == 0) break;
            read += n;
            if (!cut && read >= payload.Length / 4)
            {
                // Cut the client end's link (a reset, no SHUTDOWN) once the client end is splicing what arrives.
                Assert.True(clientTunnel.Counters.BytesSpliced > 0, "nothing was spliced before the cut");
                cut = true;
                clientPath.Kill();
                await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == TunnelPhase.Resuming, "the client end resumes");
                clientPath.Revive();
            }
        }
        Assert.True(cut);
        Assert.Equal(payload.Length, read);
        Assert.True(payload.AsSpan().SequenceEqual(got), "the bytes differ from what the service sent");
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State is { Resumptions: >= 1 }, "the keeper counts the resumption");
        output.WriteLine($"spliced: {clientTunnel.Counters.BytesSpliced} of {payload.Length}");
    }
}

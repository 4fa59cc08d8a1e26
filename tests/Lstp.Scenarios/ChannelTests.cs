using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Protocol;
using Lstp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>Service channels over a whole tunnel on loopback: multiplexing, refusals, half-close.</summary>
public sealed class ChannelTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Hundred_concurrent_channels_carry_random_data_intact_both_ways()
    {
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Warning), new Dictionary<string, string> { ["echo"] = echo.Address });
        await rig.OpenAsync();
        var port = rig.ForwardPort("echo");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            var payload = RandomNumberGenerator.GetBytes(256 * 1024 + i * 997);
            using var client = await Net.ConnectAsync(port, timeout.Token);
            var send = Task.Run(async () =>
            {
                await client.SendAsync(payload, SocketFlags.None, timeout.Token);
                client.Shutdown(SocketShutdown.Send);
            });
            var back = await Net.ReadToEndAsync(client, cancellationToken: timeout.Token);
            await send;
            return payload.AsSpan().SequenceEqual(back);
        }));

        Assert.All(results, Assert.True);
        Assert.Equal(100, echo.Accepted);
    }

    [Fact]
    public async Task Unknown_service_is_refused_with_a_NACK_and_the_local_client_is_closed_cleanly()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Forwards = [.. o.Forwards, EndProxy.ForwardSpec.Parse("127.0.0.1:0=nosuch")] });
        await rig.OpenAsync();
        var port = rig.Client.Listeners.Single(l => l.What.EndsWith("=nosuch", StringComparison.Ordinal)).Address.Port;

        using var client = await Net.ConnectAsync(port);
        var received = await Net.ReadToEndAsync(client).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(received); // a FIN, not a reset: ReadToEnd would throw on RST
        await Eventually.TrueAsync(() => log.Lines.Any(l => l.Contains("refused by the peer: UnknownService", StringComparison.Ordinal) && l.Contains("nosuch", StringComparison.Ordinal)), "the NACK is logged with its reason");
        // The tunnel is unharmed: the known service still works.
        using var ok = await Net.ConnectAsync(rig.ForwardPort("echo"));
        await ok.SendAsync(new byte[] { 1, 2, 3 }, SocketFlags.None);
        Assert.Equal(new byte[] { 1, 2, 3 }, await Net.ReadExactlyAsync(ok, 3).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_target_that_refuses_is_reported_as_TargetRefused()
    {
        var closedPort = Net.FreePort();
        var log = new TestLog(output);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["down"] = $"127.0.0.1:{closedPort}" });
        await rig.OpenAsync();
        using var client = await Net.ConnectAsync(rig.ForwardPort("down"));
        Assert.Empty(await Net.ReadToEndAsync(client).WaitAsync(TimeSpan.FromSeconds(15)));
        await Eventually.TrueAsync(() => log.Lines.Any(l => l.Contains(nameof(ErrorCode.TargetRefused), StringComparison.Ordinal)), "the refusal is logged with its code");
    }

    [Fact]
    public async Task Half_close_is_carried_as_a_half_close_and_the_reply_still_arrives()
    {
        await using var hasher = TestService.HashAfterEof();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string> { ["hash"] = hasher.Address });
        await rig.OpenAsync();
        var payload = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);

        using var client = await Net.ConnectAsync(rig.ForwardPort("hash"));
        await client.SendAsync(payload, SocketFlags.None);
        client.Shutdown(SocketShutdown.Send); // the service answers only after it sees this end of stream
        var reply = await Net.ReadToEndAsync(client).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(SHA256.HashData(payload), reply);
    }

    [Fact]
    public async Task A_service_that_sends_then_closes_delivers_every_byte_before_the_end_of_stream()
    {
        var data = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 17);
        await using var source = TestService.Source(data);
        await using var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string> { ["src"] = source.Address });
        await rig.OpenAsync();
        using var client = await Net.ConnectAsync(rig.ForwardPort("src"));
        var got = await Net.ReadToEndAsync(client).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(data.AsSpan().SequenceEqual(got), $"received {got.Length} of {data.Length} bytes");
    }
}

/// <summary>Dedicated tunnel connections: a forward whose channels each get a tunnel connection of their own.</summary>
public sealed class DedicatedConnectionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_dedicated_forward_carries_each_connection_on_its_own_tunnel_connection()
    {
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information), new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Forwards = [EndProxy.ForwardSpec.Parse("127.0.0.1:0=echo/dedicated")] });
        await rig.OpenAsync();
        var port = rig.Client.Listeners.Single().Address.Port;

        // All at once: each gets its own tunnel connection, and each closes with its channel, the echo complete.
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(async i =>
        {
            var payload = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
            using var client = await Net.ConnectAsync(port);
            var send = Task.Run(async () => { await client.SendAsync(payload, SocketFlags.None); client.Shutdown(SocketShutdown.Send); });
            var back = await Net.ReadToEndAsync(client).WaitAsync(TimeSpan.FromSeconds(60));
            await send;
            var intact = payload.AsSpan().SequenceEqual(back);
            if (!intact) output.WriteLine($"echo {i}: got {back.Length} of {payload.Length} bytes");
            return intact;
        }));

        Assert.All(results, Assert.True);
        // Each connection paired its own tunnel at the middle (slots 1..n beside the main one), and each closed with its channel.
        Assert.True(rig.Middle.Node.Metrics.Pairings >= 5, $"pairings: {rig.Middle.Node.Metrics.Pairings}");
        await Eventually.TrueAsync(() => rig.Middle.Node.Tunnels.Count == 1, "the dedicated tunnel connections close with their channel");
    }
}

/// <summary>Regressions in the middle's relay (its relay graph now, its relay loop before).</summary>
public sealed class RelayRegressionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_relay_frame_split_across_reads_is_flushed_at_once_not_at_the_next_keepalive()
    {
        // The middle once forwarded the tail of a RELAY frame that began in an earlier read without flushing
        // it, so request/response traffic on one channel stalled until the next PING (up to 10 s).
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Warning), new Dictionary<string, string> { ["echo"] = echo.Address });
        await rig.OpenAsync();
        using var client = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var payload = RandomNumberGenerator.GetBytes(64 * 1024);
        for (var i = 0; i < 500; i++)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.SendAsync(payload, SocketFlags.None, deadline.Token);
            var back = await Net.ReadExactlyAsync(client, payload.Length, deadline.Token);
            Assert.True(payload.AsSpan().SequenceEqual(back), $"round trip {i} came back altered");
        }
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Admin;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Testing.Security;
using Lstp.Transport;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;
using static Lstp.Scenarios.Security.SecurityKit;

namespace Lstp.Scenarios.Security;

/// <summary>
/// Every limit, exceeded on purpose: the offending connection is answered ERROR with the limit's code and
/// closed, and a good tunnel on the same middle (its ends on 127.0.0.1; offenders on other loopback
/// addresses) keeps working, the very same tunnel as before.
/// </summary>
public sealed class LimitTests(ITestOutputHelper output)
{
    private async Task<(TunnelRig Rig, Tunnel.Session.Tunnel Tunnel, EchoServer Echo)> GoodPairAsync(Lstp.Middle.MiddleOptions options, Func<EndProxy.EndOptions, EndProxy.EndOptions>? server = null)
    {
        var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address }, middle: options, server: server);
        var (tunnel, _) = await rig.OpenAsync();
        await AssertEchoAsync(rig, 1);
        return (rig, tunnel, echo);
    }

    [Fact]
    public async Task A_connection_that_sends_only_the_preamble_is_closed_with_SetupTimeout_after_the_deadline()
    {
        var deadline = TimeSpan.FromMilliseconds(500);
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle() with { SetupDeadline = deadline });
        await using var _ = rig;
        await using var __ = echo;

        await using var idle = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(2));
        var clock = Stopwatch.StartNew();
        await idle.SendAsync(Preamble.Create(LinkRole.End));
        Assert.Equal(LinkRole.End, await idle.ReadPreambleAsync());
        var error = await idle.ExpectErrorAsync(TimeSpan.FromSeconds(10));
        var elapsed = clock.Elapsed;
        output.WriteLine($"closed after {elapsed.TotalMilliseconds:0} ms: {error}");
        Assert.Equal(ErrorCode.SetupTimeout, error.Code);
        Assert.InRange(elapsed, deadline - TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));
        Assert.True(await idle.IsClosedByPeerAsync(TimeSpan.FromSeconds(5)), "the middle closed the connection");

        await AssertUnharmedAsync(rig, tunnel, 2);
    }

    [Fact]
    public async Task A_slowloris_setup_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline_too()
    {
        var deadline = TimeSpan.FromMilliseconds(500);
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle() with { SetupDeadline = deadline });
        await using var _ = rig;
        await using var __ = echo;

        await using var slow = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(2));
        var setup = RawSetup.Bytes(RawSetup.End("slowloris"))[Preamble.Size..];
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        await slow.SendAsync(Preamble.Create(LinkRole.End));
        var trickle = Task.Run(async () =>
        {
            try
            {
                foreach (var b in setup)
                {
                    await slow.SendAsync(new[] { b }, stop.Token);
                    await Task.Delay(50, stop.Token);
                }
            }
            catch (Exception) { }
        });
        Assert.Equal(LinkRole.End, await slow.ReadPreambleAsync());
        var error = await slow.ExpectErrorAsync(TimeSpan.FromSeconds(10));
        output.WriteLine($"closed after {clock.Elapsed.TotalMilliseconds:0} ms of a {setup.Length * 50} ms trickle: {error}");
        Assert.Equal(ErrorCode.SetupTimeout, error.Code);
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(setup.Length * 50), "the deadline counts from the connection, not from the last byte");
        stop.Cancel();
        await trickle;

        await AssertUnharmedAsync(rig, tunnel, 2);
    }

    [Fact]
    public async Task Paired_links_from_one_source_beyond_its_limit_are_refused_with_TooManyLinks()
    {
        // Only waiting ends used to be counted: one address could pair its own links without end.
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle() with { MaxLinksPerSource = 2 });
        await using var _ = rig;
        await using var __ = echo;
        var key = RandomNumberGenerator.GetBytes(ProtocolLimits.PairingKeySize);
        await using var first = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(5));
        await using var second = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(5));
        await first.SendAsync(RawSetup.Bytes(RawSetup.End("self-a", key)));
        await second.SendAsync(RawSetup.Bytes(RawSetup.End("self-b", key)));
        await Eventually.TrueAsync(() => rig.Middle.Node.Tunnels.Snapshot().Count == 2, "the source's own two links are paired");

        await using var third = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(5));
        await third.SendAsync(RawSetup.Bytes(RawSetup.End("self-c")));
        var answer = await ReadAnswerAsync(third);

        Assert.Equal(ErrorCode.TooManyLinks, answer.ErrorCode);
        Assert.Equal(2, rig.Middle.Node.Tunnels.Snapshot().Count);
        await AssertUnharmedAsync(rig, tunnel, 2);
    }

    [Fact]
    public async Task A_link_beyond_the_middles_total_limit_is_refused_with_TooManyLinks()
    {
        // The good tunnel holds two links; the limit leaves room for one more.
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle() with { MaxLinks = 3 });
        await using var _ = rig;
        await using var __ = echo;
        await using var waiting = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(6));
        await waiting.SendAsync(RawSetup.Bytes(RawSetup.End("fills-the-middle")));
        Assert.Contains((await waiting.ReadSetupAnswerAsync(TimeSpan.FromSeconds(10))).Answer.Messages, m => m is Waiting);

        await using var refused = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(7));
        await refused.SendAsync(RawSetup.Bytes(RawSetup.End("one-too-many")));

        Assert.Equal(ErrorCode.TooManyLinks, (await ReadAnswerAsync(refused)).ErrorCode);
        await AssertUnharmedAsync(rig, tunnel, 3);
    }

    [Fact]
    public async Task A_third_waiting_end_from_one_source_is_refused_with_TooManyWaiting_while_the_first_two_keep_waiting()
    {
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle() with { MaxWaitingPerSource = 2 });
        await using var _ = rig;
        await using var __ = echo;
        var source = new SourceDialer(Source(3));
        using var cancel = new CancellationTokenSource();

        var waiting = new List<Task>();
        for (var i = 0; i < 2; i++)
        {
            var end = NewEnd($"waiter-{i}");
            var told = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiting.Add(MiddleLink.RegisterAsync(source, rig.Middle.LinkAddress, end.Info(), end.Topology("local"), null,
                LinkTimings.Default, TimeProvider.System, _ => told.TrySetResult(), cancel.Token));
            await told.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }

        var third = NewEnd("waiter-2");
        var refused = await Assert.ThrowsAsync<LinkClosedException>(() => MiddleLink.RegisterAsync(source, rig.Middle.LinkAddress, third.Info(), third.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        output.WriteLine(refused.Message);
        Assert.Equal(ErrorCode.TooManyWaiting, refused.Code);

        Assert.All(waiting, t => Assert.False(t.IsCompleted, "a waiting end was dropped"));
        Assert.Equal(2, rig.Middle.Node.Registry.Snapshot().Count);
        await AssertUnharmedAsync(rig, tunnel, 2);

        cancel.Cancel();
        foreach (var t in waiting) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t);
        await Eventually.TrueAsync(() => rig.Middle.Node.Registry.Snapshot().Count == 0, "the waiting ends are removed when they leave");
    }

    [Fact]
    public async Task Ends_that_register_and_hang_up_at_once_leave_no_entry_behind_to_use_up_their_sources_waiting_limit()
    {
        var log = new TestLog(output, LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(LoopbackMiddle() with { MaxWaitingPerSource = 2 }, log);

        // Five ends from one source send their whole setup and hang up in the same breath.
        for (var i = 0; i < 5; i++)
        {
            await using var link = await RawLink.ConnectAsync(middle.LinkAddress, Source(8));
            await link.SendAsync(RawSetup.Bytes(RawSetup.End($"hang-up-{i}")));
            link.Socket.Shutdown(SocketShutdown.Send);
            await link.IsClosedByPeerAsync(TimeSpan.FromSeconds(10));
        }
        await AssertForgetsEverythingAsync(middle, "the middle forgets ends that left", TimeSpan.FromSeconds(5));

        // So a real end from that source can still wait for its peer.
        var end = NewEnd("after-the-hang-ups");
        using var cancel = new CancellationTokenSource();
        var told = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = MiddleLink.RegisterAsync(new SourceDialer(Source(8)), middle.LinkAddress, end.Info(), end.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, _ => told.TrySetResult(), cancel.Token);
        await Task.WhenAny(told.Task, waiting).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(told.Task.IsCompleted, $"the end was not let wait: {waiting.Exception?.InnerException?.Message}");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Fact]
    public async Task A_peer_that_arrives_just_after_its_partner_hung_up_waits_instead_of_being_paired_with_the_dead_link()
    {
        var log = new TestLog(output, LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(LoopbackMiddle(), log);
        var secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));
        var gone = new EndSetup(secret, "gone", "tester", false);
        await using (var link = await RawLink.ConnectAsync(middle.LinkAddress))
        {
            await link.SendAsync(RawSetup.Bytes(gone.Info(), gone.Topology("local")));
            link.Socket.Shutdown(SocketShutdown.Send);
            Assert.True(await link.IsClosedByPeerAsync(TimeSpan.FromSeconds(10)), "the middle closed the link that hung up");
        }

        var peer = new EndSetup(secret, "peer", "tester", false);
        using var cancel = new CancellationTokenSource();
        var told = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registering = MiddleLink.RegisterAsync(Lstp.Transport.Dialing.TcpDialer.Instance, middle.LinkAddress, peer.Info(), peer.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, _ => told.TrySetResult(), cancel.Token);
        await Task.WhenAny(told.Task, registering).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(told.Task.IsCompleted, $"the peer was not let wait: {(registering.IsCompletedSuccessfully ? "it was paired with the link that had gone" : registering.Exception?.InnerException?.Message)}");
        AssertNoUnhandledErrors(log);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => registering);
    }

    [Fact]
    public async Task A_burst_of_ten_connections_from_one_source_is_RateLimited_beyond_the_per_second_budget()
    {
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle() with { MaxConnectionsPerSecondPerSource = 3 });
        await using var _ = rig;
        await using var __ = echo;

        var links = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(4))));
        try
        {
            var answers = await Task.WhenAll(links.Select(async (link, i) =>
            {
                await link.SendAsync(RawSetup.Bytes(RawSetup.End($"burst-{i}")));
                return await ReadAnswerAsync(link);
            }));
            var limited = answers.Count(a => a.ErrorCode == ErrorCode.RateLimited);
            var admitted = answers.Count(a => a.Messages.Any(m => m is Waiting));
            output.WriteLine($"{admitted} admitted, {limited} rate-limited");
            Assert.Equal(10, limited + admitted);
            Assert.True(limited >= 1, "nothing was rate-limited");
            Assert.True(admitted >= 3, "the first connections of the burst (the bucket's 3) were refused");

            // The budget is per source: another address is admitted at once.
            await using var other = await RawLink.ConnectAsync(rig.Middle.LinkAddress, Source(5));
            await other.SendAsync(RawSetup.Bytes(RawSetup.End("other-source")));
            Assert.Contains((await ReadAnswerAsync(other)).Messages, m => m is Waiting);
        }
        finally
        {
            foreach (var link in links) await link.DisposeAsync();
        }
        await AssertUnharmedAsync(rig, tunnel, 2);
    }

    [Fact]
    public async Task A_rate_limited_end_is_told_RateLimited_not_a_bad_preamble()
    {
        await using var middle = await MiddleHost.StartAsync(LoopbackMiddle() with { MaxConnectionsPerSecondPerSource = 1 }, new TestLog(output));
        var source = new SourceDialer(Source(6));
        using var cancel = new CancellationTokenSource();
        var first = NewEnd("first");
        var told = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = MiddleLink.RegisterAsync(source, middle.LinkAddress, first.Info(), first.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, _ => told.TrySetResult(), cancel.Token);
        await told.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The bucket (1 per second, burst 1) is empty now: the next end is refused, and must be able to say why.
        var second = NewEnd("second");
        var error = await Record.ExceptionAsync(() => MiddleLink.RegisterAsync(source, middle.LinkAddress, second.Info(), second.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        output.WriteLine($"{error?.GetType().Name}: {error?.Message}");
        var closed = Assert.IsType<LinkClosedException>(error);
        Assert.Equal(ErrorCode.RateLimited, closed.Code);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Fact]
    public async Task A_RELAY_frame_over_the_middles_frame_limit_is_refused_with_FrameTooLarge()
    {
        // The tightest safe setting: exactly the largest RELAY an end sends (256 KiB).
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle() with { MaxFramePayload = RelayStream.MaxRelayPayload });
        await using var _ = rig;
        await using var __ = echo;

        // Two raw links pair with each other, from another source address.
        var (a, b) = await RawPairAsync(rig.Middle, Source(7));
        await using var ___ = a;
        await using var ____ = b;

        // A full-size RELAY passes ...
        var full = RandomNumberGenerator.GetBytes(RelayStream.MaxRelayPayload);
        await a.SendAsync(new Relay(full));
        var relayed = Assert.IsType<Relay>(await b.ReadAsync());
        Assert.True(full.AsSpan().SequenceEqual(relayed.Data.Span), "the full-size RELAY arrived intact");

        // ... one byte more is refused from its header alone.
        var header = new byte[ProtocolLimits.HeaderSize];
        FrameCodec.WriteHeader(header, MessageType.Relay, RelayStream.MaxRelayPayload + 1);
        await a.SendAsync(header.Concat(new byte[1024]).ToArray());
        var error = await a.ExpectErrorAsync();
        output.WriteLine(error.ToString());
        Assert.Equal(ErrorCode.FrameTooLarge, error.Code);
        Assert.True(await a.IsClosedByPeerAsync(TimeSpan.FromSeconds(5)), "the offending link is closed");
        // Its tunnel ends with it: the next thing the other link hears is the end of stream, no byte of the oversized frame.
        var end = Assert.IsType<Error>(await b.ReadAsync());
        Assert.Equal(ErrorCode.PeerGone, end.Code);
        await b.DisposeAsync(); // the other end closes its link, as a real end would

        await Eventually.TrueAsync(() => rig.Middle.Node.Tunnels.Count == 1, "only the good tunnel is left");
        await AssertUnharmedAsync(rig, tunnel, 2);
        await AssertEchoAsync(rig, 3, size: 1024 * 1024); // real ends' largest RELAY frames still pass
    }

    [Fact]
    public async Task A_RELAY_frame_that_arrives_in_pieces_is_forwarded_in_full_without_waiting_for_more_traffic()
    {
        await using var middle = await MiddleHost.StartAsync(LoopbackMiddle(), new TestLog(output, LogLevel.Information));
        var (a, b) = await RawPairAsync(middle, Source(9));
        await using var _ = a;
        await using var __ = b;

        // The first half of a 64 KiB RELAY, then (once the middle has forwarded that much) the second half.
        var frame = new Relay(RandomNumberGenerator.GetBytes(64 * 1024)).ToFrame();
        var half = frame.Length / 2;
        await a.SendAsync(frame.AsMemory(0, half));
        var first = await ReadRawAsync(b, half);
        Assert.True(first.AsSpan().SequenceEqual(frame.AsSpan(0, half)), "the first half arrived intact");
        await a.SendAsync(frame.AsMemory(half));
        var second = await ReadRawAsync(b, frame.Length - half);
        Assert.True(second.AsSpan().SequenceEqual(frame.AsSpan(half)), "the second half arrived intact");
    }

    [Fact]
    public async Task RELAY_frames_around_link_frames_in_one_read_arrive_whole_and_in_order_and_the_link_frames_do_not()
    {
        // The middle writes the RELAY frames of one read to the peer's socket from the buffer it read them into,
        // adjacent pieces joined; a link frame between two of them (PING, answered to the sender) is a gap in that buffer.
        await using var middle = await MiddleHost.StartAsync(LoopbackMiddle(), new TestLog(output, LogLevel.Information));
        var (a, b) = await RawPairAsync(middle, Source(10));
        await using var _ = a;
        await using var __ = b;

        var payloads = new[] { 500, 4, 65_000, 1, 200_000 }.Select(RandomNumberGenerator.GetBytes).ToArray();
        var burst = new List<byte>();
        for (var i = 0; i < payloads.Length; i++)
        {
            burst.AddRange(new Relay(payloads[i]).ToFrame());
            if (i % 2 == 0) burst.AddRange(new Ping((ulong)i).ToFrame());
        }
        await a.SendAsync(burst.ToArray());

        foreach (var payload in payloads)
        {
            var relayed = Assert.IsType<Relay>(await b.ReadAsync());
            Assert.True(payload.AsSpan().SequenceEqual(relayed.Data.Span), $"a RELAY of {payload.Length} bytes arrived intact and in its place");
        }
        for (var i = 0; i < payloads.Length; i += 2) Assert.Equal((ulong)i, Assert.IsType<Pong>(await a.ReadAsync()).Value);
        // Nothing else reached the peer: the next frame it reads is the one sent after the burst.
        await a.SendAsync(new Relay(new byte[] { 42 }));
        Assert.Equal(new byte[] { 42 }, Assert.IsType<Relay>(await b.ReadAsync()).Data.ToArray());
    }

    /// <summary>Two raw links that the middle pairs with each other (from <paramref name="source"/>), setup answers read.</summary>
    private static async Task<(RawLink A, RawLink B)> RawPairAsync(MiddleHost middle, System.Net.IPAddress source)
    {
        var key = RandomNumberGenerator.GetBytes(ProtocolLimits.PairingKeySize);
        var a = await RawLink.ConnectAsync(middle.LinkAddress, source);
        var b = await RawLink.ConnectAsync(middle.LinkAddress, source);
        await a.SendAsync(RawSetup.Bytes(RawSetup.End("raw-a", key)));
        Assert.Equal(LinkRole.End, await a.ReadPreambleAsync());
        Assert.IsType<Waiting>(await a.ReadAsync());
        await b.SendAsync(RawSetup.Bytes(RawSetup.End("raw-b", key)));
        Assert.Equal(LinkRole.End, await b.ReadPreambleAsync());
        Assert.Equal("raw-a", Assert.IsType<CommonUniqueInfo>(await b.ReadAsync()).EndName);
        Assert.IsType<TopologyExchange>(await b.ReadAsync());
        Assert.Equal("raw-b", Assert.IsType<CommonUniqueInfo>(await a.ReadAsync()).EndName);
        Assert.IsType<TopologyExchange>(await a.ReadAsync());
        return (a, b);
    }

    /// <summary>Exactly <paramref name="count"/> bytes from the link's socket (past its frame reader, which is empty here).</summary>
    private static async Task<byte[]> ReadRawAsync(RawLink link, int count)
    {
        Assert.Equal(0, link.Reader.Buffered);
        try
        {
            return await Net.ReadExactlyAsync(link.Socket, count).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"the middle did not forward {count} bytes within 5 s");
        }
    }

    [Fact]
    public async Task A_third_concurrent_channel_is_refused_with_TooManyChannels_and_closed_cleanly_while_two_keep_working()
    {
        var (rig, tunnel, echo) = await GoodPairAsync(LoopbackMiddle(), server: o => o with { MaxChannels = 2 });
        await using var _ = rig;
        await using var __ = echo;
        var port = rig.ForwardPort("echo");
        var accepted = echo.Accepted;
        await Eventually.TrueAsync(() => rig.Server.Supervisor.Current?.ChannelCount == 0, "the rig's first channel is released");

        using var one = await Net.ConnectAsync(port);
        using var two = await Net.ConnectAsync(port);
        await EchoOnAsync(one, 11);
        await EchoOnAsync(two, 12);
        await Eventually.TrueAsync(() => rig.Server.Supervisor.Current?.ChannelCount == 2, "the server end has two channels");

        using var three = await Net.ConnectAsync(port);
        Assert.Empty(await Net.ReadToEndAsync(three).WaitAsync(TimeSpan.FromSeconds(15))); // a FIN: ReadToEnd throws on a reset
        await Eventually.TrueAsync(() => rig.Log.Lines.Any(l => l.Contains(nameof(ErrorCode.TooManyChannels), StringComparison.Ordinal)), "the refusal is logged with its code");

        await EchoOnAsync(one, 13);
        await EchoOnAsync(two, 14);
        Assert.Same(tunnel, rig.Client.Supervisor.Current);
        Assert.Equal(accepted + 2, echo.Accepted); // the refused channel never reached the service

        // Once one channel closes, a new one fits again.
        one.Shutdown(SocketShutdown.Send);
        Assert.Empty(await Net.ReadToEndAsync(one).WaitAsync(TimeSpan.FromSeconds(15)));
        await Eventually.TrueAsync(() => rig.Server.Supervisor.Current?.ChannelCount == 1, "the closed channel is released");
        using var four = await Net.ConnectAsync(port);
        await EchoOnAsync(four, 15);
    }

    [Fact]
    public async Task A_second_registration_of_the_same_end_replaces_the_waiting_one_which_is_told_Replaced()
    {
        var log = new TestLog(output, LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(LoopbackMiddle(), log);
        var secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));
        var old = new EndSetup(secret, "same-end", "same-user", false);
        var again = new EndSetup(secret, "same-end", "same-user", false); // the same end, reconnected (a new instance)
        var peer = new EndSetup(secret, "peer-end", "same-user", false);

        var toldOld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = MiddleLink.RegisterAsync(Lstp.Transport.Dialing.TcpDialer.Instance, middle.LinkAddress, old.Info(), old.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, _ => toldOld.TrySetResult(), CancellationToken.None);
        await toldOld.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var toldNew = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = MiddleLink.RegisterAsync(Lstp.Transport.Dialing.TcpDialer.Instance, middle.LinkAddress, again.Info(), again.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, _ => toldNew.TrySetResult(), CancellationToken.None);

        var replaced = await Assert.ThrowsAsync<LinkClosedException>(() => first.WaitAsync(TimeSpan.FromSeconds(10)));
        output.WriteLine(replaced.Message);
        Assert.Equal(ErrorCode.Replaced, replaced.Code);
        await toldNew.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var entry = Assert.Single(middle.Node.Registry.Snapshot());
        Assert.Equal(again.InstanceId, entry.Link.Info!.InstanceId);

        // The peer pairs with the newer registration.
        var (relayPeer, pairingPeer) = await MiddleLink.RegisterAsync(Lstp.Transport.Dialing.TcpDialer.Instance, middle.LinkAddress, peer.Info(), peer.Topology("local"), null,
            LinkTimings.Default, TimeProvider.System, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var (relayNew, _) = await second.WaitAsync(TimeSpan.FromSeconds(10));
        await using var r1 = relayPeer;
        await using var r2 = relayNew;
        Assert.Equal(again.InstanceId, pairingPeer.Peer.InstanceId);
        Assert.Equal(1, middle.Node.Metrics.Errors.GetValueOrDefault(ErrorCode.Replaced));
    }

    private static EndSetup NewEnd(string name) => new(TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32)), name, "tester", false);

    private static async Task EchoOnAsync(Socket socket, byte value)
    {
        var payload = new[] { value, value, value, value };
        await socket.SendAsync(payload, SocketFlags.None);
        Assert.Equal(payload, await Net.ReadExactlyAsync(socket, payload.Length).WaitAsync(TimeSpan.FromSeconds(15)));
    }

    private static async Task<LinkAnswer> ReadAnswerAsync(RawLink link) => (await link.ReadSetupAnswerAsync(TimeSpan.FromSeconds(10))).Answer;
}

using System.IO.Pipelines;
using Akka.Actor;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Middle.Relay;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Testing.Security;
using Lstp.Tunnel.Link;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Links;

/// <summary>
/// A middle's link actors on the TestKit's actor system, each link an in-memory connection handed to the middle's
/// Kestrel handler as Kestrel would: the states a link goes through (setup, waiting, paired, closing) seen from the
/// end's side of the wire, without a socket or a listener.
/// </summary>
public sealed class LinkActorTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = WARNING" + Lstp.Tunnel.Actors.LstpActorSystem.Mailboxes, output)
{
    private readonly TestLog _log = new(output);

    private (MiddleNode Node, LinkHandler Handler) StartMiddle(MiddleOptions? options = null)
    {
        options ??= new MiddleOptions { Name = "test-middle" };
        var node = new MiddleNode(options, new InMemoryPairingRegistry(Sys, options, _log.CreateLogger("registry")), _log);
        node.StartLinks(Sys);
        return (node, new LinkHandler(node, _log.CreateLogger<LinkHandler>()));
    }

    [Fact]
    public async Task A_link_that_never_completes_its_setup_hears_SetupTimeout_and_is_closed()
    {
        var (node, handler) = StartMiddle(new MiddleOptions { Name = "test-middle", SetupDeadline = TimeSpan.FromMilliseconds(300) });
        await using var end = FakeConnection.Open(handler);

        await end.SendAsync(Lstp.Protocol.Framing.Preamble.Create(LinkRole.End)); // and nothing more
        Assert.Equal(LinkRole.End, await end.Reader.ReadPreambleAsync(Timeout()));
        var error = Assert.IsType<Error>(await end.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        Assert.Equal(ErrorCode.SetupTimeout, error.Code);
        await end.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(node.Links);
    }

    [Fact]
    public async Task Two_ends_with_one_key_wait_then_pair_and_RELAY_crosses_between_them()
    {
        var (node, handler) = StartMiddle();
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(ProtocolLimits.PairingKeySize);
        await using var first = await WaitingEndAsync(handler, key);

        await using var second = FakeConnection.Open(handler);
        var (secondInfo, secondTopology) = RawSetup.End("second", key);
        await second.SendAsync(RawSetup.Bytes(secondInfo, secondTopology));
        await second.Reader.ReadPreambleAsync(Timeout());
        Assert.Equal("first", Assert.IsType<CommonUniqueInfo>(await second.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout())).EndName);
        Assert.IsType<TopologyExchange>(await second.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        Assert.Equal("second", Assert.IsType<CommonUniqueInfo>(await first.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout())).EndName);
        Assert.IsType<TopologyExchange>(await first.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        Assert.Single(node.Tunnels.Snapshot());

        await first.SendAsync(new Relay(new byte[] { 1, 2, 3 }).ToFrame());
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.IsType<Relay>(await second.Reader.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, Timeout())).Data.ToArray());

        // The first end goes: the second hears PeerGone after what was relayed, and the tunnel is gone.
        await first.DisposeAsync();
        Assert.Equal(ErrorCode.PeerGone, Assert.IsType<Error>(await second.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout())).Code);
        await Eventually.TrueAsync(() => node.Tunnels.Snapshot().Count == 0, "the tunnel is removed");
    }

    [Fact]
    public async Task A_waiting_end_replaced_by_a_newer_one_with_its_key_hears_why_and_is_closed()
    {
        var (node, handler) = StartMiddle();
        var (info, topology) = RawSetup.End("twice");
        await using var older = FakeConnection.Open(handler);
        await older.SendAsync(RawSetup.Bytes(info, topology));
        await older.Reader.ReadPreambleAsync(Timeout());
        Assert.IsType<Waiting>(await older.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));

        await using var newer = FakeConnection.Open(handler);
        await newer.SendAsync(RawSetup.Bytes(info, topology));
        await newer.Reader.ReadPreambleAsync(Timeout());
        Assert.IsType<Waiting>(await newer.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));

        var error = Assert.IsType<Error>(await older.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        Assert.Equal(ErrorCode.Replaced, error.Code);
        await older.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(node.Links);
    }

    [Fact]
    public async Task A_PONG_never_lands_inside_a_RELAY_frame_that_arrives_in_pieces()
    {
        var (_, handler) = StartMiddle();
        var (first, second) = await PairAsync(handler);
        await using var _first = first;
        await using var _second = second;
        var frame = new Relay(Enumerable.Range(0, 10).Select(i => (byte)i).ToArray()).ToFrame();

        // The first end's frame is half there, behind a whole one in the same write: once the whole one is through,
        // the relay holds the second link's output, until the half frame's last byte.
        await first.SendAsync((byte[])[.. new Relay(new byte[] { 1 }).ToFrame(), .. frame.AsSpan(0, ProtocolLimits.HeaderSize + 4)]);
        Assert.Equal(new byte[] { 1 }, Assert.IsType<Relay>(await second.Reader.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, Timeout())).Data.ToArray());
        // The second end pings, and relays to the first in the same write: once that RELAY is through, the PING was
        // read too, and its PONG waits for the second link's output.
        await second.SendAsync((byte[])[.. new Ping(7).ToFrame(), .. new Relay(new byte[] { 42 }).ToFrame()]);
        Assert.Equal(new byte[] { 42 }, Assert.IsType<Relay>(await first.Reader.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, Timeout())).Data.ToArray());

        await first.SendAsync(frame.AsMemory(ProtocolLimits.HeaderSize + 4));
        Assert.Equal(frame[ProtocolLimits.HeaderSize..], Assert.IsType<Relay>(await second.Reader.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, Timeout())).Data.ToArray());
        Assert.Equal(7UL, Assert.IsType<Pong>(await second.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout())).Value);
    }

    [Fact]
    public async Task A_PING_the_waiting_end_sends_as_its_peer_arrives_is_answered_once()
    {
        var (_, handler) = StartMiddle();
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(ProtocolLimits.PairingKeySize);
        await using var first = await WaitingEndAsync(handler, key);

        // The PING races the pairing: the waiting link's own loop or the tunnel's relay graph answers it, never both.
        await first.SendAsync(new Ping(1).ToFrame());
        await using var second = FakeConnection.Open(handler);
        var (secondInfo, secondTopology) = RawSetup.End("second", key);
        await second.SendAsync(RawSetup.Bytes(secondInfo, secondTopology));
        var heard = new List<Message>();
        while (heard.OfType<TopologyExchange>().Count() == 0 || heard.OfType<Pong>().Count() == 0)
        {
            heard.Add(await first.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()) ?? throw new EndOfStreamException());
        }
        await first.SendAsync(new Ping(2).ToFrame());
        Assert.Equal(2UL, Assert.IsType<Pong>(await first.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout())).Value);
        Assert.Equal(1UL, Assert.Single(heard.OfType<Pong>()).Value);

        await first.SendAsync(new Relay(new byte[] { 9 }).ToFrame());
        await second.Reader.ReadPreambleAsync(Timeout());
        Assert.IsType<CommonUniqueInfo>(await second.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        Assert.IsType<TopologyExchange>(await second.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        Assert.Equal(new byte[] { 9 }, Assert.IsType<Relay>(await second.Reader.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, Timeout())).Data.ToArray());
    }

    [Fact]
    public async Task A_paired_link_silent_for_the_idle_timeout_hears_KeepaliveTimeout_and_its_peer_PeerGone()
    {
        var (node, handler) = StartMiddle(new MiddleOptions { Name = "test-middle", IdleTimeout = TimeSpan.FromMilliseconds(600) });
        var (first, second) = await PairAsync(handler);
        await using var _first = first;
        await using var _second = second;

        // The second end keeps its link alive; the first says nothing.
        using var pinging = new CancellationTokenSource();
        var pings = Task.Run(async () =>
        {
            for (ulong i = 1; !pinging.IsCancellationRequested; i++)
            {
                await second.SendAsync(new Ping(i).ToFrame());
                await Task.Delay(100);
            }
        });
        Assert.Equal(ErrorCode.KeepaliveTimeout, Assert.IsType<Error>(await first.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout())).Code);
        Message? heard;
        do heard = await second.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout());
        while (heard is Pong);
        Assert.Equal(ErrorCode.PeerGone, Assert.IsType<Error>(heard).Code);
        await pinging.CancelAsync();
        await pings;
        await Eventually.TrueAsync(() => node.Tunnels.Snapshot().Count == 0, "the tunnel is removed");
    }

    /// <summary>An end named "first" registered under <paramref name="key"/>: it has read the middle's preamble and WAITING.</summary>
    private static async Task<FakeConnection> WaitingEndAsync(LinkHandler handler, byte[] key)
    {
        var first = FakeConnection.Open(handler);
        var (info, topology) = RawSetup.End("first", key);
        await first.SendAsync(RawSetup.Bytes(info, topology));
        await first.Reader.ReadPreambleAsync(Timeout());
        Assert.IsType<Waiting>(await first.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        return first;
    }

    /// <summary>Two ends with one key, paired: each has read the middle's preamble and its peer's setup.</summary>
    private static async Task<(FakeConnection First, FakeConnection Second)> PairAsync(LinkHandler handler)
    {
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(ProtocolLimits.PairingKeySize);
        var first = await WaitingEndAsync(handler, key);
        var second = FakeConnection.Open(handler);
        var (secondInfo, secondTopology) = RawSetup.End("second", key);
        await second.SendAsync(RawSetup.Bytes(secondInfo, secondTopology));
        await second.Reader.ReadPreambleAsync(Timeout());
        foreach (var end in new[] { first, second })
        {
            Assert.IsType<CommonUniqueInfo>(await end.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
            Assert.IsType<TopologyExchange>(await end.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, Timeout()));
        }
        return (first, second);
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;

    /// <summary>An end's link as the listener hands it to the handler, over two in-memory pipes.</summary>
    private sealed class FakeConnection : IAsyncDisposable
    {
        private readonly Pipe _toMiddle = new();
        private readonly Pipe _fromMiddle = new();
        private readonly CancellationTokenSource _closed = new();

        private FakeConnection(LinkHandler handler)
        {
            var link = new LinkSession(new DuplexPipe(_toMiddle.Reader, _fromMiddle.Writer), "127.0.0.1:" + Random.Shared.Next(1024, 65535), _closed.Token, _ => _closed.Cancel());
            Reader = new FrameStreamReader(_fromMiddle.Reader.AsStream(), 2 * ProtocolLimits.DefaultMaxPayload);
            Closed = handler.OnConnectedAsync(link);
        }

        public static FakeConnection Open(LinkHandler handler) => new(handler);

        public FrameStreamReader Reader { get; }

        /// <summary>Completes when the middle is done with the connection (the listener would close it then).</summary>
        public Task Closed { get; }

        public async Task SendAsync(ReadOnlyMemory<byte> bytes) => await _toMiddle.Writer.WriteAsync(bytes);

        public async ValueTask DisposeAsync()
        {
            await _toMiddle.Writer.CompleteAsync();
            await _closed.CancelAsync();
            try { await Closed.WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
        }

        private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
        {
            public PipeReader Input => input;
            public PipeWriter Output => output;
        }
    }
}

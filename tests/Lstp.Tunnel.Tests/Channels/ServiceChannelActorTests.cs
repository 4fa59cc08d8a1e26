using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Tests.Actors;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Tunnel.Tests.Channels;

/// <summary>
/// The service channel actor step by step, a TestProbe standing in for its tunnel (the parent that hears
/// ChannelStopped) and a real loopback socket for its application; the frames it sends are read off the
/// tunnel's writer.
/// </summary>
public sealed class ServiceChannelActorTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO" + Lstp.Tunnel.Actors.LstpActorSystem.Mailboxes, output), IAsyncLifetime
{
    private readonly OutboundFrames _frames = new();
    private readonly TestLog _log = new(output);
    private readonly TaskCompletionSource<ChannelOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Socket _application = null!;
    private ServiceChannel _channel = null!;
    private TestProbe _tunnel = null!;

    public async Task InitializeAsync()
    {
        var (application, channelSide) = await SocketPair.CreateAsync();
        _application = application;
        _channel = new ServiceChannel(7, channelSide, _frames.Writer, new TunnelCounters(), FlowThresholds.Default, "service 'web'", opener: true);
        _tunnel = CreateTestProbe("tunnel");
        _channel.Owner = _tunnel.ChildActorOf(Props.Create(() => new ServiceChannelActor(_channel, Report, _log.CreateLogger("test"))), "channel-7");
    }

    public async Task DisposeAsync()
    {
        _application.Dispose();
        await _frames.DisposeAsync();
    }

    private ValueTask Report(ChannelOutcome outcome)
    {
        _outcome.TrySetResult(outcome);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Refused_by_the_peer_the_opener_tells_its_entry_point_and_its_tunnel_why()
    {
        _channel.Owner.Tell(new ChannelCommand.BeginRefused(ErrorCode.TargetRefused, "nothing listens there"));

        var stopped = _tunnel.ExpectMsg<TunnelCommand.ChannelStopped>();
        Assert.Equal(7u, stopped.Channel);
        Assert.Equal("refused: nothing listens there", stopped.Reason.Why);
        var outcome = await _outcome.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(outcome.Opened);
        Assert.Equal(ErrorCode.TargetRefused, outcome.Code);
    }

    [Fact]
    public async Task Opened_channel_carries_bytes_and_each_half_close_then_frees_itself()
    {
        _channel.Owner.Tell(ChannelCommand.BeginAcked.Instance);
        Assert.True((await _outcome.Task.WaitAsync(TimeSpan.FromSeconds(5))).Opened);

        await _application.SendAsync(Encoding.ASCII.GetBytes("hello"), SocketFlags.None);
        var data = Assert.IsType<ServiceData>(await _frames.NextAsync());
        Assert.Equal((7u, "hello"), (data.Channel, Encoding.ASCII.GetString(data.Data.Span)));

        // The application half-closes: the peer hears SERVICE_FREE_REQUEST, the channel stays up for the other way.
        _application.Shutdown(SocketShutdown.Send);
        Assert.Equal(new ServiceFreeRequest(7, FreeFlags.None), await _frames.NextAsync());
        _tunnel.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // The peer half-closes too: the application reads a clean end of stream and the channel frees itself.
        _channel.PeerFinished(FreeFlags.None);
        Assert.Empty(await Net.ReadToEndAsync(_application));
        Assert.Equal(new ServiceFreeResponse(7), await _frames.NextAsync());
        Assert.Equal("closed", _tunnel.ExpectMsg<TunnelCommand.ChannelStopped>().Reason.Why);
    }

    [Fact]
    public async Task Tunnel_closing_aborts_an_open_channel_with_a_reset_not_a_clean_end()
    {
        _channel.Owner.Tell(ChannelCommand.BeginAcked.Instance);
        Assert.True((await _outcome.Task.WaitAsync(TimeSpan.FromSeconds(5))).Opened);

        _channel.Owner.Tell(new ChannelCommand.Close(Graceful: false));

        Assert.Equal(new ServiceFreeRequest(7, FreeFlags.Abort), await _frames.NextAsync());
        Assert.Equal("aborted: the tunnel closed", _tunnel.ExpectMsg<TunnelCommand.ChannelStopped>().Reason.Why);
        var reset = await Assert.ThrowsAsync<SocketException>(() => Net.ReadToEndAsync(_application));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    [Fact]
    public async Task A_message_the_state_does_not_expect_is_logged_and_the_channel_carries_on()
    {
        _channel.Owner.Tell(new ChannelCommand.DownlinkEnded(null)); // no pumps run before SERVICE_BEGIN_ACK

        await Eventually.TrueAsync(() => _log.Lines.Any(l => l.Contains("unexpected DownlinkEnded", StringComparison.Ordinal)), "the unexpected message is logged");
        _channel.Owner.Tell(ChannelCommand.BeginAcked.Instance);
        Assert.True((await _outcome.Task.WaitAsync(TimeSpan.FromSeconds(5))).Opened);
    }
}

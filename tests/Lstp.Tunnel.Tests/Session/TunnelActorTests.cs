using System.Net.Sockets;
using System.Text;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.Tunnel.Tests.Session;

/// <summary>
/// The tunnel actor state by state (docs/protocol.md §7.1), over a real loopback link whose far end the test
/// plays (<see cref="PeerEnd"/>); each channel's application is a real loopback socket, and the TestKit watches
/// the actor stop when the tunnel ends.
/// </summary>
public sealed class TunnelActorTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO" + Lstp.Tunnel.Actors.LstpActorSystem.Mailboxes, output), IAsyncLifetime
{
    private static readonly TimeSpan Stops = TimeSpan.FromSeconds(10);
    private readonly TestLog _log = new(output);
    private NearEnd? _end;

    private NearEnd End => _end ?? throw new InvalidOperationException("the test starts its tunnel first");
    private TunnelHandle Tunnel => End.Tunnel;
    private PeerEnd Peer => End.Peer;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts the tunnel actor over a link to the peer the test plays, and watches it.</summary>
    private async Task StartAsync(int maxChannels = 1024)
    {
        _end = await NearEnd.StartAsync(Sys, _log.CreateLogger("Lstp.Tunnel"), NearEnd.Quiet with { MaxChannels = maxChannels });
        Watch(Tunnel.Ref);
    }

    public async Task DisposeAsync()
    {
        if (_end is not null) await _end.DisposeAsync();
    }

    /// <summary>An application at an entry point asks for <paramref name="service"/>: the command and its outcome as the entry point sees it.</summary>
    private async Task<(Socket Application, Task<ChannelOutcome> Outcome)> OpenChannelAsync(string service)
    {
        var (application, _, outcome) = await End.OpenChannelAsync(service);
        return (application, outcome);
    }

    private Task<(Socket Application, uint Channel)> OpenServedChannelAsync(string service) => End.OpenServedChannelAsync(service);

    private static Task AssertResetAsync(Socket application) => NearEnd.AssertResetAsync(application);

    [Fact]
    public async Task Opening_a_channel_to_a_named_service_requests_it_and_serves_it_once_the_peer_answers()
    {
        await StartAsync();
        var (application, outcome) = await OpenChannelAsync("web");

        // Pipelined: CONNECTION_REQUEST and SERVICE_BEGIN_REQUEST leave together, the master's first id is 1.
        Assert.Equal(new ConnectionRequest(1, ConnectionKind.Multiplexed), await Peer.NextAsync());
        var begin = await Peer.ExpectAsync<ServiceBeginRequest>();
        Assert.Equal((1u, TargetKind.Service, "web"), (begin.Channel, begin.Kind, begin.Target));
        Assert.False(outcome.IsCompleted, "the entry point hears nothing before SERVICE_BEGIN_ACK");

        await Peer.SendAsync(new ConnectionAck(1), new ServiceBeginAck(1));
        Assert.True((await outcome.WaitAsync(TimeSpan.FromSeconds(5))).Opened);

        await Peer.SendAsync(new ServiceData(1, Encoding.ASCII.GetBytes("from the peer")));
        Assert.Equal("from the peer", Encoding.ASCII.GetString(await Net.ReadExactlyAsync(application, 13).WaitAsync(TimeSpan.FromSeconds(5))));
        await application.SendAsync(Encoding.ASCII.GetBytes("from the application"), SocketFlags.None);
        var data = await Peer.ExpectAsync<ServiceData>();
        Assert.Equal((1u, "from the application"), (data.Channel, Encoding.ASCII.GetString(data.Data.Span)));
        Assert.Equal(1, Tunnel.ChannelCount);
    }

    [Fact]
    public async Task A_service_the_peer_refuses_is_reported_to_the_entry_point_with_the_peer_s_code()
    {
        await StartAsync();
        var (application, outcome) = await OpenChannelAsync("nope");
        var request = await Peer.ExpectAsync<ConnectionRequest>();
        await Peer.ExpectAsync<ServiceBeginRequest>();

        await Peer.SendAsync(new ConnectionAck(request.Channel), new ServiceBeginNack(request.Channel, ErrorCode.UnknownService, "no service 'nope' here"));

        var refused = await outcome.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((false, ErrorCode.UnknownService, "no service 'nope' here"), (refused.Opened, refused.Code, refused.Reason));
        await Eventually.TrueAsync(() => Tunnel.ChannelCount == 0, "the refused channel leaves the table");
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // a refused channel does not end its tunnel
    }

    [Fact]
    public async Task An_ERROR_from_the_peer_ends_the_tunnel_and_resets_every_channel_s_application()
    {
        await StartAsync();
        var (first, _) = await OpenServedChannelAsync("web");
        var (second, _) = await OpenServedChannelAsync("db");

        await Peer.SendAsync(new Error(ErrorCode.Internal, "the peer broke"));

        await Peer.ReadToCloseAsync(); // the near end closes its link after the ERROR
        ExpectTerminated(Tunnel.Ref, Stops);
        var reason = await Tunnel.Completion.WaitAsync(Stops);
        Assert.Equal(ErrorCode.Internal, Assert.IsType<TunnelClosedException>(reason.Fault).Code);
        await AssertResetAsync(first);
        await AssertResetAsync(second);
    }

    [Fact]
    public async Task A_link_cut_abruptly_ends_the_tunnel_and_resets_every_channel_s_application()
    {
        await StartAsync();
        var (first, _) = await OpenServedChannelAsync("web");
        var (second, _) = await OpenServedChannelAsync("db");

        Peer.Cut();

        ExpectTerminated(Tunnel.Ref, Stops);
        Assert.True((await Tunnel.Completion.WaitAsync(Stops)).IsFault);
        await AssertResetAsync(first);
        await AssertResetAsync(second);
    }

    [Fact]
    public async Task The_middle_saying_the_peer_left_ends_the_tunnel_with_PeerGone_and_resets_the_applications()
    {
        await StartAsync();
        var (application, _) = await OpenServedChannelAsync("web");

        await Peer.MiddleSaysPeerLeftAsync("the peer's link closed");

        await Peer.ReadToCloseAsync();
        ExpectTerminated(Tunnel.Ref, Stops);
        var reason = await Tunnel.Completion.WaitAsync(Stops);
        Assert.Equal(ErrorCode.PeerGone, Assert.IsType<TunnelClosedException>(reason.Fault).Code);
        Assert.Contains("the peer's link closed", reason.Why, StringComparison.Ordinal);
        await AssertResetAsync(application);
    }

    [Fact]
    public async Task SHUTDOWN_from_the_peer_delivers_what_arrived_then_ends_each_channel_cleanly()
    {
        await StartAsync();
        var (first, one) = await OpenServedChannelAsync("web");
        var (second, two) = await OpenServedChannelAsync("db");

        await Peer.SendAsync(
            new ServiceData(one, Encoding.ASCII.GetBytes("last words")),
            new ServiceData(two, Encoding.ASCII.GetBytes("goodbye")),
            new Protocol.Messages.Shutdown(ErrorCode.Shutdown, "the peer is stopping"));

        // Each application reads everything that arrived before SHUTDOWN, then a clean end of stream (FIN, no reset).
        Assert.Equal("last words", Encoding.ASCII.GetString(await Net.ReadToEndAsync(first).WaitAsync(Stops)));
        Assert.Equal("goodbye", Encoding.ASCII.GetString(await Net.ReadToEndAsync(second).WaitAsync(Stops)));
        await Peer.ReadToCloseAsync();
        ExpectTerminated(Tunnel.Ref, Stops);
        var reason = await Tunnel.Completion.WaitAsync(Stops);
        Assert.False(reason.IsFault, reason.ToString());
        Assert.Equal("the peer shut down: the peer is stopping", reason.Why);
    }

    [Fact]
    public async Task A_local_Shutdown_sends_SHUTDOWN_to_the_peer_closes_the_link_and_stops_the_actor()
    {
        await StartAsync();
        await OpenServedChannelAsync("web");

        Assert.True(Tunnel.Tell(new TunnelCommand.Shutdown("the end is stopping")));

        var frames = await Peer.ReadToCloseAsync();
        var shutdown = Assert.IsType<Protocol.Messages.Shutdown>(Assert.Single(frames, f => f is Protocol.Messages.Shutdown));
        Assert.Equal((ErrorCode.Shutdown, "the end is stopping"), (shutdown.Code, shutdown.Reason));
        ExpectTerminated(Tunnel.Ref, Stops);
        Assert.Equal("shut down: the end is stopping", (await Tunnel.Completion.WaitAsync(Stops)).Why);
        Assert.False(Tunnel.Tell(new TunnelCommand.Shutdown("again")), "an ended tunnel takes no more commands");
    }

    [Fact]
    public async Task A_local_Shutdown_ends_each_channel_s_application_cleanly_not_with_a_reset()
    {
        await StartAsync();
        var (application, channel) = await OpenServedChannelAsync("web");
        await Peer.SendAsync(new ServiceData(channel, new byte[] { 1 }));
        Assert.Equal(new byte[] { 1 }, await Net.ReadExactlyAsync(application, 1).WaitAsync(Stops)); // the channel is open, its pumps run

        Assert.True(Tunnel.Tell(new TunnelCommand.Shutdown("the end is stopping")));

        await Peer.ReadToCloseAsync();
        ExpectTerminated(Tunnel.Ref, Stops);
        // The application still holds its side open (a read of the channel is pending): it must read a FIN, not a reset.
        Assert.Empty(await Net.ReadToEndAsync(application).WaitAsync(Stops));
    }

    [Fact]
    public async Task OpenChannel_beyond_the_channel_limit_is_refused_with_TooManyChannels_and_never_reaches_the_peer()
    {
        await StartAsync(maxChannels: 2);
        var opens = new List<(Socket Application, Task<ChannelOutcome> Outcome)>();
        for (var i = 0; i < 6; i++) opens.Add(await OpenChannelAsync($"service-{i}"));

        // The four beyond the limit are each told why, at once; the two within it wait for the peer's answer.
        foreach (var (_, outcome) in opens.Skip(2))
        {
            var refused = await outcome.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal((false, ErrorCode.TooManyChannels), (refused.Opened, refused.Code));
        }
        Assert.All(opens.Take(2), open => Assert.False(open.Outcome.IsCompleted));

        // Only the two within the limit were requested: a PING sent now is answered right after their requests.
        Assert.Equal(new ConnectionRequest(1, ConnectionKind.Multiplexed), await Peer.NextAsync());
        Assert.Equal(1u, (await Peer.ExpectAsync<ServiceBeginRequest>()).Channel);
        Assert.Equal(new ConnectionRequest(3, ConnectionKind.Multiplexed), await Peer.NextAsync());
        Assert.Equal(3u, (await Peer.ExpectAsync<ServiceBeginRequest>()).Channel);
        await Peer.SendAsync(new Ping(42));
        Assert.Equal(new Pong(42), await Peer.NextAsync());

        await Peer.SendAsync(new ConnectionAck(1), new ServiceBeginAck(1), new ConnectionAck(3), new ServiceBeginAck(3));
        foreach (var (_, outcome) in opens.Take(2)) Assert.True((await outcome.WaitAsync(TimeSpan.FromSeconds(5))).Opened);
        Assert.Equal(2, Tunnel.ChannelCount);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // a refused flood does not end the tunnel
    }
}

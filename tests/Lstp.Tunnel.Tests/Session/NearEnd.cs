using System.Net.Sockets;
using Akka.Actor;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Tests.Actors;
using Microsoft.Extensions.Logging;
using Xunit;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.Tunnel.Tests.Session;

/// <summary>
/// The end under test: a tunnel actor over a loopback link to the <see cref="PeerEnd"/> the test plays, and the
/// applications of the channels it opens, each a real loopback socket.
/// </summary>
public sealed class NearEnd : IAsyncDisposable
{
    /// <summary>Default options, but TUNNEL_REPORT (for a middle's dashboard) off: there is no middle on this link.</summary>
    public static readonly TunnelOptions Quiet = TunnelOptions.Default with { ReportInterval = TimeSpan.FromHours(1) };

    private readonly List<Socket> _sockets = [];

    private NearEnd(TunnelHandle tunnel, PeerEnd peer)
    {
        Tunnel = tunnel;
        Peer = peer;
    }

    public TunnelHandle Tunnel { get; }
    public PeerEnd Peer { get; }

    /// <summary>Starts a tunnel actor under <paramref name="system"/> over a link to a peer the test plays.</summary>
    public static async Task<NearEnd> StartAsync(ActorSystem system, ILogger log, TunnelOptions? options = null, ITargetDialer? targets = null, EndProperties? peerProperties = null)
    {
        var (session, peer) = await PeerEnd.ConnectAsync(peerProperties);
        return new NearEnd(TunnelHandle.Start(system, session, targets ?? NoTargets.Instance, options ?? Quiet, log), peer);
    }

    /// <summary>
    /// An application at an entry point asks for <paramref name="service"/>: its socket, the socket the channel owns
    /// (the other end of the application's connection), and the outcome as the entry point sees it.
    /// </summary>
    public async Task<(Socket Application, Socket ChannelSide, Task<ChannelOutcome> Outcome)> OpenChannelAsync(string service)
    {
        var (application, channelSide) = await SocketPair.CreateAsync();
        _sockets.Add(application);
        var outcome = new TaskCompletionSource<ChannelOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(Tunnel.Tell(new TunnelCommand.OpenChannel(channelSide, TargetKind.Service, service, 0, o =>
        {
            outcome.TrySetResult(o);
            return ValueTask.CompletedTask;
        })));
        return (application, channelSide, outcome.Task);
    }

    /// <summary>Opens a channel the peer accepts: its requests are read off the wire and answered.</summary>
    public async Task<(Socket Application, uint Channel)> OpenServedChannelAsync(string service)
    {
        var (application, _, outcome) = await OpenChannelAsync(service);
        return (application, await ServeAsync(outcome));
    }

    /// <summary>The peer accepts the channel being opened: reads its pipelined requests, answers both ACKs, waits for the entry point to hear.</summary>
    public async Task<uint> ServeAsync(Task<ChannelOutcome> outcome)
    {
        var request = await Peer.ExpectAsync<ConnectionRequest>();
        await Peer.ExpectAsync<ServiceBeginRequest>();
        await Peer.SendAsync(new ConnectionAck(request.Channel), new ServiceBeginAck(request.Channel));
        Assert.True((await outcome.WaitAsync(TimeSpan.FromSeconds(5))).Opened);
        return request.Channel;
    }

    /// <summary>The application's connection ends with a reset (RST), not a clean end of stream.</summary>
    public static async Task AssertResetAsync(Socket application)
    {
        var reset = await Assert.ThrowsAsync<SocketException>(() => Net.ReadToEndAsync(application).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var socket in _sockets) socket.Dispose();
        await Peer.DisposeAsync();
    }
}

using System.Net.Sockets;
using Lstp.EndProxy.Connect;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// A relay's channels on the real tunnel: the control channel is a Service channel over a <see cref="LoopbackPair"/>;
/// data channels go on the same tunnel (its peer holds the grants) as <see cref="HelperDataTarget"/> destinations.
/// One instance per control connection.
/// </summary>
internal sealed class TunnelHelperChannels(TunnelSupervisor supervisor, string protocol, string service, TimeSpan waitForTunnel) : IHelperChannels
{
    private TunnelHandle? _tunnel;

    public string Service => service;

    public Akka.Actor.IActorRefFactory Actors => supervisor.Actors;

    public async Task<Socket?> OpenControlAsync(CancellationToken cancellationToken)
    {
        var tunnel = await supervisor.WaitForTunnelAsync(waitForTunnel, cancellationToken).ConfigureAwait(false);
        if (tunnel is null) return null;
        var (relaySide, channelSide) = await LoopbackPair.CreateAsync(cancellationToken).ConfigureAwait(false);
        if (!tunnel.Tell(new TunnelCommand.OpenChannel(channelSide, TargetKind.Service, service, 0)))
        {
            relaySide.Dispose();
            channelSide.Dispose();
            return null;
        }
        _tunnel = tunnel;
        return relaySide;
    }

    public bool OpenData(Socket local, ushort port, Func<ChannelOutcome, ValueTask>? onOutcome = null)
    {
        var target = new HelperDataTarget(protocol, service).ToString();
        if (_tunnel?.Tell(new TunnelCommand.OpenChannel(local, TargetKind.Destination, target, port, onOutcome)) == true) return true;
        local.Dispose();
        return false;
    }
}

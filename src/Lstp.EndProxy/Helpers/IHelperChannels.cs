using System.Net.Sockets;
using Akka.Actor;
using Lstp.Tunnel.Channels;

namespace Lstp.EndProxy.Helpers;

/// <summary>The channels a helper's relay may open for one control connection: the control channel, then its data channels.</summary>
public interface IHelperChannels
{
    /// <summary>The peer's service the forward reaches.</summary>
    string Service { get; }

    /// <summary>Where the relay runs its actor (the end's actor system).</summary>
    IActorRefFactory Actors { get; }

    /// <summary>
    /// Opens the control channel to the service and returns the relay's side of it (a socket whose bytes the
    /// channel carries), or null when no tunnel opened in time.
    /// </summary>
    Task<Socket?> OpenControlAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Opens a data channel on the control channel's tunnel that carries <paramref name="local"/> to
    /// <paramref name="port"/> on the service's host, as the service announced it; the channel owns the socket.
    /// False (and the socket disposed) when the tunnel is gone.
    /// </summary>
    bool OpenData(Socket local, ushort port, Func<ChannelOutcome, ValueTask>? onOutcome = null);
}

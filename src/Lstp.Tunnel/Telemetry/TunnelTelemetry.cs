using System.Runtime.CompilerServices;
using Lstp.Protocol;
using Lstp.Tunnel.Channels;

namespace Lstp.Tunnel.Telemetry;

/// <summary>
/// What a tunnel and its channels tell their end's metrics, in one line where it happens: a channel refused, bytes
/// moved for a service, a PAUSE or RESUME. The end registers its metrics once (<see cref="Observe"/>) and each tunnel it
/// starts (<see cref="Started"/>); the calls find them through the tunnel's <see cref="TunnelCounters"/>, which every
/// part of a tunnel holds. A tunnel no end registered (a test's bare tunnel) reports to nobody.
/// </summary>
public static class TunnelTelemetry
{
    private static readonly ConditionalWeakTable<object, ITunnelObserver> Ends = new();
    private static readonly ConditionalWeakTable<TunnelCounters, ITunnelObserver> Tunnels = new();

    /// <summary>Tunnels that <paramref name="end"/> starts report to <paramref name="observer"/>.</summary>
    public static void Observe(object end, ITunnelObserver observer) => Ends.AddOrUpdate(end, observer);

    /// <summary><paramref name="end"/> started <paramref name="tunnel"/> (its main tunnel or a dedicated one).</summary>
    public static void Started(object end, Session.Tunnel tunnel)
    {
        if (!Ends.TryGetValue(end, out var observer)) return;
        Tunnels.AddOrUpdate(tunnel.Counters, observer);
        observer.Started(tunnel);
    }

    /// <summary>A channel was refused with <paramref name="code"/>: by the peer, or by this end (its limit, or the peer's request).</summary>
    public static void ChannelRefused(TunnelCounters tunnel, ErrorCode code, bool byPeer)
    {
        if (Tunnels.TryGetValue(tunnel, out var observer)) observer.ChannelRefused(code, byPeer);
    }

    /// <summary>A channel (its description, e.g. <c>service 'web'</c>) sent application bytes to the peer.</summary>
    public static void Sent(TunnelCounters tunnel, string channel, long bytes)
    {
        if (Tunnels.TryGetValue(tunnel, out var observer)) observer.Transferred(channel, bytes, sent: true);
    }

    /// <summary>A channel delivered application bytes from the peer to its application.</summary>
    public static void Received(TunnelCounters tunnel, string channel, long bytes)
    {
        if (Tunnels.TryGetValue(tunnel, out var observer)) observer.Transferred(channel, bytes, sent: false);
    }

    /// <summary>SERVICE_DATA_PAUSE (<paramref name="pause"/>) or SERVICE_DATA_RESUME, sent by this end or received from the peer.</summary>
    public static void FlowControl(TunnelCounters tunnel, bool pause, bool sent)
    {
        if (Tunnels.TryGetValue(tunnel, out var observer)) observer.FlowControl(pause, sent);
    }
}

/// <summary>An end's metrics, as its tunnels report to them (<see cref="TunnelTelemetry"/>).</summary>
public interface ITunnelObserver
{
    void Started(Session.Tunnel tunnel);
    void ChannelRefused(ErrorCode code, bool byPeer);
    void Transferred(string channel, long bytes, bool sent);
    void FlowControl(bool pause, bool sent);
}

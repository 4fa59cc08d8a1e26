namespace Lstp.EndProxy.Connect;

/// <summary>Where an end is in the setup sequence, for status output and the demo.</summary>
public enum TunnelPhase
{
    Connecting,
    Waiting,
    Securing,
    Open,
    BackingOff,
    /// <summary>The link broke without SHUTDOWN: the tunnel and its channels wait while a new link is paired.</summary>
    Resuming,
    Stopped,
}

/// <summary>
/// A snapshot of an end's tunnel: its phase, which middle, the last failure, how often it reconnected, and how often
/// a broken link was resumed without the applications noticing (and how long the last resume took).
/// </summary>
public sealed record TunnelState(TunnelPhase Phase, string? Middle, string? Peer, string? LastError, int Reconnects, int Resumptions = 0, TimeSpan? LastResumeTook = null);

namespace Lstp.EndProxy.Connect;

/// <summary>Where an end is in the setup sequence, for status output and the demo.</summary>
public enum TunnelPhase
{
    Connecting,
    Waiting,
    Securing,
    Open,
    BackingOff,
    Stopped,
}

/// <summary>A snapshot of an end's tunnel: its phase, which middle, and the last failure.</summary>
public sealed record TunnelState(TunnelPhase Phase, string? Middle, string? Peer, string? LastError, int Reconnects);

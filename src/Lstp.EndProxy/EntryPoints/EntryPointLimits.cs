namespace Lstp.EndProxy.EntryPoints;

/// <summary>Limits of the local SOCKS5 and HTTP CONNECT entry points, with the reason for each value.</summary>
public static class EntryPointLimits
{
    /// <summary>A local client sends its whole request in one round trip (milliseconds); 10 s covers a person typing into nc.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Requests being read at once. A request is read in microseconds once it arrives, so only clients that connect
    /// and stay silent (slowloris) pile up here; 1,024 is far above a real burst and bounds what they can hold.
    /// </summary>
    public const int MaxHandshakes = 1024;
}

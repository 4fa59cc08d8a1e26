namespace Lstp.EndProxy.Helpers;

/// <summary>The helpers' constants, each with the reason for its value.</summary>
public static class HelperLimits
{
    /// <summary>
    /// How long a passive listener waits for the application to connect, and how long a data grant stays valid:
    /// the 30 s pyftpdlib and most FTP servers give their own passive listeners (pyftpdlib PassiveDTP.timeout).
    /// </summary>
    public static readonly TimeSpan DataConnectionWait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longest control line a relay accepts, terminator included: four times pyftpdlib's 2048-byte command limit,
    /// so long path names in replies pass; a longer line is not FTP and ends the control connection.
    /// </summary>
    public const int MaxLine = 8192;

    /// <summary>
    /// Lowest port a service may have a data connection granted to. Ports below 1024 are system services, never
    /// FTP data ports (RFC 2577 §3 tells servers to refuse them in PORT for the same reason).
    /// </summary>
    public const int LowestDataPort = 1024;

    /// <summary>How long the service's end waits for its tunnel object to read the peer's helper announcements (it is being published).</summary>
    public static readonly TimeSpan PeerLookup = TimeSpan.FromSeconds(1);
}

namespace Lstp.Tunnel.Link;

/// <summary>Keepalive timings for links and tunnels, and why they have these values.</summary>
public sealed record LinkTimings
{
    /// <summary>
    /// How often an idle link sends PING. Corporate proxies and NATs commonly drop connections idle for
    /// 30–60 s; 10 s stays well under the shortest we know of and costs 8 bytes.
    /// </summary>
    public TimeSpan KeepaliveInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Silence after which the link or the peer end is declared dead: three missed keepalives, so a dead
    /// peer is noticed within 30 s and a blackholed path well within 45 s.
    /// </summary>
    public TimeSpan DeadAfter { get; init; } = TimeSpan.FromSeconds(30);

    public static readonly LinkTimings Default = new();
}

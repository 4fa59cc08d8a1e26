using Lstp.Protocol.Messages;

namespace Lstp.Middle.Relay;

/// <summary>What the middle knows of one paired tunnel: its ends, its path, and the figures it can see or was told.</summary>
public sealed class TunnelRecord(string id, LinkSession first, LinkSession second, IReadOnlyList<TopologyEntry> path, DateTimeOffset since)
{
    public string Id => id;
    public LinkSession First => first;
    public LinkSession Second => second;

    /// <summary>From the first end to the second, every proxy on the way (this middle included).</summary>
    public IReadOnlyList<TopologyEntry> Path => path;
    public DateTimeOffset Since => since;

    /// <summary>Channel count as the ends last reported it in TUNNEL_REPORT (the middle cannot see channels).</summary>
    public int ReportedChannels { get; set; }
}

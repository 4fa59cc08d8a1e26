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

    /// <summary>An end registered to resume a broken tunnel (its COMMONUNIQUE_INFO's Resuming flag): this pairing carries it on.</summary>
    public bool Resumed => IsResuming(first) || IsResuming(second);

    private static bool IsResuming(LinkSession link) => link.Info?.Flags.HasFlag(SetupFlags.Resuming) == true;

    /// <summary>
    /// The most channels one tunnel may claim in TUNNEL_REPORT. The count is whatever an end says (the middle cannot
    /// see channels), so it is clamped: a million is far beyond any real tunnel, and a million per tunnel summed in
    /// 64 bits cannot overflow however many tunnels report it.
    /// </summary>
    public const int MaxReportedChannels = 1 << 20;

    /// <summary>Channel count as the ends last reported it in TUNNEL_REPORT, clamped to <see cref="MaxReportedChannels"/>.</summary>
    public int ReportedChannels { get; private set; }

    /// <summary>Takes an end's TUNNEL_REPORT channel count, which it controls entirely.</summary>
    public void Report(uint channels) => ReportedChannels = (int)Math.Min(channels, MaxReportedChannels);
}

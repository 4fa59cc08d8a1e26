using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Compression;
using Lstp.Tunnel.Link;

namespace Lstp.Tunnel.Session;

/// <summary>Per-tunnel limits and timings.</summary>
public sealed record TunnelOptions
{
    /// <summary>Channels open at once on one tunnel; a CONNECTION_REQUEST beyond it gets TooManyChannels.</summary>
    public int MaxChannels { get; init; } = 1024;

    public FlowThresholds Flow { get; init; } = FlowThresholds.Default;

    /// <summary>
    /// This end's compression (<c>--compress</c>). The tunnel agrees on a method from what both ends announced in
    /// PROPERTY_EXCHANGE, so this must be what this end announced (<see cref="CompressionSettings.Announce"/>).
    /// </summary>
    public CompressionSettings Compression { get; init; } = CompressionSettings.Default;

    public LinkTimings Timings { get; init; } = LinkTimings.Default;

    /// <summary>How often figures go to the middle in TUNNEL_REPORT for its dashboard.</summary>
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Called when the peer asks for a dedicated tunnel connection (CONNECTION_REQUEST of kind Dedicated): join
    /// it under the given slot. Null refuses such requests.
    /// </summary>
    public Func<uint, Task>? JoinDedicated { get; init; }

    /// <summary>A dedicated tunnel connection carries one channel: it shuts down when that channel ends.</summary>
    public bool SingleChannel { get; init; }

    /// <summary>
    /// How long a tunnel whose link broke (without SHUTDOWN) keeps its channels while a new link is paired and the
    /// tunnel resumes (<c>--resume-grace</c>); zero: a broken link ends the tunnel and resets its channels.
    /// </summary>
    public TimeSpan ResumeGrace { get; init; } = TimeSpan.FromSeconds(30);

    public static readonly TunnelOptions Default = new();
}

namespace Lstp.Tunnel.Channels;

/// <summary>The per-channel PAUSE/RESUME thresholds, and why (bench/RESULTS.md, "flow-control thresholds").</summary>
public sealed record FlowThresholds(long Pause, long Resume)
{
    /// <summary>
    /// 1 MiB pause / 256 KiB resume. A single stream needs the window above one bandwidth-delay product or it
    /// stalls on every PAUSE/RESUME round trip: 1 MiB covers 400 Mbit/s at 20 ms and loopback at full speed,
    /// while 100 slow channels still cost at most about 100 MiB. Resuming at a quarter keeps the local socket
    /// fed while RESUME travels to the sender.
    /// </summary>
    public static readonly FlowThresholds Default = new(1024 * 1024, 256 * 1024);
}

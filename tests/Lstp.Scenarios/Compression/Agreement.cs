using Lstp.Tunnel.Compression;

namespace Lstp.Scenarios.Compression;

/// <summary>
/// The method a tunnel agreed on, worked out from what its peer announced with the rule the tunnel applies
/// (docs/protocol.md §7.3). The frame counters show what the tunnel then actually did.
/// </summary>
public static class Agreement
{
    public static CompressionMethod Of(Tunnel.Session.Tunnel tunnel, CompressionSettings mine) =>
        TunnelCompression.Agree(mine, tunnel.Session.PeerProperties.Compression, tunnel.Session.IsMaster).Method;
}

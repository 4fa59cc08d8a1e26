using System.Security.Cryptography;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Security;

namespace Lstp.Tunnel.Session;

/// <summary>Who this end is: what it sends as COMMONUNIQUE_INFO and TOPOLOGY_EXCHANGE when it registers.</summary>
public sealed record EndSetup(TunnelSecret Secret, string Name, string User, bool Plaintext)
{
    /// <summary>Random per process: names this run of the end in topology and decides master election.</summary>
    public byte[] InstanceId { get; init; } = RandomNumberGenerator.GetBytes(ProtocolLimits.NodeIdSize);

    public CommonUniqueInfo Info(uint slot = 0, bool resuming = false) =>
        new(Secret.PairingKey, slot, Name, User, InstanceId, (Plaintext ? SetupFlags.Plaintext : SetupFlags.None) | (resuming ? SetupFlags.Resuming : SetupFlags.None));

    public TopologyExchange Topology(string localAddress) =>
        new([new TopologyEntry(NodeKind.End, Name, localAddress, InstanceId)]);
}

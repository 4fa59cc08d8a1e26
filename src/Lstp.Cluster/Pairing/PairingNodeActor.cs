using Akka.Actor;

namespace Lstp.Cluster.Pairing;

/// <summary>
/// Where pairing entities reach this node (its ref travels in every <see cref="WaitingAt"/>): another node claimed
/// one of its waiting ends, one of them registered again, or an entity holding some of them stopped. It hands the news to the registry, whose table of
/// waiting ends is the one-winner hand-off between these and the links.
/// </summary>
public sealed class PairingNodeActor : ReceiveActor
{
    public const string Name = "lstp-pairing";

    public PairingNodeActor(ShardedPairingRegistry registry)
    {
        Receive<EndClaimed>(claimed => registry.OnClaimed(claimed.Id));
        Receive<EndReplaced>(replaced => registry.OnReplaced(replaced.Id));
        Receive<EndsDropped>(_ => registry.RestoreSoon());
    }

    public static Props Props(ShardedPairingRegistry registry) => Akka.Actor.Props.Create(() => new PairingNodeActor(registry));
}

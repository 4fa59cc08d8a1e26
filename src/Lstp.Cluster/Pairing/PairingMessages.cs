using Akka.Actor;
using Akka.Cluster.Sharding;

namespace Lstp.Cluster.Pairing;

/// <summary>A message for the entity of one pairing key (the key is the entity id).</summary>
public interface IPairingKeyMessage
{
    string Key { get; }
}

/// <summary>
/// One end waiting at a node, as the key's entity stores it: the node's id for it, a hash of the end's unique name
/// (so a reconnecting end replaces its older registration), the node's <see cref="PairingNodeActor"/> to tell when
/// another node claims it, and the node's link address the claimer dials.
/// </summary>
public sealed record WaitingAt(Guid Id, string Name, IActorRef Node, string Link);

/// <summary>
/// An end registers: the entity claims a waiting peer (replying <see cref="PeerClaimed"/>) or stores the end
/// (<see cref="EndStored"/>). Older registrations of the same end are dropped and their nodes told.
/// </summary>
public sealed record RegisterEnd(string Key, WaitingAt End) : IPairingKeyMessage;

/// <summary>
/// A node offers again an end that already waits (its entity was lost with a node, or the registry did not answer
/// in time): stored (<see cref="EndStored"/>), or, when a peer waits, <see cref="PeerWaitsAt"/> without claiming it:
/// the end is sent there and registers afresh.
/// </summary>
public sealed record RestoreEnd(string Key, WaitingAt End) : IPairingKeyMessage;

/// <summary>The end stopped waiting (paired at its node, left, expired, drained).</summary>
public sealed record WithdrawEnd(string Key, Guid Id) : IPairingKeyMessage;

public sealed record EndStored(Guid Id);

/// <summary>The peer was waiting and is now claimed: pair with it at its node (the claimer's own, or another's via a node link).</summary>
public sealed record PeerClaimed(WaitingAt Peer);

public sealed record PeerWaitsAt(string Link);

/// <summary>To a node: another node claimed its waiting end <paramref name="Id"/> and is linking in to pair with it.</summary>
public sealed record EndClaimed(Guid Id);

/// <summary>To a node: its waiting end <paramref name="Id"/> registered again (at any node); drop the older connection.</summary>
public sealed record EndReplaced(Guid Id);

/// <summary>
/// To a node: the entity that held these of its waiting ends stopped (its shard moved to another node: a rebalance,
/// or its node leaving), so they are known only to the node now; offer them again (<see cref="RestoreEnd"/>).
/// </summary>
public sealed record EndsDropped(IReadOnlyList<Guid> Ids);

/// <summary>Routes pairing messages to their key's entity; the key is a hash already, so it spreads evenly over the shards.</summary>
public sealed class PairingKeyExtractor() : HashCodeMessageExtractor(ShardCount)
{
    /// <summary>Ten shards per node for a cluster of ten: enough to spread, few enough to hand over fast.</summary>
    public const int ShardCount = 100;

    public override string EntityId(object message) => message is IPairingKeyMessage keyed ? keyed.Key : null!;
}

using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;

namespace Lstp.Cluster.Pairing;

/// <summary>
/// The one place in the cluster that decides the pairings of one key (a sharded entity; its id is the key). It holds
/// the ends waiting under the key, wherever they wait, and hands a waiting end to exactly one registering peer.
/// It lives in memory: when it stops with ends in it (its shard moves) it tells their nodes, and when its node dies
/// the nodes hear of that from the cluster; either way they offer their ends again (<see cref="RestoreEnd"/>).
/// Entries of a node that left or was downed are dropped as they are met; those of an unreachable node are kept
/// but not claimed (a node link to it would fail) until it is reachable again or downed.
/// </summary>
public sealed class PairingKeyEntity : ReceiveActor
{
    /// <summary>An entity quiet for this long stops (its messages are buffered and restart it); its entries go with it only if empty.</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(2);

    /// <summary>Claims remembered for registrations sent again (a registrant retries when an answer is late or lost).</summary>
    private const int RememberedClaims = 16;

    private readonly List<WaitingAt> _waiting = [];
    private readonly Dictionary<Guid, PeerClaimed> _claims = [];
    private readonly Queue<Guid> _claimOrder = new();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public PairingKeyEntity()
    {
        Receive<RegisterEnd>(Register);
        Receive<RestoreEnd>(Restore);
        Receive<WithdrawEnd>(withdraw => _waiting.RemoveAll(w => w.Id == withdraw.Id));
        Receive<ReceiveTimeout>(_ =>
        {
            _waiting.RemoveAll(Gone);
            if (_waiting.Count == 0) Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
        SetReceiveTimeout(Idle);
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new PairingKeyEntity());

    private void Register(RegisterEnd register)
    {
        var end = register.End;
        // The same registration again (its answer was slow or lost): the same answer, never a second claim.
        if (_claims.TryGetValue(end.Id, out var claimed))
        {
            Sender.Tell(claimed);
            return;
        }
        if (_waiting.Any(w => w.Id == end.Id))
        {
            Sender.Tell(new EndStored(end.Id));
            return;
        }
        foreach (var older in _waiting.Where(w => w.Name == end.Name).ToList())
        {
            _waiting.Remove(older);
            older.Node.Tell(new EndReplaced(older.Id));
        }
        _waiting.RemoveAll(Gone);
        var peer = _waiting.FirstOrDefault(w => w.Name != end.Name && Reachable(w));
        if (peer is null)
        {
            _waiting.Add(end);
            Sender.Tell(new EndStored(end.Id));
            return;
        }
        _waiting.Remove(peer);
        // The peer's node learns of the claim before the claimer's link arrives: it keeps the end for ClaimTimeout.
        // Told even when the claimer is the same node: a registration whose answer never reached its registrant
        // must not leave the peer waiting at its node with no entry here; after ClaimTimeout it registers afresh.
        peer.Node.Tell(new EndClaimed(peer.Id));
        var answer = new PeerClaimed(peer);
        Remember(end.Id, answer);
        Sender.Tell(answer);
    }

    private void Remember(Guid registrant, PeerClaimed answer)
    {
        _claims[registrant] = answer;
        _claimOrder.Enqueue(registrant);
        if (_claimOrder.Count > RememberedClaims) _claims.Remove(_claimOrder.Dequeue());
    }

    private void Restore(RestoreEnd restore)
    {
        var end = restore.End;
        _waiting.RemoveAll(Gone);
        if (_waiting.FirstOrDefault(w => w.Name != end.Name && Reachable(w)) is { } peer)
        {
            Sender.Tell(new PeerWaitsAt(peer.Link));
            return;
        }
        if (!_waiting.Any(w => w.Id == end.Id)) _waiting.Add(end);
        Sender.Tell(new EndStored(end.Id));
    }

    /// <summary>Its node left the cluster or was downed (or the entity's node has not heard of it, which only a gone node can be here).</summary>
    private bool Gone(WaitingAt waiting)
    {
        var address = AddressOf(waiting);
        return !_cluster.State.Members.Any(m => m.Address == address && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining or MemberStatus.Leaving);
    }

    private bool Reachable(WaitingAt waiting)
    {
        var address = AddressOf(waiting);
        return !_cluster.State.Unreachable.Any(m => m.Address == address);
    }

    private Address AddressOf(WaitingAt waiting) => waiting.Node.Path.Address is { HasLocalScope: true } ? _cluster.SelfAddress : waiting.Node.Path.Address;

    /// <summary>Stopped with ends in it (its shard is handed to another node): their nodes offer them again.</summary>
    protected override void PostStop()
    {
        foreach (var node in _waiting.GroupBy(w => w.Node)) node.Key.Tell(new EndsDropped([.. node.Select(w => w.Id)]));
    }
}

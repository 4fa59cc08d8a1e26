using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Lstp.Cluster.Membership;

/// <summary>
/// What a node tells the others about itself, beyond what Akka.Cluster knows: its name, where its link listener
/// is (ends and node-to-node links dial it), and the token its node links present in ADMISSION. The token travels
/// only inside the cluster, whose traffic is mutual TLS between holders of the cluster certificate.
/// </summary>
/// <param name="LinkFingerprint">SHA-256 of the link listener's TLS certificate (--tls-cert), so other nodes pin it; null: plain TCP.</param>
public sealed record NodeInfo(string Name, string Link, string Token, string? LinkFingerprint = null);

/// <summary>One member as this node sees it: the cluster's view joined with what the member told about itself.</summary>
public sealed record ClusterMember(Address Address, MemberStatus Status, bool Reachable, NodeInfo? Info, bool IsSelf)
{
    /// <summary>A member ends and links can be sent to: up, reachable, and introduced.</summary>
    public bool Serves => Info is not null && Reachable && Status is MemberStatus.Up or MemberStatus.WeaklyUp;
}

/// <summary>How the membership changed, for those that act on it (the pairing registry restores what a leaving node held).</summary>
public enum MembershipChange
{
    /// <summary>Another member left or was downed: the pairing entities it hosted are gone and start empty elsewhere.</summary>
    MemberGone,
}

/// <summary>
/// This node's view of the cluster, kept by <see cref="ClusterMembersActor"/> and read by anyone: the dashboard,
/// drain (where to send ends), the link listener (which node tokens are valid).
/// </summary>
public sealed class ClusterMembers
{
    private volatile ClusterMember[] _members = [];

    /// <summary>Every member this node knows of, itself included.</summary>
    public IReadOnlyList<ClusterMember> All => _members;

    /// <summary>Other members that serve (up, reachable, introduced).</summary>
    public IReadOnlyList<ClusterMember> Others => [.. _members.Where(m => !m.IsSelf && m.Serves)];

    /// <summary>Raised on the members actor's thread; handlers must not block.</summary>
    public event Action<MembershipChange>? Changed;

    internal void Publish(ClusterMember[] members) => _members = members;

    internal void Raise(MembershipChange change) => Changed?.Invoke(change);

    /// <summary>
    /// The node-link tokens of the members that introduced themselves, this node's own included: what a node link
    /// must present. A live view for <c>MiddleOptions.NodeTokens</c>, read on each node link's ADMISSION.
    /// </summary>
    public IReadOnlyList<string> Tokens => new LiveTokens(this);

    private sealed class LiveTokens(ClusterMembers members) : IReadOnlyList<string>
    {
        private string[] Now => [.. members._members.Where(m => m.Info is not null && m.Status != MemberStatus.Removed).Select(m => m.Info!.Token)];

        public int Count => Now.Length;
        public string this[int index] => Now[index];
        public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)Now).GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>A member's introduction; <see cref="Answer"/> asks the receiver to introduce itself back.</summary>
public sealed record Introduce(NodeInfo Info, bool Answer);

/// <summary>
/// Follows Akka.Cluster's membership and exchanges <see cref="NodeInfo"/> with every other member's actor of the
/// same name: on each member that comes up, and again every <see cref="RetryEvery"/> to members not yet heard from
/// (remote messages may be lost while an association forms).
/// </summary>
public sealed class ClusterMembersActor : UntypedActor, IWithTimers
{
    public const string Name = "lstp-members";
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(1);

    private readonly NodeInfo _self;
    private readonly ClusterMembers _view;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<Address, Member> _members = [];
    private readonly HashSet<Address> _unreachable = [];
    private readonly Dictionary<Address, NodeInfo> _infos = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ClusterMembersActor(NodeInfo self, ClusterMembers view)
    {
        _self = self;
        _view = view;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(NodeInfo self, ClusterMembers view) => Akka.Actor.Props.Create(() => new ClusterMembersActor(self, view));

    protected override void PreStart()
    {
        _infos[_cluster.SelfAddress] = _self;
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer("retry", Retry.Instance, RetryEvery);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ClusterEvent.MemberRemoved removed:
                _members.Remove(removed.Member.Address);
                _infos.Remove(removed.Member.Address);
                _unreachable.Remove(removed.Member.Address);
                Publish();
                if (removed.Member.Address != _cluster.SelfAddress) _view.Raise(MembershipChange.MemberGone);
                break;
            case ClusterEvent.MemberExited exited:
                _members[exited.Member.Address] = exited.Member;
                Publish();
                if (exited.Member.Address != _cluster.SelfAddress) _view.Raise(MembershipChange.MemberGone);
                break;
            case ClusterEvent.IMemberEvent changed:
                var fresh = !_members.ContainsKey(changed.Member.Address);
                _members[changed.Member.Address] = changed.Member;
                if (fresh) IntroduceTo(changed.Member.Address, answer: true);
                Publish();
                break;
            case ClusterEvent.UnreachableMember unreachable:
                _unreachable.Add(unreachable.Member.Address);
                Publish();
                break;
            case ClusterEvent.ReachableMember reachable:
                _unreachable.Remove(reachable.Member.Address);
                Publish();
                break;
            case Introduce introduce:
                var from = Sender.Path.Address;
                if (!_members.ContainsKey(from)) break; // not (or no longer) a member: ignore what it says
                var known = _infos.TryGetValue(from, out var before) && before == introduce.Info;
                _infos[from] = introduce.Info;
                if (introduce.Answer) Sender.Tell(new Introduce(_self, Answer: false));
                if (!known)
                {
                    _log.Info("cluster member {0} ({1}) serves links at {2}", introduce.Info.Name, from, introduce.Info.Link);
                    Publish();
                }
                break;
            case Retry:
                foreach (var address in _members.Keys.Where(a => !_infos.ContainsKey(a))) IntroduceTo(address, answer: true);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void IntroduceTo(Address address, bool answer)
    {
        if (address == _cluster.SelfAddress) return;
        Context.ActorSelection(new RootActorPath(address) / "user" / Name).Tell(new Introduce(_self, answer), Self);
    }

    private void Publish() => _view.Publish(
    [
        .. _members.Values
            .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
            .Select(m => new ClusterMember(m.Address, m.Status, !_unreachable.Contains(m.Address), _infos.GetValueOrDefault(m.Address), m.Address == _cluster.SelfAddress)),
    ]);

    private sealed class Retry
    {
        public static readonly Retry Instance = new();
    }
}

using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Lstp.Cluster.Membership;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster.Pairing;

/// <summary>
/// The pairing registry a cluster shares (docs/architecture.md, "Cluster of middles"). The links of waiting ends stay
/// at this node, in <see cref="LocalWaitingTable"/>; the cluster's view of them is one entry each in the sharded
/// <see cref="PairingKeyEntity"/> of their key. Registering asks that entity: a peer waiting here pairs here, a peer
/// waiting at another node is claimed and the end forwarded there with the entry id as the claim
/// (<see cref="RegisterResult.Forward"/>), and that node takes its end out of its table when the link arrives
/// (<see cref="TakeClaimed"/>), having heard of the claim first (<see cref="OnClaimed"/>).
/// When the entity does not answer (its node died and is not yet downed) the end waits at this node alone and is
/// offered again every <see cref="ClusterOptions.RetryLocal"/>; when a member goes, every end waiting here is offered
/// again, since the entities that node hosted start empty elsewhere.
/// </summary>
public sealed partial class ShardedPairingRegistry : IPairingRegistry, IAsyncDisposable
{
    private readonly MiddleOptions _options;
    private readonly ClusterOptions _cluster;
    private readonly IActorRef _region;
    private readonly ClusterMembers _members;
    private readonly ILogger _log;
    private readonly LocalWaitingTable _table;
    private readonly IActorRef _node;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Task _expiry;
    private int _restoreAsked;
    private volatile Func<WaitingEnd, string?>? _drainTarget;

    public ShardedPairingRegistry(MiddleOptions options, ClusterOptions cluster, ActorSystem system, IActorRef region, ClusterMembers members, string link, ILogger log)
    {
        _options = options;
        _cluster = cluster;
        _region = region;
        _members = members;
        _log = log;
        Link = link;
        _table = new LocalWaitingTable(options.MaxWaitingPerSource);
        _node = system.ActorOf(PairingNodeActor.Props(this), PairingNodeActor.Name);
        _members.Changed += OnMembershipChanged;
        _expiry = Task.Run(ExpireLoopAsync);
    }

    /// <summary>This node's link address: where a claiming node dials to reach the ends waiting here.</summary>
    public string Link { get; }

    private DateTimeOffset Now => _options.Time.GetUtcNow();

    public IReadOnlyList<WaitingEnd> Snapshot() => _table.Snapshot;

    /// <summary>Ends waiting at this node alone (the cluster's registry has not answered for them yet): 0 in a healthy cluster.</summary>
    public int WaitingAlone => _table.InState(EntryState.LocalOnly).Count;

    public async Task<RegisterResult> RegisterAsync(WaitingEnd end, CancellationToken cancellationToken)
    {
        if (_drainTarget is { } drain) return await RefuseDrainingAsync(end, drain(end)).ConfigureAwait(false);

        // Ends waiting here alone (the registry did not answer) are known only to this table.
        var replaced = new List<LocalEntry>();
        var admission = _table.Admit(end, EntryState.Pending, Now, [EntryState.LocalOnly], replaced);
        TellReplaced(replaced);
        switch (admission)
        {
            case Admission.Refused refused:
                return TooMany(refused);
            case Admission.Matched matched:
                Withdraw(matched.Peer);
                return new RegisterResult.Matched(matched.Peer.End);
        }
        var entry = ((Admission.Added)admission).Entry;
        object? answer;
        try
        {
            answer = await AskEntityAsync(new RegisterEnd(end.CommonKey, WaitingAt(entry)), entry, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (_table.Take(entry.Id) is not null) Withdraw(end.CommonKey, entry.Id);
            throw;
        }
        if (answer is null)
        {
            // A registration may still be buffered and reach the entity: storing the end there is harmless (the retry
            // finds it), and a peer it claims is told so, and registers afresh after ClaimTimeout.
            if (!_table.TryMove(entry.Id, EntryState.Pending, EntryState.LocalOnly, Now)) return new RegisterResult.Stored(end); // claimed meanwhile
            Log.WaitingAlone(_log, end.Link.EndName, _cluster.RegisterTimeout.TotalSeconds);
            return new RegisterResult.Stored(end);
        }
        switch (answer)
        {
            case PeerClaimed { Peer: var peer } when peer.Node.Equals(_node):
                _table.Take(entry.Id);
                if (_table.Take(peer.Id) is { } local) return new RegisterResult.Matched(local.End);
                // Its end left a moment ago: register afresh (the entity dropped the peer with the claim).
                return await RegisterAsync(end, cancellationToken).ConfigureAwait(false);
            case PeerClaimed { Peer: var peer }:
                _table.Take(entry.Id);
                if (!HostPort.TryParse(peer.Link, out var node, out var error))
                {
                    return new RegisterResult.Refused(ErrorCode.Internal, $"the node holding the peer announces an unusable link address '{peer.Link}': {error}");
                }
                Log.Forwarding(_log, end.Link.EndName, peer.Link);
                return new RegisterResult.Forward(node, peer.Id.ToString("N"));
            default:
                // Stored. A claim may have overtaken the answer (the entry is Claimed, or taken): leave it so.
                _table.TryMove(entry.Id, EntryState.Pending, EntryState.Stored, Now);
                return new RegisterResult.Stored(end);
        }
    }

    /// <summary>
    /// Asks the key's entity, sending again every <see cref="ClusterOptions.RegisterRetry"/>: a message sent to a node
    /// that just died is lost, not buffered, until the cluster notices. The entity answers a repeated registration as it
    /// answered the first. Null when <see cref="ClusterOptions.RegisterTimeout"/> passed without an answer, or when the
    /// entry left the pending state meanwhile (another node claimed it).
    /// </summary>
    private async Task<object?> AskEntityAsync(RegisterEnd register, LocalEntry entry, CancellationToken cancellationToken)
    {
        var started = _options.Time.GetTimestamp();
        while (true)
        {
            try
            {
                return await _region.Ask<object>(register, _cluster.RegisterRetry, cancellationToken).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                if (entry.State != EntryState.Pending || !_table.Contains(entry.Id) || _options.Time.GetElapsedTime(started) >= _cluster.RegisterTimeout) return null;
            }
        }
    }

    private WaitingAt WaitingAt(LocalEntry entry) => new(entry.Id, NameHash(entry.End), _node, Link);

    /// <summary>The end's unique name, hashed: the entity only compares names, and need not learn them.</summary>
    private static string NameHash(WaitingEnd end) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(end.UniqueName)));

    private RegisterResult TooMany(Admission.Refused refused) =>
        new RegisterResult.Refused(ErrorCode.TooManyWaiting, $"{refused.Source} already has {refused.Count} ends waiting (limit {_options.MaxWaitingPerSource})");

    public void Unregister(WaitingEnd end)
    {
        if (_table.Remove(end) is { } entry) Withdraw(entry);
    }

    public WaitingEnd? TakeClaimed(string claim)
    {
        if (!Guid.TryParseExact(claim, "N", out var id)) return null;
        return _table.Take(id)?.End;
    }

    private void Withdraw(LocalEntry entry)
    {
        if (entry.State != EntryState.LocalOnly) Withdraw(entry.End.CommonKey, entry.Id);
    }

    private void Withdraw(string key, Guid id) => _region.Tell(new WithdrawEnd(key, id));

    private void TellReplaced(IEnumerable<LocalEntry> replaced)
    {
        foreach (var old in replaced)
        {
            Withdraw(old);
            old.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.Replaced, "a newer connection of this end registered; this one is dropped"));
            Log.Replaced(_log, old.End.Link.EndName);
        }
    }

    internal void OnClaimed(Guid id) => _table.MarkClaimed(id, Now);

    internal void OnReplaced(Guid id)
    {
        if (_table.Take(id) is not { } entry) return;
        entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.Replaced, "this end registered again at another middle of the cluster; this connection is dropped"));
        Log.Replaced(_log, entry.End.Link.EndName);
    }

    // ---- expiry and retries ----------------------------------------------------------------------------------

    private async Task ExpireLoopAsync()
    {
        // As the in-memory registry: a tenth of the expiry, between 100 ms and 10 s; at least as often as the local retry.
        var period = TimeSpan.FromTicks(Math.Clamp(Math.Min(_options.WaitExpiry.Ticks / 10, _cluster.RetryLocal.Ticks), TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(10).Ticks));
        var lastRetry = _options.Time.GetTimestamp();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await _wake.WaitAsync(period, _stop.Token).ConfigureAwait(false); // a period, or until a restore is asked for
                ExpireOnce();
                // Restores run here only, one at a time. A restore of every end covers the ends waiting alone too.
                if (Interlocked.Exchange(ref _restoreAsked, 0) == 1)
                {
                    lastRetry = _options.Time.GetTimestamp();
                    await RestoreAsync(EntryState.Stored, EntryState.LocalOnly).ConfigureAwait(false);
                }
                else if (_options.Time.GetElapsedTime(lastRetry) >= _cluster.RetryLocal && _table.InState(EntryState.LocalOnly).Count > 0)
                {
                    lastRetry = _options.Time.GetTimestamp();
                    await RestoreAsync(EntryState.LocalOnly).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void ExpireOnce()
    {
        var now = Now;
        foreach (var entry in _table.RemoveWhere(e => now - e.End.Since >= _options.WaitExpiry))
        {
            Withdraw(entry);
            entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.WaitExpired, $"no peer arrived within {_options.WaitExpiry.TotalMinutes:0.#} min"));
        }
        foreach (var entry in _table.RemoveWhere(e => e.State == EntryState.Claimed && now - e.StateSince >= _cluster.ClaimTimeout))
        {
            Log.ClaimLapsed(_log, entry.End.Link.EndName, _cluster.ClaimTimeout.TotalSeconds);
            entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.PeerGone, $"another middle of the cluster claimed this end for its peer but did not link in within {_cluster.ClaimTimeout.TotalSeconds:0} s; register again"));
        }
    }

    // ---- restore -----------------------------------------------------------------------------------------------

    /// <summary>A member went: the entities it hosted start empty elsewhere, so offer every end waiting here again.</summary>
    private void OnMembershipChanged(MembershipChange change)
    {
        if (change == MembershipChange.MemberGone) RestoreSoon();
    }

    /// <summary>Offers every end waiting here again, on the expiry loop, now (one pass however often it is asked before it runs).</summary>
    internal void RestoreSoon()
    {
        Volatile.Write(ref _restoreAsked, 1);
        try { _wake.Release(); }
        catch (SemaphoreFullException) { } // a wake-up is pending already
    }

    /// <summary>
    /// Offers the ends waiting here in <paramref name="states"/> to their entities again: stored (or kept), or sent to
    /// the node where their peer waits (REDIRECT; they register afresh there and claim it). An entity that does not
    /// answer leaves its end waiting here alone until the next retry.
    /// </summary>
    private async Task RestoreAsync(params EntryState[] states)
    {
        try
        {
            var entries = states.SelectMany(_table.InState).ToList();
            var stored = 0;
            var moved = 0;
            var alone = 0;
            await Parallel.ForEachAsync(entries, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = _stop.Token }, async (entry, ct) =>
            {
                object answer;
                try
                {
                    answer = await _region.Ask<object>(new RestoreEnd(entry.End.CommonKey, WaitingAt(entry)), _cluster.RegisterRetry, ct).ConfigureAwait(false);
                }
                catch (AskTimeoutException)
                {
                    if (_table.TryMove(entry.Id, EntryState.Stored, EntryState.LocalOnly, Now) || entry.State == EntryState.LocalOnly) Interlocked.Increment(ref alone);
                    return;
                }
                switch (answer)
                {
                    case PeerWaitsAt { Link: var link }:
                        if (_table.Take(entry.Id) is null) return;
                        Interlocked.Increment(ref moved);
                        await RedirectAsync(entry.End, link, "your peer waits at another middle of the cluster: go there").ConfigureAwait(false);
                        break;
                    default:
                        _table.TryMove(entry.Id, EntryState.LocalOnly, EntryState.Stored, Now);
                        Interlocked.Increment(ref stored);
                        break;
                }
            }).ConfigureAwait(false);
            if (entries.Count > 0) Log.Restored(_log, stored, moved, alone);
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- drain -----------------------------------------------------------------------------------------------

    /// <summary>
    /// From now on this node pairs no more ends: each end that registers, and each that waits here now, is sent
    /// (REDIRECT) to the node <paramref name="target"/> picks for it, or just told that this middle is draining
    /// when there is none.
    /// </summary>
    public async Task BeginDrainAsync(Func<WaitingEnd, string?> target)
    {
        _drainTarget = target;
        var waiting = _table.RemoveWhere(_ => true);
        await Task.WhenAll(waiting.Select(async entry =>
        {
            Withdraw(entry);
            if (target(entry.End) is { } to) await RedirectAsync(entry.End, to, "this middle is draining").ConfigureAwait(false);
            else entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.MiddleDraining, "this middle is draining and no other middle of the cluster is alive"));
        })).ConfigureAwait(false);
    }

    private static async Task<RegisterResult> RefuseDrainingAsync(WaitingEnd end, string? target)
    {
        if (target is null) return new RegisterResult.Refused(ErrorCode.MiddleDraining, "this middle is draining and no other middle of the cluster is alive");
        await SendRedirectAsync(end, target, "this middle is draining").ConfigureAwait(false);
        return new RegisterResult.Refused(ErrorCode.MiddleDraining, $"this middle is draining; use {target}");
    }

    /// <summary>Tells a waiting end to move (REDIRECT), then ends its wait; it has no peer, so no relayed byte can interleave.</summary>
    private static async Task RedirectAsync(WaitingEnd end, string target, string reason)
    {
        await SendRedirectAsync(end, target, reason).ConfigureAwait(false);
        end.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.MiddleDraining, $"{reason}: moved to {target}"));
    }

    private static async Task SendRedirectAsync(WaitingEnd end, string target, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await end.Link.Output.SendAsync(new Redirect(target, reason), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The end is gone or stuck; its link closes either way.
        }
    }

    private int _disposed;

    /// <summary>Stops the expiry loop; the middle host and the cluster node both call it, so a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _members.Changed -= OnMembershipChanged;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _expiry.ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 620, Level = LogLevel.Information, Message = "end {End}: its peer waits at {Node}; handing it on")]
        public static partial void Forwarding(ILogger logger, string end, string node);

        [LoggerMessage(EventId = 621, Level = LogLevel.Information, Message = "end {End} registered again; the older waiting connection is dropped")]
        public static partial void Replaced(ILogger logger, string end);

        [LoggerMessage(EventId = 622, Level = LogLevel.Warning, Message = "end {End} waits at this node alone: the cluster's registry did not answer within {Seconds:0.#} s (a node is down and not yet removed); it is offered again shortly")]
        public static partial void WaitingAlone(ILogger logger, string end, double seconds);

        [LoggerMessage(EventId = 623, Level = LogLevel.Warning, Message = "end {End} was claimed by another node that did not link in within {Seconds:0} s; told to register again")]
        public static partial void ClaimLapsed(ILogger logger, string end, double seconds);

        [LoggerMessage(EventId = 624, Level = LogLevel.Information, Message = "waiting ends offered to the cluster's registry again: {Stored} stored, {Moved} sent to their peer's node, {Alone} still waiting here alone")]
        public static partial void Restored(ILogger logger, int stored, int moved, int alone);
    }
}

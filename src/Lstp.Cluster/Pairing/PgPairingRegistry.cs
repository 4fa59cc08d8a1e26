using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Lstp.Cluster.Membership;
using Lstp.Cluster.Store;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster.Pairing;

/// <summary>
/// The pairing registry a cluster shares (docs/architecture.md, "Cluster of middles"). The links of waiting ends stay at
/// this node, in <see cref="LocalWaitingTable"/>; the cluster's view of them is one row each in PostgreSQL.
/// Registering claims the peer's row, or stores the end's own, in one statement (<see cref="ClusterDatabase.RegisterAsync"/>):
/// a row of this node pairs here, a row of another node forwards the end there with the row id as the claim
/// (<see cref="RegisterResult.Forward"/>), and that node takes the end out of its table when the link arrives
/// (<see cref="TakeClaimed"/>). The claimed node hears of the claim by NOTIFY first, so an end whose claimer
/// never arrives is not left waiting for a row that is gone.
/// While the database is unreachable the table alone pairs ends that meet at this node; an end that waits
/// for a peer elsewhere is told so after <see cref="ClusterOptions.OfflineWait"/>, and when the database
/// returns the table and the rows are reconciled.
/// </summary>
public sealed partial class PgPairingRegistry : IPairingRegistry, IAsyncDisposable
{
    /// <summary>Stale rows (their end just left) are deleted by the claim itself; a few in a row is already unusual.</summary>
    private const int MaxClaimAttempts = 8;

    private readonly MiddleOptions _options;
    private readonly ClusterOptions _cluster;
    private readonly ClusterDatabase _database;
    private readonly ClusterMembership _membership;
    private readonly ILogger _log;
    private readonly LocalWaitingTable _table;
    private readonly Channel<Guid> _deletions = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _reconciling = new(1, 1);
    private readonly Task _expiry;
    private readonly Task _deleter;
    private volatile Func<WaitingEnd, string?>? _drainTarget;

    public PgPairingRegistry(MiddleOptions options, ClusterOptions cluster, ClusterDatabase database, ClusterMembership membership, ILogger log)
    {
        _options = options;
        _cluster = cluster;
        _database = database;
        _membership = membership;
        _log = log;
        _table = new LocalWaitingTable(options.MaxWaitingPerSource);
        _membership.Notified += OnNotified;
        _membership.Recovered += ReconcileAsync;
        _expiry = Task.Run(ExpireLoopAsync);
        _deleter = Task.Run(DeleteLoopAsync);
    }

    private DateTimeOffset Now => _options.Time.GetUtcNow();

    public IReadOnlyList<WaitingEnd> Snapshot() => _table.Snapshot;

    public async Task<RegisterResult> RegisterAsync(WaitingEnd end, CancellationToken cancellationToken)
    {
        if (_drainTarget is { } drain) return await RefuseDrainingAsync(end, drain(end)).ConfigureAwait(false);
        if (!_database.Reachable) return RegisterHere(end);

        // Ends stored here while the database was away have no row: only this table can find them.
        var replaced = new List<LocalEntry>();
        var admission = _table.Admit(end, EntryState.Pending, Now, [EntryState.LocalOnly], replaced);
        TellReplaced(replaced);
        switch (admission)
        {
            case Admission.Refused refused:
                return TooMany(refused);
            case Admission.Matched matched:
                ForgetRow(matched.Peer);
                return new RegisterResult.Matched(matched.Peer.End);
        }
        var entry = ((Admission.Added)admission).Entry;
        try
        {
            for (var attempt = 0; attempt < MaxClaimAttempts; attempt++)
            {
                var rows = await _database.RegisterAsync(end.CommonKey, RowName(end), entry.Id, _membership.Self, _cluster.DeadAfter, cancellationToken).ConfigureAwait(false);
                foreach (var (id, node) in rows.Replaced)
                {
                    if (node == _membership.Self && id != entry.Id && _table.Take(id) is { } stale) TellReplaced([stale]);
                }
                if (rows.Claimed is { } claimed)
                {
                    if (claimed.Node == _membership.Self)
                    {
                        if (_table.Take(claimed.Id) is not { } peer) continue; // its end left a moment ago; the claim deleted the stale row
                        _table.Take(entry.Id);
                        return new RegisterResult.Matched(peer.End);
                    }
                    _table.Take(entry.Id);
                    if (!HostPort.TryParse(claimed.Advertise, out var node, out var error))
                    {
                        return new RegisterResult.Refused(ErrorCode.Internal, $"the node holding the peer advertises an unusable address '{claimed.Advertise}': {error}");
                    }
                    Log.Forwarding(_log, end.Link.EndName, claimed.Advertise);
                    return new RegisterResult.Forward(node, claimed.Id.ToString("N"));
                }
                // Stored. A claim may have overtaken us (the entry is Claimed, or already taken): leave it so.
                _table.TryMove(entry.Id, EntryState.Pending, EntryState.Stored, Now);
                return new RegisterResult.Stored(end);
            }
            _table.Take(entry.Id);
            return new RegisterResult.Refused(ErrorCode.Internal, $"could not register after {MaxClaimAttempts} attempts: the peer's waiting entries kept vanishing");
        }
        catch (ClusterUnavailableException)
        {
            // Fall back on this node alone (the database logged why it is unreachable).
            if (_table.Take(entry.Id) is null) return new RegisterResult.Stored(end); // a claim took it meanwhile
            return RegisterHere(end);
        }
        catch
        {
            if (_table.Take(entry.Id) is not null) _deletions.Writer.TryWrite(entry.Id);
            throw;
        }
    }

    /// <summary>
    /// Registration while the database is unreachable: pair with a peer waiting at this node (stored or not),
    /// else store the end here only.
    /// </summary>
    private RegisterResult RegisterHere(WaitingEnd end)
    {
        var replaced = new List<LocalEntry>();
        var admission = _table.Admit(end, EntryState.LocalOnly, Now, [EntryState.Stored, EntryState.LocalOnly], replaced);
        TellReplaced(replaced);
        switch (admission)
        {
            case Admission.Refused refused:
                return TooMany(refused);
            case Admission.Matched matched:
                ForgetRow(matched.Peer);
                return new RegisterResult.Matched(matched.Peer.End);
            default:
                Log.StoredLocally(_log, end.Link.EndName, _cluster.OfflineWait.TotalSeconds);
                return new RegisterResult.Stored(end);
        }
    }

    /// <summary>
    /// The end's unique name as its row stores it: a SHA-256 in hex, since the name may hold any character
    /// (PostgreSQL text holds no NUL, and the registry separates end name and user with one).
    /// </summary>
    private static string RowName(WaitingEnd end) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(end.UniqueName)));

    private RegisterResult TooMany(Admission.Refused refused) =>
        new RegisterResult.Refused(ErrorCode.TooManyWaiting, $"{refused.Source} already has {refused.Count} ends waiting (limit {_options.MaxWaitingPerSource})");

    public void Unregister(WaitingEnd end)
    {
        if (_table.Remove(end) is { } entry) ForgetRow(entry);
    }

    public WaitingEnd? TakeClaimed(string claim)
    {
        if (!Guid.TryParseExact(claim, "N", out var id)) return null;
        if (_table.Take(id) is not { } entry) return null;
        // The claim deleted the row; a reconcile may have stored it again since. Deleting is harmless either way.
        _deletions.Writer.TryWrite(id);
        return entry.End;
    }

    private void ForgetRow(LocalEntry entry)
    {
        if (entry.State != EntryState.LocalOnly) _deletions.Writer.TryWrite(entry.Id);
    }

    private void TellReplaced(IEnumerable<LocalEntry> replaced)
    {
        foreach (var old in replaced)
        {
            ForgetRow(old);
            old.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.Replaced, "a newer connection of this end registered; this one is dropped"));
            Log.Replaced(_log, old.End.Link.EndName);
        }
    }

    /// <summary>What other nodes tell this one: "claimed:ID" (a claimer is on its way) or "replaced:ID" (the end registered again elsewhere).</summary>
    private void OnNotified(string payload)
    {
        var colon = payload.IndexOf(':');
        if (colon < 0 || !Guid.TryParse(payload.AsSpan(colon + 1), out var id)) return;
        switch (payload[..colon])
        {
            case "claimed":
                _table.MarkClaimed(id, Now);
                break;
            case "replaced":
                if (_table.Take(id) is { } entry)
                {
                    entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.Replaced, "this end registered again at another middle of the cluster; this connection is dropped"));
                    Log.Replaced(_log, entry.End.Link.EndName);
                }
                break;
        }
    }

    // ---- expiry ----------------------------------------------------------------------------------------------

    private async Task ExpireLoopAsync()
    {
        // As the in-memory registry: a tenth of the expiry, between 100 ms and 10 s; at least twice per offline wait.
        var period = TimeSpan.FromTicks(Math.Clamp(Math.Min(_options.WaitExpiry.Ticks / 10, _cluster.OfflineWait.Ticks / 2), TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(10).Ticks));
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(period, _options.Time, _stop.Token).ConfigureAwait(false);
                ExpireOnce();
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
            ForgetRow(entry);
            entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.WaitExpired, $"no peer arrived within {_options.WaitExpiry.TotalMinutes:0.#} min"));
        }
        foreach (var entry in _table.RemoveWhere(e => e.State == EntryState.Claimed && now - e.StateSince >= _cluster.ClaimTimeout))
        {
            Log.ClaimLapsed(_log, entry.End.Link.EndName, _cluster.ClaimTimeout.TotalSeconds);
            entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.PeerGone, $"another middle of the cluster claimed this end for its peer but did not link in within {_cluster.ClaimTimeout.TotalSeconds:0} s; register again"));
        }
        if (_database.Reachable) return;
        foreach (var entry in _table.RemoveWhere(e => e.State == EntryState.LocalOnly && now - e.StateSince >= _cluster.OfflineWait))
        {
            entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.WaitExpired,
                $"the cluster database is unreachable, so this middle pairs only ends that reach it directly, and no peer arrived here within {_cluster.OfflineWait.TotalSeconds:0} s; pairing across middles resumes when the database returns"));
        }
    }

    // ---- row deletion ----------------------------------------------------------------------------------------

    /// <summary>Deletes rows of ends that left, in batches, off the link's path. Rows it cannot delete now are found by the next reconcile.</summary>
    private async Task DeleteLoopAsync()
    {
        var reader = _deletions.Reader;
        var batch = new List<Guid>();
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                while (batch.Count < 512 && reader.TryRead(out var id)) batch.Add(id);
                if (_database.Reachable)
                {
                    try
                    {
                        await _database.DeleteWaitingAsync(batch, _stop.Token).ConfigureAwait(false);
                    }
                    catch (ClusterUnavailableException)
                    {
                    }
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- reconcile -------------------------------------------------------------------------------------------

    /// <summary>
    /// Brings the table and this node's rows back in line after the database (or our LISTEN) was away: rows whose
    /// end left are deleted; ends whose row vanished were claimed meanwhile (or, if this node was declared dead,
    /// lost with it); ends stored here only get their row, or are sent to the node where their peer waits.
    /// </summary>
    private async Task ReconcileAsync(bool rejoined)
    {
        try
        {
            await _reconciling.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            var before = _table.States();
            var rows = await _database.WaitingRowsOfAsync(_membership.Self, _stop.Token).ConfigureAwait(false);
            var stale = rows.Where(id => !_table.Contains(id)).ToList();
            if (stale.Count > 0) await _database.DeleteWaitingAsync(stale, _stop.Token).ConfigureAwait(false);
            foreach (var (id, state) in before)
            {
                if (state != EntryState.Stored || rows.Contains(id)) continue;
                if (rejoined) _table.TryMove(id, EntryState.Stored, EntryState.LocalOnly, Now);
                else _table.TryMove(id, EntryState.Stored, EntryState.Claimed, Now);
            }
            var localOnly = _table.InState(EntryState.LocalOnly);
            var moved = 0;
            foreach (var entry in localOnly)
            {
                var peerAt = await _database.StoreUnlessPeerWaitsAsync(entry.End.CommonKey, RowName(entry.End), entry.Id, _membership.Self, _cluster.DeadAfter, _stop.Token).ConfigureAwait(false);
                if (peerAt is null)
                {
                    if (!_table.TryMove(entry.Id, EntryState.LocalOnly, EntryState.Stored, Now)) _deletions.Writer.TryWrite(entry.Id);
                    continue;
                }
                if (_table.Take(entry.Id) is null) continue;
                moved++;
                await RedirectAsync(entry.End, peerAt, "the cluster database is back and your peer waits at another middle: go there").ConfigureAwait(false);
            }
            Log.Reconciled(_log, stale.Count, localOnly.Count - moved, moved);
        }
        catch (Exception ex) when (ex is ClusterUnavailableException or OperationCanceledException)
        {
            // Gone again, or stopping: the next recovery reconciles.
        }
        finally
        {
            _reconciling.Release();
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
            ForgetRow(entry);
            if (target(entry.End) is { } to) await RedirectAsync(entry.End, to, "this middle is draining").ConfigureAwait(false);
            else entry.End.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.MiddleDraining, "this middle is draining and no other middle of the cluster is alive"));
        })).ConfigureAwait(false);
    }

    private async Task<RegisterResult> RefuseDrainingAsync(WaitingEnd end, string? target)
    {
        if (target is null) return new RegisterResult.Refused(ErrorCode.MiddleDraining, "this middle is draining and no other middle of the cluster is alive");
        await SendRedirectAsync(end, target, "this middle is draining").ConfigureAwait(false);
        return new RegisterResult.Refused(ErrorCode.MiddleDraining, $"this middle is draining; use {target}");
    }

    /// <summary>Tells a waiting end to move (REDIRECT), then ends its wait; it has no peer, so no relayed byte can interleave.</summary>
    private async Task RedirectAsync(WaitingEnd end, string target, string reason)
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

    public async ValueTask DisposeAsync()
    {
        _membership.Notified -= OnNotified;
        _membership.Recovered -= ReconcileAsync;
        await _stop.CancelAsync().ConfigureAwait(false);
        _deletions.Writer.TryComplete();
        await _expiry.ConfigureAwait(false);
        await _deleter.ConfigureAwait(false);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 620, Level = LogLevel.Information, Message = "end {End}: its peer waits at {Node}; handing it on")]
        public static partial void Forwarding(ILogger logger, string end, string node);

        [LoggerMessage(EventId = 621, Level = LogLevel.Information, Message = "end {End} registered again; the older waiting connection is dropped")]
        public static partial void Replaced(ILogger logger, string end);

        [LoggerMessage(EventId = 622, Level = LogLevel.Warning, Message = "end {End} waits at this node only (cluster database unreachable); told to move on after {Seconds:0} s without a peer here")]
        public static partial void StoredLocally(ILogger logger, string end, double seconds);

        [LoggerMessage(EventId = 623, Level = LogLevel.Warning, Message = "end {End} was claimed by another node that did not link in within {Seconds:0} s; told to register again")]
        public static partial void ClaimLapsed(ILogger logger, string end, double seconds);

        [LoggerMessage(EventId = 624, Level = LogLevel.Information, Message = "reconciled with the cluster database: {Stale} stale row(s) deleted, {Stored} end(s) stored, {Moved} end(s) sent to their peer's node")]
        public static partial void Reconciled(ILogger logger, int stale, int stored, int moved);
    }
}

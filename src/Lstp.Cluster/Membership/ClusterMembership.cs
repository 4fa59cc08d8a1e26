using System.Diagnostics;
using Lstp.Cluster.Store;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster.Membership;

/// <summary>
/// This node's place in the cluster: it joins, beats every <see cref="ClusterOptions.HeartbeatInterval"/>, deletes
/// nodes that stopped beating (and with them their waiting ends), keeps the list of live members, and LISTENs
/// for what other nodes tell it (a claim on one of its ends, a replaced end, a member joining or leaving).
/// After the database was unreachable it raises <see cref="Recovered"/> so the registry can reconcile.
/// </summary>
public sealed partial class ClusterMembership : IAsyncDisposable
{
    private readonly ClusterDatabase _database;
    private readonly ClusterOptions _options;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _beating = new();
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private volatile IReadOnlyList<ClusterMember> _members = [];
    private Task? _heartbeats;
    private Task? _listening;
    private int _left;

    public ClusterMembership(ClusterDatabase database, ClusterOptions options, Guid self, string name, string advertise, ILogger log)
    {
        _database = database;
        _options = options;
        Self = self;
        Name = name;
        Advertise = advertise;
        _log = log;
    }

    public Guid Self { get; }
    public string Name { get; }
    public string Advertise { get; }

    /// <summary>The channel other nodes NOTIFY to reach this node (claimed / replaced waiting ends).</summary>
    public string Channel => NodeChannel(Self);

    public static string NodeChannel(Guid node) => "lstp_node_" + node.ToString("N");

    public const string MembersChannel = "lstp_members";

    /// <summary>Live nodes as last read (this one included while it is a member).</summary>
    public IReadOnlyList<ClusterMember> Members => _members;

    /// <summary>Live nodes other than this one.</summary>
    public IReadOnlyList<ClusterMember> Others => [.. _members.Where(m => m.Id != Self)];

    /// <summary>A payload sent to this node's channel: "claimed:ID" or "replaced:ID".</summary>
    public event Action<string>? Notified;

    /// <summary>
    /// The database answers again after it did not, or the LISTEN connection was re-established (so notifications
    /// may have been missed). The argument is true when this node's row had been deleted meanwhile (declared
    /// dead), so every waiting row it held is gone too.
    /// </summary>
    public event Func<bool, Task>? Recovered;

    /// <summary>Adds this node's row and starts the heartbeat and LISTEN loops. Throws if the database cannot be reached.</summary>
    public async Task JoinAsync(CancellationToken cancellationToken)
    {
        await _database.JoinAsync(Self, Name, Advertise, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        Log.Joined(_log, Name, Advertise, _members.Count);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _listening = Task.Run(() => ListenLoopAsync(listening));
        _heartbeats = Task.Run(HeartbeatLoopAsync);
        // Claims for this node's ends are announced on its channel: be listening before any end registers here.
        await listening.Task.WaitAsync(_options.StartupTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rereads the live members (best effort: on failure the last list stays).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var before = _members;
            var now = await _database.MembersAsync(_options.DeadAfter, cancellationToken).ConfigureAwait(false);
            _members = now;
            if (before.Count > 0 && !before.Select(m => m.Id).Order().SequenceEqual(now.Select(m => m.Id).Order()))
            {
                Log.MembersChanged(_log, string.Join(", ", now.Select(m => $"{m.Name}@{m.Advertise}")));
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private async Task HeartbeatLoopAsync()
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _beating.Token);
        var token = both.Token;
        var wasReachable = true;
        var reachableSince = Stopwatch.GetTimestamp();
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HeartbeatInterval, token).ConfigureAwait(false);
                var present = await _database.HeartbeatAsync(Self, Name, Advertise, token).ConfigureAwait(false);
                if (!present) Log.Rejoined(_log, Name);
                if (!wasReachable) reachableSince = Stopwatch.GetTimestamp();
                // After an outage every heartbeat in the table is old: give the other nodes a full DeadAfter to
                // beat again before judging them, or the first node back would delete all the others.
                if (Stopwatch.GetElapsedTime(reachableSince) >= _options.DeadAfter)
                {
                    foreach (var dead in await _database.ReapAsync(_options.DeadAfter, token).ConfigureAwait(false))
                    {
                        Log.Reaped(_log, dead, _options.DeadAfter.TotalSeconds);
                    }
                }
                await RefreshAsync(token).ConfigureAwait(false);
                if (!wasReachable || !present)
                {
                    wasReachable = true;
                    await RaiseRecoveredAsync(rejoined: !present).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (ClusterUnavailableException)
            {
                // Logged once by the database when it becomes unreachable; keep beating until it answers.
                wasReachable = false;
            }
            catch (Exception ex)
            {
                wasReachable = false;
                Log.HeartbeatFailed(_log, ex.Message);
            }
        }
    }

    private async Task ListenLoopAsync(TaskCompletionSource firstListen)
    {
        var token = _stop.Token;
        var first = true;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _database.ListenAsync([MembersChannel, Channel], OnNotification, () =>
                {
                    if (first)
                    {
                        first = false;
                        firstListen.TrySetResult();
                    }
                    else
                    {
                        // Notifications sent while we were not listening are lost: reconcile with the table.
                        _ = RaiseRecoveredAsync(rejoined: false);
                    }
                }, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Unreachable (logged by the database); try again shortly.
            }
            try { await Task.Delay(_options.HeartbeatInterval / 2, token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }

    private void OnNotification(string channel, string payload)
    {
        if (channel == MembersChannel)
        {
            _ = RefreshQuietlyAsync();
            return;
        }
        Notified?.Invoke(payload);
    }

    private async Task RefreshQuietlyAsync()
    {
        try { await RefreshAsync(_stop.Token).ConfigureAwait(false); }
        catch (Exception) { }
    }

    private async Task RaiseRecoveredAsync(bool rejoined)
    {
        if (Recovered is not { } handlers) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Func<bool, Task>>())
        {
            try { await handler(rejoined).ConfigureAwait(false); }
            catch (Exception ex) { Log.HeartbeatFailed(_log, $"reconciling after the database returned: {ex.Message}"); }
        }
    }

    /// <summary>Deletes this node's row (and its waiting rows) and stops beating: other nodes stop sending ends here at once.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _left, 1) == 1) return;
        // Stop beating first: a heartbeat that found the row gone would add it back.
        await _beating.CancelAsync().ConfigureAwait(false);
        if (_heartbeats is not null) await _heartbeats.ConfigureAwait(false);
        try
        {
            await _database.LeaveAsync(Self, cancellationToken).ConfigureAwait(false);
            Log.Left(_log, Name);
        }
        catch (Exception ex) when (ex is ClusterUnavailableException or OperationCanceledException)
        {
            // The others will find this node dead after DeadAfter and delete it then.
            Log.LeaveFailed(_log, Name, _options.DeadAfter.TotalSeconds);
        }
    }

    /// <summary>Stops beating and listening without leaving: what a crash (kill -9) looks like to the other nodes.</summary>
    public async Task AbandonAsync()
    {
        Interlocked.Exchange(ref _left, 1);
        await StopBeatingAsync().ConfigureAwait(false);
    }

    private async Task StopBeatingAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_heartbeats is not null) await _heartbeats.ConfigureAwait(false);
        if (_listening is not null) await _listening.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await LeaveAsync(timeout.Token).ConfigureAwait(false);
        }
        await StopBeatingAsync().ConfigureAwait(false);
        _stop.Dispose();
        _beating.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "joined the cluster as {Name} at {Advertise}; {Count} node(s) alive")]
        public static partial void Joined(ILogger logger, string name, string advertise, int count);

        [LoggerMessage(EventId = 611, Level = LogLevel.Information, Message = "cluster members now: {Members}")]
        public static partial void MembersChanged(ILogger logger, string members);

        [LoggerMessage(EventId = 612, Level = LogLevel.Warning, Message = "node {Name} missed heartbeats for {Seconds:0} s: deleted it and its waiting ends")]
        public static partial void Reaped(ILogger logger, string name, double seconds);

        [LoggerMessage(EventId = 613, Level = LogLevel.Warning, Message = "{Name} had been declared dead by the cluster (no heartbeat reached the database); joined again")]
        public static partial void Rejoined(ILogger logger, string name);

        [LoggerMessage(EventId = 614, Level = LogLevel.Information, Message = "{Name} left the cluster")]
        public static partial void Left(ILogger logger, string name);

        [LoggerMessage(EventId = 615, Level = LogLevel.Warning, Message = "{Name} could not leave the cluster cleanly (database unreachable); the others drop it after {Seconds:0} s")]
        public static partial void LeaveFailed(ILogger logger, string name, double seconds);

        [LoggerMessage(EventId = 616, Level = LogLevel.Warning, Message = "cluster heartbeat failed: {Reason}")]
        public static partial void HeartbeatFailed(ILogger logger, string reason);
    }
}

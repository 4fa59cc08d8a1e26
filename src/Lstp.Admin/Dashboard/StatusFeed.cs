using System.Text;
using System.Text.Json;
using Lstp.Admin.Views;
using Lstp.Middle;
using Lstp.Protocol;
using Microsoft.Extensions.Logging;

namespace Lstp.Admin.Dashboard;

/// <summary>
/// The middle's status, once per tick: it samples traffic rates and new errors, builds the status, and
/// publishes it to every /api/events stream. One loop however many viewers; viewers only wait for the next
/// published message.
/// </summary>
public sealed partial class StatusFeed : IAsyncDisposable
{
    private readonly MiddleNode _node;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private Published _latest;
    private TaskCompletionSource<Published> _next = NewNext();
    private long _version;
    private int _streams;

    /// <summary>One status message as the event stream sends it (<c>data: JSON</c> and a blank line).</summary>
    public sealed record Published(long Version, byte[] Event);

    public StatusFeed(MiddleNode node, ILogger log)
    {
        _node = node;
        _log = log;
        _latest = Publish();
        _loop = Task.Run(LoopAsync);
    }

    public TrafficRates Rates { get; } = new();
    public RecentErrors Errors { get; } = new();

    /// <summary>Records an error as the middle sends it, with its reason and the end's address.</summary>
    public void OnErrorSent(ErrorCode code, string reason, string from) => Errors.Record(code, 1, reason, from, _node.Options.Time.GetUtcNow());

    /// <summary>The status now: live byte counters, the last sampled rates and errors.</summary>
    public StatusView Build()
    {
        var metrics = _node.Metrics;
        var tunnels = _node.Tunnels.Snapshot().Select(t => TunnelView.From(t, Rates)).ToList();
        var waiting = _node.Registry.Snapshot().Select(w => new WaitingView(w.Link.EndName, w.Link.Remote, w.Since, w.Link.Info?.Flags.HasFlag(Lstp.Protocol.Messages.SetupFlags.Resuming) == true)).ToList();
        var self = new MemberView(
            _node.Options.Name, _node.Self.Address, Convert.ToHexString(_node.NodeId).ToLowerInvariant(), Self: true,
            Health: "up", _node.StartedAt, tunnels.Count, waiting.Count);
        var totals = new TotalsView(
            metrics.Connections, metrics.Pairings, metrics.BytesRelayed, metrics.Errors.Values.Sum(),
            tunnels.Sum(t => (long)t.Channels), tunnels.Sum(t => t.RateFirstToSecond + t.RateSecondToFirst));
        return new StatusView(
            _node.Options.Name, _node.Self.Address, _node.StartedAt, _node.Options.Time.GetUtcNow(), totals,
            tunnels, waiting, Errors.Snapshot(), Cluster(self));
    }

    /// <summary>The cluster's members as its membership lists them; null for a standalone middle.</summary>
    public Func<IReadOnlyList<ClusterMemberInfo>>? Members { get; set; }

    private ClusterView Cluster(MemberView self)
    {
        if (Members is not { } members) return new ClusterView("standalone", [self]);
        IReadOnlyList<ClusterMemberInfo> listed;
        try
        {
            listed = members();
        }
        catch (Exception ex)
        {
            return new ClusterView($"cluster (membership unavailable: {ex.Message})", [self]);
        }
        var others = listed
            .Where(m => m.Name != self.Name && m.Address != self.Address)
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .Select(m => new MemberView(m.Name, m.Address, m.Id, Self: false, Health: m.Health, null, null, null));
        return new ClusterView("cluster", [self, .. others]);
    }

    public IReadOnlyList<TunnelView> Tunnels() => [.. _node.Tunnels.Snapshot().Select(t => TunnelView.From(t, Rates))];

    /// <summary>The first message newer than <paramref name="after"/>: at once if there is one, else at the next tick.</summary>
    public async Task<Published> NextAsync(long after, CancellationToken cancellationToken)
    {
        // Read the pending tick before the latest message: a tick publishes the latest first, then completes it.
        var next = Volatile.Read(ref _next).Task;
        var latest = Volatile.Read(ref _latest);
        return latest.Version > after ? latest : await next.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Counts an event stream in; false when <see cref="AdminLimits.EventStreams"/> are open already.</summary>
    public bool TryOpenStream()
    {
        if (Interlocked.Increment(ref _streams) <= AdminLimits.EventStreams) return true;
        Interlocked.Decrement(ref _streams);
        return false;
    }

    public void CloseStream() => Interlocked.Decrement(ref _streams);

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(AdminLimits.Tick, _node.Options.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    var published = Publish();
                    Volatile.Write(ref _latest, published);
                    Interlocked.Exchange(ref _next, NewNext()).TrySetResult(published);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A bug in one tick must not freeze the dashboard: say so and try again next tick.
                    Log.TickFailed(_log, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private Published Publish()
    {
        Rates.Sample(_node.Tunnels.Snapshot().Select(t => (t.Id, Interlocked.Read(ref t.First.BytesIn), Interlocked.Read(ref t.Second.BytesIn))), _node.Options.Time);
        var json = JsonSerializer.Serialize(Build(), JsonSerializerOptions.Web);
        return new Published(Interlocked.Increment(ref _version), Encoding.UTF8.GetBytes($"data: {json}\n\n"));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private static TaskCompletionSource<Published> NewNext() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static partial class Log
    {
        [LoggerMessage(EventId = 710, Level = LogLevel.Warning, Message = "the dashboard's status tick failed: {Reason}")]
        public static partial void TickFailed(ILogger logger, string reason);
    }
}

using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Middle.Relay;
using Lstp.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster.Drain;

/// <summary>
/// Where a draining node sends each of its ends: a tunnel's ends to a live node already on the tunnel's path
/// (so they meet there again and the path gets shorter), anything else to the live nodes in turn.
/// </summary>
internal sealed class RedirectTargets(IReadOnlyList<string> others)
{
    private int _next;

    public bool Any => others.Count > 0;

    public string? ForEnd(WaitingEnd _) => Next();

    public string? ForTunnel(TunnelRecord tunnel)
    {
        foreach (var entry in tunnel.Path)
        {
            if (entry.Kind == NodeKind.Middle && others.Contains(entry.Address)) return entry.Address;
        }
        return Next();
    }

    private string? Next() => others.Count == 0 ? null : others[(int)((uint)Interlocked.Increment(ref _next) % (uint)others.Count)];
}

/// <summary>
/// The tunnel half of draining a node (SIGTERM): tunnels that report no open channel are told to move at once;
/// the others keep relaying for the grace period, and are told to move as soon as their channels close or the
/// grace period ends. The end proxies re-register wherever they are sent and pair again there.
/// </summary>
internal static partial class NodeDrain
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>After the last tunnel is told, how long the ends get to close their links before the host stops.</summary>
    private static readonly TimeSpan LinksClose = TimeSpan.FromSeconds(2);

    public static async Task RunAsync(MiddleNode node, RedirectTargets targets, TimeSpan grace, ILogger log, CancellationToken cancellationToken)
    {
        var time = node.Options.Time;
        var started = time.GetTimestamp();
        var told = new HashSet<string>(StringComparer.Ordinal);
        var redirected = 0;
        var busy = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var tunnels = node.Tunnels.Snapshot();
            if (tunnels.Count == 0) break;
            var overdue = time.GetElapsedTime(started) >= grace;
            foreach (var tunnel in tunnels)
            {
                if (told.Contains(tunnel.Id) || (tunnel.ReportedChannels > 0 && !overdue)) continue;
                told.Add(tunnel.Id);
                if (overdue) busy++;
                redirected += await RedirectAsync(node, tunnel, targets.ForTunnel(tunnel)).ConfigureAwait(false);
            }
            if (overdue) break;
            try { await Task.Delay(Poll, time, cancellationToken).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
        Log.TunnelsDrained(log, redirected, busy, grace.TotalSeconds);

        var waitUntil = time.GetTimestamp();
        while (!node.Links.IsEmpty && time.GetElapsedTime(waitUntil) < LinksClose && !cancellationToken.IsCancellationRequested)
        {
            try { await Task.Delay(Poll, time, cancellationToken).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>An end's own link at this node (a node link's path ends with the middle that handed the end on).</summary>
    private static bool IsEndLinkHere(MiddleNode node, LinkSession link) =>
        node.Links.ContainsKey(link) && link.Topology is { } path && path.Entries.All(e => e.Kind == NodeKind.End);

    /// <summary>
    /// Sends REDIRECT to the tunnel's end links at this node, between relay frames: the relay holds a link's
    /// output lock from a RELAY header to the frame's last byte, and SendAsync takes that lock.
    /// </summary>
    private static async Task<int> RedirectAsync(MiddleNode node, TunnelRecord tunnel, string? target)
    {
        var count = 0;
        foreach (var link in new[] { tunnel.First, tunnel.Second }.Where(l => IsEndLinkHere(node, l)))
        {
            if (target is null)
            {
                link.Abort("this middle is draining and no other middle of the cluster is alive");
                continue;
            }
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await link.Output.SendAsync(new Redirect(target, "this middle is draining"), timeout.Token).ConfigureAwait(false);
                count++;
            }
            catch (Exception)
            {
                link.Abort("this middle is draining");
            }
        }
        return count;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 631, Level = LogLevel.Information, Message = "drain: {Redirected} end link(s) told to move; {Busy} tunnel(s) still had channels open when the {Grace:0} s grace period ended")]
        public static partial void TunnelsDrained(ILogger logger, int redirected, int busy, double grace);
    }
}

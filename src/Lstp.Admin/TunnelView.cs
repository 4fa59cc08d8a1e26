using Lstp.Middle;
using Lstp.Middle.Relay;

namespace Lstp.Admin;

/// <summary>The JSON shape of /api/tunnels, shared by the dashboard and `lstp status`.</summary>
public sealed record TunnelView(
    string Id,
    IReadOnlyList<string> Ends,
    IReadOnlyList<PathEntryView> Path,
    int Channels,
    long BytesFirstToSecond,
    long BytesSecondToFirst,
    DateTimeOffset Since)
{
    public static TunnelView From(TunnelRecord t) => new(
        t.Id,
        [t.First.EndName, t.Second.EndName],
        [.. t.Path.Select(e => new PathEntryView(e.Kind.ToString().ToLowerInvariant(), e.Name, e.Address))],
        t.ReportedChannels,
        Interlocked.Read(ref t.First.BytesIn),
        Interlocked.Read(ref t.Second.BytesIn),
        t.Since);
}

/// <summary>One proxy on a tunnel's path.</summary>
public sealed record PathEntryView(string Kind, string Name, string Address);

/// <summary>An end waiting for its peer.</summary>
public sealed record WaitingView(string End, string From, DateTimeOffset Since);

/// <summary>The whole of /api/status: this node, its tunnels and its waiting ends.</summary>
public sealed record StatusView(string Node, string Address, DateTimeOffset StartedAt, IReadOnlyList<TunnelView> Tunnels, IReadOnlyList<WaitingView> Waiting)
{
    public static StatusView From(MiddleNode node) => new(
        node.Options.Name,
        node.Self.Address,
        node.StartedAt,
        [.. node.Tunnels.Snapshot().Select(TunnelView.From)],
        [.. node.Registry.Snapshot().Select(w => new WaitingView(w.Link.EndName, w.Link.Remote, w.Since))]);
}

namespace Lstp.Admin.Views;

/// <summary>The whole of /api/status, and of each /api/events message: this node, its tunnels, waiting ends, recent errors, cluster.</summary>
public sealed record StatusView(
    string Node,
    string Address,
    DateTimeOffset StartedAt,
    DateTimeOffset Now,
    TotalsView Totals,
    IReadOnlyList<TunnelView> Tunnels,
    IReadOnlyList<WaitingView> Waiting,
    IReadOnlyList<ErrorView> Errors,
    ClusterView Cluster);

/// <summary>This node's running totals since it started.</summary>
public sealed record TotalsView(long Connections, long Pairings, long BytesRelayed, long Errors, long Channels, long Rate);

/// <summary>An end waiting for its peer.</summary>
public sealed record WaitingView(string End, string From, DateTimeOffset Since, bool Resuming = false);

/// <summary>An error this middle sent to an end, by code; <see cref="Count"/> of them when several arrived in one sample.</summary>
public sealed record ErrorView(DateTimeOffset At, string Code, int Number, int Count, string? Reason, string? From);

/// <summary>The nodes this middle pairs with: itself alone, or the members of its cluster.</summary>
public sealed record ClusterView(string Mode, IReadOnlyList<MemberView> Members);

/// <summary>
/// One middle node and its health as this node sees it. Its start time and counts are known for this node only;
/// another member is listed while its heartbeat is current (the cluster reaps silent nodes).
/// </summary>
public sealed record MemberView(string Name, string Address, string? NodeId, bool Self, string Health, DateTimeOffset? Since, int? Tunnels, int? Waiting);

/// <summary>A cluster member as the cluster's membership lists it, for <see cref="MemberView"/>.</summary>
public sealed record ClusterMemberInfo(string Name, string Address, string? Id, string Health = "up");

using Lstp.Admin.Dashboard;
using Lstp.Middle.Relay;

namespace Lstp.Admin.Views;

/// <summary>
/// One tunnel as /api/tunnels, the dashboard and `lstp status` show it: its ends, its path of proxies from
/// TOPOLOGY_EXCHANGE, the channel count the ends report, and the relayed bytes and rates each way.
/// </summary>
public sealed record TunnelView(
    string Id,
    IReadOnlyList<string> Ends,
    IReadOnlyList<PathEntryView> Path,
    int Channels,
    long BytesFirstToSecond,
    long BytesSecondToFirst,
    long RateFirstToSecond,
    long RateSecondToFirst,
    DateTimeOffset Since,
    bool Resumed = false)
{
    public static TunnelView From(TunnelRecord t, TrafficRates rates)
    {
        var rate = rates.Of(t.Id);
        return new(
            t.Id,
            [t.First.EndName, t.Second.EndName],
            [.. t.Path.Select(e => new PathEntryView(e.Kind.ToString().ToLowerInvariant(), e.Name, e.Address))],
            t.ReportedChannels,
            Interlocked.Read(ref t.First.BytesIn),
            Interlocked.Read(ref t.Second.BytesIn),
            rate.FirstToSecond,
            rate.SecondToFirst,
            t.Since,
            t.Resumed);
    }
}

/// <summary>One proxy on a tunnel's path: kind (end or middle), name, and the address it gave.</summary>
public sealed record PathEntryView(string Kind, string Name, string Address);

using System.Collections.Concurrent;

namespace Lstp.Middle.Relay;

/// <summary>The paired tunnels this middle relays, for the admin API and metrics.</summary>
public sealed class TunnelBook
{
    private readonly ConcurrentDictionary<string, TunnelRecord> _tunnels = new();

    public void Add(TunnelRecord tunnel) => _tunnels[tunnel.Id] = tunnel;

    /// <summary>Removes the tunnel; true for the one of its two links that removed it.</summary>
    public bool Remove(TunnelRecord tunnel) => _tunnels.TryRemove(tunnel.Id, out _);

    public IReadOnlyList<TunnelRecord> Snapshot() => [.. _tunnels.Values.OrderBy(t => t.Since)];

    public int Count => _tunnels.Count;
}

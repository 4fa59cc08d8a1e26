using System.Net;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// The service end's permissions for helper data connections. Each grant is one port a service announced on an
/// open control connection: it is taken by one data channel, lapses after <see cref="HelperLimits.DataConnectionWait"/>,
/// and is revoked when its control connection closes. The host is the control connection's own peer address,
/// so a data connection reaches exactly the server that announced it (nf_conntrack_ftp's expectations work alike).
/// </summary>
public sealed class DataGrants(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly List<Grant> _grants = [];

    private sealed record Grant(DataGrantScope Owner, string Service, IPAddress Host, int Port, long At);

    /// <summary>Opens the grants of one control connection to <paramref name="service"/> at <paramref name="host"/>.</summary>
    public DataGrantScope Open(string service, IPAddress host) => new(this, service, host);

    /// <summary>Takes the grant for a data connection to <paramref name="port"/> of <paramref name="service"/>, if there is one.</summary>
    public bool TryTake(string service, int port, out IPAddress host)
    {
        lock (_lock)
        {
            Purge();
            var index = _grants.FindIndex(g => g.Port == port && g.Service == service);
            if (index < 0)
            {
                host = IPAddress.None;
                return false;
            }
            host = _grants[index].Host;
            _grants.RemoveAt(index);
            return true;
        }
    }

    /// <summary>Grants open now (for tests and diagnostics).</summary>
    public int Count
    {
        get { lock (_lock) { Purge(); return _grants.Count; } }
    }

    internal void Add(DataGrantScope owner, int port)
    {
        lock (_lock)
        {
            Purge();
            _grants.Add(new Grant(owner, owner.Service, owner.Host, port, time.GetTimestamp()));
        }
    }

    internal void Revoke(DataGrantScope owner)
    {
        lock (_lock) _grants.RemoveAll(g => ReferenceEquals(g.Owner, owner));
    }

    private void Purge() => _grants.RemoveAll(g => time.GetElapsedTime(g.At) > HelperLimits.DataConnectionWait);
}

/// <summary>The grants of one control connection: what its watcher may grant, revoked together when it closes.</summary>
public sealed class DataGrantScope : IDisposable
{
    private readonly DataGrants _grants;
    private bool _closed;

    internal DataGrantScope(DataGrants grants, string service, IPAddress host)
    {
        _grants = grants;
        Service = service;
        Host = host;
    }

    public string Service { get; }

    /// <summary>The service's address as this control connection reached it.</summary>
    public IPAddress Host { get; }

    /// <summary>Allows one data connection to <paramref name="port"/> on <see cref="Host"/>; false for a port no service may announce.</summary>
    public bool Grant(int port)
    {
        if (_closed || port < HelperLimits.LowestDataPort || port > 65535) return false;
        _grants.Add(this, port);
        return true;
    }

    public void Dispose()
    {
        _closed = true;
        _grants.Revoke(this);
    }
}

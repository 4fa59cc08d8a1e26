using System.Net;
using Lstp.Transport;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Lstp.Admin.Hosting;

/// <summary>Turns the HOST:PORT users write into what Kestrel binds, and back into what was bound.</summary>
public static class ListenAddress
{
    public static IPEndPoint Resolve(HostPort address)
    {
        if (IPAddress.TryParse(address.Host, out var ip)) return new IPEndPoint(ip, address.Port);
        if (address.Host == "localhost") return new IPEndPoint(IPAddress.Loopback, address.Port);
        var resolved = Dns.GetHostAddresses(address.Host);
        if (resolved.Length == 0) throw new InvalidOperationException($"cannot resolve listen address {address}");
        return new IPEndPoint(resolved[0], address.Port);
    }

    /// <summary>The address as asked, with the port Kestrel actually bound (port 0 resolved).</summary>
    public static HostPort Bound(ListenOptions listen, HostPort asked) =>
        listen.EndPoint is IPEndPoint ip ? Bound(ip, asked) : asked;

    /// <summary>The address as asked, with the port a socket actually bound (port 0 resolved).</summary>
    public static HostPort Bound(IPEndPoint bound, HostPort asked) => new(asked.Host, bound.Port);
}

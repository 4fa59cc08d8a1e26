using System.Net.Sockets;
using Lstp.EndProxy.Services;
using Lstp.Protocol;
using Lstp.Transport;
using Lstp.Tunnel.Session;

namespace Lstp.EndProxy.Policy;

/// <summary>
/// The server end's enforcement of its allow-list for SOCKS and CONNECT channels: every request is checked,
/// then each resolved address is checked again at dial time, so a name that resolves to a forbidden address
/// is refused (DNS rebinding, or a name pointed at loopback or cloud metadata).
/// </summary>
public sealed class DestinationPolicy(AllowList allow, Func<string, CancellationToken, Task<System.Net.IPAddress[]>>? resolve = null) : IDestinationPolicy
{
    public AllowList Allow => allow;

    public async ValueTask<TargetDial> DialAsync(string host, ushort port, CancellationToken cancellationToken)
    {
        if (allow.IsEmpty) return TargetDial.Refused(ErrorCode.NotAllowed, $"{host}:{port} is not allowed: this end allows no destinations (see --allow)");
        System.Net.IPAddress? address;
        AllowDecision decision;
        try
        {
            (address, decision) = await Resolver.ResolveAndCheckAsync(allow, host, port, resolve ?? Resolver.SystemDns, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            return TargetDial.Refused(ErrorCode.TargetUnreachable, $"cannot resolve {host}: {ex.SocketErrorCode}");
        }
        if (address is null) return TargetDial.Refused(ErrorCode.NotAllowed, decision.Reason);
        return await ServiceCatalog.DialTcpAsync(new HostPort(address.ToString(), port), cancellationToken).ConfigureAwait(false);
    }
}

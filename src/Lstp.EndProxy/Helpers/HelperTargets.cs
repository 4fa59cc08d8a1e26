using System.Net;
using System.Net.Sockets;
using Lstp.EndProxy.Services;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// The service end's side of application helpers, around its usual answer to SERVICE_BEGIN_REQUEST: a control
/// channel to a service the peer runs a helper for (its <c>helper</c> announcements) gets a tap that lets the
/// helper watch it; a data channel (<see cref="HelperDataTarget"/>) is dialled only to a port the service
/// announced on an open control connection (<see cref="DataGrants"/>). Everything else goes to <paramref name="inner"/>.
/// </summary>
public sealed partial class HelperTargets(
    ITargetDialer inner,
    Func<CancellationToken, Task<EndProperties?>> peer,
    DataGrants grants,
    ILogger log) : ITargetDialer
{
    public DataGrants Grants => grants;

    public async ValueTask<TargetDial> DialAsync(ServiceBeginRequest request, CancellationToken cancellationToken)
    {
        if (request.Kind == TargetKind.Destination && HelperDataTarget.TryParse(request.Target, out var data))
        {
            return await DialDataAsync(data, request.Port, cancellationToken).ConfigureAwait(false);
        }
        var dialled = await inner.DialAsync(request, cancellationToken).ConfigureAwait(false);
        if (request.Kind != TargetKind.Service || dialled.Socket is not { } service) return dialled;
        var helper = await PeerHelperAsync(request.Target, cancellationToken).ConfigureAwait(false);
        if (helper is null) return dialled;
        var address = ((IPEndPoint)service.RemoteEndPoint!).Address;
        var scope = grants.Open(request.Target, address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
        try
        {
            var watcher = helper.Watch(scope, log);
            return TargetDial.Connected(await ServiceTap.StartAsync(service, watcher, scope, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            scope.Dispose();
            service.Dispose();
            return TargetDial.Refused(ErrorCode.Internal, $"the {helper.Protocol} helper could not start: {ex.Message}");
        }
    }

    private async ValueTask<TargetDial> DialDataAsync(HelperDataTarget data, ushort port, CancellationToken cancellationToken)
    {
        if (!grants.TryTake(data.Service, port, out var host))
        {
            Log.DataRefused(log, data.ToString(), port);
            return TargetDial.Refused(ErrorCode.NotAllowed,
                $"no open {data.Protocol} control connection of service '{data.Service}' announced data port {port} in the last {HelperLimits.DataConnectionWait.TotalSeconds:0} s");
        }
        return await ServiceCatalog.DialTcpAsync(new HostPort(host.ToString(), port), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The helper the peer announced for <paramref name="service"/>, when this build has it.</summary>
    private async Task<IApplicationHelper?> PeerHelperAsync(string service, CancellationToken cancellationToken)
    {
        var properties = await peer(cancellationToken).ConfigureAwait(false);
        if (properties is null) return null;
        foreach (var announced in properties.Helpers)
        {
            if (HelperSpec.TryParseAnnouncement(announced, out var spec) && spec.Service == service && ApplicationHelpers.Known.TryGetValue(spec.Protocol, out var helper))
            {
                return helper;
            }
        }
        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 560, Level = LogLevel.Warning, Message = "helper data channel to {Target}:{Port} refused: no control connection announced that port")]
        public static partial void DataRefused(ILogger logger, string target, int port);
    }
}

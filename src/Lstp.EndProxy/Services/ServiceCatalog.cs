using System.Net.Sockets;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Session;

namespace Lstp.EndProxy.Services;

/// <summary>
/// The accepting end's answer to SERVICE_BEGIN_REQUEST: named services dial their configured target; anything
/// else is refused with a code the opener can map (UnknownService, TargetRefused, TargetUnreachable).
/// </summary>
public sealed class ServiceCatalog(IReadOnlyList<ServiceSpec> services, IDestinationPolicy? destinations = null) : ITargetDialer
{
    /// <summary>How long dialling a target may take before the channel is refused as unreachable.</summary>
    public static readonly TimeSpan DialTimeout = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, ServiceSpec> _byName = services.ToDictionary(s => s.Name, StringComparer.Ordinal);

    public IReadOnlyList<string> Names => [.. _byName.Keys];

    public async ValueTask<TargetDial> DialAsync(ServiceBeginRequest request, CancellationToken cancellationToken)
    {
        if (request.Kind == TargetKind.Destination)
        {
            return destinations is null
                ? TargetDial.Refused(ErrorCode.NotAllowed, $"this end allows no destinations ({request.Target}:{request.Port} refused; see --allow)")
                : await destinations.DialAsync(request.Target, request.Port, cancellationToken).ConfigureAwait(false);
        }
        if (!_byName.TryGetValue(request.Target, out var service))
        {
            return TargetDial.Refused(ErrorCode.UnknownService, $"this end offers no service '{request.Target}' (it offers: {string.Join(", ", _byName.Keys.DefaultIfEmpty("none"))})");
        }
        return await DialTcpAsync(service.Target, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Dials a TCP target and sorts the failure into the code SERVICE_BEGIN_NACK carries.</summary>
    public static async ValueTask<TargetDial> DialTcpAsync(HostPort target, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DialTimeout);
        try
        {
            return TargetDial.Connected(await TcpDialer.ConnectSocketAsync(target, timeout.Token).ConfigureAwait(false));
        }
        catch (DialException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            return TargetDial.Refused(ErrorCode.TargetRefused, $"{target} refused the connection");
        }
        catch (DialException ex)
        {
            return TargetDial.Refused(ErrorCode.TargetUnreachable, ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return TargetDial.Refused(ErrorCode.TargetUnreachable, $"{target} did not answer within {DialTimeout.TotalSeconds:0} s");
        }
    }
}

/// <summary>Decides and dials SOCKS/CONNECT destinations (the allow-list); implemented by the policy layer.</summary>
public interface IDestinationPolicy
{
    ValueTask<TargetDial> DialAsync(string host, ushort port, CancellationToken cancellationToken);
}

using System.Net.Sockets;
using Lstp.Protocol;
using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Session;

/// <summary>The accepting end's side of SERVICE_BEGIN_REQUEST: decide whether the target may be reached, and dial it.</summary>
public interface ITargetDialer
{
    ValueTask<TargetDial> DialAsync(ServiceBeginRequest request, CancellationToken cancellationToken);
}

/// <summary>A dialled target (its socket) or why not (the code and reason that go into SERVICE_BEGIN_NACK).</summary>
public sealed record TargetDial(Socket? Socket, ErrorCode Code, string Reason)
{
    public static TargetDial Connected(Socket socket) => new(socket, ErrorCode.None, "connected");
    public static TargetDial Refused(ErrorCode code, string reason) => new(null, code, reason);
}

/// <summary>An end that offers nothing: every SERVICE_BEGIN_REQUEST is refused.</summary>
public sealed class NoTargets : ITargetDialer
{
    public static readonly NoTargets Instance = new();

    public ValueTask<TargetDial> DialAsync(ServiceBeginRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(TargetDial.Refused(ErrorCode.UnknownService, $"this end offers no {request.Describe()}"));
}

using System.Net.Sockets;
using Lstp.Protocol;

namespace Lstp.EndProxy.EntryPoints;

/// <summary>
/// Translates why the tunnel could not open a channel (the peer's NACK code, or a local failure) into
/// what each entry point's client understands: a SOCKS5 reply code or an HTTP status.
/// </summary>
public static class RefusalMapping
{
    /// <summary>The SOCKS5 reply (RFC 1928 §6) for a refusal code.</summary>
    public static Socks5Reply ToSocks5Reply(ErrorCode code) => code switch
    {
        ErrorCode.None => Socks5Reply.Succeeded,
        // The peer has no exit for this destination: its allow-list, or no such service.
        ErrorCode.NotAllowed or ErrorCode.UnknownService => Socks5Reply.NotAllowedByRuleset,
        ErrorCode.TargetRefused => Socks5Reply.ConnectionRefused,
        ErrorCode.TargetUnreachable => Socks5Reply.HostUnreachable,
        // Tor and others use TTL expired for timeouts; clients show it as "timed out".
        ErrorCode.SetupTimeout or ErrorCode.WaitExpired or ErrorCode.KeepaliveTimeout => Socks5Reply.TtlExpired,
        _ => Socks5Reply.GeneralFailure,
    };

    /// <summary>The HTTP status for a refusal code: 403 for policy, 502 for the target or tunnel, 503 for capacity, 504 for timeouts.</summary>
    public static HttpStatusLine ToHttpStatus(ErrorCode code) => code switch
    {
        ErrorCode.None => HttpStatusLine.ConnectionEstablished,
        ErrorCode.NotAllowed or ErrorCode.UnknownService => HttpStatusLine.Forbidden,
        ErrorCode.TooManyChannels or ErrorCode.TooManyWaiting or ErrorCode.RateLimited or ErrorCode.MiddleDraining
            => HttpStatusLine.ServiceUnavailable,
        ErrorCode.SetupTimeout or ErrorCode.WaitExpired or ErrorCode.KeepaliveTimeout => HttpStatusLine.GatewayTimeout,
        _ => HttpStatusLine.BadGateway,
    };

    /// <summary>
    /// The code the server end puts in SERVICE_BEGIN_NACK when dialling the target fails: a refusal
    /// (RST) is <see cref="ErrorCode.TargetRefused"/>, everything else that kept the connection from
    /// forming (no route, no answer, no such name) is <see cref="ErrorCode.TargetUnreachable"/>.
    /// </summary>
    public static ErrorCode FromSocketError(SocketError error) =>
        error == SocketError.ConnectionRefused ? ErrorCode.TargetRefused : ErrorCode.TargetUnreachable;
}

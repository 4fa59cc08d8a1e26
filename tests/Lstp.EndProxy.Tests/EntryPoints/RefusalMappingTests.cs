using System.Net.Sockets;
using Lstp.EndProxy.EntryPoints;
using Lstp.Protocol;

namespace Lstp.EndProxy.Tests.EntryPoints;

public class RefusalMappingTests
{
    [Theory]
    [InlineData(ErrorCode.None, Socks5Reply.Succeeded, 200)]
    [InlineData(ErrorCode.NotAllowed, Socks5Reply.NotAllowedByRuleset, 403)]
    [InlineData(ErrorCode.UnknownService, Socks5Reply.NotAllowedByRuleset, 403)]
    [InlineData(ErrorCode.TargetRefused, Socks5Reply.ConnectionRefused, 502)]
    [InlineData(ErrorCode.TargetUnreachable, Socks5Reply.HostUnreachable, 502)]
    [InlineData(ErrorCode.TooManyChannels, Socks5Reply.GeneralFailure, 503)]
    [InlineData(ErrorCode.RateLimited, Socks5Reply.GeneralFailure, 503)]
    [InlineData(ErrorCode.SetupTimeout, Socks5Reply.TtlExpired, 504)]
    [InlineData(ErrorCode.KeepaliveTimeout, Socks5Reply.TtlExpired, 504)]
    [InlineData(ErrorCode.PeerGone, Socks5Reply.GeneralFailure, 502)]
    [InlineData(ErrorCode.ProtocolViolation, Socks5Reply.GeneralFailure, 502)]
    [InlineData(ErrorCode.Internal, Socks5Reply.GeneralFailure, 502)]
    public void Each_refusal_code_maps_to_a_SOCKS_reply_and_an_HTTP_status(ErrorCode code, Socks5Reply reply, int status)
    {
        Assert.Equal(reply, RefusalMapping.ToSocks5Reply(code));
        Assert.Equal(status, RefusalMapping.ToHttpStatus(code).Status);
    }

    [Fact]
    public void Every_error_code_maps_to_a_status_with_a_reason_phrase()
    {
        foreach (var code in Enum.GetValues<ErrorCode>())
        {
            var line = RefusalMapping.ToHttpStatus(code);
            Assert.InRange(line.Status, 200, 599);
            Assert.False(string.IsNullOrWhiteSpace(line.Reason), $"{code} has no reason phrase");
            Assert.True(Enum.IsDefined(RefusalMapping.ToSocks5Reply(code)), $"{code} maps to no SOCKS reply");
        }
    }

    [Theory]
    [InlineData(SocketError.ConnectionRefused, ErrorCode.TargetRefused)]
    [InlineData(SocketError.HostUnreachable, ErrorCode.TargetUnreachable)]
    [InlineData(SocketError.NetworkUnreachable, ErrorCode.TargetUnreachable)]
    [InlineData(SocketError.TimedOut, ErrorCode.TargetUnreachable)]
    [InlineData(SocketError.HostNotFound, ErrorCode.TargetUnreachable)]
    public void A_failed_dial_maps_to_refused_only_when_the_target_refused(SocketError error, ErrorCode expected)
    {
        Assert.Equal(expected, RefusalMapping.FromSocketError(error));
    }
}

using System.Collections;

namespace Lstp.Transport.Dialing;

/// <summary>Builds the dialer an end uses to reach its middles: through <c>--via</c> if given, else as the proxy environment says.</summary>
public static class DialerFactory
{
    /// <summary>
    /// An explicit <paramref name="via"/> is used for every target, without consulting NO_PROXY: the user named the
    /// proxy for this very purpose. Without it, <see cref="ProxyEnvironment"/> decides per target. A bad value in
    /// either throws a one-line <see cref="FormatException"/> with the password masked.
    /// </summary>
    public static IDialer Create(string? via, IDictionary environment, TimeSpan? connectTimeout = null, TimeProvider? timeProvider = null)
    {
        if (!string.IsNullOrWhiteSpace(via))
            return ViaParser.Parse(via).CreateDialer(connectTimeout, timeProvider);
        var proxyEnvironment = ProxyEnvironment.FromEnvironment(environment);
        return proxyEnvironment.Proxy is null
            ? new TcpDialer(connectTimeout ?? DialTimeout.Default, timeProvider)
            : new ProxyRoutingDialer(proxyEnvironment, connectTimeout, timeProvider);
    }
}

namespace Lstp.Transport.Dialing;

/// <summary>
/// What the two proxy dialers share: the proxy, its credentials, the dial deadline, and running a dialer's
/// handshake on a fresh connection to the proxy within that deadline.
/// </summary>
public abstract class ProxyDialer : IDialer
{
    private readonly TimeSpan _connectTimeout;
    private readonly TimeProvider _time;

    protected ProxyDialer(string kind, HostPort proxy, ProxyCredentials? credentials, TimeSpan? connectTimeout, TimeProvider? timeProvider)
    {
        Kind = kind;
        Proxy = proxy;
        Credentials = credentials;
        _connectTimeout = DialTimeout.Validate(connectTimeout);
        _time = timeProvider ?? TimeProvider.System;
    }

    public HostPort Proxy { get; }

    public ProxyCredentials? Credentials { get; }

    /// <summary>How messages name the proxy's protocol: "HTTP", "SOCKS5".</summary>
    protected string Kind { get; }

    public abstract ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken);

    /// <summary>Connects to the proxy and runs <paramref name="handshake"/> on the connection, all within the dial deadline.</summary>
    protected ValueTask<Stream> DialThroughAsync(HostPort target, Func<Stream, CancellationToken, ValueTask> handshake, CancellationToken cancellationToken) =>
        DialTimeout.RunAsync($"connecting to {target} through {Kind} proxy {Proxy}", _connectTimeout, _time,
            token => ProxyHop.HandshakeAsync(Kind, Proxy, handshake, token), cancellationToken);

    /// <summary>The proxy did not answer as its protocol says.</summary>
    protected DialException Protocol(string what) => new(DialFailure.ProxyProtocol, $"{Kind} proxy {Proxy} {what}");
}

namespace Lstp.Transport.Dialing;

/// <summary>Dials each target through the environment's proxy, or directly when NO_PROXY says so.</summary>
public sealed class ProxyRoutingDialer : IDialer
{
    private readonly ProxyEnvironment _environment;
    private readonly IDialer _direct;
    private readonly IDialer? _proxy;

    public ProxyRoutingDialer(ProxyEnvironment environment, TimeSpan? connectTimeout = null, TimeProvider? timeProvider = null)
    {
        _environment = environment;
        _direct = new TcpDialer(connectTimeout ?? DialTimeout.Default, timeProvider);
        _proxy = environment.Proxy?.CreateDialer(connectTimeout, timeProvider);
    }

    /// <summary>The proxy a dial to <paramref name="target"/> goes through, or null for a direct connection.</summary>
    public ProxySettings? RouteFor(HostPort target) => _environment.ProxyFor(target);

    public ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken) =>
        (_proxy is not null && RouteFor(target) is not null ? _proxy : _direct).DialAsync(target, cancellationToken);
}

namespace Lstp.Transport.Dialing;

/// <summary>Which protocol a corporate proxy speaks.</summary>
public enum ProxyKind
{
    /// <summary>SOCKS5 (RFC 1928), the target name resolved by the proxy.</summary>
    Socks5,
    /// <summary>An HTTP proxy that tunnels with CONNECT.</summary>
    HttpConnect,
}

/// <summary>A corporate proxy as the user named it (<c>--via</c> or the environment); prints with the password masked.</summary>
public sealed record ProxySettings(ProxyKind Kind, HostPort Address, ProxyCredentials? Credentials = null)
{
    /// <summary>The dialer that reaches targets through this proxy.</summary>
    public IDialer CreateDialer(TimeSpan? connectTimeout = null, TimeProvider? timeProvider = null) => Kind switch
    {
        ProxyKind.Socks5 => new Socks5Dialer(Address, Credentials, connectTimeout, timeProvider),
        ProxyKind.HttpConnect => new HttpConnectDialer(Address, Credentials, connectTimeout, timeProvider),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown proxy kind"),
    };

    public override string ToString() =>
        $"{(Kind == ProxyKind.Socks5 ? "socks5" : "http")}://{(Credentials is null ? "" : $"{Credentials}@")}{Address}";
}

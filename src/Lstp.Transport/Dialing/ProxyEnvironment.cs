using System.Collections;

namespace Lstp.Transport.Dialing;

/// <summary>The proxy that the process environment asks for, read the way curl reads it for an https URL, and the targets that bypass it.</summary>
/// <remarks>
/// A middle is reached over TLS, so it is an https-like target: curl takes https_proxy, then HTTPS_PROXY, then
/// all_proxy, then ALL_PROXY (lowercase first), and no_proxy before NO_PROXY. http_proxy is for plain http URLs and is
/// not read. An empty variable counts as unset. A value without a scheme is an HTTP proxy, as in curl.
/// </remarks>
public sealed class ProxyEnvironment
{
    private static readonly string[] ProxyVariables = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
    private static readonly string[] NoProxyVariables = ["no_proxy", "NO_PROXY"];

    private ProxyEnvironment(ProxySettings? proxy, string? source, NoProxyList noProxy)
    {
        Proxy = proxy;
        Source = source;
        NoProxy = noProxy;
    }

    /// <summary>The proxy, or null when the environment names none.</summary>
    public ProxySettings? Proxy { get; }

    /// <summary>The variable the proxy came from (for a log line that tells the user why traffic goes where it goes).</summary>
    public string? Source { get; }

    public NoProxyList NoProxy { get; }

    /// <summary>Reads the variables from <paramref name="environment"/> (as from <see cref="Environment.GetEnvironmentVariables()"/>).
    /// A proxy value that does not parse throws a <see cref="FormatException"/> naming the variable.</summary>
    public static ProxyEnvironment FromEnvironment(IDictionary environment)
    {
        var noProxy = NoProxyList.Parse(First(environment, NoProxyVariables).Value);
        var (source, value) = First(environment, ProxyVariables);
        if (source is null || value is null) return new ProxyEnvironment(null, null, noProxy);
        if (!ViaParser.TryParse(value, out var proxy, out var error, defaultScheme: "http"))
            throw new FormatException($"{source}: {error}");
        return new ProxyEnvironment(proxy, source, noProxy);
    }

    /// <summary>The proxy to use for <paramref name="target"/>, or null to dial it directly.</summary>
    public ProxySettings? ProxyFor(HostPort target) => Proxy is null || NoProxy.Matches(target.Host) ? null : Proxy;

    private static (string? Name, string? Value) First(IDictionary environment, string[] names)
    {
        foreach (var name in names)
            if (environment[name] is string value && !string.IsNullOrWhiteSpace(value)) return (name, value);
        return (null, null);
    }
}

using System.Net;

namespace Lstp.Transport.Dialing;

/// <summary>
/// The targets that bypass the proxy, in curl's NO_PROXY syntax: <c>*</c>, domain suffixes (<c>corp.example</c> or
/// <c>.corp.example</c> match the domain and every name under it), exact IP addresses, and CIDR blocks.
/// </summary>
/// <remarks>
/// Like curl, names are never resolved to test them, and an IP target matches only IP and CIDR entries (so that
/// <c>0.0.1</c> cannot match <c>10.0.0.1</c> as a suffix). An entry we cannot read is ignored rather than fatal:
/// the variable is shared with every other tool on the machine, each with its own dialect.
/// </remarks>
public sealed class NoProxyList
{
    public static readonly NoProxyList Empty = new(false, [], [], [], "");

    private readonly bool _all;
    private readonly string[] _domains;
    private readonly IPAddress[] _addresses;
    private readonly IPNetwork[] _networks;
    private readonly string _text;

    private NoProxyList(bool all, string[] domains, IPAddress[] addresses, IPNetwork[] networks, string text)
    {
        _all = all;
        _domains = domains;
        _addresses = addresses;
        _networks = networks;
        _text = text;
    }

    /// <summary>Reads a comma (or whitespace) separated list; null or empty gives <see cref="Empty"/>.</summary>
    public static NoProxyList Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return Empty;
        var all = false;
        var domains = new List<string>();
        var addresses = new List<IPAddress>();
        var networks = new List<IPNetwork>();
        foreach (var raw in value.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var entry = raw.Trim('[', ']'); // [::1] is how people write IPv6 next to host names
            if (entry == "*") all = true;
            else if (TryParseCidr(entry, out var network)) networks.Add(network);
            else if (IPAddress.TryParse(entry, out var address)) addresses.Add(address);
            else if (entry.Trim('.') is { Length: > 0 } domain) domains.Add(domain.ToLowerInvariant());
        }
        return new NoProxyList(all, [.. domains], [.. addresses], [.. networks], value.Trim());
    }

    /// <summary>True when <paramref name="host"/> (a name or a literal address) should be dialled directly.</summary>
    public bool Matches(string host)
    {
        if (_all) return true;
        host = host.Trim('[', ']');
        if (IPAddress.TryParse(host, out var address))
        {
            if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
            return _addresses.Any(address.Equals) || _networks.Any(n => n.Contains(address));
        }
        var name = host.TrimEnd('.').ToLowerInvariant();
        return _domains.Any(domain => name == domain || name.EndsWith("." + domain, StringComparison.Ordinal));
    }

    public override string ToString() => _text;

    /// <summary>Reads ADDRESS/PREFIX, tolerating host bits (10.1.2.3/8), which IPNetwork.TryParse rejects.</summary>
    private static bool TryParseCidr(string entry, out IPNetwork network)
    {
        network = default;
        var slash = entry.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(entry[..slash], out var address) || !int.TryParse(entry[(slash + 1)..], out var prefix)) return false;
        var bytes = address.GetAddressBytes();
        if (prefix < 0 || prefix > bytes.Length * 8) return false;
        for (var bit = prefix; bit < bytes.Length * 8; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        network = new IPNetwork(new IPAddress(bytes), prefix);
        return true;
    }
}

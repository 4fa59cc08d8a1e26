using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Policy;

/// <summary>
/// The server end's allow-list: which destinations the peer may reach through SOCKS and HTTP CONNECT.
/// Deny by default: an empty list permits nothing.
/// </summary>
/// <remarks>
/// The rule, in the order it is applied:
/// <list type="number">
/// <item>IPv4-mapped IPv6 addresses are read as IPv4 (::ffff:10.0.0.1 is 10.0.0.1), and the
/// unspecified address (0.0.0.0, ::) is always refused, because Linux connects it to the local host.</item>
/// <item>An IP literal request is allowed only by a CIDR rule; host rules, even <c>*</c>, never allow literals.</item>
/// <item>A name is allowed when a host rule matches the name and port, or when a CIDR rule covers the
/// address it resolves to and the port. <see cref="CheckName"/> is only the first half of that check; the
/// dial must go through <see cref="CheckAddress"/> for the resolved address (see <see cref="Resolver"/>).</item>
/// <item>A name allowed by a host rule must still not resolve to loopback, link-local (cloud metadata),
/// this-network, multicast or broadcast addresses, nor to an address of the server end's own host, unless a
/// CIDR rule covers that address: a host rule such as <c>*:443</c> must not let the peer reach the server end's
/// own host through a name like localhost or the host's own name.</item>
/// <item>A literal written as a name (<c>10.0.0.5.</c>, with DNS's trailing dot) is read as the literal it is.</item>
/// </list>
/// </remarks>
public sealed class AllowList
{
    public static readonly AllowList Empty = new([]);

    private readonly AddressRule[] _addressRules;
    private readonly HostRule[] _hostRules;
    private readonly Func<IPAddress, bool> _isOwnAddress;

    private AllowList(IReadOnlyList<AllowRule> rules, Func<IPAddress, bool>? isOwnAddress = null)
    {
        _isOwnAddress = isOwnAddress ?? OwnAddresses.Contains;
        _addressRules = rules.OfType<AddressRule>().ToArray();
        _hostRules = rules.OfType<HostRule>().ToArray();
        Patterns = rules.Select(r => r.ToString()).ToArray();
    }

    /// <summary>The rules in normalised spelling, in the order given, duplicates dropped; <see cref="Parse"/> reads them back.</summary>
    public IReadOnlyList<string> Patterns { get; }

    public bool IsEmpty => Patterns.Count == 0;

    /// <summary>
    /// Parses <c>--allow</c> patterns; throws <see cref="FormatException"/> naming the first bad one.
    /// <paramref name="isOwnAddress"/> says which addresses are this host's (default: its network interfaces').
    /// </summary>
    public static AllowList Parse(IEnumerable<string> patterns, Func<IPAddress, bool>? isOwnAddress = null)
    {
        var rules = new List<AllowRule>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pattern in patterns)
        {
            if (!AllowRuleParser.TryParse(pattern ?? "", out var rule, out var error))
                throw new FormatException($"--allow '{pattern}': {error}");
            if (seen.Add(rule!.ToString())) rules.Add(rule);
        }
        return new AllowList(rules, isOwnAddress);
    }

    /// <summary>
    /// Checks the destination as the client asked for it. For an IP literal the answer is final. For a
    /// name, "allowed" means a rule might allow it: the caller must still check each resolved address
    /// with <see cref="CheckAddress"/> before dialling; "denied" saves the DNS lookup.
    /// </summary>
    public AllowDecision CheckName(string host, int port)
    {
        if (!IsPort(port)) return AllowDecision.Deny($"port {port} is not a TCP port (1-65535)");
        if (TryParseLiteral(host, out var literal)) return CheckAddress(literal, port, requestedName: null);
        if (!HostNames.TryNormalise(host, out var name)) return AllowDecision.Deny($"'{host}' is not a valid host name");
        // "10.0.0.5." is 10.0.0.5 to the resolver: a literal, which only a CIDR rule allows.
        if (TryParseLiteral(name, out literal)) return CheckAddress(literal, port, requestedName: null);

        var hostRule = _hostRules.FirstOrDefault(r => r.Matches(name, port));
        if (hostRule is not null) return AllowDecision.Allow($"{name}:{port} matches {hostRule}");
        if (_addressRules.Any(r => r.Ports.Contains(port)))
            return AllowDecision.Allow($"{name}:{port} is allowed only if it resolves to an address a CIDR rule allows");
        return AllowDecision.Deny($"no rule allows {name}:{port}");
    }

    /// <summary>
    /// The dial-time check of one address: <paramref name="requestedName"/> is the name it was resolved
    /// from, or null when the client asked for the address itself.
    /// </summary>
    public AllowDecision CheckAddress(IPAddress resolved, int port, string? requestedName)
    {
        if (!IsPort(port)) return AllowDecision.Deny($"port {port} is not a TCP port (1-65535)");
        var address = AddressClasses.Normalise(resolved);
        var addressClass = AddressClasses.Classify(address);
        var endpoint = Format(address, port);
        string? name = null;
        if (requestedName is not null && !HostNames.TryNormalise(requestedName, out name))
            return AllowDecision.Deny($"'{requestedName}' is not a valid host name");
        if (name is not null && TryParseLiteral(name, out _)) name = null; // a literal with a trailing dot is still a literal

        if (addressClass == AddressClass.Unspecified)
            return AllowDecision.Deny(name is null
                ? $"{endpoint} is the unspecified address, which is never dialled"
                : $"{name} resolves to forbidden address {address} (unspecified, never dialled)");

        var addressRule = _addressRules.FirstOrDefault(r => r.Matches(address, port));
        if (addressRule is not null)
            return AllowDecision.Allow(name is null ? $"{endpoint} matches {addressRule}" : $"{name} resolves to {endpoint}, which matches {addressRule}");
        if (name is null) return AllowDecision.Deny($"no rule allows {endpoint}");

        var hostRule = _hostRules.FirstOrDefault(r => r.Matches(name, port));
        if (hostRule is null)
            return AllowDecision.Deny($"{name} resolves to {address}, and no rule allows {name}:{port} or {endpoint}");
        if (addressClass != AddressClass.Ordinary)
            return AllowDecision.Deny(
                $"{name} resolves to forbidden address {address} ({AddressClasses.Describe(addressClass)}); " +
                $"allow it explicitly with --allow {endpoint}");
        if (_isOwnAddress(address))
            return AllowDecision.Deny(
                $"{name} resolves to forbidden address {address} (an address of this end's own host); " +
                $"allow it explicitly with --allow {endpoint}");
        return AllowDecision.Allow($"{name}:{port} matches {hostRule} and resolves to {address}");
    }

    /// <summary>Reads <paramref name="host"/> as an IP literal, bracketed or not, normalised.</summary>
    internal static bool TryParseLiteral(string host, out IPAddress address)
    {
        var text = host.Length > 1 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
        if (IPAddress.TryParse(text, out var parsed))
        {
            address = AddressClasses.Normalise(parsed);
            return true;
        }
        address = IPAddress.None;
        return false;
    }

    private static bool IsPort(int port) => port is >= 1 and <= 65535;

    private static string Format(IPAddress address, int port) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";
}

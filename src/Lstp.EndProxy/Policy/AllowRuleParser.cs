using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Policy;

/// <summary>
/// Reads one <c>--allow</c> pattern: <c>ADDRESS[/LEN]:PORTS</c>, <c>[IPv6][/LEN]:PORTS</c> or
/// <c>HOST:PORTS</c>, where PORTS is <c>PORT</c>, <c>LOW-HIGH</c> or <c>*</c>. The port part is
/// required so that nobody opens every port of a host by leaving it out.
/// </summary>
internal static class AllowRuleParser
{
    public static bool TryParse(string pattern, out AllowRule? rule, out string error)
    {
        rule = null;
        var text = pattern.Trim();
        if (text.Length == 0)
        {
            error = "empty pattern (write ADDRESS[/LEN]:PORT or HOST:PORT)";
            return false;
        }
        if (!TrySplit(text, out var target, out var prefixText, out var portText, out var bracketed, out error)) return false;
        if (!PortRange.TryParse(portText, out var ports, out error)) return false;

        if (bracketed || target.Contains(':'))
        {
            if (!IPAddress.TryParse(target, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"'{target}' is not an IPv6 address";
                return false;
            }
            return TryAddressRule(v6, prefixText, ports, out rule, out error);
        }
        if (target.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            // Only dotted quads: IPAddress.TryParse would also read "10.1" as 10.0.0.1, a surprise in a policy.
            if (target.Count(c => c == '.') != 3 || !IPAddress.TryParse(target, out var v4))
            {
                error = $"'{target}' is not an IPv4 address (write a.b.c.d)";
                return false;
            }
            return TryAddressRule(v4, prefixText, ports, out rule, out error);
        }
        if (prefixText is not null)
        {
            error = $"a host pattern takes no /LEN; only addresses have prefixes";
            return false;
        }
        if (!HostPattern.TryParse(target, out var host, out error)) return false;
        rule = new HostRule(host, ports);
        return true;
    }

    /// <summary>Separates the address or host, the optional prefix length and the port text.</summary>
    private static bool TrySplit(string text, out string target, out string? prefixText, out string portText, out bool bracketed, out string error)
    {
        target = "";
        prefixText = null;
        portText = "";
        error = "";
        bracketed = text.StartsWith('[');
        string rest;
        if (bracketed)
        {
            var close = text.IndexOf(']');
            if (close < 0) { error = "missing ']' after the IPv6 address"; return false; }
            target = text[1..close];
            rest = text[(close + 1)..];
            // Both [2001:db8::]/32:443 and [2001:db8::/32]:443 are common spellings.
            var innerSlash = target.IndexOf('/');
            if (innerSlash >= 0)
            {
                prefixText = target[(innerSlash + 1)..];
                target = target[..innerSlash];
            }
            if (rest.StartsWith('/'))
            {
                if (prefixText is not null) { error = "two prefix lengths"; return false; }
                var colon = rest.IndexOf(':');
                prefixText = colon < 0 ? rest[1..] : rest[1..colon];
                rest = colon < 0 ? "" : rest[colon..];
            }
        }
        else
        {
            var slash = text.IndexOf('/');
            if (slash >= 0)
            {
                // An unbracketed IPv6 CIDR is unambiguous because the prefix digits end it: ::1/128:443.
                target = text[..slash];
                var after = text[(slash + 1)..];
                var colon = after.IndexOf(':');
                prefixText = colon < 0 ? after : after[..colon];
                rest = colon < 0 ? "" : after[colon..];
            }
            else
            {
                var colons = text.Count(c => c == ':');
                if (colons > 1)
                {
                    error = "more than one ':'; write IPv6 addresses in brackets: [ADDRESS]:PORT or [ADDRESS]/LEN:PORT";
                    return false;
                }
                var colon = text.IndexOf(':');
                target = colon < 0 ? text : text[..colon];
                rest = colon < 0 ? "" : text[colon..];
            }
        }
        if (!rest.StartsWith(':'))
        {
            error = rest.Length == 0
                ? $"no port; write {text}:PORT, {text}:LOW-HIGH, or {text}:* for every port"
                : $"unexpected '{rest}' after the address (write ADDRESS[/LEN]:PORT)";
            return false;
        }
        portText = rest[1..];
        if (target.Length == 0) { error = "empty host"; return false; }
        return true;
    }

    private static bool TryAddressRule(IPAddress address, string? prefixText, PortRange ports, out AllowRule? rule, out string error)
    {
        rule = null;
        error = "";
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            error = $"'{address}' has a zone id; allow-list addresses name no interface";
            return false;
        }
        var fullLength = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = fullLength;
        if (prefixText is not null
            && (!int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > fullLength))
        {
            error = $"prefix length '/{prefixText}' is not 0-{fullLength}";
            return false;
        }
        var masked = Mask(address, prefix);
        if (!masked.Equals(address))
        {
            // A typo like 10.1.2.3/8 is more likely than a wish for 10.0.0.0/8, so say which one we would mean.
            error = $"{address}/{prefix} has bits set past the prefix; did you mean {masked}/{prefix}?";
            return false;
        }
        // Addresses are checked as IPv4 once mapped (::ffff:a.b.c.d), so a mapped rule must become IPv4 too.
        if (address.IsIPv4MappedToIPv6 && prefix >= 96)
        {
            address = address.MapToIPv4();
            prefix -= 96;
        }
        rule = new AddressRule(new IPNetwork(address, prefix), ports);
        return true;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.RegularExpressions;

namespace Lstp.Transport.Dialing;

/// <summary>Parses a proxy address as <c>--via</c> and the *_proxy variables write it: <c>scheme://[user:pass@]host:port</c>.</summary>
public static partial class ViaParser
{
    private const string Expected = "expected socks5://[USER:PASS@]HOST:PORT, socks5h://... or http://[USER:PASS@]HOST:PORT";

    /// <summary>Parses <paramref name="value"/> or throws a <see cref="FormatException"/> whose one-line message masks the password.</summary>
    public static ProxySettings Parse(string? value, string? defaultScheme = null)
    {
        if (TryParse(value, out var settings, out var error, defaultScheme)) return settings;
        throw new FormatException(error);
    }

    /// <summary>
    /// Accepts <c>socks5</c> and <c>socks5h</c> (both let the proxy resolve the name, see <see cref="Socks5Dialer"/>;
    /// socks5h is there because curl-style values use it) and <c>http</c>. User and password are percent-decoded.
    /// <paramref name="defaultScheme"/> applies to values without one, as curl does for the environment.
    /// </summary>
    public static bool TryParse(
        string? value, [NotNullWhen(true)] out ProxySettings? settings, [NotNullWhen(false)] out string? error, string? defaultScheme = null)
    {
        settings = null;
        error = null;
        if (string.IsNullOrWhiteSpace(value)) { error = $"empty proxy address ({Expected})"; return false; }
        value = value.Trim();
        string Fail(string reason) => $"proxy '{Redact(value)}': {reason}";

        var schemeEnd = value.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd >= 0 ? value[..schemeEnd].ToLowerInvariant() : defaultScheme;
        var rest = schemeEnd >= 0 ? value[(schemeEnd + 3)..] : value;
        ProxyKind kind;
        switch (scheme)
        {
            case "socks5" or "socks5h": kind = ProxyKind.Socks5; break;
            case "http": kind = ProxyKind.HttpConnect; break;
            case null: error = Fail($"no scheme ({Expected})"); return false;
            default: error = Fail($"unsupported scheme '{scheme}' ({Expected})"); return false;
        }

        // Split at the last '@': a host never contains one, a careless password might.
        var at = rest.LastIndexOf('@');
        var hostPart = rest[(at + 1)..];
        if (hostPart.EndsWith('/')) hostPart = hostPart[..^1];
        if (hostPart.IndexOfAny(['/', '?', '#']) >= 0) { error = Fail("a proxy address has no path or query, only HOST:PORT"); return false; }
        if (!HostPort.TryParse(hostPart, out var address, out var addressError)) { error = Fail(addressError); return false; }
        if (address.Port == 0) { error = Fail("port 0 is not a proxy port"); return false; }

        ProxyCredentials? credentials = null;
        if (at >= 0)
        {
            var userInfo = rest[..at];
            var colon = userInfo.IndexOf(':');
            if (!TryDecode(colon < 0 ? userInfo : userInfo[..colon], out var user)
                || !TryDecode(colon < 0 ? "" : userInfo[(colon + 1)..], out var password))
            {
                error = Fail("bad percent-encoding in USER:PASS (write '%' as %25)");
                return false;
            }
            if (user.Length == 0) { error = Fail("empty user name before '@'"); return false; }
            credentials = new ProxyCredentials(user, password);
            if (kind == ProxyKind.HttpConnect && user.Contains(':')) { error = Fail("an HTTP proxy user name cannot contain ':'"); return false; }
            if (kind == ProxyKind.Socks5 && (Encoding.UTF8.GetByteCount(user) > 255 || Encoding.UTF8.GetByteCount(password) > 255))
            {
                error = Fail("SOCKS5 allows at most 255 bytes of user name and of password");
                return false;
            }
        }
        settings = new ProxySettings(kind, address, credentials);
        return true;
    }

    /// <summary>The value with any password replaced by <c>***</c>, fit for messages and logs.</summary>
    public static string Redact(string value)
    {
        var start = value.IndexOf("://", StringComparison.Ordinal) is var s and >= 0 ? s + 3 : 0;
        var at = value.LastIndexOf('@');
        if (at < start) return value;
        var colon = value.IndexOf(':', start, at - start);
        return colon < 0 ? value : $"{value[..colon]}:***{value[at..]}";
    }

    private static bool TryDecode(string text, out string decoded)
    {
        // Uri.UnescapeDataString leaves a stray '%' alone; a typo in a password should fail here, not at the proxy.
        decoded = "";
        if (BadEscape().IsMatch(text)) return false;
        decoded = Uri.UnescapeDataString(text);
        return true;
    }

    [GeneratedRegex("%(?![0-9A-Fa-f]{2})")]
    private static partial Regex BadEscape();
}

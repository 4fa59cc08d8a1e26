using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Lstp.Transport;

/// <summary>A host (name or literal address) and a TCP port, as users write it: <c>host:port</c> or <c>[v6]:port</c>.</summary>
public readonly record struct HostPort(string Host, int Port)
{
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public static HostPort Parse(string text, string? defaultHost = null)
    {
        if (TryParse(text, out var result, out var error, defaultHost)) return result;
        throw new FormatException(error);
    }

    /// <summary>Parses <c>host:port</c>, <c>[v6]:port</c>, or a bare <c>port</c> when a default host is given.</summary>
    public static bool TryParse(string? text, out HostPort result, [NotNullWhen(false)] out string? error, string? defaultHost = null)
    {
        result = default;
        error = null;
        if (string.IsNullOrWhiteSpace(text)) { error = "empty address (expected HOST:PORT)"; return false; }
        text = text.Trim();
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':') { error = $"'{text}' is not [IPv6]:PORT"; return false; }
            host = text[1..close];
            portText = text[(close + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                if (defaultHost is null) { error = $"'{text}' has no port (expected HOST:PORT)"; return false; }
                host = defaultHost;
                portText = text;
            }
            else
            {
                if (text.IndexOf(':') != colon) { error = $"'{text}': write IPv6 addresses as [ADDRESS]:PORT"; return false; }
                host = text[..colon];
                portText = text[(colon + 1)..];
            }
        }
        if (host.Length == 0) { error = $"'{text}' has an empty host"; return false; }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            error = $"'{text}' has an invalid port '{portText}' (0-65535)";
            return false;
        }
        result = new HostPort(host, port);
        return true;
    }
}

namespace Lstp.EndProxy.Helpers;

/// <summary>An application helper this end runs on one of its forwards: <c>--helper SERVICE=PROTOCOL</c>.</summary>
public sealed record HelperSpec(string Service, string Protocol)
{
    /// <summary>Parses <c>SERVICE=PROTOCOL</c>, e.g. <c>files=ftp</c>; the protocol is lower-cased.</summary>
    public static HelperSpec Parse(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1) throw new FormatException($"--helper '{text}': expected SERVICE=PROTOCOL (e.g. files=ftp)");
        var service = text[..eq].Trim();
        var protocol = text[(eq + 1)..].Trim().ToLowerInvariant();
        if (service.Length == 0 || protocol.Length == 0 || service.Any(char.IsWhiteSpace) || protocol.Any(c => char.IsWhiteSpace(c) || c == ':'))
        {
            throw new FormatException($"--helper '{text}': expected SERVICE=PROTOCOL (e.g. files=ftp)");
        }
        return new HelperSpec(service, protocol);
    }

    /// <summary>The PROPERTY_EXCHANGE <c>helper</c> value: <c>PROTOCOL:SERVICE</c>.</summary>
    public string Announcement => $"{Protocol}:{Service}";

    /// <summary>Reads a peer's <c>helper</c> value; false for one this version cannot read.</summary>
    public static bool TryParseAnnouncement(string value, out HelperSpec spec)
    {
        spec = null!;
        var colon = value.IndexOf(':');
        if (colon <= 0 || colon == value.Length - 1) return false;
        spec = new HelperSpec(value[(colon + 1)..], value[..colon].ToLowerInvariant());
        return true;
    }
}

namespace Lstp.EndProxy.Policy;

/// <summary>
/// The host part of a host rule: one exact name, <c>*.suffix</c> for every name below the suffix
/// (not the suffix itself, as in TLS certificate wildcards), or <c>*</c> for any name.
/// </summary>
internal sealed record HostPattern(HostPatternKind Kind, string Name)
{
    public static readonly HostPattern Any = new(HostPatternKind.Any, "");

    public bool Matches(string normalisedName) => Kind switch
    {
        HostPatternKind.Any => true,
        HostPatternKind.Exact => normalisedName == Name,
        // The dot before the suffix is required, so *.corp.example never matches xcorp.example.
        _ => normalisedName.Length > Name.Length + 1
             && normalisedName.EndsWith(Name, StringComparison.Ordinal)
             && normalisedName[^(Name.Length + 1)] == '.',
    };

    public override string ToString() => Kind switch
    {
        HostPatternKind.Any => "*",
        HostPatternKind.Exact => Name,
        _ => "*." + Name,
    };

    public static bool TryParse(string text, out HostPattern pattern, out string error)
    {
        pattern = Any;
        error = "";
        if (text == "*") return true;
        var kind = HostPatternKind.Exact;
        if (text.StartsWith("*.", StringComparison.Ordinal))
        {
            kind = HostPatternKind.Subdomains;
            text = text[2..];
        }
        if (text.Contains('*'))
        {
            error = $"'*' may only stand alone or start a host pattern as '*.' (for example *.corp.example)";
            return false;
        }
        if (!HostNames.TryNormalise(text, out var name))
        {
            error = $"'{text}' is not a host name, an IPv4 address or a bracketed IPv6 address";
            return false;
        }
        pattern = new HostPattern(kind, name);
        return true;
    }
}

/// <summary>How a <see cref="HostPattern"/> matches names.</summary>
internal enum HostPatternKind { Exact, Subdomains, Any }

/// <summary>Host name syntax, normalised so that the allow-list compares one spelling of each name.</summary>
internal static class HostNames
{
    /// <summary>Lower-cases and drops one trailing dot; refuses what DNS could not carry (RFC 1035 §2.3.4).</summary>
    public static bool TryNormalise(string text, out string name)
    {
        name = text.EndsWith('.') ? text[..^1] : text;
        name = name.ToLowerInvariant();
        if (name.Length is 0 or > 253) return false;
        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63) return false;
            // Underscores appear in real internal names (service records, old Windows hosts).
            foreach (var c in label)
                if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_')) return false;
        }
        return true;
    }
}

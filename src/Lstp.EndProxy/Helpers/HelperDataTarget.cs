namespace Lstp.EndProxy.Helpers;

/// <summary>
/// How a data channel names its target in SERVICE_BEGIN_REQUEST: kind <c>Destination</c>, target
/// <c>PROTOCOL-data:SERVICE</c>, port the data port. It means "the host of my control connection to SERVICE":
/// the opener cannot name that host (an EPSV reply carries no address, and a PASV reply's address is the
/// server's own view, often wrong behind NAT; curl ignores it too, --ftp-skip-pasv-ip), the service's end can.
/// A ':' cannot occur in a host name and the text is no IPv6 literal, so it never collides with a real destination.
/// </summary>
public readonly record struct HelperDataTarget(string Protocol, string Service)
{
    private const string Suffix = "-data";

    public override string ToString() => $"{Protocol}{Suffix}:{Service}";

    public static bool TryParse(string target, out HelperDataTarget result)
    {
        result = default;
        var colon = target.IndexOf(':');
        if (colon <= Suffix.Length || colon == target.Length - 1 || !target.AsSpan(0, colon).EndsWith(Suffix, StringComparison.Ordinal)) return false;
        result = new HelperDataTarget(target[..(colon - Suffix.Length)], target[(colon + 1)..]);
        return true;
    }
}

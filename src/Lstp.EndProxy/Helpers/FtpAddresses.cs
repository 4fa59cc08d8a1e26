using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// The four ways FTP names a data address, read and written: the 227 reply to PASV and the PORT command
/// (RFC 959 §4.1.2, §4.2), the 229 reply to EPSV and the EPRT command (RFC 2428 §2, §3). No I/O.
/// </summary>
public static class FtpAddresses
{
    /// <summary>
    /// Reads a 227 reply. RFC 959 shows <c>227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)</c>, but servers word it
    /// differently, so, as RFC 1123 §4.1.2.6 tells clients, this scans for the first digit after the code.
    /// </summary>
    public static bool TryParsePassiveReply(ReadOnlySpan<char> line, out IPEndPoint endPoint)
    {
        endPoint = null!;
        if (!line.StartsWith("227")) return false;
        var text = line[3..];
        var first = text.IndexOfAnyInRange('0', '9');
        return first >= 0 && TryParseHostPort(text[first..], out endPoint, trailingAllowed: true);
    }

    /// <summary>Writes a 227 reply for <paramref name="at"/> (an IPv4 address).</summary>
    public static string PassiveReply(IPEndPoint at)
    {
        var b = at.Address.MapToIPv4().GetAddressBytes();
        return string.Create(CultureInfo.InvariantCulture, $"227 Entering Passive Mode ({b[0]},{b[1]},{b[2]},{b[3]},{at.Port >> 8},{at.Port & 0xFF}).\r\n");
    }

    /// <summary>
    /// Reads a 229 reply, <c>229 text (|||port|)</c>: the parentheses hold a delimiter (any printable ASCII but a
    /// digit), two empty fields (net-prt, net-addr) and the port (RFC 2428 §3).
    /// </summary>
    public static bool TryParseExtendedPassiveReply(ReadOnlySpan<char> line, out int port)
    {
        port = 0;
        if (!line.StartsWith("229")) return false;
        var open = line.IndexOf('(');
        if (open < 0) return false;
        var inner = line[(open + 1)..];
        var close = inner.IndexOf(')');
        if (close < 5) return false;
        inner = inner[..close];
        var d = inner[0];
        if (d is < '!' or > '~' || char.IsAsciiDigit(d) || inner[1] != d || inner[2] != d || inner[^1] != d) return false;
        return TryParsePort(inner[3..^1], out port);
    }

    /// <summary>Writes a 229 reply for <paramref name="port"/>.</summary>
    public static string ExtendedPassiveReply(int port) => string.Create(CultureInfo.InvariantCulture, $"229 Entering Extended Passive Mode (|||{port}|)\r\n");

    /// <summary>Reads PORT's argument, <c>h1,h2,h3,h4,p1,p2</c>.</summary>
    public static bool TryParsePortCommand(ReadOnlySpan<char> argument, out IPEndPoint endPoint) =>
        TryParseHostPort(argument.Trim(), out endPoint, trailingAllowed: false);

    /// <summary>Reads EPRT's argument, <c>|1|132.235.1.2|6275|</c> or <c>|2|1080::8:800:200C:417A|5282|</c> (any delimiter).</summary>
    public static bool TryParseExtendedPortCommand(ReadOnlySpan<char> argument, out IPEndPoint endPoint)
    {
        endPoint = null!;
        argument = argument.Trim();
        if (argument.Length < 7) return false;
        var d = argument[0];
        if (d is < '!' or > '~' || argument[^1] != d) return false;
        Span<Range> fields = stackalloc Range[5];
        var inner = argument[1..^1];
        if (inner.Split(fields, d) != 3) return false;
        var family = inner[fields[0]] switch
        {
            "1" => AddressFamily.InterNetwork,
            "2" => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (family == AddressFamily.Unknown
            || !IPAddress.TryParse(inner[fields[1]], out var address) || address.AddressFamily != family
            || !TryParsePort(inner[fields[2]], out var port))
        {
            return false;
        }
        endPoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>Six decimal numbers 0-255 separated by commas (spaces allowed after a comma): four address bytes, then the port's high and low byte.</summary>
    private static bool TryParseHostPort(ReadOnlySpan<char> text, out IPEndPoint endPoint, bool trailingAllowed)
    {
        endPoint = null!;
        Span<byte> numbers = stackalloc byte[6];
        var at = 0;
        for (var i = 0; i < 6; i++)
        {
            if (i > 0)
            {
                if (at >= text.Length || text[at] != ',') return false;
                at++;
                while (at < text.Length && text[at] == ' ') at++;
            }
            var start = at;
            while (at < text.Length && char.IsAsciiDigit(text[at]) && at - start < 3) at++;
            if (at == start || (at < text.Length && char.IsAsciiDigit(text[at]))) return false;
            var value = int.Parse(text[start..at], NumberStyles.None, CultureInfo.InvariantCulture);
            if (value > 255) return false;
            numbers[i] = (byte)value;
        }
        if (!trailingAllowed && at != text.Length) return false;
        var port = numbers[4] << 8 | numbers[5];
        if (port == 0) return false;
        endPoint = new IPEndPoint(new IPAddress(numbers[..4]), port);
        return true;
    }

    private static bool TryParsePort(ReadOnlySpan<char> text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;
}

using System.Globalization;

namespace Lstp.EndProxy.Policy;

/// <summary>The ports one allow rule covers: a single port, an inclusive range, or every port (<c>*</c>).</summary>
internal readonly record struct PortRange(int Low, int High)
{
    public static readonly PortRange Any = new(1, 65535);

    public bool Contains(int port) => port >= Low && port <= High;

    /// <summary>The normalised spelling: <c>*</c> for every port, <c>443</c>, or <c>8000-8100</c>.</summary>
    public override string ToString() =>
        this == Any ? "*"
        : Low == High ? Low.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{Low}-{High}");

    /// <summary>Parses the text after the last colon of a pattern; <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string text, out PortRange range, out string error)
    {
        range = default;
        error = "";
        if (text == "*") { range = Any; return true; }
        var dash = text.IndexOf('-');
        var lowText = dash < 0 ? text : text[..dash];
        var highText = dash < 0 ? text : text[(dash + 1)..];
        if (!TryParsePort(lowText, out var low) || !TryParsePort(highText, out var high))
        {
            error = $"port '{text}' is not PORT, LOW-HIGH or * (ports are 1-65535)";
            return false;
        }
        if (low > high)
        {
            error = $"port range '{text}' runs backwards (write LOW-HIGH)";
            return false;
        }
        range = new PortRange(low, high);
        return true;
    }

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}

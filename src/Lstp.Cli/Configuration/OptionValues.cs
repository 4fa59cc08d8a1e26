using System.Globalization;

namespace Lstp.Cli.Configuration;

/// <summary>
/// The parsers of numeric options, shared by the commands and by `lstp check` so both accept exactly the same text:
/// digits only for a count (no sign, no spaces, no thousands separator), a positive decimal number for seconds.
/// </summary>
public static class OptionValues
{
    public static bool TryCount(string text, out int count) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out count) && count > 0;

    public static bool TrySeconds(string text, out TimeSpan time)
    {
        time = default;
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || seconds > TimeSpan.MaxValue.TotalSeconds) return false;
        time = TimeSpan.FromSeconds(seconds);
        return true;
    }

    public const string CountProblem = "is not a positive whole number";

    public const string SecondsProblem = "is not a positive number of seconds";
}

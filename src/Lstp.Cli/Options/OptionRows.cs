namespace Lstp.Cli.Options;

/// <summary>
/// The rows of a table whose values land in <typeparamref name="TTarget"/> (<c>using static</c> in a table): each
/// takes the flag, its help text, its parser and where its value lands.
/// </summary>
public static class OptionRows<TTarget>
{
    public static OptionSpec<TTarget> Value<T>(string flag, string description, Func<string, T> parse, Func<TTarget, T, TTarget> land) =>
        new ValueSpec<TTarget, T>(flag, description, OptionShape.Value, inFile: true, parse, land);

    /// <summary>A repeatable flag, an array in the file, or one comma-separated value anywhere.</summary>
    public static OptionSpec<TTarget> Repeated<T>(string flag, string description, Func<string, T> parseItem, Func<TTarget, IReadOnlyList<T>, TTarget> land) =>
        new ListSpec<TTarget, T>(flag, description, parseItem, land);

    /// <summary>A flag without a value on the command line (<c>--plaintext</c>); true or false in the file.</summary>
    public static OptionSpec<TTarget> Switch(string flag, string description, Func<TTarget, bool, TTarget> land) =>
        new ValueSpec<TTarget, bool>(flag, description, OptionShape.Switch, inFile: true, Parse.Switch, land);

    /// <summary>A flag no file or variable may give: it chooses the file or the log.</summary>
    public static OptionSpec<TTarget> FlagOnly<T>(string flag, string description, Func<string, T> parse, Func<TTarget, T, TTarget> land) =>
        new ValueSpec<TTarget, T>(flag, description, OptionShape.Value, inFile: false, parse, land);
}

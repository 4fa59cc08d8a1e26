using System.CommandLine;
using Lstp.Cli.Configuration;

namespace Lstp.Cli.Options;

/// <summary>How an option's text is written: one value, a list (a repeatable flag, an array in the file), or a switch.</summary>
public enum OptionShape
{
    Value,
    List,
    Switch,
}

/// <summary>
/// One option, declared once: its flag (its config key and environment variable follow from it,
/// <see cref="OptionKeys"/>), its help text and its shape. <see cref="OptionSpec{TTarget}"/> adds how its text is
/// parsed and where its value lands.
/// </summary>
public abstract class OptionSpec(string flag, string description, OptionShape shape, bool inFile)
{
    public string Flag { get; } = flag;

    public string Description { get; } = description;

    public OptionShape Shape { get; } = shape;

    /// <summary>Whether a config file and LSTP__ variables may give it: not --config and --log-*, which choose the file and the log.</summary>
    public bool InFile { get; } = inFile;

    /// <summary>The file's key: <c>max-channels</c> for <c>--max-channels</c>.</summary>
    public string FileKey => OptionKeys.FileKey(Flag);

    /// <summary>The .NET configuration key: <c>MaxChannels</c> (<c>LSTP__END__MAXCHANNELS</c>).</summary>
    public string Key => OptionKeys.Pascal(FileKey);

    /// <summary>The System.CommandLine option: every value is read as text, so the table's parser is the only one.</summary>
    public Option CreateOption() => Shape switch
    {
        OptionShape.List => new Option<string[]>(Flag) { Description = Description },
        OptionShape.Switch => new Option<bool>(Flag) { Description = Description },
        _ => new Option<string>(Flag) { Description = Description },
    };
}

/// <summary>An option whose value lands in <typeparamref name="TTarget"/>, what its command reads.</summary>
public abstract class OptionSpec<TTarget>(string flag, string description, OptionShape shape, bool inFile)
    : OptionSpec(flag, description, shape, inFile)
{
    /// <summary>
    /// Parses <paramref name="texts"/> (one for a value or a switch, each item of a list) and lands the value in
    /// <paramref name="target"/>. Each problem goes to <paramref name="report"/>, and the target stays as it was.
    /// </summary>
    public abstract TTarget Land(TTarget target, IReadOnlyList<string> texts, Action<OptionProblem> report);
}

/// <summary>A value or a switch: one text, one parser.</summary>
internal sealed class ValueSpec<TTarget, T>(
    string flag, string description, OptionShape shape, bool inFile, Func<string, T> parse, Func<TTarget, T, TTarget> land)
    : OptionSpec<TTarget>(flag, description, shape, inFile)
{
    public override TTarget Land(TTarget target, IReadOnlyList<string> texts, Action<OptionProblem> report)
    {
        try
        {
            return land(target, parse(texts[0]));
        }
        catch (FormatException ex)
        {
            report(OptionProblem.Of(ex));
            return target;
        }
    }
}

/// <summary>A list: each item parsed on its own (a problem names its item), then the whole list lands at once.</summary>
internal sealed class ListSpec<TTarget, T>(
    string flag, string description, Func<string, T> parse, Func<TTarget, IReadOnlyList<T>, TTarget> land)
    : OptionSpec<TTarget>(flag, description, OptionShape.List, inFile: true)
{
    public override TTarget Land(TTarget target, IReadOnlyList<string> texts, Action<OptionProblem> report)
    {
        var values = new List<T>(texts.Count);
        var failed = false;
        for (var i = 0; i < texts.Count; i++)
        {
            try
            {
                values.Add(parse(texts[i]));
            }
            catch (FormatException ex)
            {
                report(OptionProblem.Of(ex) with { Item = i });
                failed = true;
            }
        }
        if (failed) return target;
        try
        {
            return land(target, values);
        }
        catch (FormatException ex)
        {
            // The items together, e.g. two different modes in --compress.
            report(OptionProblem.Of(ex));
            return target;
        }
    }
}

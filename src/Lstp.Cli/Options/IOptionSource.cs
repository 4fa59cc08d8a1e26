namespace Lstp.Cli.Options;

/// <summary>
/// Where a table's options come from and where their problems go: for a command, its flags, the environment and
/// the --config file (<see cref="Configuration.Settings"/>: the first problem stops it); for `lstp check`, one
/// section of a file (<see cref="Check.ConfigSection"/>: every problem, at its line).
/// </summary>
public interface IOptionSource
{
    /// <summary>The option's texts, or null when it is not given: one for a value or a switch, each item of a list.</summary>
    IReadOnlyList<string>? Texts(OptionSpec option);

    /// <summary>Whether the option is given here (a list with at least one item): what a rule is about.</summary>
    bool Given(OptionSpec option);

    /// <summary>Whether the option is given, or will be when the command runs: `lstp check` counts an LSTP__ variable.</summary>
    bool Supplied(OptionSpec option);

    /// <summary>How a message names the option, or one item of it: <c>--forward '8080=web'</c>, <c>lstp.end.forward[0]</c>.</summary>
    string Name(OptionSpec option, int? item = null);

    /// <summary>The option's text does not parse.</summary>
    void Invalid(OptionSpec option, OptionProblem problem);

    /// <summary>The option breaks a rule between options; <paramref name="message"/> reads after its name.</summary>
    void Conflict(OptionSpec option, int? item, string message);
}

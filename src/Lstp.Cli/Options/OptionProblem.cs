namespace Lstp.Cli.Options;

/// <summary>
/// What is wrong with an option's text, worded as `lstp check` shows it under the key, without the flag: the whole
/// value's problem, or (<see cref="Item"/>) one list item's.
/// </summary>
public sealed record OptionProblem(string Message, int? Item = null)
{
    /// <summary>
    /// The problem as a command prints it: after its flag, as one phrase when it starts with the quoted text
    /// (<c>--max-channels '+5' is not a positive whole number</c>), else after a colon (<c>--secret: the tunnel secret is empty</c>).
    /// </summary>
    public string For(string flag) => Message.StartsWith('\'') ? $"{flag} {Message}" : $"{flag}: {Message}";

    /// <summary>
    /// A parser's complaint. The domain's parsers name their flag first (<c>--forward '80': expected ...</c>); the
    /// table knows the flag (and `lstp check` shows a key instead), so it is dropped: <c>'80': expected ...</c>.
    /// </summary>
    public static OptionProblem Of(FormatException ex) => new(WithoutFlag(ex.Message));

    public static string WithoutFlag(string message) =>
        message.StartsWith("--", StringComparison.Ordinal) && message.IndexOf(' ', StringComparison.Ordinal) is var space and > 0
            ? message[(space + 1)..]
            : message;
}

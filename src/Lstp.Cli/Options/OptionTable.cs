using System.CommandLine;

namespace Lstp.Cli.Options;

/// <summary>A role's options, whatever they land in: what `lstp check` and the reference configuration need.</summary>
public interface IOptionTable
{
    /// <summary>The command's name and the file's section: <c>end</c> is `lstp end` and <c>lstp.end</c>.</summary>
    string Role { get; }

    string Description { get; }

    IReadOnlyList<OptionSpec> Options { get; }

    /// <summary>Reads every option from <paramref name="source"/> and judges the rules, reporting each problem there.</summary>
    void Check(IOptionSource source);
}

/// <summary>
/// The options of one command, each declared once (flag, help, parser, where it lands), and the rules between them.
/// The command's flags (<see cref="CreateCommand"/>), its binding and `lstp check`'s section (<see cref="Bind"/>)
/// all come from here, so they cannot drift apart.
/// </summary>
public sealed class OptionTable<TTarget>(
    string role, string description, Func<TTarget> defaults, IReadOnlyList<OptionSpec<TTarget>> rows, IReadOnlyList<OptionRule<TTarget>> rules)
    : IOptionTable
{
    public string Role => role;

    public string Description => description;

    public IReadOnlyList<OptionSpec> Options => rows;

    /// <summary>The command, its options in the table's order; its action is the caller's.</summary>
    public Command CreateCommand()
    {
        var command = new Command(role, description);
        foreach (var row in rows) command.Options.Add(row.CreateOption());
        return command;
    }

    /// <summary>Each option given lands on the defaults; then the rules between options are judged.</summary>
    public TTarget Bind(IOptionSource source)
    {
        var target = defaults();
        foreach (var row in rows)
        {
            if (source.Texts(row) is { } texts) target = row.Land(target, texts, problem => source.Invalid(row, problem));
        }
        var context = new OptionRuleContext(source, Row, role);
        foreach (var rule in rules) rule(target, context);
        return target;
    }

    void IOptionTable.Check(IOptionSource source) => Bind(source);

    public OptionSpec<TTarget> Row(string flag) =>
        rows.FirstOrDefault(r => r.Flag == flag) ?? throw new ArgumentException($"lstp {role} has no option {flag}", nameof(flag));
}

namespace Lstp.Cli.Options;

/// <summary>
/// A rule between options, judged after each option has been read: by the command (the first broken rule stops it)
/// and by `lstp check` (each broken rule is a problem), so the two cannot disagree.
/// </summary>
public delegate void OptionRule<in TTarget>(TTarget target, OptionRuleContext context);

/// <summary>What a rule sees of the options besides their values: which are given, their names in messages.</summary>
public sealed class OptionRuleContext(IOptionSource source, Func<string, OptionSpec> option, string role)
{
    public bool Given(string flag) => source.Given(option(flag));

    public bool Supplied(string flag) => source.Supplied(option(flag));

    public string Name(string flag, int? item = null) => source.Name(option(flag), item);

    /// <summary>The environment variable that also gives the option: <c>LSTP__END__SECRET</c>.</summary>
    public string Variable(string flag) => $"LSTP__{role.ToUpperInvariant()}__{option(flag).Key.ToUpperInvariant()}";

    public void Conflict(string flag, string message, int? item = null) => source.Conflict(option(flag), item, message);
}

/// <summary>The kinds of rule between options, for a table whose values land in <typeparamref name="TTarget"/>.</summary>
public static class OptionRules<TTarget>
{
    /// <summary>A secret given inline and in a file at once: which one was meant?</summary>
    public static OptionRule<TTarget> Once(string value, string file) => (_, c) =>
    {
        if (c.Given(file) && c.Supplied(value)) c.Conflict(file, $"repeats {c.Name(value)}: give the {value.TrimStart('-')} once");
    };

    /// <summary><paramref name="flag"/> needs one of <paramref name="anyOf"/> beside it.</summary>
    public static OptionRule<TTarget> Needs(string flag, string[] anyOf, string? why = null) => (_, c) =>
    {
        if (c.Given(flag) && !anyOf.Any(c.Supplied)) c.Conflict(flag, $"needs {string.Join(" or ", anyOf.Select(o => c.Name(o)))}{(why is null ? "" : ": " + why)}");
    };

    /// <summary><paramref name="flag"/> would be ignored without one of <paramref name="anyOf"/>: a sign of a mistake.</summary>
    public static OptionRule<TTarget> NoEffectWithout(string flag, params string[] anyOf) => (_, c) =>
    {
        if (c.Given(flag) && !anyOf.Any(c.Supplied)) c.Conflict(flag, $"has no effect without {string.Join(" or ", anyOf.Select(o => c.Name(o)))}");
    };

    /// <summary><paramref name="flag"/> cannot be combined with any of <paramref name="others"/>.</summary>
    public static OptionRule<TTarget> Excludes(string flag, string[] others, string why) => (_, c) =>
    {
        if (c.Given(flag) && others.FirstOrDefault(c.Supplied) is { } other) c.Conflict(flag, $"excludes {c.Name(other)}: {why}");
    };

    /// <summary>
    /// <paramref name="flag"/> (or one of <paramref name="alternatives"/>) must be given: in the file, the
    /// environment or a flag. <paramref name="what"/> says what it is.
    /// </summary>
    public static OptionRule<TTarget> Required(string flag, string[] alternatives, string what) => (_, c) =>
    {
        if (c.Supplied(flag) || alternatives.Any(c.Supplied)) return;
        var others = alternatives.Select(a => c.Name(a)).Append(c.Variable(flag));
        c.Conflict(flag, $"is required (or {string.Join(", or ", others)}): {what}");
    };
}

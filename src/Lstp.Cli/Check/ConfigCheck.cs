using Lstp.Cli.Configuration.Hocon;
using Lstp.Cli.Options;

namespace Lstp.Cli.Check;

/// <summary>One problem in a config file: the line, where (a key path such as <c>lstp.end.forward[1]</c>) and what.</summary>
public sealed record ConfigProblem(int Line, string Location, string Message)
{
    public override string ToString() => $"{Line}: {Location}: {Message}";
}

/// <summary>What <see cref="ConfigCheck.Check"/> found: the sections present and every problem.</summary>
public sealed record ConfigReport(IReadOnlyList<string> Sections, IReadOnlyList<ConfigProblem> Problems);

/// <summary>
/// Checks a config file with the commands' own option tables (<see cref="OptionTables"/>): each key parsed by the
/// parser its flag uses, and the same rules between options. It reports every problem, not the first; messages
/// never repeat a secret or token.
/// </summary>
public static class ConfigCheck
{
    public static ConfigReport Check(string text, IReadOnlySet<string>? environment = null)
    {
        environment ??= new HashSet<string>();
        var problems = new List<ConfigProblem>();
        var sections = new List<string>();
        HoconObject root;
        try
        {
            root = HoconReader.Read(text);
        }
        catch (HoconException ex)
        {
            return new ConfigReport([], [new ConfigProblem(ex.Line, $"column {ex.Column}", ex.Problem)]);
        }
        foreach (var (name, value) in root.Fields)
        {
            if (name == "akka")
            {
                if (value is not HoconObject akka) problems.Add(new ConfigProblem(value.Line, "akka", "expected an object: the actor system's settings"));
                else if (Akka(akka) is { } problem) problems.Add(new ConfigProblem(value.Line, "akka", problem));
                continue;
            }
            if (name != "lstp")
            {
                problems.Add(new ConfigProblem(value.Line, name, $"unknown section{Suggestions.Nearest(name, ["lstp", "akka"])} (expected lstp or akka)"));
                continue;
            }
            if (value is not HoconObject lstp)
            {
                problems.Add(new ConfigProblem(value.Line, name, "expected an object with middle and/or end"));
                continue;
            }
            foreach (var (role, options) in lstp.Fields)
            {
                if (OptionTables.All.FirstOrDefault(t => t.Role == role) is not { } table)
                {
                    var roles = OptionTables.All.Select(t => t.Role).ToList();
                    problems.Add(new ConfigProblem(options.Line, $"lstp.{role}", $"unknown section{Suggestions.Nearest(role, roles)} (expected {string.Join(", ", roles[..^1])} or {roles[^1]})"));
                    continue;
                }
                sections.Add($"lstp.{role}");
                if (ConfigSection.Open(table, options, problems, environment) is { } section) table.Check(section);
            }
        }
        if (sections.Count == 0 && problems.Count == 0) problems.Add(new ConfigProblem(1, "lstp", "no lstp.middle or lstp.end section: nothing for lstp middle or lstp end to read"));
        return new ConfigReport(sections, [.. problems.OrderBy(p => p.Line)]);
    }

    /// <summary>Whether Akka reads the section; its own message when it does not.</summary>
    private static string? Akka(HoconObject akka)
    {
        try
        {
            HoconFile.ToAkka(akka);
            return null;
        }
        catch (Exception ex)
        {
            return $"the actor system cannot read it: {ex.Message}";
        }
    }
}

using System.CommandLine;
using System.Text;
using System.Text.RegularExpressions;
using Lstp.Cli.Check;
using Lstp.Cli.Commands;
using Lstp.Cli.Configuration;
using Lstp.Cli.Options;
using Xunit;

namespace Lstp.Admin.Tests.Check;

/// <summary>
/// No drift between a command and `lstp check`: for every option of `lstp middle`, `lstp end` and `lstp status`,
/// each text (its samples, and texts that parsers get wrong: "+5", " 5", "1e3", ...) is taken by both or refused by
/// both with the same message, given as a flag and in a --config file; and every flag has its row in the table.
/// </summary>
public sealed partial class OptionDriftTests(OptionSamples samples) : IClassFixture<OptionSamples>
{
    /// <summary>Texts every option meets: numbers that loose parsers take (sign, spaces, exponent), a word, nothing.</summary>
    private static readonly string[] Candidates = ["+5", " 5", "-1", "0", "1e3", "abc", "", "5", "5,6"];

    public static TheoryData<string, string> Options()
    {
        var data = new TheoryData<string, string>();
        foreach (var table in OptionTables.All)
        {
            foreach (var option in table.Options.Where(o => o.InFile)) data.Add(table.Role, option.Flag);
        }
        return data;
    }

    [Theory]
    [InlineData("middle")]
    [InlineData("end")]
    [InlineData("status")]
    public void Every_flag_of_the_command_is_a_row_of_its_table_and_every_row_a_flag(string role)
    {
        var flags = Command(role).Options.Select(o => o.Name).Where(n => n.StartsWith("--", StringComparison.Ordinal) && n != "--help");
        Assert.Equal(Table(role).Options.Select(o => o.Flag), flags);
    }

    [Theory]
    [InlineData("middle")]
    [InlineData("end")]
    [InlineData("status")]
    public void Every_option_a_file_may_hold_has_good_and_bad_samples(string role)
    {
        var options = Table(role).Options.Where(o => o.InFile).Select(o => o.Flag).Order(StringComparer.Ordinal);
        Assert.Equal(options, samples.Of(role).Keys.Order(StringComparer.Ordinal));
        Assert.All(samples.Of(role), s => Assert.True(s.Value.Good.Length > 0 && s.Value.Bad.Length > 0, $"{s.Key} needs good and bad samples"));
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void The_command_and_lstp_check_agree_on_every_text(string role, string flag)
    {
        var option = Table(role).Options.Single(o => o.Flag == flag);
        var sample = samples.Of(role)[flag];
        foreach (var text in sample.Good.Concat(sample.Bad).Concat(Candidates).Distinct())
        {
            var inFile = InFile(role, option, text);
            var asFlag = AsFlag(role, option, text);
            if (sample.Good.Contains(text))
            {
                Assert.True(inFile is null, $"lstp {role}: {flag} '{text}' in a file is a good sample, yet refused: {inFile}");
                Assert.True(asFlag is null, $"lstp {role}: {flag} '{text}' is a good sample, yet refused: {asFlag}");
            }
            if (sample.Bad.Contains(text))
            {
                Assert.True(inFile is not null, $"lstp {role}: {flag} '{text}' in a file is a bad sample, yet taken");
                // A list drops empty items of a flag's comma-separated value; as written in the file, they count.
                if (option.Shape == OptionShape.Value) Assert.True(asFlag is not null, $"lstp {role}: {flag} '{text}' is a bad sample, yet taken");
            }
        }
    }

    [Theory]
    [InlineData("middle", "--log-level", "loud", "--log-level 'loud': expected trace, debug, info, warning or error")]
    [InlineData("end", "--log-format", "xml", "--log-format 'xml': expected text or json")]
    [InlineData("end", "--config", "/nonexistent/lstp.conf", "--config: file '/nonexistent/lstp.conf' does not exist")]
    public void A_flag_no_file_may_give_is_checked_by_the_command_and_refused_in_a_file(string role, string flag, string text, string message)
    {
        Assert.Equal(message, Assert.Throws<UsageException>(() => Read(role, [.. Args(OptionSamples.Required(role, flag)), flag, text])).Message);
        var problem = Assert.Single(Check(role, $"  {flag[2..]} = {Quote(text)}\n"), p => p.Location == $"lstp.{role}.{flag[2..]}");
        Assert.StartsWith("unknown option", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lstp_end_refuses_plus_5_as_lstp_check_does()
    {
        // The issue's example: `lstp end --max-channels +5` ran while `lstp check` refused it.
        var command = Assert.Throws<UsageException>(() => Read("end", ["--middle", "relay:7700", "--secret", "s", "--max-channels", "+5"]));
        var problem = Assert.Single(ConfigCheck.Check("lstp.end { middle = \"relay:7700\", secret = s, max-channels = \"+5\" }").Problems);
        Assert.Equal("--max-channels '+5' is not a positive whole number", command.Message);
        Assert.Equal(("lstp.end.max-channels", "'+5' is not a positive whole number"), (problem.Location, problem.Message));
    }

    /// <summary>
    /// The text in a --config file, as written (a list's one item): read by `lstp check` and by the command. Null
    /// when both take it; the problem when both refuse it; a failed assertion when they disagree.
    /// </summary>
    private string? InFile(string role, OptionSpec option, string text)
    {
        var with = OptionSamples.Required(role, option.Flag).Concat(samples.Of(role)[option.Flag].With).ToList();
        var lines = new StringBuilder();
        foreach (var (flag, value) in with) lines.Append($"  {flag[2..]} = {Quote(value)}\n");
        lines.Append($"  {option.FileKey} = {(option.Shape == OptionShape.List ? $"[{Quote(text)}]" : Quote(text))}\n");
        var check = Check(role, lines.ToString());
        if (role == "status") return check.Count == 0 ? null : check[0].ToString(); // `lstp status` reads no file
        var file = samples.Write($"{role}-{Guid.NewGuid():N}.conf", $"lstp.{role} {{\n{lines}}}\n");
        return Agree($"lstp {role} --config with {option.FileKey} = '{text}'", role, Run(role, ["--config", file]), check);
    }

    /// <summary>The text as a flag, against `lstp check` of the same text as one value in the file (a list splits it at commas either way).</summary>
    private string? AsFlag(string role, OptionSpec option, string text)
    {
        // A switch's text on the command line is System.CommandLine's to read: only true and false reach the table.
        if (option.Shape == OptionShape.Switch && text is not ("true" or "false")) return null;
        var with = OptionSamples.Required(role, option.Flag).Concat(samples.Of(role)[option.Flag].With).ToList();
        var check = Check(role, $"{string.Concat(with.Select(w => $"  {w.Flag[2..]} = {Quote(w.Text)}\n"))}  {option.FileKey} = {Quote(text)}\n");
        return Agree($"lstp {role} {option.Flag} '{text}'", role, Run(role, [.. Args(with), option.Flag, text]), check);
    }

    private static string? Agree(string what, string role, string? command, IReadOnlyList<ConfigProblem> check)
    {
        if (command is null)
        {
            Assert.True(check.Count == 0, $"{what}: the command takes it, lstp check refuses it: {string.Join("; ", check)}");
            return null;
        }
        Assert.True(check.Count > 0, $"{what}: lstp check takes it, the command refuses it: {command}");
        Assert.True(check.Any(p => Same(role, command, p)), $"{what}: the command says \"{command}\", lstp check says \"{string.Join("; ", check)}\"");
        return command;
    }

    /// <summary>
    /// Whether the command's message is lstp check's problem: the same words after the flag, where the command names
    /// options by flag (<c>--forward '8080=web'</c>) and lstp check by key (<c>lstp.end.forward[0]</c>).
    /// </summary>
    private static bool Same(string role, string command, ConfigProblem problem)
    {
        var prefix = $"lstp.{role}.";
        if (!problem.Location.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var flag = "--" + ItemIndex().Replace(problem.Location[prefix.Length..], "");
        if (!command.StartsWith(flag, StringComparison.Ordinal)) return false;
        var said = FlagWithItem().Replace(command[flag.Length..], "$1");
        var expected = Regex.Replace(problem.Message, $@"lstp\.{role}\.([a-z0-9-]+)(\[\d+\])?", "--$1");
        return said == " " + expected || said == ": " + expected;
    }

    /// <summary>The command's binding, as its action runs it: null when it takes the options, else its one line.</summary>
    private static string? Run(string role, string[] args)
    {
        try
        {
            Read(role, args);
            return null;
        }
        catch (UsageException ex)
        {
            return ex.Message;
        }
    }

    private static object Read(string role, string[] args)
    {
        var parse = Command(role).Parse(args);
        Assert.True(parse.Errors.Count == 0, $"lstp {role} {string.Join(' ', args)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        return role switch
        {
            "middle" => MiddleOptionTable.Read(parse),
            "end" => EndOptionTable.Read(parse),
            _ => StatusOptionTable.Read(parse),
        };
    }

    /// <summary>`lstp check` of one section.</summary>
    private static List<ConfigProblem> Check(string role, string lines) =>
        [.. ConfigCheck.Check($"lstp.{role} {{\n{lines}}}\n").Problems];

    private static string[] Args(IEnumerable<(string Flag, string Text)> options) => [.. options.SelectMany(o => new[] { o.Flag, o.Text })];

    private static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static Command Command(string role) => role switch
    {
        "middle" => MiddleCommand.Create(),
        "end" => EndCommand.Create(),
        _ => StatusCommand.Create(),
    };

    private static IOptionTable Table(string role) => OptionTables.All.Single(t => t.Role == role);

    [GeneratedRegex(@"\[\d+\]$")]
    private static partial Regex ItemIndex();

    [GeneratedRegex(@"(--[a-z0-9-]+) '[^']*'")]
    private static partial Regex FlagWithItem();
}

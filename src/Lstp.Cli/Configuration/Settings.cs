using System.CommandLine;
using System.CommandLine.Parsing;
using Lstp.Cli.Configuration.Hocon;
using Lstp.Cli.Options;
using Microsoft.Extensions.Configuration;

namespace Lstp.Cli.Configuration;

/// <summary>
/// A command's options in the usual order: the HOCON file named by --config (its <c>lstp.end</c>, <c>lstp.middle</c>
/// or <c>lstp.status</c> section), then LSTP__ environment variables, then flags (flags win). Every key is derived
/// from its flag (<see cref="OptionKeys"/>): <c>--max-channels</c> is <c>lstp.end.max-channels</c> in the file and
/// <c>LSTP__END__MAXCHANNELS</c> in the environment; a repeatable flag is an array in the file and
/// <c>LSTP__END__FORWARD__0</c>, <c>__1</c>, ... (or one comma-separated value) in the environment.
/// The first problem stops the command: a <see cref="UsageException"/> that names the flag.
/// </summary>
public sealed class Settings : IOptionSource
{
    private readonly ParseResult _parse;
    private readonly IConfiguration _section;
    private readonly Dictionary<OptionSpec, IReadOnlyList<string>?> _texts = [];

    public Settings(ParseResult parse, IOptionTable table)
    {
        _parse = parse;
        var builder = new ConfigurationBuilder();
        var configFile = table.Options.Any(o => o.Flag == "--config") ? (_parse.GetResult("--config") as OptionResult)?.GetValueOrDefault<string>() : null;
        if (configFile is not null)
        {
            var file = HoconFile.Load(configFile);
            builder.AddInMemoryCollection(file.Options(OptionKeys.Pascal(table.Role)));
            Akka = file.Akka();
        }
        builder.AddEnvironmentVariables("LSTP__");
        _section = builder.Build().GetSection(OptionKeys.Pascal(table.Role));
    }

    /// <summary>The file's <c>akka</c> section, for the node's actor system; null without one.</summary>
    public Akka.Configuration.Config? Akka { get; }

    public IReadOnlyList<string>? Texts(OptionSpec option)
    {
        if (!_texts.TryGetValue(option, out var texts)) _texts[option] = texts = Read(option);
        return texts;
    }

    public bool Given(OptionSpec option) => Texts(option) is { Count: > 0 };

    public bool Supplied(OptionSpec option) => Given(option);

    public string Name(OptionSpec option, int? item = null) =>
        item is { } i && Texts(option) is { } texts && i < texts.Count ? $"{option.Flag} '{texts[i]}'" : option.Flag;

    public void Invalid(OptionSpec option, OptionProblem problem) => throw new UsageException(problem.For(option.Flag));

    public void Conflict(OptionSpec option, int? item, string message) => throw new UsageException($"{option.Flag} {message}");

    private IReadOnlyList<string>? Read(OptionSpec option)
    {
        if (_parse.GetResult(option.Flag) is OptionResult { Implicit: false } given)
        {
            return option.Shape switch
            {
                OptionShape.List => [.. (given.GetValueOrDefault<string[]>() ?? []).SelectMany(SplitList)],
                OptionShape.Switch => [given.GetValueOrDefault<bool>() ? "true" : "false"],
                _ => [given.GetValueOrDefault<string>() ?? ""],
            };
        }
        if (!option.InFile) return null;
        var node = _section.GetSection(option.Key);
        var children = node.GetChildren().Select(c => c.Value).OfType<string>().ToList();
        if (option.Shape != OptionShape.List)
        {
            if (node.Value is null && children.Count > 0) throw new UsageException($"{option.Flag}: the config gives a list where one value is expected");
            return node.Value is { } text ? [text] : null;
        }
        if (children.Count > 0) return children;
        return node.Value is { } list ? SplitList(list) : null;
    }

    /// <summary>One comma-separated value of a list: its items, trimmed, empty ones dropped (`lstp check` reads it the same way).</summary>
    public static string[] SplitList(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

using System.CommandLine;
using Lstp.Cli.Configuration.Hocon;
using Microsoft.Extensions.Configuration;

namespace Lstp.Cli.Configuration;

/// <summary>
/// Reads each option in the usual order: the HOCON file named by --config (its <c>lstp.end</c>, <c>lstp.middle</c>
/// or <c>lstp.status</c> section), then LSTP__ environment variables, then flags (flags win). Every key is derived
/// from its flag (<see cref="OptionKeys"/>): <c>--max-channels</c> is <c>lstp.end.max-channels</c> in the file and
/// <c>LSTP__END__MAXCHANNELS</c> in the environment; a repeatable flag is an array in the file and
/// <c>LSTP__END__FORWARD__0</c>, <c>__1</c>, ... (or one comma-separated value) in the environment.
/// </summary>
public sealed class Settings
{
    private readonly ParseResult _parse;
    private readonly IConfiguration _section;

    public Settings(ParseResult parse, string section, string? configFile)
    {
        _parse = parse;
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            var file = HoconFile.Load(configFile);
            builder.AddInMemoryCollection(file.Options(section));
            Akka = file.Akka();
        }
        builder.AddEnvironmentVariables("LSTP__");
        _section = builder.Build().GetSection(section);
    }

    /// <summary>The file's <c>akka</c> section, for the node's actor system; null without one.</summary>
    public Akka.Configuration.Config? Akka { get; }

    public string? String(Option<string> option)
    {
        var key = OptionKeys.Pascal(option);
        var result = _parse.GetResult(option);
        if (result is not null && !result.Implicit) return _parse.GetValue(option);
        if (_section[key] is null && _section.GetSection(key).GetChildren().Any())
        {
            throw new UsageException($"{option.Name}: the config gives a list where one value is expected");
        }
        return _section[key];
    }

    public bool Flag(Option<bool> option)
    {
        var key = OptionKeys.Pascal(option);
        var result = _parse.GetResult(option);
        if (result is not null && !result.Implicit) return _parse.GetValue(option);
        var text = _section[key];
        if (text is null) return false;
        return bool.TryParse(text, out var value) ? value : throw new UsageException($"{key}: '{text}' is not true or false");
    }

    /// <summary>Repeatable flags, or an array in the file, or a comma-separated string.</summary>
    public IReadOnlyList<string> List(Option<string[]> option)
    {
        var key = OptionKeys.Pascal(option);
        var result = _parse.GetResult(option);
        if (result is not null && !result.Implicit)
        {
            return [.. (_parse.GetValue(option) ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
        }
        var node = _section.GetSection(key);
        var children = node.GetChildren().Select(c => c.Value).OfType<string>().ToList();
        if (children.Count > 0) return children;
        return node.Value is { } text ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
    }

    /// <summary>A secret from a flag, a file, or the config; an empty one is an error, never "no secret".</summary>
    public string? Secret(Option<string> value, Option<string> file, string what)
    {
        var direct = String(value);
        var path = String(file);
        if (direct is not null && path is not null) throw new UsageException($"give the {what} once: either --{what} or --{what}-file");
        if (path is not null)
        {
            if (!File.Exists(path)) throw new UsageException($"--{what}-file: '{path}' does not exist");
            direct = File.ReadAllText(path).Trim();
            if (direct.Length == 0) throw new UsageException($"--{what}-file: '{path}' is empty; refusing to run without a {what}");
        }
        if (direct is not null && string.IsNullOrWhiteSpace(direct)) throw new UsageException($"the {what} is empty; refusing to run without a {what}");
        return direct;
    }
}

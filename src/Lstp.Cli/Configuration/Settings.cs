using System.CommandLine;
using Microsoft.Extensions.Configuration;

namespace Lstp.Cli.Configuration;

/// <summary>
/// Reads each option in the usual .NET order: the JSON file named by --config, then LSTP__ environment
/// variables, then flags (flags win). Keys are the option names in PascalCase under the command's section,
/// e.g. <c>{"End": {"Secret": "..."}}</c> or <c>LSTP__END__SECRET</c>.
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
            if (!File.Exists(configFile)) throw new UsageException($"--config: file '{configFile}' does not exist");
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }
        builder.AddEnvironmentVariables("LSTP__");
        try
        {
            _section = builder.Build().GetSection(section);
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException)
        {
            throw new UsageException($"--config '{configFile}': {ex.InnerException?.Message ?? ex.Message}");
        }
    }

    public string? String(Option<string> option, string key)
    {
        var result = _parse.GetResult(option);
        if (result is not null && !result.Implicit) return _parse.GetValue(option);
        return _section[key];
    }

    public bool Flag(Option<bool> option, string key)
    {
        var result = _parse.GetResult(option);
        if (result is not null && !result.Implicit) return _parse.GetValue(option);
        var text = _section[key];
        if (text is null) return false;
        return bool.TryParse(text, out var value) ? value : throw new UsageException($"{key}: '{text}' is not true or false");
    }

    /// <summary>Repeatable flags, or a JSON array, or a comma-separated string.</summary>
    public IReadOnlyList<string> List(Option<string[]> option, string key)
    {
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
    public string? Secret(Option<string> value, Option<string> file, string key, string what)
    {
        var direct = String(value, key);
        var path = String(file, key + "File");
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

using Lstp.Cli.Configuration;
using Lstp.Cli.Configuration.Hocon;
using Lstp.Cli.Options;

namespace Lstp.Cli.Check;

/// <summary>
/// One section of a config file as `lstp check` reads it (<c>lstp.end</c>): the options it holds, for the same
/// table the command binds, and every problem at the line of the value it concerns.
/// </summary>
public sealed class ConfigSection : IOptionSource
{
    private readonly Dictionary<string, (string Name, HoconNode Value)> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<ListItem>?> _items = new(StringComparer.Ordinal);
    private readonly List<ConfigProblem> _problems;
    private readonly IReadOnlySet<string> _environment;
    private readonly string _environmentPrefix;

    private ConfigSection(string path, int line, List<ConfigProblem> problems, IReadOnlySet<string> environment, string environmentPrefix)
    {
        Path = path;
        Line = line;
        _problems = problems;
        _environment = environment;
        _environmentPrefix = environmentPrefix;
    }

    /// <summary>Where the section is: <c>lstp.end</c>.</summary>
    public string Path { get; }

    /// <summary>Where the section starts: problems about an option it lacks point here.</summary>
    public int Line { get; }

    /// <summary>The section, with a problem for each key that is no option of <paramref name="table"/>; null when it is no object.</summary>
    public static ConfigSection? Open(IOptionTable table, HoconNode node, List<ConfigProblem> problems, IReadOnlySet<string> environment)
    {
        var path = $"lstp.{table.Role}";
        if (node is not HoconObject obj)
        {
            problems.Add(new ConfigProblem(node.Line, path, "expected an object of options"));
            return null;
        }
        var section = new ConfigSection(path, node.Line, problems, environment, $"LSTP__{table.Role.ToUpperInvariant()}__");
        var known = table.Options.Where(o => o.InFile).Select(o => o.FileKey).ToList();
        foreach (var (name, value) in obj.Fields)
        {
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                problems.Add(new ConfigProblem(value.Line, $"{path}.{name}", $"unknown option{Suggestions.Nearest(name, known)}"));
                continue;
            }
            section._keys[OptionKeys.Pascal(name)] = (name, value);
        }
        return section;
    }

    public IReadOnlyList<string>? Texts(OptionSpec option)
    {
        if (!_items.TryGetValue(option.Key, out var items)) _items[option.Key] = items = Read(option);
        return items?.Select(i => i.Value).ToList();
    }

    public bool Given(OptionSpec option) => Texts(option) is { Count: > 0 };

    /// <summary>In the file, or in an LSTP__ variable (possibly an indexed list: <c>LSTP__END__MIDDLE__0</c>).</summary>
    public bool Supplied(OptionSpec option)
    {
        var variable = (_environmentPrefix + option.Key).ToUpperInvariant();
        return Given(option) || _environment.Any(e => e == variable || e.StartsWith(variable + "__", StringComparison.Ordinal));
    }

    public string Name(OptionSpec option, int? item = null) =>
        item is { } i && _items.GetValueOrDefault(option.Key) is { } items && i < items.Count ? items[i].Location : Location(option.Key);

    public void Invalid(OptionSpec option, OptionProblem problem) => Conflict(option, problem.Item, problem.Message);

    public void Conflict(OptionSpec option, int? item, string message)
    {
        if (item is { } i && _items.GetValueOrDefault(option.Key) is { } items && i < items.Count) _problems.Add(new ConfigProblem(items[i].Line, items[i].Location, message));
        else _problems.Add(new ConfigProblem(_keys.TryGetValue(option.Key, out var found) ? found.Value.Line : Line, Location(option.Key), message));
    }

    private string Location(string key) => $"{Path}.{(_keys.TryGetValue(key, out var found) ? found.Name : OptionKeys.Kebab(key))}";

    /// <summary>The option's value, each list item with its own location and line; a value of the wrong shape is a problem.</summary>
    private IReadOnlyList<ListItem>? Read(OptionSpec option)
    {
        if (!_keys.TryGetValue(option.Key, out var found)) return null;
        var location = Location(option.Key);
        switch (found.Value)
        {
            case HoconScalar scalar when option.Shape != OptionShape.List:
                return [new ListItem(location, scalar.Line, scalar.Text)];
            case HoconScalar scalar:
                return [.. Settings.SplitList(scalar.Text).Select((v, i) => new ListItem($"{location}[{i}]", scalar.Line, v))];
            case HoconArray array when option.Shape == OptionShape.List:
                var items = new List<ListItem>();
                for (var i = 0; i < array.Items.Count; i++)
                {
                    if (array.Items[i] is HoconScalar text) items.Add(new ListItem($"{location}[{i}]", text.Line, text.Text));
                    else _problems.Add(new ConfigProblem(array.Items[i].Line, $"{location}[{i}]", "expected a string"));
                }
                return items;
            default:
                _problems.Add(new ConfigProblem(found.Value.Line, location, option.Shape == OptionShape.List
                    ? "expected an array of strings, or one comma-separated string"
                    : "expected a single value, not an object or array"));
                return null;
        }
    }

    /// <summary>One value of the section: where it is, its line, and its text.</summary>
    private sealed record ListItem(string Location, int Line, string Value);
}

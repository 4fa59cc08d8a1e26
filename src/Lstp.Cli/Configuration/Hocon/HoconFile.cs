using System.Globalization;
using System.Text;
using Akka.Configuration;

namespace Lstp.Cli.Configuration.Hocon;

/// <summary>
/// A `--config` file: the product's options under <c>lstp.middle</c>, <c>lstp.end</c> or <c>lstp.status</c>, keyed by
/// flag name (<c>lstp.end.max-channels = 64</c>), and the node's actor system under <c>akka</c>. One file configures
/// both; hocon/reference.conf lists every key.
/// </summary>
public sealed class HoconFile
{
    private HoconFile(string path, HoconObject root)
    {
        Path = path;
        Root = root;
    }

    public string Path { get; }

    public HoconObject Root { get; }

    /// <summary>Reads the file; a file that cannot be read is a <see cref="UsageException"/> naming its line.</summary>
    public static HoconFile Load(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"--config: file '{path}' does not exist");
        try
        {
            return new HoconFile(path, HoconReader.Read(File.ReadAllText(path)));
        }
        catch (HoconException ex)
        {
            throw new UsageException($"--config {path}:{ex.Line}:{ex.Column}: {ex.Problem}");
        }
    }

    /// <summary>The role's options (<c>lstp.end</c>) as .NET configuration keys (<c>End:MaxChannels</c>, <c>End:Forward:0</c>).</summary>
    public IEnumerable<KeyValuePair<string, string?>> Options(string role)
    {
        if (Root.At("lstp." + role.ToLowerInvariant()) is not HoconObject section) yield break;
        foreach (var (key, value) in section.Fields)
        {
            var name = $"{role}:{OptionKeys.Pascal(key)}";
            switch (value)
            {
                case HoconScalar scalar:
                    yield return new(name, scalar.Text);
                    break;
                case HoconArray array:
                    var i = 0;
                    foreach (var item in array.Items)
                    {
                        if (item is not HoconScalar text) throw new UsageException($"--config {Path}:{item.Line}: lstp.{role.ToLowerInvariant()}.{key}[{i}]: expected a string");
                        yield return new($"{name}:{i++.ToString(CultureInfo.InvariantCulture)}", text.Text);
                    }
                    break;
                default:
                    throw new UsageException($"--config {Path}:{value.Line}: lstp.{role.ToLowerInvariant()}.{key}: expected a value or an array, not an object");
            }
        }
    }

    /// <summary>The file's <c>akka</c> section as the actor system's configuration, or null when it has none.</summary>
    public Config? Akka() => Root["akka"] is HoconObject akka ? ToAkka(akka) : null;

    /// <summary>
    /// Hands a section this reader accepted to Akka: written back out with every key and value quoted, so Akka's
    /// parser sees only text it cannot misread. Akka reads a quoted "500ms", "on" or "3" as it reads them bare.
    /// </summary>
    public static Config ToAkka(HoconObject section)
    {
        var text = new StringBuilder("akka ");
        Write(section, text);
        return ConfigurationFactory.ParseString(text.ToString());
    }

    private static void Write(HoconNode node, StringBuilder text)
    {
        switch (node)
        {
            case HoconObject obj:
                text.Append("{\n");
                foreach (var (key, value) in obj.Fields)
                {
                    text.Append(Quote(key)).Append(value is HoconObject ? " " : " = ");
                    Write(value, text);
                    text.Append('\n');
                }
                text.Append('}');
                break;
            case HoconArray array:
                text.Append('[');
                for (var i = 0; i < array.Items.Count; i++)
                {
                    if (i > 0) text.Append(", ");
                    Write(array.Items[i], text);
                }
                text.Append(']');
                break;
            case HoconScalar scalar:
                text.Append(Quote(scalar.Text));
                break;
        }
    }

    private static string Quote(string text)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in text)
        {
            _ = c switch
            {
                '"' => quoted.Append("\\\""),
                '\\' => quoted.Append("\\\\"),
                '\n' => quoted.Append("\\n"),
                '\r' => quoted.Append("\\r"),
                '\t' => quoted.Append("\\t"),
                < ' ' => quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => quoted.Append(c),
            };
        }
        return quoted.Append('"').ToString();
    }
}

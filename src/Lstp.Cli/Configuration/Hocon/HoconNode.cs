namespace Lstp.Cli.Configuration.Hocon;

/// <summary>A value read from a HOCON file, with the line it starts on (1-based) so problems can point at it.</summary>
public abstract record HoconNode(int Line);

/// <summary>A string, number or boolean, as its text; <see cref="Quoted"/> when the file wrote it in quotes.</summary>
public sealed record HoconScalar(string Text, bool Quoted, int Line) : HoconNode(Line);

public sealed record HoconArray(IReadOnlyList<HoconNode> Items, int Line) : HoconNode(Line);

/// <summary>An object: its fields in the order the file first named them; a key given again replaces the value, or merges into an object.</summary>
public sealed record HoconObject(int Line) : HoconNode(Line)
{
    private readonly List<string> _order = [];
    private readonly Dictionary<string, HoconNode> _fields = new(StringComparer.Ordinal);

    public IEnumerable<KeyValuePair<string, HoconNode>> Fields => _order.Select(k => new KeyValuePair<string, HoconNode>(k, _fields[k]));

    public HoconNode? this[string key] => _fields.GetValueOrDefault(key);

    /// <summary>The node at a dotted path (<c>lstp.end</c>), or null.</summary>
    public HoconNode? At(string path)
    {
        HoconNode? node = this;
        foreach (var key in path.Split('.'))
        {
            node = node is HoconObject o ? o[key] : null;
            if (node is null) return null;
        }
        return node;
    }

    internal void Set(string key, HoconNode value)
    {
        if (_fields.TryGetValue(key, out var existing) && existing is HoconObject into && value is HoconObject from)
        {
            foreach (var (k, v) in from.Fields) into.Set(k, v);
            return;
        }
        if (!_fields.ContainsKey(key)) _order.Add(key);
        _fields[key] = value;
    }

    internal HoconObject Child(string key, int line)
    {
        if (_fields.TryGetValue(key, out var existing) && existing is HoconObject child) return child;
        child = new HoconObject(line);
        Set(key, child);
        return child;
    }
}

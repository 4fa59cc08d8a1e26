using System.Collections.Concurrent;

namespace Lstp.Middle.Relay;

/// <summary>Something counted per source address (links, waiting ends), safe to use from every link at once.</summary>
public sealed class SourceCounter
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    /// <summary>Counts one more for <paramref name="source"/> unless it already has <paramref name="limit"/>.</summary>
    public bool TryAdd(string source, int limit)
    {
        while (true)
        {
            var count = _counts.GetValueOrDefault(source);
            if (count >= limit) return false;
            if (count == 0 ? _counts.TryAdd(source, 1) : _counts.TryUpdate(source, count + 1, count)) return true;
        }
    }

    public void Add(string source) => _counts.AddOrUpdate(source, 1, (_, n) => n + 1);

    public void Remove(string source)
    {
        while (_counts.TryGetValue(source, out var count))
        {
            if (count <= 1 ? _counts.TryRemove(new KeyValuePair<string, int>(source, count)) : _counts.TryUpdate(source, count - 1, count)) return;
        }
    }

    public int Of(string source) => _counts.GetValueOrDefault(source);

    public bool Has(string source) => Of(source) > 0;
}

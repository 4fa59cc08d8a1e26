using System.Collections.Concurrent;

namespace Lstp.Middle.Relay;

/// <summary>
/// Counts the links a middle holds open, in all and per source address, against <see cref="MiddleOptions.MaxLinks"/>
/// and <see cref="MiddleOptions.MaxLinksPerSource"/>. Waiting ends were always limited; paired links were not, and one
/// address could pair its own links until the middle ran out of descriptors (about 39 KiB and a descriptor each).
/// </summary>
public sealed class LinkCounter(MiddleOptions options)
{
    private readonly ConcurrentDictionary<string, int> _perSource = new(StringComparer.Ordinal);
    private int _total;

    /// <summary>Counts one more link in all; false (and nothing counted) past the middle's limit.</summary>
    public bool TryAddLink()
    {
        if (Interlocked.Increment(ref _total) <= options.MaxLinks) return true;
        Interlocked.Decrement(ref _total);
        return false;
    }

    public void RemoveLink() => Interlocked.Decrement(ref _total);

    /// <summary>Counts one more end link from <paramref name="source"/>; false (and nothing counted) past the per-source limit.</summary>
    public bool TryAddFromSource(string source)
    {
        while (true)
        {
            var count = _perSource.GetOrAdd(source, 0);
            if (count >= options.MaxLinksPerSource) return false;
            if (_perSource.TryUpdate(source, count + 1, count)) return true;
        }
    }

    public void RemoveFromSource(string source)
    {
        while (true)
        {
            if (!_perSource.TryGetValue(source, out var count)) return;
            if (count <= 1)
            {
                if (_perSource.TryRemove(new KeyValuePair<string, int>(source, count))) return;
            }
            else if (_perSource.TryUpdate(source, count - 1, count))
            {
                return;
            }
        }
    }
}

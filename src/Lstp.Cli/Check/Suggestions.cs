namespace Lstp.Cli.Check;

/// <summary>"Did you mean ...?" for a misspelt key or section: the nearest known name by edit distance, if near enough.</summary>
internal static class Suggestions
{
    public static string Nearest(string name, IEnumerable<string> known)
    {
        var best = known.Select(k => (Key: k, Distance: Distance(name.ToLowerInvariant(), k.ToLowerInvariant())))
            .Where(c => c.Distance <= Math.Max(2, name.Length / 4)).OrderBy(c => c.Distance).FirstOrDefault();
        return best.Key is null ? "" : $" (did you mean {best.Key}?)";
    }

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }
        return row[b.Length];
    }
}

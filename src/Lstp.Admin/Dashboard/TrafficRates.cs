namespace Lstp.Admin.Dashboard;

/// <summary>
/// Bytes per second each way for every tunnel, from the relayed byte counters sampled once per tick. One
/// sampler writes (the feed's tick); readers get the last completed sample without locks.
/// </summary>
public sealed class TrafficRates
{
    private volatile Dictionary<string, Rate> _rates = [];
    private Dictionary<string, (long FirstToSecond, long SecondToFirst)> _last = [];
    private long _lastTimestamp;

    /// <summary>Bytes per second each way; zero for a tunnel not sampled twice yet.</summary>
    public readonly record struct Rate(long FirstToSecond, long SecondToFirst);

    public Rate Of(string tunnelId) => _rates.GetValueOrDefault(tunnelId);

    /// <summary>Takes a sample of every tunnel's byte counters at <paramref name="elapsedSinceLast"/> after the previous one.</summary>
    public void Sample(IEnumerable<(string Id, long FirstToSecond, long SecondToFirst)> tunnels, TimeSpan elapsedSinceLast)
    {
        var seconds = elapsedSinceLast.TotalSeconds;
        var now = new Dictionary<string, (long, long)>();
        var rates = new Dictionary<string, Rate>();
        foreach (var (id, a, b) in tunnels)
        {
            now[id] = (a, b);
            if (seconds > 0 && _last.TryGetValue(id, out var before))
            {
                rates[id] = new Rate(PerSecond(a - before.FirstToSecond, seconds), PerSecond(b - before.SecondToFirst, seconds));
            }
        }
        _last = now;
        _rates = rates;
    }

    /// <summary>Samples against a timestamp of <paramref name="time"/>, for callers that tick on a clock.</summary>
    public void Sample(IEnumerable<(string Id, long FirstToSecond, long SecondToFirst)> tunnels, TimeProvider time)
    {
        var timestamp = time.GetTimestamp();
        var elapsed = _lastTimestamp == 0 ? TimeSpan.Zero : time.GetElapsedTime(_lastTimestamp, timestamp);
        _lastTimestamp = timestamp;
        Sample(tunnels, elapsed);
    }

    private static long PerSecond(long bytes, double seconds) => bytes <= 0 ? 0 : (long)Math.Round(bytes / seconds);
}

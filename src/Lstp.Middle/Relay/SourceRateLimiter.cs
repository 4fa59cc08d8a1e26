using System.Collections.Concurrent;

namespace Lstp.Middle.Relay;

/// <summary>
/// New-connection rate per source address: a token bucket per address, refilled continuously. Buckets that
/// are full again are forgotten, so the table holds only addresses active in the last second or so.
/// </summary>
public sealed class SourceRateLimiter(int perSecond, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private long _lastSweep = time.GetTimestamp();

    public bool TryAcquire(string source)
    {
        if (perSecond <= 0) return true;
        var now = time.GetTimestamp();
        Sweep(now);
        var bucket = _buckets.GetOrAdd(source, _ => new Bucket(perSecond, now));
        lock (bucket)
        {
            bucket.Refill(perSecond, time.GetElapsedTime(bucket.Stamp, now).TotalSeconds, now);
            if (bucket.Tokens < 1) return false;
            bucket.Tokens -= 1;
            return true;
        }
    }

    private void Sweep(long now)
    {
        if (time.GetElapsedTime(Interlocked.Read(ref _lastSweep), now) < TimeSpan.FromSeconds(5)) return;
        Interlocked.Exchange(ref _lastSweep, now);
        foreach (var (key, bucket) in _buckets)
        {
            lock (bucket)
            {
                if (bucket.Tokens + time.GetElapsedTime(bucket.Stamp, now).TotalSeconds * perSecond >= perSecond) _buckets.TryRemove(key, out _);
            }
        }
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        public double Tokens = tokens;
        public long Stamp = stamp;

        public void Refill(int perSecond, double seconds, long now)
        {
            Tokens = Math.Min(perSecond, Tokens + seconds * perSecond);
            Stamp = now;
        }
    }
}

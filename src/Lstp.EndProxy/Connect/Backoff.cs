namespace Lstp.EndProxy.Connect;

/// <summary>
/// Jittered exponential backoff between reconnects: doubles from a minimum to a ceiling, each delay drawn
/// uniformly from ±50 % of the nominal value, so ends that lost the same middle do not return in lockstep.
/// </summary>
public sealed class Backoff(TimeSpan min, TimeSpan max, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;
    private int _failures;

    public int Failures => _failures;

    public TimeSpan Next()
    {
        var nominal = Math.Min(max.TotalMilliseconds, min.TotalMilliseconds * Math.Pow(2, Math.Min(_failures, 30)));
        _failures++;
        return TimeSpan.FromMilliseconds(nominal * (0.5 + _random.NextDouble()));
    }

    public void Reset() => _failures = 0;
}

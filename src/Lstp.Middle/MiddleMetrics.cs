using System.Collections.Concurrent;
using Lstp.Protocol;

namespace Lstp.Middle;

/// <summary>Counters the middle exports on /metrics; all updates are lock-free.</summary>
public sealed class MiddleMetrics
{
    private long _connections;
    private long _pairings;
    private long _bytesRelayed;
    private readonly ConcurrentDictionary<ErrorCode, long> _errors = new();

    public long Connections => Interlocked.Read(ref _connections);
    public long Pairings => Interlocked.Read(ref _pairings);
    public long BytesRelayed => Interlocked.Read(ref _bytesRelayed);
    public IReadOnlyDictionary<ErrorCode, long> Errors => _errors;

    public void Connected() => Interlocked.Increment(ref _connections);
    public void Paired() => Interlocked.Increment(ref _pairings);
    public void Relayed(long bytes) => Interlocked.Add(ref _bytesRelayed, bytes);
    public void Error(ErrorCode code) => _errors.AddOrUpdate(code, 1, (_, n) => n + 1);

    /// <summary>Raised for every ERROR the middle sends, with its reason and the link it went to (the dashboard's recent errors).</summary>
    public event Action<ErrorCode, string, string>? ErrorSent;

    public void Error(ErrorCode code, string reason, string remote)
    {
        Error(code);
        ErrorSent?.Invoke(code, reason, remote);
    }
}

using Lstp.Admin.Views;
using Lstp.Protocol;

namespace Lstp.Admin.Dashboard;

/// <summary>
/// The last <see cref="Capacity"/> errors this middle sent to ends, newest first: a ring buffer, so a flood of
/// failures costs fixed memory. Fed from the per-code error counters (each increase since the last sample
/// becomes an entry) or, with reason and source, from <see cref="Record"/>.
/// </summary>
public sealed class RecentErrors(int capacity = AdminLimits.RecentErrors)
{
    private readonly ErrorView[] _ring = new ErrorView[capacity];
    private readonly Lock _lock = new();
    private Dictionary<ErrorCode, long> _lastCounts = [];
    private int _next;
    private int _count;

    public int Capacity => _ring.Length;

    public void Record(ErrorCode code, int count, string? reason, string? from, DateTimeOffset at)
    {
        var entry = new ErrorView(at, code.ToString(), (int)code, count, reason, from);
        lock (_lock)
        {
            _ring[_next] = entry;
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
        }
    }

    /// <summary>Records one entry per code whose counter grew since the last call (on the first call, every non-zero count).</summary>
    public void SampleCounts(IReadOnlyDictionary<ErrorCode, long> counts, DateTimeOffset at)
    {
        var now = new Dictionary<ErrorCode, long>(counts);
        foreach (var (code, total) in now.OrderBy(c => c.Key))
        {
            var grew = total - _lastCounts.GetValueOrDefault(code);
            if (grew > 0) Record(code, (int)Math.Min(grew, int.MaxValue), null, null, at);
        }
        _lastCounts = now;
    }

    /// <summary>Newest first.</summary>
    public IReadOnlyList<ErrorView> Snapshot()
    {
        lock (_lock)
        {
            var list = new ErrorView[_count];
            for (var i = 0; i < _count; i++) list[i] = _ring[(_next - 1 - i + _ring.Length) % _ring.Length];
            return list;
        }
    }
}

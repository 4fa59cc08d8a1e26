namespace Lstp.Bench.Micro.Support;

/// <summary>
/// Real timestamps, but timers that never fire: RelayStream's keepalive loop then never sends PING into the
/// benchmark's link nor declares it silent, so only the data path runs.
/// </summary>
public sealed class StillTime : TimeProvider
{
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverTimer();

    private sealed class NeverTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;
        public void Dispose() { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

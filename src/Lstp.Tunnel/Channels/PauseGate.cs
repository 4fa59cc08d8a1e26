namespace Lstp.Tunnel.Channels;

/// <summary>Send-side of flow control: closed by the peer's PAUSE, opened by its RESUME; the uplink waits on it.</summary>
public sealed class PauseGate
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _closed;

    public bool IsPaused { get { lock (_lock) return _closed is not null; } }

    public void Pause()
    {
        lock (_lock) _closed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Resume()
    {
        TaskCompletionSource? open;
        lock (_lock)
        {
            open = _closed;
            _closed = null;
        }
        open?.TrySetResult();
    }

    /// <summary>Completes at once when open; otherwise when RESUME arrives.</summary>
    public ValueTask WaitOpenAsync(CancellationToken cancellationToken)
    {
        Task? wait;
        lock (_lock) wait = _closed?.Task;
        return wait is null ? ValueTask.CompletedTask : new ValueTask(wait.WaitAsync(cancellationToken));
    }
}

namespace Lstp.Tunnel.Channels;

/// <summary>
/// Receive-side flow control of one channel: counts bytes that arrived from the peer but are not yet written
/// to the local application, and says when to send SERVICE_DATA_PAUSE and SERVICE_DATA_RESUME. Bytes still
/// in flight when PAUSE is sent land on top of the threshold, so memory per channel stays at most the pause
/// threshold plus one bandwidth-delay product. The receiving reader and the draining downlink cross the
/// thresholds from two threads, so the signal for each crossing is queued under the same lock that decided it:
/// a RESUME decided after a PAUSE can never be sent before it (which would leave the peer paused for good).
/// </summary>
public sealed class ChannelFlowControl
{
    private readonly Lock _lock = new();
    private long _buffered;
    private bool _paused;
    private readonly Action<bool>? _signal;

    /// <param name="signal">Queues PAUSE (true) or RESUME (false); runs under this object's lock, so it must not block.</param>
    public ChannelFlowControl(long pauseThreshold, long resumeThreshold, Action<bool>? signal = null)
    {
        if (resumeThreshold >= pauseThreshold || resumeThreshold < 0) throw new ArgumentOutOfRangeException(nameof(resumeThreshold), "resume threshold must be below the pause threshold");
        PauseThreshold = pauseThreshold;
        ResumeThreshold = resumeThreshold;
        _signal = signal;
    }

    public long PauseThreshold { get; }
    public long ResumeThreshold { get; }

    public long Buffered { get { lock (_lock) return _buffered; } }
    public bool IsPaused { get { lock (_lock) return _paused; } }

    /// <summary>Records bytes received from the peer; true (after signalling PAUSE) when this crossing pauses the peer.</summary>
    public bool OnReceived(long count)
    {
        lock (_lock)
        {
            _buffered += count;
            if (_paused || _buffered < PauseThreshold) return false;
            _paused = true;
            _signal?.Invoke(true);
            return true;
        }
    }

    /// <summary>Records bytes written to the application; true (after signalling RESUME) when this crossing resumes the peer.</summary>
    public bool OnDrained(long count)
    {
        lock (_lock)
        {
            _buffered -= count;
            if (_buffered < 0) throw new InvalidOperationException("drained more than was received");
            if (!_paused || _buffered > ResumeThreshold) return false;
            _paused = false;
            _signal?.Invoke(false);
            return true;
        }
    }
}

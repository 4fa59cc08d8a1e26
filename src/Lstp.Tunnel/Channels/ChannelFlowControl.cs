using Lstp.Protocol;

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
    /// <summary>
    /// How far past the pause threshold a peer may go before it counts as ignoring PAUSE. An honest peer stops
    /// within what the path holds in flight when PAUSE reaches it: its writer's queue (1 MiB) and the socket and
    /// middle buffers between (with Linux's default autotuning limits of 4 MiB to send and 6 MiB to receive per
    /// socket, about 22 MiB over the four sockets of a path). 64 MiB is well beyond that, and still a bound.
    /// </summary>
    public const long DefaultCeilingAbovePause = 64L * 1024 * 1024;

    private readonly Lock _lock = new();
    private long _buffered;
    private bool _paused;
    private readonly Action<bool>? _signal;

    /// <param name="signal">Queues PAUSE (true) or RESUME (false); runs under this object's lock, so it must not block.</param>
    /// <param name="ceiling">Buffered bytes beyond which the peer is cut (default: the pause threshold plus <see cref="DefaultCeilingAbovePause"/>).</param>
    public ChannelFlowControl(long pauseThreshold, long resumeThreshold, Action<bool>? signal = null, long? ceiling = null)
    {
        if (resumeThreshold >= pauseThreshold || resumeThreshold < 0) throw new ArgumentOutOfRangeException(nameof(resumeThreshold), "resume threshold must be below the pause threshold");
        PauseThreshold = pauseThreshold;
        ResumeThreshold = resumeThreshold;
        Ceiling = ceiling ?? pauseThreshold + DefaultCeilingAbovePause;
        if (Ceiling < pauseThreshold) throw new ArgumentOutOfRangeException(nameof(ceiling), "the ceiling must not be below the pause threshold");
        _signal = signal;
    }

    public long PauseThreshold { get; }
    public long ResumeThreshold { get; }

    /// <summary>The most bytes held for the application; a peer that sends past it ignored PAUSE.</summary>
    public long Ceiling { get; }

    public long Buffered { get { lock (_lock) return _buffered; } }
    public bool IsPaused { get { lock (_lock) return _paused; } }

    /// <summary>
    /// Records bytes received from the peer; true (after signalling PAUSE) when this crossing pauses the peer.
    /// Throws <see cref="ProtocolException"/> (<see cref="ErrorCode.FlowControl"/>) past the <see cref="Ceiling"/>:
    /// memory is not the peer's to grow.
    /// </summary>
    public bool OnReceived(long count)
    {
        lock (_lock)
        {
            _buffered += count;
            if (_buffered > Ceiling)
            {
                throw new ProtocolException(ErrorCode.FlowControl, $"the peer sent {_buffered} bytes on a channel paused at {PauseThreshold}; it ignores SERVICE_DATA_PAUSE");
            }
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

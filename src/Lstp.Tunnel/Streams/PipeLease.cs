namespace Lstp.Tunnel.Streams;

/// <summary>
/// A <see cref="KernelPipe"/> lent to one channel for the rest of its life: its tunnel's reader moves payload in, its
/// downlink moves it out to the application, each from its own thread. Either may still be inside a call on the
/// pipe's descriptors when the channel ends, so the pipe goes back (or is closed, if bytes are left in it) only when
/// the channel has ended it and the last user is done; a user that comes after the end is refused and copies instead.
/// A descriptor closed under a call could be reused by another file meanwhile, and a pipe handed on with bytes in it
/// would give them to another channel: this is what prevents both.
/// </summary>
public sealed class PipeLease(KernelPipe pipe)
{
    private readonly Lock _lock = new();
    private int _users;
    private bool _ended;

    public KernelPipe Pipe => pipe;

    /// <summary>True (and counted as a user until <see cref="Done"/>) unless the channel has ended the lease.</summary>
    public bool TryUse()
    {
        lock (_lock)
        {
            if (_ended) return false;
            _users++;
            return true;
        }
    }

    public void Done()
    {
        bool release;
        lock (_lock) release = --_users == 0 && _ended;
        if (release) pipe.Return();
    }

    /// <summary>The channel is done with the pipe: it goes back once its last user is done.</summary>
    public void End()
    {
        bool release;
        lock (_lock)
        {
            if (_ended) return;
            _ended = true;
            release = _users == 0;
        }
        if (release) pipe.Return();
    }
}

using System.Threading.Channels;

namespace Lstp.Actors;

/// <summary>
/// The actor kernel: a bounded mailbox, one loop that handles one message at a time, and a current
/// behaviour (one method per state, switched with <see cref="Become"/>). State belongs to the loop, so
/// it needs no locks. An actor stops its children when it stops, and tells its watchers why it stopped.
/// </summary>
public abstract class Actor<T> : IActorRef<T>, IAsyncDisposable
{
    private readonly Channel<T> _mailbox;
    private readonly TaskCompletionSource<StopReason> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<IActorRef> _children = [];
    private readonly List<Action<StopReason>> _watchers = [];
    private readonly Lock _watchersLock = new();
    private Func<T, ValueTask> _behavior;
    private StopReason? _requestedStop;
    private int _started;

    protected Actor(string name, int mailboxCapacity = ActorDefaults.MailboxCapacity)
    {
        Name = name;
        _mailbox = Channel.CreateBounded<T>(new BoundedChannelOptions(mailboxCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _behavior = _ => ValueTask.CompletedTask;
    }

    public string Name { get; }

    public Task<StopReason> Completion => _completion.Task;

    /// <summary>Cancelled when the actor begins to stop; pass it to the I/O the actor owns.</summary>
    protected CancellationToken Stopping => _stopping.Token;

    /// <summary>Starts the loop in the given initial state. Returns this, as its own handle.</summary>
    public IActorRef<T> Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException($"actor {Name} already started");
        _behavior = Initial;
        _ = Task.Run(RunAsync);
        return this;
    }

    /// <summary>The first state's handler.</summary>
    protected abstract ValueTask Initial(T message);

    /// <summary>Switches state: the next message goes to <paramref name="behavior"/>.</summary>
    protected void Become(Func<T, ValueTask> behavior) => _behavior = behavior;

    public bool Tell(T message) => _mailbox.Writer.TryWrite(message);

    public ValueTask TellAsync(T message, CancellationToken cancellationToken = default) =>
        _mailbox.Writer.WriteAsync(message, cancellationToken);

    public void Stop(StopReason? reason = null)
    {
        Interlocked.CompareExchange(ref _requestedStop, reason ?? StopReason.Normal, null);
        _mailbox.Writer.TryComplete();
        try { _stopping.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>Starts a child that stops when this actor stops; <paramref name="onStopped"/> maps its end into a message for this actor.</summary>
    protected TChild StartChild<TChild>(TChild child, Func<StopReason, T>? onStopped = null) where TChild : IActorRef
    {
        if (ReferenceEquals(child, this)) throw new InvalidOperationException("an actor cannot be its own child");
        lock (_children) _children.Add(child);
        child.Completion.ContinueWith(t =>
        {
            lock (_children) _children.Remove(child);
            if (onStopped is not null) _ = TellWhenRoomAsync(onStopped(t.Result));
        }, TaskScheduler.Default);
        return child;
    }

    /// <summary>Has <paramref name="other"/>'s stop delivered to this actor as a message.</summary>
    protected void Watch(IActorRef other, Func<Terminated, T> toMessage) =>
        other.Completion.ContinueWith(t => TellWhenRoomAsync(toMessage(new Terminated(other, t.Result))), TaskScheduler.Default);

    /// <summary>Supervision notices wait for mailbox room instead of being dropped; only a stopped actor loses them.</summary>
    private async Task TellWhenRoomAsync(T message)
    {
        try
        {
            await _mailbox.Writer.WriteAsync(message).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // This actor has stopped: nobody is left to tell.
        }
    }

    /// <summary>Runs <paramref name="callback"/> when this actor stops (for handles that are not actors).</summary>
    public void OnStopped(Action<StopReason> callback)
    {
        lock (_watchersLock)
        {
            if (!_completion.Task.IsCompleted) { _watchers.Add(callback); return; }
        }
        callback(_completion.Task.Result);
    }

    /// <summary>Called once on the loop before the first message (start I/O the actor owns here).</summary>
    protected virtual ValueTask OnStartAsync() => ValueTask.CompletedTask;

    /// <summary>Called once on the loop after the last message, before children are stopped.</summary>
    protected virtual ValueTask OnStopAsync(StopReason reason) => ValueTask.CompletedTask;

    /// <summary>A fault in a handler stops the actor; override to keep going for expected failures.</summary>
    protected virtual bool ShouldStopOn(Exception ex) => true;

    private async Task RunAsync()
    {
        StopReason? reason = null;
        try
        {
            try
            {
                await OnStartAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_requestedStop is not null && _stopping.IsCancellationRequested)
            {
                return; // Stop() cancelled Stopping under OnStartAsync: the requested stop, not a fault
            }
            catch (Exception ex)
            {
                reason = StopReason.Failed(ex);
                return;
            }
            await foreach (var message in _mailbox.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                try
                {
                    await _behavior(message).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_requestedStop is not null && _stopping.IsCancellationRequested)
                {
                    break; // Stop() cancelled Stopping under the handler: the requested stop, not a fault
                }
                catch (Exception ex) when (ShouldStopOn(ex))
                {
                    reason = StopReason.Failed(ex);
                    break;
                }
                catch (Exception)
                {
                    // ShouldStopOn chose to keep going: the handler already sorted the failure.
                }
                if (_requestedStop is not null) break;
            }
        }
        finally
        {
            reason ??= _requestedStop ?? StopReason.Normal;
            _mailbox.Writer.TryComplete();
            try { _stopping.Cancel(); } catch (ObjectDisposedException) { }
            try
            {
                await OnStopAsync(reason).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                reason = reason.IsFault ? reason : StopReason.Failed(ex);
            }
            IActorRef[] children;
            lock (_children) children = [.. _children];
            foreach (var child in children) child.Stop(StopReason.ParentStopped(Name));
            await Task.WhenAll(children.Select(c => c.Completion)).WaitAsync(ActorDefaults.ChildStopGrace).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            Action<StopReason>[] watchers;
            lock (_watchersLock)
            {
                _completion.TrySetResult(reason);
                watchers = [.. _watchers];
                _watchers.Clear();
            }
            foreach (var w in watchers) w(reason);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        if (Volatile.Read(ref _started) == 1) await Completion.ConfigureAwait(false);
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    public override string ToString() => Name;
}

using Lstp.Actors;

namespace Lstp.Actors.Tests;

/// <summary>Messages the test actors understand.</summary>
public abstract record Cmd
{
    public sealed record Say(string Text) : Cmd;
    public sealed record Throw(string Why) : Cmd;
    public sealed record Switch : Cmd;
    public sealed record StopSelf(string Why) : Cmd;
    /// <summary>Waits for <paramref name="Gate"/> before the handler returns (holds the loop).</summary>
    public sealed record Hold(Task Gate) : Cmd;
    /// <summary>Waits on the actor's own Stopping token, as I/O the actor owns does.</summary>
    public sealed record AwaitStopping : Cmd;
    public sealed record ChildStopped(string Child, StopReason Reason) : Cmd;
    public sealed record WatchedStopped(Terminated Terminated) : Cmd;
}

/// <summary>Reports everything it handles to a probe, with the state it was in: "initial:x" or "switched:x".</summary>
public class Recorder(string name, IActorRef<string> report, int mailboxCapacity = ActorDefaults.MailboxCapacity)
    : Actor<Cmd>(name, mailboxCapacity)
{
    protected IActorRef<string> Report => report;

    protected override ValueTask Initial(Cmd message) => Handle("initial", message);

    private ValueTask Switched(Cmd message) => Handle("switched", message);

    protected virtual async ValueTask Handle(string state, Cmd message)
    {
        switch (message)
        {
            case Cmd.Say say:
                report.Tell($"{state}:{say.Text}");
                break;
            case Cmd.Throw t:
                throw new InvalidOperationException(t.Why);
            case Cmd.Switch:
                Become(Switched);
                report.Tell($"{state}:switch");
                break;
            case Cmd.StopSelf s:
                Stop(new StopReason(s.Why));
                break;
            case Cmd.Hold hold:
                report.Tell($"{state}:holding");
                await hold.Gate.ConfigureAwait(false);
                report.Tell($"{state}:released");
                break;
            case Cmd.AwaitStopping:
                report.Tell($"{state}:waiting");
                await Task.Delay(Timeout.Infinite, Stopping).ConfigureAwait(false);
                break;
            case Cmd.ChildStopped stopped:
                report.Tell($"{state}:child {stopped.Child} stopped: {stopped.Reason}");
                break;
            case Cmd.WatchedStopped watched:
                report.Tell($"{state}:watched {watched.Terminated.Actor.Name} stopped: {watched.Terminated.Reason}");
                break;
        }
    }

    protected override ValueTask OnStopAsync(StopReason reason)
    {
        report.Tell($"on-stop:{reason}");
        return ValueTask.CompletedTask;
    }
}

/// <summary>A recorder that keeps going after a handler throws (its failures are expected ones).</summary>
public sealed class Forgiving(string name, IActorRef<string> report) : Recorder(name, report)
{
    protected override bool ShouldStopOn(Exception ex) => ex is not InvalidOperationException;
}

/// <summary>A recorder that counts how many handlers run at once, yielding inside each to invite overlap.</summary>
public sealed class Overlap(IActorRef<string> report) : Recorder("overlap", report)
{
    private int _inside;

    public int MaxInside { get; private set; }

    protected override async ValueTask Handle(string state, Cmd message)
    {
        var now = Interlocked.Increment(ref _inside);
        MaxInside = Math.Max(MaxInside, now);
        await Task.Yield();
        await Task.Delay(1).ConfigureAwait(false);
        await base.Handle(state, message).ConfigureAwait(false);
        Interlocked.Decrement(ref _inside);
    }
}

/// <summary>Says "started" from OnStartAsync, optionally after a delay or failing.</summary>
public sealed class SlowStarter(IActorRef<string> report, TimeSpan delay, bool fail = false) : Recorder("slow starter", report)
{
    protected override async ValueTask OnStartAsync()
    {
        await Task.Delay(delay).ConfigureAwait(false);
        if (fail) throw new InvalidOperationException("could not start");
        Report.Tell("started");
    }
}

/// <summary>Starts children and watches actors on command, mapping their ends into its own mailbox.</summary>
public sealed class Parent(string name, IActorRef<string> report, int mailboxCapacity = ActorDefaults.MailboxCapacity)
    : Recorder(name, report, mailboxCapacity)
{
    public T Adopt<T>(T child) where T : IActorRef => StartChild(child, reason => new Cmd.ChildStopped(child.Name, reason));

    public T AdoptSilently<T>(T child) where T : IActorRef => StartChild(child);

    public void Observe(IActorRef other) => Watch(other, t => new Cmd.WatchedStopped(t));

    /// <summary>Tries to make this actor its own child; the kernel must refuse.</summary>
    public void AdoptSelf() => StartChild(this);
}

namespace Lstp.Actors;

/// <summary>Why an actor stopped: a normal stop with a reason, or a fault with its exception.</summary>
public sealed record StopReason(string Why, Exception? Fault = null)
{
    public static readonly StopReason Normal = new("stopped");
    public static StopReason Failed(Exception ex) => new(ex.Message, ex);
    public static StopReason ParentStopped(string parent) => new($"parent {parent} stopped");

    public bool IsFault => Fault is not null;

    public override string ToString() => IsFault ? $"failed: {Why}" : Why;
}

/// <summary>A watcher's notice that an actor it watched has stopped.</summary>
public sealed record Terminated(IActorRef Actor, StopReason Reason);

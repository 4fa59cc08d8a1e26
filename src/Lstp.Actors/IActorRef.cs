namespace Lstp.Actors;

/// <summary>A handle on an actor (or a test probe standing in for one): ask it to stop, learn when it has.</summary>
public interface IActorRef
{
    string Name { get; }

    /// <summary>Completes with the reason once the actor's loop has ended.</summary>
    Task<StopReason> Completion { get; }

    /// <summary>Asks the actor to stop after the message it is handling.</summary>
    void Stop(StopReason? reason = null);
}

/// <summary>A handle that also accepts messages of type <typeparamref name="T"/>.</summary>
public interface IActorRef<in T> : IActorRef
{
    /// <summary>Queues a message without waiting; false when the mailbox is full or the actor stopped.</summary>
    bool Tell(T message);

    /// <summary>Queues a message, waiting for room in a full mailbox (the sender is backpressured).</summary>
    ValueTask TellAsync(T message, CancellationToken cancellationToken = default);
}

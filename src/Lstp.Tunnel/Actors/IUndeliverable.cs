namespace Lstp.Tunnel.Actors;

/// <summary>
/// A command that owns something its sender is waiting on (an application's socket, a reply): when it cannot
/// be delivered because its actor has stopped, <see cref="Settle"/> releases it with a clear outcome instead of
/// leaving the application hanging.
/// </summary>
public interface IUndeliverable
{
    /// <summary>Called at most once, off the sender's thread, when the command reached no actor.</summary>
    void Settle();
}

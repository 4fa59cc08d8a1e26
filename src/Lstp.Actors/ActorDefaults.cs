namespace Lstp.Actors;

/// <summary>Kernel constants and why they have their values.</summary>
public static class ActorDefaults
{
    /// <summary>
    /// Mailboxes carry control messages only (bytes travel through pipes), so a few hundred pending
    /// messages already means a stuck actor; bounding it makes senders wait rather than grow memory.
    /// </summary>
    public const int MailboxCapacity = 256;

    /// <summary>How long a stopping parent waits for its children before it reports its own stop.</summary>
    public static readonly TimeSpan ChildStopGrace = TimeSpan.FromSeconds(5);
}

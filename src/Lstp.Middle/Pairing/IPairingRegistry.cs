namespace Lstp.Middle.Pairing;

/// <summary>Where waiting ends are stored and matched: in memory (the embedded default) or shared by a cluster.</summary>
public interface IPairingRegistry
{
    Task<RegisterResult> RegisterAsync(WaitingEnd end, CancellationToken cancellationToken);

    /// <summary>Removes an end that disconnected while waiting (no-op if it was already paired or dropped).</summary>
    void Unregister(WaitingEnd end);

    /// <summary>
    /// Another node claimed one of this node's waiting ends and links in to pair with it: the waiting end
    /// named by <paramref name="claim"/>, removed from the table, or null when it is gone.
    /// </summary>
    WaitingEnd? TakeClaimed(string claim) => null;

    /// <summary>Ends waiting now, for the dashboard.</summary>
    IReadOnlyList<WaitingEnd> Snapshot();
}

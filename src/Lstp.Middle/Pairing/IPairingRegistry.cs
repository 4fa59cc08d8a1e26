namespace Lstp.Middle.Pairing;

/// <summary>Where waiting ends are stored and matched: in memory (the embedded default) or shared by a cluster.</summary>
public interface IPairingRegistry
{
    Task<RegisterResult> RegisterAsync(WaitingEnd end, CancellationToken cancellationToken);

    /// <summary>Removes an end that disconnected while waiting (no-op if it was already paired or dropped).</summary>
    void Unregister(WaitingEnd end);

    /// <summary>Ends waiting now, for the dashboard.</summary>
    IReadOnlyList<WaitingEnd> Snapshot();
}

namespace Lstp.Tunnel.Actors;

/// <summary>Why a tunnel or a channel actor stopped: a normal stop with a reason, or a fault with its exception.</summary>
public sealed record StopReason(string Why, Exception? Fault = null)
{
    public static readonly StopReason Normal = new("stopped");
    public static StopReason Failed(Exception ex) => new(ex.Message, ex);

    public bool IsFault => Fault is not null;

    public override string ToString() => IsFault ? $"failed: {Why}" : Why;
}

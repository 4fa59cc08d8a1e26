namespace Lstp.Protocol;

/// <summary>The peer sent something the protocol forbids; the code goes onto the wire in ERROR.</summary>
public sealed class ProtocolException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}

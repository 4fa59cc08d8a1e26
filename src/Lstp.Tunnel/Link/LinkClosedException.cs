using Lstp.Protocol;

namespace Lstp.Tunnel.Link;

/// <summary>The link to the middle ended: the middle said why (ERROR/REDIRECT), or the link went silent or closed.</summary>
public sealed class LinkClosedException(ErrorCode code, string message, string? redirectTo = null) : Exception(message)
{
    public ErrorCode Code { get; } = code;

    /// <summary>Where the middle asked us to go instead, when it sent REDIRECT.</summary>
    public string? RedirectTo { get; } = redirectTo;
}

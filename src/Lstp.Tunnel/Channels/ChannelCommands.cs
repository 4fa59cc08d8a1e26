using Lstp.Protocol;
using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Channels;

/// <summary>Messages a service channel actor accepts.</summary>
public abstract record ChannelCommand
{
    /// <summary>SERVICE_BEGIN_ACK arrived: the peer reached the target.</summary>
    public sealed record BeginAcked : ChannelCommand
    {
        public static readonly BeginAcked Instance = new();
    }

    /// <summary>CONNECTION_NACK or SERVICE_BEGIN_NACK arrived.</summary>
    public sealed record BeginRefused(ErrorCode Code, string Reason) : ChannelCommand;

    /// <summary>SERVICE_FREE_REQUEST arrived (the reader has already ended the downlink pipe).</summary>
    public sealed record PeerFree(FreeFlags Flags) : ChannelCommand;

    /// <summary>The local application's side ended: EOF (null) or a failure.</summary>
    public sealed record UplinkEnded(Exception? Error) : ChannelCommand;

    /// <summary>Everything from the peer was written to the application (null), or writing failed.</summary>
    public sealed record DownlinkEnded(Exception? Error) : ChannelCommand;

    /// <summary>Close at once, telling the peer (tunnel shutdown).</summary>
    public sealed record Close(bool Graceful) : ChannelCommand;

    /// <summary>The peer shut the tunnel down: send nothing more, deliver what already arrived, then stop.</summary>
    public sealed record Drain : ChannelCommand
    {
        public static readonly Drain Instance = new();
    }
}

/// <summary>How opening a channel ended, as the entry point that asked for it needs to know (SOCKS reply codes).</summary>
public sealed record ChannelOutcome(bool Opened, ErrorCode Code, string Reason)
{
    public static readonly ChannelOutcome Success = new(true, ErrorCode.None, "opened");
}

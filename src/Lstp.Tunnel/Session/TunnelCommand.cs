using System.Net.Sockets;
using Lstp.Actors;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Channels;

namespace Lstp.Tunnel.Session;

/// <summary>Messages a tunnel's mailbox accepts.</summary>
public abstract record TunnelCommand
{
    /// <summary>A local application connected to an entry point: open a channel to <paramref name="Target"/> for it.</summary>
    public sealed record OpenChannel(Socket Client, TargetKind Kind, string Target, ushort Port, Func<ChannelOutcome, ValueTask>? OnOutcome = null) : TunnelCommand;

    /// <summary>Ask the peer to join a new tunnel connection, paired under <paramref name="Slot"/>, for one channel of its own.</summary>
    public sealed record RequestDedicated(uint Slot, TaskCompletionSource<ChannelOutcome> Reply) : TunnelCommand;

    /// <summary>Close the tunnel gracefully: SHUTDOWN to the peer, channels closed cleanly.</summary>
    public sealed record Shutdown(string Reason) : TunnelCommand;

    internal sealed record FromPeer(Message Message) : TunnelCommand;
    internal sealed record ReaderEnded(Exception? Error) : TunnelCommand;
    internal sealed record WriterEnded(Exception? Error) : TunnelCommand;
    internal sealed record Dialled(uint Channel, ServiceBeginRequest Request, TargetDial Result) : TunnelCommand;
    internal sealed record ChannelStopped(uint Channel, StopReason Reason) : TunnelCommand;
    internal sealed record Tick : TunnelCommand;
}

/// <summary>Why a tunnel ended, in protocol terms.</summary>
public sealed class TunnelClosedException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}

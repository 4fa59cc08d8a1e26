using System.Net.Sockets;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Channels;

namespace Lstp.Tunnel.Session;

/// <summary>Messages a tunnel actor accepts.</summary>
public abstract record TunnelCommand
{
    /// <summary>A local application connected to an entry point: open a channel to <paramref name="Target"/> for it.</summary>
    public sealed record OpenChannel(Socket Client, TargetKind Kind, string Target, ushort Port, Func<ChannelOutcome, ValueTask>? OnOutcome = null) : TunnelCommand, IUndeliverable
    {
        /// <summary>The tunnel ended before it took the connection: tell the entry point, then reset the application.</summary>
        public void Settle() => _ = Task.Run(async () =>
        {
            try
            {
                if (OnOutcome is { } tell) await tell(new ChannelOutcome(false, ErrorCode.PeerGone, "the tunnel closed")).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The entry point's reply could not be written: the reset below still tells the application.
            }
            ChannelSockets.Reset(Client);
        });
    }

    /// <summary>Ask the peer to join a new tunnel connection, paired under <paramref name="Slot"/>, for one channel of its own.</summary>
    public sealed record RequestDedicated(uint Slot, TaskCompletionSource<ChannelOutcome> Reply) : TunnelCommand, IUndeliverable
    {
        public void Settle() => Reply.TrySetResult(new ChannelOutcome(false, ErrorCode.PeerGone, "the tunnel closed"));
    }

    /// <summary>Close the tunnel gracefully: SHUTDOWN to the peer, channels closed cleanly.</summary>
    public sealed record Shutdown(string Reason) : TunnelCommand;

    internal sealed record FromPeer(Message Message) : TunnelCommand;
    internal sealed record ReaderEnded(Exception? Error) : TunnelCommand;
    internal sealed record WriterEnded(Exception? Error) : TunnelCommand;

    /// <summary>The target of an accepted channel was dialled (or refused); the socket is released if the tunnel has gone.</summary>
    internal sealed record Dialled(uint Channel, ServiceBeginRequest Request, TargetDial Result) : TunnelCommand, IUndeliverable
    {
        public void Settle() => Result.Socket?.Dispose();
    }

    internal sealed record ChannelStopped(uint Channel, StopReason Reason) : TunnelCommand;
    internal sealed record Tick : TunnelCommand
    {
        public static readonly Tick Instance = new();
    }

    /// <summary>The closing tunnel wrote what was queued and closed its link.</summary>
    internal sealed record LinkClosed : TunnelCommand
    {
        public static readonly LinkClosed Instance = new();
    }
}

/// <summary>Why a tunnel ended, in protocol terms.</summary>
public sealed class TunnelClosedException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}

using Akka.Actor;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Streams;
using Microsoft.Extensions.Logging;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// One multiplexed service channel's actor, a child of its tunnel: it decides when the channel's pumps
/// (<see cref="ServiceChannel"/>) start and when the channel ends. Each direction ends with SERVICE_FREE_REQUEST,
/// so a half-close stays a half-close; when both are done it sends SERVICE_FREE_RESPONSE and stops. When it stops
/// it tells its tunnel why (<see cref="TunnelCommand.ChannelStopped"/>).
/// </summary>
internal sealed partial class ServiceChannelActor : UntypedActor
{
    private readonly ServiceChannel _channel;
    private readonly Func<ChannelOutcome, ValueTask>? _onOutcome;
    private readonly ILogger _log;
    private StopReason? _why;
    private bool _sentFree;
    private bool _downlinkDone;
    private bool _peerAborted;

    public ServiceChannelActor(ServiceChannel channel, Func<ChannelOutcome, ValueTask>? onOutcome, ILogger log)
    {
        _channel = channel;
        _onOutcome = onOutcome;
        _log = log;
    }

    protected override void PreStart()
    {
        if (_channel.IsOpener) return; // the opener waits for SERVICE_BEGIN_ACK
        // The accepting side is created once its target is dialled: it starts open.
        Opened();
    }

    protected override void OnReceive(object message) => Opening(message);

    // STATES

    /// <summary>Opening: the opener waits for SERVICE_BEGIN_ACK before moving any bytes.</summary>
    private void Opening(object message)
    {
        switch (message)
        {
            case ChannelCommand.BeginAcked:
                // The entry point answers its application first (a SOCKS reply), then the bytes may flow.
                var answered = _onOutcome?.Invoke(ChannelOutcome.Success) ?? ValueTask.CompletedTask;
                if (answered.IsCompletedSuccessfully)
                {
                    // Most entry points answer at once (a forward only traces it): no task to run in the actor.
                    Opened();
                    break;
                }
                // No ConfigureAwait(false) in RunTask: what follows the await must run in the actor's context.
                RunTask(async () =>
                {
                    await answered;
                    Opened();
                });
                break;
            case ChannelCommand.BeginRefused refused:
                Log.Refused(_log, _channel.Id, _channel.Description, refused.Code, refused.Reason);
                Settle(new ChannelOutcome(false, refused.Code, refused.Reason), new StopReason($"refused: {refused.Reason}"));
                break;
            case ChannelCommand.PeerFree:
                Settle(new ChannelOutcome(false, ErrorCode.TargetRefused, "the peer closed the channel"), new StopReason("the peer closed the channel before it opened"));
                break;
            case ChannelCommand.Close or ChannelCommand.Drain:
                Settle(new ChannelOutcome(false, ErrorCode.PeerGone, "the tunnel closed"), new StopReason("tunnel closed"));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Opened()
    {
        _channel.StartPumps(ByteStreams.MaterializerOf(Context.System));
        Become(Open);
    }

    /// <summary>Open: bytes flow both ways; each direction's end is noted until both are done.</summary>
    private void Open(object message)
    {
        switch (message)
        {
            case ChannelCommand.UplinkEnded { Error: null }:
                SendFree(FreeFlags.None);
                break;
            case ChannelCommand.UplinkEnded failed:
                Abort($"reading the application failed: {failed.Error!.Message}");
                return;
            case ChannelCommand.DownlinkEnded { Error: null }:
                _downlinkDone = true;
                break;
            case ChannelCommand.DownlinkEnded { Error: ProtocolException bad }:
                // Only this channel's data is bad; the tunnel and its other channels carry on.
                Abort($"the peer's data could not be decompressed: {bad.Message}");
                return;
            case ChannelCommand.DownlinkEnded failed:
                Abort($"writing to the application failed: {failed.Error!.Message}");
                return;
            case ChannelCommand.PeerFree { Flags: var flags } when flags.HasFlag(FreeFlags.Abort):
                _peerAborted = true;
                Abort("the peer aborted the channel");
                return;
            case ChannelCommand.PeerFree:
                break; // the downlink drains the pipe, then half-closes the socket
            case ChannelCommand.Close { Graceful: true }:
                SendFree(FreeFlags.None);
                _downlinkDone = true;
                break;
            case ChannelCommand.Drain:
                // The reader already ended the downlink pipe: the channel stops once the application has been
                // given every byte that arrived.
                _sentFree = true;
                break;
            case ChannelCommand.Close:
                Abort("the tunnel closed");
                return;
            case ChannelCommand.BeginAcked or ChannelCommand.BeginRefused:
                Unhandled(message);
                return;
            default:
                Unhandled(message);
                return;
        }
        if (_sentFree && _downlinkDone)
        {
            _channel.SendFreeResponse();
            StopWith(new StopReason("closed"));
        }
    }

    /// <summary>The channel never opened: tell the entry point how it ended, then stop.</summary>
    private void Settle(ChannelOutcome outcome, StopReason why)
    {
        if (_onOutcome is null)
        {
            StopWith(why);
            return;
        }
        RunTask(async () =>
        {
            await _onOutcome(outcome);
            StopWith(why);
        });
    }

    private void SendFree(FreeFlags flags)
    {
        if (_sentFree && flags == FreeFlags.None) return;
        _sentFree = true;
        _channel.SendFree(flags);
    }

    private void Abort(string why)
    {
        Log.Aborted(_log, _channel.Id, _channel.Description, why);
        if (!_peerAborted) SendFree(FreeFlags.Abort);
        _channel.ResetOnClose();
        StopWith(new StopReason($"aborted: {why}"));
    }

    private void StopWith(StopReason why)
    {
        _why ??= why;
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        // Stopped without an orderly end of its own (its tunnel ended without SHUTDOWN, or it failed): the
        // application gets a reset, never a clean end of stream it could take for complete data.
        if (_why is null) _channel.ResetOnClose();
        var reason = _why ?? new StopReason("the tunnel ended");
        _channel.Stop();
        Log.Closed(_log, _channel.Id, _channel.Description, reason.ToString());
        Context.Parent.Tell(new TunnelCommand.ChannelStopped(_channel.Id, reason));
    }

    protected override void Unhandled(object message)
    {
        Log.Unexpected(_log, _channel.Id, message.GetType().Name);
        base.Unhandled(message);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "channel {Channel} to {Target} refused by the peer: {Code} {Reason}")]
        public static partial void Refused(ILogger logger, uint channel, string target, ErrorCode code, string reason);

        [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "channel {Channel} to {Target} aborted: {Reason}")]
        public static partial void Aborted(ILogger logger, uint channel, string target, string reason);

        [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "channel {Channel} to {Target} closed: {Reason}")]
        public static partial void Closed(ILogger logger, uint channel, string target, string reason);

        [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "channel {Channel}: unexpected {Message} (dropped)")]
        public static partial void Unexpected(ILogger logger, uint channel, string message);
    }
}

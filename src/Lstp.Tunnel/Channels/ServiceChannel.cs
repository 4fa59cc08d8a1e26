using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Lstp.Actors;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// One multiplexed service channel: an actor that owns the local application's socket and moves its bytes.
/// The uplink reads the socket into SERVICE_DATA frames (waiting while the peer has paused us); the downlink
/// writes what the peer sent from a pipe into the socket, and that pipe's fill level drives PAUSE/RESUME.
/// Each direction ends with SERVICE_FREE_REQUEST, so a half-close stays a half-close; when both are done
/// the channel sends SERVICE_FREE_RESPONSE and stops.
/// </summary>
public sealed partial class ServiceChannel : Actor<ChannelCommand>
{
    private readonly Socket _socket;
    private readonly TunnelWriter _writer;
    private readonly TunnelCounters _counters;
    private readonly ILogger _log;
    private readonly Func<ChannelOutcome, ValueTask>? _onOutcome;
    private readonly Pipe _down = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    private bool _downlinkWritable = true;
    private bool _sentFree;
    private bool _downlinkDone;
    private bool _peerAborted;
    private bool _counted;

    public ServiceChannel(uint id, Socket socket, TunnelWriter writer, TunnelCounters counters, FlowThresholds thresholds, string description, bool opener, Func<ChannelOutcome, ValueTask>? onOutcome, ILogger log)
        : base($"channel {id}")
    {
        Id = id;
        _socket = socket;
        _writer = writer;
        _counters = counters;
        _log = log;
        _onOutcome = onOutcome;
        Description = description;
        IsOpener = opener;
        Flow = new ChannelFlowControl(thresholds.Pause, thresholds.Resume);
    }

    public uint Id { get; }
    public string Description { get; }
    public bool IsOpener { get; }
    public ChannelFlowControl Flow { get; }
    public PauseGate Gate { get; } = new();

    protected override ValueTask OnStartAsync()
    {
        if (IsOpener)
        {
            Become(Opening);
        }
        else
        {
            // The accepting side is created once its target is dialled: it starts open.
            StartPumps();
            Become(Open);
        }
        return ValueTask.CompletedTask;
    }

    protected override ValueTask Initial(ChannelCommand message) => Opening(message);

    /// <summary>The opener waits for SERVICE_BEGIN_ACK before moving any bytes.</summary>
    private async ValueTask Opening(ChannelCommand message)
    {
        switch (message)
        {
            case ChannelCommand.BeginAcked:
                if (_onOutcome is not null) await _onOutcome(ChannelOutcome.Success).ConfigureAwait(false);
                StartPumps();
                Become(Open);
                break;
            case ChannelCommand.BeginRefused refused:
                Log.Refused(_log, Id, Description, refused.Code, refused.Reason);
                if (_onOutcome is not null) await _onOutcome(new ChannelOutcome(false, refused.Code, refused.Reason)).ConfigureAwait(false);
                Stop(new StopReason($"refused: {refused.Reason}"));
                break;
            case ChannelCommand.PeerFree:
                if (_onOutcome is not null) await _onOutcome(new ChannelOutcome(false, ErrorCode.TargetRefused, "the peer closed the channel")).ConfigureAwait(false);
                Stop(new StopReason("the peer closed the channel before it opened"));
                break;
            case ChannelCommand.Close:
                if (_onOutcome is not null) await _onOutcome(new ChannelOutcome(false, ErrorCode.PeerGone, "the tunnel closed")).ConfigureAwait(false);
                Stop(new StopReason("tunnel closed"));
                break;
        }
    }

    private ValueTask Open(ChannelCommand message)
    {
        switch (message)
        {
            case ChannelCommand.UplinkEnded { Error: null }:
                SendFree(FreeFlags.None);
                break;
            case ChannelCommand.UplinkEnded failed:
                Abort($"reading the application failed: {failed.Error!.Message}");
                return ValueTask.CompletedTask;
            case ChannelCommand.DownlinkEnded { Error: null }:
                _downlinkDone = true;
                break;
            case ChannelCommand.DownlinkEnded failed:
                Abort($"writing to the application failed: {failed.Error!.Message}");
                return ValueTask.CompletedTask;
            case ChannelCommand.PeerFree { Flags: var flags } when flags.HasFlag(FreeFlags.Abort):
                _peerAborted = true;
                Abort("the peer aborted the channel");
                return ValueTask.CompletedTask;
            case ChannelCommand.PeerFree:
                break; // the downlink drains the pipe, then half-closes the socket
            case ChannelCommand.Close { Graceful: true }:
                SendFree(FreeFlags.None);
                _downlinkDone = true;
                break;
            case ChannelCommand.Close:
                Abort("the tunnel closed");
                return ValueTask.CompletedTask;
        }
        if (_sentFree && _downlinkDone)
        {
            _writer.SendControl(new ServiceFreeResponse(Id));
            Stop(new StopReason("closed"));
        }
        return ValueTask.CompletedTask;
    }

    private void SendFree(FreeFlags flags)
    {
        if (_sentFree && flags == FreeFlags.None) return;
        _sentFree = true;
        _writer.SendControl(new ServiceFreeRequest(Id, flags));
    }

    private void Abort(string why)
    {
        Log.Aborted(_log, Id, Description, why);
        if (!_peerAborted) SendFree(FreeFlags.Abort);
        // Reset rather than FIN: the application must not mistake a broken channel for a clean end.
        try { _socket.LingerState = new LingerOption(true, 0); } catch (SocketException) { } catch (ObjectDisposedException) { }
        Stop(new StopReason($"aborted: {why}"));
    }

    private void StartPumps()
    {
        _counters.ChannelOpened();
        _counted = true;
        _ = Task.Run(UplinkAsync);
        _ = Task.Run(DownlinkAsync);
    }

    private async Task UplinkAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                await Gate.WaitOpenAsync(Stopping).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(FrameCodec.ServiceDataPrefix + ProtocolLimits.ServiceDataChunk);
                int n;
                try
                {
                    n = await _socket.ReceiveAsync(buffer.AsMemory(FrameCodec.ServiceDataPrefix, ProtocolLimits.ServiceDataChunk), SocketFlags.None, Stopping).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                if (n == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }
                FrameCodec.WriteServiceDataPrefix(buffer, Id, n);
                await _writer.SendDataAsync(buffer, FrameCodec.ServiceDataPrefix + n, Stopping).ConfigureAwait(false);
                _counters.AddSent(n);
            }
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        Tell(new ChannelCommand.UplinkEnded(error));
    }

    private async Task DownlinkAsync()
    {
        Exception? error = null;
        var reader = _down.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(Stopping).ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    await _socket.SendAsync(segment, SocketFlags.None, Stopping).ConfigureAwait(false);
                }
                var length = buffer.Length;
                reader.AdvanceTo(buffer.End);
                if (length > 0)
                {
                    _counters.AddReceived(length);
                    if (Flow.OnDrained(length)) _writer.SendControl(new ServiceDataResume(Id));
                }
                if (result.IsCompleted) break;
            }
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        Tell(new ChannelCommand.DownlinkEnded(error));
    }

    /// <summary>
    /// Called by the tunnel's reader, in stream order, for each SERVICE_DATA: copies the payload straight from
    /// the stream into the downlink pipe and sends PAUSE when the pipe crosses its threshold. Never waits for
    /// the application, so one slow channel cannot stall the others.
    /// </summary>
    public async ValueTask ReceiveDataAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken)
    {
        if (!_downlinkWritable)
        {
            await SkipAsync(reader, length, cancellationToken).ConfigureAwait(false);
            return;
        }
        var total = length;
        var writer = _down.Writer;
        while (length > 0)
        {
            var memory = writer.GetMemory(Math.Min(length, ProtocolLimits.ServiceDataChunk));
            var n = await reader.ReadPayloadAsync(memory, length, cancellationToken).ConfigureAwait(false);
            writer.Advance(n);
            length -= n;
        }
        // Count the bytes before flushing: once flushed, the downlink may drain them at any moment.
        if (Flow.OnReceived(total)) _writer.SendControl(new ServiceDataPause(Id));
        var flush = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted)
        {
            // The downlink gave up (the application is gone): drop what it can no longer take.
            _downlinkWritable = false;
        }
    }

    /// <summary>Called by the tunnel's reader, in stream order, when SERVICE_FREE_REQUEST arrives.</summary>
    public void PeerFinished(FreeFlags flags)
    {
        if (_downlinkWritable)
        {
            _downlinkWritable = false;
            _down.Writer.Complete();
        }
        Tell(new ChannelCommand.PeerFree(flags));
    }

    public static async ValueTask SkipAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(Math.Min(length, ProtocolLimits.ServiceDataChunk));
        try
        {
            while (length > 0) length -= await reader.ReadPayloadAsync(scratch, length, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    protected override ValueTask OnStopAsync(StopReason reason)
    {
        if (_counted) _counters.ChannelClosed();
        if (IsOpener && _onOutcome is not null && !_counted && reason.IsFault)
        {
            _ = _onOutcome(new ChannelOutcome(false, ErrorCode.Internal, reason.Why));
        }
        try { _socket.Dispose(); } catch (ObjectDisposedException) { }
        Log.Closed(_log, Id, Description, reason.ToString());
        return ValueTask.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "channel {Channel} to {Target} refused by the peer: {Code} {Reason}")]
        public static partial void Refused(ILogger logger, uint channel, string target, ErrorCode code, string reason);

        [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "channel {Channel} to {Target} aborted: {Reason}")]
        public static partial void Aborted(ILogger logger, uint channel, string target, string reason);

        [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "channel {Channel} to {Target} closed: {Reason}")]
        public static partial void Closed(ILogger logger, uint channel, string target, string reason);
    }
}

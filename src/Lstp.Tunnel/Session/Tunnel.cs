using System.Collections.Concurrent;
using Lstp.Actors;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Compression;
using Lstp.Tunnel.Link;
using Microsoft.Extensions.Logging;

namespace Lstp.Tunnel.Session;

/// <summary>
/// A secured tunnel between two ends: an actor that owns the channel table, opens and accepts channels,
/// answers keepalives and shuts down. Its reader task parses the end-to-end stream in order: SERVICE_DATA
/// goes straight into the channel's pipe, control frames come to this actor's mailbox. Its channels are its
/// children: when the tunnel stops, they stop.
/// </summary>
public sealed partial class Tunnel : Actor<TunnelCommand>
{
    private readonly SecuredSession _session;
    private readonly ITargetDialer _targets;
    private readonly TunnelOptions _options;
    private readonly ILogger _log;
    private readonly TunnelWriter _writer = new();
    private readonly TunnelCompression _compression;
    private readonly ConcurrentDictionary<uint, ServiceChannel> _channels = new();
    private readonly HashSet<uint> _accepted = [];
    private readonly Dictionary<uint, TaskCompletionSource<ChannelOutcome>> _dedicatedRequests = [];
    private bool _hadChannel;
    private uint _nextChannel;
    private long _lastHeard;
    private ulong _pingSequence;
    private long _lastPing;
    private long _lastReport;
    private TunnelReport? _lastReportSent;
    private StopReason? _draining;

    /// <summary>How long channels may take to deliver what arrived before the peer's SHUTDOWN.</summary>
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);
    /// <summary>How long a closing tunnel waits for the middle to close the link after its own FIN.</summary>
    private static readonly TimeSpan LingerGrace = TimeSpan.FromSeconds(3);
    private StopReason? _why;
    private Task _writerTask = Task.CompletedTask;

    public Tunnel(SecuredSession session, ITargetDialer targets, TunnelOptions options, ILogger log)
        : base($"tunnel to {session.PeerName}")
    {
        _session = session;
        _targets = targets;
        _options = options;
        _log = log;
        // Master opens odd channel ids, the other end even ones, so both may open channels without clashing.
        _nextChannel = session.IsMaster ? 1u : 2u;
        _lastHeard = options.Time.GetTimestamp();
        _lastReport = _lastHeard;
        _compression = TunnelCompression.Agree(options.Compression, session.PeerProperties.Compression, session.IsMaster);
    }

    public SecuredSession Session => _session;
    public TunnelCounters Counters { get; } = new();

    /// <summary>The compression method both ends agreed on (or none), and this end's per-channel choices.</summary>
    public TunnelCompression Compression => _compression;
    public int ChannelCount => _channels.Count;

    /// <summary>The channels open now (a snapshot, for status and diagnostics).</summary>
    public IReadOnlyCollection<ServiceChannel> Channels => [.. _channels.Values];

    /// <summary>Starts the reader, the writer and the keepalive clock, then the actor loop.</summary>
    public new IActorRef<TunnelCommand> Start()
    {
        var handle = base.Start();
        _ = Task.Run(ReadLoopAsync);
        // The writer drains what is queued even while the tunnel stops (SHUTDOWN and ERROR must leave), so it
        // does not watch Stopping; closing the session stream is its hard stop.
        _writerTask = Task.Run(async () =>
        {
            Exception? error = null;
            try { await _writer.RunAsync(_session.Stream, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception ex) { error = ex; }
            Tell(new TunnelCommand.WriterEnded(error));
        });
        _ = Task.Run(ClockAsync);
        return handle;
    }

    protected override async ValueTask Initial(TunnelCommand message)
    {
        switch (message)
        {
            case TunnelCommand.OpenChannel open:
                OpenLocal(open);
                break;
            case TunnelCommand.FromPeer { Message: var frame }:
                OnPeerFrame(frame);
                break;
            case TunnelCommand.Dialled dialled:
                OnDialled(dialled);
                break;
            case TunnelCommand.ChannelStopped stopped:
                _channels.TryRemove(stopped.Channel, out _);
                _accepted.Remove(stopped.Channel);
                if (_draining is not null && _channels.IsEmpty)
                {
                    End(_draining);
                }
                else if (_options.SingleChannel && _hadChannel && _channels.IsEmpty)
                {
                    Tell(new TunnelCommand.Shutdown("its one channel closed"));
                }
                break;
            case TunnelCommand.RequestDedicated request:
                var requestId = _nextChannel;
                _nextChannel += 2;
                _dedicatedRequests[requestId] = request.Reply;
                _writer.SendControl(new ConnectionRequest(requestId, ConnectionKind.Dedicated, request.Slot));
                break;
            case TunnelCommand.Tick:
                await OnTickAsync().ConfigureAwait(false);
                break;
            case TunnelCommand.Shutdown shutdown:
                Log.ShuttingDown(_log, _session.PeerName, shutdown.Reason);
                foreach (var channel in _channels.Values) channel.Tell(new ChannelCommand.Close(Graceful: true));
                _writer.SendControl(new Protocol.Messages.Shutdown(ErrorCode.Shutdown, shutdown.Reason));
                _writer.Complete();
                End(new StopReason($"shut down: {shutdown.Reason}"));
                break;
            case TunnelCommand.ReaderEnded ended:
                OnReaderEnded(ended.Error);
                break;
            case TunnelCommand.WriterEnded when _draining is not null:
                break; // the peer is gone after its SHUTDOWN; the channels still deliver what arrived
            case TunnelCommand.WriterEnded ended:
                End(new StopReason(ended.Error is null ? "writer ended" : $"writing to the tunnel failed: {ended.Error.Message}", ended.Error));
                break;
        }
    }

    private void OpenLocal(TunnelCommand.OpenChannel open)
    {
        if (_channels.Count >= _options.MaxChannels)
        {
            _ = open.OnOutcome?.Invoke(new ChannelOutcome(false, ErrorCode.TooManyChannels, $"this tunnel already has {_options.MaxChannels} channels"));
            open.Client.Dispose();
            return;
        }
        var id = _nextChannel;
        _nextChannel += 2;
        var compression = _compression.ForOpener(open.Kind, open.Target);
        var request = new ServiceBeginRequest(id, open.Kind, open.Target, open.Port, compression.BeginOptions);
        var channel = new ServiceChannel(id, open.Client, _writer, Counters, _options.Flow, request.Describe(), opener: true, open.OnOutcome, _log, compression);
        _channels[id] = channel;
        _hadChannel = true;
        StartChild(channel, reason => new TunnelCommand.ChannelStopped(id, reason));
        channel.Start();
        // Pipelined: the begin request follows at once, so opening costs one round trip through the middle.
        _writer.SendControl(new ConnectionRequest(id, ConnectionKind.Multiplexed));
        _writer.SendControl(request);
        Log.ChannelOpening(_log, id, request.Describe());
    }

    private void OnPeerFrame(Message frame)
    {
        switch (frame)
        {
            case ConnectionRequest request:
                AcceptConnection(request);
                break;
            case ConnectionAck ack:
                if (_dedicatedRequests.Remove(ack.Channel, out var accepted)) accepted.TrySetResult(ChannelOutcome.Success);
                break;
            case ConnectionNack nack:
                if (_dedicatedRequests.Remove(nack.Channel, out var refused)) refused.TrySetResult(new ChannelOutcome(false, nack.Code, nack.Reason));
                Channel(nack.Channel)?.Tell(new ChannelCommand.BeginRefused(nack.Code, nack.Reason));
                break;
            case ServiceBeginRequest begin:
                BeginService(begin);
                break;
            case ServiceBeginAck ack:
                Channel(ack.Channel)?.Tell(new ChannelCommand.BeginAcked());
                break;
            case ServiceBeginNack nack:
                Channel(nack.Channel)?.Tell(new ChannelCommand.BeginRefused(nack.Code, nack.Reason));
                break;
            case ServiceFreeResponse:
                break; // the peer released its side; ours is released when both directions end
            case Ping ping:
                _writer.SendControl(new Pong(ping.Value));
                break;
            case Pong:
                break;
            case Protocol.Messages.Shutdown shutdown:
                // The reader has already ended every channel's downlink (in stream order, after their last
                // data): wait for the channels to hand that data to their applications, within a grace period.
                Log.PeerShutdown(_log, _session.PeerName, shutdown.Reason);
                _draining = new StopReason($"the peer shut down: {shutdown.Reason}");
                foreach (var channel in _channels.Values) channel.Tell(new ChannelCommand.Drain());
                if (_channels.IsEmpty) End(_draining);
                else _ = Task.Delay(DrainGrace, Stopping).ContinueWith(_ => Tell(new TunnelCommand.Shutdown("drain grace over")), TaskScheduler.Default);
                break;
            case Error error:
                Log.PeerError(_log, _session.PeerName, error.Code, error.Reason);
                End(new StopReason($"the peer reported {error.Code}: {error.Reason}", new TunnelClosedException(error.Code, error.Reason)));
                break;
            default:
                Fail(new ProtocolException(ErrorCode.ProtocolViolation, $"{frame} is not allowed on an open tunnel"));
                break;
        }
    }

    private void AcceptConnection(ConnectionRequest request)
    {
        var peerParity = _session.IsMaster ? 0u : 1u;
        if (request.Channel % 2 != peerParity || _channels.ContainsKey(request.Channel) || _accepted.Contains(request.Channel))
        {
            Fail(new ProtocolException(ErrorCode.ProtocolViolation, $"CONNECTION_REQUEST for channel {request.Channel}, which the peer may not open"));
            return;
        }
        if (request.Kind == ConnectionKind.Dedicated)
        {
            if (_options.JoinDedicated is not { } join || request.Slot == 0)
            {
                _writer.SendControl(new ConnectionNack(request.Channel, ErrorCode.ProtocolViolation, "dedicated tunnel connections are not offered by this end"));
                return;
            }
            // The new tunnel connection pairs at the middle under the slot; the channel itself opens on it.
            _writer.SendControl(new ConnectionAck(request.Channel));
            _ = Task.Run(() => join(request.Slot));
            return;
        }
        if (_channels.Count + _accepted.Count >= _options.MaxChannels)
        {
            _writer.SendControl(new ConnectionNack(request.Channel, ErrorCode.TooManyChannels, $"this tunnel already has {_options.MaxChannels} channels"));
            return;
        }
        _accepted.Add(request.Channel);
        _writer.SendControl(new ConnectionAck(request.Channel));
    }

    private void BeginService(ServiceBeginRequest begin)
    {
        if (!_accepted.Contains(begin.Channel))
        {
            // Its CONNECTION_REQUEST was refused (the peer pipelines both); the NACK already told it.
            return;
        }
        var token = Stopping;
        _ = Task.Run(async () =>
        {
            TargetDial result;
            try { result = await _targets.DialAsync(begin, token).ConfigureAwait(false); }
            catch (Exception ex) { result = TargetDial.Refused(ErrorCode.TargetUnreachable, ex.Message); }
            if (!Tell(new TunnelCommand.Dialled(begin.Channel, begin, result))) result.Socket?.Dispose();
        }, token);
    }

    private void OnDialled(TunnelCommand.Dialled dialled)
    {
        _accepted.Remove(dialled.Channel);
        if (dialled.Result.Socket is not { } socket)
        {
            Log.BeginRefused(_log, dialled.Channel, dialled.Request.Describe(), dialled.Result.Code, dialled.Result.Reason);
            _writer.SendControl(new ServiceBeginNack(dialled.Channel, dialled.Result.Code, dialled.Result.Reason));
            return;
        }
        var channel = new ServiceChannel(dialled.Channel, socket, _writer, Counters, _options.Flow, dialled.Request.Describe(), opener: false, null, _log, _compression.ForAcceptor(dialled.Request));
        _channels[dialled.Channel] = channel;
        _hadChannel = true;
        StartChild(channel, reason => new TunnelCommand.ChannelStopped(dialled.Channel, reason));
        channel.Start();
        _writer.SendControl(new ServiceBeginAck(dialled.Channel));
        Log.ChannelAccepted(_log, dialled.Channel, dialled.Request.Describe());
    }

    private async ValueTask OnTickAsync()
    {
        var time = _options.Time;
        if (time.GetElapsedTime(Volatile.Read(ref _lastHeard)) > _options.Timings.DeadAfter)
        {
            Fail(new TunnelClosedException(ErrorCode.KeepaliveTimeout, $"peer '{_session.PeerName}' was silent for {_options.Timings.DeadAfter.TotalSeconds:0} s"));
            return;
        }
        if (time.GetElapsedTime(_lastPing) >= _options.Timings.KeepaliveInterval)
        {
            _lastPing = time.GetTimestamp();
            _writer.SendControl(new Ping(++_pingSequence));
        }
        var report = new TunnelReport((uint)_channels.Count, (ulong)Counters.BytesSent, (ulong)Counters.BytesReceived);
        // Only figures that changed are worth a frame: idle tunnels stay silent apart from keepalives, so a
        // middle holding thousands of them is not woken every two seconds for each.
        if (time.GetElapsedTime(_lastReport) >= _options.ReportInterval && report != _lastReportSent)
        {
            _lastReport = time.GetTimestamp();
            _lastReportSent = report;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await _session.Relay.SendLinkAsync(report, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The reader will report the broken link; a missed report loses nothing.
            }
        }
    }

    private void OnReaderEnded(Exception? error)
    {
        // After the peer's SHUTDOWN its link closes: the channels are still delivering, and the drain ends the tunnel.
        if (_draining is not null) return;
        switch (error)
        {
            case null:
                var closed = _session.Relay.PeerLeft is { } left ? $"the peer closed the tunnel ({left})" : "the peer closed the tunnel";
                End(new StopReason(closed, new TunnelClosedException(ErrorCode.PeerGone, closed)));
                break;
            case ProtocolException protocol:
                Fail(protocol);
                break;
            case LinkClosedException link:
                End(new StopReason(link.Message, link));
                break;
            case not null when _session.Relay.WentSilent:
                // Reads fail in whatever layer notices first (TLS says "the read operation failed"): say why.
                End(new StopReason($"the link to the middle was silent for {_options.Timings.DeadAfter.TotalSeconds:0.#} s", error));
                break;
            default:
                End(new StopReason($"the link failed: {error.Message}", error));
                break;
        }
    }

    /// <summary>Reports a failure to the peer (when there is a code for it) and stops.</summary>
    private void Fail(Exception error)
    {
        var code = error switch
        {
            ProtocolException p => p.Code,
            TunnelClosedException t => t.Code,
            _ => ErrorCode.Internal,
        };
        Log.Failed(_log, _session.PeerName, code, error.Message);
        _writer.SendControl(new Error(code, error.Message));
        _writer.Complete();
        End(new StopReason(error.Message, error));
    }

    private void End(StopReason reason)
    {
        _why ??= reason;
        Stop(reason);
    }

    private ServiceChannel? Channel(uint id) => _channels.TryGetValue(id, out var channel) ? channel : null;

    private async Task ReadLoopAsync()
    {
        var reader = _session.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                var header = await reader.ReadHeaderAsync(ProtocolLimits.DefaultMaxPayload, Stopping).ConfigureAwait(false);
                if (header is null) break;
                Volatile.Write(ref _lastHeard, _options.Time.GetTimestamp());
                var (type, length) = header.Value;
                switch (type)
                {
                    case MessageType.ServiceData or MessageType.ServiceDataCompressed:
                        await ReceiveDataAsync(reader, type, length).ConfigureAwait(false);
                        continue;
                    case MessageType.ServiceDataPause or MessageType.ServiceDataResume or MessageType.ServiceFreeRequest:
                        OnChannelSignal(await reader.ReadBodyAsync(type, length, Stopping).ConfigureAwait(false));
                        continue;
                    case MessageType.Shutdown:
                        // Nothing follows SHUTDOWN: end each channel's downlink here, in order after its data.
                        var shutdown = await reader.ReadBodyAsync(type, length, Stopping).ConfigureAwait(false);
                        foreach (var channel in _channels.Values) channel.PeerFinished(FreeFlags.None);
                        await TellAsync(new TunnelCommand.FromPeer(shutdown), Stopping).ConfigureAwait(false);
                        continue;
                    default:
                        await TellAsync(new TunnelCommand.FromPeer(await reader.ReadBodyAsync(type, length, Stopping).ConfigureAwait(false)), Stopping).ConfigureAwait(false);
                        continue;
                }
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
        Tell(new TunnelCommand.ReaderEnded(error));
    }

    private async ValueTask ReceiveDataAsync(FrameStreamReader reader, MessageType type, int length)
    {
        if (length < 4) throw new ProtocolException(ErrorCode.Malformed, $"malformed {MessageNames.Of(type)}: no channel id");
        var idBytes = new byte[4];
        var got = 0;
        while (got < 4) got += await reader.ReadPayloadAsync(idBytes.AsMemory(got), 4 - got, Stopping).ConfigureAwait(false);
        var id = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(idBytes);
        if (Channel(id) is not { } channel) await ServiceChannel.SkipAsync(reader, length - 4, Stopping).ConfigureAwait(false); // a channel that just closed
        else if (type == MessageType.ServiceDataCompressed) await channel.ReceiveCompressedDataAsync(reader, length - 4, Stopping).ConfigureAwait(false);
        else await channel.ReceiveDataAsync(reader, length - 4, Stopping).ConfigureAwait(false);
    }

    /// <summary>PAUSE, RESUME and FREE act on the channel from the reader itself, keeping them in order with its data.</summary>
    private void OnChannelSignal(Message message)
    {
        switch (message)
        {
            case ServiceDataPause pause:
                Channel(pause.Channel)?.Gate.Pause();
                break;
            case ServiceDataResume resume:
                Channel(resume.Channel)?.Gate.Resume();
                break;
            case ServiceFreeRequest free:
                Channel(free.Channel)?.PeerFinished(free.Flags);
                break;
        }
    }

    private async Task ClockAsync()
    {
        try
        {
            while (!Stopping.IsCancellationRequested)
            {
                // One clock for keepalive and reports: tick at the shorter of the two periods.
                var period = _options.Timings.KeepaliveInterval < _options.ReportInterval ? _options.Timings.KeepaliveInterval : _options.ReportInterval;
                await Task.Delay(period, _options.Time, Stopping).ConfigureAwait(false);
                if (!Tell(new TunnelCommand.Tick())) return;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    protected override async ValueTask OnStopAsync(StopReason reason)
    {
        foreach (var pending in _dedicatedRequests.Values) pending.TrySetResult(new ChannelOutcome(false, ErrorCode.PeerGone, "the tunnel closed"));
        _writer.Complete();
        // Let queued frames (SHUTDOWN, ERROR, the last data) leave before the link closes, within reason.
        await Task.WhenAny(_writerTask, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        if (_writerTask.IsCompleted && !_session.Relay.WentSilent)
        {
            // Everything is written: close the link gracefully so the kernel does not reset it and drop the tail.
            await _session.CloseAsync(LingerGrace).ConfigureAwait(false);
        }
        else
        {
            await _session.DisposeAsync().ConfigureAwait(false);
        }
        Log.Stopped(_log, _session.PeerName, (_why ?? reason).ToString());
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "opening channel {Channel} to {Target}")]
        public static partial void ChannelOpening(ILogger logger, uint channel, string target);

        [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "accepted channel {Channel} to {Target}")]
        public static partial void ChannelAccepted(ILogger logger, uint channel, string target);

        [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "refused channel {Channel} to {Target}: {Code} {Reason}")]
        public static partial void BeginRefused(ILogger logger, uint channel, string target, ErrorCode code, string reason);

        [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "shutting down the tunnel to {Peer}: {Reason}")]
        public static partial void ShuttingDown(ILogger logger, string peer, string reason);

        [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "peer {Peer} shut the tunnel down: {Reason}")]
        public static partial void PeerShutdown(ILogger logger, string peer, string reason);

        [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "peer {Peer} reported {Code}: {Reason}")]
        public static partial void PeerError(ILogger logger, string peer, ErrorCode code, string reason);

        [LoggerMessage(EventId = 206, Level = LogLevel.Warning, Message = "tunnel to {Peer} failed with {Code}: {Reason}")]
        public static partial void Failed(ILogger logger, string peer, ErrorCode code, string reason);

        [LoggerMessage(EventId = 207, Level = LogLevel.Information, Message = "tunnel to {Peer} closed: {Reason}")]
        public static partial void Stopped(ILogger logger, string peer, string reason);
    }
}

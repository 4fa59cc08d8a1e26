using Akka.Actor;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Compression;
using Lstp.Tunnel.Link;
using Microsoft.Extensions.Logging;

namespace Lstp.Tunnel.Session;

/// <summary>
/// A secured tunnel between two ends: the actor that owns the channel table, opens and accepts channels,
/// answers keepalives and shuts down. Its <see cref="TunnelReader"/> parses the end-to-end stream in order and
/// tells it the control frames; its <see cref="TunnelWriter"/> is the stream's one writer. Its channels are its
/// children: a failing channel is stopped (the tunnel hears why in <see cref="TunnelCommand.ChannelStopped"/>), and
/// when the tunnel stops, they stop.
/// </summary>
internal sealed partial class TunnelActor : UntypedActor, IWithTimers
{
    /// <summary>How long channels may take to deliver what arrived before the peer's SHUTDOWN.</summary>
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);
    /// <summary>How long a closing tunnel lets queued frames (SHUTDOWN, ERROR, the last data) leave before it closes the link.</summary>
    private static readonly TimeSpan WriterGrace = TimeSpan.FromSeconds(2);
    /// <summary>How long a closing tunnel waits for the middle to close the link after its own FIN.</summary>
    private static readonly TimeSpan LingerGrace = TimeSpan.FromSeconds(3);
    /// <summary>How long a closing tunnel waits for channels told to close cleanly (they stop as soon as they take it).</summary>
    private static readonly TimeSpan ChannelsGrace = TimeSpan.FromSeconds(2);

    private sealed class ChannelsGraceOver
    {
        public static readonly ChannelsGraceOver Instance = new();
    }

    private readonly Tunnel _tunnel;
    private readonly ITargetDialer _targets;
    private readonly TunnelOptions _options;
    private readonly ILogger _log;
    private readonly TunnelWriter _writer = new();
    private readonly TunnelReader _reader;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<uint> _accepted = [];
    private readonly Dictionary<uint, TaskCompletionSource<ChannelOutcome>> _dedicatedRequests = [];
    private Task _writerTask = Task.CompletedTask;
    private bool _hadChannel;
    private bool _linkClosed;
    /// <summary>Set by a local SHUTDOWN: the channels were told to close cleanly, and Closing waits for them.</summary>
    private bool _closingChannels;
    private uint _nextChannel;
    private ulong _pingSequence;
    private long _lastPing;
    private long _lastReport;
    private TunnelReport? _lastReportSent;
    private StopReason? _why;

    public TunnelActor(Tunnel tunnel, ITargetDialer targets, TunnelOptions options, ILogger log)
    {
        _tunnel = tunnel;
        _targets = targets;
        _options = options;
        _log = log;
        _reader = new TunnelReader(tunnel, Self, options.Time, _writer.RequestAck);
        // Master opens odd channel ids, the other end even ones, so both may open channels without clashing.
        _nextChannel = tunnel.Session.IsMaster ? 1u : 2u;
        _lastReport = options.Time.GetTimestamp();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private TunnelCompression Compression => _tunnel.Compression;

    /// <summary>The current link's session: after a resume, the new one.</summary>
    private SecuredSession CurrentSession => _tunnel.Session;

    protected override void PreStart()
    {
        var self = Self;
        var stopping = _stopping.Token;
        _ = Task.Run(() => _reader.RunAsync(stopping));
        // The writer drains what is queued even while the tunnel closes (SHUTDOWN and ERROR must leave), so it
        // does not watch the stop token; closing the session stream is its hard stop.
        _writerTask = Task.Run(async () =>
        {
            Exception? error = null;
            try { await _writer.RunAsync(_tunnel.Link, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception ex) { error = ex; }
            self.Tell(new TunnelCommand.WriterEnded(error));
        });
        // One clock for keepalive and reports: tick at the shorter of the two periods.
        var period = _options.Timings.KeepaliveInterval < _options.ReportInterval ? _options.Timings.KeepaliveInterval : _options.ReportInterval;
        Timers.StartPeriodicTimer("tick", TunnelCommand.Tick.Instance, period);
    }

    /// <summary>A channel that throws is stopped alone; the tunnel and its other channels carry on.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void OnReceive(object message) => Open(message);

    // STATES

    /// <summary>Open: channels open and close, control frames flow, the clock keeps the link alive.</summary>
    private void Open(object message)
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
                Forget(stopped.Channel);
                if (_options.SingleChannel && _hadChannel && _tunnel.Table.IsEmpty) Self.Tell(new TunnelCommand.Shutdown("its one channel closed"));
                break;
            case TunnelCommand.RequestDedicated request:
                var requestId = _nextChannel;
                _nextChannel += 2;
                _dedicatedRequests[requestId] = request.Reply;
                _writer.SendControl(new ConnectionRequest(requestId, ConnectionKind.Dedicated, request.Slot));
                break;
            case TunnelCommand.Tick:
                OnTick();
                break;
            case TunnelCommand.Shutdown shutdown:
                ShutDown(shutdown.Reason);
                break;
            case TunnelCommand.ReaderEnded ended:
                OnReaderEnded(ended.Error);
                break;
            case TunnelCommand.WriterEnded ended:
                End(new StopReason(ended.Error is null ? "writer ended" : $"writing to the tunnel failed: {ended.Error.Message}", ended.Error));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// Draining after the peer's SHUTDOWN: the reader has ended every channel's downlink after its last data; the
    /// channels hand that data to their applications and stop, then the tunnel ends (or when the grace is over).
    /// </summary>
    private UntypedReceive Draining(StopReason why) => message =>
    {
        switch (message)
        {
            case TunnelCommand.ChannelStopped stopped:
                Forget(stopped.Channel);
                if (_tunnel.Table.IsEmpty) End(why);
                break;
            case TunnelCommand.ReaderEnded or TunnelCommand.WriterEnded:
                break; // the peer is gone after its SHUTDOWN; the channels still deliver what arrived
            case TunnelCommand.OpenChannel open:
                open.Settle(); // no new channels on a tunnel the peer is closing
                break;
            default:
                Open(message);
                break;
        }
    };

    /// <summary>
    /// Closing: queued frames leave, the link closes gracefully, then the actor stops (and its channels with it). After
    /// a local SHUTDOWN it first waits for the channels told to close cleanly: a channel stopped by its parent
    /// before it took its Close would reset its application.
    /// </summary>
    private UntypedReceive Closing() => message =>
    {
        switch (message)
        {
            case TunnelCommand.LinkClosed:
                _linkClosed = true;
                if (!_closingChannels || _tunnel.Table.IsEmpty) Context.Stop(Self);
                else Timers.StartSingleTimer(ChannelsGraceOver.Instance, ChannelsGraceOver.Instance, ChannelsGrace);
                break;
            case TunnelCommand.ChannelStopped stopped:
                Forget(stopped.Channel);
                if (_linkClosed && _tunnel.Table.IsEmpty) Context.Stop(Self);
                break;
            case ChannelsGraceOver:
                Context.Stop(Self);
                break;
            case IUndeliverable undeliverable:
                undeliverable.Settle();
                break;
        }
    };

    private void OpenLocal(TunnelCommand.OpenChannel open)
    {
        if (_tunnel.Table.Count >= _options.MaxChannels)
        {
            _ = open.OnOutcome?.Invoke(new ChannelOutcome(false, ErrorCode.TooManyChannels, $"this tunnel already has {_options.MaxChannels} channels"));
            Telemetry.TunnelTelemetry.ChannelRefused(_tunnel.Counters, ErrorCode.TooManyChannels, byPeer: false);
            open.Client.Dispose();
            return;
        }
        var id = _nextChannel;
        _nextChannel += 2;
        var compression = Compression.ForOpener(open.Kind, open.Target);
        var request = new ServiceBeginRequest(id, open.Kind, open.Target, open.Port, compression.BeginOptions);
        var channel = new ServiceChannel(id, open.Client, _writer, _tunnel.Counters, _options.Flow, request.Describe(), opener: true, compression);
        StartChannel(channel, open.OnOutcome);
        // Pipelined: the begin request follows at once, so opening costs one round trip through the middle.
        _writer.SendControl(new ConnectionRequest(id, ConnectionKind.Multiplexed));
        _writer.SendControl(request);
        Log.ChannelOpening(_log, id, request.Describe());
    }

    private void StartChannel(ServiceChannel channel, Func<ChannelOutcome, ValueTask>? onOutcome)
    {
        channel.Owner = Context.ActorOf(Props.Create(typeof(ServiceChannelActor), channel, onOutcome, _log).WithMailbox(CompactMailbox.Id), $"channel-{channel.Id}");
        _tunnel.Table[channel.Id] = channel;
        _hadChannel = true;
    }

    private void Forget(uint channel)
    {
        _tunnel.Table.TryRemove(channel, out _);
        _accepted.Remove(channel);
    }

    private void OnPeerFrame(Message frame)
    {
        if (_writer.ControlQueued > TunnelWriter.MaxControlQueued)
        {
            Fail(new ProtocolException(ErrorCode.FlowControl, $"the peer sends requests faster than it reads the answers ({_writer.ControlQueued} queued to it)"));
            return;
        }
        switch (frame)
        {
            case ConnectionRequest request:
                AcceptConnection(request);
                break;
            case ConnectionAck ack:
                if (_dedicatedRequests.Remove(ack.Channel, out var accepted)) accepted.TrySetResult(ChannelOutcome.Success);
                break;
            case ConnectionNack nack:
                Telemetry.TunnelTelemetry.ChannelRefused(_tunnel.Counters, nack.Code, byPeer: true);
                if (_dedicatedRequests.Remove(nack.Channel, out var refused)) refused.TrySetResult(new ChannelOutcome(false, nack.Code, nack.Reason));
                TellChannel(nack.Channel, new ChannelCommand.BeginRefused(nack.Code, nack.Reason));
                break;
            case ServiceBeginRequest begin:
                BeginService(begin);
                break;
            case ServiceBeginAck ack:
                TellChannel(ack.Channel, ChannelCommand.BeginAcked.Instance);
                break;
            case ServiceBeginNack nack:
                Telemetry.TunnelTelemetry.ChannelRefused(_tunnel.Counters, nack.Code, byPeer: true);
                TellChannel(nack.Channel, new ChannelCommand.BeginRefused(nack.Code, nack.Reason));
                break;
            case ServiceFreeResponse:
                break; // the peer released its side; ours is released when both directions end
            case Ping ping:
                _writer.SendControl(new Pong(ping.Value));
                break;
            case Pong:
                break;
            case Protocol.Messages.Shutdown shutdown:
                Log.PeerShutdown(_log, CurrentSession.PeerName, shutdown.Reason);
                var draining = new StopReason($"the peer shut down: {shutdown.Reason}");
                if (_tunnel.Table.IsEmpty)
                {
                    End(draining);
                    return;
                }
                foreach (var channel in _tunnel.Table.Values) channel.Owner.Tell(ChannelCommand.Drain.Instance);
                Timers.StartSingleTimer("drain", new TunnelCommand.Shutdown("drain grace over"), DrainGrace);
                Become(Draining(draining));
                break;
            case Error error:
                Log.PeerError(_log, CurrentSession.PeerName, error.Code, error.Reason);
                End(new StopReason($"the peer reported {error.Code}: {error.Reason}", new TunnelClosedException(error.Code, error.Reason)));
                break;
            default:
                Fail(new ProtocolException(ErrorCode.ProtocolViolation, $"{frame} is not allowed on an open tunnel"));
                break;
        }
    }

    private void TellChannel(uint id, ChannelCommand command)
    {
        if (_tunnel.Table.TryGetValue(id, out var channel)) channel.Owner.Tell(command);
    }

    private void AcceptConnection(ConnectionRequest request)
    {
        var peerParity = CurrentSession.IsMaster ? 0u : 1u;
        if (request.Channel % 2 != peerParity || _tunnel.Table.ContainsKey(request.Channel) || _accepted.Contains(request.Channel))
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
        if (_tunnel.Table.Count + _accepted.Count >= _options.MaxChannels)
        {
            _writer.SendControl(new ConnectionNack(request.Channel, ErrorCode.TooManyChannels, $"this tunnel already has {_options.MaxChannels} channels"));
            Telemetry.TunnelTelemetry.ChannelRefused(_tunnel.Counters, ErrorCode.TooManyChannels, byPeer: false);
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
        var token = _stopping.Token;
        var targets = _targets;
        DialAsync().PipeTo(Self);

        async Task<TunnelCommand.Dialled> DialAsync()
        {
            TargetDial result;
            try { result = await targets.DialAsync(begin, token).ConfigureAwait(false); }
            catch (Exception ex) { result = TargetDial.Refused(ErrorCode.TargetUnreachable, ex.Message); }
            return new TunnelCommand.Dialled(begin.Channel, begin, result);
        }
    }

    private void OnDialled(TunnelCommand.Dialled dialled)
    {
        _accepted.Remove(dialled.Channel);
        if (dialled.Result.Socket is not { } socket)
        {
            Log.BeginRefused(_log, dialled.Channel, dialled.Request.Describe(), dialled.Result.Code, dialled.Result.Reason);
            _writer.SendControl(new ServiceBeginNack(dialled.Channel, dialled.Result.Code, dialled.Result.Reason));
            Telemetry.TunnelTelemetry.ChannelRefused(_tunnel.Counters, dialled.Result.Code, byPeer: false);
            return;
        }
        var channel = new ServiceChannel(dialled.Channel, socket, _writer, _tunnel.Counters, _options.Flow, dialled.Request.Describe(), opener: false, Compression.ForAcceptor(dialled.Request));
        StartChannel(channel, null);
        _writer.SendControl(new ServiceBeginAck(dialled.Channel));
        Log.ChannelAccepted(_log, dialled.Channel, dialled.Request.Describe());
    }

    private void OnTick()
    {
        var time = _options.Time;
        // While the link is broken there is no one to ping or report to; the resume grace bounds the wait.
        if (_tunnel.Resuming) return;
        if (_tunnel.Link.AckOwed) _writer.RequestAck();
        var lastHeard = Math.Max(_reader.LastHeard, _tunnel.Link.LastResumed);
        if (time.GetElapsedTime(lastHeard) > _options.Timings.DeadAfter)
        {
            // Silence over a link that still looks alive (a blackhole beyond the middle): a resumable tunnel gives
            // that link up and resumes over a new one; only a tunnel that cannot resume ends here.
            if (_tunnel.Link.Interrupt(new TimeoutException($"peer '{CurrentSession.PeerName}' was silent for {_options.Timings.DeadAfter.TotalSeconds:0} s over this link"))) return;
            Fail(new TunnelClosedException(ErrorCode.KeepaliveTimeout, $"peer '{CurrentSession.PeerName}' was silent for {_options.Timings.DeadAfter.TotalSeconds:0} s"));
            return;
        }
        if (time.GetElapsedTime(_lastPing) >= _options.Timings.KeepaliveInterval)
        {
            _lastPing = time.GetTimestamp();
            _writer.SendControl(new Ping(++_pingSequence));
        }
        var report = new TunnelReport((uint)_tunnel.Table.Count, (ulong)_tunnel.Counters.BytesSent, (ulong)_tunnel.Counters.BytesReceived);
        // Only figures that changed are worth a frame: idle tunnels stay silent apart from keepalives, so a
        // middle holding thousands of them is not woken every two seconds for each.
        if (time.GetElapsedTime(_lastReport) >= _options.ReportInterval && report != _lastReportSent)
        {
            _lastReport = time.GetTimestamp();
            _lastReportSent = report;
            _ = SendReportAsync(CurrentSession.Relay, report);
        }
    }

    /// <summary>TUNNEL_REPORT goes on the link beside the end-to-end stream; a missed report loses nothing.</summary>
    private static async Task SendReportAsync(RelayStream relay, TunnelReport report)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await relay.SendLinkAsync(report, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The reader will report the broken link.
        }
    }

    private void ShutDown(string reason)
    {
        Log.ShuttingDown(_log, CurrentSession.PeerName, reason);
        foreach (var channel in _tunnel.Table.Values) channel.Owner.Tell(new ChannelCommand.Close(Graceful: true));
        _closingChannels = true;
        _writer.SendControl(new Protocol.Messages.Shutdown(ErrorCode.Shutdown, reason));
        End(new StopReason($"shut down: {reason}"));
    }

    private void OnReaderEnded(Exception? error)
    {
        switch (error)
        {
            case null:
                var closed = CurrentSession.Relay.PeerLeft is { } left ? $"the peer closed the tunnel ({left})" : "the peer closed the tunnel";
                End(new StopReason(closed, new TunnelClosedException(ErrorCode.PeerGone, closed)));
                break;
            case ProtocolException protocol:
                Fail(protocol);
                break;
            case LinkClosedException link:
                End(new StopReason(link.Message, link));
                break;
            case TunnelClosedException notResumed:
                // A break that did not resume (the grace ran out, or the peer was another end): a fault, so channels reset.
                End(new StopReason(notResumed.Message, notResumed));
                break;
            case not null when CurrentSession.Relay.WentSilent:
                // Reads fail in whatever layer notices first (TLS says "the read operation failed"): say why.
                End(new StopReason($"the link to the middle was silent for {_options.Timings.DeadAfter.TotalSeconds:0.#} s", error));
                break;
            default:
                End(new StopReason($"the link failed: {error.Message}", error));
                break;
        }
    }

    /// <summary>Reports a failure to the peer (when there is a code for it) and ends the tunnel.</summary>
    private void Fail(Exception error)
    {
        var code = error switch
        {
            ProtocolException p => p.Code,
            TunnelClosedException t => t.Code,
            _ => ErrorCode.Internal,
        };
        Log.Failed(_log, CurrentSession.PeerName, code, error.Message);
        _writer.SendControl(new Error(code, error.Message));
        End(new StopReason(error.Message, error));
    }

    /// <summary>Ends the tunnel: stops reading, lets queued frames leave, closes the link, then stops the actor.</summary>
    private void End(StopReason reason)
    {
        if (_why is not null) return; // already closing: the first reason is the one that counts
        _why = reason;
        Become(Closing());
        Timers.CancelAll();
        _stopping.Cancel();
        _tunnel.Link.StopResuming();
        _writer.Complete();
        foreach (var pending in _dedicatedRequests.Values) pending.TrySetResult(new ChannelOutcome(false, ErrorCode.PeerGone, "the tunnel closed"));
        _dedicatedRequests.Clear();
        CloseLinkAsync(_writerTask, CurrentSession).PipeTo(Self, success: () => TunnelCommand.LinkClosed.Instance, failure: _ => TunnelCommand.LinkClosed.Instance);
    }

    private static async Task CloseLinkAsync(Task writer, SecuredSession session)
    {
        await Task.WhenAny(writer, Task.Delay(WriterGrace)).ConfigureAwait(false);
        if (writer.IsCompleted && !session.Relay.WentSilent)
        {
            // Everything is written: close the link gracefully so the kernel does not reset it and drop the tail.
            await session.CloseAsync(LingerGrace).ConfigureAwait(false);
        }
        else
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    protected override void PostStop()
    {
        var reason = _why ?? new StopReason("the actor system stopped");
        if (!_linkClosed)
        {
            // Stopped from outside (the actor system is shutting down): let go of the link without waiting.
            _stopping.Cancel();
            _tunnel.Link.StopResuming();
            _writer.Complete();
            _ = CurrentSession.DisposeAsync().AsTask();
        }
        _stopping.Dispose();
        Log.Stopped(_log, CurrentSession.PeerName, reason.ToString());
        _tunnel.Stopped(reason);
    }

    protected override void Unhandled(object message)
    {
        Log.Unhandled(_log, CurrentSession.PeerName, message.GetType().Name);
        base.Unhandled(message);
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

        [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "tunnel to {Peer}: unexpected {Message} (dropped)")]
        public static partial void Unhandled(ILogger logger, string peer, string message);
    }
}

using Akka.Actor;
using Lstp.Protocol;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.EndProxy.Connect;

/// <summary>
/// The actor that keeps an end's tunnel up, through the setup sequence: Connecting (dial a middle seed and
/// register), Waiting (for the peer to register), Securing (the end-to-end handshake), Open (its tunnel actor is
/// a child), Resuming (its link broke: a new link is paired and the tunnel carries on over it, channels and all),
/// BackingOff (jittered exponential backoff, then the next seed after a failure). Each attempt's async
/// work ends in a message to it; a message from an attempt that is over is recognised by its number and dropped.
/// Its handle, <see cref="TunnelSupervisor"/>, publishes what it decides for entry points and status pages.
/// </summary>
internal sealed partial class TunnelKeeper : UntypedActor, IWithTimers
{
    /// <summary>Waiting unpaired on a seed other than the first this long: go back to the first, where the peer may wait.</summary>
    private static readonly TimeSpan ReturnToFirstSeedAfter = TimeSpan.FromSeconds(20);
    /// <summary>A tunnel up this long counts as a success: the backoff starts again from its minimum.</summary>
    private static readonly TimeSpan UpLongEnough = TimeSpan.FromSeconds(10);
    /// <summary>How long a stopping end waits for its tunnel's SHUTDOWN to leave and the link to close.</summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(5);

    private readonly TunnelSupervisor _handle;
    private readonly EndOptions _options;
    private readonly Backoff _backoff;
    private readonly ILogger _log;
    private int _seed;
    private int _attempt;
    private CancellationTokenSource? _connecting;
    /// <summary>Resume attempts that failed since the link broke or since the last full pass over the middles.</summary>
    private int _resumeFailures;

    public TunnelKeeper(TunnelSupervisor handle, EndOptions options, ILogger log)
    {
        _handle = handle;
        _options = options;
        _log = log;
        _backoff = new Backoff(options.BackoffMin, options.BackoffMax);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Stop keeping the tunnel: SHUTDOWN on the open one, then stop.</summary>
    public sealed record Stop(string Reason);

    private sealed record Waiting(int Attempt);
    private sealed record Paired(int Attempt, string Peer);
    private sealed record Secured(int Attempt, SecuredSession Session) : IUndeliverable
    {
        /// <summary>The keeper stopped while this attempt finished: close the session nobody will use.</summary>
        public void Settle() => _ = Session.DisposeAsync().AsTask();
    }
    private sealed record ConnectFailed(int Attempt, Exception Error);
    private sealed record ReturnToFirstSeed(int Attempt);
    private sealed record TunnelEnded(TunnelHandle Tunnel, StopReason Reason);
    private sealed record LinkLost(TunnelHandle Tunnel, Exception Error);
    private sealed record ResumeDone(int Attempt, bool Resumed);
    private sealed record ResumeRetry(int Attempt);
    private sealed record Retry
    {
        public static readonly Retry Instance = new();
    }

    /// <summary>The middle of this attempt: seeds first, then the cluster members learned (the list may grow or shrink between attempts).</summary>
    private HostPort Middle
    {
        get
        {
            var all = _handle.Middles.All;
            return all[_seed % all.Count];
        }
    }

    protected override void PreStart() => Connect();

    protected override void OnReceive(object message) => Unhandled(message);

    // STATES

    /// <summary>Connecting, Waiting and Securing: one attempt at one seed, from the dial to the end-to-end handshake.</summary>
    private UntypedReceive Connecting(int attempt, HostPort middle) => message =>
    {
        switch (message)
        {
            case Waiting w when w.Attempt == attempt:
                _handle.Publish(TunnelPhase.Waiting, middle.ToString(), null);
                break;
            case Paired p when p.Attempt == attempt:
                Timers.Cancel("return-to-first");
                _handle.Publish(TunnelPhase.Securing, middle.ToString(), p.Peer);
                break;
            case Secured s when s.Attempt == attempt:
                Opened(s.Session, middle);
                break;

            case ReturnToFirstSeed r when r.Attempt == attempt:
                _connecting?.Cancel();
                break;
            case ConnectFailed f when f.Attempt == attempt && f.Error is OperationCanceledException && _connecting?.IsCancellationRequested == true:
                _seed = _handle.Middles.All.Count * (_seed / _handle.Middles.All.Count + 1); // the first seed, next round
                Log.BackToFirstSeed(_log, middle.ToString(), ReturnToFirstSeedAfter.TotalSeconds);
                Connect();
                break;
            case ConnectFailed f when f.Attempt == attempt:
                Failed(f.Error, middle, openedAt: null, peerShutDown: false);
                break;
            case Stop stop:
                Stopping(stop, tunnel: null);
                break;
            default:
                LateOrUnhandled(message);
                break;
        }
    };

    /// <summary>Open: the tunnel actor runs as a child until it ends.</summary>
    private UntypedReceive Open(TunnelHandle tunnel, HostPort middle, long openedAt) => message =>
    {
        switch (message)
        {
            case LinkLost lost when lost.Tunnel == tunnel:
                Log.LinkLost(_log, Describe(lost.Error), _options.ResumeGrace.TotalSeconds);
                _backoff.Reset();
                _resumeFailures = 0;
                // A draining middle's REDIRECT names where to go; otherwise the same middle first: it is where the peer
                // returns when only one of the two links broke.
                if (tunnel.Session.Relay.RedirectTo is { } to && HostPort.TryParse(to, out var redirect, out _))
                {
                    _seed = IndexOf(redirect);
                    ResumeAttempt(tunnel, Middle, openedAt);
                    break;
                }
                ResumeAttempt(tunnel, middle, openedAt);
                break;
            case TunnelEnded ended when ended.Tunnel == tunnel:
                _handle.Closed();
                if (ended.Reason.Fault is LinkClosedException { RedirectTo: not null } moved)
                {
                    Failed(moved, middle, openedAt, peerShutDown: false);
                    break;
                }
                // The peer said SHUTDOWN: not a failure, but reconnect for its return all the same.
                Failed(new TunnelClosedException(ErrorCode.PeerGone, ended.Reason.Why), middle, openedAt, peerShutDown: !ended.Reason.IsFault);
                break;
            case Stop stop:
                Stopping(stop, tunnel);
                break;
            default:
                LateOrUnhandled(message);
                break;
        }
    };

    /// <summary>
    /// Resuming: the open tunnel's link broke without SHUTDOWN. Its channels wait while this attempt pairs a new link
    /// and offers to resume; the handshake says whether the peer is the same end (then the tunnel carries on) or
    /// another (then the old tunnel ends and resets its channels, and the new session opens a fresh tunnel). Failed
    /// attempts move through the middles until the tunnel's grace runs out and it ends.
    /// </summary>
    private UntypedReceive Resuming(TunnelHandle tunnel, int attempt, HostPort middle, long openedAt) => message =>
    {
        switch (message)
        {
            case Secured s when s.Attempt == attempt && s.Session.Resumes:
                tunnel.ResumeAsync(s.Session).PipeTo(Self, success: resumed => new ResumeDone(attempt, resumed), failure: _ => new ResumeDone(attempt, false));
                break;
            case ResumeDone d when d.Attempt == attempt && d.Resumed && tunnel.Resuming:
                ResumeAttempt(tunnel, middle, openedAt); // the new link broke while replaying
                break;
            case ResumeDone d when d.Attempt == attempt && d.Resumed:
                var took = tunnel.Link.LastResumeTook ?? TimeSpan.Zero;
                Log.Resumed(_log, tunnel.Session.PeerName, string.Join(" -> ", tunnel.Session.Pairing.Path.Select(e => e.Name)), took.TotalMilliseconds);
                _handle.Resumed(tunnel, middle, took);
                Become(Open(tunnel, middle, openedAt));
                break;
            case ResumeDone d when d.Attempt == attempt:
                // The handshake resumed, but the stream could not honour the peer's count: never splice; start afresh.
                tunnel.Abandon("the peer resumed at a byte this end cannot continue from");
                break;
            case Secured s when s.Attempt == attempt:
                Log.NotResumed(_log, s.Session.PeerName);
                tunnel.Abandon("the peer end is not the one this tunnel was with (it restarted, or is another process)");
                Opened(s.Session, middle);
                break;
            case ConnectFailed f when f.Attempt == attempt:
                _seed++;
                // The channels are waiting: try each middle once without delay (the one that broke usually refuses at
                // once), and back off only after a whole pass over them failed.
                var delay = ++_resumeFailures < _handle.Middles.All.Count ? TimeSpan.Zero : _backoff.Next();
                if (_resumeFailures >= _handle.Middles.All.Count) _resumeFailures = 0;
                Log.ResumeRetry(_log, Describe(f.Error), delay.TotalSeconds);
                Timers.StartSingleTimer("resume-retry", new ResumeRetry(attempt), delay);
                break;
            case ResumeRetry r when r.Attempt == attempt:
                ResumeAttempt(tunnel, Middle, openedAt);
                break;
            case TunnelEnded ended when ended.Tunnel == tunnel:
                _connecting?.Cancel();
                Timers.Cancel("resume-retry");
                _handle.Closed();
                Failed(new TunnelClosedException(ErrorCode.PeerGone, ended.Reason.Why), middle, openedAt, peerShutDown: false);
                break;
            case LinkLost or Waiting or Paired:
                break; // a break during a replay is seen when it is done; the phase stays Resuming
            case Stop stop:
                Stopping(stop, tunnel);
                break;
            default:
                LateOrUnhandled(message);
                break;
        }
    };

    /// <summary>BackingOff: waiting out the backoff before the next attempt.</summary>
    private void BackingOff(object message)
    {
        switch (message)
        {
            case Retry:
                Connect();
                break;
            case Stop stop:
                Stopping(stop, tunnel: null);
                break;
            default:
                LateOrUnhandled(message);
                break;
        }
    }

    /// <summary>
    /// What an attempt or a tunnel that is over may still send: a session it secured is closed, the rest is dropped.
    /// Anything else no state expects is <see cref="UntypedActor.Unhandled"/>.
    /// </summary>
    private void LateOrUnhandled(object message)
    {
        switch (message)
        {
            case Secured stale:
                _ = stale.Session.DisposeAsync().AsTask();
                break;
            case Waiting or Paired or ConnectFailed or ReturnToFirstSeed or TunnelEnded or Retry or LinkLost or ResumeDone or ResumeRetry:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Stopping: the open tunnel (if any) sends SHUTDOWN and closes; then the keeper stops.</summary>
    private void Stopping(Stop stop, TunnelHandle? tunnel)
    {
        Timers.CancelAll();
        _connecting?.Cancel();
        if (tunnel is null || !tunnel.Tell(new TunnelCommand.Shutdown(stop.Reason)))
        {
            Context.Stop(Self);
            return;
        }
        tunnel.Completion.WaitAsync(ShutdownGrace).PipeTo(Self, success: _ => Retry.Instance, failure: _ => Retry.Instance);
        Become(message =>
        {
            if (message is Retry) Context.Stop(Self);
            else if (message is not Stop) LateOrUnhandled(message);
        });
    }

    private void Connect()
    {
        var attempt = ++_attempt;
        var middle = Middle;
        _connecting?.Dispose();
        _connecting = new CancellationTokenSource();
        _handle.Publish(TunnelPhase.Connecting, middle.ToString(), null);
        if (_seed % _handle.Middles.All.Count != 0) Timers.StartSingleTimer("return-to-first", new ReturnToFirstSeed(attempt), ReturnToFirstSeedAfter);
        var self = Self;
        _handle.ConnectAsync(middle, 0, _ => self.Tell(new Waiting(attempt)), peer => self.Tell(new Paired(attempt, peer)), _connecting.Token)
            .PipeTo(self, success: session => new Secured(attempt, session), failure: error => new ConnectFailed(attempt, Unwrap(error)));
        Become(Connecting(attempt, middle));
    }

    /// <summary>One attempt to pair a new link for <paramref name="tunnel"/> and resume it there.</summary>
    private void ResumeAttempt(TunnelHandle tunnel, HostPort middle, long openedAt)
    {
        var attempt = ++_attempt;
        _connecting?.Dispose();
        _connecting = new CancellationTokenSource();
        _handle.Publish(TunnelPhase.Resuming, middle.ToString(), tunnel.Session.PeerName, "the link broke");
        var self = Self;
        _handle.ConnectAsync(middle, 0, null, null, _connecting.Token, tunnel.Offer())
            .PipeTo(self, success: session => new Secured(attempt, session), failure: error => new ConnectFailed(attempt, Unwrap(error)));
        Become(Resuming(tunnel, attempt, middle, openedAt));
    }

    private void Opened(SecuredSession session, HostPort middle)
    {
        Timers.Cancel("return-to-first");
        var self = Self;
        var tunnel = TunnelHandle.Start(Context, session, _handle.Targets, _handle.TunnelOptions(singleChannel: false), _handle.TunnelLog,
            onLinkLost: (broken, error) => self.Tell(new LinkLost(broken, error)));
        Lstp.Tunnel.Telemetry.TunnelTelemetry.Started(_handle, tunnel);
        var openedAt = _options.Time.GetTimestamp();
        tunnel.Completion.PipeTo(Self, success: reason => new TunnelEnded(tunnel, reason));
        var pairing = session.Pairing;
        Log.Open(_log, pairing.Peer.EndName, string.Join(" -> ", pairing.Path.Select(e => e.Name)), session.Encrypted ? $"TLS 1.3, {session.CipherSuite}" : "plaintext");
        _handle.Opened(tunnel, middle);
        Become(Open(tunnel, middle, openedAt));
    }

    /// <summary>
    /// An attempt failed or the tunnel ended: a middle that failed or refused us means the next seed, a tunnel that
    /// simply ended means the same seed first; a REDIRECT names the seed. Then back off.
    /// </summary>
    private void Failed(Exception error, HostPort middle, long? openedAt, bool peerShutDown)
    {
        var why = Describe(error);
        var wasUp = openedAt is { } t && _options.Time.GetElapsedTime(t) > UpLongEnough;
        if (wasUp) _backoff.Reset();
        if (!wasUp || error is LinkClosedException) _seed++;
        if (error is LinkClosedException { RedirectTo: { } to } && HostPort.TryParse(to, out var redirect, out _)) _seed = IndexOf(redirect);
        var delay = _backoff.Next();
        _handle.CountReconnect();
        if (peerShutDown) Log.PeerEnded(_log, why, delay.TotalSeconds);
        else Log.Reconnecting(_log, why, delay.TotalSeconds);
        _handle.Publish(TunnelPhase.BackingOff, middle.ToString(), null, why);
        Timers.StartSingleTimer("retry", Retry.Instance, delay);
        Become(BackingOff);
    }

    private int IndexOf(HostPort middle)
    {
        var all = _handle.Middles.All;
        for (var i = 0; i < all.Count; i++)
        {
            if (all[i].Equals(middle)) return i;
        }
        return _seed;
    }

    private static Exception Unwrap(Exception error) => error is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerException! : error;

    internal static string Describe(Exception ex) => ex switch
    {
        ProtocolException p => $"{p.Code}: {p.Message}",
        LinkClosedException l => l.Message,
        DialException d => d.Message,
        TunnelClosedException t => t.Message,
        EndOfStreamException => "the middle closed the link",
        IOException io => $"the link failed: {io.Message}",
        _ => ex.Message,
    };

    protected override void PostStop()
    {
        _connecting?.Cancel();
        _connecting?.Dispose();
        _handle.Stopped();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "tunnel to {Peer} open via {Path} ({Security})")]
        public static partial void Open(ILogger logger, string peer, string path, string security);

        [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "tunnel down: {Cause}; reconnecting in {Seconds:0.0} s")]
        public static partial void Reconnecting(ILogger logger, string cause, double seconds);

        [LoggerMessage(EventId = 404, Level = LogLevel.Information, Message = "tunnel ended: {Cause}; reconnecting in {Seconds:0.0} s")]
        public static partial void PeerEnded(ILogger logger, string cause, double seconds);

        [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "tunnel link broke: {Cause}; resuming over a new link (channels kept for up to {Seconds:0.#} s)")]
        public static partial void LinkLost(ILogger logger, string cause, double seconds);

        [LoggerMessage(EventId = 411, Level = LogLevel.Information, Message = "tunnel to {Peer} resumed via {Path} after {Milliseconds:0} ms; no channel noticed")]
        public static partial void Resumed(ILogger logger, string peer, string path, double milliseconds);

        [LoggerMessage(EventId = 412, Level = LogLevel.Warning, Message = "{Peer} answered as a new end, not the one the broken tunnel was with: its channels are reset and a new tunnel opens")]
        public static partial void NotResumed(ILogger logger, string peer);

        [LoggerMessage(EventId = 413, Level = LogLevel.Warning, Message = "resuming the tunnel: {Cause}; next middle in {Seconds:0.0} s")]
        public static partial void ResumeRetry(ILogger logger, string cause, double seconds);

        [LoggerMessage(EventId = 403, Level = LogLevel.Information, Message = "no peer on {Middle} within {Seconds:0} s: back to the first middle seed, where the peer may wait")]
        public static partial void BackToFirstSeed(ILogger logger, string middle, double seconds);
    }
}

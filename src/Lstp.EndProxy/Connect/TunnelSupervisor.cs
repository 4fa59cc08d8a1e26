using Lstp.Protocol;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;
using TunnelActor = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.EndProxy.Connect;

/// <summary>
/// Keeps an end's tunnel up: dials a middle seed, registers, waits to be paired, runs the end-to-end
/// handshake and starts the tunnel actor; when the tunnel ends it reconnects with jittered exponential
/// backoff, moving to the next seed after a failure. Local listeners never depend on it being up.
/// </summary>
public sealed partial class TunnelSupervisor : IAsyncDisposable
{
    private readonly EndOptions _options;
    private readonly EndSetup _setup;
    private readonly IDialer _dialer;
    private readonly ITargetDialer _targets;
    private readonly EndProperties _properties;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Backoff _backoff;
    private TaskCompletionSource<TunnelActor> _open = NewOpen();
    private Task? _loop;
    private int _seed;
    private HostPort? _middle;
    private int _reconnects;

    public TunnelSupervisor(EndOptions options, EndSetup setup, IDialer dialer, ITargetDialer targets, EndProperties properties, ILoggerFactory loggers)
    {
        if (options.Middles.Count == 0) throw new ArgumentException("at least one middle (--middle HOST:PORT) is needed", nameof(options));
        _options = options;
        _setup = setup;
        _dialer = dialer;
        _targets = targets;
        _properties = properties;
        _loggers = loggers;
        _log = loggers.CreateLogger("Lstp.EndProxy.Tunnel");
        _backoff = new Backoff(options.BackoffMin, options.BackoffMax);
        State = new TunnelState(TunnelPhase.Connecting, null, null, null, 0);
    }

    public TunnelState State { get; private set; }

    /// <summary>The open tunnel, if there is one now.</summary>
    public TunnelActor? Current { get; private set; }

    /// <summary>Raised on every phase change (the demo prints them).</summary>
    public event Action<TunnelState>? StateChanged;

    public void Start() => _loop ??= Task.Run(RunAsync);

    /// <summary>Waits until a tunnel is open; null if none opens within <paramref name="timeout"/>.</summary>
    public async Task<TunnelActor?> WaitForTunnelAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = _options.Time.GetTimestamp();
        while (true)
        {
            var current = Current;
            if (current is not null && !current.Completion.IsCompleted) return current;
            var remaining = timeout - _options.Time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero) return null;
            try
            {
                var opened = await Volatile.Read(ref _open).Task.WaitAsync(remaining, _options.Time, cancellationToken).ConfigureAwait(false);
                if (!opened.Completion.IsCompleted) return opened;
                // That tunnel already ended and the supervisor is replacing it: wait for the next one.
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            var middle = _options.Middles[_seed % _options.Middles.Count];
            var openedAt = (long?)null;
            var peerShutDown = false;
            try
            {
                SetState(TunnelPhase.Connecting, middle.ToString(), null, State.LastError);
                // Waiting unpaired on a seed other than the first: the peer may wait on the first. Go back there after a
                // while, so two ends that came back on different middles still meet (both list the seeds in one order).
                using var registering = CancellationTokenSource.CreateLinkedTokenSource(token);
                if (_seed % _options.Middles.Count != 0) registering.CancelAfter(ReturnToFirstSeedAfter);
                SecuredSession session;
                try
                {
                    session = await ConnectAsync(middle, 0, _ => SetState(TunnelPhase.Waiting, middle.ToString(), null, State.LastError),
                        peer =>
                        {
                            registering.CancelAfter(Timeout.InfiniteTimeSpan);
                            SetState(TunnelPhase.Securing, middle.ToString(), peer, State.LastError);
                        }, registering.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (registering.IsCancellationRequested && !token.IsCancellationRequested)
                {
                    _seed = _options.Middles.Count * (_seed / _options.Middles.Count + 1); // the first seed, next round
                    Log.BackToFirstSeed(_log, middle.ToString(), ReturnToFirstSeedAfter.TotalSeconds);
                    continue;
                }
                var pairing = session.Pairing;
                _middle = middle;

                var tunnel = new TunnelActor(session, _targets, TunnelOptions(singleChannel: false), _loggers.CreateLogger("Lstp.Tunnel"));
                tunnel.Start();
                openedAt = _options.Time.GetTimestamp();
                Current = tunnel;
                Log.Open(_log, pairing.Peer.EndName, string.Join(" -> ", pairing.Path.Select(e => e.Name)), session.Encrypted ? "TLS 1.3" : "plaintext");
                SetState(TunnelPhase.Open, middle.ToString(), pairing.Peer.EndName, null);
                Volatile.Read(ref _open).TrySetResult(tunnel);

                var reason = await tunnel.Completion.WaitAsync(token).ConfigureAwait(false);
                Current = null;
                Interlocked.Exchange(ref _open, NewOpen());
                if (token.IsCancellationRequested) break;
                if (reason.Fault is LinkClosedException { RedirectTo: not null } moved) throw moved;
                peerShutDown = !reason.IsFault; // the peer said SHUTDOWN: not a failure, but still reconnect for its return
                throw new TunnelClosedException(ErrorCode.PeerGone, reason.Why);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Current = null;
                var error = Describe(ex);
                var wasUp = openedAt is { } t && _options.Time.GetElapsedTime(t) > TimeSpan.FromSeconds(10);
                if (wasUp) _backoff.Reset();
                // A middle that failed or refused us: try the next seed. A tunnel that simply ended: same seed first.
                if (!wasUp || ex is LinkClosedException) _seed++;
                if (ex is LinkClosedException { RedirectTo: { } to } && HostPort.TryParse(to, out var redirect, out _))
                {
                    _seed = IndexOf(redirect);
                }
                var delay = _backoff.Next();
                _reconnects++;
                if (peerShutDown) Log.PeerEnded(_log, error, delay.TotalSeconds);
                else Log.Reconnecting(_log, error, delay.TotalSeconds);
                SetState(TunnelPhase.BackingOff, middle.ToString(), null, error);
                try { await Task.Delay(delay, _options.Time, token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
        SetState(TunnelPhase.Stopped, null, null, State.LastError);
    }

    private TunnelOptions TunnelOptions(bool singleChannel) => new()
    {
        Timings = _options.Timings,
        Time = _options.Time,
        Compression = _options.Compression,
        MaxChannels = singleChannel ? 1 : _options.MaxChannels,
        SingleChannel = singleChannel,
        JoinDedicated = singleChannel ? null : JoinDedicatedAsync,
    };

    /// <summary>Registers at <paramref name="middle"/> under <paramref name="slot"/>, waits to be paired, and secures the session end to end.</summary>
    private static readonly TimeSpan ReturnToFirstSeedAfter = TimeSpan.FromSeconds(20);

    private async Task<SecuredSession> ConnectAsync(HostPort middle, uint slot, Action<Lstp.Protocol.Messages.Waiting>? onWaiting, Action<string>? onPaired, CancellationToken token)
    {
        var (relay, pairing) = await MiddleLink.RegisterAsync(
            _dialer, middle, _setup.Info(slot), _setup.Topology("local"), _options.Token, _options.Timings, _options.Time, onWaiting, token).ConfigureAwait(false);
        onPaired?.Invoke(pairing.Peer.EndName);
        using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        handshakeTimeout.CancelAfter(_options.Timings.DeadAfter);
        try
        {
            return await EndToEndHandshake.RunAsync(relay, pairing, _setup.Secret, _properties, handshakeTimeout.Token).ConfigureAwait(false);
        }
        catch
        {
            await relay.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens a dedicated tunnel connection for one local client: asks the peer over the main tunnel to join a
    /// new slot, pairs there, and opens the client's channel on it alone. False when the peer refused.
    /// </summary>
    public async Task<bool> OpenDedicatedAsync(System.Net.Sockets.Socket client, string service, CancellationToken cancellationToken)
    {
        var main = await WaitForTunnelAsync(_options.WaitForTunnel, cancellationToken).ConfigureAwait(false);
        if (main is null || _middle is not { } middle) return false;
        var slot = (uint)Random.Shared.Next(1, int.MaxValue);
        var reply = new TaskCompletionSource<Tunnel.Channels.ChannelOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!main.Tell(new TunnelCommand.RequestDedicated(slot, reply))) return false;
        var outcome = await reply.Task.WaitAsync(_options.Timings.DeadAfter, cancellationToken).ConfigureAwait(false);
        if (!outcome.Opened)
        {
            Log.DedicatedRefused(_log, service, outcome.Reason);
            return false;
        }
        var session = await ConnectAsync(middle, slot, null, null, cancellationToken).ConfigureAwait(false);
        var dedicated = new TunnelActor(session, _targets, TunnelOptions(singleChannel: true), _loggers.CreateLogger("Lstp.Tunnel"));
        dedicated.Start();
        return dedicated.Tell(new TunnelCommand.OpenChannel(client, Lstp.Protocol.Messages.TargetKind.Service, service, 0));
    }

    /// <summary>The peer asked for a dedicated tunnel connection: pair under its slot and accept the one channel it opens there.</summary>
    private async Task JoinDedicatedAsync(uint slot)
    {
        if (_middle is not { } middle) return;
        try
        {
            var session = await ConnectAsync(middle, slot, null, null, _stop.Token).ConfigureAwait(false);
            new TunnelActor(session, _targets, TunnelOptions(singleChannel: true), _loggers.CreateLogger("Lstp.Tunnel")).Start();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.DedicatedRefused(_log, $"slot {slot}", Describe(ex));
        }
    }

    private int IndexOf(HostPort middle)
    {
        for (var i = 0; i < _options.Middles.Count; i++)
        {
            if (_options.Middles[i].Equals(middle)) return i;
        }
        return _seed;
    }

    private static string Describe(Exception ex) => ex switch
    {
        ProtocolException p => $"{p.Code}: {p.Message}",
        LinkClosedException l => l.Message,
        DialException d => d.Message,
        TunnelClosedException t => t.Message,
        EndOfStreamException => "the middle closed the link",
        IOException io => $"the link failed: {io.Message}",
        _ => ex.Message,
    };

    private void SetState(TunnelPhase phase, string? middle, string? peer, string? error)
    {
        State = new TunnelState(phase, middle, peer, error, _reconnects);
        StateChanged?.Invoke(State);
    }

    /// <summary>Sends SHUTDOWN on the open tunnel (closing channels cleanly) and stops reconnecting.</summary>
    public async Task ShutdownAsync(string reason)
    {
        _stop.Cancel();
        if (Current is { } tunnel)
        {
            tunnel.Tell(new TunnelCommand.Shutdown(reason));
            await tunnel.Completion.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
        if (_loop is not null) await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync("the end proxy is stopping").ConfigureAwait(false);
        _stop.Dispose();
    }

    private static TaskCompletionSource<TunnelActor> NewOpen() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "tunnel to {Peer} open via {Path} ({Security})")]
        public static partial void Open(ILogger logger, string peer, string path, string security);

        [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "dedicated tunnel connection for {What} failed: {Reason}")]
        public static partial void DedicatedRefused(ILogger logger, string what, string reason);

        [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "tunnel down: {Cause}; reconnecting in {Seconds:0.0} s")]
        public static partial void Reconnecting(ILogger logger, string cause, double seconds);

        [LoggerMessage(EventId = 404, Level = LogLevel.Information, Message = "tunnel ended: {Cause}; reconnecting in {Seconds:0.0} s")]
        public static partial void PeerEnded(ILogger logger, string cause, double seconds);

        [LoggerMessage(EventId = 403, Level = LogLevel.Information, Message = "no peer on {Middle} within {Seconds:0} s: back to the first middle seed, where the peer may wait")]
        public static partial void BackToFirstSeed(ILogger logger, string middle, double seconds);
    }
}

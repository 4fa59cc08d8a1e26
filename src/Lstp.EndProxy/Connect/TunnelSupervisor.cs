using Akka.Actor;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.EndProxy.Connect;

/// <summary>
/// The handle on an end's <see cref="TunnelKeeper"/>, the actor that keeps the tunnel up: it publishes the phase
/// and the open tunnel for entry points and status pages, opens dedicated tunnel connections, and stops the
/// keeper (SHUTDOWN on the open tunnel) when the end stops. Local listeners never depend on the tunnel being up.
/// </summary>
public sealed partial class TunnelSupervisor : IAsyncDisposable
{
    private static long _keepers;
    private readonly EndOptions _options;
    private readonly EndSetup _setup;
    private readonly IDialer _dialer;
    private readonly EndProperties _properties;
    private readonly ILogger _log;
    private readonly IActorRefFactory _actors;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<TunnelHandle> _open = NewOpen();
    private IActorRef? _keeper;
    private HostPort? _middle;
    private int _reconnects;
    private int _resumptions;
    private TimeSpan? _lastResumeTook;

    public TunnelSupervisor(EndOptions options, EndSetup setup, IDialer dialer, ITargetDialer targets, EndProperties properties, ILoggerFactory loggers, IActorRefFactory actors)
    {
        if (options.Middles.Count == 0) throw new ArgumentException("at least one middle (--middle HOST:PORT) is needed", nameof(options));
        _actors = actors;
        _options = options;
        _setup = setup;
        _dialer = dialer;
        Targets = targets;
        _properties = properties;
        _log = loggers.CreateLogger("Lstp.EndProxy.Tunnel");
        TunnelLog = loggers.CreateLogger("Lstp.Tunnel");
        State = new TunnelState(TunnelPhase.Connecting, null, null, null, 0);
        Middles = new KnownMiddles(options.Middles);
    }

    /// <summary>The middles this end may dial: its seeds, then the cluster members a middle listed.</summary>
    public KnownMiddles Middles { get; }

    public TunnelState State { get; private set; }

    /// <summary>The actor system this end's tunnels run in.</summary>
    public IActorRefFactory Actors => _actors;

    /// <summary>The open tunnel, if there is one now.</summary>
    public TunnelHandle? Current { get; private set; }

    /// <summary>Raised on every phase change (the demo prints them).</summary>
    public event Action<TunnelState>? StateChanged;

    internal ITargetDialer Targets { get; }
    internal ILogger TunnelLog { get; }

    public void Start() => _keeper ??= _actors.ActorOf(Props.Create(() => new TunnelKeeper(this, _options, _log)), $"tunnel-keeper-{Interlocked.Increment(ref _keepers)}");

    /// <summary>Waits until a tunnel is open; null if none opens within <paramref name="timeout"/>.</summary>
    public async Task<TunnelHandle?> WaitForTunnelAsync(TimeSpan timeout, CancellationToken cancellationToken)
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
                // That tunnel already ended and the keeper is replacing it: wait for the next one.
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
    }

    // What the keeper decided, published for entry points and status pages.

    internal void Publish(TunnelPhase phase, string? middle, string? peer, string? error = null) =>
        SetState(phase, middle, peer, phase is TunnelPhase.BackingOff or TunnelPhase.Open ? error : error ?? State.LastError);

    internal void Opened(TunnelHandle tunnel, HostPort middle)
    {
        _middle = middle;
        Current = tunnel;
        SetState(TunnelPhase.Open, middle.ToString(), tunnel.Session.PeerName, null);
        Volatile.Read(ref _open).TrySetResult(tunnel);
    }

    internal void Closed()
    {
        Current = null;
        Interlocked.Exchange(ref _open, NewOpen());
    }

    internal void CountReconnect() => _reconnects++;

    /// <summary>The open tunnel carried on over a new link after <paramref name="took"/>.</summary>
    internal void Resumed(TunnelHandle tunnel, HostPort middle, TimeSpan took)
    {
        _resumptions++;
        _lastResumeTook = took;
        _middle = middle;
        SetState(TunnelPhase.Open, middle.ToString(), tunnel.Session.PeerName, null);
    }

    internal void Stopped()
    {
        Current = null;
        SetState(TunnelPhase.Stopped, null, null, State.LastError);
        _stopped.TrySetResult();
    }

    internal TunnelOptions TunnelOptions(bool singleChannel) => new()
    {
        Timings = _options.Timings,
        Time = _options.Time,
        Compression = _options.Compression,
        MaxChannels = singleChannel ? 1 : _options.MaxChannels,
        SingleChannel = singleChannel,
        // A dedicated connection carries one channel for one client: it is not worth a replay buffer; it ends with its link.
        ResumeGrace = singleChannel ? TimeSpan.Zero : _options.ResumeGrace,
        JoinDedicated = singleChannel ? null : JoinDedicatedAsync,
    };

    /// <summary>Registers at <paramref name="middle"/> under <paramref name="slot"/>, waits to be paired, and secures the session end to end.</summary>
    /// <param name="offer">The broken tunnel to resume, when the keeper reconnects one.</param>
    internal async Task<SecuredSession> ConnectAsync(HostPort middle, uint slot, Action<Lstp.Protocol.Messages.Waiting>? onWaiting, Action<string>? onPaired, CancellationToken token,
        Tunnel.Resumption.ResumeOffer? offer = null)
    {
        using var setup = Lstp.Tunnel.Telemetry.SetupTrace.Begin(this, middle.ToString(), slot);
        var (relay, pairing) = await MiddleLink.RegisterAsync(
            _dialer, middle, _setup.Info(slot, resuming: offer is not null), _setup.Topology("local"), _options.Token, _options.Timings, _options.Time, onWaiting, OnMembers, token).ConfigureAwait(false);
        onPaired?.Invoke(pairing.Peer.EndName);
        using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        handshakeTimeout.CancelAfter(_options.Timings.DeadAfter);
        try
        {
            var resumable = slot == 0 && _options.ResumeGrace > TimeSpan.Zero;
            return await EndToEndHandshake.RunAsync(relay, pairing, _setup.Secret, _properties, handshakeTimeout.Token, offer, resumable).ConfigureAwait(false);
        }
        catch
        {
            await relay.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void OnMembers(Lstp.Protocol.Messages.MiddleMembers members)
    {
        if (Middles.Learn(members)) Log.LearnedMembers(_log, Middles.Learned.Count, string.Join(", ", Middles.Learned));
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
        var dedicated = TunnelHandle.Start(_actors, session, Targets, TunnelOptions(singleChannel: true), TunnelLog);
        Lstp.Tunnel.Telemetry.TunnelTelemetry.Started(this, dedicated);
        return dedicated.Tell(new TunnelCommand.OpenChannel(client, Lstp.Protocol.Messages.TargetKind.Service, service, 0));
    }

    /// <summary>The peer asked for a dedicated tunnel connection: pair under its slot and accept the one channel it opens there.</summary>
    private async Task JoinDedicatedAsync(uint slot)
    {
        if (_middle is not { } middle) return;
        try
        {
            var session = await ConnectAsync(middle, slot, null, null, _stop.Token).ConfigureAwait(false);
            Lstp.Tunnel.Telemetry.TunnelTelemetry.Started(this, TunnelHandle.Start(_actors, session, Targets, TunnelOptions(singleChannel: true), TunnelLog));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.DedicatedRefused(_log, $"slot {slot}", TunnelKeeper.Describe(ex));
        }
    }

    private void SetState(TunnelPhase phase, string? middle, string? peer, string? error)
    {
        State = new TunnelState(phase, middle, peer, error, _reconnects, _resumptions, _lastResumeTook);
        StateChanged?.Invoke(State);
    }

    /// <summary>Sends SHUTDOWN on the open tunnel (closing channels cleanly) and stops reconnecting.</summary>
    public async Task ShutdownAsync(string reason)
    {
        _stop.Cancel();
        if (_keeper is null)
        {
            SetState(TunnelPhase.Stopped, null, null, State.LastError);
            return;
        }
        _keeper.Tell(new TunnelKeeper.Stop(reason));
        // The keeper allows its tunnel 5 s to close; past that (an actor system already terminating) don't hold the end's stop.
        await _stopped.Task.WaitAsync(TimeSpan.FromSeconds(7)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync("the end proxy is stopping").ConfigureAwait(false);
        _stop.Dispose();
    }

    private static TaskCompletionSource<TunnelHandle> NewOpen() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static partial class Log
    {
        [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "dedicated tunnel connection for {What} failed: {Reason}")]
        public static partial void DedicatedRefused(ILogger logger, string what, string reason);

        [LoggerMessage(EventId = 409, Level = LogLevel.Information, Message = "the middle's cluster lists {Count} more middle(s) to fail over to: {Members}")]
        public static partial void LearnedMembers(ILogger logger, int count, string members);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Lstp.EndProxy.Connect;
using Lstp.Protocol;
using Lstp.Transport.Telemetry;
using Lstp.Tunnel.Telemetry;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.EndProxy.Telemetry;

/// <summary>
/// An end's instruments (docs/observability.md), on a meter of its own so that several ends in one process (the demo,
/// the tests) report apart. What the end's keeper publishes (phase, reconnects) and what its tunnels count (channels,
/// compression) is read at collection time; what happens in a channel (bytes per service, a refusal, PAUSE/RESUME)
/// reaches it through <see cref="TunnelTelemetry"/>, and each setup's timings through <see cref="SetupTrace"/>.
/// Label values are bounded: services this end offers or forwards to, error codes, phases, setup steps.
/// </summary>
public sealed class EndMetrics : ITunnelObserver, ISetupObserver, IDisposable
{
    /// <summary>The service label of a channel to a SOCKS5 or HTTP CONNECT destination: hosts are not labels.</summary>
    public const string Destination = "(destination)";

    private readonly Counter<long> _refused;
    private readonly Counter<long> _sent;
    private readonly Counter<long> _received;
    private readonly Counter<long> _flowControl;
    private readonly Counter<long> _resumptions;
    private readonly Histogram<double> _reconnectDuration;
    private readonly Histogram<double> _setupDuration;
    private readonly Histogram<double> _resumptionDuration;
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _services = new(StringComparer.Ordinal);
    private readonly Lock _tunnelsLock = new();
    private readonly List<TunnelHandle> _tunnels = [];
    private TunnelFigures _retired;
    private TunnelSupervisor? _supervisor;
    private TimeProvider _time = TimeProvider.System;
    private TunnelPhase _phase = TunnelPhase.Connecting;
    private long? _lostAt;
    private int _resumptionsSeen;

    public EndMetrics()
    {
        Meter = new Meter(TelemetryNames.EndMeter);
        var buckets = new InstrumentAdvice<double> { HistogramBucketBoundaries = TelemetryNames.DurationBuckets };
        Meter.CreateObservableGauge("lstp.end.tunnel_open", () => Phase == TunnelPhase.Open ? 1L : 0L, description: "1 while this end's tunnel is open.");
        Meter.CreateObservableGauge("lstp.end.phase", () => Enum.GetValues<TunnelPhase>().Select(p =>
            new Measurement<long>(p == Phase ? 1 : 0, new KeyValuePair<string, object?>("phase", p.ToString().ToLowerInvariant()))),
            description: "Where this end is in the setup sequence: 1 for the current phase (connecting, waiting, securing, open, backingoff, resuming, stopped).");
        Meter.CreateObservableGauge("lstp.end.channels", () => (long)Figures().ChannelsOpen, "{channel}", "Channels open now, on this end's tunnels.");
        Meter.CreateObservableCounter("lstp.end.channels.opened", () => Figures().ChannelsOpened, "{channel}", "Channels this end's tunnels opened since it started, both ways.");
        _refused = Meter.CreateCounter<long>("lstp.end.channels.refused", "{channel}",
            "Channels refused, by error code and by whom: the peer (refused_by=peer) or this end (its channel limit, or a request of the peer's it could not serve).");
        _sent = Meter.CreateCounter<long>("lstp.end.sent", "By", "Application bytes sent to the peer, by service (SOCKS5/CONNECT destinations as one).");
        _received = Meter.CreateCounter<long>("lstp.end.received", "By", "Application bytes from the peer delivered to applications, by service.");
        Meter.CreateObservableCounter("lstp.end.received.spliced", () => Figures().Spliced, "By",
            "Of the bytes received, those moved from the link to their application through a channel's pipe (splice(2); plaintext tunnels on Linux), not through the end's memory.");
        _flowControl = Meter.CreateCounter<long>("lstp.end.flow_control", "{frame}", "SERVICE_DATA_PAUSE and SERVICE_DATA_RESUME frames, sent by this end or received from the peer.");
        Meter.CreateObservableGauge("lstp.end.compression.ratio", CompressionRatio,
            description: "Application bytes per byte sent in SERVICE_DATA_COMPRESSED frames since start; 1 while nothing was sent compressed.");
        Meter.CreateObservableCounter("lstp.end.reconnects", () => (long)(_supervisor?.State.Reconnects ?? 0), "{reconnect}",
            "Times this end's tunnel went down, or an attempt failed, and it set out again.");
        _reconnectDuration = Meter.CreateHistogram("lstp.end.reconnect.duration", "s",
            "From an open tunnel's loss to the next open tunnel: how long this end's applications had no tunnel.", tags: null, advice: buckets);
        _setupDuration = Meter.CreateHistogram("lstp.end.setup.duration", "s",
            "Each successful setup, in all (step=total) and step by step (dial, proxy_hop, register, pair, tls, authenticate).", tags: null, advice: buckets);
        _resumptions = Meter.CreateCounter<long>("lstp.end.resumptions", "{resumption}",
            "Tunnels resumed after their link was lost (outcome=resumed: the channels carried on) or that could not be (outcome=failed).");
        _resumptionDuration = Meter.CreateHistogram("lstp.end.resumption.duration", "s", "From a link's loss to its tunnel resumed on a new link.", tags: null, advice: buckets);
    }

    /// <summary>The meter the end's telemetry exports.</summary>
    public Meter Meter { get; }

    /// <summary>The last setup attempt that ended, with its steps (/api/end); null before the first.</summary>
    public SetupTimings? LastSetup { get; private set; }

    private TunnelPhase Phase => _supervisor?.State.Phase ?? TunnelPhase.Connecting;

    /// <summary>Follows <paramref name="supervisor"/>: its phases, the tunnels it starts, its setups. Once, before it starts.</summary>
    internal void Watch(TunnelSupervisor supervisor, TimeProvider time)
    {
        _supervisor = supervisor;
        _time = time;
        supervisor.StateChanged += OnStateChanged;
        TunnelTelemetry.Observe(supervisor, this);
        SetupTrace.Observe(supervisor, this);
    }

    /// <summary>
    /// A tunnel was resumed on a new link (<paramref name="resumed"/>), or could not be and was replaced, <paramref name="after"/>
    /// the link was lost. Called as the keeper publishes the outcome (<see cref="OnStateChanged"/>).
    /// </summary>
    public void Resumption(bool resumed, TimeSpan after)
    {
        var outcome = new KeyValuePair<string, object?>("outcome", resumed ? "resumed" : "failed");
        _resumptions.Add(1, outcome);
        if (resumed) _resumptionDuration.Record(after.TotalSeconds);
    }

    // What the keeper publishes: a tunnel lost, and the next one open.

    private void OnStateChanged(TunnelState state)
    {
        if (state.Phase is TunnelPhase.BackingOff or TunnelPhase.Resuming && _phase == TunnelPhase.Open) _lostAt = _time.GetTimestamp();
        if (_phase == TunnelPhase.Resuming && state.Phase != TunnelPhase.Resuming)
        {
            // The resume's outcome: the same tunnel open again (a resumption counted), or given up (grace over, another peer).
            var resumed = state.Phase == TunnelPhase.Open && state.Resumptions > _resumptionsSeen;
            Resumption(resumed, resumed ? state.LastResumeTook ?? TimeSpan.Zero : TimeSpan.Zero);
            if (resumed) _lostAt = null; // the applications never lost their tunnel: no reconnect to time
        }
        _resumptionsSeen = state.Resumptions;
        if (state.Phase == TunnelPhase.Open && _lostAt is { } lost)
        {
            _reconnectDuration.Record(_time.GetElapsedTime(lost).TotalSeconds);
            _lostAt = null;
        }
        _phase = state.Phase;
    }

    // ITunnelObserver: what the tunnels tell.

    void ITunnelObserver.Started(TunnelHandle tunnel)
    {
        lock (_tunnelsLock) _tunnels.Add(tunnel);
        tunnel.Completion.ContinueWith(_ => Retire(tunnel), TaskScheduler.Default);
    }

    void ITunnelObserver.ChannelRefused(ErrorCode code, bool byPeer) =>
        _refused.Add(1, new KeyValuePair<string, object?>("reason", code.ToString()), new KeyValuePair<string, object?>("refused_by", byPeer ? "peer" : "this_end"));

    void ITunnelObserver.Transferred(string channel, long bytes, bool sent) => (sent ? _sent : _received).Add(bytes, ServiceOf(channel));

    void ITunnelObserver.FlowControl(bool pause, bool sent) =>
        _flowControl.Add(1, new KeyValuePair<string, object?>("frame", pause ? "pause" : "resume"), new KeyValuePair<string, object?>("direction", sent ? "sent" : "received"));

    // ISetupObserver: each setup's timings.

    void ISetupObserver.SetupEnded(SetupTimings timings)
    {
        LastSetup = timings;
        if (!timings.Completed) return;
        _setupDuration.Record(timings.Total.TotalSeconds, new KeyValuePair<string, object?>("step", "total"));
        foreach (var step in timings.Steps) _setupDuration.Record(step.Duration.TotalSeconds, new KeyValuePair<string, object?>("step", StepLabel(step.Name)));
    }

    /// <summary>The step's label: its span name without the <c>lstp.</c> prefix.</summary>
    public static string StepLabel(string span) => span.StartsWith("lstp.", StringComparison.Ordinal) ? span[5..] : span;

    /// <summary>A channel's service label from its description (<c>service 'web'</c>, or <c>HOST:PORT</c> for a destination).</summary>
    private KeyValuePair<string, object?> ServiceOf(string channel)
    {
        if (_services.TryGetValue(channel, out var label)) return label;
        const string Prefix = "service '";
        if (!channel.StartsWith(Prefix, StringComparison.Ordinal) || !channel.EndsWith('\'')) return new("service", Destination);
        // Only services are kept: the services this end offers or forwards to, a handful.
        return _services.GetOrAdd(channel, c => new("service", c[Prefix.Length..^1]));
    }

    private double CompressionRatio()
    {
        var figures = Figures();
        return figures.CompressedAfter == 0 ? 1.0 : (double)figures.CompressedBefore / figures.CompressedAfter;
    }

    /// <summary>The figures of every tunnel this end started: those that ended, plus the live ones now.</summary>
    private TunnelFigures Figures()
    {
        lock (_tunnelsLock)
        {
            var sum = _retired;
            foreach (var tunnel in _tunnels) sum += TunnelFigures.Of(tunnel);
            return sum;
        }
    }

    /// <summary>A tunnel ended: its final figures join the retired ones, so the counters never go back.</summary>
    private void Retire(TunnelHandle tunnel)
    {
        lock (_tunnelsLock)
        {
            if (!_tunnels.Remove(tunnel)) return;
            _retired += TunnelFigures.Of(tunnel) with { ChannelsOpen = 0 };
        }
    }

    public void Dispose() => Meter.Dispose();

    /// <summary>What the metrics sum over an end's tunnels.</summary>
    private readonly record struct TunnelFigures(long ChannelsOpen, long ChannelsOpened, long CompressedBefore, long CompressedAfter, long Spliced)
    {
        public static TunnelFigures Of(TunnelHandle tunnel) => new(
            tunnel.Counters.ChannelsOpen, tunnel.Counters.ChannelsOpened,
            tunnel.Counters.Compression.BytesBeforeCompression, tunnel.Counters.Compression.BytesAfterCompression, tunnel.Counters.BytesSpliced);

        public static TunnelFigures operator +(TunnelFigures a, TunnelFigures b) =>
            new(a.ChannelsOpen + b.ChannelsOpen, a.ChannelsOpened + b.ChannelsOpened, a.CompressedBefore + b.CompressedBefore, a.CompressedAfter + b.CompressedAfter, a.Spliced + b.Spliced);
    }
}

using Lstp.Admin.Views;
using Lstp.EndProxy;
using Lstp.Transport.Dialing;

namespace Lstp.Admin.End;

/// <summary>
/// An end proxy's own view, as /api/end shows it: its tunnel's phase, peer, path and channels, its local entry
/// points and the services it offers. Holds no secret and no token; a proxy password in --via is masked.
/// </summary>
public sealed record EndView(
    string Name,
    string Phase,
    string? Middle,
    string? Peer,
    bool? Encrypted,
    IReadOnlyList<PathEntryView> Path,
    int Reconnects,
    string? LastError,
    EndTrafficView Traffic,
    IReadOnlyList<ChannelView> Channels,
    IReadOnlyList<EntryPointView> EntryPoints,
    IReadOnlyList<ServiceView> Services,
    IReadOnlyList<string> PeerServices,
    IReadOnlyList<string> Allow,
    IReadOnlyList<string> Middles,
    string? Via,
    EndResumptionView Resumption,
    SetupView? Setup = null)
{
    public static EndView From(EndProxyHost host)
    {
        var options = host.Options;
        var state = host.Supervisor.State;
        var tunnel = host.Supervisor.Current;
        var session = tunnel?.Session;
        return new EndView(
            options.Name,
            state.Phase.ToString().ToLowerInvariant(),
            state.Middle,
            state.Peer,
            session?.Encrypted,
            session is null ? [] : [.. session.Pairing.Path.Select(e => new PathEntryView(e.Kind.ToString().ToLowerInvariant(), e.Name, e.Address))],
            state.Reconnects,
            state.LastError,
            tunnel is null
                ? new EndTrafficView(0, 0, 0, 0, 0)
                : new EndTrafficView(tunnel.Counters.ChannelsOpen, tunnel.Counters.ChannelsOpened, tunnel.Counters.BytesSent, tunnel.Counters.BytesReceived, tunnel.Counters.BytesSpliced),
            tunnel is null ? [] : [.. tunnel.Channels.OrderBy(c => c.Id).Select(c => new ChannelView(c.Id, c.Description, c.IsOpener ? "out" : "in"))],
            [.. host.Listeners.Select(EntryPointView.From)],
            [.. options.Services.Select(s => new ServiceView(s.Name, s.Target.ToString()))],
            session?.PeerProperties.Services ?? [],
            options.Allow,
            [.. options.Middles.Select(m => m.ToString())],
            options.Via is null ? null : ViaParser.Redact(options.Via),
            new EndResumptionView(
                tunnel?.Link.Resumable == true,
                options.ResumeGrace.TotalSeconds,
                state.Resumptions,
                state.LastResumeTook?.TotalMilliseconds,
                tunnel?.Link.Held ?? 0),
            host.Metrics.LastSetup is { } setup ? SetupView.From(setup) : null);
    }
}

/// <summary>
/// Whether this end's tunnel can resume over a new link, the grace it has to, how often it did (and how long the
/// last took), and the bytes it keeps now for a replay. While it resumes, <see cref="EndView.Phase"/> is "resuming".
/// </summary>
public sealed record EndResumptionView(bool Resumable, double GraceSeconds, int Resumptions, double? LastResumeMilliseconds, long ReplayBytesHeld);

/// <summary>
/// This end's last setup attempt, step by step (the durations of its spans, docs/observability.md): where the time
/// went when a tunnel is slow to open. Steps in the order they ended; the proxy hop happens within the dial.
/// </summary>
public sealed record SetupView(DateTimeOffset Started, double TotalMs, bool Completed, IReadOnlyList<SetupStepView> Steps)
{
    public static SetupView From(Lstp.Tunnel.Telemetry.SetupTimings timings) => new(
        timings.Started, timings.Total.TotalMilliseconds, timings.Completed,
        [.. timings.Steps.Select(s => new SetupStepView(EndProxy.Telemetry.EndMetrics.StepLabel(s.Name), s.Duration.TotalMilliseconds))]);
}

/// <summary>One step of a setup (dial, proxy_hop, register, pair, tls, authenticate) and how long it took.</summary>
public sealed record SetupStepView(string Step, double Ms);

/// <summary>
/// The current tunnel's figures (they start again from zero when the tunnel is replaced). <see cref="BytesSpliced"/>:
/// of the bytes received, those a plaintext tunnel moved from its link to their application through a channel's
/// pipe (splice(2)) instead of through the end's memory.
/// </summary>
public sealed record EndTrafficView(int ChannelsOpen, long ChannelsOpened, long BytesSent, long BytesReceived, long BytesSpliced);

/// <summary>One open channel: its id, what it reaches, and whether this end opened it ("out") or the peer did ("in").</summary>
public sealed record ChannelView(uint Id, string Target, string Direction);

/// <summary>A local listener: a forward to a peer's service, the SOCKS5 server or the HTTP CONNECT proxy.</summary>
public sealed record EntryPointView(string Kind, string Address, string? Service)
{
    public static EntryPointView From(EndProxy.Forwards.LocalListener listener)
    {
        // LocalListener.What reads "forward HOST:PORT=SERVICE", "socks HOST:PORT" or "http-proxy HOST:PORT".
        var space = listener.What.IndexOf(' ');
        var kind = space < 0 ? listener.What : listener.What[..space];
        var eq = listener.What.LastIndexOf('=');
        return new EntryPointView(kind, listener.Address.ToString(), eq < 0 ? null : listener.What[(eq + 1)..]);
    }
}

/// <summary>A service this end offers to its peer, and where it dials.</summary>
public sealed record ServiceView(string Name, string Target);

using Lstp.Transport;
using Lstp.Tunnel.Compression;
using Lstp.Tunnel.Link;

namespace Lstp.EndProxy;

/// <summary>A local listener that reaches one of the peer's named services, multiplexed or on dedicated tunnel connections.</summary>
public sealed record ForwardSpec(HostPort Listen, string Service, bool Dedicated = false)
{
    /// <summary>
    /// Parses <c>[HOST:]PORT=SERVICE[/dedicated]</c>; the host defaults to loopback so nothing is exposed by
    /// accident. <c>/dedicated</c> gives each connection its own tunnel connection (bulk transfers that must not
    /// share a window with others).
    /// </summary>
    public static ForwardSpec Parse(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1) throw new FormatException($"--forward '{text}': expected [HOST:]PORT=SERVICE");
        if (!HostPort.TryParse(text[..eq], out var listen, out var error, defaultHost: "127.0.0.1")) throw new FormatException($"--forward '{text}': {error}");
        var service = text[(eq + 1)..].Trim();
        var dedicated = false;
        var slash = service.IndexOf('/');
        if (slash >= 0)
        {
            if (service[(slash + 1)..] != "dedicated") throw new FormatException($"--forward '{text}': the only option after '/' is 'dedicated'");
            dedicated = true;
            service = service[..slash];
        }
        if (service.Length == 0) throw new FormatException($"--forward '{text}': expected [HOST:]PORT=SERVICE");
        return new ForwardSpec(listen, service, dedicated);
    }
}

/// <summary>A service this end offers to its peer.</summary>
public sealed record ServiceSpec(string Name, HostPort Target)
{
    /// <summary>Parses <c>NAME=HOST:PORT</c>.</summary>
    public static ServiceSpec Parse(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1) throw new FormatException($"--service '{text}': expected NAME=HOST:PORT");
        if (!HostPort.TryParse(text[(eq + 1)..], out var target, out var error)) throw new FormatException($"--service '{text}': {error}");
        var name = text[..eq].Trim();
        if (name.Length > 255 || name.Any(c => char.IsWhiteSpace(c) || c == '=')) throw new FormatException($"--service '{text}': the name may not contain spaces or '='");
        return new ServiceSpec(name, target);
    }
}

/// <summary>Everything an end proxy is configured with (flags, JSON config and LSTP__ environment variables bind here).</summary>
public sealed record EndOptions
{
    /// <summary>Middle seeds, tried in turn and failed over.</summary>
    public IReadOnlyList<HostPort> Middles { get; init; } = [];

    /// <summary>The tunnel secret shared by both ends (never logged, never sent).</summary>
    public string Secret { get; init; } = "";

    public string Name { get; init; } = $"{Environment.MachineName.ToLowerInvariant()}-{Environment.ProcessId}";

    public string User { get; init; } = Environment.UserName;

    public string? Token { get; init; }

    /// <summary>Corporate proxy to dial the middle through (socks5:// or http://).</summary>
    public string? Via { get; init; }

    public IReadOnlyList<ServiceSpec> Services { get; init; } = [];

    /// <summary>Destinations the peer may reach through SOCKS/CONNECT; empty denies all.</summary>
    public IReadOnlyList<string> Allow { get; init; } = [];

    public IReadOnlyList<ForwardSpec> Forwards { get; init; } = [];

    /// <summary>Application helpers on this end's forwards (<c>--helper SERVICE=ftp</c>): protocols that announce dynamic ports.</summary>
    public IReadOnlyList<Helpers.HelperSpec> Helpers { get; init; } = [];

    public HostPort? Socks { get; init; }

    public HostPort? HttpProxy { get; init; }

    /// <summary>USER:PASS that local clients of --socks and --http-proxy must present (none: open to local clients).</summary>
    public string? ProxyAuth { get; init; }

    public bool Plaintext { get; init; }

    /// <summary>Compression of what this end sends (<c>--compress auto|on|off</c>, <c>--compress SERVICE=MODE</c>); announced in PROPERTY_EXCHANGE.</summary>
    public CompressionSettings Compression { get; init; } = CompressionSettings.Default;

    /// <summary>Services to expose on public ports of the middle (the relay/agent design).</summary>
    public IReadOnlyList<Publish.PublishSpec> Publish { get; init; } = [];

    /// <summary>TLS on the link to the middle, and how to trust it; null means plain TCP (the tunnel is end-to-end encrypted either way).</summary>
    public Lstp.Transport.Dialing.MiddleTrust? MiddleTls { get; init; }

    /// <summary>Channels open at once on this end's tunnel (CONNECTION_REQUEST beyond it gets TooManyChannels).</summary>
    public int MaxChannels { get; init; } = 1024;

    public LinkTimings Timings { get; init; } = LinkTimings.Default;

    /// <summary>SOCKS5 and HTTP CONNECT: how long a local client may take to send its request before it is closed.</summary>
    public TimeSpan EntryPointHandshakeTimeout { get; init; } = EntryPoints.EntryPointLimits.HandshakeTimeout;

    /// <summary>SOCKS5 and HTTP CONNECT: requests being read at once, per entry point; a client beyond it is closed at once.</summary>
    public int MaxEntryPointHandshakes { get; init; } = EntryPoints.EntryPointLimits.MaxHandshakes;

    /// <summary>How long a local connection waits for the tunnel to (re)open before it is closed.</summary>
    /// <summary>
    /// How long a tunnel whose link broke keeps its channels while it resumes over a new link (<c>--resume-grace</c>,
    /// default 30 s); zero turns resumption off: a broken link resets the applications' connections at once.
    /// </summary>
    public TimeSpan ResumeGrace { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan WaitForTunnel { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Reconnect backoff: first delay, ceiling; each delay is jittered by ±50 %.</summary>
    public TimeSpan BackoffMin { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>An OTLP/HTTP collector (--otlp URL) that receives this end's metrics and setup spans; null: none.</summary>
    public Uri? Otlp { get; init; }

    /// <summary>The actor system's own settings from the config file's <c>akka</c> section, over the embedded defaults; null: the defaults.</summary>
    public Akka.Configuration.Config? ActorConfig { get; init; }
}

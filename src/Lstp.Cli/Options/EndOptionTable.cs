using System.CommandLine;
using Lstp.Admin.Access;
using Lstp.Cli.Configuration;
using Lstp.EndProxy;
using Lstp.EndProxy.Helpers;
using Lstp.EndProxy.Policy;
using Lstp.EndProxy.Publish;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Compression;
using static Lstp.Cli.Options.OptionRows<Lstp.Cli.Options.EndChoices>;
using static Lstp.Cli.Options.OptionRules<Lstp.Cli.Options.EndChoices>;

namespace Lstp.Cli.Options;

/// <summary>What `lstp end`'s options say: the end's own options, its admin endpoint and its access, its log.</summary>
public sealed record EndChoices
{
    public EndOptions Options { get; init; } = new();

    /// <summary>This end's health, metrics and /api/end; off by default.</summary>
    public HostPort? Admin { get; init; }

    public AdminAccess Access { get; init; } = AdminAccess.LoopbackOnly;

    public string? LogFormat { get; init; }

    public string? LogLevel { get; init; }

    public EndChoices End(Func<EndOptions, EndOptions> change) => this with { Options = change(Options) };

    /// <summary>TLS to the middle, one part of its trust at a time (--middle-tls, -fingerprint, -ca).</summary>
    public EndChoices MiddleTls(Func<MiddleTrust, MiddleTrust> change) => End(o => o with { MiddleTls = change(o.MiddleTls ?? new MiddleTrust()) });
}

/// <summary>`lstp end`'s options, each declared once: its flags, its binding and `lstp check`'s <c>lstp.end</c>.</summary>
public static class EndOptionTable
{
    public static OptionTable<EndChoices> Table { get; } = new("end", "Run an end proxy: dial out to a middle, pair with the peer end, carry application connections end to end.", () => new(),
    [
        Repeated("--middle", "middle seeds HOST:PORT[,HOST:PORT...], tried in turn and failed over",
            Parse.DialAddress, (c, v) => c.End(o => o with { Middles = v })),
        Value("--secret", "the tunnel secret shared by both ends (prefer --secret-file or LSTP__END__SECRET)",
            Parse.Secret("tunnel secret"), (c, v) => c.End(o => o with { Secret = v })),
        Value("--secret-file", "file holding the tunnel secret",
            Parse.SecretFile("tunnel secret"), (c, v) => c.End(o => o with { Secret = v })),
        Value("--name", "this end's name (default HOSTNAME-PID)",
            Parse.Name, (c, v) => c.End(o => o with { Name = v })),
        Value("--token", "admission token for the middle",
            Parse.Secret("admission token"), (c, v) => c.End(o => o with { Token = v })),
        Value("--token-file", "file holding the admission token",
            Parse.SecretFile("admission token"), (c, v) => c.End(o => o with { Token = v })),
        Value("--via", "dial the middle through a corporate proxy: socks5://[USER:PASS@]HOST:PORT or http://[USER:PASS@]HOST:PORT (default: ALL_PROXY/HTTPS_PROXY, NO_PROXY)",
            Parse.Via, (c, v) => c.End(o => o with { Via = v })),
        Switch("--middle-tls", "use TLS on the link to the middle, trusting the system's CAs",
            (c, v) => v ? c.MiddleTls(t => t) : c),
        Value("--middle-fingerprint", "use TLS to the middle and pin its certificate's SHA-256 (implies --middle-tls)",
            pin => MiddleTrust.NormaliseFingerprint(pin), (c, v) => c.MiddleTls(t => t with { Fingerprint = v })),
        Value("--middle-ca", "use TLS to the middle and trust this PEM CA file (implies --middle-tls)",
            Parse.TextFile("PEM CA certificate"), (c, v) => c.MiddleTls(t => t with { CaFile = v })),
        Value("--max-channels", "channels open at once on this tunnel (default 1024)",
            Parse.Count, (c, v) => c.End(o => o with { MaxChannels = v })),
        Repeated("--service", "offer a service to the peer: NAME=HOST:PORT (repeatable)",
            ServiceSpec.Parse, (c, v) => c.End(o => o with { Services = v })),
        Repeated("--publish", "ask the middle to expose one of this end's services on a public port: SERVICE=PORT (repeatable)",
            PublishSpec.Parse, (c, v) => c.End(o => o with { Publish = v })),
        Repeated("--allow", "destination the peer may reach through SOCKS/CONNECT: CIDR or host pattern with :PORT, :LOW-HIGH or :* (repeatable; deny by default)",
            Parse.Checked(pattern => AllowList.Parse([pattern])), (c, v) => c.End(o => o with { Allow = v })),
        Repeated("--forward", "local listener to a peer's service: [HOST:]PORT=SERVICE (repeatable; host defaults to 127.0.0.1)",
            ForwardSpec.Parse, (c, v) => c.End(o => o with { Forwards = v })),
        Repeated("--helper", "application helper on a forward's service, for protocols that announce ports: SERVICE=ftp (repeatable)",
            HelperSpec.Parse, (c, v) => c.End(o => o with { Helpers = v })),
        Value("--admin", "this end's health, metrics and /api/end, HOST:PORT (off by default; off loopback it needs --admin-token)",
            Parse.AddressOrOff, (c, v) => c with { Admin = v }),
        Value("--socks", "local SOCKS5 server into the peer's network, [HOST:]PORT",
            Parse.Listener, (c, v) => c.End(o => o with { Socks = v })),
        Value("--http-proxy", "local HTTP CONNECT proxy into the peer's network, [HOST:]PORT",
            Parse.Listener, (c, v) => c.End(o => o with { HttpProxy = v })),
        Value("--proxy-auth", "USER:PASS local clients of --socks/--http-proxy must present (prefer --proxy-auth-file: flags show in ps); required when they listen off loopback",
            Parse.UserPass, (c, v) => c.End(o => o with { ProxyAuth = v })),
        Value("--proxy-auth-file", "file holding USER:PASS for --socks/--http-proxy clients",
            Parse.UserPassFile, (c, v) => c.End(o => o with { ProxyAuth = v })),
        Repeated("--compress", "compression of what this end sends: auto (default; stops on data that does not shrink), on or off; SERVICE=auto|on|off for one service (repeatable). off on either end turns it off for the tunnel",
            Parse.Checked(mode => CompressionSettings.Parse([mode])), (c, v) => c.End(o => o with { Compression = CompressionSettings.Parse(v) })),
        Value("--resume-grace", "seconds a tunnel whose link broke (no SHUTDOWN) keeps its channels while it resumes over a new link through any middle; the applications notice nothing if it does (default 30; 0: off, a broken link resets them at once)",
            Parse.SecondsOrZero, (c, v) => c.End(o => o with { ResumeGrace = v })),
        Value("--otlp", "also push metrics and setup spans over OTLP/HTTP to this collector URL, e.g. http://collector:4318 (docs/observability.md)",
            Parse.Collector, (c, v) => c.End(o => o with { Otlp = v })),
        Switch("--plaintext", "no end-to-end encryption (both ends must say so; for benchmarks and trusted paths)",
            (c, v) => c.End(o => o with { Plaintext = v })),
        CommonRows.Config<EndChoices>(),
        CommonRows.LogFormat<EndChoices>((c, v) => c with { LogFormat = v }),
        CommonRows.LogLevel<EndChoices>((c, v) => c with { LogLevel = v }),
        .. CommonRows.AdminCredentials<EndChoices>((c, change) => c with { Access = change(c.Access) }),
    ],
    [
        Required("--middle", [], "at least one middle HOST:PORT"),
        Required("--secret", ["--secret-file"], "the tunnel secret both ends share"),
        Once("--secret", "--secret-file"),
        Once("--token", "--token-file"),
        Once("--proxy-auth", "--proxy-auth-file"),
        NoEffectWithout("--proxy-auth", "--socks", "--http-proxy"),
        NoEffectWithout("--proxy-auth-file", "--socks", "--http-proxy"),
        EndRules.ServicesOnce,
        EndRules.PublishedServicesOffered,
        EndRules.CompressedServicesKnown,
        EndRules.ListenersOnce,
        EndRules.EntryPointsGuarded,
        .. CommonRows.AdminRules<EndChoices>(c => c.Admin),
    ]);

    /// <summary>`lstp end`'s options from its flags, the environment and the --config file: a <see cref="UsageException"/> names the first problem.</summary>
    public static EndChoices Read(ParseResult parse)
    {
        var settings = new Settings(parse, Table);
        return Table.Bind(settings).End(o => o with { ActorConfig = settings.Akka });
    }
}

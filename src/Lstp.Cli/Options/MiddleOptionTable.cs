using System.CommandLine;
using Lstp.Admin.Access;
using Lstp.Cli.Commands;
using Lstp.Cli.Configuration;
using Lstp.Cluster;
using Lstp.Middle;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using static Lstp.Cli.Options.OptionRows<Lstp.Cli.Options.MiddleChoices>;
using static Lstp.Cli.Options.OptionRules<Lstp.Cli.Options.MiddleChoices>;

namespace Lstp.Cli.Options;

/// <summary>What `lstp middle`'s options say: the middle's own options, its admin endpoint's access, its cluster, its log.</summary>
public sealed record MiddleChoices
{
    public MiddleOptions Options { get; init; } = new();

    public AdminAccess Access { get; init; } = AdminAccess.LoopbackOnly;

    public IReadOnlyList<HostPort>? Seeds { get; init; }

    public HostPort? Advertise { get; init; }

    public string? ClusterCertificate { get; init; }

    public string? LogFormat { get; init; }

    public string? LogLevel { get; init; }

    /// <summary>The cluster this middle joins, or null for a lone middle (no --advertise).</summary>
    public ClusterOptions? Cluster => Advertise is { } self ? new ClusterOptions { Advertise = self, Seeds = Seeds ?? [self], CertificateFile = ClusterCertificate } : null;

    public MiddleChoices Middle(Func<MiddleOptions, MiddleOptions> change) => this with { Options = change(Options) };

    /// <summary>TLS to the upstream middle, one part of its trust at a time (--upstream-tls, -fingerprint, -ca).</summary>
    public MiddleChoices Upstream(Func<MiddleTrust, MiddleTrust> change) => Middle(o => o with { UpstreamTrust = change(o.UpstreamTrust ?? new MiddleTrust()) });
}

/// <summary>`lstp middle`'s options, each declared once: its flags, its binding and `lstp check`'s <c>lstp.middle</c>.</summary>
public static class MiddleOptionTable
{
    private const string ClusterNode = "a cluster node hands ends on through the cluster";

    public static OptionTable<MiddleChoices> Table { get; } = new("middle", "Run a middle proxy: ends dial out to it, it pairs them and relays bytes it cannot read.", () => new(),
    [
        Value("--listen", "where ends dial in, HOST:PORT (default 0.0.0.0:7700)",
            Parse.Address, (c, v) => c.Middle(o => o with { Listen = v })),
        Value("--name", "this node's name in TOPOLOGY_EXCHANGE (default middle-HOSTNAME)",
            Parse.Name, (c, v) => c.Middle(o => o with { Name = v })),
        Value("--admin", "health, metrics and JSON API, HOST:PORT (default 127.0.0.1:7780; 'off' to disable)",
            Parse.AddressOrOff, (c, v) => c.Middle(o => o with { Admin = v })),
        Repeated("--token", "admission token ends must present (repeatable; none: open middle)",
            Parse.AdmissionToken, (c, v) => c.Middle(o => o with { Tokens = [.. o.Tokens, .. v] })),
        Value("--token-file", "file holding one admission token per line",
            Parse.TokenFile, (c, v) => c.Middle(o => o with { Tokens = [.. o.Tokens, .. v] })),
        Value("--public", "where ends and other middles reach the listener, HOST:PORT, shown in topology and REDIRECT (default: the listen address)",
            Parse.Checked(Parse.Address), (c, v) => c.Middle(o => o with { PublicAddress = v })),
        Value("--upstream", "cascade: hand ends to this middle, HOST:PORT, instead of pairing them here",
            Parse.DialAddress, (c, v) => c.Middle(o => o with { Upstream = v })),
        Value("--upstream-token", "admission token to present to the upstream middle (prefer --upstream-token-file: flags show in ps)",
            Parse.Secret("upstream admission token"), (c, v) => c.Middle(o => o with { UpstreamToken = v })),
        Value("--upstream-token-file", "file holding the admission token for the upstream middle",
            Parse.SecretFile("upstream admission token"), (c, v) => c.Middle(o => o with { UpstreamToken = v })),
        Value("--publish-range", "public ports ends may ask this middle to open, LOW-HIGH (none by default)",
            PortRange.Parse, (c, v) => c.Middle(o => o with { PublishRange = v })),
        Value("--publish-hold", "seconds a published port stays its owner's after its agent leaves, so no other end can take it while the agent reconnects (default 60)",
            Parse.Seconds, (c, v) => c.Middle(o => o with { PublishHold = v })),
        Value("--tls-cert", "PEM certificate for TLS on the link listener (with --tls-key)",
            Parse.TextFile("PEM certificate"), (c, v) => c.Middle(o => o with { TlsCertificate = v })),
        Value("--tls-key", "PEM private key for --tls-cert",
            Parse.TextFile("PEM private key"), (c, v) => c.Middle(o => o with { TlsKey = v })),
        Value("--max-frame-size", "largest RELAY frame accepted, bytes (default 1048576)",
            Parse.Count, (c, v) => c.Middle(o => o with { MaxFramePayload = v })),
        Value("--wait-expiry", "how long a first end waits for its peer, seconds (default 600)",
            Parse.Seconds, (c, v) => c.Middle(o => o with { WaitExpiry = v })),
        Value("--setup-deadline", "seconds a new link has to complete its setup (default 10)",
            Parse.Seconds, (c, v) => c.Middle(o => o with { SetupDeadline = v })),
        Value("--max-waiting-per-source", "ends one source address may have waiting (default 64)",
            Parse.Count, (c, v) => c.Middle(o => o with { MaxWaitingPerSource = v })),
        Value("--max-links-per-source", "end links (tunnels, published ports) one source address may hold open, waiting or paired (default 1024)",
            Parse.Count, (c, v) => c.Middle(o => o with { MaxLinksPerSource = v })),
        Value("--max-links", "links of every kind this middle holds open at once (default 100000)",
            Parse.Count, (c, v) => c.Middle(o => o with { MaxLinks = v })),
        Value("--max-connections-per-second", "new links per second per source address (default 50)",
            Parse.Count, (c, v) => c.Middle(o => o with { MaxConnectionsPerSecondPerSource = v })),
        Value("--otlp", "also push metrics over OTLP/HTTP to this collector URL, e.g. http://collector:4318 (docs/observability.md)",
            Parse.Collector, (c, v) => c.Middle(o => o with { Otlp = v })),
        CommonRows.Config<MiddleChoices>(),
        CommonRows.LogFormat<MiddleChoices>((c, v) => c with { LogFormat = v }),
        CommonRows.LogLevel<MiddleChoices>((c, v) => c with { LogLevel = v }),
        Switch("--upstream-tls", "use TLS on the link to the upstream middle, trusting the system's CAs",
            (c, v) => v ? c.Upstream(t => t) : c),
        Value("--upstream-fingerprint", "use TLS to the upstream middle and pin its certificate's SHA-256 (implies --upstream-tls)",
            pin => MiddleTrust.NormaliseFingerprint(pin), (c, v) => c.Upstream(t => t with { Fingerprint = v })),
        Value("--upstream-ca", "use TLS to the upstream middle and trust this PEM CA file (implies --upstream-tls)",
            Parse.TextFile("PEM CA certificate"), (c, v) => c.Upstream(t => t with { CaFile = v })),
        Value("--cluster", "seed nodes of the middle cluster, HOST:PORT[,HOST:PORT...]: cluster endpoints of other middles, or this one's (needs --advertise)",
            ClusterFlags.Seeds, (c, v) => c with { Seeds = v }),
        Value("--advertise", "this node's cluster endpoint, HOST:PORT, bound and announced to the other nodes (alone: a cluster of one that others may join)",
            Parse.DialAddress, (c, v) => c with { Advertise = v }),
        Value("--cluster-cert", "PKCS#12 file every node of the cluster holds (`lstp cluster-cert FILE`): mutual TLS between nodes; required unless --advertise is loopback",
            Parse.ExistingFile, (c, v) => c with { ClusterCertificate = v }),
        .. CommonRows.AdminCredentials<MiddleChoices>((c, change) => c with { Access = change(c.Access) }),
    ],
    [
        Needs("--cluster", ["--advertise"], "this node's own cluster endpoint, which it binds and the other nodes dial"),
        NoEffectWithout("--cluster-cert", "--advertise"),
        Excludes("--upstream", ["--cluster", "--advertise"], ClusterNode),
        Once("--upstream-token", "--upstream-token-file"),
        NoEffectWithout("--upstream-token", "--upstream"),
        NoEffectWithout("--upstream-token-file", "--upstream"),
        NoEffectWithout("--upstream-tls", "--upstream"),
        NoEffectWithout("--upstream-fingerprint", "--upstream"),
        NoEffectWithout("--upstream-ca", "--upstream"),
        Needs("--tls-cert", ["--tls-key"], "a certificate and its key go together"),
        Needs("--tls-key", ["--tls-cert"], "a certificate and its key go together"),
        .. CommonRows.AdminRules<MiddleChoices>(c => c.Options.Admin),
    ]);

    /// <summary>`lstp middle`'s options from its flags, the environment and the --config file: a <see cref="UsageException"/> names the first problem.</summary>
    public static MiddleChoices Read(ParseResult parse)
    {
        var settings = new Settings(parse, Table);
        return Table.Bind(settings).Middle(o => o with { ActorConfig = settings.Akka });
    }
}

using Akka.Hosting;
using Lstp.Admin.Views;
using Lstp.Cli.Hosting;
using Lstp.Cluster;
using Lstp.Tunnel.Actors;
using Microsoft.Extensions.DependencyInjection;
using System.CommandLine;
using Lstp.Admin;
using Lstp.Cli.Configuration;
using Lstp.Middle;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Commands;

/// <summary>`lstp middle`: pair ends and relay their tunnels.</summary>
public static class MiddleCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = "where ends dial in, HOST:PORT (default 0.0.0.0:7700)" };
        var name = new Option<string>("--name") { Description = "this node's name in TOPOLOGY_EXCHANGE (default middle-HOSTNAME)" };
        var admin = new Option<string>("--admin") { Description = "health, metrics and JSON API, HOST:PORT (default 127.0.0.1:7780; 'off' to disable)" };
        var token = new Option<string[]>("--token") { Description = "admission token ends must present (repeatable; none: open middle)", AllowMultipleArgumentsPerToken = false };
        var tokenFile = new Option<string>("--token-file") { Description = "file holding one admission token per line" };
        var publicAddress = new Option<string>("--public") { Description = "where ends and other middles reach the listener, HOST:PORT, shown in topology and REDIRECT (default: the listen address)" };
        var waitExpiry = new Option<string>("--wait-expiry") { Description = "how long a first end waits for its peer, seconds (default 600)" };
        var setupDeadline = new Option<string>("--setup-deadline") { Description = "seconds a new link has to complete its setup (default 10)" };
        var maxWaiting = new Option<string>("--max-waiting-per-source") { Description = "ends one source address may have waiting (default 64)" };
        var maxLinksPerSource = new Option<string>("--max-links-per-source") { Description = "end links (tunnels, published ports) one source address may hold open, waiting or paired (default 1024)" };
        var maxLinks = new Option<string>("--max-links") { Description = "links of every kind this middle holds open at once (default 100000)" };
        var rate = new Option<string>("--max-connections-per-second") { Description = "new links per second per source address (default 50)" };
        var upstream = new Option<string>("--upstream") { Description = "cascade: hand ends to this middle, HOST:PORT, instead of pairing them here" };
        var upstreamToken = new Option<string>("--upstream-token") { Description = "admission token to present to the upstream middle (prefer --upstream-token-file: flags show in ps)" };
        var upstreamTokenFile = new Option<string>("--upstream-token-file") { Description = "file holding the admission token for the upstream middle" };
        var upstreamTls = new Option<bool>("--upstream-tls") { Description = "use TLS on the link to the upstream middle, trusting the system's CAs" };
        var upstreamFingerprint = new Option<string>("--upstream-fingerprint") { Description = "use TLS to the upstream middle and pin its certificate's SHA-256 (implies --upstream-tls)" };
        var upstreamCa = new Option<string>("--upstream-ca") { Description = "use TLS to the upstream middle and trust this PEM CA file (implies --upstream-tls)" };
        var cluster = new Option<string>("--cluster") { Description = "seed nodes of the middle cluster, HOST:PORT[,HOST:PORT...]: cluster endpoints of other middles, or this one's (needs --advertise)" };
        var advertise = new Option<string>("--advertise") { Description = "this node's cluster endpoint, HOST:PORT, bound and announced to the other nodes (alone: a cluster of one that others may join)" };
        var clusterCert = new Option<string>("--cluster-cert") { Description = "PKCS#12 file every node of the cluster holds (`lstp cluster-cert FILE`): mutual TLS between nodes; required unless --advertise is loopback" };
        var publishRange = new Option<string>("--publish-range") { Description = "public ports ends may ask this middle to open, LOW-HIGH (none by default)" };
        var publishHold = new Option<string>("--publish-hold") { Description = "seconds a published port stays its owner's after its agent leaves, so no other end can take it while the agent reconnects (default 60)" };
        var tlsCert = new Option<string>("--tls-cert") { Description = "PEM certificate for TLS on the link listener (with --tls-key)" };
        var tlsKey = new Option<string>("--tls-key") { Description = "PEM private key for --tls-cert" };
        var maxFrame = new Option<string>("--max-frame-size") { Description = "largest RELAY frame accepted, bytes (default 1048576)" };
        var config = CommonOptions.Config();
        var logFormat = CommonOptions.LogFormat();
        var logLevel = CommonOptions.LogLevel();

        var command = new Command("middle", "Run a middle proxy: ends dial out to it, it pairs them and relays bytes it cannot read.")
        {
            listen, name, admin, token, tokenFile, publicAddress, upstream, upstreamToken, upstreamTokenFile, publishRange, publishHold, tlsCert, tlsKey, maxFrame, waitExpiry, setupDeadline, maxWaiting, maxLinksPerSource, maxLinks, rate, config, logFormat, logLevel,
        };
        command.Options.Add(upstreamTls);
        command.Options.Add(upstreamFingerprint);
        command.Options.Add(upstreamCa);
        command.Options.Add(cluster);
        command.Options.Add(advertise);
        command.Options.Add(clusterCert);
        var adminFlags = new AdminFlags();
        adminFlags.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var settings = new Settings(parse, "Middle", parse.GetValue(config));
            var defaults = new MiddleOptions();
            var tokens = settings.List(token).ToList();
            if (settings.String(tokenFile) is { } file)
            {
                if (!File.Exists(file)) throw new UsageException($"--token-file: '{file}' does not exist");
                tokens.AddRange(File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0));
                if (tokens.Count == 0) throw new UsageException($"--token-file: '{file}' holds no token; refusing to run an open middle by mistake");
            }
            if (tokens.Any(string.IsNullOrWhiteSpace)) throw new UsageException("--token: an empty admission token is not allowed");
            var adminText = settings.String(admin);
            var options = defaults with
            {
                Listen = CommonOptions.Address(settings.String(listen), "--listen", defaults.Listen),
                Name = settings.String(name) ?? defaults.Name,
                Admin = adminText is "off" or "none" ? null : CommonOptions.Address(adminText, "--admin", defaults.Admin!.Value),
                PublicAddress = settings.String(publicAddress),
                Tokens = tokens,
                WaitExpiry = Seconds(settings.String(waitExpiry), "--wait-expiry", defaults.WaitExpiry),
                SetupDeadline = Seconds(settings.String(setupDeadline), "--setup-deadline", defaults.SetupDeadline),
                MaxWaitingPerSource = Count(settings.String(maxWaiting), "--max-waiting-per-source", defaults.MaxWaitingPerSource),
                MaxLinksPerSource = Count(settings.String(maxLinksPerSource), "--max-links-per-source", defaults.MaxLinksPerSource),
                MaxLinks = Count(settings.String(maxLinks), "--max-links", defaults.MaxLinks),
                Upstream = settings.String(upstream) is { } up ? CommonOptions.Address(up, "--upstream", default) : null,
                UpstreamToken = settings.Secret(upstreamToken, upstreamTokenFile, "upstream-token"),
                PublishRange = settings.String(publishRange) is { } pr ? PortRange.Parse(pr) : null,
                PublishHold = Seconds(settings.String(publishHold), "--publish-hold", defaults.PublishHold),
                TlsCertificate = settings.String(tlsCert),
                TlsKey = settings.String(tlsKey),
                MaxFramePayload = Count(settings.String(maxFrame), "--max-frame-size", defaults.MaxFramePayload),
                MaxConnectionsPerSecondPerSource = Count(settings.String(rate), "--max-connections-per-second", defaults.MaxConnectionsPerSecondPerSource),
                ActorConfig = settings.Akka,
            };
            var upstreamPin = settings.String(upstreamFingerprint);
            var upstreamCaFile = settings.String(upstreamCa);
            if (upstreamPin is not null) MiddleTrust.NormaliseFingerprint(upstreamPin, "--upstream-fingerprint");
            if (upstreamPin is not null || upstreamCaFile is not null || settings.Flag(upstreamTls))
            {
                if (options.Upstream is null) throw new UsageException("--upstream-tls, --upstream-fingerprint and --upstream-ca need --upstream");
                options = options with { UpstreamTrust = new MiddleTrust(upstreamPin, upstreamCaFile) };
            }
            using var loggers = CliLogging.Create(parse.GetValue(logFormat), parse.GetValue(logLevel));
            var clusterPlan = ClusterFlags.Read(settings, cluster, advertise, clusterCert) is { } clusterOptions ? ClusterSetup.Plan(clusterOptions, options) : null;
            try
            {
                await NodeHost.RunAsync(loggers, services => services
                    .AddAkka(clusterPlan?.SystemName ?? "lstp-middle",
                        akka => LstpActorSystem.Configure(akka, loggers, clusterPlan?.Config ?? options.ActorConfig, clusterPlan?.Setups ?? []))
                    .AddSingleton(new MiddleRoleSettings(options, clusterPlan, adminFlags.Read(settings)))
                    .AddHostedService<MiddleRole>(), cancellationToken);
            }
            catch (ClusterUnavailableException ex)
            {
                Console.Error.WriteLine($"lstp: {ex.Message}");
                return 1;
            }
            return 0;
        }));
        return command;
    }

    public static TimeSpan Seconds(string? text, string flag, TimeSpan fallback)
    {
        if (text is null) return fallback;
        return OptionValues.TrySeconds(text, out var time) ? time : throw new UsageException($"{flag}: '{text}' {OptionValues.SecondsProblem}");
    }

    public static int Count(string? text, string flag, int fallback)
    {
        if (text is null) return fallback;
        return OptionValues.TryCount(text, out var n) ? n : throw new UsageException($"{flag}: '{text}' {OptionValues.CountProblem}");
    }
}

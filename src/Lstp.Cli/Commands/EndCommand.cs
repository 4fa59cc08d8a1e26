using Akka.Hosting;
using Lstp.Cli.Hosting;
using Lstp.Tunnel.Actors;
using Microsoft.Extensions.DependencyInjection;
using System.CommandLine;
using Lstp.Cli.Configuration;
using Lstp.EndProxy;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Commands;

/// <summary>`lstp end`: an end proxy that dials out to a middle, offers services and opens local entry points.</summary>
public static class EndCommand
{
    public static Command Create()
    {
        var middle = new Option<string[]>("--middle") { Description = "middle seeds HOST:PORT[,HOST:PORT...], tried in turn and failed over" };
        var secret = new Option<string>("--secret") { Description = "the tunnel secret shared by both ends (prefer --secret-file or LSTP__END__SECRET)" };
        var secretFile = new Option<string>("--secret-file") { Description = "file holding the tunnel secret" };
        var name = new Option<string>("--name") { Description = "this end's name (default HOSTNAME-PID)" };
        var token = new Option<string>("--token") { Description = "admission token for the middle" };
        var tokenFile = new Option<string>("--token-file") { Description = "file holding the admission token" };
        var service = new Option<string[]>("--service") { Description = "offer a service to the peer: NAME=HOST:PORT (repeatable)" };
        var forward = new Option<string[]>("--forward") { Description = "local listener to a peer's service: [HOST:]PORT=SERVICE (repeatable; host defaults to 127.0.0.1)" };
        var via = new Option<string>("--via") { Description = "dial the middle through a corporate proxy: socks5://[USER:PASS@]HOST:PORT or http://[USER:PASS@]HOST:PORT (default: ALL_PROXY/HTTPS_PROXY, NO_PROXY)" };
        var allow = new Option<string[]>("--allow") { Description = "destination the peer may reach through SOCKS/CONNECT: CIDR or host pattern with :PORT, :LOW-HIGH or :* (repeatable; deny by default)" };
        var socks = new Option<string>("--socks") { Description = "local SOCKS5 server into the peer's network, [HOST:]PORT" };
        var httpProxy = new Option<string>("--http-proxy") { Description = "local HTTP CONNECT proxy into the peer's network, [HOST:]PORT" };
        var proxyAuth = new Option<string>("--proxy-auth") { Description = "USER:PASS local clients of --socks/--http-proxy must present (prefer --proxy-auth-file: flags show in ps); required when they listen off loopback" };
        var proxyAuthFile = new Option<string>("--proxy-auth-file") { Description = "file holding USER:PASS for --socks/--http-proxy clients" };
        var publish = new Option<string[]>("--publish") { Description = "ask the middle to expose one of this end's services on a public port: SERVICE=PORT (repeatable)" };
        var middleTls = new Option<bool>("--middle-tls") { Description = "use TLS on the link to the middle, trusting the system's CAs" };
        var fingerprint = new Option<string>("--middle-fingerprint") { Description = "use TLS to the middle and pin its certificate's SHA-256 (implies --middle-tls)" };
        var middleCa = new Option<string>("--middle-ca") { Description = "use TLS to the middle and trust this PEM CA file (implies --middle-tls)" };
        var maxChannels = new Option<string>("--max-channels") { Description = "channels open at once on this tunnel (default 1024)" };
        var helper = new Option<string[]>("--helper") { Description = "application helper on a forward's service, for protocols that announce ports: SERVICE=ftp (repeatable)" };
        var admin = new Option<string>("--admin") { Description = "this end's health, metrics and /api/end, HOST:PORT (off by default; off loopback it needs --admin-token)" };
        var compress = new Option<string[]>("--compress") { Description = "compression of what this end sends: auto (default; stops on data that does not shrink), on or off; SERVICE=auto|on|off for one service (repeatable). off on either end turns it off for the tunnel" };
        var plaintext = new Option<bool>("--plaintext") { Description = "no end-to-end encryption (both ends must say so; for benchmarks and trusted paths)" };
        var config = CommonOptions.Config();
        var logFormat = CommonOptions.LogFormat();
        var logLevel = CommonOptions.LogLevel();

        var command = new Command("end", "Run an end proxy: dial out to a middle, pair with the peer end, carry application connections end to end.")
        {
            middle, secret, secretFile, name, token, tokenFile, via, middleTls, fingerprint, middleCa, maxChannels, service, publish, allow, forward, helper, admin, socks, httpProxy, proxyAuth, proxyAuthFile, compress, plaintext, config, logFormat, logLevel,
        };
        var adminFlags = new AdminFlags();
        adminFlags.AddTo(command);
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var settings = new Settings(parse, "End", parse.GetValue(config));
            var defaults = new EndOptions();
            var middles = settings.List(middle).Select(m => CommonOptions.Address(m, "--middle", default)).ToList();
            if (middles.Count == 0) throw new UsageException("--middle: at least one middle HOST:PORT is required");
            var theSecret = settings.Secret(secret, secretFile, "secret")
                ?? throw new UsageException("a tunnel secret is required: --secret, --secret-file or LSTP__END__SECRET");
            var options = defaults with
            {
                Middles = middles,
                Secret = theSecret,
                Name = settings.String(name) ?? defaults.Name,
                Token = settings.Secret(token, tokenFile, "token"),
                Services = [.. settings.List(service).Select(ServiceSpec.Parse)],
                Forwards = [.. settings.List(forward).Select(ForwardSpec.Parse)],
                Plaintext = settings.Flag(plaintext),
                Compression = Lstp.Tunnel.Compression.CompressionSettings.Parse(settings.List(compress)),
                Via = settings.String(via),
                Allow = settings.List(allow),
                Helpers = [.. settings.List(helper).Select(Lstp.EndProxy.Helpers.HelperSpec.Parse)],
                Publish = [.. settings.List(publish).Select(Lstp.EndProxy.Publish.PublishSpec.Parse)],
                Socks = settings.String(socks) is { } sk ? CommonOptions.Listen(sk, "--socks") : null,
                HttpProxy = settings.String(httpProxy) is { } hp ? CommonOptions.Listen(hp, "--http-proxy") : null,
                ProxyAuth = settings.Secret(proxyAuth, proxyAuthFile, "proxy-auth"),
                MaxChannels = MiddleCommand.Count(settings.String(maxChannels), "--max-channels", defaults.MaxChannels),
                ActorConfig = settings.Akka,
            };
            var pin = settings.String(fingerprint);
            var ca = settings.String(middleCa);
            if (pin is not null) MiddleTrust.NormaliseFingerprint(pin);
            if (pin is not null || ca is not null || settings.Flag(middleTls)) options = options with { MiddleTls = new MiddleTrust(pin, ca) };
            var duplicate = options.Services.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw new UsageException($"--service: '{duplicate.Key}' is offered twice");
            options.Compression.RequireServices(options.Services.Select(s => s.Name).Concat(options.Forwards.Select(f => f.Service)));

            using var loggers = CliLogging.Create(parse.GetValue(logFormat), parse.GetValue(logLevel));
            var dialer = DialerFactory.Create(options.Via, Environment.GetEnvironmentVariables());
            var adminAddress = settings.String(admin) is { } at and not ("off" or "none") ? CommonOptions.Address(at, "--admin", default) : (HostPort?)null;
            await NodeHost.RunAsync(loggers, services => services
                .AddAkka("lstp-end", akka => LstpActorSystem.Configure(akka, loggers, options.ActorConfig))
                .AddSingleton(new EndRoleSettings(options, dialer, adminAddress, adminFlags.Read(settings)))
                .AddHostedService<EndRole>(), cancellationToken);
            return 0;
        }));
        return command;
    }
}

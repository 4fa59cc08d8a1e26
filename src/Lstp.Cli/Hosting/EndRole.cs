using Akka.Actor;
using Lstp.Admin.Access;
using Lstp.Admin.End;
using Lstp.Admin.Telemetry;
using Lstp.EndProxy;
using Lstp.EndProxy.Telemetry;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Actors;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Hosting;

/// <summary>What `lstp end` parsed: the end's options, how it dials its middles, and its admin endpoint (null: off).</summary>
internal sealed record EndRoleSettings(EndOptions Options, IDialer Dialer, HostPort? Admin, AdminAccess Access);

/// <summary>
/// `lstp end` on the host's actor system: starts the end proxy (its tunnel keeper dials the middles, its entry points
/// listen) and its admin endpoint. Stopping (SIGTERM) sends SHUTDOWN, so the peer and every application see an
/// orderly end; Akka.Hosting's coordinated shutdown runs after.
/// </summary>
internal sealed partial class EndRole(EndRoleSettings settings, ActorSystem actors, ILoggerFactory loggers) : IHostedService
{
    private readonly ILogger _log = loggers.CreateLogger("Lstp.Cli");
    private bool _started;
    private EndProxyHost? _end;
    private EndAdmin? _admin;
    private EndMetrics? _metrics;
    private NodeTelemetry? _telemetry;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        LstpActorSystem.Started(actors);
        var options = settings.Options;
        // Telemetry first, so that the first setup is measured and exported.
        _metrics = new EndMetrics();
        _telemetry = NodeTelemetry.Start(_metrics.Meter, "lstp-end", options.Name, options.Otlp);
        _end = EndProxyHost.Start(options, loggers, settings.Dialer, actors: actors, metrics: _metrics);
        if (settings.Admin is { } where)
        {
            _admin = await EndAdmin.StartAsync(_end, where, settings.Access, _telemetry, loggers, cancellationToken).ConfigureAwait(false);
            Log.Admin(_log, _admin.Address.ToString());
        }
        if (options.Via is not null) Log.Via(_log, ViaParser.Redact(options.Via));
        Log.Started(_log, options.Name, string.Join(",", options.Middles), Describe(options.Services.Select(s => s.Name)),
            Describe(_end.Listeners.Select(l => l.What)), options.Plaintext ? "; PLAINTEXT (no end-to-end encryption)" : "");
        _started = true;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_started) Log.Stopping(_log, settings.Options.Name);
        if (_admin is not null) await _admin.DisposeAsync().ConfigureAwait(false);
        if (_end is not null) await _end.DisposeAsync().ConfigureAwait(false);
        _telemetry?.Dispose(); // the last export to an OTLP collector
        _metrics?.Dispose();
    }

    private static string Describe(IEnumerable<string> items)
    {
        var list = items.ToList();
        return list.Count == 0 ? "nothing" : string.Join(", ", list);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 810, Level = LogLevel.Information, Message = "end admin on {Admin}")]
        public static partial void Admin(ILogger logger, string admin);

        [LoggerMessage(EventId = 811, Level = LogLevel.Information, Message = "dialling middles through {Via}")]
        public static partial void Via(ILogger logger, string via);

        [LoggerMessage(EventId = 812, Level = LogLevel.Information, Message = "end {Name}: middles {Middles}; offers {Services}; forwards {Forwards}{Plain}")]
        public static partial void Started(ILogger logger, string name, string middles, string services, string forwards, string plain);

        [LoggerMessage(EventId = 813, Level = LogLevel.Information, Message = "end {Name} stopping: sending SHUTDOWN")]
        public static partial void Stopping(ILogger logger, string name);
    }
}

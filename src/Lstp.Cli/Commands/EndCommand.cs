using System.CommandLine;
using Akka.Hosting;
using Lstp.Cli.Configuration;
using Lstp.Cli.Hosting;
using Lstp.Cli.Options;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Actors;
using Microsoft.Extensions.DependencyInjection;

namespace Lstp.Cli.Commands;

/// <summary>
/// `lstp end`: an end proxy that dials out to a middle, offers services and opens local entry points. Its options
/// are <see cref="EndOptionTable"/>'s.
/// </summary>
public static class EndCommand
{
    public static Command Create()
    {
        var command = EndOptionTable.Table.CreateCommand();
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var end = EndOptionTable.Read(parse);
            using var loggers = CliLogging.Create(end.LogFormat, end.LogLevel);
            var dialer = DialerFactory.Create(end.Options.Via, Environment.GetEnvironmentVariables());
            await NodeHost.RunAsync(loggers, services => services
                .AddAkka("lstp-end", akka => LstpActorSystem.Configure(akka, loggers, end.Options.ActorConfig))
                .AddSingleton(new EndRoleSettings(end.Options, dialer, end.Admin, end.Access))
                .AddHostedService<EndRole>(), cancellationToken);
            return 0;
        }));
        return command;
    }
}

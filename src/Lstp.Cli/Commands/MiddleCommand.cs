using System.CommandLine;
using Akka.Hosting;
using Lstp.Cli.Configuration;
using Lstp.Cli.Hosting;
using Lstp.Cli.Options;
using Lstp.Cluster;
using Lstp.Tunnel.Actors;
using Microsoft.Extensions.DependencyInjection;

namespace Lstp.Cli.Commands;

/// <summary>`lstp middle`: pair ends and relay their tunnels. Its options are <see cref="MiddleOptionTable"/>'s.</summary>
public static class MiddleCommand
{
    public static Command Create()
    {
        var command = MiddleOptionTable.Table.CreateCommand();
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var middle = MiddleOptionTable.Read(parse);
            using var loggers = CliLogging.Create(middle.LogFormat, middle.LogLevel);
            var clusterPlan = middle.Cluster is { } cluster ? ClusterSetup.Plan(cluster, middle.Options) : null;
            try
            {
                await NodeHost.RunAsync(loggers, services => services
                    .AddAkka(clusterPlan?.SystemName ?? "lstp-middle",
                        akka => LstpActorSystem.Configure(akka, loggers, clusterPlan?.Config ?? middle.Options.ActorConfig, clusterPlan?.Setups ?? []))
                    .AddSingleton(new MiddleRoleSettings(middle.Options, clusterPlan, middle.Access))
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
}

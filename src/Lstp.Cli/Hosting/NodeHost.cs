using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Hosting;

/// <summary>
/// Runs a node (a middle or an end) inside Microsoft.Extensions.Hosting until SIGINT/SIGTERM. Akka.Hosting's service
/// creates the actor system and runs its coordinated shutdown last; the role's hosted service, registered after it,
/// starts on that system and stops first (a middle drains, an end sends SHUTDOWN).
/// </summary>
internal static class NodeHost
{
    /// <param name="services">The composition root: what the node is made of, in the order it starts.</param>
    public static async Task RunAsync(ILoggerFactory loggers, Action<IServiceCollection> services, CancellationToken cancellationToken)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        // The command's console logging, not a second set of providers; without the host's own lines: a role that
        // cannot start is reported once, by the command, as one line.
        builder.Services.AddSingleton<ILoggerFactory>(new WithoutHostLines(loggers));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // A stopping role is bounded by its own timers (a middle's drain grace); the host must not cut it short.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = Timeout.InfiniteTimeSpan);
        services(builder.Services);
        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // What did start (the actor system) stops again; the command reports why the role could not start.
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The command's loggers, minus Microsoft.Extensions.Hosting's own (it logs a failed start a second time).</summary>
    private sealed class WithoutHostLines(ILoggerFactory loggers) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => categoryName.StartsWith("Microsoft.Extensions.Hosting", StringComparison.Ordinal)
            ? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance
            : loggers.CreateLogger(categoryName);

        public void AddProvider(ILoggerProvider provider) => loggers.AddProvider(provider);

        public void Dispose()
        {
            // The command owns its loggers and disposes them after the host.
        }
    }
}

using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Hosting.Logging;
using Microsoft.Extensions.Logging;

namespace Lstp.Tunnel.Actors;

/// <summary>
/// Creates the actor system an end or a middle runs its actors in: the embedded HOCON defaults, Akka's own log
/// lines routed into the process's <see cref="ILoggerFactory"/> (so they reach stderr with ours, never stdout),
/// and the <see cref="UndeliveredSettler"/> that settles any command an actor could no longer take.
/// </summary>
public static class LstpActorSystem
{
    /// <summary>
    /// Akka's defaults, tuned for a tunnel node. Dead letters are not logged: every command that owns something
    /// (a socket, a reply) is settled by the <see cref="UndeliveredSettler"/>, and the rest (a channel's last
    /// notice to a tunnel that already ended) are expected during shutdown. Warnings and errors still reach the log.
    /// <para>
    /// The scheduler ticks every 100 ms instead of Akka's 10: its wheel turns on a timer whether or not anything is
    /// due, and each turn woke a pool thread, which then spun before sleeping again. An idle end with one tunnel spent
    /// 34 ms of CPU per second on that (a middle 40), 7 with the longer tick (a middle 13). A timer fires up to a tick
    /// late; ours are 100 ms or more (the pairing registry's expiry sweep at its shortest, the keeper's back-off from
    /// 125 ms; keepalive ticks and graces are seconds), and none of them is a deadline that lateness could break.
    /// </para>
    /// </summary>
    public const string Defaults = """
        akka {
          loglevel = WARNING
          stdout-loglevel = OFF
          loggers = ["Akka.Hosting.Logging.LoggerFactoryLogger, Akka.Hosting"]
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor.ask-timeout = 30s
          coordinated-shutdown.run-by-clr-shutdown-hook = off
          scheduler.tick-duration = 100ms
        }
        """ + Mailboxes;

    /// <summary>The mailboxes our actors ask for by id (<see cref="CompactMailbox"/>): part of <see cref="Defaults"/>, and for test kits' systems.</summary>
    public const string Mailboxes = """

        lstp-compact-mailbox.mailbox-type = "Lstp.Tunnel.Actors.CompactMailbox, Lstp.Tunnel"
        """;

    /// <summary>Creates the system; <paramref name="overrides"/> and <paramref name="setups"/> add what a role needs (a cluster node: remoting, TLS).</summary>
    /// <remarks>For tests and embedders that compose a node by hand; the commands start theirs through <see cref="Configure"/>.</remarks>
    public static ActorSystem Create(string name, ILoggerFactory loggers, Config? overrides = null, params Setup[] setups)
    {
        var setup = ActorSystemSetup.Create([BootstrapSetup.Create().WithConfig(ConfigOf(overrides)), new LoggerFactorySetup(loggers), .. setups]);
        var system = ActorSystem.Create(name, setup);
        Started(system);
        return system;
    }

    /// <summary>
    /// The same system under Akka.Hosting (<c>services.AddAkka(name, (akka, sp) => akka.ConfigureLstp(...))</c>): our
    /// defaults in front of whatever the builder holds, so Akka.Hosting's own logging defaults do not replace them.
    /// </summary>
    public static AkkaConfigurationBuilder Configure(AkkaConfigurationBuilder akka, ILoggerFactory loggers, Config? overrides = null, params Setup[] setups)
    {
        akka.AddHocon(ConfigOf(overrides), HoconAddMode.Prepend).AddSetup(new LoggerFactorySetup(loggers));
        foreach (var setup in setups) akka.AddSetup(setup);
        return akka;
    }

    /// <summary>
    /// What every system needs before its first actor of ours: the settler, and the stream materializer (now, not on
    /// the first channel: see ByteStreams for why materializing must never wait for its supervisor). A hosted system
    /// calls this as soon as it is resolved, before its role starts.
    /// </summary>
    public static void Started(ActorSystem system)
    {
        if (Initialized.TryAdd(system, true))
        {
            var settler = system.ActorOf(Props.Create<UndeliveredSettler>(), "undelivered");
            // Subscribed here, not in the settler's PreStart: listening before this returns, a command dead-lettered
            // before the actor first runs is settled too.
            system.EventStream.Subscribe(settler, typeof(AllDeadLetters));
            Streams.ByteStreams.MaterializerOf(system);
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ActorSystem, object> Initialized = [];

    private static Config ConfigOf(Config? overrides) => (overrides ?? Config.Empty).WithFallback(ConfigurationFactory.ParseString(Defaults));
}

using System.Collections.Concurrent;
using Akka.Actor;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Compression;
using Microsoft.Extensions.Logging;

namespace Lstp.Tunnel.Session;

/// <summary>
/// The handle on a running tunnel: its actor (<see cref="TunnelActor"/>), the session it speaks over, the figures
/// it shares with status pages, and a task that completes with the reason once the actor has stopped and its link
/// is closed. Entry points tell it <see cref="TunnelCommand"/>s; they never reach into the actor.
/// </summary>
public sealed class Tunnel
{
    private static long _started;
    private readonly TaskCompletionSource<StopReason> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Tunnel(SecuredSession session, TunnelCompression compression)
    {
        Session = session;
        Compression = compression;
    }

    /// <summary>Starts a tunnel actor over <paramref name="session"/> under <paramref name="parent"/> (the actor system or an actor's context).</summary>
    public static Tunnel Start(IActorRefFactory parent, SecuredSession session, ITargetDialer targets, TunnelOptions options, ILogger log)
    {
        var tunnel = new Tunnel(session, TunnelCompression.Agree(options.Compression, session.PeerProperties.Compression, session.IsMaster));
        // Props by type, not by expression: an expression is compiled again for every tunnel.
        tunnel.Ref = parent.ActorOf(Props.Create(typeof(TunnelActor), tunnel, targets, options, log).WithMailbox(Actors.CompactMailbox.Id), $"tunnel-{Interlocked.Increment(ref _started)}");
        return tunnel;
    }

    public IActorRef Ref { get; private set; } = ActorRefs.Nobody;
    public SecuredSession Session { get; }
    public string Name => $"tunnel to {Session.PeerName}";
    public TunnelCounters Counters { get; } = new();

    /// <summary>The compression method both ends agreed on (or none), and this end's per-channel choices.</summary>
    public TunnelCompression Compression { get; }

    /// <summary>Completes with why the tunnel ended, once its link is closed.</summary>
    public Task<StopReason> Completion => _stopped.Task;

    /// <summary>The channel table: the actor adds and removes, the tunnel's reader looks channels up in stream order.</summary>
    internal ConcurrentDictionary<uint, ServiceChannel> Table { get; } = new();

    public int ChannelCount => Table.Count;

    /// <summary>The channels open now (a snapshot, for status and diagnostics).</summary>
    public IReadOnlyCollection<ServiceChannel> Channels => [.. Table.Values];

    /// <summary>
    /// Sends a command to the tunnel actor; false when the tunnel has already ended (the caller still owns what the
    /// command carried). A command that races the tunnel's end is settled by the <see cref="UndeliveredSettler"/>.
    /// </summary>
    public bool Tell(TunnelCommand command)
    {
        if (Completion.IsCompleted) return false;
        Ref.Tell(command);
        return true;
    }

    internal void Stopped(StopReason reason) => _stopped.TrySetResult(reason);

    public override string ToString() => Name;
}

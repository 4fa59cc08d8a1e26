using System.Collections.Concurrent;
using Akka.Actor;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Compression;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Resumption;
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

    private Tunnel(SecuredSession session, TunnelCompression compression, TunnelOptions options)
    {
        Session = session;
        Compression = compression;
        Resumption = session.Resumption;
        Link = new ResumableStream(session.Stream, session.Reader.TakeBuffered(), session.Resumption is not null, options.ResumeGrace, options.Time);
        Reader = new FrameStreamReader(Link, directReadAtLeast: FrameStreamReader.TunnelDirectRead, lendsPayloads: true);
    }

    /// <summary>
    /// Starts a tunnel actor over <paramref name="session"/> under <paramref name="parent"/> (the actor system or an
    /// actor's context). <paramref name="onLinkLost"/> hears each break of a resumable tunnel's link: the caller
    /// pairs a new link and hands it to <see cref="ResumeAsync"/> before the grace runs out.
    /// </summary>
    public static Tunnel Start(IActorRefFactory parent, SecuredSession session, ITargetDialer targets, TunnelOptions options, ILogger log, Action<Tunnel, Exception>? onLinkLost = null)
    {
        var tunnel = new Tunnel(session, TunnelCompression.Agree(options.Compression, session.PeerProperties.Compression, session.IsMaster), options);
        tunnel.Link.Broken = error =>
        {
            // The broken link's session is let go at once (its socket, its TLS state); the stream waits for the next.
            _ = tunnel.Session.DisposeAsync().AsTask();
            onLinkLost?.Invoke(tunnel, error);
        };
        // Props by type, not by expression: an expression is compiled again for every tunnel.
        tunnel.Ref = parent.ActorOf(Props.Create(typeof(TunnelActor), tunnel, targets, options, log).WithMailbox(Actors.CompactMailbox.Id), $"tunnel-{Interlocked.Increment(ref _started)}");
        return tunnel;
    }

    public IActorRef Ref { get; private set; } = ActorRefs.Nobody;

    /// <summary>The session of the tunnel's current link (the last one while the tunnel resumes).</summary>
    public SecuredSession Session { get; private set; }

    /// <summary>The tunnel's end-to-end stream, across links: its writer writes here, <see cref="Reader"/> reads from here.</summary>
    public ResumableStream Link { get; }

    /// <summary>Frames from <see cref="Link"/>, in order, for the tunnel's reader.</summary>
    internal FrameStreamReader Reader { get; }

    /// <summary>The tunnel's resumption secret (null: the tunnel cannot resume).</summary>
    public ResumeSecret? Resumption { get; }

    /// <summary>True while the tunnel waits for a new link.</summary>
    public bool Resuming => Link.IsBroken;

    /// <summary>What to offer in the next handshake to resume this tunnel; null when it cannot resume.</summary>
    public ResumeOffer? Offer() => Resumption is { } secret && Link.IsBroken ? Link.Offer(secret) : null;

    /// <summary>
    /// Carries the tunnel on over <paramref name="next"/>, a session whose handshake resumed it. False when the tunnel
    /// no longer waits for a link or the peer's count cannot be honoured: <paramref name="next"/> is then closed.
    /// </summary>
    public async Task<bool> ResumeAsync(SecuredSession next)
    {
        if (next.PeerReceived is not { } peerReceived || !await Link.ResumeAsync(next.Stream, next.Reader.TakeBuffered(), peerReceived).ConfigureAwait(false))
        {
            await next.DisposeAsync().ConfigureAwait(false);
            return false;
        }
        Session = next;
        return true;
    }

    /// <summary>Gives up a break: the tunnel ends and resets its channels (the grace ran out, or the peer is another end).</summary>
    public void Abandon(string reason) => Link.Abandon(reason);
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

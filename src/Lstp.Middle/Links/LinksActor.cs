using Akka.Actor;
using Lstp.Middle.Relay;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Links;

/// <summary>
/// The parent of every <see cref="LinkActor"/> of this middle (<c>/user/links</c>). A link whose actor fails is
/// stopped, never restarted: its connection's bytes cannot be read again, and its <c>PostStop</c> frees what it held
/// and closes the connection. The other links go on.
/// </summary>
internal sealed class LinksActor(MiddleNode node, ILogger log) : UntypedActor
{
    /// <summary>The listener accepted a link: run it; <paramref name="Done"/> completes when the connection may close.</summary>
    public sealed record Accept(LinkSession Link, LinkHandler Work, TaskCompletionSource Done);

    private long _next;

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Accept accept:
                // Props from the type and its arguments: the expression form compiles each argument on every call, which
                // measured about 13 KiB of middle memory per link (bench/run.sh's idle tunnels).
                Context.ActorOf(Props.Create(typeof(LinkActor), node, accept.Work, accept.Link, accept.Done, log).WithMailbox(Tunnel.Actors.CompactMailbox.Id), $"link-{++_next}");
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(error =>
    {
        log.LogError(error, "a link's actor failed; its link is closed");
        return Directive.Stop;
    });
}

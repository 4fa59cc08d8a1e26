using Akka.Actor;
using Lstp.EndProxy.Services;
using Lstp.Transport.Dialing;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Publish;

/// <summary>
/// The agent side of the relay/agent design for one published port: keeps one control link to the middle open for
/// a published service; for each PLAIN_CLIENT the middle announces, dials the service and opens a fresh data link
/// that the middle splices to the client; reconnects with backoff when the control link drops. The work is its
/// actor's (<see cref="PublishAgentActor"/>); this is what the end and its status see.
/// </summary>
public sealed class PublishAgent(PublishSpec spec, ServiceSpec service, EndOptions options, IDialer dialer, ILogger log, IActorRefFactory actors) : IAsyncDisposable
{
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);
    private IActorRef? _actor;
    private volatile bool _published;
    private volatile string? _lastError;

    public PublishSpec Spec => spec;

    /// <summary>True while the middle holds the port open for us.</summary>
    public bool Published => _published;

    /// <summary>Why the last attempt or the last control link ended; null while published.</summary>
    public string? LastError => _lastError;

    public void Start() => _actor ??= actors.ActorOf(Props.Create(() => new PublishAgentActor(spec, service, options, dialer, log, this)), $"publish-{spec.Port}");

    /// <summary>Called by the actor as the publication starts and ends.</summary>
    internal void Report(bool published, string? error)
    {
        _published = published;
        _lastError = error;
    }

    public async ValueTask DisposeAsync()
    {
        if (_actor is null) return;
        try
        {
            await _actor.GracefulStop(StopWait).ConfigureAwait(false);
        }
        catch (TaskCanceledException)
        {
            // The actor system is already stopping: it stops the agent with it.
        }
    }
}

using Akka.Actor;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Pairing;

/// <summary>
/// The embedded pairing registry of a single middle: a handle on its <see cref="PairingRegistryActor"/>, which
/// owns the table of waiting ends. Links ask it to register and tell it when they leave.
/// </summary>
public sealed class InMemoryPairingRegistry : IPairingRegistry
{
    private readonly IActorRef _actor;
    private volatile WaitingEnd[] _snapshot = [];

    public InMemoryPairingRegistry(IActorRefFactory actors, MiddleOptions options, ILogger log)
    {
        _actor = actors.ActorOf(Props.Create(() => new PairingRegistryActor(options, log, Publish)), "pairing-registry");
    }

    public async Task<RegisterResult> RegisterAsync(WaitingEnd end, CancellationToken cancellationToken) =>
        await _actor.Ask<RegisterResult>(new PairingRegistryActor.Register(end), cancellationToken).ConfigureAwait(false);

    public void Unregister(WaitingEnd end) => _actor.Tell(new PairingRegistryActor.Unregister(end));

    public IReadOnlyList<WaitingEnd> Snapshot() => _snapshot;

    private void Publish(WaitingEnd[] waiting) => _snapshot = waiting;
}

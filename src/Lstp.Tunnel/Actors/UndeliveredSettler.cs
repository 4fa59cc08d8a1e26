using Akka.Actor;
using Akka.Event;

namespace Lstp.Tunnel.Actors;

/// <summary>
/// Listens to the system's dead letters and settles every <see cref="IUndeliverable"/> among them: a command sent
/// to an actor that stopped before it could take it (a tunnel that ended as an application connected) still gets
/// an answer, so no message is lost silently. <see cref="LstpActorSystem.Started"/> starts it and subscribes it.
/// </summary>
public sealed class UndeliveredSettler : ReceiveActor
{
    public UndeliveredSettler()
    {
        Receive<AllDeadLetters>(letter =>
        {
            if (letter.Message is not IUndeliverable undeliverable) return;
            try
            {
                undeliverable.Settle();
            }
            catch (Exception ex)
            {
                Context.GetLogger().Warning(ex, "settling an undelivered {0} failed", letter.Message.GetType().Name);
            }
        });
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}

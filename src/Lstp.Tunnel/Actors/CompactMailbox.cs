using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Lstp.Tunnel.Actors;

/// <summary>
/// The mailbox of the actors a node holds by the thousand and that see few messages each: a middle's links, an end's
/// tunnels and channels. Akka's default queue starts with a 32-slot segment (about 1 KiB per actor); this one grows
/// from nothing, so an idle link costs a few dozen bytes of queue. Written by hand because Akka ships no small
/// unbounded queue; a lock is enough, as each actor is written to by few senders. Props take it with
/// <c>WithMailbox(CompactMailbox.Id)</c>; the id is configured in <see cref="LstpActorSystem.Defaults"/>.
/// </summary>
public sealed class CompactMailbox(Akka.Actor.Settings settings, Config config) : MailboxType(settings, config), IProducesMessageQueue<CompactMailbox.Queue>
{
    public const string Id = "lstp-compact-mailbox";

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new Queue();

    public sealed class Queue : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private readonly Queue<Envelope> _queue = new();

        public bool HasMessages
        {
            get
            {
                lock (_queue) return _queue.Count > 0;
            }
        }

        public int Count
        {
            get
            {
                lock (_queue) return _queue.Count;
            }
        }

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            lock (_queue) _queue.Enqueue(envelope);
        }

        public bool TryDequeue(out Envelope envelope)
        {
            lock (_queue) return _queue.TryDequeue(out envelope);
        }

        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
        }
    }
}

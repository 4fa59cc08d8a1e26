using Akka.Actor;
using Lstp.Tunnel.Actors;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Tunnel.Tests.Actors;

public sealed class CompactMailboxTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO" + LstpActorSystem.Mailboxes, output)
{
    private sealed record Numbered(int Sender, int Value);

    /// <summary>Checks each sender's order and reports the count once everything has arrived.</summary>
    private sealed class Counter : ReceiveActor
    {
        private readonly int[] _next;
        private int _received;

        public Counter(int senders, int each, IActorRef report)
        {
            _next = new int[senders];
            Receive<Numbered>(m =>
            {
                if (m.Value != _next[m.Sender]) report.Tell($"sender {m.Sender}: got {m.Value}, expected {_next[m.Sender]}");
                _next[m.Sender] = m.Value + 1;
                if (++_received == senders * each) report.Tell(_received);
            });
        }
    }

    [Fact]
    public async Task Messages_from_many_threads_all_arrive_each_sender_s_in_order()
    {
        const int senders = 4, each = 20_000;
        var counter = Sys.ActorOf(Props.Create(() => new Counter(senders, each, TestActor)).WithMailbox(CompactMailbox.Id));

        await Task.WhenAll(Enumerable.Range(0, senders).Select(s => Task.Run(() =>
        {
            for (var i = 0; i < each; i++) counter.Tell(new Numbered(s, i));
        })));

        Assert.Equal(senders * each, ExpectMsg<int>(TimeSpan.FromSeconds(30)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no order complaint came after the count either
    }

    [Fact]
    public void An_actor_stopped_with_messages_queued_hands_them_to_dead_letters()
    {
        var queue = new CompactMailbox.Queue();
        var deadLetters = new CompactMailbox.Queue();
        queue.Enqueue(TestActor, new Akka.Actor.Envelope("one", TestActor));
        queue.Enqueue(TestActor, new Akka.Actor.Envelope("two", TestActor));
        Assert.True(queue.HasMessages);

        queue.CleanUp(TestActor, deadLetters);

        Assert.False(queue.HasMessages);
        Assert.Equal(2, deadLetters.Count);
        Assert.True(deadLetters.TryDequeue(out var first));
        Assert.Equal("one", first.Message);
    }
}

using Lstp.Testing;

namespace Lstp.Actors.Tests;

public class MailboxTests
{
    /// <summary>Starts a recorder and parks its loop inside a handler until the returned gate opens.</summary>
    private static async Task<(Recorder Actor, Probe<string> Report, TaskCompletionSource Gate)> BusyActorAsync(int capacity)
    {
        var report = new Probe<string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var actor = new Recorder("bounded", report, capacity);
        actor.Start();
        Assert.True(actor.Tell(new Cmd.Hold(gate.Task)));
        Assert.Equal("initial:holding", await report.ExpectMsgAsync<string>());
        return (actor, report, gate);
    }

    [Fact]
    public async Task Tell_returns_false_when_the_bounded_mailbox_is_full()
    {
        var (actor, report, gate) = await BusyActorAsync(capacity: 2);
        await using var _ = actor;

        Assert.True(actor.Tell(new Cmd.Say("a")));
        Assert.True(actor.Tell(new Cmd.Say("b")));
        Assert.False(actor.Tell(new Cmd.Say("c")));

        gate.SetResult();
        Assert.Equal("initial:released", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:a", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:b", await report.ExpectMsgAsync<string>());
        await report.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task TellAsync_waits_for_room_in_a_full_mailbox()
    {
        var (actor, report, gate) = await BusyActorAsync(capacity: 1);
        await using var _ = actor;
        Assert.True(actor.Tell(new Cmd.Say("a")));

        var waiting = actor.TellAsync(new Cmd.Say("b")).AsTask();
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted, "TellAsync returned while the mailbox was full");

        gate.SetResult();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("initial:released", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:a", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:b", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task TellAsync_waiting_for_room_can_be_cancelled()
    {
        var (actor, _, gate) = await BusyActorAsync(capacity: 1);
        await using var __ = actor;
        Assert.True(actor.Tell(new Cmd.Say("a")));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => actor.TellAsync(new Cmd.Say("b"), cancel.Token).AsTask());
        gate.SetResult();
    }

    [Fact]
    public async Task The_default_mailbox_holds_256_messages()
    {
        var report = new Probe<string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var actor = new Recorder("default", report);
        actor.Start();
        actor.Tell(new Cmd.Hold(gate.Task));
        await report.ExpectMsgAsync<string>();

        for (var i = 0; i < ActorDefaults.MailboxCapacity; i++) Assert.True(actor.Tell(new Cmd.Say(i.ToString())), $"message {i}");
        Assert.False(actor.Tell(new Cmd.Say("one too many")));

        Assert.Equal(256, ActorDefaults.MailboxCapacity);
        gate.SetResult();
    }
}

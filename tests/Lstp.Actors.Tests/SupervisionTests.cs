using Lstp.Testing;

namespace Lstp.Actors.Tests;

public class SupervisionTests
{
    [Fact]
    public async Task Children_stop_when_their_parent_stops_and_learn_why()
    {
        var report = new Probe<string>();
        var parent = new Parent("tunnel", report);
        parent.Start();
        var child = parent.Adopt(new Recorder("channel 1", new Probe<string>()));
        child.Start();
        var probeChild = parent.AdoptSilently(new Probe<Cmd>("channel 3"));

        parent.Stop(new StopReason("shutting down"));

        Assert.Equal("shutting down", (await Probe<string>.ExpectTerminatedAsync(parent)).Why);
        Assert.Equal("parent tunnel stopped", (await Probe<string>.ExpectTerminatedAsync(child)).Why);
        Assert.Equal("parent tunnel stopped", (await Probe<string>.ExpectTerminatedAsync(probeChild)).Why);
    }

    [Fact]
    public async Task A_parent_reports_its_stop_only_after_its_children_have_stopped()
    {
        var parent = new Parent("tunnel", new Probe<string>());
        parent.Start();
        var child = parent.AdoptSilently(new SlowToStop(TimeSpan.FromMilliseconds(300)));
        child.Start();

        parent.Stop();
        await Probe<string>.ExpectTerminatedAsync(parent);

        Assert.True(child.Completion.IsCompleted, "the parent completed before its child");
    }

    [Fact]
    public async Task A_childs_stop_runs_after_its_parents_OnStopAsync()
    {
        var report = new Probe<string>();
        var parent = new Parent("tunnel", report);
        parent.Start();
        var child = parent.Adopt(new Recorder("channel 1", report));
        child.Start();

        parent.Stop(new StopReason("bye"));

        Assert.Equal("on-stop:bye", await report.ExpectMsgAsync<string>());
        Assert.Equal("on-stop:parent tunnel stopped", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task A_parent_hears_why_its_child_failed_through_the_onStopped_mapping()
    {
        var report = new Probe<string>();
        await using var parent = new Parent("tunnel", report);
        parent.Start();
        var child = parent.Adopt(new Recorder("channel 1", new Probe<string>()));
        child.Start();

        child.Tell(new Cmd.Throw("socket reset"));

        Assert.Equal("initial:child channel 1 stopped: failed: socket reset", await report.ExpectMsgAsync<string>());
        Assert.False(parent.Completion.IsCompleted, "a failing child must not stop its parent");
    }

    [Fact]
    public async Task A_parent_hears_when_its_child_stops_normally()
    {
        var report = new Probe<string>();
        await using var parent = new Parent("tunnel", report);
        parent.Start();
        var child = parent.Adopt(new Recorder("channel 2", new Probe<string>()));
        child.Start();

        child.Stop(new StopReason("closed"));

        Assert.Equal("initial:child channel 2 stopped: closed", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task A_child_that_stopped_is_not_stopped_again_with_its_parent()
    {
        var report = new Probe<string>();
        var parent = new Parent("tunnel", report);
        parent.Start();
        var child = parent.Adopt(new Probe<Cmd>("channel 5"));

        child.Stop(new StopReason("closed"));
        Assert.Equal("initial:child channel 5 stopped: closed", await report.ExpectMsgAsync<string>());
        parent.Stop();

        Assert.Equal("closed", (await Probe<string>.ExpectTerminatedAsync(child)).Why);
        await Probe<string>.ExpectTerminatedAsync(parent);
    }

    [Fact]
    public async Task Watch_delivers_Terminated_with_the_reason()
    {
        var report = new Probe<string>();
        await using var watcher = new Parent("registry", report);
        watcher.Start();
        var watched = new Recorder("link", new Probe<string>());
        watched.Start();

        watcher.Observe(watched);
        watched.Stop(new StopReason("peer gone"));

        Assert.Equal("initial:watched link stopped: peer gone", await report.ExpectMsgAsync<string>());
        Assert.False(watcher.Completion.IsCompleted, "watching is not supervision: the watcher keeps running");
    }

    [Fact]
    public async Task Watch_of_a_probe_delivers_Terminated_when_the_probe_is_stopped()
    {
        var report = new Probe<string>();
        await using var watcher = new Parent("registry", report);
        watcher.Start();
        var standIn = new Probe<Cmd>("stand-in");

        watcher.Observe(standIn);
        standIn.Stop(new StopReason("test says so"));

        Assert.Equal("initial:watched stand-in stopped: test says so", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task Watch_of_an_actor_that_already_stopped_delivers_Terminated_at_once()
    {
        var report = new Probe<string>();
        await using var watcher = new Parent("registry", report);
        watcher.Start();
        var watched = new Recorder("link", new Probe<string>());
        watched.Start();
        watched.Tell(new Cmd.Throw("early"));
        await Probe<string>.ExpectTerminatedAsync(watched);

        watcher.Observe(watched);

        Assert.Equal("initial:watched link stopped: failed: early", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task StartChild_refuses_the_actor_itself_and_does_not_delay_its_stop()
    {
        // The kernel refuses an actor as its own child, but used to add it to its children first; the stop
        // then waited the whole ChildStopGrace (5 s) for the actor to finish stopping itself.
        var parent = new Parent("narcissus", new Probe<string>());
        parent.Start();

        Assert.Throws<InvalidOperationException>(() => parent.AdoptSelf());
        parent.Stop();

        await Probe<string>.ExpectTerminatedAsync(parent, TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task A_parent_with_a_full_mailbox_still_hears_that_its_child_stopped()
    {
        // Supervision must not depend on mailbox room: the tunnel removes a channel from its table only when
        // it hears ChannelStopped, so a lost notice leaves a dead channel counted against MaxChannels.
        var report = new Probe<string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var parent = new Parent("tunnel", report, mailboxCapacity: 1);
        parent.Start();
        var child = parent.Adopt(new Probe<Cmd>("channel 7"));
        parent.Tell(new Cmd.Hold(gate.Task));
        Assert.Equal("initial:holding", await report.ExpectMsgAsync<string>());
        Assert.True(parent.Tell(new Cmd.Say("filler")));

        child.Stop(new StopReason("closed"));
        await Task.Delay(200); // the notice is due while the mailbox is full
        gate.SetResult();

        Assert.Equal("initial:released", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:filler", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:child channel 7 stopped: closed", await report.ExpectMsgAsync<string>(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task A_watcher_with_a_full_mailbox_still_receives_Terminated()
    {
        var report = new Probe<string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var watcher = new Parent("registry", report, mailboxCapacity: 1);
        watcher.Start();
        var watched = new Probe<Cmd>("link");
        watcher.Observe(watched);
        watcher.Tell(new Cmd.Hold(gate.Task));
        Assert.Equal("initial:holding", await report.ExpectMsgAsync<string>());
        Assert.True(watcher.Tell(new Cmd.Say("filler")));

        watched.Stop(new StopReason("peer gone"));
        await Task.Delay(200);
        gate.SetResult();

        Assert.Equal("initial:released", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:filler", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:watched link stopped: peer gone", await report.ExpectMsgAsync<string>(TimeSpan.FromSeconds(2)));
    }

    private sealed class SlowToStop(TimeSpan delay) : Actor<Cmd>("slow to stop")
    {
        protected override ValueTask Initial(Cmd message) => ValueTask.CompletedTask;

        protected override async ValueTask OnStopAsync(StopReason reason) => await Task.Delay(delay);
    }
}

using Lstp.Testing;

namespace Lstp.Actors.Tests;

public class ActorTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Messages_are_handled_in_the_order_they_were_told()
    {
        var report = new Probe<string>();
        await using var actor = new Recorder("ordered", report);
        actor.Start();

        for (var i = 0; i < 200; i++) await actor.TellAsync(new Cmd.Say(i.ToString()));

        for (var i = 0; i < 200; i++) Assert.Equal($"initial:{i}", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task Handlers_run_one_at_a_time_even_when_they_await()
    {
        var report = new Probe<string>();
        await using var actor = new Overlap(report);
        actor.Start();

        for (var i = 0; i < 50; i++) Assert.True(actor.Tell(new Cmd.Say(i.ToString())));
        for (var i = 0; i < 50; i++) await report.ExpectMsgAsync<string>();

        Assert.Equal(1, actor.MaxInside);
    }

    [Fact]
    public async Task Become_sends_the_next_message_to_the_new_state()
    {
        var report = new Probe<string>();
        await using var actor = new Recorder("switcher", report);
        actor.Start();

        actor.Tell(new Cmd.Say("a"));
        actor.Tell(new Cmd.Switch());
        actor.Tell(new Cmd.Say("b"));

        Assert.Equal("initial:a", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:switch", await report.ExpectMsgAsync<string>());
        Assert.Equal("switched:b", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task OnStartAsync_runs_before_the_first_message()
    {
        var report = new Probe<string>();
        await using var actor = new SlowStarter(report, TimeSpan.FromMilliseconds(150));

        // Told before Start, and the start itself is slow: the message must still come second.
        Assert.True(actor.Tell(new Cmd.Say("first")));
        actor.Start();

        Assert.Equal("started", await report.ExpectMsgAsync<string>());
        Assert.Equal("initial:first", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task OnStartAsync_failure_stops_the_actor_with_the_fault_before_any_message()
    {
        var report = new Probe<string>();
        var actor = new SlowStarter(report, TimeSpan.Zero, fail: true);
        actor.Tell(new Cmd.Say("never"));
        actor.Start();

        var reason = await Probe<string>.ExpectTerminatedAsync(actor);

        Assert.True(reason.IsFault);
        Assert.Equal("could not start", reason.Why);
        Assert.Equal("on-stop:failed: could not start", await report.ExpectMsgAsync<string>());
        await report.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Stop_ends_the_actor_with_the_given_reason()
    {
        var report = new Probe<string>();
        var actor = new Recorder("stoppable", report);
        actor.Start();

        actor.Stop(new StopReason("done here"));
        var reason = await Probe<string>.ExpectTerminatedAsync(actor);

        Assert.Equal("done here", reason.Why);
        Assert.False(reason.IsFault);
        Assert.Equal("on-stop:done here", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task Stop_without_a_reason_ends_the_actor_normally()
    {
        var actor = new Recorder("plain", new Probe<string>());
        actor.Start();

        actor.Stop();

        Assert.Same(StopReason.Normal, await Probe<string>.ExpectTerminatedAsync(actor));
    }

    [Fact]
    public async Task The_first_stop_reason_wins()
    {
        var actor = new Recorder("twice", new Probe<string>());
        actor.Start();

        actor.Stop(new StopReason("first"));
        actor.Stop(new StopReason("second"));

        Assert.Equal("first", (await Probe<string>.ExpectTerminatedAsync(actor)).Why);
    }

    [Fact]
    public async Task Stop_from_a_handler_ends_the_actor_after_that_message()
    {
        var report = new Probe<string>();
        var actor = new Recorder("self-stopper", report);
        actor.Tell(new Cmd.StopSelf("finished"));
        actor.Tell(new Cmd.Say("too late"));
        actor.Start();

        Assert.Equal("finished", (await Probe<string>.ExpectTerminatedAsync(actor)).Why);
        Assert.Equal("on-stop:finished", await report.ExpectMsgAsync<string>());
        await report.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Stop_lets_the_current_message_finish_and_drops_the_queued_ones()
    {
        var report = new Probe<string>();
        var gate = new TaskCompletionSource();
        var actor = new Recorder("busy", report);
        actor.Start();
        actor.Tell(new Cmd.Hold(gate.Task));
        Assert.Equal("initial:holding", await report.ExpectMsgAsync<string>());
        actor.Tell(new Cmd.Say("queued"));

        actor.Stop(new StopReason("enough"));
        gate.SetResult();

        Assert.Equal("initial:released", await report.ExpectMsgAsync<string>());
        Assert.Equal("on-stop:enough", await report.ExpectMsgAsync<string>());
        Assert.Equal("enough", (await Probe<string>.ExpectTerminatedAsync(actor)).Why);
        await report.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_handler_exception_stops_the_actor_with_Fault_set()
    {
        var report = new Probe<string>();
        var actor = new Recorder("fragile", report);
        actor.Start();

        actor.Tell(new Cmd.Throw("boom"));
        actor.Tell(new Cmd.Say("after"));
        var reason = await Probe<string>.ExpectTerminatedAsync(actor);

        Assert.True(reason.IsFault);
        Assert.IsType<InvalidOperationException>(reason.Fault);
        Assert.Equal("boom", reason.Why);
        Assert.Equal("failed: boom", reason.ToString());
        Assert.Equal("on-stop:failed: boom", await report.ExpectMsgAsync<string>());
        await report.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ShouldStopOn_false_keeps_the_actor_running_after_an_expected_failure()
    {
        var report = new Probe<string>();
        await using var actor = new Forgiving("forgiving", report);
        actor.Start();

        actor.Tell(new Cmd.Throw("expected"));
        actor.Tell(new Cmd.Say("still here"));

        Assert.Equal("initial:still here", await report.ExpectMsgAsync<string>());
        Assert.False(actor.Completion.IsCompleted);
    }

    [Fact]
    public async Task Tell_to_a_stopped_actor_returns_false()
    {
        var actor = new Recorder("gone", new Probe<string>());
        actor.Start();
        actor.Stop();
        await Probe<string>.ExpectTerminatedAsync(actor);

        Assert.False(actor.Tell(new Cmd.Say("anyone?")));
    }

    [Fact]
    public async Task Start_twice_throws()
    {
        await using var actor = new Recorder("once", new Probe<string>());
        actor.Start();

        Assert.Throws<InvalidOperationException>(() => actor.Start());
    }

    [Fact]
    public async Task OnStopped_callbacks_hear_the_reason_whether_registered_before_or_after_the_stop()
    {
        var actor = new Recorder("observed", new Probe<string>());
        var before = new TaskCompletionSource<StopReason>();
        actor.OnStopped(r => before.SetResult(r));
        actor.Start();

        actor.Stop(new StopReason("bye"));
        await Probe<string>.ExpectTerminatedAsync(actor);
        StopReason? after = null;
        actor.OnStopped(r => after = r);

        Assert.Equal("bye", (await before.Task.WaitAsync(TimeSpan.FromSeconds(5))).Why);
        Assert.Equal("bye", after?.Why);
    }

    [Fact]
    public async Task DisposeAsync_stops_the_actor_and_waits_for_it()
    {
        var report = new Probe<string>();
        var actor = new Recorder("disposable", report);
        actor.Start();

        await actor.DisposeAsync();

        Assert.True(actor.Completion.IsCompleted);
        Assert.Equal("on-stop:stopped", await report.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task DisposeAsync_of_an_actor_never_started_returns_at_once()
    {
        var actor = new Recorder("unstarted", new Probe<string>());

        await actor.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task OnStopAsync_failure_turns_a_normal_stop_into_a_fault()
    {
        var actor = new FailsToStop();
        actor.Start();

        actor.Stop(new StopReason("asked"));
        var reason = await Probe<string>.ExpectTerminatedAsync(actor);

        Assert.True(reason.IsFault);
        Assert.Equal("cleanup failed", reason.Why);
    }

    [Fact]
    public async Task Stop_while_a_handler_awaits_Stopping_reports_the_requested_reason_not_a_fault()
    {
        // Regression guard: Actor.Stopping is meant to be passed to the I/O an actor owns. When Stop cancels it,
        // the handler's OperationCanceledException is the requested stop arriving, not a failure of the actor.
        var report = new Probe<string>();
        var actor = new Recorder("io-owner", report);
        actor.Start();
        actor.Tell(new Cmd.AwaitStopping());
        Assert.Equal("initial:waiting", await report.ExpectMsgAsync<string>());

        actor.Stop(new StopReason("operator asked"));
        var reason = await Probe<string>.ExpectTerminatedAsync(actor);

        Assert.False(reason.IsFault, $"the stop was reported as a fault: {reason}");
        Assert.Equal("operator asked", reason.Why);
    }

    private sealed class FailsToStop() : Actor<Cmd>("fails to stop")
    {
        protected override ValueTask Initial(Cmd message) => ValueTask.CompletedTask;

        protected override ValueTask OnStopAsync(StopReason reason) => throw new IOException("cleanup failed");
    }
}

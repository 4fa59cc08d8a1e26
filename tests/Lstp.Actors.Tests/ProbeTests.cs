using Lstp.Testing;

namespace Lstp.Actors.Tests;

public class ProbeTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task ExpectMsgAsync_returns_the_next_message_of_the_expected_type()
    {
        var probe = new Probe<object>();
        probe.Tell("hello");

        Assert.Equal("hello", await probe.ExpectMsgAsync<string>());
    }

    [Fact]
    public async Task ExpectMsgAsync_returns_messages_in_the_order_they_arrived()
    {
        var probe = new Probe<int>();
        for (var i = 0; i < 10; i++) probe.Tell(i);

        for (var i = 0; i < 10; i++) Assert.Equal(i, await probe.ExpectMsgAsync<int>());
    }

    [Fact]
    public async Task ExpectMsgAsync_waits_for_a_message_that_arrives_later()
    {
        var probe = new Probe<string>();
        _ = Task.Delay(100).ContinueWith(_ => probe.Tell("late"), TaskScheduler.Default);

        Assert.Equal("late", await probe.ExpectMsgAsync<string>(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ExpectMsgAsync_fails_with_ProbeException_when_nothing_arrives_in_time()
    {
        var probe = new Probe<string>("quiet probe");

        var ex = await Assert.ThrowsAsync<ProbeException>(() => probe.ExpectMsgAsync<string>(Short));

        Assert.Contains("quiet probe", ex.Message, StringComparison.Ordinal);
        Assert.Contains("got nothing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectMsgAsync_fails_with_ProbeException_on_a_message_of_another_type()
    {
        var probe = new Probe<object>();
        probe.Tell(42);

        var ex = await Assert.ThrowsAsync<ProbeException>(() => probe.ExpectMsgAsync<string>(Short));

        Assert.Contains("expected String, got 42", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectNoMsgAsync_passes_when_nothing_arrives()
    {
        var probe = new Probe<string>();

        await probe.ExpectNoMsgAsync(Short);
    }

    [Fact]
    public async Task ExpectNoMsgAsync_fails_with_ProbeException_when_a_message_is_waiting()
    {
        var probe = new Probe<string>();
        probe.Tell("surprise");

        var ex = await Assert.ThrowsAsync<ProbeException>(() => probe.ExpectNoMsgAsync(Short));

        Assert.Contains("surprise", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectNoMsgAsync_fails_with_ProbeException_when_a_message_arrives_during_the_wait()
    {
        var probe = new Probe<string>();
        _ = Task.Delay(50).ContinueWith(_ => probe.Tell("during"), TaskScheduler.Default);

        await Assert.ThrowsAsync<ProbeException>(() => probe.ExpectNoMsgAsync(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task FishForMsgAsync_skips_messages_until_one_matches()
    {
        var probe = new Probe<int>();
        foreach (var i in (int[])[1, 3, 4, 5]) probe.Tell(i);

        Assert.Equal(4, await probe.FishForMsgAsync<int>(i => i % 2 == 0));
        Assert.Equal(5, await probe.ExpectMsgAsync<int>());
    }

    [Fact]
    public async Task FishForMsgAsync_fails_with_ProbeException_when_nothing_matches_in_time()
    {
        var probe = new Probe<int>();
        probe.Tell(1);

        await Assert.ThrowsAsync<ProbeException>(() => probe.FishForMsgAsync<int>(i => i > 10, Short));
    }

    [Fact]
    public async Task ExpectTerminatedAsync_returns_why_the_actor_stopped()
    {
        var actor = new Recorder("short-lived", new Probe<string>());
        actor.Start();
        actor.Stop(new StopReason("done"));

        Assert.Equal("done", (await Probe<string>.ExpectTerminatedAsync(actor)).Why);
    }

    [Fact]
    public async Task ExpectTerminatedAsync_fails_with_ProbeException_when_the_actor_keeps_running()
    {
        await using var actor = new Recorder("long-lived", new Probe<string>());
        actor.Start();

        var ex = await Assert.ThrowsAsync<ProbeException>(() => Probe<string>.ExpectTerminatedAsync(actor, Short));

        Assert.Contains("long-lived", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_probe_completes_with_the_reason_and_accepts_no_more_messages()
    {
        var probe = new Probe<string>("stand-in");

        probe.Stop(new StopReason("test over"));

        Assert.Equal("test over", (await Probe<string>.ExpectTerminatedAsync(probe)).Why);
        Assert.False(probe.Tell("ignored"));
        await probe.ExpectNoMsgAsync(Short);
    }

    [Fact]
    public async Task A_probe_stands_in_for_the_actor_an_actor_talks_to()
    {
        var standIn = new Probe<string>();
        await using var actor = new Recorder("talker", standIn);
        actor.Start();

        actor.Tell(new Cmd.Say("hi"));

        Assert.Equal("initial:hi", await standIn.ExpectMsgAsync<string>());
        await standIn.ExpectNoMsgAsync(Short);
    }
}

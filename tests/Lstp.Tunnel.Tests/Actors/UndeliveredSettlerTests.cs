using System.Net.Sockets;
using Akka.Actor;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Tunnel.Tests.Actors;

/// <summary>A command sent to a tunnel that has just stopped is answered, never lost: the settler sees it in the dead letters.</summary>
public sealed class UndeliveredSettlerTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO", output)
{
    private IActorRef StoppedTunnel()
    {
        // The settler as every system gets it, listening once this returns: the command below goes to the dead letters at once.
        LstpActorSystem.Started(Sys);
        var tunnel = CreateTestProbe("tunnel");
        Watch(tunnel.Ref);
        Sys.Stop(tunnel.Ref);
        ExpectTerminated(tunnel.Ref);
        return tunnel.Ref;
    }

    [Fact]
    public async Task OpenChannel_to_a_stopped_tunnel_refuses_its_entry_point_and_resets_the_application()
    {
        var gone = StoppedTunnel();
        var (application, channelSide) = await SocketPair.CreateAsync();
        using var _ = application;
        var outcome = new TaskCompletionSource<ChannelOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);

        gone.Tell(new TunnelCommand.OpenChannel(channelSide, TargetKind.Service, "web", 0, o =>
        {
            outcome.TrySetResult(o);
            return ValueTask.CompletedTask;
        }));

        var refused = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((false, ErrorCode.PeerGone), (refused.Opened, refused.Code));
        var reset = await Assert.ThrowsAsync<SocketException>(() => Net.ReadToEndAsync(application));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    [Fact]
    public async Task RequestDedicated_to_a_stopped_tunnel_is_answered_refused()
    {
        var gone = StoppedTunnel();
        var reply = new TaskCompletionSource<ChannelOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);

        gone.Tell(new TunnelCommand.RequestDedicated(42, reply));

        var answer = await reply.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((false, ErrorCode.PeerGone), (answer.Opened, answer.Code));
    }
}

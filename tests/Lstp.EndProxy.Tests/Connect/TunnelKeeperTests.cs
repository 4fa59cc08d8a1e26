using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit;
using Lstp.Admin;
using Lstp.EndProxy.Connect;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Xunit.Abstractions;

namespace Lstp.EndProxy.Tests.Connect;

/// <summary>
/// The tunnel keeper's reconnect loop (docs/protocol.md §7.1, one end's phases; §8, the backoff) against a real
/// middle on loopback: every phase it publishes reaches a TestProbe, and the TestKit watches the keeper and its
/// tunnels stop.
/// </summary>
public sealed class TunnelKeeperTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO" + Lstp.Tunnel.Actors.LstpActorSystem.Mailboxes, output), IAsyncLifetime
{
    private const string Secret = "keeper tests";
    private static readonly TimeSpan BackoffMin = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Opens = TimeSpan.FromSeconds(30);
    private readonly TestLog _log = new(output, Microsoft.Extensions.Logging.LogLevel.Information);
    private readonly List<IAsyncDisposable> _owned = [];
    private TestProbe _phases = null!;

    public Task InitializeAsync()
    {
        _phases = CreateTestProbe("phases");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        // Ends before their middle, each as it was started in reverse.
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
    }

    private async Task<MiddleHost> StartMiddleAsync(MiddleOptions? options = null)
    {
        var middle = await MiddleHost.StartAsync(options ?? new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, _log);
        _owned.Add(middle);
        return middle;
    }

    /// <summary>The end under test: its keeper runs in the TestKit's system and each phase it publishes goes to <see cref="_phases"/>.</summary>
    private (TunnelSupervisor End, IActorRef Keeper) StartEnd(HostPort middle, string? token = null, TimeSpan? resumeGrace = null)
    {
        var options = new EndOptions
        {
            Middles = [middle],
            Secret = Secret,
            Name = "client-end",
            Token = token,
            BackoffMin = BackoffMin,
            BackoffMax = TimeSpan.FromSeconds(5),
            ResumeGrace = resumeGrace ?? new EndOptions().ResumeGrace,
        };
        var properties = new EndProperties([], [], [], [], options.Compression.Announce());
        var end = new TunnelSupervisor(options, new EndSetup(TunnelSecret.FromPassphrase(Secret), options.Name, "test", false), TcpDialer.Instance, NoTargets.Instance, properties, _log, Sys);
        _owned.Add(end);
        end.StateChanged += state => _phases.Ref.Tell(new Published(state, Stopwatch.GetTimestamp()));
        end.Start();
        Sys.ActorSelection("/user/tunnel-keeper-*").Tell(new Identify("keeper"), TestActor);
        var keeper = ExpectMsg<ActorIdentity>().Subject ?? throw new InvalidOperationException("no keeper started");
        Watch(keeper);
        return (end, keeper);
    }

    /// <summary>The peer end: a whole end proxy in an actor system of its own, registered directly at the middle.</summary>
    private EndProxyHost StartPeer(HostPort middle, string name = "server-end")
    {
        var peer = EndProxyHost.Start(new EndOptions
        {
            Middles = [middle],
            Secret = Secret,
            Name = name,
            BackoffMin = TimeSpan.FromMilliseconds(50),
            BackoffMax = TimeSpan.FromSeconds(1),
        }, _log);
        _owned.Add(peer);
        return peer;
    }

    /// <summary>A phase as the keeper published it, stamped on the keeper's thread.</summary>
    private sealed record Published(TunnelState State, long At);

    private Published Next(TunnelPhase phase, TimeSpan? within = null) =>
        _phases.FishForMessage<Published>(p => p.State.Phase == phase, within ?? Opens);

    private TunnelState NextPhase(TunnelPhase phase, TimeSpan? within = null) => Next(phase, within).State;

    [Fact]
    public async Task Refused_by_the_middle_the_keeper_backs_off_longer_each_time_until_it_is_stopped()
    {
        var middle = await StartMiddleAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m", Tokens = ["the right token"] });
        var (end, keeper) = StartEnd(middle.LinkAddress, token: "a wrong token");

        // Each refusal is published with the middle's reason, and the next attempt waits at least half the
        // nominal delay (jitter is ±50 %), which doubles from the minimum: 50 ms, 100 ms, 200 ms, 400 ms at least.
        for (var failure = 0; failure < 4; failure++)
        {
            var refused = Next(TunnelPhase.BackingOff);
            Assert.Contains("AdmissionDenied", refused.State.LastError, StringComparison.Ordinal);
            var retried = Next(TunnelPhase.Connecting);
            var waited = Stopwatch.GetElapsedTime(refused.At, retried.At);
            var atLeast = BackoffMin * Math.Pow(2, failure) * 0.5 - TimeSpan.FromMilliseconds(20); // a timer tick of slack
            Assert.True(waited >= atLeast, $"after failure {failure + 1} the keeper waited {waited.TotalMilliseconds:0} ms, less than {atLeast.TotalMilliseconds:0} ms");
        }
        Assert.True(end.State.Reconnects >= 4, $"{end.State.Reconnects} reconnects counted");

        await end.ShutdownAsync("the test is over");

        ExpectTerminated(keeper);
        NextPhase(TunnelPhase.Stopped, TimeSpan.FromSeconds(5));
        _phases.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // no attempt after the stop
        Assert.Null(end.Current);
    }

    [Fact]
    public async Task With_resumption_off_a_keeper_whose_link_is_cut_registers_again_and_pairs_with_its_peer_anew()
    {
        var middle = await StartMiddleAsync();
        var path = new ChaosProxy(middle.LinkAddress.Port);
        _owned.Add(path);
        StartPeer(middle.LinkAddress);
        var (end, _) = StartEnd(new HostPort("127.0.0.1", path.Port), resumeGrace: TimeSpan.Zero);
        NextPhase(TunnelPhase.Open);
        var first = end.Current ?? throw new InvalidOperationException("open without a tunnel");
        Watch(first.Ref);

        path.Kill(); // the end's link is reset: no SHUTDOWN, no FIN
        path.Revive();

        ExpectTerminated(first.Ref, Opens);
        Assert.True((await first.Completion.WaitAsync(Opens)).IsFault);
        Assert.NotNull(NextPhase(TunnelPhase.BackingOff).LastError);
        var again = NextPhase(TunnelPhase.Open);
        Assert.Equal("server-end", again.Peer);
        var second = end.Current ?? throw new InvalidOperationException("open without a tunnel");
        Assert.NotSame(first, second);
        Assert.Equal("server-end", second.Session.PeerName);
        Assert.True(again.Reconnects >= 1);
    }

    [Fact]
    public async Task A_keeper_whose_link_is_cut_resumes_the_same_tunnel_over_a_new_link()
    {
        var middle = await StartMiddleAsync();
        var path = new ChaosProxy(middle.LinkAddress.Port);
        _owned.Add(path);
        StartPeer(middle.LinkAddress);
        var (end, _) = StartEnd(new HostPort("127.0.0.1", path.Port));
        NextPhase(TunnelPhase.Open);
        var tunnel = end.Current ?? throw new InvalidOperationException("open without a tunnel");
        Watch(tunnel.Ref);

        path.Kill(); // the end's link is reset: no SHUTDOWN, no FIN
        Assert.Equal("server-end", NextPhase(TunnelPhase.Resuming).Peer);
        path.Revive();

        var resumed = NextPhase(TunnelPhase.Open);
        Assert.Equal(1, resumed.Resumptions);
        Assert.NotNull(resumed.LastResumeTook);
        Assert.Equal(0, resumed.Reconnects);
        Assert.Same(tunnel, end.Current);
        Assert.False(tunnel.Completion.IsCompleted);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the tunnel actor lives on: no Terminated
    }

    [Fact]
    public async Task A_tunnel_that_cannot_resume_within_its_grace_ends_as_a_fault_and_the_keeper_opens_a_new_one()
    {
        var middle = await StartMiddleAsync();
        var path = new ChaosProxy(middle.LinkAddress.Port);
        _owned.Add(path);
        StartPeer(middle.LinkAddress);
        var (end, _) = StartEnd(new HostPort("127.0.0.1", path.Port), resumeGrace: TimeSpan.FromSeconds(1));
        NextPhase(TunnelPhase.Open);
        var first = end.Current ?? throw new InvalidOperationException("open without a tunnel");
        Watch(first.Ref);

        path.Kill(); // and it stays dead past the grace
        NextPhase(TunnelPhase.Resuming);
        ExpectTerminated(first.Ref, Opens);
        var reason = await first.Completion.WaitAsync(Opens);
        Assert.True(reason.IsFault);
        Assert.Contains("did not resume within 1 s", reason.Why, StringComparison.Ordinal);

        path.Revive();
        var again = NextPhase(TunnelPhase.Open);
        Assert.Equal(0, again.Resumptions);
        Assert.NotSame(first, end.Current);
    }

    [Fact]
    public async Task A_peer_that_comes_back_as_another_process_gets_a_fresh_tunnel_and_the_old_one_ends_as_a_fault()
    {
        var middle = await StartMiddleAsync();
        var peerPath = new ChaosProxy(middle.LinkAddress.Port);
        _owned.Add(peerPath);
        var path = new ChaosProxy(middle.LinkAddress.Port);
        _owned.Add(path);
        var peer = StartPeer(new HostPort("127.0.0.1", peerPath.Port));
        var (end, _) = StartEnd(new HostPort("127.0.0.1", path.Port));
        NextPhase(TunnelPhase.Open);
        var first = end.Current ?? throw new InvalidOperationException("open without a tunnel");
        Watch(first.Ref);

        // Both links die; the peer process goes (its SHUTDOWN cannot reach us) and another takes its place.
        peerPath.Kill();
        path.Kill();
        NextPhase(TunnelPhase.Resuming);
        _owned.Remove(peer);
        await peer.DisposeAsync();
        StartPeer(middle.LinkAddress, name: "server-end-2");
        path.Revive();

        var opened = NextPhase(TunnelPhase.Open);
        Assert.Equal("server-end-2", opened.Peer);
        ExpectTerminated(first.Ref, Opens);
        var reason = await first.Completion.WaitAsync(Opens);
        Assert.True(reason.IsFault, reason.Why);
        Assert.Contains("not the one this tunnel was with", reason.Why, StringComparison.Ordinal);
        var second = end.Current ?? throw new InvalidOperationException("open without a tunnel");
        Assert.NotSame(first, second);
        Assert.Equal("server-end-2", second.Session.PeerName);
    }

    [Fact]
    public async Task Stopped_with_its_tunnel_open_the_keeper_sends_SHUTDOWN_to_the_peer_and_stops_for_good()
    {
        var middle = await StartMiddleAsync();
        var peer = StartPeer(middle.LinkAddress);
        var (end, keeper) = StartEnd(middle.LinkAddress);
        NextPhase(TunnelPhase.Open);
        var tunnel = end.Current ?? throw new InvalidOperationException("open without a tunnel");
        var peerTunnel = await peer.Supervisor.WaitForTunnelAsync(Opens, CancellationToken.None) ?? throw new InvalidOperationException("the peer has no tunnel");
        Watch(tunnel.Ref);

        await end.ShutdownAsync("the end is stopping");

        // The tunnel goes first (its SHUTDOWN written, its link closed), then the keeper, which tries nothing more.
        ExpectTerminated(tunnel.Ref, TimeSpan.FromSeconds(10));
        ExpectTerminated(keeper, TimeSpan.FromSeconds(10));
        Assert.Equal("shut down: the end is stopping", (await tunnel.Completion).Why);
        Assert.Equal("the peer shut down: the end is stopping", (await peerTunnel.Completion.WaitAsync(TimeSpan.FromSeconds(10))).Why);
        NextPhase(TunnelPhase.Stopped, TimeSpan.FromSeconds(5));
        _phases.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
    }
}

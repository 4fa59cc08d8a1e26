using Lstp.Admin;
using Lstp.Middle;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>The setup sequence of docs/architecture.md, step by step, with the test standing in for both ends.</summary>
public sealed class SetupSequenceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task First_end_waits_second_pairs_and_both_get_the_others_setup_with_the_middles_entry()
    {
        var log = new TestLog(output);
        // Step 1: the middle starts and listens.
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "mid-1" }, log);
        var secret = TunnelSecret.FromPassphrase("setup sequence");
        var a = new EndSetup(secret, "end-a", "alice", Plaintext: false);
        var b = new EndSetup(secret, "end-b", "bob", Plaintext: false);

        // Step 2: end A registers and is told to wait; the middle stores it.
        var waitingSeen = new TaskCompletionSource<Waiting>();
        var registerA = MiddleLink.RegisterAsync(TcpDialer.Instance, middle.LinkAddress, a.Info(), a.Topology("10.0.0.1"), null,
            LinkTimings.Default, TimeProvider.System, w => waitingSeen.TrySetResult(w), CancellationToken.None);
        var waiting = await waitingSeen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(600u, waiting.ExpiresInSeconds);
        Assert.Single(middle.Node.Registry.Snapshot());
        Assert.False(registerA.IsCompleted);

        // Step 3: end B registers with the same common information; the middle pairs them and removes the entry.
        var (relayB, pairingB) = await MiddleLink.RegisterAsync(TcpDialer.Instance, middle.LinkAddress, b.Info(), b.Topology("10.0.0.2"), null,
            LinkTimings.Default, TimeProvider.System, null, CancellationToken.None);
        var (relayA, pairingA) = await registerA.WaitAsync(TimeSpan.FromSeconds(10));
        await using var _a = relayA;
        await using var _b = relayB;
        Assert.Empty(middle.Node.Registry.Snapshot());

        Assert.Equal(b.Info(), pairingA.Peer);
        Assert.Equal(a.Info(), pairingB.Peer);
        Assert.Equal(["end-b", "mid-1"], pairingA.Received.Entries.Select(e => e.Name));
        Assert.Equal(["end-a", "mid-1"], pairingB.Received.Entries.Select(e => e.Name));
        Assert.Equal(NodeKind.Middle, pairingA.Received.Entries[1].Kind);
        Assert.Equal(middle.Node.NodeId, pairingA.Received.Entries[1].NodeId);
        Assert.Equal(["end-a", "mid-1", "end-b"], pairingA.Path.Select(e => e.Name));
        var tunnel = Assert.Single(middle.Node.Tunnels.Snapshot());
        Assert.Equal(["end-a", "mid-1", "end-b"], tunnel.Path.Select(e => e.Name));

        // Steps 4–5: master election, TLS end to end, proof of the secret, setup verified over TLS.
        var props = EndProperties.None;
        var sessionA = EndToEndHandshake.RunAsync(relayA, pairingA, secret, props with { Services = ["x"] }, CancellationToken.None);
        var sessionB = EndToEndHandshake.RunAsync(relayB, pairingB, secret, props, CancellationToken.None);
        var (sa, sb) = (await sessionA, await sessionB);
        Assert.True(sa.Encrypted && sb.Encrypted);
        Assert.NotEqual(sa.IsMaster, sb.IsMaster);
        Assert.Equal(a.InstanceId.AsSpan().SequenceCompareTo(b.InstanceId) < 0, sa.IsMaster);
        Assert.Equal(["x"], sb.PeerProperties.Services);
        // Both ends know the TLS 1.3 suite they agreed on (the end logs it when the tunnel opens).
        Assert.Contains(sa.CipherSuite, new System.Net.Security.TlsCipherSuite?[]
        {
            System.Net.Security.TlsCipherSuite.TLS_AES_256_GCM_SHA384, System.Net.Security.TlsCipherSuite.TLS_AES_128_GCM_SHA256,
            System.Net.Security.TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        });
        Assert.Equal(sa.CipherSuite, sb.CipherSuite);
        await sa.DisposeAsync();
        await sb.DisposeAsync();
    }

    [Fact]
    public async Task A_waiting_end_that_disconnects_is_removed_at_once()
    {
        var log = new TestLog(output);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null }, log);
        var setup = new EndSetup(TunnelSecret.FromPassphrase("gone"), "leaver", "u", false);
        using var cts = new CancellationTokenSource();
        var waiting = new TaskCompletionSource();
        var register = MiddleLink.RegisterAsync(TcpDialer.Instance, middle.LinkAddress, setup.Info(), setup.Topology("x"), null,
            LinkTimings.Default, TimeProvider.System, _ => waiting.TrySetResult(), cts.Token);
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(middle.Node.Registry.Snapshot());
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => register);
        await Eventually.TrueAsync(() => middle.Node.Registry.Snapshot().Count == 0, "the waiting entry is removed");
    }

    [Fact]
    public async Task A_waiting_entry_expires_and_the_end_is_told_why()
    {
        var log = new TestLog(output);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, WaitExpiry = TimeSpan.FromMilliseconds(500) }, log);
        var setup = new EndSetup(TunnelSecret.FromPassphrase("lonely"), "lonely", "u", false);
        var ex = await Assert.ThrowsAsync<LinkClosedException>(() => MiddleLink.RegisterAsync(TcpDialer.Instance, middle.LinkAddress, setup.Info(), setup.Topology("x"), null,
            LinkTimings.Default, TimeProvider.System, null, CancellationToken.None));
        Assert.Equal(Lstp.Protocol.ErrorCode.WaitExpired, ex.Code);
        Assert.Empty(middle.Node.Registry.Snapshot());
    }
}

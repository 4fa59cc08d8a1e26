using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Lstp.Admin;
using Lstp.EndProxy;
using Lstp.EndProxy.Connect;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Testing.Security;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;
using static Lstp.Scenarios.Security.SecurityKit;

namespace Lstp.Scenarios.Security;

/// <summary>
/// Issue 3's security matrix: each row is an attack or a mistake, and what the product must do about it. The
/// middle is treated as untrusted throughout: some rows use a malicious middle written for the test.
/// </summary>
public sealed class SecurityMatrixTests(ITestOutputHelper output)
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Ends_with_different_secrets_are_never_paired_both_keep_waiting_and_no_data_path_opens()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            secret: "the right secret",
            server: o => o with { Secret = "a wrong secret" },
            client: o => o with { WaitForTunnel = TimeSpan.FromSeconds(1) });

        // Their pairing keys differ, so the middle stores them under two keys and never pairs them.
        await Eventually.TrueAsync(() => rig.Middle.Node.Registry.Snapshot().Count == 2
            && rig.Client.Supervisor.State.Phase == TunnelPhase.Waiting && rig.Server.Supervisor.State.Phase == TunnelPhase.Waiting,
            "both ends wait, under different keys");
        var keys = rig.Middle.Node.Registry.Snapshot().Select(w => w.CommonKey).ToList();
        Assert.NotEqual(keys[0], keys[1]);

        // An application that connects gets no path: the forward waits for a tunnel (1 s here), then resets it.
        using var app = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var reset = await Assert.ThrowsAsync<SocketException>(() => Net.ReadToEndAsync(app).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);

        Assert.Equal(0, rig.Middle.Node.Metrics.Pairings);
        Assert.Equal(0, rig.Middle.Node.Tunnels.Count);
        Assert.Null(rig.Client.Supervisor.Current);
        Assert.Null(rig.Server.Supervisor.Current);
        Assert.Equal(TunnelPhase.Waiting, rig.Client.Supervisor.State.Phase);
        Assert.Equal(TunnelPhase.Waiting, rig.Server.Supervisor.State.Phase);
        Assert.Equal(0, echo.Accepted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_replayed_capture_of_an_ends_link_is_paired_but_cannot_prove_the_secret_and_reaches_no_application(bool plaintext)
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(LoopbackMiddle(), log);
        await using var tap = new RecordingRelay(middle.LinkAddress.Port);
        var secret = "replay secret " + Guid.NewGuid();
        var serverOptions = End(middle.LinkAddress, secret, "server-end") with { Services = [new ServiceSpec("echo", HostPort.Parse(echo.Address))], Plaintext = plaintext };
        var clientOptions = End(new HostPort("127.0.0.1", tap.Port), secret, "client-end") with { Forwards = [new ForwardSpec(new HostPort("127.0.0.1", 0), "echo")], Plaintext = plaintext };
        var marker = Encoding.ASCII.GetBytes("REPLAY-MARKER-" + Guid.NewGuid().ToString("N"));

        // A real session, recorded on the client end's link: setup, TLS, AUTH_PROOF, one application exchange, SHUTDOWN.
        var server = EndProxyHost.Start(serverOptions, log);
        var client = EndProxyHost.Start(clientOptions, log);
        try
        {
            Assert.NotNull(await client.Supervisor.WaitForTunnelAsync(TimeSpan.FromSeconds(20), CancellationToken.None));
            using var app = await Net.ConnectAsync(client.Listeners.Single().Address.Port);
            await app.SendAsync(marker, SocketFlags.None);
            Assert.Equal(marker, await Net.ReadExactlyAsync(app, marker.Length).WaitAsync(TimeSpan.FromSeconds(15)));
        }
        finally
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
        }
        Assert.Equal(1, echo.Accepted);
        var recorded = tap.Links[0].FromClient;
        output.WriteLine($"recorded {recorded.Length} bytes of the client end's link");
        Assert.Equal(plaintext, Capture.Contains([recorded], marker)); // the capture holds the application's bytes only in plaintext

        // The real server end comes back and waits for its peer ...
        await using var waiting = EndProxyHost.Start(serverOptions, log);
        await Eventually.TrueAsync(() => waiting.Supervisor.State.Phase == TunnelPhase.Waiting, "the server end waits");
        var pairingsBefore = middle.Node.Metrics.Pairings;

        // ... and an attacker replays the capture as a new connection: same setup, same TLS records, same proofs.
        await using var replay = await RawLink.ConnectAsync(middle.LinkAddress);
        await replay.SendAsync(recorded);

        await Eventually.TrueAsync(() => waiting.Supervisor.State.LastError?.Contains(nameof(ErrorCode.AuthFailed), StringComparison.Ordinal) == true,
            "the waiting end aborts with AuthFailed", TimeSpan.FromSeconds(30));
        output.WriteLine($"waiting end: {waiting.Supervisor.State.LastError}");
        if (plaintext)
        {
            // Without TLS in the way the replay reaches AUTH_PROOF itself: the recorded proof covers old nonces.
            Assert.Contains("could not prove the tunnel secret", waiting.Supervisor.State.LastError, StringComparison.Ordinal);
        }
        Assert.True(middle.Node.Metrics.Pairings > pairingsBefore, "the middle paired the replay (only the end-to-end proof can stop it)");
        Assert.Null(waiting.Supervisor.Current);
        Assert.Equal(1, echo.Accepted); // no channel was opened toward the application
    }

    [Fact]
    public async Task An_end_with_a_wrong_secret_that_a_colluding_middle_pairs_anyway_cannot_prove_it_and_both_ends_abort_with_AuthFailed()
    {
        // The middle knows both pairing keys and passes each end its own, so the ends' pairing-key check passes:
        // only the proof of the secret over the TLS session can tell them apart.
        await using var evil = new MaliciousMiddle(MiddleAttack.PairAnyKey);
        var a = new EndSetup(TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32)), "end-a", "alice", Plaintext: false);
        var b = new EndSetup(TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32)), "end-b", "mallory", Plaintext: false);

        var (errorA, errorB) = await HandshakeBothAsync(evil.Address, a, b);

        Assert.True(evil.Paired.IsCompleted, "the colluding middle paired the ends");
        AssertAborted(errorA, ErrorCode.AuthFailed, "end-a");
        AssertAborted(errorB, ErrorCode.AuthFailed, "end-b");
        Assert.Contains("could not prove the tunnel secret", errorA!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_middle_that_alters_TOPOLOGY_EXCHANGE_is_detected_and_both_ends_abort_with_SetupAltered()
    {
        await using var evil = new MaliciousMiddle(MiddleAttack.AlterTopology);
        var secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));
        var a = new EndSetup(secret, "end-a", "alice", Plaintext: false);
        var b = new EndSetup(secret, "end-b", "bob", Plaintext: false);

        var (errorA, errorB) = await HandshakeBothAsync(evil.Address, a, b);

        Assert.True(evil.Paired.IsCompleted, "the malicious middle paired the ends");
        AssertAborted(errorA, ErrorCode.SetupAltered, "end-a");
        AssertAborted(errorB, ErrorCode.SetupAltered, "end-b");
    }

    [Fact]
    public async Task A_middle_that_terminates_TLS_with_its_own_certificate_is_detected_and_both_ends_abort_with_AuthFailed()
    {
        await using var evil = new MaliciousMiddle(MiddleAttack.TerminateTls);
        var secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));
        var a = new EndSetup(secret, "end-a", "alice", Plaintext: false);
        var b = new EndSetup(secret, "end-b", "bob", Plaintext: false);

        var (errorA, errorB) = await HandshakeBothAsync(evil.Address, a, b);

        // The attack got as far as it can: both TLS sessions ended at the middle and it read the proofs in the clear.
        Assert.True(evil.TlsTerminated.IsCompleted, "the middle terminated both TLS sessions");
        Assert.Equal((byte)MessageType.AuthProof, evil.PlaintextFromMaster.FirstOrDefault());
        Assert.Equal((byte)MessageType.AuthProof, evil.PlaintextFromOther.FirstOrDefault());
        // But the proofs are bound to the certificate each end saw, which differ: neither end accepts the other.
        AssertAborted(errorA, ErrorCode.AuthFailed, "end-a");
        AssertAborted(errorB, ErrorCode.AuthFailed, "end-b");
    }

    [Fact]
    public async Task Plaintext_on_one_end_only_fails_on_both_ends_with_a_clear_PlaintextMismatch()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Plaintext = true });

        await Eventually.TrueAsync(() =>
            rig.Client.Supervisor.State.LastError?.Contains(nameof(ErrorCode.PlaintextMismatch), StringComparison.Ordinal) == true
            && rig.Server.Supervisor.State.LastError?.Contains(nameof(ErrorCode.PlaintextMismatch), StringComparison.Ordinal) == true,
            "both ends report PlaintextMismatch");

        var client = rig.Client.Supervisor.State.LastError!;
        var server = rig.Server.Supervisor.State.LastError!;
        output.WriteLine($"client: {client}\nserver: {server}");
        Assert.Contains("this end asked for --plaintext but peer 'server-end' did not", client, StringComparison.Ordinal);
        Assert.Contains("peer 'client-end' asked for --plaintext but this end did not", server, StringComparison.Ordinal);
        Assert.Contains("both ends must agree", client, StringComparison.Ordinal);
        Assert.True(rig.Middle.Node.Metrics.Pairings >= 1, "the middle paired them; the ends refused");
        Assert.Null(rig.Client.Supervisor.Current);
        Assert.Null(rig.Server.Supervisor.Current);
        Assert.Equal(0, echo.Accepted);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("a-wrong-token-7f3a")]
    public async Task An_end_without_the_token_or_with_a_wrong_one_is_refused_with_AdmissionDenied_and_says_so(string? token)
    {
        const string right = "the-right-token-91c2";
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Debug);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            middle: LoopbackMiddle() with { Tokens = [right] },
            server: o => o with { Token = right },
            client: o => o with { Token = token });

        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.LastError?.Contains(nameof(ErrorCode.AdmissionDenied), StringComparison.Ordinal) == true,
            "the client end reports AdmissionDenied");
        output.WriteLine($"client: {rig.Client.Supervisor.State.LastError}");
        await Eventually.TrueAsync(() => rig.Server.Supervisor.State.Phase == TunnelPhase.Waiting, "the admitted server end waits");
        Assert.Single(rig.Middle.Node.Registry.Snapshot());
        Assert.Equal(0, rig.Middle.Node.Metrics.Pairings);
        Assert.True(rig.Middle.Node.Metrics.Errors.GetValueOrDefault(ErrorCode.AdmissionDenied) >= 1);

        // Tokens are never logged, neither the configured one nor the one presented.
        Assert.DoesNotContain(log.Lines, l => l.Contains(right, StringComparison.Ordinal));
        if (token is not null) Assert.DoesNotContain(log.Lines, l => l.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ends_with_the_right_token_are_admitted_paired_and_carry_data()
    {
        const string right = "the-right-token-91c2";
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, LogLevel.Information), new Dictionary<string, string> { ["echo"] = echo.Address },
            middle: LoopbackMiddle() with { Tokens = ["another-token", right] },
            server: o => o with { Token = right },
            client: o => o with { Token = right });
        await rig.OpenAsync();
        await AssertEchoAsync(rig, 7);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_capture_of_both_links_holds_none_of_the_applications_bytes_unless_both_ends_chose_plaintext(bool plaintext)
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        var middle = await MiddleHost.StartAsync(LoopbackMiddle(), log); // the rig owns it and disposes it
        await using var clientTap = new RecordingRelay(middle.LinkAddress.Port);
        await using var serverTap = new RecordingRelay(middle.LinkAddress.Port);
        const string secret = "capture secret 5d1e";
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            secret: secret,
            client: o => o with { Middles = [new HostPort("127.0.0.1", clientTap.Port)], Plaintext = plaintext },
            server: o => o with { Middles = [new HostPort("127.0.0.1", serverTap.Port)], Plaintext = plaintext },
            existingMiddle: middle);
        var (tunnel, _) = await rig.OpenAsync();
        Assert.Equal(!plaintext, tunnel.Session.Encrypted);
        Assert.Equal(!plaintext, tunnel.Session.Relay.ReadByTls); // TLS's record-sized reads are read ahead for (RelayStream)

        // Less than one uplink read (64 KiB less a frame's prefix), so no frame header lands inside a needle below.
        var payload = RandomNumberGenerator.GetBytes(48 * 1024);
        var marker = Encoding.ASCII.GetBytes("CAPTURE-MARKER-" + Guid.NewGuid().ToString("N") + "-END");
        using (var app = await Net.ConnectAsync(rig.ForwardPort("echo")))
        {
            var send = Task.Run(async () =>
            {
                await app.SendAsync(payload, SocketFlags.None);
                await app.SendAsync(marker, SocketFlags.None);
                app.Shutdown(SocketShutdown.Send);
            });
            var back = await Net.ReadToEndAsync(app).WaitAsync(TimeSpan.FromSeconds(30));
            await send;
            Assert.True(back.AsSpan().SequenceEqual([.. payload, .. marker]), "the echo came back intact");
        }

        var captures = clientTap.Captured.Concat(serverTap.Captured).ToList();
        output.WriteLine($"captured {clientTap.TotalBytes + serverTap.TotalBytes} bytes on the two links (plaintext: {plaintext})");
        Assert.True(clientTap.TotalBytes + serverTap.TotalBytes > 4 * payload.Length, "the capture saw the traffic both ways on both links");
        var needles = new List<byte[]> { marker };
        for (var offset = 0; offset + 32 <= payload.Length; offset += 8 * 1024) needles.Add(payload[offset..(offset + 32)]);
        needles.Add(payload[^32..]);
        var found = needles.Count(n => Capture.Contains(captures, n));
        if (plaintext)
        {
            // Proof that the capture works: with encryption off, every piece of the application's bytes is there.
            Assert.Equal(needles.Count, found);
        }
        else
        {
            Assert.Equal(0, found);
        }
        // The tunnel secret itself never crosses the wire, encrypted or not.
        Assert.False(Capture.Contains(captures, Encoding.UTF8.GetBytes(secret)), "the secret appears on the wire");
    }

    /// <summary>Both ends register and run the end-to-end handshake through <paramref name="middle"/>; returns how each ended.</summary>
    private static async Task<(Exception? A, Exception? B)> HandshakeBothAsync(HostPort middle, EndSetup a, EndSetup b)
    {
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = HandshakeAsync(middle, a, () => waiting.TrySetResult());
        await waiting.Task.WaitAsync(HandshakeTimeout); // a waits first, so it is the end that receives the altered path
        var second = HandshakeAsync(middle, b, null);
        return (await first, await second);
    }

    private static async Task<Exception?> HandshakeAsync(HostPort middle, EndSetup end, Action? onWaiting)
    {
        using var timeout = new CancellationTokenSource(HandshakeTimeout);
        try
        {
            var (relay, pairing) = await MiddleLink.RegisterAsync(TcpDialer.Instance, middle, end.Info(), end.Topology("local"), null,
                LinkTimings.Default, TimeProvider.System, _ => onWaiting?.Invoke(), timeout.Token);
            try
            {
                var session = await EndToEndHandshake.RunAsync(relay, pairing, end.Secret, EndProperties.None, timeout.Token);
                await session.DisposeAsync();
                return null;
            }
            finally
            {
                await relay.DisposeAsync();
            }
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private void AssertAborted(Exception? error, ErrorCode code, string end)
    {
        output.WriteLine($"{end}: {error?.GetType().Name}: {error?.Message}");
        Assert.NotNull(error);
        var protocol = Assert.IsType<ProtocolException>(error);
        Assert.Equal(code, protocol.Code);
    }
}

using System.Security.Cryptography;
using Lstp.EndProxy.Connect;
using Lstp.Testing;
using Lstp.Testing.Security;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Security;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;
using static Lstp.Scenarios.Security.SecurityKit;

namespace Lstp.Scenarios.Security;

/// <summary>
/// Optional TLS on the link between an end and its middle (`--tls-cert/--tls-key` on the middle,
/// `--middle-fingerprint` on the ends): it hides even the setup (pairing key, names) from the network, and an
/// end that pins a certificate talks to no other middle.
/// </summary>
public sealed class MiddleTlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "lstp-middle-tls-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Ends_that_pin_the_middles_certificate_pair_over_link_TLS_and_carry_data()
    {
        var (certificate, key, fingerprint) = TestCertificates.WritePem(_directory);
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        var middle = await Lstp.Admin.MiddleHost.StartAsync(LoopbackMiddle() with { TlsCertificate = certificate, TlsKey = key }, log); // the rig owns it
        await using var tap = new RecordingRelay(middle.LinkAddress.Port);
        const string secret = "link tls secret";
        // The same pin, written the two ways operators copy it: plain hex, and "sha256:AB:CD:..." as tools print it.
        var colons = "sha256:" + string.Join(':', Convert.FromHexString(fingerprint).Select(b => b.ToString("X2")));
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            secret: secret,
            client: o => o with { Middles = [new HostPort("127.0.0.1", tap.Port)], MiddleTls = new MiddleTrust(fingerprint) },
            server: o => o with { MiddleTls = new MiddleTrust(colons) },
            existingMiddle: middle);

        await rig.OpenAsync();
        await AssertEchoAsync(rig, 21, size: 256 * 1024);

        // On the wire it is TLS from the first byte, so even the pairing key is hidden from the network.
        var link = tap.Links[0];
        Assert.Equal(0x16, link.FromClient[0]); // a TLS handshake record, not "LSTP"
        Assert.Equal(0x16, link.FromServer[0]);
        Assert.False(Capture.Contains(tap.Captured, TunnelSecret.FromPassphrase(secret).PairingKey), "the pairing key is visible on a TLS link");
    }

    [Fact]
    public async Task An_end_that_pins_another_fingerprint_fails_with_a_clear_error_and_never_pairs()
    {
        var (certificate, key, fingerprint) = TestCertificates.WritePem(_directory);
        var wrong = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            middle: LoopbackMiddle() with { TlsCertificate = certificate, TlsKey = key },
            client: o => o with { MiddleTls = new MiddleTrust(wrong) },
            server: o => o with { MiddleTls = new MiddleTrust(fingerprint) });

        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.LastError?.Contains("does not match the pinned fingerprint", StringComparison.Ordinal) == true,
            "the client end reports the fingerprint mismatch");
        output.WriteLine($"client: {rig.Client.Supervisor.State.LastError}");
        Assert.Contains("TLS to middle", rig.Client.Supervisor.State.LastError, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => rig.Server.Supervisor.State.Phase == TunnelPhase.Waiting, "the server end, which trusts the middle, waits");

        // The client end keeps failing at TLS, before it ever sends its setup: it is never registered or paired.
        var attempts = rig.Client.Supervisor.State.Reconnects;
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Reconnects >= attempts + 2, "the client end retried");
        Assert.NotEqual(TunnelPhase.Open, rig.Client.Supervisor.State.Phase);
        Assert.Null(rig.Client.Supervisor.Current);
        Assert.Equal("server-end", Assert.Single(rig.Middle.Node.Registry.Snapshot()).Link.EndName);
        Assert.Equal(0, rig.Middle.Node.Metrics.Pairings);
    }

    [Fact]
    public async Task TLS_handshakes_beyond_the_per_source_rate_are_refused_before_the_handshake()
    {
        // The rate limit used to run after Kestrel's TLS handshake: a flood from one address cost the middle a
        // handshake per connection before any limit applied.
        var (certificate, key, _) = TestCertificates.WritePem(_directory);
        await using var middle = await Lstp.Admin.MiddleHost.StartAsync(LoopbackMiddle() with { TlsCertificate = certificate, TlsKey = key, MaxConnectionsPerSecondPerSource = 1, Time = new Helpers.ManualClock() }, new TestLog(output)); // a frozen clock: no token comes back mid-test

        Assert.True(await HandshakesAsync(middle.LinkAddress), "the first connection within the rate completes its TLS handshake");
        Assert.False(await HandshakesAsync(middle.LinkAddress), "a second connection within the same second got a TLS handshake");
        Assert.Equal(1L, middle.Node.Metrics.Errors.GetValueOrDefault(Lstp.Protocol.ErrorCode.RateLimited));
    }

    private static async Task<bool> HandshakesAsync(HostPort middle)
    {
        try
        {
            // A refused connection may be reset while it is still being connected.
            using var socket = await Net.ConnectAsync(middle.Port);
            await using var ssl = new System.Net.Security.SslStream(new System.Net.Sockets.NetworkStream(socket, ownsSocket: false), false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = "lstp-middle" }).WaitAsync(TimeSpan.FromSeconds(10));
            return true;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_cascade_hop_runs_over_TLS_pinned_to_the_upstream_and_a_wrong_pin_never_carries_an_end()
    {
        var (certificate, key, fingerprint) = TestCertificates.WritePem(_directory);
        await using var echo = new EchoServer();
        var log = new TestLog(output, LogLevel.Information);
        // The ends dial edge middles without TLS; the edges hand them on to the hub over TLS pinned to its certificate.
        var hub = await Lstp.Admin.MiddleHost.StartAsync(LoopbackMiddle() with { Name = "hub", TlsCertificate = certificate, TlsKey = key }, log); // the rig owns it
        await using var tap = new RecordingRelay(hub.LinkAddress.Port);
        var pinned = new MiddleTrust(fingerprint);
        await using var edgeA = await Lstp.Admin.MiddleHost.StartAsync(LoopbackMiddle() with { Name = "edge-a", Upstream = new HostPort("127.0.0.1", tap.Port), UpstreamTrust = pinned }, log);
        await using var edgeC = await Lstp.Admin.MiddleHost.StartAsync(LoopbackMiddle() with { Name = "edge-c", Upstream = hub.LinkAddress, UpstreamTrust = pinned }, log);
        const string secret = "cascade tls secret";
        await using (var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            secret: secret,
            client: o => o with { Middles = [edgeA.LinkAddress] },
            server: o => o with { Middles = [edgeC.LinkAddress] },
            existingMiddle: hub))
        {
            var (clientTunnel, _) = await rig.OpenAsync();
            Assert.Equal(["edge-a", "hub", "edge-c"], clientTunnel.Session.Pairing.Path.Where(e => e.Kind == Lstp.Protocol.Messages.NodeKind.Middle).Select(e => e.Name));
            await AssertEchoAsync(rig, 22, size: 128 * 1024);

            // The hop edge-a -> hub is TLS from its first byte: the pairing key does not cross it in the clear.
            var hop = tap.Links[0];
            Assert.Equal(0x16, hop.FromClient[0]);
            Assert.False(Capture.Contains(tap.Captured, TunnelSecret.FromPassphrase(secret).PairingKey), "the pairing key is visible on the TLS hop");
        }

        // An edge that pins another certificate never hands an end to the hub: the end is told why.
        var wrong = new MiddleTrust(Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant());
        var hub2 = await Lstp.Admin.MiddleHost.StartAsync(LoopbackMiddle() with { Name = "hub-2", TlsCertificate = certificate, TlsKey = key }, log);
        await using var edgeB = await Lstp.Admin.MiddleHost.StartAsync(LoopbackMiddle() with { Name = "edge-b", Upstream = hub2.LinkAddress, UpstreamTrust = wrong }, log);
        await using var refused = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Middles = [edgeB.LinkAddress] },
            server: o => o with { Middles = [edgeB.LinkAddress] },
            existingMiddle: hub2);
        await Eventually.TrueAsync(() => refused.Client.Supervisor.State.LastError?.Contains("next middle", StringComparison.Ordinal) == true,
            "the end hears that the next middle could not be reached");
        output.WriteLine($"client: {refused.Client.Supervisor.State.LastError}");
        Assert.Contains("does not match", refused.Client.Supervisor.State.LastError, StringComparison.Ordinal);
        Assert.Empty(hub2.Node.Tunnels.Snapshot());
        Assert.Null(refused.Client.Supervisor.Current);
    }
}

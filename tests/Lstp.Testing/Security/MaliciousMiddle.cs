using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Tunnel.Link;

namespace Lstp.Testing.Security;

/// <summary>What a <see cref="MaliciousMiddle"/> does to the tunnel it pairs.</summary>
public enum MiddleAttack
{
    /// <summary>Pairs the ends, changes the peer end's name in the TOPOLOGY_EXCHANGE it delivers to the first end, then relays honestly.</summary>
    AlterTopology,

    /// <summary>
    /// Pairs the first two ends whatever their pairing keys (an end with a wrong secret, say), delivering to each
    /// the other's setup with the pairing key rewritten to its own, so the ends' key check passes; then relays honestly.
    /// </summary>
    PairAnyKey,

    /// <summary>
    /// Pairs the ends honestly, then terminates the end-to-end TLS itself: a TLS server (with its own certificate)
    /// toward the master, a TLS client toward the other end, copying the plaintext between the two sessions.
    /// </summary>
    TerminateTls,
}

/// <summary>
/// A middle that an attacker controls, speaking the link protocol with Lstp.Protocol's codec: it accepts end
/// links, answers their preamble and WAITING, pairs the first two ends with the same pairing key, and then
/// attacks as <see cref="MiddleAttack"/> says. The ends must detect it (SetupAltered, AuthFailed).
/// </summary>
public sealed class MaliciousMiddle : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<EndLink> _waiting = [];
    private readonly List<EndLink> _all = [];
    private readonly MiddleAttack _attack;
    private readonly byte[] _nodeId = RandomNumberGenerator.GetBytes(ProtocolLimits.NodeIdSize);
    private readonly TaskCompletionSource _paired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _tlsTerminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly MemoryStream _plaintextFromMaster = new();
    private readonly MemoryStream _plaintextFromOther = new();
    private readonly Task _loop;

    public MaliciousMiddle(MiddleAttack attack, string name = "evil-middle")
    {
        _attack = attack;
        Name = name;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        Address = new HostPort("127.0.0.1", ((IPEndPoint)_listener.LocalEndPoint!).Port);
        _loop = Task.Run(AcceptAsync);
    }

    public string Name { get; }
    public HostPort Address { get; }

    /// <summary>How the topology delivered to the first end is changed (<see cref="MiddleAttack.AlterTopology"/>): by default the peer end is renamed.</summary>
    public Func<TopologyExchange, TopologyExchange> Alter { get; init; } = path =>
        new TopologyExchange([path.Entries[0] with { Name = "forged-" + path.Entries[0].Name }, .. path.Entries.Skip(1)]);

    /// <summary>Completes when two ends have been paired and each has been sent the other's setup.</summary>
    public Task Paired => _paired.Task;

    /// <summary>Completes when both TLS sessions of <see cref="MiddleAttack.TerminateTls"/> are up: the attacker reads the tunnel in the clear.</summary>
    public Task TlsTerminated => _tlsTerminated.Task;

    /// <summary>What the attacker decrypted from the master (<see cref="MiddleAttack.TerminateTls"/>).</summary>
    public byte[] PlaintextFromMaster
    {
        get { lock (_plaintextFromMaster) return _plaintextFromMaster.ToArray(); }
    }

    /// <summary>What the attacker decrypted from the other end (<see cref="MiddleAttack.TerminateTls"/>).</summary>
    public byte[] PlaintextFromOther
    {
        get { lock (_plaintextFromOther) return _plaintextFromOther.ToArray(); }
    }

    private TopologyEntry Self => new(NodeKind.Middle, Name, Address.ToString(), _nodeId);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            socket.NoDelay = true;
            var link = new EndLink(socket);
            lock (_all) _all.Add(link);
            _ = Task.Run(() => HandleAsync(link));
        }
    }

    private async Task HandleAsync(EndLink link)
    {
        try
        {
            await link.Reader.ReadPreambleAsync(_stop.Token);
            await link.Stream.WriteAsync(Preamble.Create(LinkRole.End), _stop.Token);
            while (link.Topology is null)
            {
                switch (await link.Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, _stop.Token))
                {
                    case CommonUniqueInfo info:
                        link.Info = info;
                        break;
                    case TopologyExchange topology:
                        link.Topology = topology;
                        break;
                    case Ping ping:
                        await link.Stream.WriteAsync(new Pong(ping.Value).ToFrame(), _stop.Token);
                        break;
                    case null:
                        return;
                    default:
                        break; // ADMISSION and anything else: this middle admits everyone
                }
            }

            EndLink? first;
            lock (_waiting)
            {
                first = _waiting.FirstOrDefault(w => _attack == MiddleAttack.PairAnyKey || w.Info!.CommonKey == link.Info!.CommonKey);
                if (first is null) _waiting.Add(link);
                else _waiting.Remove(first);
            }
            if (first is null)
            {
                await link.Stream.WriteAsync(new Waiting(600).ToFrame(), _stop.Token);
                return; // the second end's handler pairs and runs the attack
            }

            var toFirst = link.Topology.Append(Self);
            if (_attack == MiddleAttack.AlterTopology) toFirst = Alter(toFirst);
            var infoToFirst = link.Info!;
            var infoToSecond = first.Info!;
            if (_attack == MiddleAttack.PairAnyKey)
            {
                infoToFirst = infoToFirst with { PairingKey = first.Info!.PairingKey };
                infoToSecond = infoToSecond with { PairingKey = link.Info!.PairingKey };
            }
            await first.Stream.WriteAsync(infoToFirst.ToFrame().Concat(toFirst.ToFrame()).ToArray(), _stop.Token);
            await link.Stream.WriteAsync(infoToSecond.ToFrame().Concat(first.Topology!.Append(Self).ToFrame()).ToArray(), _stop.Token);
            _paired.TrySetResult();

            if (_attack == MiddleAttack.TerminateTls) await TerminateTlsAsync(first, link);
            else await RelayAsync(first, link);
        }
        catch (Exception)
        {
            link.Abort();
        }
    }

    private async Task RelayAsync(EndLink a, EndLink b)
    {
        await using var relayA = a.Relay();
        await using var relayB = b.Relay();
        await Task.WhenAll(PumpAsync(relayA, relayB, b, null), PumpAsync(relayB, relayA, a, null));
    }

    private async Task TerminateTlsAsync(EndLink a, EndLink b)
    {
        var (master, other) = a.Info!.InstanceId.AsSpan().SequenceCompareTo(b.Info!.InstanceId) < 0 ? (a, b) : (b, a);
        await using var relayMaster = master.Relay();
        await using var relayOther = other.Relay();
        using var certificate = TestCertificates.SelfSigned("lstp-end");
        await using var toMaster = new SslStream(relayMaster, leaveInnerStreamOpen: true);
        await using var toOther = new SslStream(relayOther, leaveInnerStreamOpen: true, (_, _, _, _) => true);
        await Task.WhenAll(
            toMaster.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                EnabledSslProtocols = SslProtocols.Tls13,
                ClientCertificateRequired = false,
            }, _stop.Token),
            toOther.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "lstp-end",
                EnabledSslProtocols = SslProtocols.Tls13,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, _stop.Token));
        _tlsTerminated.TrySetResult();
        await Task.WhenAll(PumpAsync(toMaster, toOther, other, _plaintextFromMaster), PumpAsync(toOther, toMaster, master, _plaintextFromOther));
    }

    /// <summary>Copies one direction; at its end of stream, closes the other link's sending side (a FIN after every byte).</summary>
    private async Task PumpAsync(Stream from, Stream to, EndLink toLink, MemoryStream? record)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _stop.Token);
                if (n == 0) break;
                if (record is not null) lock (record) record.Write(buffer, 0, n);
                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                await to.FlushAsync(_stop.Token);
            }
            toLink.Finish();
        }
        catch (Exception)
        {
            toLink.Finish();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        lock (_all) foreach (var link in _all) link.Abort();
        await _loop;
    }

    private sealed class EndLink(Socket socket)
    {
        public Socket Socket => socket;
        public NetworkStream Stream { get; } = new(socket, ownsSocket: true);
        public FrameStreamReader Reader => _reader ??= new FrameStreamReader(Stream);
        private FrameStreamReader? _reader;
        public CommonUniqueInfo? Info { get; set; }
        public TopologyExchange? Topology { get; set; }

        public RelayStream Relay() => new(Stream, Reader, LinkTimings.Default, TimeProvider.System);

        public void Finish()
        {
            try { socket.Shutdown(SocketShutdown.Send); } catch (Exception) { }
        }

        public void Abort()
        {
            try { socket.Dispose(); } catch (Exception) { }
        }
    }
}

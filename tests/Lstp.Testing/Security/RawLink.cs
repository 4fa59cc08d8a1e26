using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;

namespace Lstp.Testing.Security;

/// <summary>
/// A link to a middle driven byte by byte by a test: it sends exactly what the test says (valid setup, a
/// replay, garbage) and reads what the middle answers with the codec. It can dial from any loopback source
/// address (127.0.0.2, 127.0.0.3, ...), so per-source limits can be exceeded by one "source" while the good
/// pair of the test, on 127.0.0.1, is left alone.
/// </summary>
public sealed class RawLink : IAsyncDisposable
{
    private RawLink(Socket socket)
    {
        Socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
        Reader = new FrameStreamReader(Stream, 2 * ProtocolLimits.DefaultMaxPayload); // room for whole RELAY frames
    }

    public Socket Socket { get; }
    public NetworkStream Stream { get; }
    public FrameStreamReader Reader { get; }

    public static async Task<RawLink> ConnectAsync(HostPort middle, IPAddress? source = null, CancellationToken cancellationToken = default)
    {
        var socket = await SourceDialer.ConnectAsync(middle, source, cancellationToken);
        return new RawLink(socket);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default) =>
        await Socket.SendAsync(bytes, SocketFlags.None, cancellationToken);

    public Task SendAsync(params Message[] messages) => SendAsync((ReadOnlyMemory<byte>)messages.SelectMany(m => m.ToFrame()).ToArray());

    /// <summary>Reads the middle's preamble (what it sends first once it has read ours).</summary>
    public async Task<LinkRole> ReadPreambleAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await Reader.ReadPreambleAsync(cts.Token);
    }

    /// <summary>The next frame from the middle, decoded; null at end of stream (or a reset).</summary>
    public async Task<Message?> ReadAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await Reader.ReadMessageAsync(ProtocolLimits.AbsoluteMaxPayload, cts.Token);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Skips WAITING and PONG until the middle's ERROR, which it returns; fails if the link closes first.</summary>
    public async Task<Error> ExpectErrorAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException("no ERROR from the middle in time");
            switch (await ReadAsync(left))
            {
                case Error error:
                    return error;
                case null:
                    throw new EndOfStreamException("the middle closed the link without ERROR");
                case Waiting or Pong:
                    continue;
                case var other:
                    throw new InvalidOperationException($"expected ERROR, got {other}");
            }
        }
    }

    /// <summary>True once the middle has closed this link (FIN or reset) within <paramref name="timeout"/>; false if it is still open.</summary>
    public async Task<bool> IsClosedByPeerAsync(TimeSpan timeout)
    {
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                if (await Stream.ReadAsync(buffer, cts.Token) == 0) return true;
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Everything the middle sends until it closes (a reset ends it too), or until the timeout.</summary>
    public async Task<(byte[] Bytes, bool Closed)> ReadUntilClosedAsync(TimeSpan timeout)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var n = await Socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) return (all.ToArray(), true);
                all.Write(buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            return (all.ToArray(), false);
        }
        catch (SocketException)
        {
            return (all.ToArray(), true);
        }
    }

    /// <summary>
    /// Reads raw bytes (no preamble is required: a refusal may come without one) until what the middle said
    /// satisfies <paramref name="enough"/>, or it closes, or the timeout passes. Throws
    /// <see cref="ProtocolException"/> when the middle's bytes are not LSTP.
    /// </summary>
    public async Task<(LinkAnswer Answer, bool Closed, byte[] Bytes)> ReadAnswerAsync(Func<LinkAnswer, bool> enough, TimeSpan timeout)
    {
        var bytes = new List<byte>();
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            int n;
            try { n = await Socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token); }
            catch (SocketException) { n = 0; }
            catch (OperationCanceledException) { return (LinkAnswer.Parse([.. bytes]), false, [.. bytes]); }
            bytes.AddRange(buffer.AsSpan(0, n).ToArray());
            var answer = LinkAnswer.Parse([.. bytes]);
            if (n == 0 || enough(answer)) return (answer, n == 0, [.. bytes]);
        }
    }

    /// <summary>What the middle answers a setup: until it has said WAITING, paired us, refused us, or closed.</summary>
    public Task<(LinkAnswer Answer, bool Closed, byte[] Bytes)> ReadSetupAnswerAsync(TimeSpan timeout) =>
        ReadAnswerAsync(a => a.Messages.Any(m => m is Waiting or TopologyExchange or Error), timeout);

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
    }
}

/// <summary>What a middle said on one link, parsed from the raw bytes it sent.</summary>
public sealed record LinkAnswer(bool Preamble, IReadOnlyList<Message> Messages, int TrailingBytes)
{
    public ErrorCode? ErrorCode => Messages.OfType<Error>().Select(e => (ErrorCode?)e.Code).FirstOrDefault();

    /// <summary>
    /// Parses an optional preamble then whole frames. Throws <see cref="ProtocolException"/> when the bytes are
    /// not LSTP: a middle must never answer with anything else. An incomplete last frame (a relayed frame cut
    /// by a close) is allowed and counted in <see cref="TrailingBytes"/>.
    /// </summary>
    public static LinkAnswer Parse(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        var preamble = false;
        if (bytes.Length >= 1 && bytes[0] == (byte)'L')
        {
            if (!Lstp.Protocol.Framing.Preamble.TryRead(ref buffer, out _)) return new LinkAnswer(false, [], bytes.Length);
            preamble = true;
        }
        var messages = new List<Message>();
        while (MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.AbsoluteMaxPayload, out var message)) messages.Add(message!);
        return new LinkAnswer(preamble, messages, (int)buffer.Length);
    }
}

/// <summary>Dials from a chosen loopback source address: one "host" per address, for per-source limits.</summary>
public sealed class SourceDialer(IPAddress source) : IDialer
{
    public IPAddress Source => source;

    public async ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken) =>
        new NetworkStream(await ConnectAsync(target, source, cancellationToken), ownsSocket: true);

    public static async Task<Socket> ConnectAsync(HostPort target, IPAddress? source, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null) socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(IPAddress.Parse(target.Host), target.Port, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>Setups a test end sends by hand, built with the codec.</summary>
public static class RawSetup
{
    /// <summary>A fresh end: a random pairing key (a tunnel of its own) unless one is given.</summary>
    public static (CommonUniqueInfo Info, TopologyExchange Topology) End(string name, byte[]? pairingKey = null, string user = "tester", byte[]? instanceId = null, SetupFlags flags = SetupFlags.None)
    {
        var id = instanceId ?? RandomNumberGenerator.GetBytes(ProtocolLimits.NodeIdSize);
        var info = new CommonUniqueInfo(pairingKey ?? RandomNumberGenerator.GetBytes(ProtocolLimits.PairingKeySize), 0, name, user, id, flags);
        return (info, new TopologyExchange([new TopologyEntry(NodeKind.End, name, "local", id)]));
    }

    /// <summary>Preamble, [ADMISSION], COMMONUNIQUE_INFO, TOPOLOGY_EXCHANGE: what an end writes when it registers.</summary>
    public static byte[] Bytes(CommonUniqueInfo info, TopologyExchange topology, string? token = null)
    {
        var bytes = new List<byte>(Lstp.Protocol.Framing.Preamble.Create(LinkRole.End));
        if (token is not null) bytes.AddRange(new Admission(token).ToFrame());
        bytes.AddRange(info.ToFrame());
        bytes.AddRange(topology.ToFrame());
        return [.. bytes];
    }

    public static byte[] Bytes((CommonUniqueInfo Info, TopologyExchange Topology) end, string? token = null) => Bytes(end.Info, end.Topology, token);
}

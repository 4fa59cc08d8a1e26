using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Lstp.EndProxy.Policy;

namespace Lstp.EndProxy.EntryPoints;

/// <summary>
/// The server side of a SOCKS5 handshake (RFC 1928, with RFC 1929 username/password). Every read asks
/// for exactly the bytes the next field needs, so nothing after the request is consumed: the client's
/// application bytes, which may already be in flight, stay in the stream for the tunnel.
/// </summary>
public static class Socks5Handshake
{
    private const byte Version = 5;
    private const byte CommandConnect = 1;
    private const byte MethodNoAuth = 0x00;
    private const byte MethodUserPass = 0x02;
    private const byte MethodNoneAcceptable = 0xFF;
    private const byte UserPassVersion = 1;

    /// <summary>
    /// Reads the greeting, authenticates (username/password when <paramref name="credentials"/> is set,
    /// otherwise no authentication), and reads the CONNECT request. Refusals the protocol can express
    /// are written to the client before <see cref="Socks5HandshakeException"/> is thrown; the caller
    /// then closes the client. A client that goes away mid-handshake surfaces as <see cref="EndOfStreamException"/>.
    /// </summary>
    public static async Task<Socks5Request> ReadRequestAsync(Stream client, EntryPointCredentials? credentials, CancellationToken ct)
    {
        // 255 is the longest field (a domain name, a user name or a password: one length byte each).
        var buffer = new byte[255];
        await NegotiateMethodAsync(client, credentials, buffer, ct).ConfigureAwait(false);
        if (credentials is not null) await AuthenticateAsync(client, credentials, buffer, ct).ConfigureAwait(false);
        return await ReadConnectAsync(client, buffer, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes a reply (RFC 1928 §6). <paramref name="bound"/> is the address the server end dialled
    /// from; without one the reply says 0.0.0.0:0, which clients accept.
    /// </summary>
    public static async Task WriteReplyAsync(Stream client, Socks5Reply code, IPEndPoint? bound, CancellationToken ct = default)
    {
        // +----+-----+-------+------+----------+----------+
        // |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
        // +----+-----+-------+------+----------+----------+
        // | 1  |  1  | X'00' |  1   | Variable |    2     |
        // +----+-----+-------+------+----------+----------+
        var address = AddressClasses.Normalise(bound?.Address ?? IPAddress.Any);
        var v4 = address.AddressFamily == AddressFamily.InterNetwork;
        var reply = new byte[4 + (v4 ? 4 : 16) + 2];
        reply[0] = Version;
        reply[1] = (byte)code;
        reply[3] = v4 ? Socks5AddressType.IPv4 : Socks5AddressType.IPv6;
        address.TryWriteBytes(reply.AsSpan(4), out var written);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(4 + written), (ushort)(bound?.Port ?? 0));
        await SendAsync(client, reply, ct).ConfigureAwait(false);
    }

    private static async Task NegotiateMethodAsync(Stream client, EntryPointCredentials? credentials, byte[] buffer, CancellationToken ct)
    {
        // +----+----------+----------+
        // |VER | NMETHODS | METHODS  |
        // +----+----------+----------+
        // | 1  |    1     | 1 to 255 |
        // +----+----------+----------+
        await client.ReadExactlyAsync(buffer.AsMemory(0, 2), ct).ConfigureAwait(false);
        if (buffer[0] != Version) throw new Socks5HandshakeException($"not SOCKS5: the greeting starts with 0x{buffer[0]:x2}");
        var count = buffer[1];
        await client.ReadExactlyAsync(buffer.AsMemory(0, count), ct).ConfigureAwait(false);
        var wanted = credentials is null ? MethodNoAuth : MethodUserPass;
        if (Array.IndexOf(buffer, wanted, 0, count) < 0)
        {
            await SendAsync(client, [Version, MethodNoneAcceptable], ct).ConfigureAwait(false);
            throw new Socks5HandshakeException(credentials is null
                ? "the client does not offer no-authentication"
                : "the client does not offer username/password authentication, which this entry point requires");
        }
        await SendAsync(client, [Version, wanted], ct).ConfigureAwait(false);
    }

    private static async Task AuthenticateAsync(Stream client, EntryPointCredentials credentials, byte[] buffer, CancellationToken ct)
    {
        // RFC 1929 §2:
        // +----+------+----------+------+----------+
        // |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
        // +----+------+----------+------+----------+
        // | 1  |  1   | 1 to 255 |  1   | 1 to 255 |
        // +----+------+----------+------+----------+
        await client.ReadExactlyAsync(buffer.AsMemory(0, 2), ct).ConfigureAwait(false);
        if (buffer[0] != UserPassVersion)
            throw new Socks5HandshakeException($"username/password version 0x{buffer[0]:x2} is not 1");
        var user = new byte[buffer[1]];
        await client.ReadExactlyAsync(user, ct).ConfigureAwait(false);
        await client.ReadExactlyAsync(buffer.AsMemory(0, 1), ct).ConfigureAwait(false);
        var password = new byte[buffer[0]];
        await client.ReadExactlyAsync(password, ct).ConfigureAwait(false);

        var ok = credentials.Matches(user, password);
        // Any non-zero STATUS is failure, and the server must then close the connection.
        await SendAsync(client, [UserPassVersion, ok ? (byte)0 : (byte)1], ct).ConfigureAwait(false);
        if (!ok) throw new Socks5HandshakeException("wrong username or password");
    }

    private static async Task<Socks5Request> ReadConnectAsync(Stream client, byte[] buffer, CancellationToken ct)
    {
        // +----+-----+-------+------+----------+----------+
        // |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
        // +----+-----+-------+------+----------+----------+
        // | 1  |  1  | X'00' |  1   | Variable |    2     |
        // +----+-----+-------+------+----------+----------+
        await client.ReadExactlyAsync(buffer.AsMemory(0, 4), ct).ConfigureAwait(false);
        if (buffer[0] != Version) throw new Socks5HandshakeException($"not SOCKS5: the request starts with 0x{buffer[0]:x2}");
        var command = buffer[1];
        var addressType = buffer[3];
        string host;
        switch (addressType)
        {
            case Socks5AddressType.IPv4:
                await client.ReadExactlyAsync(buffer.AsMemory(0, 4), ct).ConfigureAwait(false);
                host = new IPAddress(buffer.AsSpan(0, 4)).ToString();
                break;
            case Socks5AddressType.IPv6:
                await client.ReadExactlyAsync(buffer.AsMemory(0, 16), ct).ConfigureAwait(false);
                host = new IPAddress(buffer.AsSpan(0, 16)).ToString();
                break;
            case Socks5AddressType.DomainName:
                await client.ReadExactlyAsync(buffer.AsMemory(0, 1), ct).ConfigureAwait(false);
                var length = buffer[0];
                await client.ReadExactlyAsync(buffer.AsMemory(0, length), ct).ConfigureAwait(false);
                // Names travel as ASCII (IDNs as punycode); anything else would end up in logs and resolvers.
                if (length == 0 || !IsVisibleAscii(buffer.AsSpan(0, length)))
                {
                    await WriteReplyAsync(client, Socks5Reply.GeneralFailure, null, ct).ConfigureAwait(false);
                    throw new Socks5HandshakeException("the requested domain name is empty or not printable ASCII", Socks5Reply.GeneralFailure);
                }
                host = Encoding.ASCII.GetString(buffer, 0, length);
                break;
            default:
                // The address length is unknown, so the rest of the request cannot be read: refuse now.
                await WriteReplyAsync(client, Socks5Reply.AddressTypeNotSupported, null, ct).ConfigureAwait(false);
                throw new Socks5HandshakeException($"address type 0x{addressType:x2} is not supported", Socks5Reply.AddressTypeNotSupported);
        }
        await client.ReadExactlyAsync(buffer.AsMemory(0, 2), ct).ConfigureAwait(false);
        var port = BinaryPrimitives.ReadUInt16BigEndian(buffer);

        if (command != CommandConnect)
        {
            // BIND (2) and UDP ASSOCIATE (3) would need listeners on the server end; a tunnel carries only CONNECT.
            await WriteReplyAsync(client, Socks5Reply.CommandNotSupported, null, ct).ConfigureAwait(false);
            throw new Socks5HandshakeException($"command 0x{command:x2} is not supported (only CONNECT)", Socks5Reply.CommandNotSupported);
        }
        return new Socks5Request(host, port, addressType);
    }

    /// <summary>Writes and flushes: the client waits for each message before it sends the next.</summary>
    private static async Task SendAsync(Stream client, byte[] message, CancellationToken ct)
    {
        await client.WriteAsync(message, ct).ConfigureAwait(false);
        await client.FlushAsync(ct).ConfigureAwait(false);
    }

    private static bool IsVisibleAscii(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
            if (b is < 0x21 or > 0x7E) return false;
        return true;
    }
}

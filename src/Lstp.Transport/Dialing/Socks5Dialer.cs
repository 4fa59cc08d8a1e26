using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Lstp.Transport.Dialing;

/// <summary>Dials through a SOCKS5 proxy (RFC 1928 CONNECT), with RFC 1929 username/password when credentials are given.</summary>
public sealed class Socks5Dialer : ProxyDialer
{
    private const byte Version = 5;
    private const byte MethodNoAuth = 0x00, MethodUserPassword = 0x02, MethodNoneAcceptable = 0xFF;
    private const byte CommandConnect = 0x01;
    private const byte AddressIPv4 = 0x01, AddressDomain = 0x03, AddressIPv6 = 0x04;
    private const byte UserPasswordVersion = 0x01; // RFC 1929 section 2: the subnegotiation has its own version

    public Socks5Dialer(HostPort proxy, ProxyCredentials? credentials = null, TimeSpan? connectTimeout = null, TimeProvider? timeProvider = null)
        : base("SOCKS5", proxy, credentials, connectTimeout, timeProvider)
    {
        if (credentials is not null)
        {
            // RFC 1929 sends each as a one-byte length and the bytes.
            if (Encoding.UTF8.GetByteCount(credentials.UserName) is < 1 or > 255)
                throw new ArgumentException("a SOCKS5 user name must be 1 to 255 bytes", nameof(credentials));
            if (Encoding.UTF8.GetByteCount(credentials.Password) > 255)
                throw new ArgumentException("a SOCKS5 password must be at most 255 bytes", nameof(credentials));
        }
    }

    public override async ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken)
    {
        var request = BuildConnectRequest(target); // a bad target name fails before we touch the network
        return await DialThroughAsync(target, (stream, ct) => HandshakeAsync(stream, target, request, ct), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask HandshakeAsync(Stream stream, HostPort target, byte[] connectRequest, CancellationToken cancellationToken)
    {
        // RFC 1928 section 3: offer the methods we can do; with credentials, also no-auth, since a proxy that needs none may pick it.
        byte[] greeting = Credentials is null ? [Version, 1, MethodNoAuth] : [Version, 2, MethodNoAuth, MethodUserPassword];
        await stream.WriteAsync(greeting, cancellationToken).ConfigureAwait(false);

        var reply = new byte[2];
        await stream.ReadExactlyAsync(reply, cancellationToken).ConfigureAwait(false);
        if (reply[0] != Version)
            throw Protocol($"is not a SOCKS5 proxy (it answered '{ProxyHop.Quote(reply)}')");
        switch (reply[1])
        {
            case MethodNoAuth:
                break;
            case MethodUserPassword when Credentials is not null:
                await AuthenticateAsync(stream, Credentials, cancellationToken).ConfigureAwait(false);
                break;
            case MethodNoneAcceptable:
                throw new DialException(DialFailure.ProxyAuthentication, Credentials is null
                    ? $"{Kind} proxy {Proxy} requires authentication: give USER:PASS in the proxy address"
                    : $"{Kind} proxy {Proxy} accepts neither no-auth nor username/password");
            default:
                throw Protocol($"chose authentication method 0x{reply[1]:x2}, which we did not offer");
        }

        await stream.WriteAsync(connectRequest, cancellationToken).ConfigureAwait(false);
        await ReadConnectReplyAsync(stream, target, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask AuthenticateAsync(Stream stream, ProxyCredentials credentials, CancellationToken cancellationToken)
    {
        // RFC 1929 section 2: VER=1 | ULEN | UNAME | PLEN | PASSWD
        var user = Encoding.UTF8.GetBytes(credentials.UserName);
        var password = Encoding.UTF8.GetBytes(credentials.Password);
        var request = new byte[3 + user.Length + password.Length];
        request[0] = UserPasswordVersion;
        request[1] = (byte)user.Length;
        user.CopyTo(request, 2);
        request[2 + user.Length] = (byte)password.Length;
        password.CopyTo(request, 3 + user.Length);
        await stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);

        // VER | STATUS. Some servers put 5 in VER; only STATUS matters (0 is success).
        var reply = new byte[2];
        await stream.ReadExactlyAsync(reply, cancellationToken).ConfigureAwait(false);
        if (reply[1] != 0)
            throw new DialException(DialFailure.ProxyAuthentication, $"{Kind} proxy {Proxy} rejected the credentials {credentials}");
    }

    /// <summary>
    /// Reads the reply to CONNECT exactly (VER REP RSV ATYP BND.ADDR BND.PORT, RFC 1928 section 6) and not one byte more:
    /// whatever follows belongs to the tunnel.
    /// </summary>
    private async ValueTask ReadConnectReplyAsync(Stream stream, HostPort target, CancellationToken cancellationToken)
    {
        var head = new byte[4];
        await stream.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
        if (head[0] != Version)
            throw Protocol($"answered CONNECT with '{ProxyHop.Quote(head)}', not a SOCKS5 reply");
        if (head[1] != 0)
            throw new DialException(DialFailure.ProxyRefused, $"{Kind} proxy {Proxy} could not connect to {target}: {ReplyText(head[1])}");

        int rest;
        switch (head[3])
        {
            case AddressIPv4: rest = 4 + 2; break;
            case AddressIPv6: rest = 16 + 2; break;
            case AddressDomain:
                var length = new byte[1];
                await stream.ReadExactlyAsync(length, cancellationToken).ConfigureAwait(false);
                rest = length[0] + 2;
                break;
            default:
                throw Protocol($"answered CONNECT with unknown address type 0x{head[3]:x2}");
        }
        await stream.ReadExactlyAsync(new byte[rest], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>VER CMD RSV ATYP DST.ADDR DST.PORT. Names go as ATYP 3, so the proxy resolves them: inside a corporate
    /// network the end often cannot resolve public names at all.</summary>
    private static byte[] BuildConnectRequest(HostPort target)
    {
        byte[] address;
        byte type;
        if (IPAddress.TryParse(target.Host, out var ip) && ip.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            type = ip.AddressFamily == AddressFamily.InterNetwork ? AddressIPv4 : AddressIPv6;
            address = ip.GetAddressBytes();
        }
        else
        {
            type = AddressDomain;
            string ascii;
            try { ascii = new IdnMapping().GetAscii(target.Host); }
            catch (ArgumentException ex) { throw new DialException(DialFailure.Unreachable, $"'{target.Host}' is not a valid host name", ex); }
            if (ascii.Length > 255) throw new DialException(DialFailure.Unreachable, $"host name '{target.Host}' is longer than SOCKS5 allows (255)");
            address = [(byte)ascii.Length, .. Encoding.ASCII.GetBytes(ascii)];
        }
        var request = new byte[4 + address.Length + 2];
        request[0] = Version;
        request[1] = CommandConnect;
        request[3] = type;
        address.CopyTo(request, 4);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4 + address.Length), (ushort)target.Port);
        return request;
    }

    /// <summary>The reply field's meaning, worded as in RFC 1928 section 6.</summary>
    public static string ReplyText(byte reply) => reply switch
    {
        0x00 => "succeeded",
        0x01 => "general SOCKS server failure",
        0x02 => "connection not allowed by ruleset",
        0x03 => "Network unreachable",
        0x04 => "Host unreachable",
        0x05 => "Connection refused",
        0x06 => "TTL expired",
        0x07 => "Command not supported",
        0x08 => "Address type not supported",
        _ => $"unassigned reply code 0x{reply:x2}",
    };
}

using System.Globalization;
using System.Text;

namespace Lstp.Transport.Dialing;

/// <summary>Dials through an HTTP proxy with <c>CONNECT host:port HTTP/1.1</c> (RFC 9110 section 9.3.6), with Basic auth when credentials are given.</summary>
public sealed class HttpConnectDialer : ProxyDialer
{
    /// <summary>
    /// A CONNECT answer is a status line and a few headers (tinyproxy sends about 70 bytes, a 407 with its page a few
    /// hundred). Capping it stops something that is not a proxy from making us buffer without end.
    /// </summary>
    private const int MaxResponseHeaderBytes = 16 * 1024;

    private readonly string? _authorization;

    public HttpConnectDialer(HostPort proxy, ProxyCredentials? credentials = null, TimeSpan? connectTimeout = null, TimeProvider? timeProvider = null)
        : base("HTTP", proxy, credentials, connectTimeout, timeProvider)
    {
        if (credentials is not null)
        {
            // RFC 7617 section 2: the user-id cannot contain a colon, it is what separates it from the password.
            if (credentials.UserName.Contains(':'))
                throw new ArgumentException("an HTTP proxy user name cannot contain ':'", nameof(credentials));
            _authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.UserName}:{credentials.Password}"));
        }
    }

    public override async ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken)
    {
        // The target goes into the request line verbatim: refuse anything that could end it or add a header.
        if (target.Host.Length == 0 || target.Host.Any(c => c <= ' ' || c == '\x7f'))
            throw new DialException(DialFailure.Unreachable, $"'{target.Host}' is not a valid host name");
        return await DialThroughAsync(target, (stream, ct) => HandshakeAsync(stream, target, ct), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask HandshakeAsync(Stream stream, HostPort target, CancellationToken cancellationToken)
    {
        var request = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"CONNECT {target} HTTP/1.1\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {target}\r\n");
        if (_authorization is not null) request.Append(CultureInfo.InvariantCulture, $"Proxy-Authorization: {_authorization}\r\n");
        request.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), cancellationToken).ConfigureAwait(false);

        var statusLine = await ReadHeadAsync(stream, cancellationToken).ConfigureAwait(false);
        var status = ParseStatus(statusLine);
        if (status is >= 200 and < 300) return;
        // 407 is the proxy asking for credentials (RFC 9110 section 15.5.8). Before the tunnel exists no origin server
        // can answer, so a 401 is the proxy too: tinyproxy sends 401 when the credentials it got are wrong.
        if (status is 407 or 401)
            throw new DialException(DialFailure.ProxyAuthentication, Credentials is null
                ? $"{Kind} proxy {Proxy} requires authentication ({statusLine}): give USER:PASS in the proxy address"
                : $"{Kind} proxy {Proxy} rejected the credentials {Credentials} ({statusLine})");
        throw new DialException(DialFailure.ProxyRefused, $"{Kind} proxy {Proxy} refused CONNECT to {target}: {statusLine}");
    }

    /// <summary>
    /// Reads the response head one byte at a time up to and including the blank line, never past it: the proxy may
    /// send the tunnel's first bytes in the same segment, and those belong to the caller. Returns the status line.
    /// </summary>
    private async ValueTask<string> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var head = new byte[MaxResponseHeaderBytes];
        var length = 0;
        while (true)
        {
            if (length == head.Length)
                throw Protocol($"sent more than {MaxResponseHeaderBytes} bytes of response headers ('{ProxyHop.Quote(head)}')");
            if (await stream.ReadAsync(head.AsMemory(length, 1), cancellationToken).ConfigureAwait(false) == 0)
                throw Protocol(length == 0
                    ? "closed the connection without answering CONNECT"
                    : $"closed the connection in the middle of its answer ('{ProxyHop.Quote(head.AsSpan(0, length))}')");
            length++;
            // The head ends at an empty line; accept a bare LF as well as CRLF (RFC 9112 section 2.2).
            var received = head.AsSpan(0, length);
            if (received.EndsWith("\n\n"u8) || received.EndsWith("\r\n\r\n"u8))
                break;
        }
        var firstLineEnd = Array.IndexOf(head, (byte)'\n');
        return Encoding.ASCII.GetString(head, 0, firstLineEnd).TrimEnd('\r');
    }

    /// <summary>Takes the status code from <c>HTTP/1.x SSS reason</c> (RFC 9112 section 4).</summary>
    private int ParseStatus(string statusLine)
    {
        if (statusLine.Length >= 12 && statusLine.StartsWith("HTTP/1.", StringComparison.Ordinal) && statusLine[8] == ' '
            && int.TryParse(statusLine.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status)
            && (statusLine.Length == 12 || statusLine[12] == ' '))
            return status;
        throw Protocol($"answered CONNECT with '{ProxyHop.Quote(Encoding.ASCII.GetBytes(statusLine))}', not an HTTP/1.x status line");
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Lstp.Transport;

namespace Lstp.EndProxy.EntryPoints;

/// <summary>
/// The server side of an HTTP CONNECT proxy (RFC 9110 §9.3.6): reads the request head without
/// consuming a byte past the empty line that ends it, because the client may send its first
/// application bytes (a TLS ClientHello) right behind the request.
/// </summary>
public static class HttpConnectHandshake
{
    /// <summary>
    /// Largest request head accepted (request line and fields). A CONNECT needs a few hundred bytes;
    /// 8 KiB is the common default of proxies and servers, and bounds what a client can make us hold.
    /// </summary>
    public const int MaxHeaderBytes = 8 * 1024;

    /// <summary>
    /// Reads and checks a CONNECT request. When it is refused (400, 405, 407, 431, 505) the response is
    /// written before <see cref="HttpConnectHandshakeException"/> is thrown, and the caller closes the client.
    /// A client that goes away mid-request surfaces as <see cref="EndOfStreamException"/>.
    /// </summary>
    public static async Task<HttpConnectRequest> ReadRequestAsync(Stream client, EntryPointCredentials? credentials, CancellationToken ct)
    {
        var head = await ReadHeadAsync(client, ct).ConfigureAwait(false);
        if (head is null)
            throw await RefuseAsync(client, HttpStatusLine.HeadersTooLarge, $"request head is over {MaxHeaderBytes} bytes", ct).ConfigureAwait(false);

        var lines = head.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        // RFC 9112 §2.2: a server SHOULD ignore an empty line received before the request line.
        if (lines.Count > 0 && lines[0].Length == 0) lines.RemoveAt(0);
        var parts = lines.Count > 0 ? lines[0].Split(' ') : [];
        if (parts.Length != 3)
            throw await RefuseAsync(client, HttpStatusLine.BadRequest, "malformed request line", ct).ConfigureAwait(false);
        var (method, target, version) = (parts[0], parts[1], parts[2]);
        if (method != "CONNECT")
            throw await RefuseAsync(client, HttpStatusLine.MethodNotAllowed, $"method {Printable(method)} is not CONNECT", ct, "Allow: CONNECT").ConfigureAwait(false);
        if (version is not ("HTTP/1.1" or "HTTP/1.0"))
            throw await RefuseAsync(client, HttpStatusLine.VersionNotSupported, $"version {Printable(version)} is not HTTP/1.x", ct).ConfigureAwait(false);

        string? authorization = null;
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var colon = line.IndexOf(':');
            // RFC 9112 §5.1 and §5.2: no whitespace before the colon, no obsolete line folding.
            if (colon <= 0 || char.IsWhiteSpace(line[0]) || char.IsWhiteSpace(line[colon - 1]))
                throw await RefuseAsync(client, HttpStatusLine.BadRequest, "malformed header field", ct).ConfigureAwait(false);
            if (!line.AsSpan(0, colon).Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase)) continue;
            if (authorization is not null)
                throw await RefuseAsync(client, HttpStatusLine.BadRequest, "more than one Proxy-Authorization", ct).ConfigureAwait(false);
            authorization = line[(colon + 1)..].Trim(' ', '\t');
        }
        if (credentials is not null && !IsAuthorized(authorization, credentials))
            throw await RefuseAsync(client, HttpStatusLine.ProxyAuthenticationRequired,
                authorization is null ? "no Proxy-Authorization" : "wrong proxy credentials", ct,
                "Proxy-Authenticate: Basic realm=\"lstp\"").ConfigureAwait(false);

        if (!TryParseTarget(target, out var request))
            throw await RefuseAsync(client, HttpStatusLine.BadRequest, $"target {Printable(target)} is not HOST:PORT or [IPv6]:PORT", ct).ConfigureAwait(false);
        return request;
    }

    /// <summary>
    /// Writes a response head. A 2xx carries no fields (RFC 9110 §9.3.6 forbids Content-Length and
    /// Transfer-Encoding there) and the tunnel starts right after it; any other status closes the connection.
    /// </summary>
    public static Task WriteResponseAsync(Stream client, int status, string reason, CancellationToken ct = default) =>
        WriteResponseAsync(client, status, reason, null, ct);

    private static async Task WriteResponseAsync(Stream client, int status, string reason, string? extraField, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(status, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(status, 599);
        if (reason.AsSpan().IndexOfAny('\r', '\n') >= 0) throw new ArgumentException("a reason phrase is one line", nameof(reason));

        var text = new StringBuilder($"HTTP/1.1 {status} {reason}\r\n");
        if (status is < 200 or > 299)
        {
            if (extraField is not null) text.Append(extraField).Append("\r\n");
            text.Append("Content-Length: 0\r\nConnection: close\r\n");
        }
        text.Append("\r\n");
        await client.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()), ct).ConfigureAwait(false);
        await client.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads up to and including the empty line that ends the head, or returns null when the head is
    /// over <see cref="MaxHeaderBytes"/>. Each read asks only for as many bytes as could still complete
    /// the empty line (one or two), so it can never return bytes past it.
    /// </summary>
    private static async Task<string?> ReadHeadAsync(Stream client, CancellationToken ct)
    {
        var buffer = new byte[MaxHeaderBytes];
        var length = 0;
        while (!EndsHead(buffer.AsSpan(0, length)))
        {
            var need = NeededToEnd(buffer.AsSpan(0, length));
            if (length + need > MaxHeaderBytes) return null;
            var read = await client.ReadAsync(buffer.AsMemory(length, need), ct).ConfigureAwait(false);
            if (read == 0) throw new EndOfStreamException("the client closed before the end of the request head");
            length += read;
        }
        // Latin-1 maps every byte to one char, so odd bytes reach the parser as they are, never as replacements.
        return Encoding.Latin1.GetString(buffer, 0, length);
    }

    // RFC 9112 §2.2 lets a recipient accept a bare LF as a line end, so the head ends at "\n\n" or "\n\r\n".
    private static bool EndsHead(ReadOnlySpan<byte> head) =>
        head.EndsWith("\n\n"u8) || head.EndsWith("\n\r\n"u8);

    private static int NeededToEnd(ReadOnlySpan<byte> head) =>
        head.EndsWith("\n"u8) || head.EndsWith("\n\r"u8) ? 1 : 2;

    private static bool IsAuthorized(string? authorization, EntryPointCredentials credentials)
    {
        if (authorization is null) return false;
        var space = authorization.IndexOf(' ');
        if (space < 0 || !authorization.AsSpan(0, space).Equals("Basic", StringComparison.OrdinalIgnoreCase)) return false;
        var encoded = authorization[(space + 1)..].Trim();
        var decoded = new byte[encoded.Length];
        if (!Convert.TryFromBase64String(encoded, decoded, out var length)) return false;
        // RFC 7617 §2: user-id and password are separated by the first colon.
        var colon = decoded.AsSpan(0, length).IndexOf((byte)':');
        if (colon < 0) return false;
        return credentials.Matches(decoded.AsSpan(0, colon), decoded.AsSpan(colon + 1, length - colon - 1));
    }

    /// <summary>Reads the authority-form target (RFC 9112 §3.2.3): host:port, with IPv6 literals in brackets.</summary>
    private static bool TryParseTarget(string target, [NotNullWhen(true)] out HttpConnectRequest? request)
    {
        request = null;
        if (!HostPort.TryParse(target, out var hostPort, out _) || hostPort.Port == 0) return false;
        if (hostPort.Host.Any(c => c is <= ' ' or > '~')) return false;
        if (target.StartsWith('[') && !(IPAddress.TryParse(hostPort.Host, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6))
            return false;
        request = new HttpConnectRequest(hostPort.Host, hostPort.Port);
        return true;
    }

    /// <summary>Writes the refusal and returns the exception for the caller to throw.</summary>
    private static async Task<HttpConnectHandshakeException> RefuseAsync(Stream client, HttpStatusLine status, string why, CancellationToken ct, string? extraField = null)
    {
        await WriteResponseAsync(client, status.Status, status.Reason, extraField, ct).ConfigureAwait(false);
        return new HttpConnectHandshakeException(why, status.Status);
    }

    /// <summary>Client text bound for an exception message: short, and without control characters.</summary>
    private static string Printable(string text)
    {
        var shown = text.Length > 40 ? text[..40] + "…" : text;
        return "'" + new string(shown.Select(c => c is < ' ' or > '~' ? '?' : c).ToArray()) + "'";
    }
}

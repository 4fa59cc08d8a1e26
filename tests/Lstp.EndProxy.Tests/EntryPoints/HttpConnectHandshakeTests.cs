using System.Text;
using Lstp.EndProxy.EntryPoints;

namespace Lstp.EndProxy.Tests.EntryPoints;

public class HttpConnectHandshakeTests
{
    private static readonly EntryPointCredentials Alice = new("alice", "s3cret");

    private static byte[] Ascii(string text) => Encoding.Latin1.GetBytes(text);

    private static string Basic(string userColonPassword) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(userColonPassword));

    private static async Task<string> ResponseAsync(LoopbackPair pair) =>
        Encoding.ASCII.GetString(await pair.ServerClosesAndClientReadsRestAsync());

    [Theory]
    [InlineData("CONNECT db.corp.example:443 HTTP/1.1\r\nHost: db.corp.example:443\r\n\r\n", "db.corp.example", 443)]
    [InlineData("CONNECT 10.0.0.1:22 HTTP/1.0\r\n\r\n", "10.0.0.1", 22)]
    [InlineData("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n", "2001:db8::1", 8443)]
    [InlineData("CONNECT db:5432 HTTP/1.1\nHost: db:5432\n\n", "db", 5432)]
    [InlineData("\r\nCONNECT db:5432 HTTP/1.1\r\n\r\n", "db", 5432)]
    public async Task A_CONNECT_request_is_read_and_the_bytes_after_the_head_stay_in_the_stream(string head, string host, int port)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        // Application bytes that themselves look like line ends: a reader that over-reads would swallow them.
        var application = Ascii("\r\n\r\n\x16\x03\x01hello");
        await pair.ClientSendsAsync([.. Ascii(head), .. application]);

        var request = await HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout);

        Assert.Equal(new HttpConnectRequest(host, port), request);
        Assert.Equal(application, await pair.ServerReadsAsync(application.Length));
    }

    [Fact]
    public async Task WriteResponse_200_starts_the_tunnel_with_no_header_fields()
    {
        await using var pair = await LoopbackPair.OpenAsync();

        await HttpConnectHandshake.WriteResponseAsync(pair.Server, 200, "Connection Established", pair.Timeout);

        Assert.Equal("HTTP/1.1 200 Connection Established\r\n\r\n", await ResponseAsync(pair));
    }

    [Theory]
    [InlineData(403, "Forbidden")]
    [InlineData(502, "Bad Gateway")]
    [InlineData(504, "Gateway Timeout")]
    public async Task WriteResponse_refusal_closes_the_connection(int status, string reason)
    {
        await using var pair = await LoopbackPair.OpenAsync();

        await HttpConnectHandshake.WriteResponseAsync(pair.Server, status, reason, pair.Timeout);

        Assert.Equal($"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", await ResponseAsync(pair));
    }

    [Fact]
    public async Task WriteResponse_refuses_a_reason_that_would_inject_a_header()
    {
        await using var pair = await LoopbackPair.OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() =>
            HttpConnectHandshake.WriteResponseAsync(pair.Server, 403, "Forbidden\r\nSet-Cookie: x", pair.Timeout));
    }

    [Theory]
    [InlineData("GET http://db/ HTTP/1.1\r\nHost: db\r\n\r\n")]
    [InlineData("connect db:443 HTTP/1.1\r\n\r\n")]
    public async Task Other_methods_get_405_with_Allow_CONNECT(string head)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii(head));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(405, error.StatusSent);
        var response = await ResponseAsync(pair);
        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed\r\n", response);
        Assert.Contains("\r\nAllow: CONNECT\r\n", response);
    }

    [Theory]
    [InlineData("Proxy-Authorization: Basic YWxpY2U6czNjcmV0")]
    [InlineData("proxy-authorization:basic YWxpY2U6czNjcmV0")]
    public async Task Right_Basic_credentials_are_accepted(string field)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii($"CONNECT db:443 HTTP/1.1\r\n{field}\r\n\r\n"));

        var request = await HttpConnectHandshake.ReadRequestAsync(pair.Server, Alice, pair.Timeout);

        Assert.Equal(new HttpConnectRequest("db", 443), request);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("alice:wrong")]
    [InlineData("bob:s3cret")]
    [InlineData("alice")]
    [InlineData("alice:s3cret:")]
    public async Task Missing_or_wrong_credentials_get_407_with_a_Basic_challenge(string? userColonPassword)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var field = userColonPassword is null ? "" : $"Proxy-Authorization: {Basic(userColonPassword)}\r\n";
        await pair.ClientSendsAsync(Ascii($"CONNECT db:443 HTTP/1.1\r\n{field}\r\n"));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, Alice, pair.Timeout));

        Assert.Equal(407, error.StatusSent);
        var response = await ResponseAsync(pair);
        Assert.StartsWith("HTTP/1.1 407 Proxy Authentication Required\r\n", response);
        Assert.Contains("\r\nProxy-Authenticate: Basic realm=\"lstp\"\r\n", response);
    }

    [Theory]
    [InlineData("Proxy-Authorization: Bearer YWxpY2U6czNjcmV0")]
    [InlineData("Proxy-Authorization: Basic not-base64!")]
    public async Task Credentials_in_another_scheme_or_not_base64_get_407(string field)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii($"CONNECT db:443 HTTP/1.1\r\n{field}\r\n\r\n"));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, Alice, pair.Timeout));

        Assert.Equal(407, error.StatusSent);
    }

    [Fact]
    public async Task A_head_of_exactly_the_limit_is_accepted()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var head = Padded("CONNECT db:443 HTTP/1.1\r\n", HttpConnectHandshake.MaxHeaderBytes);
        await pair.ClientSendsAsync(Ascii(head));

        var request = await HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout);

        Assert.Equal(HttpConnectHandshake.MaxHeaderBytes, head.Length);
        Assert.Equal(443, request.Port);
    }

    [Fact]
    public async Task A_head_one_byte_over_the_limit_gets_431()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii(Padded("CONNECT db:443 HTTP/1.1\r\n", HttpConnectHandshake.MaxHeaderBytes + 1)));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(431, error.StatusSent);
        Assert.StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n", await ResponseAsync(pair));
    }

    [Fact]
    public async Task A_head_that_never_ends_gets_431_without_waiting_for_more()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii("CONNECT db:443 HTTP/1.1\r\nX: " + new string('a', 20_000)));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(431, error.StatusSent);
    }

    [Theory]
    [InlineData("CONNECT db.corp.example HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT db:0 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT db:65536 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT ::1:443 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT [::1] HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT [db]:443 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT  db:443 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT db:443\r\n\r\n")]
    [InlineData("CONNECT db:443 HTTP/1.1\r\nNo colon here\r\n\r\n")]
    [InlineData("CONNECT db:443 HTTP/1.1\r\nHost : db\r\n\r\n")]
    [InlineData("CONNECT db:443 HTTP/1.1\r\nHost: db\r\n folded\r\n\r\n")]
    [InlineData("\u0016\u0003\u0001\u0000\n\n")]
    public async Task A_malformed_request_gets_400(string head)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii(head));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(400, error.StatusSent);
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", await ResponseAsync(pair));
    }

    [Fact]
    public async Task Two_Proxy_Authorization_fields_get_400()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var field = $"Proxy-Authorization: {Basic("alice:s3cret")}\r\n";
        await pair.ClientSendsAsync(Ascii($"CONNECT db:443 HTTP/1.1\r\n{field}{field}\r\n"));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, Alice, pair.Timeout));

        Assert.Equal(400, error.StatusSent);
    }

    [Theory]
    [InlineData("HTTP/2.0")]
    [InlineData("HTTP/1.2")]
    [InlineData("SIP/2.0")]
    public async Task A_version_other_than_HTTP_1_gets_505(string version)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii($"CONNECT db:443 {version}\r\n\r\n"));

        var error = await Assert.ThrowsAsync<HttpConnectHandshakeException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(505, error.StatusSent);
    }

    [Fact]
    public async Task A_client_that_leaves_mid_head_ends_the_handshake_with_end_of_stream()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Ascii("CONNECT db:443 HTTP/1.1\r\n"));
        pair.Client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        await Assert.ThrowsAsync<EndOfStreamException>(() => HttpConnectHandshake.ReadRequestAsync(pair.Server, null, pair.Timeout));
    }

    /// <summary>A request head of exactly <paramref name="length"/> bytes: the request line, one padding field, the empty line.</summary>
    private static string Padded(string requestLine, int length)
    {
        var fixedPart = requestLine.Length + "X-Pad: \r\n\r\n".Length;
        return $"{requestLine}X-Pad: {new string('a', length - fixedPart)}\r\n\r\n";
    }
}

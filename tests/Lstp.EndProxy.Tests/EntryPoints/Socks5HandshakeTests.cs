using System.Net;
using System.Text;
using Lstp.EndProxy.EntryPoints;

namespace Lstp.EndProxy.Tests.EntryPoints;

public class Socks5HandshakeTests
{
    private static readonly byte[] GreetingNoAuth = [5, 1, 0];
    private static readonly byte[] ApplicationBytes = "\x16\x03\x01hello"u8.ToArray();
    private static readonly EntryPointCredentials Alice = new("alice", "s3cret");

    private static byte[] Connect(byte addressType, byte[] address, int port, byte command = 1) =>
        [5, command, 0, addressType, .. address, (byte)(port >> 8), (byte)port];

    private static byte[] Domain(string name) => [(byte)name.Length, .. Encoding.ASCII.GetBytes(name)];

    private static byte[] UserPass(string user, string password) =>
        [1, (byte)user.Length, .. Encoding.UTF8.GetBytes(user), (byte)password.Length, .. Encoding.UTF8.GetBytes(password)];

    [Theory]
    [InlineData(Socks5AddressType.IPv4, "10.0.0.1", 443)]
    [InlineData(Socks5AddressType.IPv6, "2001:db8::1", 22)]
    [InlineData(Socks5AddressType.DomainName, "db.corp.example", 5432)]
    [InlineData(Socks5AddressType.DomainName, "10.0.0.1", 65535)]
    public async Task A_CONNECT_request_is_read_and_the_application_bytes_behind_it_stay_in_the_stream(byte addressType, string host, int port)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var address = addressType == Socks5AddressType.DomainName ? Domain(host) : IPAddress.Parse(host).GetAddressBytes();
        await pair.ClientSendsAsync([.. GreetingNoAuth, .. Connect(addressType, address, port), .. ApplicationBytes]);

        var request = await Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout);

        Assert.Equal(new Socks5Request(host, port, addressType), request);
        Assert.Equal([5, 0], await pair.ClientReadsAsync(2));
        Assert.Equal(ApplicationBytes, await pair.ServerReadsAsync(ApplicationBytes.Length));
    }

    [Fact]
    public async Task Username_and_password_that_match_are_accepted()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync([5, 2, 0, 2, .. UserPass("alice", "s3cret"), .. Connect(1, [10, 0, 0, 1], 443)]);

        var request = await Socks5Handshake.ReadRequestAsync(pair.Server, Alice, pair.Timeout);

        Assert.Equal("10.0.0.1", request.Host);
        Assert.Equal([5, 2, 1, 0], await pair.ClientReadsAsync(4));
    }

    [Theory]
    [InlineData("alice", "wrong")]
    [InlineData("bob", "s3cret")]
    [InlineData("alice", "s3cret-and-more")]
    [InlineData("", "")]
    public async Task Wrong_username_or_password_gets_failure_status_and_throws(string user, string password)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync([5, 1, 2, .. UserPass(user, password)]);

        var error = await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, Alice, pair.Timeout));

        Assert.Equal("wrong username or password", error.Message);
        Assert.Equal([5, 2, 1, 1], await pair.ServerClosesAndClientReadsRestAsync());
    }

    [Fact]
    public async Task A_client_without_credentials_is_refused_when_the_entry_point_requires_them()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(GreetingNoAuth);

        await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, Alice, pair.Timeout));

        Assert.Equal([5, 0xFF], await pair.ServerClosesAndClientReadsRestAsync());
    }

    [Fact]
    public async Task A_client_offering_only_username_and_password_is_refused_when_none_is_configured()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync([5, 1, 2]);

        await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal([5, 0xFF], await pair.ServerClosesAndClientReadsRestAsync());
    }

    [Theory]
    [InlineData(2)] // BIND
    [InlineData(3)] // UDP ASSOCIATE
    [InlineData(9)]
    public async Task Commands_other_than_CONNECT_get_command_not_supported(byte command)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync([.. GreetingNoAuth, .. Connect(1, [10, 0, 0, 1], 443, command)]);

        var error = await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(Socks5Reply.CommandNotSupported, error.ReplySent);
        Assert.Equal([5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0], await pair.ServerClosesAndClientReadsRestAsync());
    }

    [Fact]
    public async Task An_unknown_address_type_gets_address_type_not_supported()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync([.. GreetingNoAuth, 5, 1, 0, 9]);

        var error = await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(Socks5Reply.AddressTypeNotSupported, error.ReplySent);
        Assert.Equal([5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0], await pair.ServerClosesAndClientReadsRestAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("db corp")]
    [InlineData("db\0corp")]
    [InlineData("dé.example")]
    public async Task A_domain_name_that_is_empty_or_not_printable_ASCII_gets_general_failure(string name)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var bytes = Encoding.UTF8.GetBytes(name);
        await pair.ClientSendsAsync([.. GreetingNoAuth, .. Connect(3, [(byte)bytes.Length, .. bytes], 443)]);

        var error = await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal(Socks5Reply.GeneralFailure, error.ReplySent);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("\x04\x01\x00\x50\x0a\x00\x00\x01\x00")] // SOCKS4
    public async Task A_client_that_does_not_speak_SOCKS5_is_thrown_out_without_a_reply(string garbage)
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync(Encoding.Latin1.GetBytes(garbage));

        var error = await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Null(error.ReplySent);
        Assert.StartsWith("not SOCKS5", error.Message);
        Assert.Empty(await pair.ServerClosesAndClientReadsRestAsync());
    }

    [Fact]
    public async Task A_request_with_another_version_after_a_good_greeting_is_thrown_out()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync([.. GreetingNoAuth, 4, 1, 0, 1, 10, 0, 0, 1, 1, 187]);

        var error = await Assert.ThrowsAsync<Socks5HandshakeException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout));

        Assert.Equal("not SOCKS5: the request starts with 0x04", error.Message);
    }

    [Fact]
    public async Task A_client_that_leaves_mid_request_ends_the_handshake_with_end_of_stream()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        await pair.ClientSendsAsync([.. GreetingNoAuth, 5, 1, 0, 1, 10, 0]);
        pair.Client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        await Assert.ThrowsAsync<EndOfStreamException>(() => Socks5Handshake.ReadRequestAsync(pair.Server, null, pair.Timeout));
    }

    [Theory]
    [InlineData(Socks5Reply.Succeeded, "192.168.1.9", 50000, new byte[] { 5, 0, 0, 1, 192, 168, 1, 9, 0xC3, 0x50 })]
    [InlineData(Socks5Reply.ConnectionRefused, "::ffff:192.168.1.9", 1, new byte[] { 5, 5, 0, 1, 192, 168, 1, 9, 0, 1 })]
    [InlineData(Socks5Reply.HostUnreachable, "2001:db8::2", 443, new byte[] { 5, 4, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 187 })]
    public async Task WriteReply_writes_the_code_and_the_bound_address(Socks5Reply code, string address, int port, byte[] expected)
    {
        await using var pair = await LoopbackPair.OpenAsync();

        await Socks5Handshake.WriteReplyAsync(pair.Server, code, new IPEndPoint(IPAddress.Parse(address), port), pair.Timeout);

        Assert.Equal(expected, await pair.ServerClosesAndClientReadsRestAsync());
    }

    [Fact]
    public async Task WriteReply_without_a_bound_address_says_all_zeros()
    {
        await using var pair = await LoopbackPair.OpenAsync();

        await Socks5Handshake.WriteReplyAsync(pair.Server, Socks5Reply.NotAllowedByRuleset, null, pair.Timeout);

        Assert.Equal([5, 2, 0, 1, 0, 0, 0, 0, 0, 0], await pair.ServerClosesAndClientReadsRestAsync());
    }
}

using System.Net;
using System.Net.Sockets;
using Lstp.EndProxy.Helpers;
using Lstp.Testing;
using Lstp.Tunnel.Channels;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Helpers;

/// <summary>The FTP helper's relay for one control connection, checked line by line with no tunnel behind it.</summary>
public sealed class FtpControlRelayTests(ITestOutputHelper output)
{
    private Task<RelayHarness> StartAsync() => RelayHarness.StartAsync(new TestLog(output));

    private static async Task<Socket> ConnectAsync(IPEndPoint to, string from = "127.0.0.1")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await socket.ConnectAsync(to);
        return socket;
    }

    private static string PortArgument(IPEndPoint at) => $"{string.Join(',', at.Address.GetAddressBytes())},{at.Port >> 8},{at.Port & 0xFF}";

    [Fact]
    public async Task Passive_reply_is_rewritten_to_a_local_port_whose_connection_becomes_a_data_channel_to_the_servers_port()
    {
        await using var relay = await StartAsync();
        await relay.Client.SendAsync("PASV\r\n");
        Assert.Equal("PASV\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("227 Entering Passive Mode (192,0,2,10,195,80).\r\n");

        var reply = await relay.Client.ReadLineAsync();
        Assert.True(FtpAddresses.TryParsePassiveReply(reply, out var offered), reply);
        Assert.Equal(IPAddress.Loopback, offered.Address);
        Assert.NotEqual(50000, offered.Port);

        using var data = await ConnectAsync(offered);
        var channel = await relay.Channels.NextDataAsync();
        Assert.Equal(50000, channel.Port);
        Assert.Equal(data.LocalEndPoint, channel.Local.RemoteEndPoint);
    }

    [Fact]
    public async Task Extended_passive_reply_split_across_reads_is_rewritten_to_a_local_port()
    {
        await using var relay = await StartAsync();
        await relay.Client.SendAsync("EPSV\r\n");
        Assert.Equal("EPSV\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("229 Entering Extended Pas");
        await Task.Delay(50);
        await relay.Server.SendAsync("sive Mode (|||50001|)\r\n");

        var reply = await relay.Client.ReadLineAsync();
        Assert.True(FtpAddresses.TryParseExtendedPassiveReply(reply, out var offered), reply);
        Assert.NotEqual(50001, offered);

        using var data = await ConnectAsync(new IPEndPoint(IPAddress.Loopback, offered));
        Assert.Equal(50001, (await relay.Channels.NextDataAsync()).Port);
    }

    [Fact]
    public async Task Passive_port_takes_only_the_ftp_clients_own_connection()
    {
        await using var relay = await StartAsync();
        await relay.Client.SendAsync("EPSV\r\n");
        await relay.Server.ReadLineAsync();
        await relay.Server.SendAsync("229 Entering Extended Passive Mode (|||50001|)\r\n");
        Assert.True(FtpAddresses.TryParseExtendedPassiveReply(await relay.Client.ReadLineAsync(), out var offered));

        using var stranger = await ConnectAsync(new IPEndPoint(IPAddress.Loopback, offered), from: "127.0.0.3");
        Assert.Equal(0, await stranger.ReceiveAsync(new byte[1], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(relay.Channels.Data.Reader.TryPeek(out _));

        using var client = await ConnectAsync(new IPEndPoint(IPAddress.Loopback, offered));
        Assert.Equal(50001, (await relay.Channels.NextDataAsync()).Port);
    }

    [Theory]
    [InlineData("PORT", "PASV", "227 Entering Passive Mode (192,0,2,10,195,82).\r\n")]
    [InlineData("EPRT", "EPSV", "229 Entering Extended Passive Mode (|||50002|)\r\n")]
    public async Task Active_command_reaches_the_server_as_passive_mode_and_the_data_channel_connects_to_the_clients_port(string verb, string sent, string serverReply)
    {
        await using var relay = await StartAsync();
        using var clientPort = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        clientPort.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        clientPort.Listen(1);
        var at = (IPEndPoint)clientPort.LocalEndPoint!;
        await relay.Client.SendAsync(verb == "PORT" ? $"PORT {PortArgument(at)}\r\n" : $"EPRT |1|127.0.0.1|{at.Port}|\r\n");

        Assert.Equal(sent + "\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync(serverReply);
        Assert.Equal($"200 {verb} command successful.\r\n", await relay.Client.ReadLineAsync());

        var channel = await relay.Channels.NextDataAsync();
        Assert.Equal(50002, channel.Port);
        Assert.False(channel.Local.Connected); // not before the server's end reached the data port
        await channel.OnOutcome!(ChannelOutcome.Success);
        using var accepted = await clientPort.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(channel.Local.LocalEndPoint, accepted.RemoteEndPoint);
    }

    [Fact]
    public async Task A_transfers_final_reply_waits_for_the_clients_active_data_connection()
    {
        // The server went passive, so it may finish the transfer before the client's active port is connected; a
        // client in active mode that reads "226" before its data connection arrives fails the transfer (curl: 8).
        await using var relay = await StartAsync();
        using var clientPort = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        clientPort.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        clientPort.Listen(1);
        var at = (IPEndPoint)clientPort.LocalEndPoint!;
        await relay.Client.SendAsync($"EPRT |1|127.0.0.1|{at.Port}|\r\n");
        Assert.Equal("EPSV\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("229 Entering Extended Passive Mode (|||50002|)\r\n");
        Assert.Equal("200 EPRT command successful.\r\n", await relay.Client.ReadLineAsync());
        var channel = await relay.Channels.NextDataAsync();

        await relay.Client.SendAsync("RETR blob.bin\r\n");
        Assert.Equal("RETR blob.bin\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("125 Data connection already open. Transfer starting.\r\n226 Transfer complete.\r\n");
        Assert.Equal("125 Data connection already open. Transfer starting.\r\n", await relay.Client.ReadLineAsync());
        var early = relay.Client.ReadLineAsync();
        await Task.Delay(300); // nothing to wait on: the reply must not come while the data connection does not exist
        Assert.False(early.IsCompleted, "226 reached the client before its active data connection");

        await channel.OnOutcome!(ChannelOutcome.Success);
        using var accepted = await clientPort.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("226 Transfer complete.\r\n", await early);
    }

    [Fact]
    public async Task Replies_keep_their_commands_order_when_the_client_sends_two_commands_in_one_write()
    {
        await using var relay = await StartAsync();
        await relay.Client.SendAsync("TYPE I\r\nEPRT |1|127.0.0.1|40000|\r\nSIZE blob.bin\r\n");
        Assert.Equal("TYPE I\r\n", await relay.Server.ReadLineAsync());
        Assert.Equal("EPSV\r\n", await relay.Server.ReadLineAsync());
        Assert.Equal("SIZE blob.bin\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("200 Type set to: Binary.\r\n229 Entering Extended Passive Mode (|||50003|)\r\n213 3000000\r\n");

        Assert.Equal("200 Type set to: Binary.\r\n", await relay.Client.ReadLineAsync());
        Assert.Equal("200 EPRT command successful.\r\n", await relay.Client.ReadLineAsync());
        Assert.Equal("213 3000000\r\n", await relay.Client.ReadLineAsync());
    }

    [Fact]
    public async Task Multi_line_reply_passes_unchanged_and_the_next_reply_is_still_matched_to_its_command()
    {
        await using var relay = await StartAsync();
        await relay.Client.SendAsync("FEAT\r\n");
        await relay.Server.ReadLineAsync();
        string[] feat = ["211-Features supported:\r\n", " EPRT\r\n", "227 not a reply, just text\r\n", "211 End FEAT.\r\n"];
        await relay.Server.SendAsync(string.Concat(feat));
        foreach (var line in feat) Assert.Equal(line, await relay.Client.ReadLineAsync());

        await relay.Client.SendAsync("PORT 127,0,0,1,156,64\r\n");
        Assert.Equal("PASV\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("227 Entering Passive Mode (192,0,2,10,195,84).\r\n");
        Assert.Equal("200 PORT command successful.\r\n", await relay.Client.ReadLineAsync());
        Assert.Equal(50004, (await relay.Channels.NextDataAsync()).Port);
    }

    [Theory]
    [InlineData("PORT 10,9,9,9,4,1\r\n", "501 PORT must name your own address.\r\n")]
    [InlineData("EPRT |1|10.9.9.9|1025|\r\n", "501 EPRT must name your own address.\r\n")]
    [InlineData("PORT 127,0,0,1,4\r\n", "501 Syntax error in PORT argument.\r\n")]
    [InlineData("AUTH TLS\r\n", "502 AUTH is not available through the LSTP FTP helper, which must read the control connection.\r\n")]
    [InlineData("LPRT 4,4,127,0,0,1,2,4,1\r\n", "502 LPRT is not available through the LSTP FTP helper; use PASV, EPSV, PORT or EPRT.\r\n")]
    public async Task Refused_command_reaches_the_server_as_NOOP_and_the_client_hears_why(string command, string answer)
    {
        await using var relay = await StartAsync();
        await relay.Client.SendAsync(command);
        Assert.Equal("NOOP\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("200 I successfully done nothin'.\r\n");
        Assert.Equal(answer, await relay.Client.ReadLineAsync());
        Assert.False(relay.Channels.Data.Reader.TryPeek(out _));
    }

    [Fact]
    public async Task Server_that_refuses_passive_mode_answers_the_clients_active_command_with_its_refusal()
    {
        await using var relay = await StartAsync();
        await relay.Client.SendAsync("EPRT |1|127.0.0.1|40000|\r\n");
        Assert.Equal("EPSV\r\n", await relay.Server.ReadLineAsync());
        await relay.Server.SendAsync("500 Command \"EPSV\" not understood.\r\n");
        Assert.Equal("500 Command \"EPSV\" not understood.\r\n", await relay.Client.ReadLineAsync());
        Assert.False(relay.Channels.Data.Reader.TryPeek(out _));
    }

    [Fact]
    public async Task Server_saying_goodbye_closes_the_control_connection_on_both_sides()
    {
        var relay = await StartAsync();
        await using var _ = relay;
        await relay.Client.SendAsync("QUIT\r\n");
        await relay.Server.ReadLineAsync();
        await relay.Server.SendAsync("221 Goodbye.\r\n");
        relay.Server.Socket.Shutdown(SocketShutdown.Send);

        Assert.Equal("221 Goodbye.\r\n", await relay.Client.ReadLineAsync());
        Assert.Null(await relay.Client.ReadLineAsync());
        relay.Client.Socket.Shutdown(SocketShutdown.Send);
        Assert.Null(await relay.Server.ReadLineAsync());
        await relay.Relaying.WaitAsync(TimeSpan.FromSeconds(5));
    }
}

using System.Net;
using Lstp.EndProxy.Helpers;
using Xunit;

namespace Lstp.Scenarios.Helpers;

/// <summary>Reading and writing the four FTP data-address forms (227, 229, PORT, EPRT).</summary>
public sealed class FtpAddressTests
{
    [Theory]
    [InlineData("227 Entering Passive Mode (192,0,2,10,195,80).\r\n", "192.0.2.10", 50000)]
    [InlineData("227 Entering passive mode (127,0,0,1,4,1).\r\n", "127.0.0.1", 1025)]
    [InlineData("227 =10,1,2,3,200,13\r\n", "10.1.2.3", 51213)]
    [InlineData("227 Entering Passive Mode 10,1,2,3,0,21\r\n", "10.1.2.3", 21)]
    [InlineData("227 Entering Passive Mode (10, 1, 2, 3, 195, 80)\r\n", "10.1.2.3", 50000)]
    public void Passive_reply_in_any_common_wording_gives_the_servers_address_and_port(string line, string host, int port)
    {
        Assert.True(FtpAddresses.TryParsePassiveReply(line, out var endPoint));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(host), port), endPoint);
    }

    [Theory]
    [InlineData("227 Entering Passive Mode (192,0,2,10,195)\r\n")]
    [InlineData("227 Entering Passive Mode (192,0,2,256,195,80)\r\n")]
    [InlineData("227 Entering Passive Mode (192,0,2,10,0,0)\r\n")]
    [InlineData("227 Entering Passive Mode\r\n")]
    [InlineData("228 Entering Long Passive Mode (192,0,2,10,195,80)\r\n")]
    [InlineData("227 Entering Passive Mode (1920,0,2,10,195,80)\r\n")]
    public void Passive_reply_that_is_malformed_is_not_read(string line) =>
        Assert.False(FtpAddresses.TryParsePassiveReply(line, out _));

    [Fact]
    public void Passive_reply_written_for_a_local_port_reads_back_the_same()
    {
        var written = FtpAddresses.PassiveReply(new IPEndPoint(IPAddress.Loopback, 40123));
        Assert.Equal("227 Entering Passive Mode (127,0,0,1,156,187).\r\n", written);
        Assert.True(FtpAddresses.TryParsePassiveReply(written, out var back));
        Assert.Equal(40123, back.Port);
    }

    [Theory]
    [InlineData("229 Entering Extended Passive Mode (|||50001|)\r\n", 50001)]
    [InlineData("229 Entering extended passive mode (|||6446|).\r\n", 6446)]
    [InlineData("229 EPSV ok (!!!65535!)\r\n", 65535)]
    public void Extended_passive_reply_gives_the_port_whatever_the_delimiter(string line, int port)
    {
        Assert.True(FtpAddresses.TryParseExtendedPassiveReply(line, out var read));
        Assert.Equal(port, read);
    }

    [Theory]
    [InlineData("229 Entering Extended Passive Mode (|||0|)\r\n")]
    [InlineData("229 Entering Extended Passive Mode (|||65536|)\r\n")]
    [InlineData("229 Entering Extended Passive Mode (||50001|)\r\n")]
    [InlineData("229 Entering Extended Passive Mode (|1|50001|)\r\n")]
    [InlineData("229 Entering Extended Passive Mode |||50001|\r\n")]
    [InlineData("229 Entering Extended Passive Mode (111500011)\r\n")]
    [InlineData("227 Entering Extended Passive Mode (|||50001|)\r\n")]
    public void Extended_passive_reply_that_is_malformed_is_not_read(string line) =>
        Assert.False(FtpAddresses.TryParseExtendedPassiveReply(line, out _));

    [Fact]
    public void Extended_passive_reply_written_for_a_local_port_reads_back_the_same()
    {
        var written = FtpAddresses.ExtendedPassiveReply(40123);
        Assert.Equal("229 Entering Extended Passive Mode (|||40123|)\r\n", written);
        Assert.True(FtpAddresses.TryParseExtendedPassiveReply(written, out var back));
        Assert.Equal(40123, back);
    }

    [Theory]
    [InlineData("127,0,0,1,222,253", "127.0.0.1", 57085)]
    [InlineData(" 10,0,0,7,4,0 ", "10.0.0.7", 1024)]
    public void Port_command_gives_the_clients_address_and_port(string argument, string host, int port)
    {
        Assert.True(FtpAddresses.TryParsePortCommand(argument, out var endPoint));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(host), port), endPoint);
    }

    [Theory]
    [InlineData("127,0,0,1,222")]
    [InlineData("127,0,0,1,222,253,7")]
    [InlineData("127,0,0,1,222,253)")]
    [InlineData("127,0,0,300,1,1")]
    [InlineData("a,b,c,d,e,f")]
    [InlineData("")]
    public void Port_command_that_is_malformed_is_not_read(string argument) =>
        Assert.False(FtpAddresses.TryParsePortCommand(argument, out _));

    [Theory]
    [InlineData("|1|132.235.1.2|6275|", "132.235.1.2", 6275)]
    [InlineData("|2|1080::8:800:200C:417A|5282|", "1080::8:800:200C:417A", 5282)]
    [InlineData("|2|::1|40000|", "::1", 40000)]
    [InlineData("!1!127.0.0.1!40001!", "127.0.0.1", 40001)]
    public void Extended_port_command_gives_the_clients_IPv4_or_IPv6_address_and_port(string argument, string host, int port)
    {
        Assert.True(FtpAddresses.TryParseExtendedPortCommand(argument, out var endPoint));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(host), port), endPoint);
    }

    [Theory]
    [InlineData("|1|::1|40000|")]            // family 1 with an IPv6 address
    [InlineData("|2|127.0.0.1|40000|")]      // family 2 with an IPv4 address
    [InlineData("|3|127.0.0.1|40000|")]      // no such family
    [InlineData("|1|127.0.0.1|0|")]
    [InlineData("|1|127.0.0.1|70000|")]
    [InlineData("|1|127.0.0.1|40000")]
    [InlineData("|1|127.0.0.1|40000|extra|")]
    [InlineData("|1|example.com|40000|")]
    public void Extended_port_command_that_is_malformed_is_not_read(string argument) =>
        Assert.False(FtpAddresses.TryParseExtendedPortCommand(argument, out _));
}

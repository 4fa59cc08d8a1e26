using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.EndProxy.Helpers;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Helpers;

/// <summary>
/// The real curl downloads from a real FTP server (pyftpdlib) through a whole tunnel on loopback, in passive and in
/// active mode, with <c>--helper files=ftp</c> on the client end. The server is on 127.0.0.2 (corp A) and announces
/// 192.0.2.10; curl and the forward are on 127.0.0.1 (corp B), so a data connection that bypassed the tunnel would
/// find nothing listening.
/// </summary>
public sealed class FtpThroughTunnelTests(ITestOutputHelper output)
{
    private const int Size = 3 * 1024 * 1024 + 17;

    private async Task<TunnelRig> StartAsync(PyFtpServer ftp, bool helper = true)
    {
        var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string> { ["files"] = ftp.Address },
            client: o => helper ? o with { Helpers = [HelperSpec.Parse("files=ftp")] } : o);
        await rig.OpenAsync();
        return rig;
    }

    private async Task<(int Exit, string Sha256, string Stderr)> CurlAsync(int port, params string[] mode)
    {
        var file = Path.Combine(Path.GetTempPath(), $"lstp-ftp-{Guid.NewGuid():N}.bin");
        try
        {
            var (exit, _, stderr) = await Curl.RunAsync([.. mode, "-o", file, $"ftp://127.0.0.1:{port}/{PyFtpServer.FileName}"]);
            output.WriteLine($"curl {string.Join(' ', mode)}: exit {exit} {stderr}");
            var sha = File.Exists(file) ? Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file))) : "";
            return (exit, sha, stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static TheoryData<string, string[]> Modes => new()
    {
        { "passive, EPSV", ["--ftp-pasv"] },
        { "passive, PASV", ["--ftp-pasv", "--disable-epsv"] },
        { "active, EPRT", ["--ftp-port", "127.0.0.1"] },
        { "active, PORT", ["-P", "-", "--disable-eprt"] },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Curl_downloads_a_few_megabytes_intact_through_the_tunnel(string mode, string[] flags)
    {
        await using var ftp = await PyFtpServer.StartAsync(Size);
        await using var rig = await StartAsync(ftp);
        var (tunnel, _) = await rig.OpenAsync();

        var (exit, sha, stderr) = await CurlAsync(rig.ForwardPort("files"), flags);

        Assert.True(exit == 0, $"{mode}: curl exit {exit}: {stderr}\n{ftp.Output}");
        Assert.Equal(ftp.Sha256, sha);
        Assert.True(tunnel.Counters.BytesReceived >= Size, $"{mode}: only {tunnel.Counters.BytesReceived} bytes came through the tunnel");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Curl_downloads_twice_on_one_control_connection_with_replies_still_matched_to_commands(string mode, string[] flags)
    {
        await using var ftp = await PyFtpServer.StartAsync(256 * 1024);
        await using var rig = await StartAsync(ftp);
        var url = $"ftp://127.0.0.1:{rig.ForwardPort("files")}/{PyFtpServer.FileName}";
        var first = Path.Combine(Path.GetTempPath(), $"lstp-ftp-{Guid.NewGuid():N}.bin");
        var second = Path.Combine(Path.GetTempPath(), $"lstp-ftp-{Guid.NewGuid():N}.bin");
        try
        {
            var (exit, _, stderr) = await Curl.RunAsync([.. flags, "--verbose", "-o", first, url, "-o", second, url]);
            Assert.True(exit == 0, $"{mode}: curl exit {exit}: {stderr}");
            output.WriteLine(stderr);
            Assert.Equal(ftp.Sha256, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(first))));
            Assert.Equal(ftp.Sha256, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(second))));
            Assert.Contains("Re-using existing connection", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(first);
            File.Delete(second);
        }
    }

    /// <remarks>
    /// Passive mode fails outright: curl dials the announced port on the forward's host, where nothing listens.
    /// Active mode "works" on loopback only because the server can connect straight back to curl, which corp B's
    /// firewall would stop; either way none of the file crosses the tunnel, which is what this checks.
    /// </remarks>
    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Without_the_helper_no_download_crosses_the_tunnel_in_any_mode(string mode, string[] flags)
    {
        const int size = 512 * 1024;
        await using var ftp = await PyFtpServer.StartAsync(size);
        await using var rig = await StartAsync(ftp, helper: false);
        var (tunnel, _) = await rig.OpenAsync();

        var (exit, sha, _) = await CurlAsync(rig.ForwardPort("files"), [.. flags, "--connect-timeout", "3", "--max-time", "8"]);

        var through = exit == 0 && sha == ftp.Sha256 && tunnel.Counters.BytesReceived >= size;
        Assert.False(through, $"{mode}: the file came through the tunnel without the helper, so these scenarios prove nothing");
        if (mode.StartsWith("passive", StringComparison.Ordinal)) Assert.NotEqual(0, exit);
    }

    [Fact]
    public async Task Client_end_announces_its_helper_in_PROPERTY_EXCHANGE()
    {
        await using var ftp = await PyFtpServer.StartAsync(1024);
        await using var rig = await StartAsync(ftp);
        var (_, server) = await rig.OpenAsync();
        Assert.Equal(["ftp:files"], server.Session.PeerProperties.Helpers);
    }

    [Fact]
    public async Task Data_channel_to_a_port_no_server_announced_is_refused_as_not_allowed()
    {
        await using var ftp = await PyFtpServer.StartAsync(1024);
        await using var rig = await StartAsync(ftp);
        var (client, _) = await rig.OpenAsync();

        // The FTP server's control port listens, but no control connection announced it as a data port.
        var (mine, theirs) = await LoopbackPair.CreateAsync(CancellationToken.None);
        using var _ = mine;
        var outcome = new TaskCompletionSource<ChannelOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(client.Tell(new TunnelCommand.OpenChannel(theirs, TargetKind.Destination, "ftp-data:files", (ushort)ftp.Port,
            o => { outcome.TrySetResult(o); return ValueTask.CompletedTask; })));

        var result = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(result.Opened);
        Assert.Equal(ErrorCode.NotAllowed, result.Code);
    }

    [Fact]
    public async Task Passive_data_port_is_granted_for_one_connection_only()
    {
        await using var ftp = await PyFtpServer.StartAsync(1024);
        await using var rig = await StartAsync(ftp);
        var (client, server) = await rig.OpenAsync();

        // Log in by hand and ask for a passive port, then use the grant twice.
        using var control = await Net.ConnectAsync(rig.ForwardPort("files"));
        var lines = new LineSocket(control);
        Assert.StartsWith("220", await lines.ReadLineAsync());
        await lines.SendAsync("USER anonymous\r\n");
        Assert.StartsWith("331", await lines.ReadLineAsync());
        await lines.SendAsync("PASS guest\r\n");
        Assert.StartsWith("230", await lines.ReadLineAsync());
        await lines.SendAsync("EPSV\r\n");
        var reply = await lines.ReadLineAsync();
        Assert.True(FtpAddresses.TryParseExtendedPassiveReply(reply, out var offered), reply);

        using var first = await Net.ConnectAsync(offered);
        await Eventually.TrueAsync(() => server.ChannelCount >= 2, "the first data channel reached the server");
        var serverPort = int.Parse(rig.Log.Lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"passive data port (\d+) offered")).Last(m => m.Success).Groups[1].Value);

        var (mine, theirs) = await LoopbackPair.CreateAsync(CancellationToken.None);
        using var _ = mine;
        var outcome = new TaskCompletionSource<ChannelOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Tell(new TunnelCommand.OpenChannel(theirs, TargetKind.Destination, "ftp-data:files", (ushort)serverPort,
            o => { outcome.TrySetResult(o); return ValueTask.CompletedTask; }));
        var second = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ErrorCode.NotAllowed, second.Code);
    }
}

using System.Security.Cryptography;
using Lstp.Admin;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>
/// Closing a link loses nothing: an end closes with a FIN after its last bytes and waits for the middle's; the
/// middle says the end of stream to the other end in band (ERROR(PeerGone)) and lets it close its own link.
/// A socket closed while it holds unread bytes is reset by the kernel, which then drops what it had not yet
/// sent; both sides here keep sending to the closing one, so any such reset would cut the stream short.
/// </summary>
public sealed class LinkCloseTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_last_bytes_before_a_link_closes_arrive_even_while_the_other_end_keeps_sending()
    {
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        var secret = TunnelSecret.FromPassphrase("link close");
        var a = new EndSetup(secret, "closer", "u", Plaintext: true);
        var b = new EndSetup(secret, "reader", "u", Plaintext: true);
        var registerA = MiddleLink.RegisterAsync(TcpDialer.Instance, middle.LinkAddress, a.Info(), a.Topology("a"), null, LinkTimings.Default, TimeProvider.System, null, CancellationToken.None);
        var (relayB, _) = await MiddleLink.RegisterAsync(TcpDialer.Instance, middle.LinkAddress, b.Info(), b.Topology("b"), null, LinkTimings.Default, TimeProvider.System, null, CancellationToken.None);
        var (relayA, _) = await registerA.WaitAsync(TimeSpan.FromSeconds(10));

        // B keeps sending to A, which never reads: A's socket always holds unread bytes when it closes.
        using var stopChatter = new CancellationTokenSource();
        var chatter = Task.Run(async () =>
        {
            var noise = new byte[1024];
            try
            {
                while (!stopChatter.IsCancellationRequested)
                {
                    await relayB.WriteAsync(noise, stopChatter.Token);
                    await relayB.FlushAsync(stopChatter.Token);
                    await Task.Delay(1, stopChatter.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        });

        // A sends more than the sockets and the middle can hold while B is not yet reading, then closes at once.
        var data = RandomNumberGenerator.GetBytes(24 * 1024 * 1024);
        var send = Task.Run(async () =>
        {
            for (var offset = 0; offset < data.Length; offset += 64 * 1024)
            {
                await relayA.WriteAsync(data.AsMemory(offset, Math.Min(64 * 1024, data.Length - offset)));
            }
            await relayA.FlushAsync();
            await relayA.CloseAsync(TimeSpan.FromSeconds(10));
        });

        await Task.Delay(300);
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            int n;
            while ((n = await relayB.ReadAsync(buffer, deadline.Token)) > 0) received.Write(buffer, 0, n);
        }
        await send.WaitAsync(TimeSpan.FromSeconds(30));
        await stopChatter.CancelAsync();
        await chatter;

        Assert.True(data.AsSpan().SequenceEqual(received.ToArray()), $"received {received.Length} of {data.Length} bytes");
        Assert.Equal("closer closed its link", relayB.PeerLeft);
        await relayB.CloseAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => middle.Node.Tunnels.Count == 0 && middle.Node.Links.IsEmpty, "the middle lets both links go");
    }
}

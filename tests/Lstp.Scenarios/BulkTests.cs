using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

public sealed class BulkTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_4_MiB_echo_round_trip_is_intact()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address });
        await rig.OpenAsync();
        var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        using var client = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var send = Task.Run(async () =>
        {
            await client.SendAsync(payload, SocketFlags.None);
            client.Shutdown(SocketShutdown.Send);
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reply = await Net.ReadToEndAsync(client, cancellationToken: cts.Token);
        await send;
        Assert.Equal(payload.Length, reply.Length);
        Assert.True(payload.AsSpan().SequenceEqual(reply));
    }
}

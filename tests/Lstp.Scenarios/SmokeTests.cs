using System.Net.Sockets;
using System.Text;
using Lstp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

public sealed class SmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Echo_through_a_forward_returns_the_same_bytes()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address });
        await rig.OpenAsync();
        using var client = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var message = Encoding.UTF8.GetBytes("hello through the tunnel");
        await client.SendAsync(message, SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        var reply = await Net.ReadToEndAsync(client);
        Assert.Equal(message, reply);
    }
}

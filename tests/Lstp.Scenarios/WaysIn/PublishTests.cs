using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Admin;
using Lstp.EndProxy;
using Lstp.EndProxy.Publish;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.WaysIn;

/// <summary>The relay/agent design: an end publishes a service on a public port of the middle for plain clients.</summary>
public sealed class PublishTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Hundred_concurrent_plain_clients_through_a_published_port_get_their_data_intact_and_the_port_closes_when_the_end_leaves()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        var port = (ushort)Net.FreePort();
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions
        {
            Listen = new HostPort("127.0.0.1", 0), Admin = null, PublishRange = new PortRange(port, port), MaxConnectionsPerSecondPerSource = 1000,
        }, log);
        var end = EndProxyHost.Start(new EndOptions
        {
            Middles = [middle.LinkAddress], Secret = "publisher", Name = "agent",
            Services = [new ServiceSpec("echo", HostPort.Parse(echo.Address))],
            Publish = [new PublishSpec("echo", port)],
        }, log);
        await Eventually.TrueAsync(() => end.Publishers.Single().Published, "the middle published the port");
        Assert.Null(end.Supervisor.Current); // an end that only publishes keeps no tunnel registration

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var intact = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            var payload = RandomNumberGenerator.GetBytes(64 * 1024 + i);
            using var client = await Net.ConnectAsync(port, timeout.Token);
            // The client speaks first, before the end's data link exists: nothing it sent may be lost.
            var send = Task.Run(async () => { await client.SendAsync(payload, SocketFlags.None, timeout.Token); client.Shutdown(SocketShutdown.Send); });
            var back = await Net.ReadToEndAsync(client, cancellationToken: timeout.Token);
            await send;
            return payload.AsSpan().SequenceEqual(back);
        }));
        Assert.All(intact, Assert.True);
        Assert.Equal(0, middle.Node.Publisher.Ports.Single().PendingClients);

        await end.DisposeAsync();
        await Eventually.TrueAsync(() => middle.Node.Publisher.Ports.Count == 0, "the port is released when the end leaves");
        await Assert.ThrowsAsync<SocketException>(() => Net.ConnectAsync(port));
    }

    [Fact]
    public async Task A_port_outside_the_publish_range_is_refused_with_a_reason()
    {
        var log = new TestLog(output);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null }, log);
        await using var end = EndProxyHost.Start(new EndOptions
        {
            Middles = [middle.LinkAddress], Secret = "publisher", Name = "agent",
            Services = [new ServiceSpec("web", new HostPort("127.0.0.1", 9))],
            Publish = [new PublishSpec("web", 20001)],
        }, log);
        await Eventually.TrueAsync(() => end.Publishers.Single().LastError is not null, "the refusal reaches the end");
        Assert.Contains("publishes no ports", end.Publishers.Single().LastError, StringComparison.Ordinal);
        Assert.Empty(middle.Node.Publisher.Ports);
    }

    [Fact]
    public async Task A_data_link_that_breaks_resets_the_service_connection_instead_of_leaving_it_open()
    {
        // The service: a listener whose accepted connection the test holds, to see how it ends.
        using var service = new TcpListener(System.Net.IPAddress.Loopback, 0);
        service.Start();
        var servicePort = ((System.Net.IPEndPoint)service.LocalEndpoint).Port;
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        var port = (ushort)Net.FreePort();
        var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, PublishRange = new PortRange(port, port) }, log);
        await using var end = EndProxyHost.Start(new EndOptions
        {
            Middles = [middle.LinkAddress], Secret = "publisher", Name = "agent",
            Services = [new ServiceSpec("svc", new HostPort("127.0.0.1", servicePort))],
            Publish = [new PublishSpec("svc", port)],
        }, log);
        await Eventually.TrueAsync(() => end.Publishers.Single().Published, "the middle published the port");

        using var client = await Net.ConnectAsync(port);
        await client.SendAsync("hello"u8.ToArray(), SocketFlags.None);
        using var accepted = await service.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("hello"u8.ToArray(), await Net.ReadExactlyAsync(accepted, 5).WaitAsync(TimeSpan.FromSeconds(10)));

        // The middle dies: the data link breaks mid-connection while the service is idle, waiting for the client.
        await middle.DisposeAsync();
        var ending = await Record.ExceptionAsync(async () =>
        {
            var buffer = new byte[16];
            var n = await accepted.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Fail($"the service's connection ended with a clean end of stream ({n} bytes), not a reset");
        });
        var reset = Assert.IsType<SocketException>(ending);
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }
}

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
        await using var middle = await MiddleHost.StartAsync(PublishingMiddle(port) with { MaxConnectionsPerSecondPerSource = 1000 }, log);
        var end = await PublishAsync(middle, port, HostPort.Parse(echo.Address), "publisher", log);
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
    public async Task A_large_transfer_through_a_published_port_is_spliced_from_the_data_link_to_the_client_and_arrives_intact()
    {
        // Without TLS at the middle, the rest of each large RELAY frame on the data link goes to the client inside the
        // kernel; the frames' headers and first bytes are read and copied as before.
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        var port = (ushort)Net.FreePort();
        await using var middle = await MiddleHost.StartAsync(PublishingMiddle(port), log);
        await using var end = await PublishAsync(middle, port, HostPort.Parse(echo.Address), "spliced", log);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var payload = RandomNumberGenerator.GetBytes(32 * 1024 * 1024);
        using var client = await Net.ConnectAsync(port, timeout.Token);
        var send = Task.Run(async () => { await client.SendAsync(payload, SocketFlags.None, timeout.Token); client.Shutdown(SocketShutdown.Send); });
        var back = await Net.ReadToEndAsync(client, cancellationToken: timeout.Token);
        await send;

        Assert.True(payload.AsSpan().SequenceEqual(back), $"received {back.Length} of {payload.Length} bytes, or altered");
        var spliced = middle.Node.Metrics.BytesPublishedSpliced;
        output.WriteLine($"{spliced} of {payload.Length} bytes to the client spliced");
        Assert.InRange(spliced, payload.Length / 4, payload.Length - 1);
    }

    [Fact]
    public async Task A_data_link_that_breaks_while_the_middle_splices_resets_the_plain_client()
    {
        // The service sends more than the sockets on the way hold while the client does not read: the middle's splice
        // to the client waits for room. Then the publishing end goes away with its data link; the client, reading
        // again, must see a reset after the bytes that arrived, never a clean end of stream.
        using var service = new TcpListener(System.Net.IPAddress.Loopback, 0);
        service.Start();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        var port = (ushort)Net.FreePort();
        await using var middle = await MiddleHost.StartAsync(PublishingMiddle(port), log);
        var end = await PublishAsync(middle, port, ServiceAddress(service), "publisher", log);
        var (client, accepted) = await ConnectHeldAsync(port, service);
        using var _ = client;
        using var __ = accepted;
        var chunk = RandomNumberGenerator.GetBytes(64 * 1024);
        using var sending = new CancellationTokenSource();
        var send = Task.Run(async () =>
        {
            while (!sending.IsCancellationRequested) await accepted.SendAsync(chunk, SocketFlags.None, sending.Token);
        });
        await Eventually.TrueAsync(() => middle.Node.Metrics.SpliceRoomWaits > 0, "the middle's splice to the client waits for room");
        Assert.True(middle.Node.Metrics.BytesPublishedSpliced > 0);

        await end.DisposeAsync();
        sending.Cancel();
        var ending = await Record.ExceptionAsync(async () =>
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var buffer = new byte[64 * 1024];
            long got = 0;
            int n;
            while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0) got += n;
            Assert.Fail($"the client's connection ended with a clean end of stream after {got} bytes, not a reset");
        });
        var reset = Assert.IsType<SocketException>(ending);
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        await Record.ExceptionAsync(() => send);
    }

    [Fact]
    public async Task A_flood_of_public_clients_does_not_rate_limit_the_agent_s_own_data_links()
    {
        // The default budget of 50 new links per second per source: every public client makes the agent open a data
        // link from its own address, so without the agent's exemption most of these would be refused.
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Warning);
        var port = (ushort)Net.FreePort();
        var options = PublishingMiddle(port);
        Assert.Equal(50, options.MaxConnectionsPerSecondPerSource);
        await using var middle = await MiddleHost.StartAsync(options, log);
        await using var end = await PublishAsync(middle, port, HostPort.Parse(echo.Address), "flooded", log);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var answered = await Task.WhenAll(Enumerable.Range(0, 300).Select(async i =>
        {
            var payload = RandomNumberGenerator.GetBytes(100 + i);
            using var client = await Net.ConnectAsync(port, timeout.Token);
            await client.SendAsync(payload, SocketFlags.None, timeout.Token);
            client.Shutdown(SocketShutdown.Send);
            var back = await Net.ReadToEndAsync(client, cancellationToken: timeout.Token);
            return payload.AsSpan().SequenceEqual(back);
        }));
        Assert.Equal(300, answered.Count(a => a));
        Assert.DoesNotContain(log.Lines, l => l.Contains("RateLimited", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_published_port_is_its_owner_s_another_end_is_refused_until_the_hold_after_its_agent_left_lapses()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output);
        var port = (ushort)Net.FreePort();
        await using var middle = await MiddleHost.StartAsync(PublishingMiddle(port) with { PublishHold = TimeSpan.FromSeconds(3) }, log);
        EndProxyHost Publisher(string secret, string name) => EndProxyHost.Start(new EndOptions
        {
            Middles = [middle.LinkAddress], Secret = secret, Name = name,
            Services = [new ServiceSpec("echo", HostPort.Parse(echo.Address))],
            Publish = [new PublishSpec("echo", port)],
            BackoffMax = TimeSpan.FromMilliseconds(500),
        }, log);

        var owner = Publisher("the owner's secret", "owner");
        await Eventually.TrueAsync(() => owner.Publishers.Single().Published, "the owner published the port");
        await using (var squatter = Publisher("another secret", "squatter"))
        {
            await Eventually.TrueAsync(() => squatter.Publishers.Single().LastError?.Contains("published by another end", StringComparison.Ordinal) == true,
                "a second end with another secret is refused while the port is published");

            // The owner's agent goes (a restart, a network change): the port stays the owner's for the hold.
            await owner.DisposeAsync();
            await Eventually.TrueAsync(() => squatter.Publishers.Single().LastError?.Contains("is held for the end that published it", StringComparison.Ordinal) == true,
                "the squatter is refused during the hold");
            Assert.False(squatter.Publishers.Single().Published);
        }

        // The owner comes back within the hold, with the same secret: the port is its own again.
        await using (var back = Publisher("the owner's secret", "owner-again"))
        {
            await Eventually.TrueAsync(() => back.Publishers.Single().Published, "the owner publishes its port again");
        }

        // Once the hold after the owner left has lapsed, another end may have the port.
        await using var next = Publisher("another secret", "next");
        await Eventually.TrueAsync(() => next.Publishers.Single().Published, "another end publishes the port once the hold lapsed", TimeSpan.FromSeconds(20));
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
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        var port = (ushort)Net.FreePort();
        var middle = await MiddleHost.StartAsync(PublishingMiddle(port), log);
        await using var end = await PublishAsync(middle, port, ServiceAddress(service), "publisher", log);
        var (client, accepted) = await ConnectHeldAsync(port, service);
        using var _ = client;
        using var __ = accepted;

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

    /// <summary>An end that publishes <paramref name="service"/> (as "svc") on <paramref name="port"/> of the middle, once the port is open.</summary>
    private static async Task<EndProxyHost> PublishAsync(MiddleHost middle, ushort port, HostPort service, string secret, TestLog log)
    {
        var end = EndProxyHost.Start(new EndOptions
        {
            Middles = [middle.LinkAddress], Secret = secret, Name = "agent",
            Services = [new ServiceSpec("svc", service)],
            Publish = [new PublishSpec("svc", port)],
        }, log);
        await Eventually.TrueAsync(() => end.Publishers.Single().Published, "the middle published the port");
        return end;
    }

    /// <summary>A middle on a free loopback port that publishes on <paramref name="port"/> only, without an admin endpoint.</summary>
    private static MiddleOptions PublishingMiddle(ushort port) => new() { Listen = new HostPort("127.0.0.1", 0), Admin = null, PublishRange = new PortRange(port, port) };

    private static HostPort ServiceAddress(TcpListener service) => new("127.0.0.1", ((System.Net.IPEndPoint)service.LocalEndpoint).Port);

    /// <summary>A plain client of <paramref name="port"/> and the service's end of its connection, once "hello" went through.</summary>
    private static async Task<(Socket Client, Socket Accepted)> ConnectHeldAsync(ushort port, TcpListener service)
    {
        var client = await Net.ConnectAsync(port);
        await client.SendAsync("hello"u8.ToArray(), SocketFlags.None);
        var accepted = await service.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("hello"u8.ToArray(), await Net.ReadExactlyAsync(accepted, 5).WaitAsync(TimeSpan.FromSeconds(10)));
        return (client, accepted);
    }
}

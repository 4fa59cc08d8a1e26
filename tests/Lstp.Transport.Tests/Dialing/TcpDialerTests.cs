using System.Net;
using System.Net.Sockets;
using Lstp.Testing;
using Lstp.Transport.Dialing;
using Lstp.Transport.Tests.Support;
using Xunit;

namespace Lstp.Transport.Tests.Dialing;

public sealed class TcpDialerTests
{
    [Fact]
    public async Task Dial_Listener_RoundTripsWithNagleOff()
    {
        await using var echo = new EchoServer();

        await using var stream = await new TcpDialer(TimeSpan.FromSeconds(5)).DialAsync(echo.Target, CancellationToken.None);

        Assert.True(Assert.IsType<NetworkStream>(stream).Socket.NoDelay);
        await Echo.AssertRoundTripAsync(stream);
    }

    [Fact]
    public async Task Dial_ClosedPort_ThrowsUnreachable()
    {
        var ex = await Assert.ThrowsAsync<DialException>(() => TcpDialer.Instance.DialAsync(new HostPort("127.0.0.1", Net.FreePort()), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.Unreachable, ex.Failure);
    }

    [Fact]
    public async Task Dial_ListenerWithFullBacklog_TimesOut()
    {
        // A listener that never accepts, with its one-slot backlog taken: Linux drops further SYNs, so the connect hangs
        // as it would toward a firewall that drops, without sending anything off the machine.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var target = new HostPort("127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port);
        var fillers = new List<Socket>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                try { await filler.ConnectAsync(target.Host, target.Port).WaitAsync(TimeSpan.FromMilliseconds(500)); }
                catch (TimeoutException) { } // the backlog was already full: the state this test wants
            }

            var ex = await Assert.ThrowsAsync<DialException>(() => new TcpDialer(TimeSpan.FromMilliseconds(300)).DialAsync(target, CancellationToken.None).AsTask());

            Assert.Equal(DialFailure.Timeout, ex.Failure);
            Assert.Equal($"connecting to {target} did not complete within 0.3 s", ex.Message);
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Constructor_NonPositiveTimeout_Throws(int seconds) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TcpDialer(TimeSpan.FromSeconds(seconds)));
}

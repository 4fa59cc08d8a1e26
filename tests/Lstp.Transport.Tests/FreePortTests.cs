using System.Net;
using System.Net.Sockets;
using Lstp.Testing;
using Xunit;

namespace Lstp.Transport.Tests;

/// <summary>The port helper the process tests tell their listeners to bind.</summary>
public sealed class FreePortTests
{
    [Fact]
    public void Ports_drawn_in_one_process_are_never_handed_out_twice_and_each_can_be_bound()
    {
        // A compose test draws a dozen ports before anything binds them; 500 draws make a repeat near certain
        // for a helper that only checks the port is free at the moment it is drawn.
        var ports = Enumerable.Range(0, 500).Select(_ => Net.FreePort()).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 20000, 31999));

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, ports[^1]));
        listener.Listen();
    }
}

using Lstp.Protocol.Messages;
using Lstp.Tunnel.Session;
using Xunit;

namespace Lstp.Tunnel.Tests.Session;

/// <summary>The tunnel's one writer counts the control frames waiting in it, so a peer that never reads its answers can be cut.</summary>
public sealed class TunnelWriterTests
{
    [Fact]
    public async Task Control_frames_are_counted_while_they_wait_and_no_longer_once_written()
    {
        var writer = new TunnelWriter();
        for (var i = 0; i < 3; i++) Assert.True(writer.SendControl(new Pong((ulong)i)));
        Assert.Equal(3, writer.ControlQueued);

        writer.Complete();
        using var stream = new MemoryStream();
        await writer.RunAsync(stream, CancellationToken.None);

        Assert.Equal(0, writer.ControlQueued);
        Assert.Equal(3 * new Pong(0).ToFrame().Length, stream.Length);
    }
}

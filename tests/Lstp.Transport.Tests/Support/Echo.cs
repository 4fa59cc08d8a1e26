using System.Security.Cryptography;
using Lstp.Testing;
using Xunit;

namespace Lstp.Transport.Tests.Support;

/// <summary>Checks that a dialed stream reaches an <see cref="EchoServer"/>: random bytes come back unchanged.</summary>
public static class Echo
{
    /// <summary>Long enough for a loaded CI machine, short enough that a hung test fails instead of stalling the run.</summary>
    public static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(15);

    public static async Task AssertRoundTripAsync(Stream stream, int length = 100_000)
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var sent = RandomNumberGenerator.GetBytes(length); // more than one segment, so the proxy really relays
        var writing = stream.WriteAsync(sent, timeout.Token).AsTask();
        var received = new byte[length];
        await stream.ReadExactlyAsync(received, timeout.Token);
        await writing;
        Assert.Equal(sent, received);
    }
}

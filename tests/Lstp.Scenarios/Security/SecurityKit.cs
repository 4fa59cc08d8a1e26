using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Lstp.EndProxy;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;

namespace Lstp.Scenarios.Security;

/// <summary>Small helpers the security scenarios share.</summary>
internal static class SecurityKit
{
    /// <summary>A middle on an ephemeral loopback port, no admin endpoint.</summary>
    public static MiddleOptions LoopbackMiddle(string name = "sec-middle") =>
        new() { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = name };

    /// <summary>An end proxy's options as the rig makes them: fast backoff, one middle.</summary>
    public static EndOptions End(HostPort middle, string secret, string name) => new()
    {
        Middles = [middle],
        Secret = secret,
        Name = name,
        BackoffMin = TimeSpan.FromMilliseconds(50),
        BackoffMax = TimeSpan.FromSeconds(1),
    };

    /// <summary>
    /// A loopback source address other than 127.0.0.1 ("another host" for per-source limits). Linux routes all
    /// of 127.0.0.0/8 to the loopback interface, so no setup is needed.
    /// </summary>
    public static IPAddress Source(int lastOctet) => new([127, 0, 0, (byte)lastOctet]);

    public static readonly IReadOnlyDictionary<string, string> NoServices = new Dictionary<string, string>();

    /// <summary>Three bytes through the rig's "echo" forward come back.</summary>
    public static async Task AssertEchoAsync(TunnelRig rig, byte value, int size = 3)
    {
        var payload = Enumerable.Repeat(value, size).ToArray();
        using var client = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var send = client.SendAsync(payload, SocketFlags.None);
        Assert.Equal(payload, await Net.ReadExactlyAsync(client, size).WaitAsync(TimeSpan.FromSeconds(15)));
        await send;
    }

    /// <summary>The rig's open tunnel is the same one as before and still running: only the offending connection was closed.</summary>
    public static async Task AssertUnharmedAsync(TunnelRig rig, Tunnel.Session.Tunnel before, byte value)
    {
        Assert.Same(before, rig.Client.Supervisor.Current);
        Assert.False(before.Completion.IsCompleted, "the good tunnel was closed");
        await AssertEchoAsync(rig, value);
    }

    /// <summary>Waits until the middle holds no waiting end and no tunnel; on timeout says what it still holds.</summary>
    public static async Task AssertForgetsEverythingAsync(Lstp.Admin.MiddleHost middle, string what, TimeSpan? timeout = null)
    {
        try
        {
            await Eventually.TrueAsync(() => middle.Node.Registry.Snapshot().Count == 0 && middle.Node.Tunnels.Count == 0, what, timeout);
        }
        catch (TimeoutException)
        {
            var waiting = middle.Node.Registry.Snapshot();
            Assert.Fail($"{what}: the middle still holds {waiting.Count} waiting end(s) " +
                $"({string.Join(", ", waiting.Take(5).Select(w => $"{w.Link.EndName} from {w.Link.Remote}, closed: {w.Link.Closed.IsCancellationRequested}"))}) " +
                $"and {middle.Node.Tunnels.Count} tunnel(s)");
        }
    }

    /// <summary>Lines logged at Error or Critical: Kestrel logs an exception that escaped the link handler this way.</summary>
    public static List<string> UnhandledErrors(TestLog log) =>
        [.. log.Lines.Where(l => l.Length > 13 && (l[13..].StartsWith("Error", StringComparison.Ordinal) || l[13..].StartsWith("Critical", StringComparison.Ordinal)))];

    public static void AssertNoUnhandledErrors(TestLog log) => Assert.Empty(UnhandledErrors(log));

    /// <summary>This folder in the source tree, for the corpus when it was not copied next to the assembly.</summary>
    public static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}

using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Admin;
using Lstp.EndProxy.Connect;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>
/// A tunnel whose link breaks without SHUTDOWN resumes over a new link with its channels: the applications see
/// every byte once and in order, and no reset (docs/protocol.md §6.7).
/// </summary>
public sealed class ResumptionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Streams <paramref name="total"/> random bytes through the echo forward, checking every byte comes back.</summary>
    private static async Task EchoStreamAsync(Socket client, int total, Func<long, Task>? atHalf = null)
    {
        var data = RandomNumberGenerator.GetBytes(total);
        var sending = Task.Run(async () =>
        {
            var sent = 0;
            while (sent < total)
            {
                var n = Math.Min(16 * 1024, total - sent);
                sent += await client.SendAsync(data.AsMemory(sent, n), SocketFlags.None);
            }
        });
        var back = new byte[total];
        var got = 0;
        var half = false;
        while (got < total)
        {
            var n = await client.ReceiveAsync(back.AsMemory(got), SocketFlags.None).AsTask().WaitAsync(Patience);
            Assert.True(n > 0, $"the echo ended after {got} of {total} bytes");
            got += n;
            if (!half && got >= total / 2 && atHalf is not null)
            {
                half = true;
                await atHalf(got);
            }
        }
        await sending;
        Assert.True(data.AsSpan().SequenceEqual(back), "the echoed bytes differ from what was sent");
    }

    [Fact]
    public async Task A_link_cut_mid_stream_resumes_and_the_stream_arrives_whole()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        await using var clientPath = new ChaosProxy(middle.LinkAddress.Port);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Middles = [new HostPort("127.0.0.1", clientPath.Port)] },
            existingMiddle: middle);
        var (clientTunnel, serverTunnel) = await rig.OpenAsync();
        using var application = await Net.ConnectAsync(rig.ForwardPort("echo"));

        await EchoStreamAsync(application, 16 * 1024 * 1024, async _ =>
        {
            clientPath.Kill(); // reset, no SHUTDOWN
            await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == TunnelPhase.Resuming, "the client end resumes");
            clientPath.Revive();
        });

        Assert.False(clientTunnel.Completion.IsCompleted);
        Assert.False(serverTunnel.Completion.IsCompleted);
        Assert.Same(clientTunnel, rig.Client.Supervisor.Current);
        var state = rig.Client.Supervisor.State;
        Assert.Equal(TunnelPhase.Open, state.Phase);
        Assert.True(state.Resumptions >= 1, $"resumptions: {state.Resumptions}");
        output.WriteLine($"resumed after {state.LastResumeTook?.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task A_64_MiB_echo_stream_survives_kill_9_of_its_middle_when_the_ends_list_two()
    {
        await using var echo = new EchoServer();
        var first = Net.FreePort();
        var second = Net.FreePort();
        var forwardPort = Net.FreePort();
        var middles = $"127.0.0.1:{first},127.0.0.1:{second}";
        await using var m1 = LstpProcess.Start("middle", "--listen", $"127.0.0.1:{first}", "--admin", "off", "--name", "m1");
        await using var m2 = LstpProcess.Start("middle", "--listen", $"127.0.0.1:{second}", "--admin", "off", "--name", "m2");
        await m1.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        await m2.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        await using var server = LstpProcess.Start("end", "--middle", middles, "--secret", "resume test", "--name", "server", "--service", $"echo={echo.Address}");
        await using var client = LstpProcess.Start("end", "--middle", middles, "--secret", "resume test", "--name", "client", "--forward", $"{forwardPort}=echo");
        await client.WaitForLineAsync(l => l.Contains("tunnel to server open via client -> m1", StringComparison.Ordinal));
        try
        {
            using var application = await Net.ConnectAsync(forwardPort);
            await EchoStreamAsync(application, 64 * 1024 * 1024, async _ =>
            {
                m1.Kill(); // SIGKILL: no SHUTDOWN, no drain; both links die at once
                await client.WaitForLineAsync(l => l.Contains("resuming over a new link", StringComparison.Ordinal));
            });
            await client.WaitForLineAsync(l => l.Contains("tunnel to server resumed via 127.0.0.1:" + second, StringComparison.Ordinal));
            await server.WaitForLineAsync(l => l.Contains("tunnel to client resumed via 127.0.0.1:" + second, StringComparison.Ordinal));
            Assert.DoesNotContain(client.Lines, l => l.Contains("tunnel to server closed", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var line in client.Lines.Concat(server.Lines).Concat(m2.Lines)) output.WriteLine(line);
        }
    }
}

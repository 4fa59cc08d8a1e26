using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>The `lstp` executable as users run it: separate processes, flags, exit codes, signals.</summary>
public sealed class ProcessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_middle_and_two_end_processes_carry_16_parallel_4_MiB_connections_intact()
    {
        await using var echo = new EchoServer();
        var middlePort = Net.FreePort();
        var forwardPort = Net.FreePort();
        await using var middle = LstpProcess.Start("middle", "--listen", $"127.0.0.1:{middlePort}", "--admin", "off", "--name", "proc-middle");
        await middle.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        await using var server = LstpProcess.Start(new Dictionary<string, string> { ["LSTP__END__SECRET"] = "process test secret" },
            "end", "--middle", $"127.0.0.1:{middlePort}", "--name", "proc-server", "--service", $"echo={echo.Address}");
        await using var client = LstpProcess.Start("end", "--middle", $"127.0.0.1:{middlePort}", "--secret", "process test secret",
            "--name", "proc-client", "--forward", $"{forwardPort}=echo");
        await client.WaitForLineAsync(l => l.Contains("tunnel to proc-server open", StringComparison.Ordinal));

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            var intact = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
            {
                var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
                using var socket = await Net.ConnectAsync(forwardPort, timeout.Token);
                var send = Task.Run(async () => { await socket.SendAsync(payload, SocketFlags.None, timeout.Token); socket.Shutdown(SocketShutdown.Send); });
                var back = await Net.ReadToEndAsync(socket, cancellationToken: timeout.Token);
                await send;
                return payload.AsSpan().SequenceEqual(back);
            }));
            Assert.All(intact, Assert.True);
        }
        finally
        {
            foreach (var line in client.Lines.Concat(server.Lines).Concat(middle.Lines)) output.WriteLine(line);
        }

        // SIGTERM: the end sends SHUTDOWN and exits cleanly; its peer hears why.
        client.Terminate();
        Assert.Equal(0, await client.WaitForExitAsync());
        await server.WaitForLineAsync(l => l.Contains("peer proc-client shut the tunnel down", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_open_rate_load_generator_counts_echoed_connections_and_fails_on_a_wrong_echo()
    {
        // bench/opens reads its rates from these two; a generator that counted connections it did not check would lie.
        var echoPort = Net.FreePort();
        await using var echo = LstpProcess.Start("loadgen", "echo", "--listen", $"127.0.0.1:{echoPort}");
        await echo.WaitForLineAsync(l => l.Contains("echo listening", StringComparison.Ordinal));
        await using var opens = LstpProcess.Start("loadgen", "opens", "--target", $"127.0.0.1:{echoPort}", "--clients", "4", "--seconds", "1", "--size", "1000");
        Assert.Equal(0, await opens.WaitForExitAsync());
        var result = opens.Lines.Single(l => l.StartsWith("opens ", StringComparison.Ordinal)).Split(' ');
        Assert.True(long.Parse(result[1], System.Globalization.CultureInfo.InvariantCulture) > 0, string.Join(' ', result));
        Assert.Equal("0", result[5]);

        // A service that answers with other bytes: every connection fails, and the exit status says so.
        using var liar = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        liar.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        liar.Listen(64);
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var accepted = await liar.AcceptAsync(stop.Token);
                var buffer = new byte[1000];
                var got = 0;
                while (got < buffer.Length)
                {
                    var n = await accepted.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
                    if (n == 0) break;
                    got += n;
                }
                buffer[0] ^= 0xFF;
                await accepted.SendAsync(buffer.AsMemory(0, got), SocketFlags.None);
            }
        });
        var liarPort = ((System.Net.IPEndPoint)liar.LocalEndPoint!).Port;
        await using var fooled = LstpProcess.Start("loadgen", "opens", "--target", $"127.0.0.1:{liarPort}", "--clients", "1", "--seconds", "1", "--size", "1000");
        Assert.Equal(1, await fooled.WaitForExitAsync());
        var counted = fooled.Lines.Single(l => l.StartsWith("opens ", StringComparison.Ordinal)).Split(' ');
        Assert.Equal("0", counted[1]);
        await stop.CancelAsync();
        try { await serving; } catch (OperationCanceledException) { }
    }

    [Theory]
    [InlineData("end --middle 127.0.0.1:1", "secret is required")]
    [InlineData("end --middle nowhere --secret s", "--middle")]
    [InlineData("end --middle 127.0.0.1:1 --secret s --forward 80", "--forward '80'")]
    [InlineData("end --middle 127.0.0.1:1 --secret s --service web", "--service 'web'")]
    [InlineData("middle --listen 127.0.0.1:99999", "--listen")]
    [InlineData("middle --no-such-flag", "--no-such-flag")]
    [InlineData("end --middle 127.0.0.1:1 --secret-file /nonexistent/file", "does not exist")]
    [InlineData("middle --upstream 127.0.0.1:1 --upstream-token-file /nonexistent/file", "--upstream-token-file")]
    [InlineData("middle --upstream 127.0.0.1:1 --upstream-token t --upstream-token-file /etc/passwd", "give the upstream-token once")]
    [InlineData("end --middle 127.0.0.1:1 --secret s --socks 1080 --proxy-auth-file /nonexistent/file", "--proxy-auth-file")]
    [InlineData("end --middle 127.0.0.1:1 --secret s --socks 0.0.0.0:0", "--proxy-auth")]
    public async Task A_bad_option_exits_2_with_one_clear_line(string args, string mentions)
    {
        await using var process = LstpProcess.Start(args.Split(' '));
        Assert.Equal(2, await process.WaitForExitAsync());
        var lines = process.Lines.Where(l => l.Trim().Length > 0).ToList();
        var line = Assert.Single(lines);
        Assert.StartsWith("lstp: ", line, StringComparison.Ordinal);
        Assert.Contains(mentions, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_secret_refuses_to_start_whichever_way_it_is_given()
    {
        var empty = Path.GetTempFileName();
        try
        {
            foreach (var (env, args) in new (Dictionary<string, string>?, string[])[]
            {
                (null, ["end", "--middle", "127.0.0.1:1", "--secret", ""]),
                (null, ["end", "--middle", "127.0.0.1:1", "--secret-file", empty]),
                (new() { ["LSTP__END__SECRET"] = " " }, ["end", "--middle", "127.0.0.1:1"]),
            })
            {
                await using var process = LstpProcess.Start(env, args);
                Assert.Equal(2, await process.WaitForExitAsync());
                Assert.Contains(process.Lines, l => l.Contains("empty", StringComparison.Ordinal) || l.Contains("required", StringComparison.Ordinal));
            }
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [Fact]
    public async Task The_config_file_sets_the_same_options_and_flags_win()
    {
        await using var echo = new EchoServer();
        var middlePort = Net.FreePort();
        var forwardPort = Net.FreePort();
        var dir = Directory.CreateTempSubdirectory("lstp-config");
        var serverConfig = Path.Combine(dir.FullName, "server.conf");
        await File.WriteAllTextAsync(serverConfig, $$"""
            # The same options as the flags, keyed by flag name.
            lstp.end {
              middle = ["127.0.0.1:{{middlePort}}"]
              secret = "from the file"
              name = cfg-server
              service = ["echo={{echo.Address}}"]
            }
            akka.loglevel = WARNING
            """);
        await using var middle = LstpProcess.Start("middle", "--listen", $"127.0.0.1:{middlePort}", "--admin", "off");
        await middle.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal));
        await using var server = LstpProcess.Start("end", "--config", serverConfig, "--name", "flag-wins");
        await using var client = LstpProcess.Start("end", "--middle", $"127.0.0.1:{middlePort}", "--secret", "from the file", "--name", "cfg-client", "--forward", $"{forwardPort}=echo");
        await client.WaitForLineAsync(l => l.Contains("tunnel to flag-wins open", StringComparison.Ordinal));
        using var socket = await Net.ConnectAsync(forwardPort);
        await socket.SendAsync(new byte[] { 7 }, SocketFlags.None);
        Assert.Equal(new byte[] { 7 }, await Net.ReadExactlyAsync(socket, 1).WaitAsync(TimeSpan.FromSeconds(10)));
        dir.Delete(true);
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Lstp.Testing;

namespace Lstp.Transport.Tests.Support;

/// <summary>A real proxy binary (microsocks, tinyproxy) listening on a free loopback port for one test; killed on dispose.</summary>
public sealed class ProxyProcess : IAsyncDisposable
{
    public const string MicrosocksPath = "/usr/bin/microsocks";
    public const string TinyproxyPath = "/usr/bin/tinyproxy";

    /// <summary>Both start in milliseconds; ten seconds leaves room for a loaded two-core CI machine.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly StringBuilder _output;
    private readonly string? _workDirectory;

    private ProxyProcess(Process process, StringBuilder output, HostPort address, string? workDirectory)
    {
        _process = process;
        _output = output;
        Address = address;
        _workDirectory = workDirectory;
    }

    public HostPort Address { get; }

    /// <summary>What the proxy printed so far, for assertion messages.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>microsocks, with username/password auth required when <paramref name="user"/> is given.</summary>
    public static Task<ProxyProcess> StartMicrosocksAsync(string? user = null, string? password = null) =>
        StartAsync(MicrosocksPath, port => user is null
            ? (["-i", "127.0.0.1", "-p", $"{port}"], null)
            : (["-i", "127.0.0.1", "-p", $"{port}", "-u", user, "-P", password ?? ""], null));

    /// <summary>
    /// tinyproxy in the foreground, from a config written to a temp directory. With <paramref name="connectPorts"/>
    /// it allows CONNECT only to those ports (without, tinyproxy allows any); with <paramref name="user"/>, Basic auth.
    /// </summary>
    public static Task<ProxyProcess> StartTinyproxyAsync(IEnumerable<int>? connectPorts = null, string? user = null, string? password = null) =>
        StartAsync(TinyproxyPath, port =>
        {
            var directory = Directory.CreateTempSubdirectory("lstp-tinyproxy-").FullName;
            var config = new StringBuilder()
                .AppendLine($"Port {port}")
                .AppendLine("Listen 127.0.0.1")
                .AppendLine("Allow 127.0.0.1")
                .AppendLine("Timeout 30")
                .AppendLine("LogLevel Info");
            foreach (var connectPort in connectPorts ?? []) config.AppendLine($"ConnectPort {connectPort}");
            if (user is not null) config.AppendLine($"BasicAuth {user} {password}");
            var path = Path.Combine(directory, "tinyproxy.conf");
            File.WriteAllText(path, config.ToString());
            return (["-d", "-c", path], directory);
        });

    private static async Task<ProxyProcess> StartAsync(string binary, Func<int, (string[] Arguments, string? WorkDirectory)> configure)
    {
        if (!File.Exists(binary))
            throw new InvalidOperationException($"{binary} is missing: run scripts/install-deps.sh (as root) to install the test proxies");

        // The free port can be taken between our probe and the proxy's bind; a few attempts make that race harmless.
        const int Attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var port = Net.FreePort();
            var (arguments, workDirectory) = configure(port);
            var output = new StringBuilder();
            var process = Launch(binary, arguments, output);
            var proxy = new ProxyProcess(process, output, new HostPort("127.0.0.1", port), workDirectory);
            if (await proxy.WaitUntilListeningAsync()) return proxy;
            var printed = proxy.Output;
            await proxy.DisposeAsync();
            if (attempt == Attempts)
                throw new InvalidOperationException($"{binary} {string.Join(' ', arguments)} did not listen on port {port} within {StartTimeout}:\n{printed}");
        }
    }

    private static Process Launch(string binary, string[] arguments, StringBuilder output)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        var process = new Process { StartInfo = start };
        // Drain both pipes: tinyproxy -d logs every connection, and a full pipe would stall it.
        DataReceivedEventHandler append = (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task<bool> WaitUntilListeningAsync()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(Address.Host, Address.Port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (_workDirectory is not null) Directory.Delete(_workDirectory, recursive: true);
    }
}

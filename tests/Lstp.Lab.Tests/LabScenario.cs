using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Lstp.Lab.Tests;

/// <summary>What labnet.py transfer reported.</summary>
public sealed record TransferResult(bool Ok, long Sent, long Received, double Seconds, string? Error)
{
    public static TransferResult Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        return new TransferResult(
            root.GetProperty("ok").GetBoolean(),
            root.GetProperty("sent").GetInt64(),
            root.GetProperty("received").GetInt64(),
            root.GetProperty("seconds").GetDouble(),
            root.GetProperty("error").ValueKind == JsonValueKind.Null ? null : root.GetProperty("error").GetString());
    }

    public double MiBPerSecond => Seconds > 0 ? Received / 1048576.0 / Seconds : 0;
}

/// <summary>
/// One test's processes in the lab: two middles in the internet, an echo service in corp A, the server end in corp A
/// (through tinyproxy, HTTP CONNECT) and the client end in corp B (through microsocks, SOCKS5 with a password),
/// plus the client tools that run in corp B. Each scenario has its own ports and tunnel secret; every process's
/// output goes to tests/lab/out/logs/TEST/LABEL.log and, when the test fails, into the test output.
/// </summary>
public sealed partial class LabScenario : IAsyncDisposable
{
    private readonly List<LabProcess> _processes = [];
    private readonly ITestOutputHelper _output;
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    public LabScenario(LabFixture lab, ITestOutputHelper output, string name)
    {
        Lab = lab;
        _output = output;
        Name = name;
        var block = lab.NextPortBlock();
        MiddlePort = 7700 + block;
        ServicePort = 9000 + block;
        ForwardPort = 9100 + block;
        Secret = "lab-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        LogDirectory = Path.Combine(LabPaths.OutDirectory, "logs", name);
        if (Directory.Exists(LogDirectory)) Directory.Delete(LogDirectory, recursive: true);
        Directory.CreateDirectory(LogDirectory);
        Say($"lstp: {lab.BinaryOrigin}; middles on :{MiddlePort}, service on :{ServicePort}, forward on :{ForwardPort}; logs in {LogDirectory}");
    }

    public LabFixture Lab { get; }
    public string Name { get; }
    public int MiddlePort { get; }
    public int ServicePort { get; }
    public int ForwardPort { get; }
    public string Secret { get; }
    public string LogDirectory { get; }
    public IReadOnlyList<LabProcess> Processes => _processes;

    public static string Middle1 => LabPaths.Get("LAB_MIDDLE1");
    public static string Middle2 => LabPaths.Get("LAB_MIDDLE2");
    public static string CorpAHost => LabPaths.Get("LAB_CORPA_HOST");
    public string Middle1Address => $"{Middle1}:{MiddlePort}";
    public string Middle2Address => $"{Middle2}:{MiddlePort}";
    public string MiddleAddress(string name) => name == "m1" ? Middle1Address : Middle2Address;
    public string ServiceAddress => $"{CorpAHost}:{ServicePort}";

    /// <summary>Corp A's way out: tinyproxy, HTTP CONNECT.</summary>
    public static string ViaA => $"http://{LabPaths.Get("LAB_PROXYA_INSIDE")}:{LabPaths.Get("LAB_PROXYA_PORT")}";

    /// <summary>Corp B's way out: microsocks, SOCKS5 with username/password.</summary>
    public static string ViaB(string? password = null) =>
        $"socks5://{LabPaths.Get("LAB_PROXYB_USER")}:{password ?? LabPaths.Get("LAB_PROXYB_PASSWORD")}@{LabPaths.Get("LAB_PROXYB_INSIDE")}:{LabPaths.Get("LAB_PROXYB_PORT")}";

    /// <summary>Runs a test body; when it throws, everything the lab processes said goes to the test output first.</summary>
    public static async Task RunAsync(LabFixture lab, ITestOutputHelper output, string name, Func<LabScenario, Task> body)
    {
        await using var scenario = new LabScenario(lab, output, name);
        try
        {
            await body(scenario);
        }
        catch (Exception ex)
        {
            scenario.Say($"FAILED: {ex.GetType().Name}: {ex.Message}");
            await scenario.DumpAsync();
            throw;
        }
    }

    /// <summary>A timestamped line in the test output.</summary>
    public void Say(string text) => _output.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} [+{(DateTimeOffset.UtcNow - _started).TotalSeconds,6:0.0}s] {LabProcess.Redact(text)}");

    public LabProcess Spawn(string label, string shortNamespace, params string[] command)
    {
        var process = LabProcess.Start(label, shortNamespace, command, Path.Combine(LogDirectory, label + ".log"));
        _processes.Add(process);
        Say($"started {label} (pid {process.Pid}) in {shortNamespace}: {string.Join(' ', command)}");
        return process;
    }

    /// <summary>A middle in the internet namespace; returns once it listens.</summary>
    public async Task<LabProcess> StartMiddleAsync(string name, string? label = null)
    {
        var address = name == "m1" ? Middle1Address : Middle2Address;
        var middle = Spawn(label ?? name, "inet", Lab.LstpBinary, "middle", "--listen", address, "--name", name, "--admin", "off");
        await middle.WaitForLineAsync(new Regex($@"middle {name} listening on"), TimeSpan.FromSeconds(60), $"middle {name} listening");
        return middle;
    }

    /// <summary>Both middles, m1 and m2.</summary>
    public async Task<(LabProcess M1, LabProcess M2)> StartMiddlesAsync()
    {
        var m1 = StartMiddleAsync("m1");
        var m2 = StartMiddleAsync("m2");
        return (await m1, await m2);
    }

    /// <summary>The application server in corp A: an echo service.</summary>
    public async Task<LabProcess> StartEchoServiceAsync()
    {
        var echo = Spawn("echo-service", "corpa", "python3", LabPaths.NetTool, "echo-server", CorpAHost, ServicePort.ToString(CultureInfo.InvariantCulture));
        await echo.WaitForLineAsync(new Regex("^listening"), TimeSpan.FromSeconds(30), "the echo service listening");
        return echo;
    }

    /// <summary>Corp A's end: offers the echo service, dials the middles through tinyproxy.</summary>
    public LabProcess StartServerEnd(string? via = null, string label = "end-a", IEnumerable<string>? middles = null, IEnumerable<string>? extra = null) =>
        Spawn(label, "corpa", [Lab.LstpBinary, "end",
            "--middle", string.Join(',', middles ?? [Middle1Address, Middle2Address]),
            "--via", via ?? ViaA,
            "--secret", Secret, "--name", label,
            "--service", $"echo={ServiceAddress}", .. extra ?? []]);

    /// <summary>Corp B's end: a local forward to the peer's echo service, dials the middles through microsocks.</summary>
    public LabProcess StartClientEnd(string? via = null, string label = "end-b", IEnumerable<string>? middles = null, IEnumerable<string>? extra = null) =>
        Spawn(label, "corpb", [Lab.LstpBinary, "end",
            "--middle", string.Join(',', middles ?? [Middle1Address, Middle2Address]),
            "--via", via ?? ViaB(),
            "--secret", Secret, "--name", label,
            "--forward", $"127.0.0.1:{ForwardPort}=echo", .. extra ?? []]);

    [GeneratedRegex(@"tunnel to (?<peer>\S+) open via (?<path>.+?) \((?<security>[^)]+)\)")]
    public static partial Regex TunnelOpen();

    /// <summary>A broken link replaced and the same tunnel carried on over it (docs/protocol.md §6.7).</summary>
    [GeneratedRegex(@"tunnel to (?<peer>\S+) resumed via (?<path>.+?) after (?<ms>\d+) ms")]
    public static partial Regex TunnelResumed();

    /// <summary>Waits until <paramref name="end"/> logs its tunnel resumed (after <paramref name="after"/>); returns the middle it now runs through.</summary>
    public async Task<string> WaitForResumeAsync(LabProcess end, TimeSpan timeout, DateTimeOffset? after = null)
    {
        var line = await end.WaitForLineAsync(TunnelResumed(), timeout, "the tunnel to resume", after);
        var match = TunnelResumed().Match(line.Text);
        var path = match.Groups["path"].Value.Split(" -> ");
        Say($"{end.Label}: tunnel resumed via {string.Join(" -> ", path)} after {match.Groups["ms"].Value} ms");
        return path.Length >= 3 ? path[1] : "?";
    }

    /// <summary>The supervisor giving up on a tunnel (or a dial) and scheduling the next attempt.</summary>
    [GeneratedRegex(@"tunnel down: ")]
    public static partial Regex TunnelDown();

    /// <summary>Any sign that an end noticed its tunnel is gone: the tunnel failing or closing, or the supervisor reconnecting.</summary>
    [GeneratedRegex(@"tunnel to \S+ (failed with|closed:)|tunnel down: ")]
    public static partial Regex TunnelLost();

    /// <summary>Waits until <paramref name="end"/> logs an open tunnel (after <paramref name="after"/>); returns the middle it runs through.</summary>
    public async Task<string> WaitForTunnelAsync(LabProcess end, TimeSpan timeout, DateTimeOffset? after = null)
    {
        var line = await end.WaitForLineAsync(TunnelOpen(), timeout, "the tunnel to open", after);
        var path = TunnelOpen().Match(line.Text).Groups["path"].Value.Split(" -> ");
        var middle = path.Length >= 3 ? path[1] : "?";
        Say($"{end.Label}: tunnel open via {string.Join(" -> ", path)}");
        return middle;
    }

    /// <summary>Sends <paramref name="bytes"/> random bytes from corp B through the forward and checks the echo.</summary>
    public async Task<TransferResult> TransferAsync(long bytes, TimeSpan timeout, string label = "transfer")
    {
        var client = Spawn(label, "corpb", "python3", LabPaths.NetTool, "transfer", "127.0.0.1", ForwardPort.ToString(CultureInfo.InvariantCulture),
            bytes.ToString(CultureInfo.InvariantCulture), "--timeout", timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture));
        if (!await client.WaitForExitAsync(timeout + TimeSpan.FromSeconds(30)))
            throw new LabException($"{label}: the client did not finish within {timeout.TotalSeconds + 30:0} s:\n{client.Tail(10)}");
        return LastResult(client);
    }

    /// <summary>A paced transfer in the background (it runs while the test breaks things).</summary>
    public LabProcess StartTransfer(long bytes, double bytesPerSecond, TimeSpan socketTimeout, string label) =>
        Spawn(label, "corpb", "python3", LabPaths.NetTool, "transfer", "127.0.0.1", ForwardPort.ToString(CultureInfo.InvariantCulture),
            bytes.ToString(CultureInfo.InvariantCulture), "--rate", bytesPerSecond.ToString(CultureInfo.InvariantCulture),
            "--timeout", socketTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture));

    public static TransferResult LastResult(LabProcess client)
    {
        var json = client.Lines.LastOrDefault(l => l.Text.StartsWith('{'))
            ?? throw new LabException($"{client.Label} printed no result:\n{client.Tail(10)}");
        return TransferResult.Parse(json.Text);
    }

    /// <summary>Round trips on fresh connections through the forward, one line per attempt ("ok EPOCH MS" / "fail EPOCH why").</summary>
    public LabProcess StartProbe(string label = "probe", double timeoutSeconds = 5, double intervalSeconds = 0.2) =>
        Spawn(label, "corpb", "python3", LabPaths.NetTool, "probe", "127.0.0.1", ForwardPort.ToString(CultureInfo.InvariantCulture),
            "--timeout", timeoutSeconds.ToString(CultureInfo.InvariantCulture), "--interval", intervalSeconds.ToString(CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^ok (?<epoch>[0-9.]+) (?<ms>[0-9]+)")]
    private static partial Regex ProbeOk();

    /// <summary>
    /// The first probe that started after <paramref name="after"/> and came back intact: the moment data flowed
    /// again. Returns when it finished (by the probe's own clock, the same system clock as ours).
    /// </summary>
    public static async Task<DateTimeOffset> WaitForProbeOkAsync(LabProcess probe, DateTimeOffset after, TimeSpan timeout, string what)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (true)
        {
            foreach (var line in probe.Lines)
            {
                var match = ProbeOk().Match(line.Text);
                if (!match.Success) continue;
                var finished = DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(match.Groups["epoch"].Value, CultureInfo.InvariantCulture) * 1000));
                var began = finished - TimeSpan.FromMilliseconds(double.Parse(match.Groups["ms"].Value, CultureInfo.InvariantCulture));
                if (began > after) return finished;
            }
            if (DateTimeOffset.UtcNow > deadline)
                throw new LabException($"no intact round trip through the tunnel within {timeout.TotalSeconds:0} s ({what}):\n{probe.Tail(15)}");
            if (probe.HasExited) throw new LabException($"the probe exited:\n{probe.Tail(15)}");
            await Task.Delay(100);
        }
    }

    /// <summary>Checks a direct TCP connect from one namespace to an address: "connected" or "blocked: ...".</summary>
    public static async Task<(bool Connected, string Detail)> DirectConnectAsync(string fromNamespace, string host, int port, double timeoutSeconds = 3)
    {
        var result = await Run.InAsync(fromNamespace, TimeSpan.FromSeconds(timeoutSeconds + 20), "python3", LabPaths.NetTool, "connect", host,
            port.ToString(CultureInfo.InvariantCulture), "--timeout", timeoutSeconds.ToString(CultureInfo.InvariantCulture));
        return (result.ExitCode == 0, result.Both);
    }

    /// <summary>Resident memory of each running lstp process, by label.</summary>
    public Dictionary<string, long> SampleRss(IEnumerable<LabProcess> processes)
    {
        var sample = new Dictionary<string, long>();
        foreach (var process in processes)
        {
            if (process.RssBytes() is { } rss) sample[process.Label] = rss;
        }
        return sample;
    }

    /// <summary>Appends one line to tests/lab/out/FILE (kept across runs, gitignored).</summary>
    public static void Record(string file, string line)
    {
        Directory.CreateDirectory(LabPaths.OutDirectory);
        File.AppendAllText(Path.Combine(LabPaths.OutDirectory, file), line + Environment.NewLine);
    }

    /// <summary>Everything every process said, into the test output (a failing test's evidence).</summary>
    public Task DumpAsync()
    {
        foreach (var process in _processes)
        {
            _output.WriteLine("");
            _output.WriteLine($"===== {process.Label} in {process.Namespace} (pid {process.Pid}, {(process.HasExited ? $"exited {process.ExitCode}" : "running")}): " +
                LabProcess.Redact(string.Join(' ', process.Command)));
            _output.WriteLine(LabProcess.Redact(process.Tail(400)));
        }
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        // Clients first, then ends, then middles and services: the ends see nothing die under them while stopping.
        foreach (var process in Enumerable.Reverse(_processes)) await process.DisposeAsync();
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lstp.Testing;

/// <summary>
/// A real `lstp` process (the built lstp.dll run by the dotnet host), with its output captured line by line so
/// a test can wait for a log line, read the exit code, or kill it like an operator would.
/// </summary>
public sealed class LstpProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private LstpProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>lstp.dll next to the test assembly (the test project references Lstp.Cli), or LSTP_DLL.</summary>
    public static string DllPath => Environment.GetEnvironmentVariable("LSTP_DLL") ?? Path.Combine(AppContext.BaseDirectory, "lstp.dll");

    public IReadOnlyCollection<string> Lines => _lines;
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    public static LstpProcess Start(params string[] args) => Start(null, args);

    public static LstpProcess Start(IDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(DllPath);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("LSTP__", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
        return new LstpProcess(Process.Start(info) ?? throw new InvalidOperationException("cannot start dotnet"));
    }

    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            var line = _lines.FirstOrDefault(match);
            if (line is not null) return line;
            if (_process.HasExited) break;
            await Task.Delay(25);
        }
        throw new TimeoutException($"no matching line; output so far:\n{string.Join('\n', _lines)}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as systemd or Ctrl-C would send.</summary>
    public void Terminate() => Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();

    /// <summary>kill -9: no chance to say goodbye.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Lstp.Lab.Tests;

/// <summary>One line a lab process wrote, with the time the test saw it.</summary>
public sealed record LogLine(DateTimeOffset At, string Stream, string Text)
{
    public override string ToString() => $"{At:HH:mm:ss.fff} {Stream} {Text}";
}

/// <summary>
/// A long-running process inside a lab namespace (<c>ip netns exec NS COMMAND...</c>, which execs COMMAND, so
/// <see cref="Pid"/> is COMMAND's own pid). Every line of its stdout and stderr is kept, timestamped, and copied to a
/// log file, so a test can wait for a line and show everything the process said when it fails.
/// </summary>
public sealed class LabProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<LogLine> _lines = [];
    private readonly Lock _lock = new();
    private readonly StreamWriter _file;
    private readonly TaskCompletionSource _stdoutDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LabProcess(string label, string shortNamespace, IReadOnlyList<string> command, string logPath, Process process)
    {
        Label = label;
        Namespace = shortNamespace;
        Command = command;
        LogPath = logPath;
        _process = process;
        _file = new StreamWriter(logPath, append: false) { AutoFlush = true };
        _file.WriteLine($"# {label} in {shortNamespace}: {Redact(string.Join(' ', command))}");
    }

    public string Label { get; }
    public string Namespace { get; }
    public IReadOnlyList<string> Command { get; }
    public string LogPath { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;
    public DateTimeOffset StartedAt { get; private init; }

    public static LabProcess Start(string label, string shortNamespace, IReadOnlyList<string> command, string logPath, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("netns");
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(LabPaths.Namespace(shortNamespace));
        foreach (var arg in command) info.ArgumentList.Add(arg);
        if (environment is not null)
        {
            foreach (var (key, value) in environment) info.Environment[key] = value;
        }
        // Python's stdout is a pipe here: make it line-buffered so lines arrive as they are written.
        info.Environment["PYTHONUNBUFFERED"] = "1";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var started = DateTimeOffset.UtcNow;
        var lab = new LabProcess(label, shortNamespace, command, logPath, process) { StartedAt = started };
        process.OutputDataReceived += (_, e) => lab.OnLine("out", e.Data, lab._stdoutDone);
        process.ErrorDataReceived += (_, e) => lab.OnLine("err", e.Data, lab._stderrDone);
        if (!process.Start()) throw new InvalidOperationException($"could not start {label}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return lab;
    }

    private void OnLine(string stream, string? text, TaskCompletionSource done)
    {
        if (text is null)
        {
            done.TrySetResult();
            return;
        }
        var line = new LogLine(DateTimeOffset.UtcNow, stream, text);
        lock (_lock)
        {
            _lines.Add(line);
            try { _file.WriteLine(line.ToString()); } catch (ObjectDisposedException) { }
        }
    }

    public IReadOnlyList<LogLine> Lines
    {
        get { lock (_lock) return [.. _lines]; }
    }

    public IReadOnlyList<LogLine> LinesMatching(Regex pattern, DateTimeOffset? after = null) =>
        [.. Lines.Where(l => (after is null || l.At >= after) && pattern.IsMatch(l.Text))];

    /// <summary>Waits for a line that matches (seen at or after <paramref name="after"/>); fails with the process's output.</summary>
    public async Task<LogLine> WaitForLineAsync(Regex pattern, TimeSpan timeout, string what, DateTimeOffset? after = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var line = LinesMatching(pattern, after).FirstOrDefault();
            if (line is not null) return line;
            if (HasExited)
            {
                await Task.Delay(200); // let the last lines arrive
                line = LinesMatching(pattern, after).FirstOrDefault();
                if (line is not null) return line;
                throw new LabException($"{Label} exited (code {ExitCode}) before {what}:\n{Tail(40)}");
            }
            if (DateTime.UtcNow > deadline)
                throw new LabException($"{Label}: no line /{pattern}/ within {timeout.TotalSeconds:0} s ({what}):\n{Tail(40)}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits for the process to exit by itself; false if it still runs after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await Task.WhenAny(Task.WhenAll(_stdoutDone.Task, _stderrDone.Task), Task.Delay(2000));
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL, as <c>kill -9</c>: the process gets no chance to say goodbye.</summary>
    public void KillHard()
    {
        try { _process.Kill(entireProcessTree: false); } catch (InvalidOperationException) { }
    }

    /// <summary>Resident set size now, from /proc (null once the process is gone).</summary>
    public long? RssBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    public string Tail(int count)
    {
        var lines = Lines;
        var shown = lines.Skip(Math.Max(0, lines.Count - count)).Select(l => "    " + l);
        var skipped = lines.Count > count ? $"    ... {lines.Count - count} earlier lines in {LogPath}\n" : "";
        return skipped + string.Join('\n', shown);
    }

    /// <summary>Masks passwords in proxy URLs (USER:PASS@) so logs and test output never show them.</summary>
    public static string Redact(string text) => Regex.Replace(text, @"(://[^:/@\s]+:)[^@\s]+@", "$1***@");

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            KillHard();
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        lock (_lock)
        {
            _file.WriteLine($"# exit code {(HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "still running")}");
            _file.Dispose();
        }
        _process.Dispose();
    }
}

/// <summary>A lab step that did not happen; its message carries what the processes said.</summary>
public sealed class LabException(string message) : Exception(message);

using System.Diagnostics;

namespace Lstp.Lab.Tests;

/// <summary>Where the lab lives in the repository, and the names and addresses tests/lab/lab.env gives it.</summary>
public static class LabPaths
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Env = new(ReadLabEnv);

    public static string RepositoryRoot => Root.Value;
    public static string LabDirectory => Path.Combine(RepositoryRoot, "tests", "lab");
    public static string LabScript => Path.Combine(LabDirectory, "lab.sh");
    public static string NetTool => Path.Combine(LabDirectory, "labnet.py");
    public static string OutDirectory => Path.Combine(LabDirectory, "out");

    /// <summary>A value from lab.env, e.g. <c>LAB_MIDDLE1</c>.</summary>
    public static string Get(string key) =>
        Env.Value.TryGetValue(key, out var value) ? value : throw new InvalidOperationException($"tests/lab/lab.env has no {key}");

    public static int GetInt(string key) => int.Parse(Get(key), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The namespace for a short name (inet, corpa, corpb, proxya, proxyb), as lab.sh's lab_ns.</summary>
    public static string Namespace(string shortName) => shortName switch
    {
        "inet" => Get("LAB_NS_INET"),
        "corpa" => Get("LAB_NS_CORPA"),
        "corpb" => Get("LAB_NS_CORPB"),
        "proxya" => Get("LAB_NS_PROXYA"),
        "proxyb" => Get("LAB_NS_PROXYB"),
        _ => throw new ArgumentException($"unknown lab namespace '{shortName}'", nameof(shortName)),
    };

    private static string FindRepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "tests", "lab", "lab.sh")) && Directory.Exists(Path.Combine(dir.FullName, "src", "Lstp.Cli")))
                    return dir.FullName;
            }
        }
        throw new InvalidOperationException($"cannot find the repository (tests/lab/lab.sh) above {AppContext.BaseDirectory}");
    }

    /// <summary>lab.env is bash (NAME=value lines and comments); its values are plain, so a line parser is enough.</summary>
    private static IReadOnlyDictionary<string, string> ReadLabEnv()
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in File.ReadLines(Path.Combine(LabDirectory, "lab.env")))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var eq = line.IndexOf('=');
            if (eq <= 0) continue;
            values[line[..eq]] = line[(eq + 1)..].Trim('"', '\'');
        }
        return values;
    }
}

/// <summary>Runs a short command to completion.</summary>
public static class Run
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Both => (Stdout + Stderr).Trim();
    }

    public static async Task<Result> CommandAsync(string file, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null, IDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? LabPaths.RepositoryRoot,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null) info.Environment.Remove(key);
                else info.Environment[key] = value;
            }
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new LabException($"{file} {string.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalSeconds:0} s");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary><c>ip netns exec NS COMMAND...</c> to completion.</summary>
    public static Task<Result> InAsync(string shortNamespace, TimeSpan timeout, params string[] command) =>
        CommandAsync("ip", ["netns", "exec", LabPaths.Namespace(shortNamespace), .. command], timeout);

    /// <summary><c>tests/lab/lab.sh ARGS...</c>; throws with its output when it fails.</summary>
    public static async Task<Result> LabAsync(params string[] args)
    {
        var result = await CommandAsync("bash", [LabPaths.LabScript, .. args], TimeSpan.FromSeconds(120));
        if (result.ExitCode != 0)
            throw new LabException($"lab.sh {string.Join(' ', args)} failed (exit {result.ExitCode}):\n{result.Both}");
        return result;
    }
}

using System.Runtime.InteropServices;
using Xunit;

// One lab on the machine: the test classes share it and must run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Lstp.Lab.Tests;

[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "firewall lab";
}

/// <summary>
/// Brings the firewall lab up once for all lab tests and down at the end, and provides the <c>lstp</c> binary:
/// <c>LSTP_BIN</c> if set, else a fresh <c>dotnet publish src/Lstp.Cli</c> into out/lstp-lab. The lab needs root:
/// without it every test fails (never skips) with a message saying so.
/// </summary>
public sealed class LabFixture : IAsyncLifetime
{
    private int _nextBlock;
    private bool _touchedLab;

    /// <summary>The lstp executable the tests run.</summary>
    public string LstpBinary { get; private set; } = "";

    /// <summary>How the binary was obtained, for the test output.</summary>
    public string BinaryOrigin { get; private set; } = "";

    /// <summary>A distinct block of ports for each scenario, so nothing one test left behind disturbs the next.</summary>
    public int NextPortBlock() => Interlocked.Increment(ref _nextBlock);

    public async Task InitializeAsync()
    {
        if (!OperatingSystem.IsLinux())
            throw new InvalidOperationException("the firewall lab tests need Linux (network namespaces and nftables)");
        if (GetEffectiveUserId() != 0)
            throw new InvalidOperationException(
                "the firewall lab tests need root: they create network namespaces and nftables rules. " +
                "Run them as root, e.g. `sudo tests/lab/run-lab-tests.sh` (after `sudo scripts/install-deps.sh`).");
        foreach (var tool in new[] { "ip", "nft", "ss", "tinyproxy", "microsocks", "python3" })
        {
            if (!OnPath(tool))
                throw new InvalidOperationException($"the firewall lab needs '{tool}', which is not installed: run scripts/install-deps.sh as root");
        }

        LstpBinary = await ResolveBinaryAsync();
        Directory.CreateDirectory(LabPaths.OutDirectory);

        _touchedLab = true;
        await Run.LabAsync("down"); // a run that was killed may have left the lab up
        await Run.LabAsync("up");
    }

    public async Task DisposeAsync()
    {
        // lab.sh down ends every process in the lab's namespaces (ours included) and deletes them. Nothing to undo
        // when the checks above failed before the lab was touched (not root, tools missing, no binary).
        if (_touchedLab) await Run.LabAsync("down");
    }

    private async Task<string> ResolveBinaryAsync()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("LSTP_BIN");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            var path = Path.GetFullPath(fromEnvironment);
            if (!File.Exists(path)) throw new InvalidOperationException($"LSTP_BIN={fromEnvironment}: no such file");
            BinaryOrigin = $"LSTP_BIN={path}";
            return path;
        }

        var output = Path.Combine(LabPaths.RepositoryRoot, "out", "lstp-lab");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        // The test host runs under MSBuild's environment; a nested build must not inherit it.
        var clean = new Dictionary<string, string?>
        {
            ["MSBuildExtensionsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
            ["MSBuildSDKsPath"] = null,
            ["MSBuildLoadMicrosoftTargetsReadOnly"] = null,
            ["VSTEST_HOST_DEBUG"] = null,
        };
        var failures = new List<string>();
        // Other people build in this tree too: a file lock or a half-edited file fails a build now and then.
        for (var attempt = 1; attempt <= 4; attempt++)
        {
            var result = await Run.CommandAsync(dotnet,
                ["publish", Path.Combine(LabPaths.RepositoryRoot, "src", "Lstp.Cli"), "-c", "Release", "-o", output, "--nologo", "-v", "quiet"],
                TimeSpan.FromMinutes(10), environment: clean);
            var binary = Path.Combine(output, "lstp");
            if (result.ExitCode == 0 && File.Exists(binary))
            {
                BinaryOrigin = $"published {binary}";
                return binary;
            }
            failures.Add($"attempt {attempt} (exit {result.ExitCode}):\n{string.Join('\n', result.Both.Split('\n').TakeLast(15))}");
            await Task.Delay(TimeSpan.FromSeconds(15 * attempt));
        }
        throw new InvalidOperationException($"dotnet publish src/Lstp.Cli failed (set LSTP_BIN to use a ready binary):\n{string.Join("\n", failures)}");
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin"])
            .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, tool)));

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();
}

using System.Diagnostics;
using System.Text.Json;

namespace Lstp.Cluster.Tests.Support;

/// <summary>The repository's docker-compose.yml as Debian's docker-compose resolves it (`docker-compose config`).</summary>
public sealed class ComposeFile
{
    private ComposeFile(JsonElement services) => Services = services;

    public JsonElement Services { get; }

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "docker-compose.yml"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("docker-compose.yml not found above the test directory");
        }
    }

    public static string FilePath => Path.Combine(RepositoryRoot, "docker-compose.yml");

    /// <summary>Runs `docker-compose -f FILE ARGS`; returns exit code and output.</summary>
    public static async Task<(int Code, string Output)> ComposeAsync(params string[] args)
    {
        if (!File.Exists("/usr/bin/docker-compose") && !File.Exists("/usr/local/bin/docker-compose"))
        {
            throw new InvalidOperationException("docker-compose is not installed: run scripts/install-deps.sh (Debian package docker-compose)");
        }
        return await RunAsync("docker-compose", ["-f", FilePath, .. args], stdin: null);
    }

    /// <summary>The resolved file (anchors merged), read through python3-yaml, which docker-compose itself depends on.</summary>
    public static async Task<ComposeFile> LoadAsync()
    {
        var (code, yaml) = await ComposeAsync("config");
        if (code != 0) throw new InvalidOperationException($"docker-compose config failed: {yaml}");
        return new ComposeFile((await YamlAsync(yaml)).GetProperty("services"));
    }

    /// <summary>A YAML document as JSON, read by python3-yaml, which docker-compose itself depends on.</summary>
    public static async Task<JsonElement> YamlAsync(string yaml)
    {
        var (code, json) = await RunAsync("python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"], yaml);
        if (code != 0) throw new InvalidOperationException($"cannot read the YAML: {json}");
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public IReadOnlyList<string> Command(string service) => Strings(service, "command");

    public IReadOnlyList<string> Entrypoint(string service) => Strings(service, "entrypoint");

    private IReadOnlyList<string> Strings(string service, string key) => [.. Services.GetProperty(service).GetProperty(key).EnumerateArray().Select(a => a.GetString()!)];

    /// <summary>The service's volumes as docker-compose config resolves them: bind mounts with absolute sources.</summary>
    public IReadOnlyList<(string Source, string Target)> Volumes(string service) =>
        Services.GetProperty(service).TryGetProperty("volumes", out var volumes)
            ? [.. volumes.EnumerateArray().Select(Volume)]
            : [];

    /// <summary>A volume in short form (SOURCE:TARGET[:MODE], as docker-compose 1.x prints it) or long form.</summary>
    private static (string Source, string Target) Volume(JsonElement volume)
    {
        if (volume.ValueKind == JsonValueKind.String)
        {
            var parts = volume.GetString()!.Split(':');
            return (parts[0], parts.Length > 1 ? parts[1] : parts[0]);
        }
        return (volume.TryGetProperty("source", out var source) ? source.GetString() ?? "" : "", volume.GetProperty("target").GetString()!);
    }

    public IReadOnlyDictionary<string, string> Environment(string service) =>
        Services.GetProperty(service).TryGetProperty("environment", out var env)
            ? env.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString())
            : new Dictionary<string, string>();

    /// <summary>Runs <paramref name="program"/> in the repository's root; returns exit code and output.</summary>
    public static async Task<(int, string)> RunAsync(string program, IReadOnlyList<string> args, string? stdin)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }
}

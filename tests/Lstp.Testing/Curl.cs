using System.Diagnostics;

namespace Lstp.Testing;

/// <summary>Runs the real curl (Debian's, installed by scripts/install-deps.sh) and returns exit code and output.</summary>
public static class Curl
{
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--silent", "--show-error", "--max-time", "20", "--noproxy", "" }.Concat(args)) info.ArgumentList.Add(a);
        info.Environment.Remove("ALL_PROXY");
        info.Environment.Remove("HTTPS_PROXY");
        info.Environment.Remove("HTTP_PROXY");
        using var process = Process.Start(info) ?? throw new InvalidOperationException("curl is not installed: run scripts/install-deps.sh");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}

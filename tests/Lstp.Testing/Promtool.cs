using System.Diagnostics;
using Xunit;

namespace Lstp.Testing;

/// <summary>
/// `promtool check metrics` (Debian's prometheus package, which scripts/install-deps.sh installs): the exposition is
/// parsed as Prometheus parses it and linted for its conventions (units in names, _total counters, no _count gauges).
/// </summary>
public static class Promtool
{
    public static async Task AssertValidAsync(string exposition)
    {
        var info = new ProcessStartInfo("promtool", ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("promtool is not installed: scripts/install-deps.sh installs Debian's prometheus package, which has it", ex);
        }
        using (process)
        {
            await process.StandardInput.WriteAsync(exposition);
            process.StandardInput.Close();
            var said = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0 && said.Trim().Length == 0, $"promtool check metrics (exit {process.ExitCode}): {said}");
        }
    }
}

/// <summary>The .NET runtime's and the process's figures every node exports beside its own.</summary>
public static class RuntimeFigures
{
    public static readonly string[] Names =
    [
        "dotnet_gc_collections_total",
        "dotnet_gc_heap_total_allocated_bytes_total",
        "dotnet_gc_pause_time_seconds_total",
        "dotnet_thread_pool_threads",
        "dotnet_thread_pool_queue_length",
        "dotnet_process_cpu_time_seconds_total",
        "process_cpu_time_seconds_total",
        "process_memory_usage_bytes",
        "process_open_fds",
        "process_threads",
    ];

    public static void AssertPresent(Scrape scrape)
    {
        foreach (var name in Names) Assert.True(scrape.Names.Contains(name), $"{name} is missing from /metrics");
        Assert.True(scrape.Value("process_open_fds") > 0, "a node holds descriptors");
        Assert.True(scrape.Value("process_memory_usage_bytes") > 1 << 20, "a node's RSS is above a megabyte");
    }
}

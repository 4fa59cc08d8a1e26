using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using Lstp.Bench.Micro.Support;
using Perfolizer.Horology;
using Perfolizer.Metrology;

namespace Lstp.Bench.Micro;

/// <summary>
/// BenchmarkDotNet's defaults (console log, GitHub markdown reports) with one short job for a shared 2-core machine,
/// the product's runtime settings, and a GiB/s column for the benchmarks that move data.
/// </summary>
public static class MicroConfig
{
    public static IConfig Create() => DefaultConfig.Instance
        .AddJob(Job.ShortRun
            // The product's runtime (Directory.Build.props): workstation, non-concurrent GC, and TieredPGO.
            .WithGcServer(false)
            .WithGcConcurrent(false)
            .WithEnvironmentVariables(new EnvironmentVariable("DOTNET_TieredPGO", "1"))
            // ShortRun is 1 launch, 3 warm-ups and 3 measured iterations; 250 ms iterations (the default is 500) keep
            // the whole run within about five minutes on 2 cores, while each still holds thousands of 64 KiB frames.
            .WithIterationTime(TimeInterval.FromMilliseconds(250))
            .WithId("short"))
        .AddColumn(new ThroughputColumn())
        // One unit per column in every table: ns per operation (a 64 KiB frame, mostly) and bytes allocated per operation.
        .WithSummaryStyle(SummaryStyle.Default.WithTimeUnit(TimeUnit.Nanosecond).WithSizeUnit(SizeUnit.B));
}

using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Lstp.Bench.Micro.Support;

/// <summary>GiB/s for benchmarks marked with <see cref="ProcessesBytesAttribute"/>: bytes per operation over the mean time per operation.</summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => nameof(ThroughputColumn);
    public string ColumnName => "GiB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Application bytes per operation (ProcessesBytes) over the mean time per operation, in GiB/s of one core";

    /// <summary>Shown in the tables of classes that move data only.</summary>
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(b => BytesOf(b) is not null);
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var bytes = BytesOf(benchmarkCase);
        var nanoseconds = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (bytes is null || nanoseconds is null or <= 0) return "-";
        var gibPerSecond = bytes.Value / nanoseconds.Value * 1e9 / (1L << 30);
        return gibPerSecond.ToString("0.00", CultureInfo.InvariantCulture);
    }

    private static long? BytesOf(BenchmarkCase benchmarkCase) => benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<ProcessesBytesAttribute>()?.Bytes;
}

namespace Lstp.Bench.Micro.Support;

/// <summary>
/// How many application bytes one operation of a benchmark moves, so <see cref="ThroughputColumn"/> can turn its mean
/// time into GiB/s. With OperationsPerInvoke, this is per operation (one frame), not per invocation.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ProcessesBytesAttribute(long bytes) : Attribute
{
    public long Bytes { get; } = bytes;
}

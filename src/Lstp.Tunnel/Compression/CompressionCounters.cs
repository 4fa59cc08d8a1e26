namespace Lstp.Tunnel.Compression;

/// <summary>Running compression figures of one tunnel, updated by its channels without locks (status, tests, the benchmark).</summary>
public sealed class CompressionCounters
{
    private long _framesCompressed;
    private long _bytesBefore;
    private long _bytesAfter;
    private long _framesRaw;
    private long _framesDecompressed;
    private long _bytesDecompressed;
    private long _abandoned;
    private long _probes;

    /// <summary>SERVICE_DATA_COMPRESSED frames sent, the application bytes they carried, and their compressed size.</summary>
    public long FramesCompressed => Interlocked.Read(ref _framesCompressed);
    public long BytesBeforeCompression => Interlocked.Read(ref _bytesBefore);
    public long BytesAfterCompression => Interlocked.Read(ref _bytesAfter);

    /// <summary>Plain SERVICE_DATA frames sent (by every channel, compressing or not).</summary>
    public long FramesRaw => Interlocked.Read(ref _framesRaw);

    /// <summary>SERVICE_DATA_COMPRESSED frames received and the application bytes they decompressed to.</summary>
    public long FramesDecompressed => Interlocked.Read(ref _framesDecompressed);
    public long BytesDecompressed => Interlocked.Read(ref _bytesDecompressed);

    /// <summary>Times an auto channel stopped compressing, and frames an abandoned channel tried again.</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);
    public long Probes => Interlocked.Read(ref _probes);

    public void Compressed(int before, int after)
    {
        Interlocked.Increment(ref _framesCompressed);
        Interlocked.Add(ref _bytesBefore, before);
        Interlocked.Add(ref _bytesAfter, after);
    }

    public void SentRaw() => Interlocked.Increment(ref _framesRaw);

    public void Decompressed(int bytes)
    {
        Interlocked.Increment(ref _framesDecompressed);
        Interlocked.Add(ref _bytesDecompressed, bytes);
    }

    public void Abandon() => Interlocked.Increment(ref _abandoned);
    public void Probe() => Interlocked.Increment(ref _probes);
}

using Lstp.Tunnel.Compression;

namespace Lstp.Tunnel.Channels;

/// <summary>Running figures of one tunnel, updated by its channels without locks, read by status and TUNNEL_REPORT.</summary>
public sealed class TunnelCounters
{
    private long _bytesSent;
    private long _bytesReceived;
    private long _channelsOpened;
    private int _channelsOpen;
    private long _bytesSpliced;

    /// <summary>Application bytes sent to the peer (before framing and encryption).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public long ChannelsOpened => Interlocked.Read(ref _channelsOpened);
    public int ChannelsOpen => Volatile.Read(ref _channelsOpen);

    /// <summary>Received bytes that went from the link to their application through a channel's pipe (splice(2), plaintext only).</summary>
    public long BytesSpliced => Interlocked.Read(ref _bytesSpliced);

    /// <summary>Frames and bytes through the channels' compressors and decompressors.</summary>
    public CompressionCounters Compression { get; } = new();

    public void AddSent(long count) => Interlocked.Add(ref _bytesSent, count);
    public void AddReceived(long count) => Interlocked.Add(ref _bytesReceived, count);
    public void AddSpliced(long count) => Interlocked.Add(ref _bytesSpliced, count);
    public void ChannelOpened() { Interlocked.Increment(ref _channelsOpened); Interlocked.Increment(ref _channelsOpen); }
    public void ChannelClosed() => Interlocked.Decrement(ref _channelsOpen);
}

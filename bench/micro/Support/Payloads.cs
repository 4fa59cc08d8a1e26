using System.Text;
using Lstp.Protocol;
using Lstp.Protocol.Framing;

namespace Lstp.Bench.Micro.Support;

/// <summary>
/// Application bytes and wire frames for the benchmarks, the same on every run (fixed seeds): random bytes stand for
/// data already compressed or encrypted (TLS, gzip), log lines for text that compresses.
/// </summary>
public static class Payloads
{
    /// <summary>One SERVICE_DATA frame's application bytes: 64 KiB (<see cref="ProtocolLimits.ServiceDataChunk"/>).</summary>
    public const int Frame = ProtocolLimits.ServiceDataChunk;

    public static byte[] Random(int length, int seed = 7)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Service log lines (timestamps, levels, addresses, counts varying by a fixed seed): text that the channel's
    /// Deflate leaves at 0.24 of its size in 64 KiB frames (Brotli 0.22), near the 0.25 (0.24) of the repository
    /// corpus in bench/compression/RESULTS-compression.md.
    /// </summary>
    public static byte[] Text(int length, int seed = 11)
    {
        string[] levels = ["info", "info", "info", "debug", "warn"];
        string[] events = ["opened channel", "paired tunnel", "sent SERVICE_DATA_PAUSE on", "sent SERVICE_DATA_RESUME on", "freed channel", "GET /api/orders/", "POST /api/orders/", "served /index.html to"];
        string[] services = ["db", "web", "ssh", "metrics", "orders"];
        var random = new Random(seed);
        var text = new StringBuilder(length + 256);
        var time = new DateTime(2026, 12, 6, 10, 0, 0, DateTimeKind.Utc);
        while (text.Length < length)
        {
            time = time.AddMilliseconds(random.Next(1, 900));
            text.Append(time.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"))
                .Append(' ').Append(levels[random.Next(levels.Length)])
                .Append(" lstp.end[").Append(4100 + random.Next(4)).Append("] ")
                .Append(events[random.Next(events.Length)]).Append(' ').Append(random.Next(1, 5000))
                .Append(" service=").Append(services[random.Next(services.Length)])
                .Append(" peer=10.").Append(random.Next(256)).Append('.').Append(random.Next(256)).Append('.').Append(random.Next(256))
                .Append(':').Append(random.Next(1024, 65536))
                .Append(" bytes=").Append(random.Next(0, 1 << 20))
                .Append(" took=").Append(random.Next(0, 2000)).Append("ms\n");
        }
        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }

    /// <summary><paramref name="count"/> SERVICE_DATA frames on channel 7, each carrying <paramref name="dataLength"/> bytes of <paramref name="data"/>.</summary>
    public static byte[] ServiceDataFrames(int count, int dataLength, byte[] data)
    {
        var frameLength = FrameCodec.ServiceDataPrefix + dataLength;
        var frames = new byte[count * frameLength];
        for (var i = 0; i < count; i++)
        {
            var frame = frames.AsSpan(i * frameLength, frameLength);
            FrameCodec.WriteServiceDataPrefix(frame, channel: 7, dataLength);
            data.AsSpan(0, dataLength).CopyTo(frame[FrameCodec.ServiceDataPrefix..]);
        }
        return frames;
    }

    /// <summary><paramref name="count"/> frames of <paramref name="type"/>, each with <paramref name="payload"/> as its payload.</summary>
    public static byte[] Frames(MessageType type, int count, ReadOnlySpan<byte> payload)
    {
        var frameLength = ProtocolLimits.HeaderSize + payload.Length;
        var frames = new byte[count * frameLength];
        for (var i = 0; i < count; i++)
        {
            var frame = frames.AsSpan(i * frameLength, frameLength);
            FrameCodec.WriteHeader(frame, type, payload.Length);
            payload.CopyTo(frame[ProtocolLimits.HeaderSize..]);
        }
        return frames;
    }
}

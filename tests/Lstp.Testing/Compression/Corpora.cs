using System.IO.Compression;
using System.Text;

namespace Lstp.Testing.Compression;

/// <summary>Deterministic test data: text that compresses like prose and logs, random bytes, and already-compressed bytes.</summary>
public static class Corpora
{
    private static readonly string[] Words =
    [
        "tunnel", "channel", "middle", "end", "proxy", "the", "a", "of", "to", "and", "firewall", "service", "data",
        "pause", "resume", "frame", "secret", "handshake", "compression", "window", "flush", "latency", "bytes",
        "INFO", "WARN", "request", "response", "GET", "/index.html", "200", "OK", "connection", "keepalive",
    ];

    /// <summary>Log-like lines of words from a small vocabulary (compresses to about a quarter).</summary>
    public static byte[] Text(int size, int seed = 1)
    {
        var random = new Random(seed);
        var text = new StringBuilder(size + 200);
        var line = 0;
        while (text.Length < size)
        {
            text.Append($"2026-01-01T00:00:{line++ % 60:00}Z ");
            for (var i = random.Next(5, 14); i > 0; i--) text.Append(Words[random.Next(Words.Length)]).Append(' ');
            text.Append('\n');
        }
        return Encoding.ASCII.GetBytes(text.ToString(0, size));
    }

    public static byte[] Random(int size, int seed = 2)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Text gzipped: what an application sends when it compresses on its own (incompressible again).</summary>
    public static byte[] Gzipped(int size, int seed = 3)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            while (output.Length < size) gzip.Write(Text(256 * 1024, seed++));
        }
        return output.ToArray()[..size];
    }

    /// <summary>Splits data into frames of at most <paramref name="frame"/> bytes, as a socket read would.</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Frames(byte[] data, int frame = 64 * 1024)
    {
        for (var offset = 0; offset < data.Length; offset += frame) yield return data.AsMemory(offset, Math.Min(frame, data.Length - offset));
    }
}

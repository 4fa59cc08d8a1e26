namespace Lstp.Tunnel.Compression;

/// <summary>
/// The constants of per-channel compression, each with the reason for its value (measurements in
/// bench/compression/RESULTS-compression.md).
/// </summary>
public static class CompressionLimits
{
    /// <summary>
    /// zlib level 3, the first choice (bench/compression/RESULTS-compression.md, "codecs"): about 160 MB/s per core,
    /// 0.25 of the size on 64 KiB frames of text and 0.36 on 125-byte lines flushed one by one, with about 280 KiB
    /// of encoder state. Level 1 is twice as fast but leaves text at 0.36 and grows random data by 5 %; level 6
    /// halves the speed for 0.24. Deflate's window is 32 KiB by its format, so decoder memory is bounded anyway.
    /// </summary>
    public const int DeflateLevel = 3;

    /// <summary>
    /// Brotli quality 3, the second choice: 0.24 on 64 KiB frames and 0.42 on flushed lines at about 120 MB/s, with
    /// about 550 KiB of encoder state. Qualities 0 and 1 are faster but compress each flushed frame on its own
    /// (0.93 on those lines), which throws away what interactive traffic gains.
    /// </summary>
    public const int BrotliQuality = 3;

    /// <summary>
    /// A 64 KiB window (2^16): decoder state about 120 KiB per direction. An 18-bit window gains 8 % on text for
    /// about 2.5 times the memory at both ends.
    /// </summary>
    public const int BrotliWindowBits = 16;

    /// <summary>
    /// The largest Brotli window a receiver accepts: a stream header that announces more (up to 16 MiB, or the
    /// large-window extension) is Malformed, so a peer cannot make a channel's decoder allocate more than this.
    /// </summary>
    public const int MaxBrotliWindowBits = BrotliWindowBits;

    /// <summary>
    /// Frames smaller than this go raw: a flushed compressed frame costs a few bytes of block framing, so a
    /// keystroke or an ACK-sized message gains nothing, and sending it raw leaves the compressed stream untouched.
    /// </summary>
    public const int MinFrame = 64;

    /// <summary>Frames at least this large are big enough for their ratio to say something about the data.</summary>
    public const int JudgedFrame = 1024;

    /// <summary>
    /// In auto mode a judged frame whose bytes sample at more than this many bits per byte (<see cref="ByteEntropy"/>)
    /// counts as poor without being compressed. Random, encrypted and compressed data sample at 7.8 to 8 (a 1 KiB
    /// sample of random bytes at about 7.8); text, JSON, base64 and executables at 4.5 to 6.5. Data that only repeats
    /// whole incompressible blocks goes raw in auto mode, as it would once abandoned.
    /// </summary>
    public const double IncompressibleBits = 7.5;

    /// <summary>A judged frame that keeps more than 90 % of its size is "poor": the data is already compressed or encrypted.</summary>
    public const double PoorRatio = 0.9;

    /// <summary>
    /// In auto mode, this many poor frames in a row and the channel stops compressing (4 frames is at most 256 KiB
    /// of evidence, and the first frames of a TLS or gzip stream already show it).
    /// </summary>
    public const int AbandonAfter = 4;

    /// <summary>An abandoned channel tries one frame again after this many raw bytes (the data may have changed)...</summary>
    public const long FirstReprobeAfter = 1L << 20;

    /// <summary>...and after each probe that fails, twice as many, up to this: the probes' cost vanishes on long incompressible streams.</summary>
    public const long MaxReprobeAfter = 64L << 20;
}

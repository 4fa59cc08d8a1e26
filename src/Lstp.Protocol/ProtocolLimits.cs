namespace Lstp.Protocol;

/// <summary>Protocol constants, each with the reason for its value.</summary>
public static class ProtocolLimits
{
    /// <summary>Wire version in the preamble; a peer with another version is refused with BadPreamble.</summary>
    public const byte Version = 1;

    /// <summary>The frame header is one type byte and a 24-bit big-endian payload length.</summary>
    public const int HeaderSize = 4;

    /// <summary>The largest length the 24-bit field can express.</summary>
    public const int AbsoluteMaxPayload = (1 << 24) - 1;

    /// <summary>
    /// Default ceiling on one frame's payload. SERVICE_DATA frames are at most 256 KiB and relay frames carry
    /// at most one read of the end-to-end stream (≤ 256 KiB), so 1 MiB leaves room without letting a
    /// peer make us buffer more than that for a single frame.
    /// </summary>
    public const int DefaultMaxPayload = 1 << 20;

    /// <summary>Setup frames are small; the middle reads them with this tighter limit before pairing.</summary>
    public const int MaxSetupPayload = 16 * 1024;

    /// <summary>
    /// Application bytes per SERVICE_DATA frame while a channel compresses, and the most a SERVICE_DATA_COMPRESSED frame
    /// holds or declares: a compressor's window and one decompressed frame stay small, and the 8-byte overhead (header +
    /// channel id) is 0.01 % (bench/RESULTS.md).
    /// </summary>
    public const int ServiceDataChunk = 64 * 1024;

    /// <summary>
    /// Application bytes per SERVICE_DATA frame while a channel is not compressing (compression off, or auto gave up on
    /// its data): one read of the application's socket of up to 256 KiB is one frame, so a bulk stream pays the uplink's
    /// per-read cost (a socket read, a hand-over to the tunnel's writer) once per 256 KiB instead of four times
    /// (plaintext iperf3: the sending end's CPU per GiB 5-16 % lower in 6 of 6 interleaved rounds, docs/architecture.md;
    /// no difference above the noise with TLS). Compressed frames stay
    /// at most <see cref="ServiceDataChunk"/> either way, and a receiver takes any SERVICE_DATA under
    /// <see cref="DefaultMaxPayload"/>.
    /// </summary>
    public const int ServiceDataRawChunk = 256 * 1024;

    /// <summary>Size of the keyed-hash pairing key in COMMONUNIQUE_INFO (HMAC-SHA256).</summary>
    public const int PairingKeySize = 32;

    /// <summary>Size of the random instance id that names one run of an end or a middle.</summary>
    public const int NodeIdSize = 16;

    /// <summary>Most entries TOPOLOGY_EXCHANGE may list: two ends plus a long cascade of middles.</summary>
    public const int MaxTopologyEntries = 32;
}

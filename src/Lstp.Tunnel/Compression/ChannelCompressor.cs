using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Compression;

/// <summary>
/// The sending half of one channel's compression, used by its uplink alone. It decides frame by frame whether
/// the bytes go compressed (SERVICE_DATA_COMPRESSED) or raw (SERVICE_DATA):
/// <list type="bullet">
/// <item>frames under <see cref="CompressionLimits.MinFrame"/> bytes go raw, leaving the compressed stream as it was;</item>
/// <item>a frame is sent compressed only when that is smaller than sending it raw; otherwise it goes raw and the
/// compressor is dropped, because its history now holds bytes the peer never saw (the next compressed frame
/// starts a new stream, flagged <see cref="CompressedFlags.NewStream"/>);</item>
/// <item>in <see cref="CompressMode.Auto"/>, a judged frame whose bytes look incompressible (<see cref="ByteEntropy"/>)
/// is poor without compressing it: it goes raw and leaves the compressed stream as it was;</item>
/// <item>in <see cref="CompressMode.Auto"/>, after <see cref="CompressionLimits.AbandonAfter"/> poor frames in a
/// row (a ratio over <see cref="CompressionLimits.PoorRatio"/>, or no gain) the channel stops compressing and
/// frees its compressor; it tries one frame again after <see cref="CompressionLimits.FirstReprobeAfter"/> raw
/// bytes, doubling up to <see cref="CompressionLimits.MaxReprobeAfter"/> while the probes keep failing.</item>
/// </list>
/// Memory: one compressor's state while compressing, none while abandoned.
/// </summary>
public sealed class ChannelCompressor(CompressionMethod method, CompressMode mode, CompressionCounters? counters = null) : IDisposable
{
    private FrameCompressor? _stream;
    private int _poorInARow;
    private bool _abandoned;
    private long _rawSinceAbandoned;
    private long _probeAfter = CompressionLimits.FirstReprobeAfter;

    public CompressionMethod Method => method;
    public CompressMode Mode => mode;

    /// <summary>True while an auto channel has given up on its data.</summary>
    public bool IsAbandoned => _abandoned;

    /// <summary>True while a compressor's state is held (its memory is in use).</summary>
    public bool HoldsState => _stream is not null;

    /// <summary>How many raw bytes an abandoned channel sends before its next probe.</summary>
    public long ProbeAfter => _probeAfter;

    /// <summary>
    /// True when a frame of <paramref name="length"/> bytes would go raw untouched: the channel has given up on its data
    /// and the next probe is further off than that. The uplink then reads larger frames than a compressor takes.
    /// </summary>
    public bool GoesRaw(int length) => _abandoned && _rawSinceAbandoned + length < _probeAfter;

    /// <summary>Counts a frame sent raw without asking (larger than a compressed frame may be) towards the next probe.</summary>
    public void SentRaw(int length)
    {
        if (_abandoned) _rawSinceAbandoned += length;
    }

    /// <summary>
    /// Compresses one frame of application bytes into <paramref name="output"/> (at least as large as the input).
    /// True: send <c>output[..written]</c> as SERVICE_DATA_COMPRESSED with <paramref name="flags"/>. False: send the input raw.
    /// </summary>
    public bool TryCompress(ReadOnlySpan<byte> input, Memory<byte> output, out int written, out CompressedFlags flags)
    {
        written = 0;
        flags = CompressedFlags.None;
        if (input.Length < CompressionLimits.MinFrame) return false;
        var probing = false;
        if (_abandoned)
        {
            _rawSinceAbandoned += input.Length;
            if (_rawSinceAbandoned < _probeAfter) return false;
            _rawSinceAbandoned = 0;
            probing = true;
            counters?.Probe();
        }

        var measured = probing || input.Length >= CompressionLimits.JudgedFrame;
        if (measured && mode == CompressMode.Auto && ByteEntropy.LooksIncompressible(input))
        {
            Judge(poor: true, good: false);
            return false;
        }

        var fresh = _stream is null;
        _stream ??= FrameCompressor.Create(method);
        // Worth sending only if the compressed payload (flags byte + data) is smaller than the raw one.
        var room = Math.Min(output.Length, input.Length - 2);
        var n = _stream.Compress(input, output[..room]);
        if (n < 0)
        {
            Drop();
            Judge(poor: true, good: false);
            return false;
        }
        var poor = measured && n > input.Length * CompressionLimits.PoorRatio;
        Judge(poor, good: measured && !poor);
        written = n;
        flags = fresh ? CompressedFlags.NewStream : CompressedFlags.None;
        counters?.Compressed(input.Length, n);
        return true;
    }

    private void Judge(bool poor, bool good)
    {
        if (mode != CompressMode.Auto) return;
        if (good)
        {
            _poorInARow = 0;
            _abandoned = false;
            _probeAfter = CompressionLimits.FirstReprobeAfter;
            return;
        }
        if (!poor) return;
        if (_abandoned)
        {
            // The probe failed: stay raw, and wait twice as long before the next one.
            _probeAfter = Math.Min(_probeAfter * 2, CompressionLimits.MaxReprobeAfter);
            Drop();
            return;
        }
        if (++_poorInARow < CompressionLimits.AbandonAfter) return;
        _abandoned = true;
        _poorInARow = 0;
        _rawSinceAbandoned = 0;
        Drop();
        counters?.Abandon();
    }

    private void Drop()
    {
        _stream?.Dispose();
        _stream = null;
    }

    public void Dispose() => Drop();
}

using Lstp.Protocol.Messages;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Compression;
using Xunit;

namespace Lstp.Tunnel.Tests.Compression;

/// <summary>The sender's per-frame policy: when a frame goes compressed, when auto gives up, and when it tries again.</summary>
public sealed class ChannelCompressorTests
{
    public static TheoryData<CompressionMethod> Methods() => new(CompressionMethod.Brotli, CompressionMethod.Deflate);

    [Theory]
    [MemberData(nameof(Methods))]
    public void Auto_gives_up_on_random_data_after_four_poor_frames_and_frees_its_compressor(CompressionMethod method)
    {
        using var wire = new Wire(method, CompressMode.Auto);

        wire.SendAll(Corpora.Random(512 * 1024));

        Assert.True(wire.Sender.IsAbandoned);
        Assert.False(wire.Sender.HoldsState);
        Assert.All(wire.Frames.Skip(CompressionLimits.AbandonAfter), f => Assert.False(f.Compressed));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Auto_gives_up_on_data_the_application_already_compressed(CompressionMethod method)
    {
        using var wire = new Wire(method, CompressMode.Auto);

        wire.SendAll(Corpora.Gzipped(512 * 1024));

        Assert.True(wire.Sender.IsAbandoned);
        Assert.All(wire.Frames.Skip(CompressionLimits.AbandonAfter), f => Assert.False(f.Compressed));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Auto_keeps_compressing_text_and_starts_one_stream_only(CompressionMethod method)
    {
        using var wire = new Wire(method, CompressMode.Auto);
        var text = Corpora.Text(2 << 20);

        wire.SendAll(text);

        Assert.False(wire.Sender.IsAbandoned);
        Assert.All(wire.Frames, f => Assert.True(f.Compressed));
        Assert.Single(wire.Frames, f => f.Flags.HasFlag(CompressedFlags.NewStream));
        Assert.True(wire.Frames.Sum(f => f.Size) < text.Length / 2);
        Assert.Equal(text, wire.Received);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void On_never_gives_up_but_sends_frames_that_do_not_shrink_raw(CompressionMethod method)
    {
        using var wire = new Wire(method, CompressMode.On);

        wire.SendAll(Corpora.Random(512 * 1024));

        Assert.False(wire.Sender.IsAbandoned);
        Assert.All(wire.Frames, f => Assert.False(f.Compressed));
    }

    [Fact]
    public void Frames_under_64_bytes_go_raw_and_leave_the_compressed_stream_as_it_was()
    {
        using var wire = new Wire(CompressionMethod.Brotli, CompressMode.Auto);
        var text = Corpora.Text(3000);

        Assert.True(wire.Send(text.AsSpan(0, 1000)));
        Assert.False(wire.Send(text.AsSpan(1000, CompressionLimits.MinFrame - 1)));
        Assert.True(wire.Send(text.AsSpan(1063, 1000)));

        Assert.Equal([CompressedFlags.NewStream, CompressedFlags.None, CompressedFlags.None], wire.Frames.Select(f => f.Flags));
        Assert.Equal(text[..2063], wire.Received);
    }

    [Fact]
    public void A_frame_that_does_not_shrink_restarts_the_stream_for_the_next_compressed_one()
    {
        using var wire = new Wire(CompressionMethod.Brotli, CompressMode.On);

        Assert.True(wire.Send(Corpora.Text(4000)));
        Assert.False(wire.Send(Corpora.Random(4000)));
        Assert.True(wire.Send(Corpora.Text(4000, seed: 9)));

        Assert.Equal([CompressedFlags.NewStream, CompressedFlags.None, CompressedFlags.NewStream], wire.Frames.Select(f => f.Flags));
    }

    [Fact]
    public void Auto_sends_a_frame_that_looks_incompressible_raw_without_compressing_it_and_the_stream_goes_on()
    {
        using var wire = new Wire(CompressionMethod.Deflate, CompressMode.Auto);

        Assert.False(wire.Send(Corpora.Random(1024)));
        Assert.False(wire.Sender.HoldsState); // no compressor was made for it
        Assert.True(wire.Send(Corpora.Text(4000)));
        Assert.False(wire.Send(Corpora.Random(64 * 1024)));
        Assert.True(wire.Send(Corpora.Text(4000, seed: 9)));

        // The random frames never went through the compressor: the text frames are one stream.
        Assert.Equal([CompressedFlags.NewStream, CompressedFlags.None], wire.Frames.Where(f => f.Compressed).Select(f => f.Flags));
    }

    [Fact]
    public void An_abandoned_channel_probes_after_1MiB_and_waits_twice_as_long_after_each_failed_probe()
    {
        var counters = new CompressionCounters();
        using var sender = new ChannelCompressor(CompressionMethod.Brotli, CompressMode.Auto, counters);
        var frame = Corpora.Random(64 * 1024);
        var output = new byte[frame.Length];
        var compressedAt = new List<long>();
        long sent = 0;

        for (var i = 0; i < 8 * 16 + 8; i++)
        {
            if (sender.TryCompress(frame, output, out _, out _)) compressedAt.Add(sent);
            sent += frame.Length;
        }

        Assert.True(sender.IsAbandoned);
        Assert.Equal(1, counters.Abandoned);
        // Probes after 1 MiB, then 2 MiB, then 4 MiB of raw data: about 8.3 MiB sent.
        Assert.Equal(3, counters.Probes);
        Assert.Equal(8L << 20, sender.ProbeAfter);
    }

    [Fact]
    public void Bulk_reads_are_allowed_only_while_abandoned_and_short_of_the_next_probe_and_their_bytes_bring_the_probe_nearer()
    {
        var counters = new CompressionCounters();
        using var sender = new ChannelCompressor(CompressionMethod.Deflate, CompressMode.Auto, counters);
        var frame = Corpora.Random(64 * 1024);
        var output = new byte[frame.Length];
        const int Bulk = 256 * 1024;

        Assert.False(sender.GoesRaw(Bulk)); // judging: every frame must fit a compressed one
        for (var i = 0; i < CompressionLimits.AbandonAfter; i++) Assert.False(sender.TryCompress(frame, output, out _, out _));
        Assert.True(sender.IsAbandoned);

        // 1 MiB of raw bytes before the first probe: three bulk frames go raw untouched, the fourth would reach the probe.
        for (var i = 0; i < 3; i++)
        {
            Assert.True(sender.GoesRaw(Bulk));
            sender.SentRaw(Bulk);
        }
        Assert.False(sender.GoesRaw(Bulk));
        Assert.Equal(0, counters.Probes);

        // Then 64 KiB frames: the one that makes 1 MiB is the probe, judged (and failing on random data); the wait doubles.
        for (var i = 0; i < 3; i++) Assert.False(sender.TryCompress(frame, output, out _, out _));
        Assert.Equal(0, counters.Probes);
        Assert.False(sender.TryCompress(frame, output, out _, out _));
        Assert.Equal(1, counters.Probes);
        Assert.Equal(2L << 20, sender.ProbeAfter);
        Assert.True(sender.GoesRaw(Bulk));
    }

    [Fact]
    public void A_channel_that_compresses_or_never_gives_up_reads_frames_a_compressor_takes()
    {
        using var on = new ChannelCompressor(CompressionMethod.Deflate, CompressMode.On);
        var random = Corpora.Random(64 * 1024);
        var output = new byte[random.Length];
        for (var i = 0; i < 2 * CompressionLimits.AbandonAfter; i++) on.TryCompress(random, output, out _, out _);
        Assert.False(on.GoesRaw(256 * 1024));

        using var auto = new ChannelCompressor(CompressionMethod.Deflate, CompressMode.Auto);
        var text = Corpora.Text(64 * 1024);
        for (var i = 0; i < 2 * CompressionLimits.AbandonAfter; i++) Assert.True(auto.TryCompress(text, output, out _, out _));
        Assert.False(auto.GoesRaw(256 * 1024));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void An_abandoned_channel_compresses_again_once_its_data_turns_compressible(CompressionMethod method)
    {
        using var wire = new Wire(method, CompressMode.Auto);
        var text = Corpora.Text(2 << 20);

        wire.SendAll(Corpora.Random(1 << 20));
        Assert.True(wire.Sender.IsAbandoned);
        var before = wire.Frames.Count;
        wire.SendAll(text);

        Assert.False(wire.Sender.IsAbandoned);
        var after = wire.Frames.Skip(before).ToList();
        var firstCompressed = after.FindIndex(f => f.Compressed);
        Assert.InRange(firstCompressed, 0, 4 + 1); // the probe falls due within the first 1 MiB of text
        Assert.Equal(CompressedFlags.NewStream, after[firstCompressed].Flags);
        Assert.All(after.Skip(firstCompressed), f => Assert.True(f.Compressed));
    }

    [Theory]
    [InlineData(CompressionMethod.Brotli, CompressMode.Auto)]
    [InlineData(CompressionMethod.Brotli, CompressMode.On)]
    [InlineData(CompressionMethod.Deflate, CompressMode.Auto)]
    [InlineData(CompressionMethod.Deflate, CompressMode.On)]
    public void Any_mix_of_text_random_zeros_and_small_writes_arrives_intact(CompressionMethod method, CompressMode mode)
    {
        for (var seed = 0; seed < 5; seed++)
        {
            var random = new Random(seed);
            using var wire = new Wire(method, mode);
            var sent = new MemoryStream();
            for (var i = 0; i < 150; i++)
            {
                var size = random.Next(4) switch { 0 => random.Next(1, 64), 1 => random.Next(64, 2000), _ => random.Next(2000, 64 * 1024 + 1) };
                var data = random.Next(3) switch { 0 => Corpora.Text(size, seed * 1000 + i), 1 => Corpora.Random(size, seed * 1000 + i), _ => new byte[size] };
                wire.Send(data);
                sent.Write(data);
            }
            Assert.True(sent.ToArray().AsSpan().SequenceEqual(wire.Received), $"seed {seed}");
        }
    }
}

using Lstp.Tunnel.Resumption;
using Xunit;

namespace Lstp.Tunnel.Tests.Resumption;

/// <summary>The replay's non-temporal copy writes exactly what it is given, wherever the destination starts, and nothing past it.</summary>
public sealed class ReplayCopyTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(ReplayCopy.NonTemporalFrom - 1)]
    [InlineData(ReplayCopy.NonTemporalFrom)]
    [InlineData(ReplayCopy.NonTemporalFrom + 127)]
    [InlineData(64 * 1024)]
    [InlineData(64 * 1024 + 5)]
    [InlineData(200_001)]
    public void A_copy_is_exact_at_every_alignment_and_touches_nothing_around_it(int length)
    {
        var random = new Random(length);
        var from = new byte[length + 64];
        random.NextBytes(from);
        for (var sourceOffset = 0; sourceOffset < 64; sourceOffset += 13)
        {
            for (var offset = 0; offset < 64; offset++)
            {
                var to = new byte[length + 128];
                Array.Fill(to, (byte)0xA5);
                ReplayCopy.Copy(from.AsSpan(sourceOffset, length), to.AsSpan(offset, length));

                Assert.True(from.AsSpan(sourceOffset, length).SequenceEqual(to.AsSpan(offset, length)), $"length {length}, source at {sourceOffset}, destination at {offset}");
                Assert.All(to.AsSpan(0, offset).ToArray(), b => Assert.Equal(0xA5, b));
                Assert.All(to.AsSpan(offset + length).ToArray(), b => Assert.Equal(0xA5, b));
            }
        }
    }

    [Fact]
    public void A_destination_shorter_than_the_source_is_refused()
    {
        var from = new byte[ReplayCopy.NonTemporalFrom * 2];
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplayCopy.Copy(from, new byte[from.Length - 1]));
    }
}

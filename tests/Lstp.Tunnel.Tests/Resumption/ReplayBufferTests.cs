using System.Runtime.InteropServices;
using Lstp.Tunnel.Resumption;
using Lstp.Tunnel.Streams;
using Xunit;

namespace Lstp.Tunnel.Tests.Resumption;

public sealed class ReplayBufferTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void What_is_kept_from_any_offset_is_exactly_what_was_sent_from_there(int seed)
    {
        var random = new Random(seed);
        var buffer = new ReplayBuffer();
        var sent = new List<byte>();
        for (var round = 0; round < 400; round++)
        {
            var chunk = new byte[random.Next(0, random.Next(2) == 0 ? 100 : 200_000)];
            random.NextBytes(chunk);
            buffer.Append(chunk);
            sent.AddRange(chunk);
            Assert.Equal(sent.Count, buffer.End);
            if (random.Next(3) == 0) buffer.Trim(random.NextInt64(buffer.Start, buffer.End + 1));
            var from = random.NextInt64(buffer.Start, buffer.End + 1);
            var kept = buffer.From(from).SelectMany(m => m.ToArray()).ToArray();
            Assert.Equal(sent.Skip((int)from).ToArray(), kept);
        }
        buffer.Trim(buffer.End);
        Assert.Equal(0, buffer.Held);
        Assert.Empty(buffer.From(buffer.End));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Adopted_frames_mixed_with_copied_bytes_are_kept_in_order_and_in_their_own_arrays(int seed)
    {
        var random = new Random(seed);
        var buffer = new ReplayBuffer();
        var sent = new List<byte>();
        var adopted = new List<byte[]>();
        for (var round = 0; round < 300; round++)
        {
            var length = random.Next(3) switch { 0 => random.Next(0, 600), 1 => random.Next(1, 40_000), _ => random.Next(ReplayBuffer.AdoptFrom, 300_000) };
            var array = Chunk.Pool.Rent(Math.Max(length, 1));
            random.NextBytes(array.AsSpan(0, length));
            sent.AddRange(array.AsSpan(0, length).ToArray());
            if (ReplayBuffer.Adopts(array, length))
            {
                buffer.Adopt(array, length);
                adopted.Add(array);
            }
            else
            {
                buffer.Append(array.AsSpan(0, length));
                Chunk.Pool.Return(array);
            }
            Assert.Equal(sent.Count, buffer.End);
            if (random.Next(3) == 0) buffer.Trim(random.NextInt64(buffer.Start, buffer.End + 1));
            var from = random.NextInt64(buffer.Start, buffer.End + 1);
            Assert.Equal(sent.Skip((int)from).ToArray(), buffer.From(from).SelectMany(m => m.ToArray()).ToArray());
        }
        Assert.True(adopted.Count > 50, $"only {adopted.Count} frames were adopted");
        // What is kept of the last adopted frame is that frame's own array, not a copy.
        var last = adopted[^1];
        Assert.Contains(buffer.From(buffer.Start), kept => MemoryMarshal.TryGetArray(kept, out var segment) && ReferenceEquals(segment.Array, last));
        buffer.Trim(buffer.End);
        Assert.Equal(0, buffer.Held);
    }

    [Fact]
    public void Only_large_frames_that_fill_half_their_array_are_adopted()
    {
        Assert.True(ReplayBuffer.Adopts(new byte[256 * 1024], 256 * 1024));
        Assert.True(ReplayBuffer.Adopts(new byte[64 * 1024], 32 * 1024));
        Assert.False(ReplayBuffer.Adopts(new byte[128 * 1024], 40 * 1024)); // most of the array would be held for nothing
        Assert.False(ReplayBuffer.Adopts(new byte[32 * 1024], 20 * 1024)); // small: copied into shared segments
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReplayBuffer().Adopt(new byte[128 * 1024], 40 * 1024));
    }

    [Fact]
    public void Offsets_outside_what_is_kept_are_refused()
    {
        var buffer = new ReplayBuffer();
        buffer.Append(new byte[1000]);
        buffer.Trim(400);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.From(399).ToList());
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.From(1001).ToList());
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Trim(1001));
        buffer.Trim(100); // behind what is kept: nothing to do
        Assert.Equal(600, buffer.Held);
    }
}

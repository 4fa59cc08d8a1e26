using Lstp.Tunnel.Resumption;
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

using Lstp.Tunnel.Streams;
using Xunit;

namespace Lstp.Tunnel.Tests.Streams;

public sealed class ChunkPoolTests
{
    [Theory]
    [InlineData(1, 16)]
    [InlineData(40_000, 65_536)]
    [InlineData(65_545, 131_072)]
    [InlineData(262_144, 262_144)]
    [InlineData(300_000, 524_288)]
    public void A_rent_gets_the_smallest_size_that_holds_it_even_when_that_size_has_run_out(int length, int expected)
    {
        var pool = new ChunkPool();
        // Larger arrays are waiting and none of the asked size: the runtime's ArrayPool.Create would hand out one of those.
        var larger = Enumerable.Range(0, 3).Select(_ => pool.Rent(4 * expected)).ToList();
        larger.ForEach(a => pool.Return(a));
        var rented = pool.Rent(length);
        Assert.Equal(expected, rented.Length);
        pool.Return(rented);
    }

    [Fact]
    public void A_window_of_bulk_frames_returned_together_is_kept_for_the_next_reads()
    {
        var pool = new ChunkPool();
        var window = Enumerable.Range(0, 128).Select(_ => pool.Rent(256 * 1024)).ToList();
        window.ForEach(a => pool.Return(a));
        var again = Enumerable.Range(0, 128).Select(_ => pool.Rent(256 * 1024)).ToList();
        // Every one of them came back from the pool, not freshly allocated (the shared pool keeps a few dozen).
        Assert.Equal(128, again.Intersect(window, ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public void Arrays_of_other_sizes_go_to_and_from_the_shared_pool()
    {
        var pool = new ChunkPool();
        var small = pool.Rent(1000);
        Assert.Equal(1024, small.Length);
        pool.Return(small); // no exception: the shared pool takes it back
        Assert.Throws<ArgumentException>(() => pool.Return(new byte[100_000])); // as the shared pool refuses what is not its size
    }
}

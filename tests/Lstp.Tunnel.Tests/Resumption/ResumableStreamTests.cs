using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Protocol;
using Lstp.Tunnel.Resumption;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Streams;
using Lstp.Tunnel.Tests.Actors;
using Xunit;

namespace Lstp.Tunnel.Tests.Resumption;

/// <summary>
/// The resumable end-to-end stream over real loopback sockets standing in for links: a link is cut by closing its
/// sockets, and a new pair is handed over as the keeper would after a resumed handshake.
/// </summary>
public sealed class ResumableStreamTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static async Task<(NetworkStream A, NetworkStream B)> LinkAsync()
    {
        var (a, b) = await SocketPair.CreateAsync();
        return (new NetworkStream(a, ownsSocket: true), new NetworkStream(b, ownsSocket: true));
    }

    private static ResumableStream Resumable(Stream link, TaskCompletionSource broken, TimeSpan? grace = null, bool resumable = true) =>
        new(link, [], resumable, grace ?? Patience, TimeProvider.System) { Broken = _ => broken.TrySetResult() };

    private static async Task<byte[]> ReadAllAsync(Stream stream, int count)
    {
        var data = new byte[count];
        var got = 0;
        while (got < count)
        {
            var n = await stream.ReadAsync(data.AsMemory(got));
            Assert.True(n > 0, $"the stream ended after {got} of {count} bytes");
            got += n;
        }
        return data;
    }

    private static async Task WriteAllAsync(Stream stream, byte[] data, Func<int, Task> afterEach)
    {
        var random = new Random(7);
        for (var sent = 0; sent < data.Length;)
        {
            var n = Math.Min(random.Next(1, 100_000), data.Length - sent);
            await stream.WriteAsync(data.AsMemory(sent, n));
            await stream.FlushAsync();
            sent += n;
            await afterEach(sent);
        }
    }

    [Fact]
    public async Task Bytes_written_both_ways_across_a_cut_link_arrive_once_and_in_order()
    {
        var (a1, b1) = await LinkAsync();
        var aBroken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bBroken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = Resumable(a1, aBroken);
        await using var b = Resumable(b1, bBroken);
        var toB = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        var toA = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        Task? resuming = null;

        Task CutOnceAsync(int sent)
        {
            if (resuming is not null || sent < toB.Length / 3) return Task.CompletedTask;
            a1.Dispose(); // both sockets of the first link go: a reset, not a goodbye
            b1.Dispose();
            // Each side notices when it next reads or writes; then both resume at what the other received, as RESUME carries it.
            resuming = Task.Run(async () =>
            {
                await Task.WhenAll(aBroken.Task, bBroken.Task).WaitAsync(Patience);
                Assert.True(a.IsBroken && b.IsBroken);
                var (a2, b2) = await LinkAsync();
                var resumedA = a.ResumeAsync(a2, [], b.Received);
                var resumedB = b.ResumeAsync(b2, [], a.Received);
                Assert.True(await resumedA.WaitAsync(Patience));
                Assert.True(await resumedB.WaitAsync(Patience));
            });
            return Task.CompletedTask;
        }

        var readByB = ReadAllAsync(b, toB.Length);
        var readByA = ReadAllAsync(a, toA.Length);
        var writeByB = WriteAllAsync(b, toA, _ => Task.CompletedTask);
        await WriteAllAsync(a, toB, CutOnceAsync).WaitAsync(Patience);
        await writeByB.WaitAsync(Patience);
        Assert.NotNull(resuming);
        await resuming.WaitAsync(Patience);

        var gotByB = await readByB.WaitAsync(Patience);
        var gotByA = await readByA.WaitAsync(Patience);
        Assert.True(toB.AsSpan().SequenceEqual(gotByB), "B read other bytes than A wrote");
        Assert.True(toA.AsSpan().SequenceEqual(gotByA), "A read other bytes than B wrote");
        Assert.Equal(1, a.Resumptions);
        Assert.Equal(1, b.Resumptions);
        Assert.Equal(toB.Length, b.Received);
        // Nothing acknowledged since the resume, which forgot only what B had read by then: the rest is still kept.
        Assert.InRange(a.Held, 1, toB.Length);
        a.Acknowledged(b.Received);
        Assert.Equal(0, a.Held);
    }

    [Fact]
    public async Task Rented_frames_kept_in_their_own_arrays_are_replayed_intact_after_a_cut()
    {
        var (a1, b1) = await LinkAsync();
        var aBroken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = Resumable(a1, aBroken);
        var random = new Random(11);
        var sent = new List<byte>();
        // Bulk frames (adopted), a 64 KiB frame (adopted), and ones copied: small, or a fraction of their array.
        int[] lengths = [256 * 1024, 100, 64 * 1024, 40 * 1024, 256 * 1024, 1, 256 * 1024 - 3, 70_000];
        var total = lengths.Sum();
        var firstPass = ReadAllAsync(b1, total); // the peer's side of the first link, read raw
        foreach (var length in lengths)
        {
            var frame = Chunk.Pool.Rent(length);
            random.NextBytes(frame.AsSpan(0, length));
            sent.AddRange(frame.AsSpan(0, length).ToArray());
            await a.WriteRentedAsync(frame, length).AsTask().WaitAsync(Patience);
            // Whatever the pool hands out now is scribbled on: an array the stream gave back while still keeping it
            // would come back here, and the replay below would send the scribbles.
            var scribbled = Chunk.Pool.Rent(length);
            scribbled.AsSpan().Fill(0xEE);
            Chunk.Pool.Return(scribbled);
        }
        var carried = await firstPass.WaitAsync(Patience);
        Assert.True(sent.ToArray().AsSpan().SequenceEqual(carried), "the first link carried other bytes than were written");
        Assert.Equal(total, a.Held);

        a1.Dispose();
        b1.Dispose();
        await a.WriteAsync(new byte[] { 42 }); // kept, then found the link gone: a break
        sent.Add(42);
        await aBroken.Task.WaitAsync(Patience);
        // The peer lost everything: all of it goes again from what was kept.
        var (a2, b2) = await LinkAsync();
        var replayed = ReadAllAsync(b2, sent.Count);
        Assert.True(await a.ResumeAsync(a2, [], 0).WaitAsync(Patience));
        var again = await replayed.WaitAsync(Patience);
        Assert.True(sent.ToArray().AsSpan().SequenceEqual(again), "the replay sent other bytes than were written");
        a.Acknowledged(sent.Count);
        Assert.Equal(0, a.Held);
        b2.Dispose();
    }

    [Fact]
    public async Task A_stream_that_is_not_resumable_ends_on_the_first_break_like_a_plain_stream()
    {
        var (a1, b1) = await LinkAsync();
        var broken = new TaskCompletionSource();
        await using var b = Resumable(b1, broken, resumable: false);
        a1.Dispose();
        Assert.Equal(0, await b.ReadAsync(new byte[10]).AsTask().WaitAsync(Patience));
        Assert.False(broken.Task.IsCompleted);
        Assert.False(b.Resumable);
        b1.Dispose();
    }

    [Fact]
    public async Task A_break_not_resumed_within_the_grace_fails_reads_and_writes()
    {
        var (a1, b1) = await LinkAsync();
        var broken = new TaskCompletionSource();
        await using var b = Resumable(b1, broken, grace: TimeSpan.FromMilliseconds(200));
        var reading = b.ReadAsync(new byte[10]).AsTask();
        a1.Dispose();
        await broken.Task.WaitAsync(Patience);
        var failure = await Assert.ThrowsAsync<TunnelClosedException>(() => reading.WaitAsync(Patience));
        Assert.Contains("did not resume within 0.2 s", failure.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TunnelClosedException>(() => b.WriteAsync(new byte[3]).AsTask());
        Assert.False(b.IsBroken);
    }

    [Fact]
    public async Task After_the_peer_finished_the_end_of_its_link_is_final()
    {
        var (a1, b1) = await LinkAsync();
        var broken = new TaskCompletionSource();
        await using var b = Resumable(b1, broken);
        b.PeerFinished(); // its SHUTDOWN was read
        a1.Dispose();
        Assert.Equal(0, await b.ReadAsync(new byte[10]).AsTask().WaitAsync(Patience));
        Assert.False(broken.Task.IsCompleted);
        b1.Dispose();
    }

    [Fact]
    public async Task A_resume_at_a_byte_this_end_no_longer_has_is_refused_and_nothing_is_spliced()
    {
        var (a1, b1) = await LinkAsync();
        var broken = new TaskCompletionSource();
        await using var a = Resumable(a1, broken);
        await a.WriteAsync(new byte[1000]);
        a.Acknowledged(600);
        b1.Dispose();
        var reading = a.ReadAsync(new byte[10]).AsTask();
        await broken.Task.WaitAsync(Patience);

        var (a2, b2) = await LinkAsync();
        Assert.False(await a.ResumeAsync(a2, [], 500)); // the peer asks for bytes it had acknowledged
        var failure = await Assert.ThrowsAsync<TunnelClosedException>(() => reading.WaitAsync(Patience));
        Assert.Equal(ErrorCode.ProtocolViolation, failure.Code);
        Assert.Contains("outside what this end kept (600..1000)", failure.Message, StringComparison.Ordinal);
        a2.Dispose();
        b2.Dispose();
    }

    [Fact]
    public async Task Only_frames_other_than_acknowledgements_are_owed_an_acknowledgement()
    {
        var (a1, b1) = await LinkAsync();
        await using var b = new ResumableStream(b1, [], resumable: true, Patience, TimeProvider.System);
        await a1.WriteAsync(new byte[100]);
        await ReadAllAsync(b, 100);
        Assert.False(b.AckOwed); // bytes alone: the reader has not said what they were
        b.MarkAckable();
        Assert.True(b.AckOwed);
        Assert.Equal(100, b.TakeAck());
        Assert.False(b.AckOwed);

        await a1.WriteAsync(new byte[12]); // the peer's STREAM_ACK: the reader does not mark it
        await ReadAllAsync(b, 12);
        Assert.False(b.AckOwed); // so two idle ends never acknowledge each other's acknowledgements
        a1.Dispose();
    }

    [Fact]
    public async Task Acknowledgements_free_what_was_kept_open_the_window_and_may_not_exceed_what_was_sent()
    {
        var (a1, b1) = await LinkAsync();
        await using var a = new ResumableStream(a1, [], resumable: true, Patience, TimeProvider.System) { Window = 4096 };
        await a.WriteAsync(new byte[3000]);
        Assert.Equal(3000, a.Held);
        Assert.False(a.HasWindow(2000));
        var opened = a.WindowChanged;
        a.Acknowledged(2500);
        await opened.WaitAsync(Patience);
        Assert.Equal(500, a.Held);
        Assert.True(a.HasWindow(2000));
        var wrong = Assert.Throws<ProtocolException>(() => a.Acknowledged(3001));
        Assert.Equal(ErrorCode.ProtocolViolation, wrong.Code);
        b1.Dispose();
    }
}

using Lstp.Protocol.Messages;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Streams;
using Xunit;

namespace Lstp.Tunnel.Tests.Session;

/// <summary>The tunnel's one writer counts the control frames waiting in it, so a peer that never reads its answers can be cut.</summary>
public sealed class TunnelWriterTests
{
    [Fact]
    public async Task Control_frames_are_counted_while_they_wait_and_no_longer_once_written()
    {
        var writer = new TunnelWriter();
        for (var i = 0; i < 3; i++) Assert.True(writer.SendControl(new Pong((ulong)i)));
        Assert.Equal(3, writer.ControlQueued);

        writer.Complete();
        using var stream = new MemoryStream();
        await writer.RunAsync(stream, CancellationToken.None);

        Assert.Equal(0, writer.ControlQueued);
        Assert.Equal(3 * new Pong(0).ToFrame().Length, stream.Length);
    }

    [Fact]
    public void A_data_frame_takes_a_credit_per_64_KiB_it_carries()
    {
        Assert.Equal(1, TunnelWriter.CreditsFor(100));
        Assert.Equal(1, TunnelWriter.CreditsFor(64 * 1024)); // a full 64 KiB frame, header and all
        Assert.Equal(1, TunnelWriter.CreditsFor(64 * 1024 + 13)); // a compressed one of 64 KiB, its longer prefix too
        Assert.Equal(4, TunnelWriter.CreditsFor(256 * 1024)); // a bulk frame
        Assert.Equal(TunnelWriter.DataCredits, TunnelWriter.CreditsFor(1 << 24));
    }

    [Fact]
    public async Task Bulk_frames_queue_about_1_MiB_at_most_and_many_senders_of_them_all_get_through()
    {
        var writer = new TunnelWriter();
        var bulk = 256 * 1024;
        // Four bulk frames take every credit; the fifth waits until the writer has written one. Nothing writes yet, so
        // nothing can give a credit back: it is still waiting when the call returns.
        for (var i = 0; i < 4; i++) await writer.SendDataAsync(Chunk.Pool.Rent(bulk), bulk, CancellationToken.None);
        var fifth = writer.SendDataAsync(Chunk.Pool.Rent(bulk), bulk, CancellationToken.None).AsTask();
        Assert.False(fifth.IsCompleted);

        // Eight senders of bulk and single frames at once, each waiting for part of its credits: none may starve the
        // others by holding part of what it needs while the queue is empty.
        using var sink = new CountingStream();
        var run = writer.RunAsync(sink, CancellationToken.None);
        await fifth;
        var queued = 5L * bulk;
        var senders = Enumerable.Range(0, 8).Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                var length = (s + i) % 3 == 0 ? 1000 : bulk;
                await writer.SendDataAsync(Chunk.Pool.Rent(length), length, CancellationToken.None);
                Interlocked.Add(ref queued, length);
            }
        })).ToArray();
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(30));
        writer.Complete();
        await run;
        Assert.Equal(queued, sink.Written);
    }

    /// <summary>A sink that only counts, and takes its time, so senders wait for credits.</summary>
    private sealed class CountingStream : Stream
    {
        public long Written { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            Written += buffer.Length;
        }
        public override void Write(byte[] buffer, int offset, int count) => Written += count;
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

using System.Net.Sockets;
using System.Text;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Lstp.Testing;
using Lstp.Tunnel.Streams;
using Lstp.Tunnel.Tests.Actors;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Tunnel.Tests.Streams;

/// <summary>
/// The socket source and sink that carry every channel's bytes, each run on a real loopback socket pair with
/// Akka.Streams TestKit probes standing in for the rest of the graph.
/// </summary>
public sealed class SocketStageTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = INFO", output), IAsyncLifetime
{
    private const int Headroom = 9;
    private Socket _application = null!;
    private Socket _channel = null!;

    private IMaterializer Materializer => ByteStreams.MaterializerOf(Sys);

    public async Task InitializeAsync() => (_application, _channel) = await SocketPair.CreateAsync();

    public Task DisposeAsync()
    {
        _application.Dispose();
        _channel.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_source_reads_only_what_is_asked_for_leaving_room_for_a_header_and_completes_at_the_application_FIN()
    {
        var probe = Source.FromGraph(new SocketSource(_channel, Headroom, 1024)).RunWith(this.SinkProbe<Chunk>(), Materializer);

        await _application.SendAsync(Encoding.ASCII.GetBytes("hello"), SocketFlags.None);
        probe.EnsureSubscription();
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no demand: nothing is read
        Assert.Equal(5, _channel.Available);

        var chunk = probe.RequestNext();
        Assert.Equal((Headroom, "hello"), (chunk.Offset, Encoding.ASCII.GetString(chunk.Span)));
        Assert.True(chunk.Buffer.Length >= Headroom + 1024);
        chunk.Return();

        _application.Shutdown(SocketShutdown.Send);
        probe.Request(1);
        probe.ExpectComplete();
    }

    [Fact]
    public async Task The_source_asks_before_each_read_how_much_it_may_take_and_rents_no_more_than_that()
    {
        var size = 10;
        var source = new SocketSource(_ => _channel, Headroom, 64 * 1024, _ => () => size);
        var probe = Source.FromGraph(source).RunWith(this.SinkProbe<Chunk>(), Materializer);

        await _application.SendAsync(Encoding.ASCII.GetBytes(new string('a', 10) + new string('b', 90)), SocketFlags.None);
        probe.EnsureSubscription();

        var first = probe.RequestNext();
        Assert.Equal(new string('a', 10), Encoding.ASCII.GetString(first.Span));
        Assert.True(first.Buffer.Length < Headroom + 1024, $"a read of 10 bytes rented {first.Buffer.Length}");
        first.Return();

        size = 1 << 20; // more than the stage's most: clamped to it
        var second = probe.RequestNext();
        Assert.Equal(new string('b', 90), Encoding.ASCII.GetString(second.Span));
        Assert.InRange(second.Buffer.Length, Headroom + 64 * 1024, 2 * (Headroom + 64 * 1024));
        second.Return();
        probe.Cancel();
    }

    [Fact]
    public async Task The_source_fails_when_the_application_resets_the_connection()
    {
        var probe = Source.FromGraph(new SocketSource(_channel, Headroom, 1024)).RunWith(this.SinkProbe<Chunk>(), Materializer);
        probe.Request(1);

        _application.LingerState = new LingerOption(true, 0);
        _application.Close();

        var error = probe.ExpectError();
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(error).SocketErrorCode);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task The_sink_writes_in_order_reports_each_chunk_written_and_half_closes_when_the_stream_completes()
    {
        var written = new List<long>();
        var (publisher, done) = this.SourceProbe<Chunk>()
            .ToMaterialized(new SocketSink(_channel, chunk => { lock (written) written.Add(chunk.Counted); }), Keep.Both)
            .Run(Materializer);

        publisher.SendNext(Rented("one ", counted: 4));
        publisher.SendNext(Rented("two", counted: 30));
        publisher.SendComplete();

        await done.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("one two", Encoding.ASCII.GetString(await Net.ReadToEndAsync(_application)));
        lock (written) Assert.Equal([4L, 30L], written);
    }

    [Fact]
    public async Task The_sink_asks_for_the_next_chunk_only_once_the_application_took_the_last()
    {
        var (publisher, done) = this.SourceProbe<Chunk>()
            .ToMaterialized(new SocketSink(_channel, _ => { }), Keep.Both)
            .Run(Materializer);
        publisher.ExpectRequest();

        // Far more than the socket buffers hold: the write waits for the application to read. The stream's one-element
        // input buffer in front of the sink asks for one chunk more; nothing beyond that is asked for.
        const int Big = 32 * 1024 * 1024;
        publisher.SendNext(new Chunk(Chunk.Pool.Rent(Big), 0, Big));
        publisher.ExpectRequest();
        publisher.SendNext(new Chunk(Chunk.Pool.Rent(Big), 0, Big));
        publisher.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        Assert.Equal(Big, (await Net.ReadExactlyAsync(_application, Big)).Length);
        publisher.ExpectRequest();
        publisher.SendComplete();
        Assert.Equal(Big, (await Net.ReadToEndAsync(_application)).Length); // the second chunk, then FIN
        await done.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task The_sink_fails_its_task_when_the_application_is_gone()
    {
        var (publisher, done) = this.SourceProbe<Chunk>()
            .ToMaterialized(new SocketSink(_channel, _ => { }), Keep.Both)
            .Run(Materializer);
        _application.LingerState = new LingerOption(true, 0);
        _application.Close();

        // The first writes may still land in the socket buffer; the reset reaches a later one. Once the sink failed it
        // cancels its subscription, and the probe refuses further elements: that ends the loop too.
        var failed = Task.Run(async () =>
        {
            while (!done.IsCompleted)
            {
                try
                {
                    publisher.SendNext(Rented(new string('x', 60_000)));
                }
                catch (Exception)
                {
                    return;
                }
                await Task.WhenAny(done, Task.Delay(50));
            }
        });
        await Assert.ThrowsAnyAsync<SocketException>(() => done.WaitAsync(TimeSpan.FromSeconds(10)));
        await failed;
    }

    private static Chunk Rented(string text, long counted = 0)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var buffer = Chunk.Pool.Rent(bytes.Length + 3);
        bytes.CopyTo(buffer, 3);
        return new Chunk(buffer, 3, bytes.Length, counted);
    }
}

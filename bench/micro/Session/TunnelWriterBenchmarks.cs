using System.Buffers;
using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Protocol.Framing;
using Lstp.Tunnel.Session;

namespace Lstp.Bench.Micro.Session;

/// <summary>
/// The one writer of a tunnel (<see cref="TunnelWriter"/>): a channel's uplink hands it each SERVICE_DATA frame in a
/// pooled array (SendDataAsync waits for one of 16 credits), and its loop on another thread writes the frame and
/// returns the array. The stream drops the bytes, so this is the hand-over's cost per frame: credit, queue, wake-up,
/// pool. Each invocation sends 64 frames and waits until the loop has written them all.
/// </summary>
[MemoryDiagnoser]
public class TunnelWriterBenchmarks
{
    private const int FramesPerInvoke = 64;
    private const int FrameLength = FrameCodec.ServiceDataPrefix + Payloads.Frame;

    private readonly CancellationTokenSource _stopping = new();
    private readonly CountingSink _sink = new();
    private TunnelWriter _writer = null!;
    private Task _loop = Task.CompletedTask;

    [GlobalSetup]
    public void Setup()
    {
        _writer = new TunnelWriter();
        _loop = _writer.RunAsync(_sink, _stopping.Token);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Complete();
        _loop.GetAwaiter().GetResult();
        _stopping.Dispose();
    }

    [Benchmark(OperationsPerInvoke = FramesPerInvoke, Description = "SendDataAsync 64 KiB frames through the writer loop")]
    [ProcessesBytes(Payloads.Frame)]
    public async Task Send_data_frames()
    {
        var written = _sink.Expect((long)FramesPerInvoke * FrameLength);
        for (var i = 0; i < FramesPerInvoke; i++)
        {
            // As the uplink does: a pooled array per socket read, whose ownership passes to the writer.
            var frame = ArrayPool<byte>.Shared.Rent(FrameLength);
            FrameCodec.WriteServiceDataPrefix(frame, channel: 7, Payloads.Frame);
            await _writer.SendDataAsync(frame, FrameLength, _stopping.Token);
        }
        await written;
    }

    /// <summary>Drops what the writer writes; completes a task once the expected bytes have arrived.</summary>
    private sealed class CountingSink : Stream
    {
        private long _remaining;
        private TaskCompletionSource _done = new();

        public Task Expect(long bytes)
        {
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _remaining, bytes);
            return _done.Task;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Add(ref _remaining, -buffer.Length) == 0) _done.TrySetResult();
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) { }
    }
}

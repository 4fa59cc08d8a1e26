using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;
using Xunit;

namespace Lstp.Tunnel.Tests.Link;

/// <summary>How a paired link's RELAY frames are read: their payloads arrive in order, and large ones skip our buffer.</summary>
public sealed class RelayStreamReadTests
{
    [Fact]
    public async Task After_a_large_RELAY_frame_the_next_header_is_read_alone_so_its_payload_goes_straight_to_the_reader()
    {
        var payloads = Payloads();
        var link = new Recording(Wire(payloads));
        await using var relay = new RelayStream(link, new FrameStreamReader(link), LinkTimings.Default, TimeProvider.System);

        // Read as the tunnel's reader does: 64 KiB at a time.
        Assert.Equal(payloads.SelectMany(p => p).ToArray(), await ReadAllAsync(relay, 64 * 1024));
        // Where each frame begins on the link.
        var starts = new List<long>();
        long at = 0;
        foreach (var payload in payloads)
        {
            starts.Add(at);
            at += ProtocolLimits.HeaderSize + payload.Length;
        }
        starts.Add(at);
        var large = Enumerable.Range(0, payloads.Count).Where(i => payloads[i].Length >= 32 * 1024).ToList();
        // No read that starts inside a large frame's payload runs past its end...
        foreach (var i in large)
        {
            var inside = link.Reads.Where(r => r.At >= starts[i] + ProtocolLimits.HeaderSize && r.At < starts[i + 1]);
            Assert.All(inside, r => Assert.True(r.At + r.Asked <= starts[i + 1], $"the read at {r.At} asked for {r.Asked} bytes, past frame {i + 1}'s end at {starts[i + 1]}"));
        }
        // ...and the read that begins the frame after it asks for little (frames 2, 4 and 5), so the rest of that frame
        // is read into the caller's buffer, not copied out of ours. The first read fills the buffer: nothing large
        // came before it.
        var frameStarts = link.Reads.Where(r => large.Select(i => starts[i + 1]).Contains(r.At)).ToList();
        Assert.Equal(3, frameStarts.Count);
        Assert.All(frameStarts, r => Assert.True(r.Asked <= 1024, $"the read at {r.At} asked for {r.Asked} bytes"));
        Assert.True(link.Reads[0].Asked > 1024);
    }

    [Fact]
    public async Task Under_TLS_large_frames_are_still_read_ahead_not_a_receive_per_TLS_record()
    {
        var payloads = Payloads();
        var link = new Recording(Wire(payloads));
        await using var relay = new RelayStream(link, new FrameStreamReader(link), LinkTimings.Default, TimeProvider.System) { ReadByTls = true };

        // Read as SslStream does: a record (16 KiB and its overhead) at a time.
        Assert.Equal(payloads.SelectMany(p => p).ToArray(), await ReadAllAsync(relay, 16 * 1024 + 22));
        // Read straight into those 16 KiB, the ~440 KB would take 28 receives or more; read ahead into our 64 KiB buffer,
        // at most one per 32 KiB and one more per frame.
        var total = payloads.Sum(p => p.Length);
        Assert.True(link.Reads.Count <= total / (32 * 1024) + payloads.Count, $"{link.Reads.Count} reads for {total} bytes: {string.Join(", ", link.Reads.Select(r => r.Asked))}");
    }

    /// <summary>Large and small RELAY payloads, large ones after large and after small.</summary>
    private static List<byte[]> Payloads()
    {
        var random = new Random(7);
        return [.. new[] { 200_000, 100, 150_000, 90_000, 5 }.Select(n => { var p = new byte[n]; random.NextBytes(p); return p; })];
    }

    private static byte[] Wire(IEnumerable<byte[]> payloads)
    {
        var wire = new MemoryStream();
        foreach (var payload in payloads)
        {
            var header = new byte[ProtocolLimits.HeaderSize];
            FrameCodec.WriteHeader(header, MessageType.Relay, payload.Length);
            wire.Write(header);
            wire.Write(payload);
        }
        return wire.ToArray();
    }

    private static async Task<byte[]> ReadAllAsync(RelayStream relay, int readSize)
    {
        var received = new MemoryStream();
        var buffer = new byte[readSize];
        int n;
        while ((n = await relay.ReadAsync(buffer)) > 0) received.Write(buffer, 0, n);
        return received.ToArray();
    }

    /// <summary>A link that gives at most what is asked and records each read's position and size.</summary>
    private sealed class Recording(byte[] data) : MemoryStream(data, writable: false)
    {
        public List<(long At, int Asked)> Reads { get; } = [];

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Reads.Add((Position, buffer.Length));
            return base.ReadAsync(buffer, cancellationToken);
        }
    }
}

using Lstp.Protocol;
using Lstp.Protocol.Framing;

namespace Lstp.Testing.Fuzzing;

/// <summary>
/// Mutates LSTP byte sequences the ways broken or hostile peers and networks get them wrong: flipped bits,
/// interesting bytes, inserted and deleted runs, edited frame lengths and types, edited string lengths,
/// truncation, splices, duplicated runs and repeated frames. One mutator for the codec fuzzer
/// (tests/Lstp.Protocol.Tests) and the live-middle setup fuzzer (tests/Lstp.Scenarios). Deterministic for a
/// given <see cref="Random"/>.
/// </summary>
public sealed class FrameMutator(Random random, IReadOnlyList<byte[]> seeds)
{
    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x02, 0x04, 0x1f, 0x20, 0x30, 0x31, 0x37, 0x4c, 0x7f, 0x80, 0xc0, 0xed, 0xfe, 0xff];

    private static readonly int[] InterestingLengths =
    [
        0, 1, 2, 3, 4, 7, 8, 16, 32, 33, 255, 256, ProtocolLimits.MaxSetupPayload, ProtocolLimits.MaxSetupPayload + 1,
        ProtocolLimits.DefaultMaxPayload, ProtocolLimits.DefaultMaxPayload + 1, ProtocolLimits.AbsoluteMaxPayload,
    ];

    private static readonly ushort[] InterestingU16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffe, 0xffff];

    private static readonly byte[] KnownTypes = [.. Enum.GetValues<MessageType>().Select(t => (byte)t)];

    /// <summary>One to four mutations of a random seed; <paramref name="what"/> says which, for the report.</summary>
    public byte[] Next(out string what)
    {
        var source = random.Next(seeds.Count);
        var bytes = new List<byte>(seeds[source]);
        var steps = new List<string> { $"seed {source}" };
        var count = 1 + random.Next(4);
        for (var i = 0; i < count; i++) steps.Add(MutateOnce(bytes));
        what = string.Join(", ", steps);
        return [.. bytes];
    }

    private string MutateOnce(List<byte> bytes)
    {
        switch (random.Next(11))
        {
            case 0 when bytes.Count > 0:
            {
                var at = random.Next(bytes.Count);
                var bit = random.Next(8);
                bytes[at] ^= (byte)(1 << bit);
                return $"flip bit {bit} of byte {at}";
            }
            case 1 when bytes.Count > 0:
            {
                var at = random.Next(bytes.Count);
                bytes[at] = InterestingBytes[random.Next(InterestingBytes.Length)];
                return $"set byte {at} to {bytes[at]:x2}";
            }
            case 2:
            {
                var at = random.Next(bytes.Count + 1);
                var run = new byte[1 + random.Next(16)];
                random.NextBytes(run);
                bytes.InsertRange(at, run);
                return $"insert {run.Length} bytes at {at}";
            }
            case 3 when bytes.Count > 0:
            {
                var at = random.Next(bytes.Count);
                var n = Math.Min(1 + random.Next(16), bytes.Count - at);
                bytes.RemoveRange(at, n);
                return $"delete {n} bytes at {at}";
            }
            case 4:
            {
                var at = FrameStart(bytes);
                if (at + ProtocolLimits.HeaderSize > bytes.Count) return "no header to edit";
                var length = random.Next(3) == 0 ? random.Next(0, ProtocolLimits.AbsoluteMaxPayload + 1) : InterestingLengths[random.Next(InterestingLengths.Length)];
                bytes[at + 1] = (byte)(length >> 16);
                bytes[at + 2] = (byte)(length >> 8);
                bytes[at + 3] = (byte)length;
                return $"set the frame length at {at} to {length}";
            }
            case 5:
            {
                var at = FrameStart(bytes);
                if (at >= bytes.Count) return "no header to edit";
                bytes[at] = random.Next(8) == 0 ? (byte)random.Next(256) : KnownTypes[random.Next(KnownTypes.Length)];
                return $"set the frame type at {at} to {bytes[at]:x2}";
            }
            case 6 when bytes.Count >= 2:
            {
                var at = random.Next(bytes.Count - 1);
                var value = InterestingU16[random.Next(InterestingU16.Length)];
                bytes[at] = (byte)(value >> 8);
                bytes[at + 1] = (byte)value;
                return $"set u16 at {at} to {value}";
            }
            case 7 when bytes.Count > 0:
            {
                var keep = random.Next(bytes.Count);
                bytes.RemoveRange(keep, bytes.Count - keep);
                return $"truncate to {keep}";
            }
            case 8:
            {
                var other = seeds[random.Next(seeds.Count)];
                var keep = random.Next(bytes.Count + 1);
                var from = random.Next(other.Length + 1);
                bytes.RemoveRange(keep, bytes.Count - keep);
                bytes.AddRange(other.AsSpan(from).ToArray());
                return $"splice at {keep} with another seed from {from}";
            }
            case 9 when bytes.Count > 0:
            {
                var at = random.Next(bytes.Count);
                var n = Math.Min(1 + random.Next(64), bytes.Count - at);
                bytes.InsertRange(at + n, bytes.GetRange(at, n));
                return $"duplicate {n} bytes at {at}";
            }
            case 10 when bytes.Count >= Preamble.Size:
            {
                // Repeat a whole frame (a second COMMONUNIQUE_INFO, a PING flood, ...).
                var at = FrameStart(bytes);
                if (at + ProtocolLimits.HeaderSize > bytes.Count) return "no frame to repeat";
                var end = Math.Min(bytes.Count, at + ProtocolLimits.HeaderSize + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]));
                var frame = bytes.GetRange(at, end - at);
                var times = 1 + random.Next(20);
                for (var i = 0; i < times; i++) bytes.InsertRange(end, frame);
                return $"repeat the frame at {at} {times} times";
            }
        }
        return "no change";
    }

    /// <summary>The offset of a frame header: walks whole frames from the start (after a preamble), stopping at a random one.</summary>
    private int FrameStart(List<byte> bytes)
    {
        var at = bytes.Count >= Preamble.Size && bytes[0] == (byte)'L' && bytes[1] == (byte)'S' ? Preamble.Size : 0;
        var stops = random.Next(4);
        for (var i = 0; i < stops && at + ProtocolLimits.HeaderSize <= bytes.Count; i++)
        {
            var next = at + ProtocolLimits.HeaderSize + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
            if (next + ProtocolLimits.HeaderSize > bytes.Count) break;
            at = next;
        }
        return at;
    }
}

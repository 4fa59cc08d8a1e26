using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Protocol.Tests.Messages;

namespace Lstp.Protocol.Tests;

/// <summary>
/// docs/protocol.md §10 lists test vectors between <c>&lt;!-- vectors:begin --&gt;</c> and
/// <c>&lt;!-- vectors:end --&gt;</c>. Every row must decode as its type and re-encode to the same bytes,
/// and the rows must be exactly what the codec writes for <see cref="Samples"/>: the spec stays true to the code.
/// </summary>
public class SpecVectorTests
{
    private const string PreambleType = "PREAMBLE";

    private sealed record Vector(string Name, string Type, string Hex)
    {
        public byte[] Bytes => Tests.Bytes.FromHex(Hex);
        public string Row => $"| {Name} | {Type} | {Hex} |";
    }

    [Fact]
    public void Every_vector_in_the_spec_decodes_as_its_type_and_reencodes_to_the_same_bytes()
    {
        foreach (var vector in ReadSpec())
        {
            var bytes = vector.Bytes;
            var buffer = Bytes.Sequence(bytes);
            if (vector.Type == PreambleType)
            {
                Assert.True(Preamble.TryRead(ref buffer, out var role), vector.Name);
                Assert.Equal(bytes, Preamble.Create(role));
            }
            else
            {
                Assert.True(FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out var type, out var payload), $"{vector.Name} is not a whole frame");
                Assert.Equal(vector.Type, MessageNames.Of(type));
                var message = MessageCodec.Decode(type, payload);
                Assert.Equal(vector.Hex, Bytes.Hex(message.ToFrame()));
            }
            Assert.True(buffer.IsEmpty, $"{vector.Name} has bytes after its frame");
        }
    }

    [Fact]
    public void The_spec_has_a_vector_for_every_message_type_and_the_preamble()
    {
        var types = ReadSpec().Select(v => v.Type).ToHashSet();
        var missing = Enum.GetValues<MessageType>().Select(MessageNames.Of).Append(PreambleType).Where(t => !types.Contains(t)).ToList();

        Assert.True(missing.Count == 0, $"docs/protocol.md has no vector for {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_spec_vectors_are_what_the_codec_writes_for_the_samples()
    {
        var spec = ReadSpec().ToDictionary(v => v.Name);
        var expected = ExpectedVectors();
        var wrong = expected.Where(v => !spec.TryGetValue(v.Name, out var row) || row != v).Select(v => v.Row).ToList();
        var extra = spec.Keys.Except(expected.Select(v => v.Name)).ToList();

        Assert.True(wrong.Count == 0, "docs/protocol.md §10 is missing or has different rows; the codec writes:\n" + string.Join('\n', wrong));
        Assert.True(extra.Count == 0, $"docs/protocol.md §10 has rows with no sample in Samples.cs: {string.Join(", ", extra)}");
    }

    /// <summary>The vector table the codec produces, in the spec's order: preambles, then messages by type code.</summary>
    private static List<Vector> ExpectedVectors() =>
    [
        .. Samples.Preambles.Select(p => new Vector(p.Name, PreambleType, Bytes.Hex(Preamble.Create(p.Role)))),
        .. Samples.Messages
            .Select((s, i) => (s, i))
            .OrderBy(x => (byte)x.s.Message.Type).ThenBy(x => x.i)
            .Select(x => new Vector(x.s.Name, MessageNames.Of(x.s.Message.Type), Bytes.Hex(x.s.Message.ToFrame()))),
    ];

    private static List<Vector> ReadSpec()
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "protocol.md"));
        var begin = text.IndexOf("<!-- vectors:begin -->", StringComparison.Ordinal);
        var end = text.IndexOf("<!-- vectors:end -->", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "docs/protocol.md has no <!-- vectors:begin --> ... <!-- vectors:end --> block");

        var vectors = new List<Vector>();
        foreach (var line in text[begin..end].Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('|')))
        {
            var cells = line.Trim('|').Split('|').Select(c => c.Trim().Trim('`')).ToArray();
            Assert.True(cells.Length == 3, $"a vector row needs | name | type | hex |: {line}");
            if (cells[0] == "name" || cells[0].StartsWith('-')) continue; // header and separator
            vectors.Add(new Vector(cells[0], cells[1], cells[2]));
        }
        Assert.NotEmpty(vectors);
        Assert.Equal(vectors.Count, vectors.Select(v => v.Name).Distinct().Count());
        return vectors;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LstpActors.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no LstpActors.sln above {AppContext.BaseDirectory}");
    }
}

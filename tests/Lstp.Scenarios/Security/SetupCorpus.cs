using System.Security.Cryptography;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Testing.Security;

namespace Lstp.Scenarios.Security;

/// <summary>
/// Seeds for the middle's setup parser: the files in Security/corpus/*.bin (valid setups and each kind of bad
/// one; every input the fuzzer finds that breaks the middle is added here), plus valid setups built with the
/// codec at run time. The files are read next to the test assembly when the project copies them there, and
/// otherwise from this folder in the source tree.
/// </summary>
public static class SetupCorpus
{
    public static string Directory
    {
        get
        {
            var copied = Path.Combine(AppContext.BaseDirectory, "Security", "corpus");
            return System.IO.Directory.Exists(copied) ? copied : Path.Combine(SecurityKit.SourceDirectory(), "corpus");
        }
    }

    public static IReadOnlyList<(string Name, byte[] Bytes)> Files() =>
        [.. System.IO.Directory.GetFiles(Directory, "*.bin").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))];

    /// <summary>Valid setup byte sequences, built with the codec from <paramref name="random"/> (so a seed reproduces them).</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Built(Random random)
    {
        byte[] Bytes(int n) { var b = new byte[n]; random.NextBytes(b); return b; }
        string Name() => random.Next(4) switch
        {
            0 => "end-" + random.Next(1000),
            1 => "ünïcödé-端-" + random.Next(1000),
            2 => new string('n', random.Next(1, 300)),
            _ => "",
        };
        for (var i = 0; i < 12; i++)
        {
            var id = Bytes(ProtocolLimits.NodeIdSize);
            var name = Name();
            var info = new CommonUniqueInfo(Bytes(ProtocolLimits.PairingKeySize), (uint)random.Next(3), name, Name(), id, random.Next(4) == 0 ? SetupFlags.Plaintext : SetupFlags.None);
            var path = new List<TopologyEntry> { new(NodeKind.End, name, "local", id) };
            for (var m = random.Next(3); m > 0; m--) path.Add(new TopologyEntry(NodeKind.Middle, "m" + m, $"198.51.100.{m}:7700", Bytes(ProtocolLimits.NodeIdSize)));
            var token = random.Next(3) == 0 ? "token-" + random.Next(100) : null;
            var bytes = RawSetup.Bytes(info, new TopologyExchange(path), token).ToList();
            if (random.Next(3) == 0) bytes.InsertRange(Preamble.Size, new Ping((ulong)random.Next()).ToFrame());
            yield return ($"built-{i}", [.. bytes]);
        }
    }

    /// <summary>
    /// What the middle (no tokens, a short setup deadline) must answer each corpus file with when the sender keeps
    /// the connection open: an ERROR code (and then a close), or WAITING. Whether a preamble comes before an ERROR
    /// that refuses the very first bytes is not asserted here (see LimitTests' rate-limit case).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Expected> Answers = new Dictionary<string, Expected>
    {
        ["admission-twice.bin"] = Expected.Refused(ErrorCode.ProtocolViolation),
        ["bad-enum-node-kind.bin"] = Expected.Refused(ErrorCode.Malformed),
        ["bad-key-length.bin"] = Expected.Refused(ErrorCode.Malformed),
        ["bad-magic-http.bin"] = Expected.Refused(ErrorCode.BadPreamble, preamble: null),
        ["bad-magic-tls-client-hello.bin"] = Expected.Refused(ErrorCode.BadPreamble, preamble: null),
        ["bad-role-9.bin"] = Expected.Refused(ErrorCode.BadPreamble, preamble: null),
        ["bad-utf8-name.bin"] = Expected.Refused(ErrorCode.Malformed),
        ["bad-version.bin"] = Expected.Refused(ErrorCode.BadPreamble, preamble: null),
        ["cui-twice.bin"] = Expected.Refused(ErrorCode.ProtocolViolation),
        ["error-during-setup.bin"] = Expected.Refused(ErrorCode.ProtocolViolation),
        ["oversized-cui-16mib.bin"] = Expected.Refused(ErrorCode.FrameTooLarge),
        ["oversized-setup-16385.bin"] = Expected.Refused(ErrorCode.FrameTooLarge),
        ["relay-after-setup-before-peer.bin"] = Expected.Refused(ErrorCode.ProtocolViolation, waiting: true),
        ["relay-before-pairing.bin"] = Expected.Refused(ErrorCode.ProtocolViolation),
        ["setup-then-junk.bin"] = Expected.Refused(ErrorCode.UnknownType, waiting: true),
        ["setup-then-oversized-relay.bin"] = Expected.Refused(ErrorCode.FrameTooLarge, waiting: true),
        ["topology-33-entries.bin"] = Expected.Refused(ErrorCode.Malformed),
        ["topology-before-cui.bin"] = Expected.Refused(ErrorCode.ProtocolViolation),
        ["topology-empty-path.bin"] = Expected.Refused(ErrorCode.Malformed),
        ["topology-starts-with-middle.bin"] = Expected.Refused(ErrorCode.Malformed),
        ["trailing-byte-cui.bin"] = Expected.Refused(ErrorCode.Malformed),
        ["truncated-cui.bin"] = Expected.Refused(ErrorCode.SetupTimeout),
        ["truncated-header.bin"] = Expected.Refused(ErrorCode.SetupTimeout),
        ["truncated-preamble.bin"] = Expected.Refused(ErrorCode.SetupTimeout, preamble: null),
        ["unknown-type.bin"] = Expected.Refused(ErrorCode.UnknownType),
        ["valid-setup-admission.bin"] = Expected.Waits(),
        ["valid-setup-ping-first.bin"] = Expected.Waits(pong: true),
        ["valid-setup-plaintext.bin"] = Expected.Waits(),
        ["valid-setup-unicode.bin"] = Expected.Waits(),
        ["valid-setup-via-middle.bin"] = Expected.Waits(),
        ["valid-setup.bin"] = Expected.Waits(),
        ["wrong-type-service-data.bin"] = Expected.Refused(ErrorCode.ProtocolViolation),
    };

    /// <summary>The answer a corpus file must get: whether the middle's preamble comes first, then its frames.</summary>
    public sealed record Expected(bool? Preamble, IReadOnlyList<Type> Frames, ErrorCode? Code)
    {
        public static Expected Refused(ErrorCode code, bool? preamble = true, bool waiting = false) =>
            new(preamble, waiting ? [typeof(Waiting), typeof(Error)] : [typeof(Error)], code);

        public static Expected Waits(bool pong = false) => new(true, pong ? [typeof(Pong), typeof(Waiting)] : [typeof(Waiting)], null);
    }
}

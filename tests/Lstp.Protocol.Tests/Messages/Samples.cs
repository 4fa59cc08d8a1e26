using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Messages;

/// <summary>
/// Fixed, named instances of every message type and every preamble. docs/protocol.md §10 lists their
/// bytes as test vectors, and the spec test checks each row against what the codec writes for these.
/// </summary>
public static class Samples
{
    /// <summary>A recognisable 32-byte pairing key: 00 01 02 … 1f.</summary>
    public static byte[] PairingKey => [.. Enumerable.Range(0x00, 32).Select(i => (byte)i)];

    /// <summary>Instance ids of end A, end B and the middle: a0…, b0…, c0… (16 bytes each).</summary>
    public static byte[] EndAId => [.. Enumerable.Range(0, 16).Select(i => (byte)(0xa0 + i))];
    public static byte[] EndBId => [.. Enumerable.Range(0, 16).Select(i => (byte)(0xb0 + i))];
    public static byte[] MiddleId => [.. Enumerable.Range(0, 16).Select(i => (byte)(0xc0 + i))];

    /// <summary>
    /// "hello " sixteen times (96 bytes) as this build's Brotli (quality 3, 2^16 window), flushed: the first frame
    /// of a compressed stream, 19 bytes. Its first byte, 0xf0, has bit 0 clear: a 16-bit window.
    /// </summary>
    public static byte[] BrotliHellos =>
        [0xf0, 0x05, 0x00, 0x00, 0xc0, 0xc6, 0xd8, 0xba, 0xfe, 0x23, 0x34, 0x84, 0x02, 0xb6, 0x38, 0xd0, 0x59, 0xc7, 0x00];

    /// <summary>A resumable tunnel's name in RESUME: 60 61 … 6f.</summary>
    public static byte[] ResumeTunnel => [.. Enumerable.Range(0x60, 16).Select(i => (byte)i)];

    /// <summary>A 32-byte nonce or MAC: 40 41 … 5f.</summary>
    public static byte[] Bytes32 => [.. Enumerable.Range(0x40, 32).Select(i => (byte)i)];

    public static readonly TopologyEntry EndA = new(NodeKind.End, "a", "10.0.0.1:50000", EndAId);
    public static readonly TopologyEntry Middle = new(NodeKind.Middle, "m1", "203.0.113.7:7700", MiddleId);

    /// <summary>Every preamble the protocol defines, by name.</summary>
    public static IReadOnlyList<(string Name, LinkRole Role)> Preambles { get; } =
    [
        ("preamble-end", LinkRole.End),
        ("preamble-node", LinkRole.Node),
        ("preamble-data", LinkRole.Data),
    ];

    /// <summary>At least one message of every type, by name (the names are the vector names in the spec).</summary>
    public static IReadOnlyList<(string Name, Message Message)> Messages { get; } =
    [
        ("commonunique-info", new CommonUniqueInfo(PairingKey, 0, "a", "alice", EndAId, SetupFlags.None)),
        ("commonunique-info-plaintext", new CommonUniqueInfo(PairingKey, 7, "b", "", EndBId, SetupFlags.Plaintext)),
        ("topology-exchange-end", new TopologyExchange([EndA])),
        ("topology-exchange-via-middle", new TopologyExchange([EndA, Middle])),
        ("property-exchange", new PropertyExchange(
        [
            new("version", "1"),
            new("software", "lstp/1.0.0.0"),
            new("feature", "tunnel-report"),
            new("service", "web"),
            new("allow", "10.0.0.0/8:443"),
            new("helper", "ftp"),
            new("compression", "none"),
        ])),
        ("admission", new Admission("s3cret")),
        ("auth-proof-nonce", new AuthProof(AuthStage.Nonce, Bytes32)),
        ("auth-proof-mac", new AuthProof(AuthStage.Mac, Bytes32)),
        ("resume-offer", new Resume(ResumeTunnel, Bytes32, 4096, Bytes32)),
        ("resume-no-offer", new Resume(new byte[Resume.TunnelSize], [], 0, Bytes32)),
        ("connection-request", new ConnectionRequest(1, ConnectionKind.Multiplexed)),
        ("connection-request-dedicated", new ConnectionRequest(3, ConnectionKind.Dedicated, 2)),
        ("connection-ack", new ConnectionAck(1)),
        ("connection-nack", new ConnectionNack(2, ErrorCode.TooManyChannels, "full")),
        ("service-begin-request-service", new ServiceBeginRequest(1, TargetKind.Service, "web", 0)),
        ("service-begin-request-destination", new ServiceBeginRequest(3, TargetKind.Destination, "example.com", 443)),
        ("service-begin-request-no-compression", new ServiceBeginRequest(5, TargetKind.Service, "db", 0, BeginOptions.NoCompression)),
        ("service-begin-ack", new ServiceBeginAck(1)),
        ("service-begin-nack", new ServiceBeginNack(3, ErrorCode.NotAllowed, "denied")),
        ("service-data", new ServiceData(1, "hi"u8.ToArray())),
        ("service-data-pause", new ServiceDataPause(1)),
        ("service-data-resume", new ServiceDataResume(1)),
        ("service-free-request", new ServiceFreeRequest(1)),
        ("service-free-request-abort", new ServiceFreeRequest(1, FreeFlags.Abort)),
        ("service-free-response", new ServiceFreeResponse(1)),
        ("service-data-compressed", new ServiceDataCompressed(1, CompressedFlags.NewStream, 96, BrotliHellos)),
        ("shutdown", new Shutdown(ErrorCode.Shutdown, "bye")),
        ("error", new Error(ErrorCode.AuthFailed, "bad proof")),
        ("ping", new Ping(1)),
        ("pong", new Pong(1)),
        ("stream-ack", new StreamAck(65536)),
        ("relay", new Relay(new byte[] { 0x16, 0x03, 0x03 })),
        ("waiting", new Waiting(600)),
        ("redirect", new Redirect("m2:7700", "draining")),
        ("tunnel-report", new TunnelReport(2, 1000, 2000)),
        ("origin", new Origin("198.51.100.7")),
        ("publish-request", new PublishRequest("web", 8080, [.. Enumerable.Range(0, 32).Select(i => (byte)i)])),
        ("publish-ack", new PublishAck(8080, [0x01, 0x02, 0x03, 0x04])),
        ("plain-client", new PlainClient(42, 8080, "198.51.100.9:40000")),
        ("data-link", new DataLink(42, [0x01, 0x02, 0x03, 0x04])),
        ("node-claim", new NodeClaim("c1a2")),
        ("middle-members", new MiddleMembers(["m1:7700", "m2:7700"])),
    ];

    /// <summary>Types whose payload ends in raw bytes, so any prefix past the fixed fields is itself valid.</summary>
    public static bool EndsInRawBytes(MessageType type) => type is MessageType.ServiceData or MessageType.ServiceDataCompressed or MessageType.Relay;

    /// <summary>The fixed part before the raw bytes of <see cref="EndsInRawBytes"/> types.</summary>
    public static int FixedPrefix(MessageType type) => type switch
    {
        MessageType.ServiceData => 4,
        MessageType.ServiceDataCompressed => 9,
        _ => 0,
    };

    public static TheoryData<string> MessageNames()
    {
        var data = new TheoryData<string>();
        foreach (var (name, _) in Messages) data.Add(name);
        return data;
    }

    public static Message Named(string name) => Messages.Single(s => s.Name == name).Message;
}

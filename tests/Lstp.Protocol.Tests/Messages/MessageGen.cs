using FsCheck;
using FsCheck.Fluent;
using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Messages;

/// <summary>FsCheck generators of valid messages of every type.</summary>
public static class MessageGen
{
    public static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(i => (byte)i);
    public static readonly Gen<ushort> U16 = Gen.Choose(0, ushort.MaxValue).Select(i => (ushort)i);
    public static readonly Gen<uint> U32 = from hi in U16 from lo in U16 select ((uint)hi << 16) | lo;
    public static readonly Gen<ulong> U64 = from hi in U32 from lo in U32 select ((ulong)hi << 32) | lo;

    public static Gen<byte[]> BytesOf(int count) => AnyByte.ArrayOf(count);
    public static readonly Gen<byte[]> SomeBytes = Gen.Sized(size => Gen.Choose(0, size * 4).SelectMany(BytesOf));
    public static readonly Gen<byte[]> Short = Gen.Choose(0, 255).SelectMany(BytesOf);

    /// <summary>Characters from ASCII, Latin, CJK and a surrogate pair, so UTF-8 lengths of 1 to 4 bytes all occur.</summary>
    private static readonly Gen<string> Piece = Gen.OneOf(
        Gen.Choose(0x20, 0x7e).Select(c => ((char)c).ToString()),
        Gen.Choose(0x00, 0x1f).Select(c => ((char)c).ToString()),
        Gen.Choose(0xa0, 0x7ff).Select(c => ((char)c).ToString()),
        Gen.Choose(0x4e00, 0x9fff).Select(c => ((char)c).ToString()),
        Gen.Constant("😀"));

    public static readonly Gen<string> Str = Gen.Sized(size => Gen.Choose(0, size).SelectMany(n => Piece.ArrayOf(n))).Select(string.Concat);

    public static readonly Gen<ErrorCode> Code = Gen.OneOf(Gen.Elements(Enum.GetValues<ErrorCode>()), U16.Select(c => (ErrorCode)c));

    private static readonly Gen<TopologyEntry> Entry =
        from kind in Gen.Elements(NodeKind.End, NodeKind.Middle)
        from name in Str
        from address in Str
        from id in BytesOf(ProtocolLimits.NodeIdSize)
        select new TopologyEntry(kind, name, address, id);

    private static readonly Gen<KeyValuePair<string, string>> Property =
        from key in Gen.OneOf(Gen.Elements("version", "software", "feature", "service", "allow", "helper", "compression"), Str)
        from value in Str
        select new KeyValuePair<string, string>(key, value);

    /// <summary>A valid message of a random type; every type has a generator here.</summary>
    public static readonly Gen<Message> Any = Gen.OneOf<Message>(
        from key in BytesOf(ProtocolLimits.PairingKeySize) from slot in U32 from name in Str from user in Str
        from id in BytesOf(ProtocolLimits.NodeIdSize) from flags in AnyByte
        select (Message)new CommonUniqueInfo(key, slot, name, user, id, (SetupFlags)flags),
        Gen.Choose(0, ProtocolLimits.MaxTopologyEntries).SelectMany(n => Entry.ArrayOf(n)).Select(e => (Message)new TopologyExchange(e)),
        Gen.Sized(size => Gen.Choose(0, size).SelectMany(n => Property.ArrayOf(n))).Select(p => (Message)new PropertyExchange(p)),
        Str.Select(t => (Message)new Admission(t)),
        from stage in Gen.Elements(AuthStage.Nonce, AuthStage.Mac) from value in Short select (Message)new AuthProof(stage, value),
        from tunnel in BytesOf(Resume.TunnelSize) from proof in Gen.Elements(0, Resume.ProofSize).SelectMany(BytesOf) from received in U64
        from share in Gen.Elements(0, Resume.ShareSize).SelectMany(BytesOf) select (Message)new Resume(tunnel, proof, received, share),
        from channel in U32 from kind in Gen.Elements(ConnectionKind.Multiplexed, ConnectionKind.Dedicated) from slot in U32
        select (Message)new ConnectionRequest(channel, kind, slot),
        U32.Select(c => (Message)new ConnectionAck(c)),
        from channel in U32 from code in Code from reason in Str select (Message)new ConnectionNack(channel, code, reason),
        from channel in U32 from kind in Gen.Elements(TargetKind.Service, TargetKind.Destination) from target in Str from port in U16 from options in AnyByte
        select (Message)new ServiceBeginRequest(channel, kind, target, port, (BeginOptions)options),
        U32.Select(c => (Message)new ServiceBeginAck(c)),
        from channel in U32 from code in Code from reason in Str select (Message)new ServiceBeginNack(channel, code, reason),
        from channel in U32 from data in SomeBytes select (Message)new ServiceData(channel, data),
        U32.Select(c => (Message)new ServiceDataPause(c)),
        U32.Select(c => (Message)new ServiceDataResume(c)),
        from channel in U32 from flags in AnyByte select (Message)new ServiceFreeRequest(channel, (FreeFlags)flags),
        U32.Select(c => (Message)new ServiceFreeResponse(c)),
        from channel in U32 from flags in AnyByte from length in U32 from data in SomeBytes select (Message)new ServiceDataCompressed(channel, (CompressedFlags)flags, length, data),
        from code in Code from reason in Str select (Message)new Shutdown(code, reason),
        from code in Code from reason in Str select (Message)new Error(code, reason),
        U64.Select(v => (Message)new Ping(v)),
        U64.Select(v => (Message)new Pong(v)),
        U64.Select(v => (Message)new StreamAck(v)),
        SomeBytes.Select(d => (Message)new Relay(d)),
        U32.Select(s => (Message)new Waiting(s)),
        from address in Str from reason in Str select (Message)new Redirect(address, reason),
        from channels in U32 from sent in U64 from received in U64 select (Message)new TunnelReport(channels, sent, received),
        from service in Str from port in U16 from owner in BytesOf(PublishRequest.OwnerSize) select (Message)new PublishRequest(service, port, owner),
        Gen.Choose(1, Origin.MaxLength).SelectMany(n => Gen.Elements('a', '1', '.', ':').ArrayOf(n)).Select(c => (Message)new Origin(new string(c))),
        from port in U16 from ticket in Short select (Message)new PublishAck(port, ticket),
        from id in U64 from port in U16 from source in Str select (Message)new PlainClient(id, port, source),
        from id in U64 from ticket in Short select (Message)new DataLink(id, ticket),
        Str.Select(c => (Message)new NodeClaim(c)),
        Gen.Choose(0, 8).SelectMany(n => Str.ArrayOf(n)).Select(a => (Message)new MiddleMembers(a)));
}

using Lstp.Protocol.Framing;

namespace Lstp.Protocol.Messages;

/// <summary>What a CONNECTION_REQUEST asks for.</summary>
public enum ConnectionKind : byte
{
    /// <summary>A channel multiplexed on this tunnel connection.</summary>
    Multiplexed = 0,
    /// <summary>A new tunnel connection added to the tunnel (paired under <c>slot</c>) that carries this channel alone.</summary>
    Dedicated = 1,
}

/// <summary>CONNECTION_REQUEST: ask the peer for tunnel resources. <c>u32 channel | u8 kind | u32 slot</c></summary>
public sealed record ConnectionRequest(uint Channel, ConnectionKind Kind, uint Slot = 0) : Message
{
    public override MessageType Type => MessageType.ConnectionRequest;
    protected override void WritePayload(WireWriter w) => w.U32(Channel).U8((byte)Kind).U32(Slot);
    internal static ConnectionRequest Read(ref WireReader r)
    {
        var channel = r.U32();
        var kind = r.U8();
        if (kind > 1) throw new ProtocolException(ErrorCode.Malformed, $"malformed CONNECTION_REQUEST: kind {kind}");
        return new ConnectionRequest(channel, (ConnectionKind)kind, r.U32());
    }
}

/// <summary>CONNECTION_ACK. <c>u32 channel</c></summary>
public sealed record ConnectionAck(uint Channel) : Message
{
    public override MessageType Type => MessageType.ConnectionAck;
    protected override void WritePayload(WireWriter w) => w.U32(Channel);
}

/// <summary>CONNECTION_NACK with a code and a readable reason. <c>u32 channel | u16 code | str reason</c></summary>
public sealed record ConnectionNack(uint Channel, ErrorCode Code, string Reason) : Message
{
    public override MessageType Type => MessageType.ConnectionNack;
    protected override void WritePayload(WireWriter w) => w.U32(Channel).U16((ushort)Code).Str(Reason);
}

/// <summary>What a SERVICE_BEGIN_REQUEST names.</summary>
public enum TargetKind : byte
{
    /// <summary>A service the peer offers by name (<c>--service NAME=HOST:PORT</c>).</summary>
    Service = 0,
    /// <summary>A host and port the peer dials if its allow-list permits (SOCKS5, HTTP CONNECT).</summary>
    Destination = 1,
}

/// <summary>Per-channel options in SERVICE_BEGIN_REQUEST.</summary>
[Flags]
public enum BeginOptions : byte
{
    None = 0,
    /// <summary>
    /// Neither end compresses this channel's data: the opener was told so for this service
    /// (<c>--compress SERVICE=off</c>), typically because secrets share it with attacker-chosen bytes.
    /// </summary>
    NoCompression = 1,
}

/// <summary>SERVICE_BEGIN_REQUEST: the application starts; the peer dials. <c>u32 channel | u8 kind | str target | u16 port | u8 options</c></summary>
public sealed record ServiceBeginRequest(uint Channel, TargetKind Kind, string Target, ushort Port, BeginOptions Options = BeginOptions.None) : Message
{
    public override MessageType Type => MessageType.ServiceBeginRequest;
    protected override void WritePayload(WireWriter w) => w.U32(Channel).U8((byte)Kind).Str(Target).U16(Port).U8((byte)Options);
    internal static ServiceBeginRequest Read(ref WireReader r)
    {
        var channel = r.U32();
        var kind = r.U8();
        if (kind > 1) throw new ProtocolException(ErrorCode.Malformed, $"malformed SERVICE_BEGIN_REQUEST: target kind {kind}");
        return new ServiceBeginRequest(channel, (TargetKind)kind, r.Str(), r.U16(), (BeginOptions)r.U8());
    }

    public string Describe() => Kind == TargetKind.Service ? $"service '{Target}'" : $"{Target}:{Port}";
}

/// <summary>SERVICE_BEGIN_ACK: the target is connected. <c>u32 channel</c></summary>
public sealed record ServiceBeginAck(uint Channel) : Message
{
    public override MessageType Type => MessageType.ServiceBeginAck;
    protected override void WritePayload(WireWriter w) => w.U32(Channel);
}

/// <summary>SERVICE_BEGIN_NACK: the target was refused or unreachable. <c>u32 channel | u16 code | str reason</c></summary>
public sealed record ServiceBeginNack(uint Channel, ErrorCode Code, string Reason) : Message
{
    public override MessageType Type => MessageType.ServiceBeginNack;
    protected override void WritePayload(WireWriter w) => w.U32(Channel).U16((ushort)Code).Str(Reason);
}

/// <summary>SERVICE_DATA: application bytes on one channel. <c>u32 channel | bytes</c></summary>
public sealed record ServiceData(uint Channel, ReadOnlyMemory<byte> Data) : Message
{
    public override MessageType Type => MessageType.ServiceData;
    protected override void WritePayload(WireWriter w) => w.U32(Channel).Raw(Data.Span);
    public bool Equals(ServiceData? other) => other is not null && Channel == other.Channel && Data.Span.SequenceEqual(other.Data.Span);
    public override int GetHashCode() => (int)Channel;
}

/// <summary>Bits of SERVICE_DATA_COMPRESSED.</summary>
[Flags]
public enum CompressedFlags : byte
{
    None = 0,
    /// <summary>
    /// The data starts a new compressed stream: the receiver drops this channel's decompression state first.
    /// Set on the first compressed frame of a direction and whenever the sender had to restart its compressor.
    /// </summary>
    NewStream = 1,
}

/// <summary>
/// SERVICE_DATA_COMPRESSED: application bytes on one channel, compressed with the method the ends agreed in
/// PROPERTY_EXCHANGE and flushed, so each frame decompresses to exactly the <c>length</c> bytes the sender read
/// (64 KiB at most). The length lets the receiver count application bytes for flow control on arrival, while
/// it keeps the data compressed until its application takes it.
/// <code>
/// +----------------+---------+----------------+===========================+
/// | channel (u32)  | flags 8 | length (u32)   | compressed bytes (rest)   |
/// +----------------+---------+----------------+===========================+
/// </code>
/// </summary>
public sealed record ServiceDataCompressed(uint Channel, CompressedFlags Flags, uint Length, ReadOnlyMemory<byte> Data) : Message
{
    public override MessageType Type => MessageType.ServiceDataCompressed;
    protected override void WritePayload(WireWriter w) => w.U32(Channel).U8((byte)Flags).U32(Length).Raw(Data.Span);
    public bool Equals(ServiceDataCompressed? other) => other is not null && Channel == other.Channel && Flags == other.Flags && Length == other.Length && Data.Span.SequenceEqual(other.Data.Span);
    public override int GetHashCode() => (int)Channel;
}

/// <summary>SERVICE_DATA_PAUSE: stop sending on this channel only. <c>u32 channel</c></summary>
public sealed record ServiceDataPause(uint Channel) : Message
{
    public override MessageType Type => MessageType.ServiceDataPause;
    protected override void WritePayload(WireWriter w) => w.U32(Channel);
}

/// <summary>SERVICE_DATA_RESUME: sending may restart on this channel. <c>u32 channel</c></summary>
public sealed record ServiceDataResume(uint Channel) : Message
{
    public override MessageType Type => MessageType.ServiceDataResume;
    protected override void WritePayload(WireWriter w) => w.U32(Channel);
}

/// <summary>Bits of SERVICE_FREE_REQUEST.</summary>
[Flags]
public enum FreeFlags : byte
{
    /// <summary>The sender will send no more data (its application shut down its write side).</summary>
    None = 0,
    /// <summary>The sender's side failed: drop the channel at once, do not wait for data to drain.</summary>
    Abort = 1,
}

/// <summary>SERVICE_FREE_REQUEST: this side is done sending (a half-close), or aborts. <c>u32 channel | u8 flags</c></summary>
public sealed record ServiceFreeRequest(uint Channel, FreeFlags Flags = FreeFlags.None) : Message
{
    public override MessageType Type => MessageType.ServiceFreeRequest;
    protected override void WritePayload(WireWriter w) => w.U32(Channel).U8((byte)Flags);
}

/// <summary>SERVICE_FREE_RESPONSE: both directions are done; the sender has released the channel. <c>u32 channel</c></summary>
public sealed record ServiceFreeResponse(uint Channel) : Message
{
    public override MessageType Type => MessageType.ServiceFreeResponse;
    protected override void WritePayload(WireWriter w) => w.U32(Channel);
}

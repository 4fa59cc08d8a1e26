using Lstp.Protocol.Framing;

namespace Lstp.Protocol.Messages;

/// <summary>SHUTDOWN: close the whole tunnel gracefully. <c>u16 code | str reason</c></summary>
public sealed record Shutdown(ErrorCode Code, string Reason) : Message
{
    public override MessageType Type => MessageType.Shutdown;
    protected override void WritePayload(WireWriter w) => w.U16((ushort)Code).Str(Reason);
}

/// <summary>ERROR: what went wrong, between any two proxies. <c>u16 code | str reason</c></summary>
public sealed record Error(ErrorCode Code, string Reason) : Message
{
    public override MessageType Type => MessageType.Error;
    protected override void WritePayload(WireWriter w) => w.U16((ushort)Code).Str(Reason);
    public override string ToString() => $"ERROR {(ushort)Code} {Code}: {Reason}";
}

/// <summary>PING: keepalive probe; the peer answers PONG with the same value. <c>u64 value</c></summary>
public sealed record Ping(ulong Value) : Message
{
    public override MessageType Type => MessageType.Ping;
    protected override void WritePayload(WireWriter w) => w.U64(Value);
}

/// <summary>PONG: answer to PING. <c>u64 value</c></summary>
public sealed record Pong(ulong Value) : Message
{
    public override MessageType Type => MessageType.Pong;
    protected override void WritePayload(WireWriter w) => w.U64(Value);
}

/// <summary>
/// STREAM_ACK: how many bytes of the tunnel's end-to-end stream this end has received, counted from the first byte
/// after the handshake; the peer may forget what it kept for replay up to there. <c>u64 received</c>
/// </summary>
public sealed record StreamAck(ulong Received) : Message
{
    public override MessageType Type => MessageType.StreamAck;
    protected override void WritePayload(WireWriter w) => w.U64(Received);
}

using System.Buffers;
using Lstp.Protocol.Framing;

namespace Lstp.Protocol.Messages;

/// <summary>Decodes a frame's payload into its message. No I/O; malformed payloads throw Malformed.</summary>
public static class MessageCodec
{
    public static Message Decode(MessageType type, in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment) return Decode(type, payload.FirstSpan);
        return Decode(type, payload.ToArray());
    }

    public static Message Decode(MessageType type, ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, type);
        Message message = type switch
        {
            MessageType.CommonUniqueInfo => CommonUniqueInfo.Read(ref r),
            MessageType.TopologyExchange => TopologyExchange.Read(ref r),
            MessageType.PropertyExchange => PropertyExchange.Read(ref r),
            MessageType.Admission => Admission.Read(ref r),
            MessageType.AuthProof => AuthProof.Read(ref r),
            MessageType.Resume => Resume.Read(ref r),
            MessageType.ConnectionRequest => ConnectionRequest.Read(ref r),
            MessageType.ConnectionAck => new ConnectionAck(r.U32()),
            MessageType.ConnectionNack => new ConnectionNack(r.U32(), (ErrorCode)r.U16(), r.Str()),
            MessageType.ServiceBeginRequest => ServiceBeginRequest.Read(ref r),
            MessageType.ServiceBeginAck => new ServiceBeginAck(r.U32()),
            MessageType.ServiceBeginNack => new ServiceBeginNack(r.U32(), (ErrorCode)r.U16(), r.Str()),
            MessageType.ServiceData => new ServiceData(r.U32(), r.Rest().ToArray()),
            MessageType.ServiceDataPause => new ServiceDataPause(r.U32()),
            MessageType.ServiceDataResume => new ServiceDataResume(r.U32()),
            MessageType.ServiceFreeRequest => new ServiceFreeRequest(r.U32(), (FreeFlags)r.U8()),
            MessageType.ServiceFreeResponse => new ServiceFreeResponse(r.U32()),
            MessageType.ServiceDataCompressed => new ServiceDataCompressed(r.U32(), (CompressedFlags)r.U8(), r.U32(), r.Rest().ToArray()),
            MessageType.Shutdown => new Shutdown((ErrorCode)r.U16(), r.Str()),
            MessageType.Error => new Error((ErrorCode)r.U16(), r.Str()),
            MessageType.Ping => new Ping(r.U64()),
            MessageType.Pong => new Pong(r.U64()),
            MessageType.StreamAck => new StreamAck(r.U64()),
            MessageType.Relay => new Relay(r.Rest().ToArray()),
            MessageType.Waiting => new Waiting(r.U32()),
            MessageType.Redirect => new Redirect(r.Str(), r.Str()),
            MessageType.TunnelReport => new TunnelReport(r.U32(), r.U64(), r.U64()),
            MessageType.PublishRequest => ReadPublishRequest(ref r),
            MessageType.PublishAck => new PublishAck(r.U16(), r.Bytes8()),
            MessageType.PlainClient => new PlainClient(r.U64(), r.U16(), r.Str()),
            MessageType.DataLink => new DataLink(r.U64(), r.Bytes8()),
            MessageType.NodeClaim => new NodeClaim(r.Str()),
            MessageType.MiddleMembers => ReadMembers(ref r),
            MessageType.Origin => ReadOrigin(ref r),
            _ => throw new ProtocolException(ErrorCode.UnknownType, $"unknown frame type 0x{(byte)type:X2}"),
        };
        r.End();
        return message;
    }

    private static PublishRequest ReadPublishRequest(ref WireReader r)
    {
        var service = r.Str();
        var port = r.U16();
        var owner = r.Bytes8();
        if (owner.Length != PublishRequest.OwnerSize) throw new ProtocolException(ErrorCode.Malformed, $"PUBLISH_REQUEST with a {owner.Length}-byte owner (it is {PublishRequest.OwnerSize})");
        return new PublishRequest(service, port, owner);
    }

    private static Origin ReadOrigin(ref WireReader r)
    {
        var source = r.Str();
        if (source.Length is 0 or > Origin.MaxLength) throw new ProtocolException(ErrorCode.Malformed, $"ORIGIN with a source of {source.Length} characters (1 to {Origin.MaxLength})");
        return new Origin(source);
    }

    private static MiddleMembers ReadMembers(ref WireReader r)
    {
        var count = r.U8();
        if (count > MiddleMembers.MaxAddresses) throw new ProtocolException(ErrorCode.Malformed, $"MIDDLE_MEMBERS lists {count} addresses (at most {MiddleMembers.MaxAddresses})");
        var addresses = new string[count];
        for (var i = 0; i < count; i++) addresses[i] = r.Str();
        return new MiddleMembers(addresses);
    }

    /// <summary>Reads one frame and decodes it; false when more bytes are needed.</summary>
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxPayload, out Message? message)
    {
        message = null;
        if (!FrameCodec.TryReadFrame(ref buffer, maxPayload, out var type, out var payload)) return false;
        message = Decode(type, payload);
        return true;
    }
}

namespace Lstp.Protocol;

/// <summary>The one-byte type of every LSTP frame, at both layers (docs/protocol.md §3).</summary>
public enum MessageType : byte
{
    // Setup: sent on the link before pairing, and again end to end for verification.
    CommonUniqueInfo = 0x01,
    TopologyExchange = 0x02,
    PropertyExchange = 0x03,
    Admission = 0x04,
    AuthProof = 0x05,
    Resume = 0x06,

    // Service channels (end to end).
    ConnectionRequest = 0x10,
    ConnectionAck = 0x11,
    ConnectionNack = 0x12,
    ServiceBeginRequest = 0x13,
    ServiceBeginAck = 0x14,
    ServiceBeginNack = 0x15,
    ServiceData = 0x16,
    ServiceDataPause = 0x17,
    ServiceDataResume = 0x18,
    ServiceFreeRequest = 0x19,
    ServiceFreeResponse = 0x1A,
    ServiceDataCompressed = 0x1B,

    // Whole tunnel or link.
    Shutdown = 0x1E,
    Error = 0x1F,
    Ping = 0x20,
    Pong = 0x21,
    StreamAck = 0x22,

    // Link-only (end <-> middle, middle <-> middle).
    Relay = 0x30,
    Waiting = 0x31,
    Redirect = 0x32,
    TunnelReport = 0x33,
    PublishRequest = 0x34,
    PublishAck = 0x35,
    PlainClient = 0x36,
    DataLink = 0x37,
    NodeClaim = 0x38,
    MiddleMembers = 0x39,
    Origin = 0x3A,
}

/// <summary>Names as the design writes them, for logs and errors.</summary>
public static class MessageNames
{
    public static string Of(MessageType type) => type switch
    {
        MessageType.CommonUniqueInfo => "COMMONUNIQUE_INFO",
        MessageType.TopologyExchange => "TOPOLOGY_EXCHANGE",
        MessageType.PropertyExchange => "PROPERTY_EXCHANGE",
        MessageType.Admission => "ADMISSION",
        MessageType.AuthProof => "AUTH_PROOF",
        MessageType.Resume => "RESUME",
        MessageType.ConnectionRequest => "CONNECTION_REQUEST",
        MessageType.ConnectionAck => "CONNECTION_ACK",
        MessageType.ConnectionNack => "CONNECTION_NACK",
        MessageType.ServiceBeginRequest => "SERVICE_BEGIN_REQUEST",
        MessageType.ServiceBeginAck => "SERVICE_BEGIN_ACK",
        MessageType.ServiceBeginNack => "SERVICE_BEGIN_NACK",
        MessageType.ServiceData => "SERVICE_DATA",
        MessageType.ServiceDataPause => "SERVICE_DATA_PAUSE",
        MessageType.ServiceDataResume => "SERVICE_DATA_RESUME",
        MessageType.ServiceFreeRequest => "SERVICE_FREE_REQUEST",
        MessageType.ServiceFreeResponse => "SERVICE_FREE_RESPONSE",
        MessageType.ServiceDataCompressed => "SERVICE_DATA_COMPRESSED",
        MessageType.Shutdown => "SHUTDOWN",
        MessageType.Error => "ERROR",
        MessageType.Ping => "PING",
        MessageType.Pong => "PONG",
        MessageType.StreamAck => "STREAM_ACK",
        MessageType.Relay => "RELAY",
        MessageType.Waiting => "WAITING",
        MessageType.Redirect => "REDIRECT",
        MessageType.TunnelReport => "TUNNEL_REPORT",
        MessageType.PublishRequest => "PUBLISH_REQUEST",
        MessageType.PublishAck => "PUBLISH_ACK",
        MessageType.PlainClient => "PLAIN_CLIENT",
        MessageType.DataLink => "DATA_LINK",
        MessageType.NodeClaim => "NODE_CLAIM",
        MessageType.MiddleMembers => "MIDDLE_MEMBERS",
        MessageType.Origin => "ORIGIN",
        _ => $"0x{(byte)type:X2}",
    };

    public static bool IsKnown(byte type) => !Of((MessageType)type).StartsWith("0x", StringComparison.Ordinal);
}

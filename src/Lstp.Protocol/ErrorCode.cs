namespace Lstp.Protocol;

/// <summary>Error codes carried by ERROR, *_NACK and SHUTDOWN (docs/protocol.md §5).</summary>
public enum ErrorCode : ushort
{
    None = 0,

    // The bytes themselves are wrong.
    ProtocolViolation = 1,
    BadPreamble = 2,
    FrameTooLarge = 3,
    UnknownType = 4,
    Malformed = 5,

    // Admission and limits at the middle.
    AdmissionDenied = 10,
    SetupTimeout = 11,
    TooManyWaiting = 12,
    RateLimited = 13,
    Replaced = 14,
    WaitExpired = 15,
    MiddleDraining = 16,
    TooManyLinks = 17,

    // End-to-end setup.
    AuthFailed = 20,
    SetupAltered = 21,
    PlaintextMismatch = 22,
    VersionMismatch = 23,

    // Channels.
    UnknownService = 30,
    TargetRefused = 31,
    TargetUnreachable = 32,
    NotAllowed = 33,
    TooManyChannels = 34,
    UnknownChannel = 35,
    FlowControl = 36,

    // Lifetime.
    PeerGone = 40,
    KeepaliveTimeout = 41,
    Shutdown = 42,

    // Publishing on the middle.
    PublishRefused = 50,

    Internal = 99,
}

using Lstp.Protocol.Messages;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// One SERVICE_DATA or SERVICE_DATA_COMPRESSED payload waiting in a channel's inbox for its application, compressed
/// ones still compressed with the application length they <see cref="Declared"/>: the downlink decompresses a record
/// only when it is about to write it, so a channel never holds more than one decompressed frame (64 KiB).
/// </summary>
public readonly record struct InboundRecord(Chunk Data, bool Compressed, CompressedFlags Flags, int Declared);

using Lstp.Protocol.Framing;

namespace Lstp.Protocol.Messages;

/// <summary>A decoded LSTP message. Each record knows its type and how to write its payload.</summary>
public abstract record Message
{
    public abstract MessageType Type { get; }

    protected abstract void WritePayload(WireWriter writer);

    /// <summary>The whole frame, header included.</summary>
    public byte[] ToFrame()
    {
        var writer = new WireWriter(Type);
        WritePayload(writer);
        return writer.ToFrame();
    }

    public override string ToString() => MessageNames.Of(Type);
}

using System.IO.Pipelines;

namespace Lstp.Middle.Relay;

/// <summary>A link's two pipes over its stream (an accepted link's, <see cref="Links.LinkListener"/>, or a dialled one's, <see cref="UpstreamLink"/>).</summary>
internal sealed record LinkPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

namespace Lstp.EndProxy.Publish;

/// <summary>A service this end asks the middle to expose on one of its public ports.</summary>
public sealed record PublishSpec(string Service, ushort Port)
{
    /// <summary>Parses <c>SERVICE=PORT</c>.</summary>
    public static PublishSpec Parse(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0 || !ushort.TryParse(text[(eq + 1)..], out var port) || port == 0) throw new FormatException($"--publish '{text}': expected SERVICE=PORT");
        return new PublishSpec(text[..eq].Trim(), port);
    }
}

namespace Lstp.Cli.Configuration;

/// <summary>
/// One name per option: the flag (<c>--max-channels</c>) is the declaration, and its config file key
/// (<c>lstp.end.max-channels</c>) and environment variable (<c>LSTP__END__MAXCHANNELS</c>, .NET configuration's
/// PascalCase key <c>MaxChannels</c>) are derived from it here, so the three can never drift apart.
/// </summary>
public static class OptionKeys
{
    /// <summary>The file's key for a flag: its name without the dashes (<c>--max-channels</c> → <c>max-channels</c>).</summary>
    public static string FileKey(string flag) => flag.TrimStart('-');

    /// <summary>The configuration key for a file's key (<c>max-channels</c> → <c>MaxChannels</c>).</summary>
    public static string Pascal(string kebab) =>
        string.Concat(kebab.Split('-').Select(w => w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..]));

    /// <summary>The file's key for a configuration key (<c>MaxChannels</c> → <c>max-channels</c>).</summary>
    public static string Kebab(string pascal)
    {
        var text = new System.Text.StringBuilder();
        foreach (var c in pascal)
        {
            if (char.IsUpper(c) && text.Length > 0) text.Append('-');
            text.Append(char.ToLowerInvariant(c));
        }
        return text.ToString();
    }
}

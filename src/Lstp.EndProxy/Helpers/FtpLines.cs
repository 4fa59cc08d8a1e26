using System.Buffers;
using System.Text;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// FTP control lines (RFC 959 §4.2, §5.3): splitting a byte stream into lines, and reading a command's verb and
/// argument or a reply line's code. Lines keep their exact bytes; only the ones a helper rewrites are written anew.
/// </summary>
public static class FtpLines
{
    /// <summary>
    /// Takes one whole line (through its LF; FTP says CRLF, some peers send a bare LF) off the front of
    /// <paramref name="buffer"/>. "Need more bytes" returns false and leaves the buffer as it was.
    /// </summary>
    public static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var end = buffer.PositionOf((byte)'\n');
        if (end is null)
        {
            line = default;
            return false;
        }
        var next = buffer.GetPosition(1, end.Value);
        line = buffer.Slice(0, next);
        buffer = buffer.Slice(next);
        return true;
    }

    /// <summary>The line as text, byte for byte (Latin-1 keeps every byte, whatever the peer's encoding).</summary>
    public static string Text(ReadOnlySpan<byte> line) => Encoding.Latin1.GetString(line);

    /// <summary>The bytes to send for a line the helper writes.</summary>
    public static byte[] Bytes(string line) => Encoding.Latin1.GetBytes(line);

    /// <summary>A command's verb, upper-cased (commands are case-insensitive, RFC 959 §5.3), and its argument without the line end.</summary>
    public static (string Verb, string Argument) ParseCommand(string line)
    {
        var text = line.TrimEnd('\r', '\n');
        var space = text.IndexOf(' ');
        return space < 0
            ? (text.ToUpperInvariant(), "")
            : (text[..space].ToUpperInvariant(), text[(space + 1)..]);
    }

    /// <summary>
    /// Reads a reply line's code and whether the line ends its reply. A reply is one line <c>ddd text</c>, or
    /// several from <c>ddd-text</c> through a line that starts with the same <c>ddd</c> and a space; lines in
    /// between may say anything. <paramref name="openCode"/> is the code of the multi-line reply in progress, if any.
    /// </summary>
    public static ReplyLine ParseReply(string line, int? openCode)
    {
        var hasCode = line.Length >= 3 && char.IsAsciiDigit(line[0]) && char.IsAsciiDigit(line[1]) && char.IsAsciiDigit(line[2]);
        var code = hasCode ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : 0;
        var separator = line.Length > 3 ? line[3] : ' ';
        if (openCode is { } open)
        {
            return new ReplyLine(open, First: false, Last: hasCode && code == open && separator is ' ' or '\r' or '\n');
        }
        if (!hasCode) return new ReplyLine(0, First: true, Last: true); // not FTP: passed on as it is
        return new ReplyLine(code, First: true, Last: separator != '-');
    }
}

/// <summary>Where one reply line stands: its reply's code, and whether it starts and ends that reply.</summary>
public readonly record struct ReplyLine(int Code, bool First, bool Last)
{
    /// <summary>1xx: a preliminary reply; the command's final reply is still to come.</summary>
    public bool IsPreliminary => Code is >= 100 and < 200;
}

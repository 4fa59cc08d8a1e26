using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Lstp.EndProxy.Helpers;
using Xunit;

namespace Lstp.Scenarios.Helpers;

/// <summary>Cutting the control connection into lines, and reading commands and reply codes.</summary>
public sealed class FtpLineTests
{
    /// <summary>Feeds <paramref name="chunks"/> through a pipe one write at a time and collects the lines, as the relay's reader does.</summary>
    private static async Task<List<string>> LinesAsync(params string[] chunks)
    {
        var pipe = new Pipe();
        var lines = new List<string>();
        var reading = Task.Run(async () =>
        {
            while (true)
            {
                var result = await pipe.Reader.ReadAsync();
                var buffer = result.Buffer;
                while (FtpLines.TryReadLine(ref buffer, out var line)) lines.Add(Encoding.Latin1.GetString(line.ToArray()));
                pipe.Reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted) break;
            }
        });
        foreach (var chunk in chunks)
        {
            await pipe.Writer.WriteAsync(Encoding.Latin1.GetBytes(chunk));
            await Task.Yield();
        }
        await pipe.Writer.CompleteAsync();
        await reading;
        return lines;
    }

    [Fact]
    public async Task Line_split_across_reads_comes_out_whole()
    {
        var lines = await LinesAsync("227 Entering Pas", "sive Mode (192,0,2,1", "0,195,80).\r", "\n");
        Assert.Equal(["227 Entering Passive Mode (192,0,2,10,195,80).\r\n"], lines);
    }

    [Fact]
    public async Task Several_lines_in_one_read_come_out_one_by_one_with_their_bytes_unchanged()
    {
        var lines = await LinesAsync("211-Features:\r\n EPRT\r\n EPSV\r\n211 End\r\n230 caf\u00e9 \u00ff\r\n");
        Assert.Equal(["211-Features:\r\n", " EPRT\r\n", " EPSV\r\n", "211 End\r\n", "230 caf\u00e9 \u00ff\r\n"], lines);
    }

    [Fact]
    public async Task Bare_line_feed_ends_a_line_and_a_partial_line_waits_for_more()
    {
        var lines = await LinesAsync("PASV\n", "RETR blob");
        Assert.Equal(["PASV\n"], lines);
    }

    [Fact]
    public void Line_whose_end_is_in_a_later_segment_of_the_buffer_is_found()
    {
        var first = new Segment(Encoding.ASCII.GetBytes("229 Entering Extended "));
        var last = first.Append(Encoding.ASCII.GetBytes("Passive Mode (|||50001|)\r\nNEXT"));
        var buffer = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.True(FtpLines.TryReadLine(ref buffer, out var line));
        Assert.Equal("229 Entering Extended Passive Mode (|||50001|)\r\n", Encoding.ASCII.GetString(line.ToArray()));
        Assert.Equal("NEXT", Encoding.ASCII.GetString(buffer.ToArray()));
        Assert.False(FtpLines.TryReadLine(ref buffer, out _));
    }

    [Theory]
    [InlineData("PORT 127,0,0,1,4,1\r\n", "PORT", "127,0,0,1,4,1")]
    [InlineData("eprt |1|127.0.0.1|1025|\r\n", "EPRT", "|1|127.0.0.1|1025|")]
    [InlineData("PASV\r\n", "PASV", "")]
    [InlineData("RETR my file.bin\n", "RETR", "my file.bin")]
    public void Command_gives_its_upper_cased_verb_and_its_argument(string line, string verb, string argument) =>
        Assert.Equal((verb, argument), FtpLines.ParseCommand(line));

    [Fact]
    public void Reply_lines_of_a_multi_line_reply_end_only_at_the_same_code_and_a_space()
    {
        var first = FtpLines.ParseReply("211-Features:\r\n", null);
        Assert.Equal(new ReplyLine(211, First: true, Last: false), first);
        Assert.Equal(new ReplyLine(211, First: false, Last: false), FtpLines.ParseReply("227 looks like a reply but is text\r\n", 211));
        Assert.Equal(new ReplyLine(211, First: false, Last: false), FtpLines.ParseReply("211-still going\r\n", 211));
        Assert.Equal(new ReplyLine(211, First: false, Last: true), FtpLines.ParseReply("211 End\r\n", 211));
    }

    [Theory]
    [InlineData("150 Opening data connection\r\n", 150, true)]
    [InlineData("226 Transfer complete\r\n", 226, false)]
    [InlineData("220\r\n", 220, false)]
    public void Single_line_reply_starts_and_ends_its_reply(string line, int code, bool preliminary)
    {
        var reply = FtpLines.ParseReply(line, null);
        Assert.Equal(new ReplyLine(code, First: true, Last: true), reply);
        Assert.Equal(preliminary, reply.IsPreliminary);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes) => Memory = bytes;

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
